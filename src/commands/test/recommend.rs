//! The `resources = { ... }` that `test --stats` suggests for a service from what it used while the steps ran.
//! The rule is the Kubernetes VPA recommender's (`vertical-pod-autoscaler/pkg/recommender/logic`: target = the
//! 90th percentile of usage, plus a 15 % safety margin; `model/container.go`: after an OOM kill, memory at
//! least 1.2 × what it was killed at and at least 100 MiB more), scaled to a run of seconds:
//! - CPU request: the 90th percentile of the samples + 15 %, at least 25m (VPA's own minimum);
//! - memory request: the highest sample + 15 % (VPA takes a high percentile of per-interval peaks; a test run
//!   is one interval, whose peak is the only one), at least 16Mi (VPA's 250Mi floor is for a cluster's pod);
//! - limits only where the spec has one: the request times the spec's limit/request ratio (VPA keeps that
//!   ratio), and never below the highest sample + 15 %;
//! - a limit that was hit is raised: memory after an OOM kill to at least 1.2 × the limit and the limit +
//!   100Mi (request and limit); CPU after throttling to at least 1.2 × the limit.
//!
//! CPU is rounded up to 5 millicores, memory up to a MiB.

use crate::spec::Resources;

/// The safety margin added to what was used.
pub const MARGIN: f64 = 0.15;
/// The percentile of the CPU samples the request is taken from.
pub const CPU_PERCENTILE: f64 = 0.9;
/// The smallest CPU request suggested, millicores.
pub const MIN_CPU_MILLIS: u64 = 25;
/// The smallest memory request suggested, bytes.
pub const MIN_MEMORY: u64 = 16 << 20;
/// A hit limit is raised at least this many times.
pub const HIT_RATIO: f64 = 1.2;
/// Memory after an OOM kill: at least this much more than the limit, bytes.
pub const OOM_MIN_BUMP: u64 = 100 << 20;

/// The rule in one line, as the report says it.
pub const RULE: &str = "requests = 90th percentile of CPU and highest memory + 15%, at least 25m and 16Mi; limits keep the spec's limit/request ratio and stay above the peak + 15%; a limit that was hit is raised 20%, memory at least 100Mi";

/// What one service did while the steps ran.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// CPU samples, percent of one core.
    pub cpu_percent: Vec<f64>,
    /// Memory samples, bytes.
    pub memory: Vec<u64>,
    /// The kernel killed it for memory.
    pub oom_killed: bool,
    /// Its CPU limit held it back at least once.
    pub throttled: bool,
}

/// The value at percentile `p` (0..=1) of `values`, nearest rank; `None` when there are none.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// The median of `values` (the mean of the middle two when their number is even).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        f64::midpoint(v[mid - 1], v[mid])
    } else {
        v[mid]
    })
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn scale(x: u64, by: f64) -> u64 {
    (x as f64 * by).ceil() as u64
}

fn round_up(x: u64, step: u64) -> u64 {
    x.div_ceil(step) * step
}

/// The suggested resources of a service whose spec says `spec`.
pub fn recommend(o: &Observed, spec: &Resources) -> Resources {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let millis = |pct: f64| (pct * 10.0 * (1.0 + MARGIN)).ceil() as u64;
    let cpu_p90 = percentile(&o.cpu_percent, CPU_PERCENTILE).map_or(0, millis);
    let cpu_peak = percentile(&o.cpu_percent, 1.0).map_or(0, millis);
    let mem_peak = scale(o.memory.iter().copied().max().unwrap_or(0), 1.0 + MARGIN);

    let mut cpu = cpu_p90.max(MIN_CPU_MILLIS);
    let mut memory = mem_peak.max(MIN_MEMORY);
    if o.oom_killed {
        // Killed at the limit (or, without one, at the highest figure seen).
        let at = spec.memory_limit_bytes.unwrap_or(mem_peak);
        memory = memory.max(scale(at, HIT_RATIO).max(at + OOM_MIN_BUMP));
    }
    let ratio = |limit: Option<u64>, request: Option<u64>| match (limit, request) {
        #[allow(clippy::cast_precision_loss)]
        (Some(l), Some(r)) if r > 0 => l as f64 / r as f64,
        _ => 1.0,
    };
    let cpu_limit = spec.cpu_limit_millis.map(|l| {
        let mut v = scale(cpu, ratio(Some(l), spec.cpu_millis)).max(cpu_peak);
        if o.throttled {
            v = v.max(scale(l, HIT_RATIO));
        }
        v
    });
    let memory_limit = spec.memory_limit_bytes.map(|l| {
        let mut v = scale(memory, ratio(Some(l), spec.memory_bytes)).max(mem_peak);
        if o.oom_killed {
            v = v.max(scale(l, HIT_RATIO).max(l + OOM_MIN_BUMP));
        }
        v
    });
    // A request above its limit is refused by the spec: the limit wins by rising.
    cpu = round_up(cpu, 5);
    memory = round_up(memory, 1 << 20);
    Resources {
        cpu_millis: Some(cpu),
        memory_bytes: Some(memory),
        cpu_limit_millis: cpu_limit.map(|l| round_up(l.max(cpu), 5)),
        memory_limit_bytes: memory_limit.map(|l| round_up(l.max(memory), 1 << 20)),
    }
}

