//! Each service's CPU and memory for the dashboard's charts: the rounds of `stats` (`commands::stats::round`,
//! the same samples, figures and marks), taken while a page asks for them and kept for the last
//! [`KEPT`] rounds. Sampling starts with the first request and stops [`IDLE`] after the last, so a run whose
//! dashboard nobody watches asks the engine nothing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::commands::stats::{Row, Windows, round};
use crate::engine::Engine;
use crate::spec::{Resources, Spec};
use crate::usage::Mark;

/// Rounds kept per service (a round is about a second: the engine reads CPU over one).
pub const KEPT: usize = 60;
/// Sampling stops this long after the last request.
pub const IDLE: Duration = Duration::from_secs(20);
/// The shortest round (one without a running container would otherwise spin).
const ROUND: Duration = Duration::from_secs(1);

/// One point of a chart.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Point {
    /// CPU in percent of one core, when the sample spans a period.
    pub cpu: Option<f64>,
    /// Memory in use, bytes.
    pub memory: u64,
}

/// One service's charts.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Series {
    /// `running`, `exited`, `absent` …
    pub state: String,
    /// The spec's requests and limits.
    pub resources: Resources,
    /// What held over `stats`' window.
    pub marks: Vec<Mark>,
    /// Oldest first, about a second apart.
    pub points: VecDeque<Point>,
}

#[derive(Default)]
struct Inner {
    sampling: bool,
    asked: Option<Instant>,
    series: BTreeMap<String, Series>,
}

/// The samples of one run's dashboard.
#[derive(Clone, Default)]
pub struct Sampler {
    inner: Arc<Mutex<Inner>>,
}

impl Sampler {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The charts so far; starts sampling (with `engine`) if it is not under way.
    pub fn read(&self, engine: Arc<dyn Engine>, spec: Arc<Spec>) -> BTreeMap<String, Series> {
        let mut g = self.lock();
        g.asked = Some(Instant::now());
        if !g.sampling {
            g.sampling = true;
            let me = self.clone();
            tokio::spawn(async move { me.sample(&*engine, &spec).await });
        }
        g.series.clone()
    }

    /// Rounds until nobody asked for [`IDLE`].
    async fn sample(&self, engine: &dyn Engine, spec: &Spec) {
        let mut windows = Windows::default();
        loop {
            let began = Instant::now();
            let rows = round(engine, spec, &spec.order, &mut windows).await;
            {
                let mut g = self.lock();
                if let Ok(rows) = rows {
                    for r in rows {
                        let resources = spec.services[&r.service].resources.clone();
                        push(g.series.entry(r.service.clone()).or_default(), r, resources);
                    }
                }
                if g.asked.is_none_or(|a| a.elapsed() > IDLE) {
                    g.sampling = false;
                    return;
                }
            }
            tokio::time::sleep_until(began + ROUND).await;
        }
    }
}

/// Adds a round's row to a service's series.
fn push(s: &mut Series, r: Row, resources: Resources) {
    s.state = r.state;
    s.resources = resources;
    s.marks = r.marks;
    if let Some(u) = r.usage {
        s.points.push_back(Point {
            cpu: u.cpu_percent,
            memory: u.memory_bytes,
        });
        while s.points.len() > KEPT {
            s.points.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::Fake;
    use crate::engine::{CpuPeriod, StatsSample};

    #[tokio::test]
    async fn sampling_starts_when_asked_keeps_the_last_rounds_and_stops_when_nobody_asks() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline/pinshare.toml");
        let text = std::fs::read_to_string(&path).expect("offline spec");
        let spec = Arc::new(crate::spec::parse(&path, &text).expect("valid"));
        let fake = Arc::new(Fake::new());
        fake.start_spec(&spec).await;
        let sample = |mem: u64| StatsSample {
            cpu: Some(CpuPeriod {
                container_before: 10,
                container_after: 10 + 500_000_000,
                system_before: 10,
                system_after: 10 + 2_000_000_000,
                online_cpus: 2,
            }),
            memory_used: mem,
            ..Default::default()
        };
        let samples: Vec<StatsSample> = (1..=(KEPT as u64 + 5)).map(sample).collect();
        fake.stats_samples(&spec.container_name("ipfs"), &samples);
        let engine: Arc<dyn Engine> = fake.clone();
        let sampler = Sampler::default();
        tokio::time::pause();
        assert!(sampler.read(engine.clone(), spec.clone()).is_empty());
        // Asked every 10 s for two minutes: at most KEPT points, the newest last.
        for _ in 0..12 {
            tokio::time::sleep(Duration::from_secs(10)).await;
            sampler.read(engine.clone(), spec.clone());
        }
        let series = sampler.read(engine.clone(), spec.clone());
        let ipfs = &series["ipfs"];
        assert_eq!(ipfs.points.len(), KEPT);
        assert_eq!(ipfs.points.back().map(|p| p.cpu), Some(Some(50.0)));
        assert_eq!(ipfs.resources.memory_limit_bytes, Some(2 << 30));
        assert_eq!(ipfs.state, "running");
        // Nobody asks: the sampler stops after IDLE and the engine is asked nothing more.
        tokio::time::sleep(IDLE + Duration::from_secs(5)).await;
        assert!(!sampler.lock().sampling);
        let asked = || {
            fake.call_lines()
                .iter()
                .filter(|l| l.starts_with("stats "))
                .count()
        };
        let before = asked();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(asked(), before);
    }
}
