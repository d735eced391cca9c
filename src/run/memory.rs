//! The foreground `up`'s memory watch: a low-cost sample of each running container with a memory limit every
//! few seconds (the engine's immediate read: no CPU period, no second reading), and one warning per container
//! once it passes 90 % of its limit — before the kernel's OOM kill, which the supervisor reports after.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::output::printer::Printer;
use crate::spec::Spec;
use crate::usage;

/// How often each container is sampled.
pub const PERIOD: Duration = Duration::from_secs(5);

/// Samples `services` every `period` until cancelled (it runs as a task of the run's tree, `tasks.rs`). A
/// container is warned about once; its replacement (a new id) may be warned about again.
pub async fn watch(
    engine: Arc<dyn Engine>,
    spec: Spec,
    services: Vec<String>,
    printer: Printer,
    period: Duration,
) {
    let mut warned: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for name in &services {
            let svc = &spec.services[name];
            if svc.resources.memory_limit_bytes.is_none() {
                continue;
            }
            // A failed read (the engine away, the container being replaced) is the next tick's business; the
            // engine-loss path already says when the engine is gone.
            let Ok(Some(sample)) = engine.stats(&spec.container_name(name), false).await else {
                continue;
            };
            if warned.contains(&sample.id) {
                continue;
            }
            if let Some(w) = usage::memory_warning(&usage::usage(&sample, &svc.resources)) {
                warned.insert(sample.id);
                printer.say(name, w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::StatsSample;
    use crate::engine::fake::Fake;

    const MI: u64 = 1 << 20;

    #[tokio::test(start_paused = true)]
    async fn a_container_past_ninety_percent_of_its_limit_is_warned_about_once() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline/pinshare.toml");
        let text = std::fs::read_to_string(&path).expect("offline spec");
        let spec = crate::spec::parse(&path, &text).expect("valid");
        let fake = Fake::new();
        fake.start_spec(&spec).await;
        let app = spec.container_name("pinshare");
        let at = |mem| StatsSample {
            memory_used: mem,
            memory_limit: 1024 * MI,
            ..Default::default()
        };
        // 500Mi, then 950Mi (92.8 % of 1Gi) for three samples, then lower and high again.
        fake.stats_samples(
            &app,
            &[
                at(500 * MI),
                at(950 * MI),
                at(950 * MI),
                at(950 * MI),
                at(100 * MI),
                at(990 * MI),
            ],
        );
        fake.stats_samples(&spec.container_name("ipfs"), &[at(100 * MI)]);
        let (printer, lines) = Printer::capturing(["ipfs", "pinshare"]);
        let task = tokio::spawn(watch(
            Arc::new(fake.clone()),
            spec.clone(),
            spec.order.clone(),
            printer.clone(),
            PERIOD,
        ));
        tokio::time::sleep(PERIOD * 8).await;
        task.abort();
        printer.flush().await;
        let lines = lines.lock().expect("lines").clone();
        assert_eq!(
            lines,
            [
                "pinshare » warning: memory at 93% of its 1Gi limit (950.0MiB in use); at the limit the kernel OOM-kills it — raise resources.memory_limit in the spec (`pinshare-dev stats` shows the figures)"
            ]
        );
        // Cheap samples: immediate reads, never a CPU period.
        let reads = fake
            .call_lines()
            .iter()
            .filter(|l| l.starts_with("stats "))
            .count();
        assert!(reads >= 16, "{reads}");
    }
}
