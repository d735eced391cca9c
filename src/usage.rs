//! A service's resource usage measured against what its spec requests and limits: the figures `stats` shows, the
//! marks it sets over a sampling window, and the memory warning of a foreground `up`. Pure; the samples come
//! from the engine.

use serde::Serialize;

use crate::engine::{StatsSample, Throttling};
use crate::output::event::Memory;
use crate::spec::Resources;

/// Percent of a limit from which a service counts as near it.
pub const NEAR_LIMIT_PERCENT: f64 = 90.0;

/// One sample of a service, against its spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// CPU in percent of one core (200 = two cores), when the sample spans a period.
    pub cpu_percent: Option<f64>,
    /// CPU in percent of the CPU limit (`cpu_limit`), when both are known.
    pub cpu_percent_of_limit: Option<f64>,
    /// CPU in percent of the request (`cpu`), when both are known.
    pub cpu_percent_of_request: Option<f64>,
    /// Memory in use, bytes (without the inactive page cache).
    pub memory_bytes: u64,
    /// The memory request (`memory`), bytes.
    pub memory_request_bytes: Option<u64>,
    /// The memory limit the engine enforces, bytes, when the spec sets one (without, the engine reports the
    /// host's memory, which is no limit of the service's).
    pub memory_limit_bytes: Option<u64>,
    /// Memory in percent of the request.
    pub memory_percent_of_request: Option<f64>,
    /// Memory in percent of the limit.
    pub memory_percent_of_limit: Option<f64>,
    /// Bytes received, sent over the networks.
    pub net_rx_bytes: u64,
    /// Bytes sent.
    pub net_tx_bytes: u64,
    /// Bytes read from block devices.
    pub block_read_bytes: u64,
    /// Bytes written to block devices.
    pub block_write_bytes: u64,
    /// CPU throttling by the CPU limit, since the container started.
    pub throttling: Throttling,
}

#[allow(clippy::cast_precision_loss)]
fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64 * 100.0)
}

/// A sample measured against the service's resources.
pub fn usage(sample: &StatsSample, r: &Resources) -> Usage {
    let cpu = sample.cpu.and_then(|c| c.percent_of_one_core());
    // 1000 millicores = one core = 100 %.
    #[allow(clippy::cast_precision_loss)]
    let of_millis = |m: Option<u64>| {
        cpu.zip(m.filter(|m| *m > 0))
            .map(|(c, m)| c / (m as f64 / 10.0) * 100.0)
    };
    let limit = r.memory_limit_bytes.map(|spec| {
        if sample.memory_limit > 0 {
            sample.memory_limit
        } else {
            spec
        }
    });
    Usage {
        cpu_percent: cpu,
        cpu_percent_of_limit: of_millis(r.cpu_limit_millis),
        cpu_percent_of_request: of_millis(r.cpu_millis),
        memory_bytes: sample.memory_used,
        memory_request_bytes: r.memory_bytes,
        memory_limit_bytes: limit,
        memory_percent_of_request: r.memory_bytes.and_then(|q| percent(sample.memory_used, q)),
        memory_percent_of_limit: limit.and_then(|l| percent(sample.memory_used, l)),
        net_rx_bytes: sample.net_rx,
        net_tx_bytes: sample.net_tx,
        block_read_bytes: sample.block_read,
        block_write_bytes: sample.block_write,
        throttling: sample.throttling,
    }
}

/// What stayed true of a service over a whole sampling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// Memory above the request in every sample: the request is too small for it.
    MemoryAboveRequest,
    /// Memory at 90 % of the limit or more in every sample: the next spike is an OOM kill.
    MemoryNearLimit,
    /// CPU above the request in every sample.
    CpuAboveRequest,
    /// CPU at 90 % of the limit or more in every sample: it is being throttled.
    CpuNearLimit,
}

impl Mark {
    /// As the table shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::MemoryAboveRequest => "memory above request",
            Mark::MemoryNearLimit => "memory near limit",
            Mark::CpuAboveRequest => "cpu above request",
            Mark::CpuNearLimit => "cpu near limit",
        }
    }
}

/// The marks of a window of samples (oldest first): each one holds only if it held in every sample that has
/// the figure, and at least one has it. An empty window has none.
pub fn marks(window: &[Usage]) -> Vec<Mark> {
    let all = |f: &dyn Fn(&Usage) -> Option<bool>| {
        let seen: Vec<bool> = window.iter().filter_map(f).collect();
        !seen.is_empty() && seen.iter().all(|b| *b)
    };
    let mut out = Vec::new();
    if all(&|u| u.memory_percent_of_request.map(|p| p > 100.0)) {
        out.push(Mark::MemoryAboveRequest);
    }
    if all(&|u| u.memory_percent_of_limit.map(|p| p >= NEAR_LIMIT_PERCENT)) {
        out.push(Mark::MemoryNearLimit);
    }
    if all(&|u| u.cpu_percent_of_request.map(|p| p > 100.0)) {
        out.push(Mark::CpuAboveRequest);
    }
    if all(&|u| u.cpu_percent_of_limit.map(|p| p >= NEAR_LIMIT_PERCENT)) {
        out.push(Mark::CpuNearLimit);
    }
    out
}

/// The warning of a foreground `up` for a container at 90 % of its memory limit or more; `None` below, or
/// without a limit.
pub fn memory_warning(u: &Usage) -> Option<Memory> {
    let (pct, limit) = u.memory_percent_of_limit.zip(u.memory_limit_bytes)?;
    // `{:.0}` rounds half to even, as the line always showed the percent.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let percent = pct.round_ties_even() as u32;
    (pct >= NEAR_LIMIT_PERCENT).then_some(Memory::NearLimit {
        percent,
        limit,
        in_use: u.memory_bytes,
    })
}

