//! `test --stats`: every service's CPU and memory sampled while the steps run — `stats` rounds (the engine
//! reads CPU over a second, so at most one sample a second; under load a round takes two), from the first step to the last — then, per service,
//! the steady figure (the median of the samples) and the peak (the highest) against the spec's requests and
//! limits, the limits that were hit (an OOM kill: the container's `State.OOMKilled`; CPU throttling: the CFS
//! counters of `throttling_data`), and the `resources = { ... }` that `recommend` suggests.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::recommend::{self, Observed};
use crate::commands::stats::{Windows, round};
use crate::engine::{Engine, State, Throttling};
use crate::spec::{Resources, Spec};
use crate::usage::{NEAR_LIMIT_PERCENT, Usage, bytes, quantity};

/// The samples of each service, in the order they were taken.
type Samples = BTreeMap<String, Vec<Usage>>;

/// Samples the copy's services until stopped; dropped unfinished (a step's error, Ctrl-C), it stops at once.
pub(super) struct Sampler {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<(Samples, Option<String>)>>,
}

/// The samples with their throttling counted from `baseline` on.
fn since(mut samples: Samples, baseline: &BTreeMap<String, Throttling>) -> Samples {
    for (name, seen) in &mut samples {
        let Some(b) = baseline.get(name) else {
            continue;
        };
        for u in seen {
            u.throttling = Throttling {
                periods: u.throttling.periods.saturating_sub(b.periods),
                throttled_periods: u
                    .throttling
                    .throttled_periods
                    .saturating_sub(b.throttled_periods),
                throttled_ns: u.throttling.throttled_ns.saturating_sub(b.throttled_ns),
            };
        }
    }
    samples
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Sampler {
    /// Starts sampling every service of `copy`.
    pub(super) fn start(engine: Arc<dyn Engine>, copy: &Spec) -> Self {
        let stop = CancellationToken::new();
        let spec = copy.clone();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut windows = Windows::default();
            let mut samples = Samples::new();
            // A first read at once (memory only: a CPU figure takes the engine a second), so a service killed
            // within the first round has a figure. Its throttling counters, which count from the container's
            // start, are subtracted from every later sample's.
            let mut baseline = BTreeMap::new();
            for name in &spec.order {
                if let Ok(Some(s)) = engine.stats(&spec.container_name(name), false).await {
                    baseline.insert(name.clone(), s.throttling);
                    // A container that is going (a kill under way) reads as no memory at all: no figure.
                    if s.memory_used > 0 {
                        let u = crate::usage::usage(&s, &spec.services[name].resources);
                        samples.entry(name.clone()).or_default().push(u);
                    }
                }
            }
            // At least one round, even when the steps end first; one under way when they end is finished: the
            // last seconds are often the busiest.
            loop {
                // A round of running services takes the engine's second; one of stopped ones no time at all.
                let pace = tokio::time::sleep(std::time::Duration::from_secs(1));
                let (r, ()) = tokio::join!(round(&*engine, &spec, &spec.order, &mut windows), pace);
                match r {
                    Ok(rows) => {
                        for r in rows {
                            if let Some(u) = r.usage {
                                samples.entry(r.service).or_default().push(u);
                            }
                        }
                    }
                    Err(e) => return (since(samples, &baseline), Some(e.to_string())),
                }
                if stopped.is_cancelled() {
                    break;
                }
            }
            (since(samples, &baseline), None)
        });
        Sampler {
            stop,
            task: Some(task),
        }
    }

    /// Stops sampling and sums up each service, its container inspected for how it ended.
    pub(super) async fn finish(mut self, engine: &dyn Engine, copy: &Spec) -> Report {
        self.stop.cancel();
        let (samples, error) = match self.task.take() {
            Some(t) => t
                .await
                .unwrap_or_else(|e| (Samples::new(), Some(format!("the sampler failed: {e}")))),
            None => (Samples::new(), None),
        };
        let mut services = Vec::new();
        for name in &copy.order {
            let ended = match engine.inspect_container(&copy.container_name(name)).await {
                Ok(Some(c)) => c.state,
                Ok(None) | Err(_) => State::Dead,
            };
            let seen = samples.get(name).map_or(&[][..], Vec::as_slice);
            services.push(summarize(name, seen, &copy.services[name].resources, ended));
        }
        Report {
            rule: recommend::RULE,
            sampling_error: error,
            services,
        }
    }
}

