//! `stats [SERVICE...] [--no-stream] [--json]`: each service's CPU and memory against its spec's requests and
//! limits, network and block I/O, restarts; marks a service that stayed above its request, or near its limit,
//! over the sampling window. Streams a table a round (about a second each: the engine reads CPU over a second)
//! until Ctrl-C; `--no-stream` prints one round, whose window is the engine's one-second read.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{EXIT_INTERRUPTED, EXIT_OK, Result};
use crate::output::printer::Printer;
use crate::spec::{Resources, Spec};
use crate::usage::{self, Mark, Usage, bytes, quantity};

/// Samples kept per service while streaming: about ten seconds.
const WINDOW: usize = 10;

/// One service in one round.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Service.
    pub service: String,
    /// Container name, when it exists.
    pub container: Option<String>,
    /// `running`, `exited`, `absent` …
    pub state: String,
    /// Restarts by a foreground `up` plus those counted by the engine, as `ps` counts them.
    pub restarts: i64,
    /// This round's figures, when it runs.
    pub usage: Option<Usage>,
    /// What held over the whole window.
    pub marks: Vec<Mark>,
    /// Samples in the window.
    pub window: usize,
}

/// Each service's recent samples, with the container they are of (a replacement starts a new window).
#[derive(Default)]
pub struct Windows(HashMap<String, (String, VecDeque<Usage>)>);

impl Windows {
    fn push(&mut self, service: &str, container_id: &str, u: Usage) -> (Vec<Mark>, usize) {
        let entry = self
            .0
            .entry(service.to_string())
            .or_insert_with(|| (container_id.to_string(), VecDeque::new()));
        if entry.0 != container_id {
            *entry = (container_id.to_string(), VecDeque::new());
        }
        entry.1.push_back(u);
        while entry.1.len() > WINDOW {
            entry.1.pop_front();
        }
        let window: Vec<Usage> = entry.1.iter().cloned().collect();
        (usage::marks(&window), window.len())
    }
}

/// The services asked for (all, in start order, when none), each checked against the spec.
fn selection(spec: &Spec, services: &[String]) -> Result<Vec<String>> {
    crate::commands::logs::check_services(spec, services)?;
    Ok(spec
        .order
        .iter()
        .filter(|s| services.is_empty() || services.contains(s))
        .cloned()
        .collect())
}

/// One round: every selected service's container inspected, the running ones sampled together.
pub async fn round(
    engine: &dyn Engine,
    spec: &Spec,
    services: &[String],
    windows: &mut Windows,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut running = Vec::new();
    for name in services {
        let cname = spec.container_name(name);
        let c = engine.inspect_container(&cname).await?;
        let restarts = c.as_ref().map_or(0, |c| {
            c.restart_count + i64::from(crate::labels::restarts_of(&c.labels))
        });
        let state = c
            .as_ref()
            .map_or_else(|| "absent".to_string(), |c| c.state.as_str().to_string());
        if c.as_ref().is_some_and(crate::engine::Container::is_running) {
            running.push(rows.len());
        }
        rows.push(Row {
            service: name.clone(),
            container: c.map(|c| c.name),
            state,
            restarts,
            usage: None,
            marks: Vec::new(),
            window: 0,
        });
    }
    let samples = futures_util::future::join_all(running.iter().map(|i| {
        let cname = spec.container_name(&rows[*i].service);
        async move { engine.stats(&cname, true).await }
    }))
    .await;
    for (i, sample) in running.into_iter().zip(samples) {
        let Some(sample) = sample? else {
            continue; // stopped between the look and the read
        };
        let row = &mut rows[i];
        let u = usage::usage(&sample, &spec.services[&row.service].resources);
        (row.marks, row.window) = windows.push(&row.service, &sample.id, u.clone());
        row.usage = Some(u);
    }
    Ok(rows)
}

/// Why a row has no figures, in its MARK column: no container, or the state of one that is not running.
fn unsampled(state: &str) -> String {
    match state {
        "absent" => "no container".to_string(),
        "running" => "no sample yet".to_string(),
        other => format!("not running ({other})"),
    }
}