/// Bytes as a spec would write them when they are whole (`2Gi`, `512Mi`), else in binary units (`23.1MiB`).
pub fn quantity(b: u64) -> String {
    const MI: u64 = 1 << 20;
    const GI: u64 = 1 << 30;
    if b >= GI && b.is_multiple_of(GI) {
        format!("{}Gi", b / GI)
    } else if b >= MI && b.is_multiple_of(MI) {
        format!("{}Mi", b / MI)
    } else {
        bytes(b)
    }
}

/// Bytes in binary units, one decimal (`0B`, `812B`, `4.0KiB`, `23.1MiB`, `1.9GiB`).
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if b < 1024 {
        return format!("{b}B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CpuPeriod;

    const MI: u64 = 1 << 20;

    /// kubo's resources in the offline spec: 250m/512Mi → 1 CPU/2Gi.
    fn kubo() -> Resources {
        Resources {
            cpu_millis: Some(250),
            memory_bytes: Some(512 * MI),
            cpu_limit_millis: Some(1000),
            memory_limit_bytes: Some(2048 * MI),
        }
    }

    /// A sample with `cores` of CPU on a 2-core host over one second, and `mem` bytes in use.
    fn sample(cores: f64, mem: u64) -> StatsSample {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let used = (cores * 1e9) as u64;
        StatsSample {
            id: "c1".into(),
            cpu: Some(CpuPeriod {
                container_before: 1,
                container_after: 1 + used,
                system_before: 1,
                system_after: 1 + 2_000_000_000,
                online_cpus: 2,
            }),
            memory_used: mem,
            memory_limit: 2048 * MI,
            ..Default::default()
        }
    }

    #[test]
    fn cpu_is_shown_against_one_core_the_request_and_the_limit() {
        let u = usage(&sample(0.5, 100 * MI), &kubo());
        assert_eq!(u.cpu_percent, Some(50.0));
        // Half a core is 200 % of a 250m request and 50 % of a 1-CPU limit.
        assert_eq!(u.cpu_percent_of_request, Some(200.0));
        assert_eq!(u.cpu_percent_of_limit, Some(50.0));
        let half = Resources {
            cpu_limit_millis: Some(500),
            ..kubo()
        };
        assert_eq!(
            usage(&sample(0.5, 0), &half).cpu_percent_of_limit,
            Some(100.0)
        );
    }

    #[test]
    fn memory_is_shown_against_the_request_and_the_enforced_limit() {
        let u = usage(&sample(0.0, 1024 * MI), &kubo());
        assert_eq!(u.memory_percent_of_request, Some(200.0));
        assert_eq!(u.memory_percent_of_limit, Some(50.0));
        assert_eq!(u.memory_limit_bytes, Some(2048 * MI));
        // No limit in the spec: the engine's figure is the host's memory, not a limit of the service.
        let none = Resources::default();
        let u = usage(&sample(0.0, 1024 * MI), &none);
        assert_eq!(u.memory_limit_bytes, None);
        assert_eq!(u.memory_percent_of_limit, None);
        assert_eq!(u.cpu_percent_of_limit, None);
    }

    #[test]
    fn a_mark_needs_every_sample_of_the_window() {
        let r = kubo();
        let high = usage(&sample(0.95, 1900 * MI), &r);
        let low = usage(&sample(0.1, 100 * MI), &r);
        assert_eq!(
            marks(&[high.clone(), high.clone()]),
            [
                Mark::MemoryAboveRequest,
                Mark::MemoryNearLimit,
                Mark::CpuAboveRequest,
                Mark::CpuNearLimit
            ]
        );
        // One dip below is enough to clear them all: a spike is not a size.
        assert_eq!(marks(&[high.clone(), low.clone(), high.clone()]), []);
        assert_eq!(marks(&[low]), []);
        assert_eq!(marks(&[]), []);
        // 90 % is near; just under is not.
        let at = usage(&sample(0.0, (2048 * MI * 9).div_ceil(10)), &r);
        assert!(marks(&[at]).contains(&Mark::MemoryNearLimit));
        let under = usage(&sample(0.0, 2048 * MI * 9 / 10 - MI), &r);
        assert!(!marks(&[under]).contains(&Mark::MemoryNearLimit));
    }

    #[test]
    fn samples_without_a_cpu_figure_do_not_decide_the_cpu_marks() {
        let r = kubo();
        let busy = usage(&sample(0.95, 0), &r);
        let quick = usage(
            &StatsSample {
                cpu: None,
                ..sample(0.0, 0)
            },
            &r,
        );
        assert!(marks(&[busy, quick.clone()]).contains(&Mark::CpuNearLimit));
        assert!(!marks(&[quick]).contains(&Mark::CpuNearLimit));
    }

    #[test]
    fn the_memory_warning_starts_at_ninety_percent_of_the_limit() {
        let r = kubo();
        assert_eq!(memory_warning(&usage(&sample(0.0, 1800 * MI), &r)), None);
        let w = memory_warning(&usage(&sample(0.0, 1900 * MI), &r))
            .expect("a warning")
            .to_string();
        assert!(
            w.starts_with("warning: memory at 93% of its 2Gi limit (1.9GiB in use)"),
            "{w}"
        );
        assert_eq!(
            memory_warning(&usage(&sample(0.0, 1900 * MI), &Resources::default())),
            None
        );
    }

    #[test]
    fn sizes_read_like_the_spec_when_whole() {
        assert_eq!(quantity(2048 * MI), "2Gi");
        assert_eq!(quantity(512 * MI), "512Mi");
        assert_eq!(quantity(1500), "1.5KiB");
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(23 * MI + MI / 10), "23.1MiB");
    }
}
