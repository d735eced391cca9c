//! A container's resource usage as the engine measures it, in our own words, and what follows from one sample:
//! CPU as a share of one core (Docker's own formula, `docker stats`), memory without the page cache.

/// One resource-usage sample of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSample {
    /// Container id.
    pub id: String,
    /// The CPU counters, when the sample spans a period (the engine read them twice: `precpu` and `cpu`).
    pub cpu: Option<CpuPeriod>,
    /// Memory in use, bytes: the cgroup's usage less its inactive page cache (what `docker stats` shows).
    pub memory_used: u64,
    /// The memory limit the engine enforces, bytes (the host's memory when the container has none).
    pub memory_limit: u64,
    /// Bytes received over every network.
    pub net_rx: u64,
    /// Bytes sent over every network.
    pub net_tx: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// CPU throttling since the container started (`cpu_stats.throttling_data`: the CFS quota a `cpu_limit` sets).
    pub throttling: Throttling,
}

/// CFS bandwidth counters of a container, since it started (cgroup `cpu.stat`: `nr_periods`, `nr_throttled`,
/// `throttled_time`/`throttled_usec`); all zero without a CPU limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Throttling {
    /// Enforcement periods (100 ms each by default) in which the container was runnable.
    pub periods: u64,
    /// Periods in which it used its whole quota and was held back.
    pub throttled_periods: u64,
    /// Time it was held back, nanoseconds.
    pub throttled_ns: u64,
}

/// CPU counters at the start and end of a period, nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuPeriod {
    /// The container's CPU time at the start (`precpu_stats.cpu_usage.total_usage`).
    pub container_before: u64,
    /// ... and at the end (`cpu_stats.cpu_usage.total_usage`).
    pub container_after: u64,
    /// The host's CPU time (all cores) at the start (`precpu_stats.system_cpu_usage`).
    pub system_before: u64,
    /// ... and at the end.
    pub system_after: u64,
    /// Cores online (`cpu_stats.online_cpus`).
    pub online_cpus: u32,
}

impl CpuPeriod {
    /// CPU used over the period, in percent of one core (200 = two cores busy): container delta / system delta
    /// × online cores × 100, as `docker stats` computes it. `None` when the period is empty (the system counter
    /// did not move) or the counters went backwards (a restart in between).
    pub fn percent_of_one_core(&self) -> Option<f64> {
        let container = self.container_after.checked_sub(self.container_before)?;
        let system = self.system_after.checked_sub(self.system_before)?;
        if system == 0 || self.container_before == 0 && self.system_before == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let pct = container as f64 / system as f64 * f64::from(self.online_cpus.max(1)) * 100.0;
        Some(pct)
    }
}

/// Memory in use as `docker stats` shows it: the usage less the inactive page cache the kernel reclaims first
/// (cgroup v2 `inactive_file`, v1 `total_inactive_file`).
pub fn memory_in_use(usage: u64, stats: &std::collections::HashMap<String, u64>) -> u64 {
    let cache = stats
        .get("inactive_file")
        .or_else(|| stats.get("total_inactive_file"))
        .copied()
        .unwrap_or(0);
    if cache < usage { usage - cache } else { usage }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn cpu_percent_is_docker_stats_formula() {
        // 0.5 s of CPU over a period in which the 4-core host counted 4 s (1 s wall): half a core.
        let p = CpuPeriod {
            container_before: 1_000_000_000,
            container_after: 1_500_000_000,
            system_before: 100_000_000_000,
            system_after: 104_000_000_000,
            online_cpus: 4,
        };
        assert_eq!(p.percent_of_one_core(), Some(50.0));
        // Two cores busy on a 2-core host.
        let p = CpuPeriod {
            container_before: 1,
            container_after: 2_000_000_001,
            system_before: 1,
            system_after: 2_000_000_001,
            online_cpus: 2,
        };
        assert_eq!(p.percent_of_one_core(), Some(200.0));
    }

    #[test]
    fn a_period_without_a_first_reading_or_going_backwards_has_no_cpu_figure() {
        // Engine 20.10's one-shot read: `precpu` is all zeros.
        let first = CpuPeriod {
            container_before: 0,
            container_after: 5_000,
            system_before: 0,
            system_after: 9_000,
            online_cpus: 2,
        };
        assert_eq!(first.percent_of_one_core(), None);
        let restarted = CpuPeriod {
            container_before: 5_000,
            container_after: 10,
            system_before: 1,
            system_after: 9_000,
            online_cpus: 2,
        };
        assert_eq!(restarted.percent_of_one_core(), None);
        let empty = CpuPeriod {
            container_before: 5,
            container_after: 5,
            system_before: 7,
            system_after: 7,
            online_cpus: 2,
        };
        assert_eq!(empty.percent_of_one_core(), None);
    }

    #[test]
    fn memory_in_use_leaves_out_the_inactive_page_cache() {
        let v2 = HashMap::from([("inactive_file".to_string(), 300)]);
        assert_eq!(memory_in_use(1000, &v2), 700);
        let v1 = HashMap::from([("total_inactive_file".to_string(), 100)]);
        assert_eq!(memory_in_use(1000, &v1), 900);
        // More cache than usage (counters read at different moments): the usage as is.
        let odd = HashMap::from([("inactive_file".to_string(), 2000)]);
        assert_eq!(memory_in_use(1000, &odd), 1000);
        assert_eq!(memory_in_use(1000, &HashMap::new()), 1000);
    }
}