/// Steady (median) and peak (highest) of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// The median of the samples.
    pub steady: f64,
    /// The highest sample.
    pub peak: f64,
}

impl Figures {
    fn of(values: &[f64]) -> Option<Self> {
        Some(Figures {
            steady: recommend::median(values)?,
            peak: recommend::percentile(values, 1.0)?,
        })
    }
}

/// A limit the service reached while the steps ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Hit {
    /// The kernel killed it for memory.
    OomKilled {
        /// Its exit code (137: SIGKILL).
        exit_code: i64,
    },
    /// Its CPU limit held it back.
    CpuThrottled {
        /// Enforcement periods in which it was held back …
        throttled_periods: u64,
        /// … of those in which it ran.
        periods: u64,
        /// For how long, seconds.
        seconds: f64,
    },
    /// Its memory peaked at 90 % of its limit or more.
    MemoryNearLimit {
        /// The peak, percent of the limit.
        percent: f64,
    },
    /// It ended (not for memory) before the steps did.
    Exited {
        /// Its exit code.
        exit_code: i64,
    },
}

impl Hit {
    fn text(&self) -> String {
        match self {
            Hit::OomKilled { exit_code } => format!("OOM-killed (exit {exit_code})"),
            Hit::CpuThrottled {
                throttled_periods,
                periods,
                seconds,
            } => format!(
                "CPU throttled in {throttled_periods} of {periods} periods ({seconds:.1} s)"
            ),
            Hit::MemoryNearLimit { percent } => {
                format!("memory peaked at {percent:.0}% of its limit")
            }
            Hit::Exited { exit_code } => format!("exited with code {exit_code}"),
        }
    }
}

/// One service's figures while the steps ran.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLoad {
    /// Service.
    pub service: String,
    /// Samples taken.
    pub samples: usize,
    /// CPU, percent of one core.
    pub cpu_percent: Option<Figures>,
    /// Memory in use, bytes.
    pub memory_bytes: Option<Figures>,
    /// What the spec requests and limits.
    pub spec: Resources,
    /// The limits it hit.
    pub hits: Vec<Hit>,
    /// CPU throttling while the steps ran.
    pub throttling: Throttling,
    /// The suggested resources.
    pub suggested: Resources,
    /// The same as a spec line.
    pub suggested_line: String,
}

/// What `test --stats` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the suggestion is made.
    pub rule: &'static str,
    /// Why sampling stopped early, when it did.
    pub sampling_error: Option<String>,
    /// Each service, in start order.
    pub services: Vec<ServiceLoad>,
}