/// CPU with two decimals (an idle service is a few hundredths of a percent), as `docker stats` shows it.
fn cpu(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_string(), |p| format!("{p:.2}%"))
}

fn of(p: Option<f64>, whole: Option<String>, decimals: usize) -> String {
    match (p, whole) {
        (Some(p), Some(w)) => format!("{p:.decimals$}% of {w}"),
        _ => "-".to_string(),
    }
}

/// The cells of one row: figures against the spec's `res`ources when the service was sampled, dashes and
/// why it was not otherwise.
fn row_cells(r: &Row, res: &Resources) -> Vec<String> {
    let cores = |m: Option<u64>| {
        #[allow(clippy::cast_precision_loss)]
        m.map(|m| format!("{}", m as f64 / 1000.0))
    };
    let marks = if r.marks.is_empty() {
        "-".to_string()
    } else {
        r.marks
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &r.usage {
        None => vec![
            r.service.clone(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            r.restarts.to_string(),
            unsampled(&r.state),
        ],
        Some(u) => vec![
            r.service.clone(),
            cpu(u.cpu_percent),
            of(u.cpu_percent_of_limit, cores(res.cpu_limit_millis), 2),
            bytes(u.memory_bytes),
            of(
                u.memory_percent_of_request,
                u.memory_request_bytes.map(quantity),
                1,
            ),
            of(
                u.memory_percent_of_limit,
                u.memory_limit_bytes.map(quantity),
                1,
            ),
            format!("{} / {}", bytes(u.net_rx_bytes), bytes(u.net_tx_bytes)),
            format!(
                "{} / {}",
                bytes(u.block_read_bytes),
                bytes(u.block_write_bytes)
            ),
            r.restarts.to_string(),
            marks,
        ],
    }
}

/// The rows as an aligned table.
pub fn table(rows: &[Row], spec: &Spec) -> String {
    let header = [
        "SERVICE",
        "CPU",
        "CPU/LIMIT",
        "MEM",
        "MEM/REQUEST",
        "MEM/LIMIT",
        "NET RX/TX",
        "BLOCK R/W",
        "RESTARTS",
        "MARK",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| row_cells(r, &spec.services[&r.service].resources))
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c.iter()) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |vals: Vec<&str>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(widths.iter())
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    for c in &cells {
        out.push('\n');
        out.push_str(&line(c.iter().map(String::as_str).collect()));
    }
    out
}

/// Runs `stats`.
pub async fn stats(
    spec: &Spec,
    services: &[String],
    no_stream: bool,
    json: bool,
    out: &Printer,
) -> Result<u8> {
    let selected = selection(spec, services)?;
    let engine = crate::engine::connect().await?;
    let mut windows = Windows::default();
    let show = |rows: &[Row]| {
        if json {
            if no_stream {
                serde_json::to_string_pretty(rows).unwrap_or_default()
            } else {
                // One line a round, so a stream can be read line by line.
                serde_json::to_string(rows).unwrap_or_default()
            }
        } else {
            table(rows, spec)
        }
    };
    if no_stream {
        let rows = round(&*engine, spec, &selected, &mut windows).await?;
        out.block(&show(&rows));
        return Ok(EXIT_OK);
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let closed = out.output_closed();
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(EXIT_INTERRUPTED),
            // `stats | head -1`: the reader has what it wanted.
            () = closed.cancelled() => return Ok(EXIT_OK),
            rows = round(&*engine, spec, &selected, &mut windows) => {
                let rows = rows?;
                if !json {
                    out.block("");
                }
                out.block(&show(&rows));
                out.flush().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::fake::Fake;
    use crate::engine::{CpuPeriod, StatsSample};

    const MI: u64 = 1 << 20;

    fn spec() -> Spec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline/pinshare.toml");
        let text = std::fs::read_to_string(&path).expect("offline spec");
        crate::spec::parse(&path, &text).expect("valid")
    }

    fn sample(cores_on_two: f64, mem: u64, limit: u64) -> StatsSample {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let used = (cores_on_two * 1e9) as u64;
        StatsSample {
            cpu: Some(CpuPeriod {
                container_before: 10,
                container_after: 10 + used,
                system_before: 10,
                system_after: 10 + 2_000_000_000,
                online_cpus: 2,
            }),
            memory_used: mem,
            memory_limit: limit,
            net_rx: 1500,
            net_tx: 800,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_round_shows_each_service_against_its_spec_and_marks_only_what_lasted() {
        let spec = spec();
        let fake = Fake::new();
        fake.start_spec(&spec).await;
        let (ipfs, app) = (spec.container_name("ipfs"), spec.container_name("pinshare"));
        // kubo: a quarter core, 100Mi of its 512Mi request. The app: 950Mi of its 1Gi limit, twice, then 200Mi.
        fake.stats_samples(&ipfs, &[sample(0.25, 100 * MI, 2048 * MI)]);
        fake.stats_samples(
            &app,
            &[
                sample(0.05, 950 * MI, 1024 * MI),
                sample(0.05, 950 * MI, 1024 * MI),
                sample(0.05, 200 * MI, 1024 * MI),
            ],
        );
        let services = selection(&spec, &[]).expect("all");
        let mut windows = Windows::default();
        let rows = round(&fake, &spec, &services, &mut windows)
            .await
            .expect("round");
        assert_eq!(
            rows.iter().map(|r| r.service.as_str()).collect::<Vec<_>>(),
            ["ipfs", "pinshare"]
        );
        let text = table(&rows, &spec);
        let ipfs_line = text.lines().nth(1).expect("ipfs line");
        for cell in [
            "25.00%",
            "25.00% of 1",
            "100.0MiB",
            "19.5% of 512Mi",
            "4.9% of 2Gi",
            "1.5KiB / 800B",
        ] {
            assert!(ipfs_line.contains(cell), "{cell} in {text}");
        }
        assert!(ipfs_line.ends_with("0         -"), "{text}");
        let app_row = &rows[1];
        assert_eq!(
            app_row.marks,
            [Mark::MemoryAboveRequest, Mark::MemoryNearLimit]
        );
        assert!(text.contains("92.8% of 1Gi"), "{text}");
        assert!(
            text.contains("memory above request, memory near limit"),
            "{text}"
        );

        // Still high in the second sample; the third drops: the window no longer stays near the limit.
        let rows = round(&fake, &spec, &services, &mut windows)
            .await
            .expect("round");
        assert_eq!(rows[1].marks.len(), 2);
        assert_eq!(rows[1].window, 2);
        let rows = round(&fake, &spec, &services, &mut windows)
            .await
            .expect("round");
        assert_eq!(rows[1].marks, []);
        // Every sample was a CPU read over a period.
        assert!(
            fake.call_lines()
                .iter()
                .filter(|l| l.starts_with("stats "))
                .count()
                == 6
        );
    }

    #[tokio::test]
    async fn a_service_without_a_container_is_shown_absent_and_an_unknown_one_is_refused() {
        let spec = spec();
        let fake = Fake::new();
        let mut windows = Windows::default();
        let rows = round(&fake, &spec, &["ipfs".to_string()], &mut windows)
            .await
            .expect("round");
        assert_eq!(rows[0].state, "absent");
        assert!(rows[0].usage.is_none());
        let t = table(&rows, &spec);
        let row = t.lines().nth(1).expect("row");
        // The CPU column holds figures only; the row says why it has none.
        assert!(row.starts_with("ipfs     -  "), "{t}");
        assert!(row.ends_with(" no container"), "{t}");
        assert!(!row.contains("absent"), "{t}");
        let e = selection(&spec, &["ipfss".to_string()]).expect_err("unknown");
        assert_eq!(
            e.to_string(),
            format!(
                "no service `ipfss` in {}; known services: ipfs, pinshare",
                spec.file.display()
            )
        );
    }
}