/// CPU as a spec writes it: whole cores as `1`, else millicores (`125m`).
pub fn cpu_quantity(millis: u64) -> String {
    if millis >= 1000 && millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// `resources = { cpu = "…", memory = "…", cpu_limit = "…", memory_limit = "…" }`, the keys that are set.
pub fn resources_line(r: &Resources) -> String {
    let mut parts = Vec::new();
    if let Some(m) = r.cpu_millis {
        parts.push(format!("cpu = \"{}\"", cpu_quantity(m)));
    }
    if let Some(b) = r.memory_bytes {
        parts.push(format!("memory = \"{}\"", crate::usage::quantity(b)));
    }
    if let Some(m) = r.cpu_limit_millis {
        parts.push(format!("cpu_limit = \"{}\"", cpu_quantity(m)));
    }
    if let Some(b) = r.memory_limit_bytes {
        parts.push(format!("memory_limit = \"{}\"", crate::usage::quantity(b)));
    }
    format!("resources = {{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: u64 = 1 << 20;

    /// The demo app's resources: 100m/256Mi → 500m/1Gi.
    fn app() -> Resources {
        Resources {
            cpu_millis: Some(100),
            memory_bytes: Some(256 * MI),
            cpu_limit_millis: Some(500),
            memory_limit_bytes: Some(1024 * MI),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_and_the_median_the_middle() {
        let v = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 6.0, 7.0, 8.0, 9.0];
        assert_eq!(percentile(&v, 0.9), Some(9.0));
        assert_eq!(percentile(&v, 1.0), Some(10.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(median(&v), Some(5.5));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(percentile(&[], 0.9), None);
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn requests_are_the_percentile_plus_the_margin_and_limits_keep_the_spec_ratio() {
        // CPU: p90 of these ten is 40 % of a core = 400m, + 15 % = 460m; the peak (80 %) 920m.
        let cpu: Vec<f64> = vec![10.0, 20.0, 20.0, 20.0, 30.0, 30.0, 30.0, 40.0, 40.0, 80.0];
        let o = Observed {
            cpu_percent: cpu,
            memory: vec![40 * MI, 100 * MI, 60 * MI],
            ..Observed::default()
        };
        let r = recommend(&o, &app());
        assert_eq!(r.cpu_millis, Some(460));
        // 100Mi + 15 % = 115Mi.
        assert_eq!(r.memory_bytes, Some(115 * MI));
        // Ratio 5 for CPU (100m → 500m), 4 for memory (256Mi → 1Gi).
        assert_eq!(r.cpu_limit_millis, Some(2300));
        assert_eq!(r.memory_limit_bytes, Some(460 * MI));
        assert_eq!(
            resources_line(&r),
            "resources = { cpu = \"460m\", memory = \"115Mi\", cpu_limit = \"2300m\", memory_limit = \"460Mi\" }"
        );
    }

    #[test]
    fn an_idle_service_gets_the_floors_and_no_limit_the_spec_does_not_have() {
        let o = Observed {
            cpu_percent: vec![0.01, 0.02],
            memory: vec![2 * MI],
            ..Observed::default()
        };
        let r = recommend(&o, &Resources::default());
        assert_eq!(
            resources_line(&r),
            "resources = { cpu = \"25m\", memory = \"16Mi\" }"
        );
    }

    #[test]
    fn a_hit_limit_is_raised() {
        // OOM-killed at a 32Mi limit having been seen at 30Mi: the limit becomes 32Mi + 100Mi (more than × 1.2).
        let spec = Resources {
            memory_bytes: Some(16 * MI),
            memory_limit_bytes: Some(32 * MI),
            cpu_millis: Some(100),
            cpu_limit_millis: Some(200),
        };
        let o = Observed {
            cpu_percent: vec![19.0, 20.0],
            memory: vec![30 * MI],
            oom_killed: true,
            throttled: true,
        };
        let r = recommend(&o, &spec);
        assert_eq!(r.memory_bytes, Some(132 * MI));
        assert_eq!(r.memory_limit_bytes, Some(264 * MI));
        // p90 20 % of a core = 230m; its limit at the spec's ratio of 2 (460m) is above the 240m a throttled
        // 200m limit needs at least.
        assert_eq!(r.cpu_millis, Some(230));
        assert_eq!(r.cpu_limit_millis, Some(460));
        // Without the hits, the same figures suggest less.
        let calm = recommend(
            &Observed {
                oom_killed: false,
                throttled: false,
                ..o
            },
            &spec,
        );
        assert_eq!(calm.memory_bytes, Some(35 * MI));
        assert!(calm.memory_limit_bytes < r.memory_limit_bytes);
    }

    #[test]
    fn cpu_is_written_as_a_spec_writes_it() {
        assert_eq!(cpu_quantity(1000), "1");
        assert_eq!(cpu_quantity(2000), "2");
        assert_eq!(cpu_quantity(1500), "1500m");
        assert_eq!(cpu_quantity(25), "25m");
    }
}