/// One service's samples, spec and end summed up.
pub(super) fn summarize(name: &str, seen: &[Usage], spec: &Resources, ended: State) -> ServiceLoad {
    let cpu: Vec<f64> = seen.iter().filter_map(|u| u.cpu_percent).collect();
    #[allow(clippy::cast_precision_loss)]
    let memory: Vec<f64> = seen.iter().map(|u| u.memory_bytes as f64).collect();
    let throttling = seen.last().map(|u| u.throttling).unwrap_or_default();
    let mut hits = Vec::new();
    match ended {
        State::Exited { code, oom: true } => hits.push(Hit::OomKilled { exit_code: code }),
        State::Exited { code, oom: false } => hits.push(Hit::Exited { exit_code: code }),
        _ => {}
    }
    if throttling.throttled_periods > 0 {
        #[allow(clippy::cast_precision_loss)]
        hits.push(Hit::CpuThrottled {
            throttled_periods: throttling.throttled_periods,
            periods: throttling.periods,
            seconds: throttling.throttled_ns as f64 / 1e9,
        });
    }
    let peak_of_limit = seen
        .iter()
        .filter_map(|u| u.memory_percent_of_limit)
        .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
    if let Some(percent) = peak_of_limit.filter(|p| *p >= NEAR_LIMIT_PERCENT) {
        hits.push(Hit::MemoryNearLimit { percent });
    }
    let observed = Observed {
        cpu_percent: cpu.clone(),
        memory: seen.iter().map(|u| u.memory_bytes).collect(),
        oom_killed: matches!(ended, State::Exited { oom: true, .. }),
        throttled: throttling.throttled_periods > 0,
    };
    let suggested = recommend::recommend(&observed, spec);
    ServiceLoad {
        service: name.to_string(),
        samples: seen.len(),
        cpu_percent: Figures::of(&cpu),
        memory_bytes: Figures::of(&memory),
        spec: spec.clone(),
        hits,
        throttling,
        suggested_line: recommend::resources_line(&suggested),
        suggested,
    }
}

/// A request and a limit as the spec writes them (`250m / 1`, `512Mi / -`).
fn pair(request: Option<String>, limit: Option<String>) -> String {
    format!(
        "{} / {}",
        request.unwrap_or_else(|| "-".into()),
        limit.unwrap_or_else(|| "-".into())
    )
}

/// A service's cells in the table.
fn cells(s: &ServiceLoad) -> [String; 9] {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mem = |b: f64| bytes(b as u64);
    let hits: Vec<String> = s.hits.iter().map(Hit::text).collect();
    [
        s.service.clone(),
        s.samples.to_string(),
        s.cpu_percent
            .map_or("-".into(), |f| format!("{:.2}%", f.steady)),
        s.cpu_percent
            .map_or("-".into(), |f| format!("{:.2}%", f.peak)),
        pair(
            s.spec.cpu_millis.map(recommend::cpu_quantity),
            s.spec.cpu_limit_millis.map(recommend::cpu_quantity),
        ),
        s.memory_bytes.map_or("-".into(), |f| mem(f.steady)),
        s.memory_bytes.map_or("-".into(), |f| mem(f.peak)),
        pair(
            s.spec.memory_bytes.map(quantity),
            s.spec.memory_limit_bytes.map(quantity),
        ),
        if hits.is_empty() {
            "-".into()
        } else {
            hits.join(", ")
        },
    ]
}

/// The report as a table, the marks and the suggestions.
pub(super) fn render(report: &Report) -> String {
    let header = [
        "SERVICE",
        "SAMPLES",
        "CPU STEADY",
        "CPU PEAK",
        "CPU REQ / LIMIT",
        "MEM STEADY",
        "MEM PEAK",
        "MEM REQ / LIMIT",
        "LIMIT HIT",
    ];
    let rows: Vec<[String; 9]> = report.services.iter().map(cells).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, v) in widths.iter_mut().zip(r) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |vals: Vec<&str>| {
        let cells: Vec<String> = vals
            .iter()
            .zip(widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = String::from(
        "resource usage while the steps ran (one sample per `stats` round, each a CPU read over a second or more; steady = median, peak = highest):\n",
    );
    out.push_str(&line(header.to_vec()));
    for r in &rows {
        out.push('\n');
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    if let Some(e) = &report.sampling_error {
        out.push_str(&format!("\nsampling stopped early: {e}"));
    }
    out.push_str(&format!(
        "\nsuggested resources, by the VPA recommender's rule: {}:",
        report.rule
    ));
    let width = report
        .services
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(0)
        + 11;
    for s in &report.services {
        let head = format!("[services.{}]", s.service);
        out.push_str(&format!("\n  {head:<width$} {}", s.suggested_line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{CpuPeriod, StatsSample};

    const MI: u64 = 1 << 20;

    fn app() -> Resources {
        Resources {
            cpu_millis: Some(100),
            memory_bytes: Some(256 * MI),
            cpu_limit_millis: Some(500),
            memory_limit_bytes: Some(1024 * MI),
        }
    }

    /// A sample of `cores` on a 2-core host over a second, `mem` in use, throttled `throttled` times.
    fn at(cores: f64, mem: u64, throttled: u64) -> Usage {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let used = (cores * 1e9) as u64;
        let s = StatsSample {
            cpu: Some(CpuPeriod {
                container_before: 1,
                container_after: 1 + used,
                system_before: 1,
                system_after: 1 + 2_000_000_000,
                online_cpus: 2,
            }),
            memory_used: mem,
            memory_limit: 1024 * MI,
            throttling: Throttling {
                periods: 50,
                throttled_periods: throttled,
                throttled_ns: throttled * 20_000_000,
            },
            ..StatsSample::default()
        };
        crate::usage::usage(&s, &app())
    }

    #[test]
    fn steady_is_the_median_and_peak_the_highest_against_the_spec() {
        let seen = [
            at(0.1, 10 * MI, 0),
            at(0.4, 40 * MI, 0),
            at(0.2, 20 * MI, 0),
        ];
        let s = summarize("pinshare", &seen, &app(), State::Running);
        let cpu = s.cpu_percent.expect("cpu");
        assert!((cpu.steady - 20.0).abs() < 1e-9 && (cpu.peak - 40.0).abs() < 1e-9);
        let m = s.memory_bytes.expect("memory");
        #[allow(clippy::cast_precision_loss)]
        let expect = ((20 * MI) as f64, (40 * MI) as f64);
        assert_eq!((m.steady, m.peak), expect);
        assert_eq!(s.hits, []);
        let text = render(&Report {
            rule: recommend::RULE,
            sampling_error: None,
            services: vec![s],
        });
        let row = text.lines().nth(2).expect("a row");
        for cell in [
            "pinshare",
            "3",
            "20.00%",
            "40.00%",
            "100m / 500m",
            "20.0MiB",
            "40.0MiB",
            "256Mi / 1Gi",
        ] {
            assert!(row.contains(cell), "{cell} in {text}");
        }
        assert!(row.ends_with(" -"), "{text}");
        // p90 of three samples is the highest: 40 % = 400m + 15 % = 460m; ratio 5 → 2300m; 40Mi + 15 % → 46Mi, ×4.
        assert!(
            text.contains(
                "[services.pinshare] resources = { cpu = \"460m\", memory = \"46Mi\", cpu_limit = \"2300m\", memory_limit = \"184Mi\" }"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_oom_kill_throttling_and_a_near_limit_peak_are_marked() {
        let seen = [at(0.5, 100 * MI, 3), at(0.5, 1000 * MI, 7)];
        let s = summarize(
            "pinshare",
            &seen,
            &app(),
            State::Exited {
                code: 137,
                oom: true,
            },
        );
        let texts: Vec<String> = s.hits.iter().map(Hit::text).collect();
        assert_eq!(
            texts,
            [
                "OOM-killed (exit 137)",
                "CPU throttled in 7 of 50 periods (0.1 s)",
                "memory peaked at 98% of its limit"
            ]
        );
        // After an OOM kill at 1Gi the limit rises to at least 1.2 × 1Gi.
        assert!(s.suggested.memory_limit_bytes >= Some(1229 * MI), "{s:?}");
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(json["hits"][0]["kind"], "oom-killed");
        assert_eq!(json["hits"][0]["exit_code"], 137);
        assert_eq!(json["hits"][1]["kind"], "cpu-throttled");
        // A service that ended for another reason says so; one never sampled has no figures.
        let s = summarize(
            "ipfs",
            &[],
            &Resources::default(),
            State::Exited {
                code: 3,
                oom: false,
            },
        );
        assert_eq!(s.hits, [Hit::Exited { exit_code: 3 }]);
        assert!(s.cpu_percent.is_none() && s.memory_bytes.is_none());
    }
}
