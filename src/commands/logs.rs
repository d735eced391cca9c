//! `logs`: a project's container output by service, found by label, from any terminal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::engine::{Engine, LogOptions, Role};
use crate::error::{Error, Result};
use crate::output::printer::Printer;
use crate::run::read::stamp;
use crate::run::read::{split_timestamp, ts_key};
use crate::run::seam::HistoryLines;
use crate::spec::{Spec, units};

/// Options of `logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Services; empty = all.
    pub services: Vec<String>,
    /// Keep following.
    pub follow: bool,
    /// Lines from the end of each.
    pub tail: Option<u64>,
    /// Only lines newer than this (`10m`).
    pub since: Option<String>,
    /// Show timestamps.
    pub timestamps: bool,
}

/// Checks service names against the spec; an unknown one is a usage error listing the known ones.
pub fn check_services(spec: &Spec, services: &[String]) -> Result<()> {
    for s in services {
        if !spec.services.contains_key(s) {
            return Err(Error::Usage(format!(
                "no service `{s}` in {}; known services: {}",
                spec.file.display(),
                spec.service_list()
            )));
        }
    }
    Ok(())
}

/// Reads the lines there are now of each `(service, container)`, merged in time order.
async fn history(
    engine: &dyn Engine,
    containers: &[(String, String)],
    read: &LogOptions,
) -> Vec<(String, String)> {
    let streams: Vec<_> = containers
        .iter()
        .map(|(service, container)| spawn_lines(engine, container, service, read))
        .collect();
    let mut all: Vec<(String, String)> = Vec::new();
    for mut s in streams {
        while let Some(item) = s.recv().await {
            all.push(item);
        }
    }
    // Stable: lines of one service with the same timestamp keep their order.
    all.sort_by(|a, b| ts_key(split_timestamp(&a.1).0).cmp(&ts_key(split_timestamp(&b.1).0)));
    all
}

/// Runs `logs`.
pub async fn logs(spec: &Spec, opts: LogsOptions) -> Result<()> {
    check_services(spec, &opts.services)?;
    let since = match &opts.since {
        None => None,
        Some(s) => {
            let d = units::parse_duration(s).map_err(|e| Error::Usage(format!("--since: {e}")))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            Some(i64::try_from(now.saturating_sub(d).as_secs()).unwrap_or(0))
        }
    };
    let engine = crate::engine::connect().await?;
    let containers = engine.project_containers(&spec.project).await?;
    let wanted: Vec<String> = if opts.services.is_empty() {
        spec.order.clone()
    } else {
        opts.services.clone()
    };
    let printer = Printer::spawn(spec.services.keys().map(String::as_str));
    let mut found = 0;
    // Engine timestamps are always requested so several services merge in time order.
    let read = LogOptions {
        follow: false,
        tail: opts.tail,
        since,
        timestamps: true,
    };
    let mut present = Vec::new();
    for service in &wanted {
        let container = spec.container_name(service);
        if containers
            .iter()
            .any(|c| c.name == container && c.role == Some(Role::Service))
        {
            found += 1;
            present.push((service.clone(), container));
        }
    }
    if found == 0 {
        return Err(Error::Runtime(format!(
            "no container of {} is there (project {}); start it with `pinshare-dev up`",
            wanted.join(", "),
            spec.project
        )));
    }
    if opts.follow {
        // What is there now, merged in time order as without -f; then each service is followed from where its
        // history ended (the engine asked from a second before the read, the lines already printed dropped), so
        // nothing written meanwhile is lost or printed twice.
        let read_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let mut last: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for (svc, line) in history(&*engine, &present, &read).await {
            last.insert(svc.clone(), split_timestamp(&line).0.to_string());
            emit(&printer, &svc, &line, opts.timestamps).await;
        }
        // Follow each service across container replacements until Ctrl-C.
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut handles = Vec::new();
        for service in &wanted {
            handles.push(crate::run::follow::spawn(
                &engine,
                &spec.project,
                &spec.container_name(service),
                service,
                &printer,
                crate::run::read::From::After {
                    since: i64::try_from(read_at.as_secs()).unwrap_or(0) - 1,
                    // A service with nothing printed (no lines, or `--tail 0`) starts at the read.
                    after: Some(last.get(service).cloned().unwrap_or_else(|| stamp(read_at))),
                },
                opts.timestamps,
                cancel.clone(),
            ));
        }
        let closed = printer.output_closed();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            // `logs -f | head`: the reader has what it wanted.
            () = closed.cancelled() => {}
        }
        cancel.cancel();
        for h in handles {
            let _ = h.await;
        }
    } else {
        for (svc, line) in history(&*engine, &present, &read).await {
            emit(&printer, &svc, &line, opts.timestamps).await;
        }
    }
    printer.flush().await;
    Ok(())
}

async fn emit(p: &Printer, svc: &str, line: &str, timestamps: bool) {
    if timestamps {
        p.log(svc, line).await;
    } else {
        p.log(svc, split_timestamp(line).1).await;
    }
}

/// Spawns a reader that turns one container's frames into whole `TIMESTAMP text` lines (a line the engine split
/// into parts is joined back).
pub fn spawn_lines(
    engine: &dyn Engine,
    container: &str,
    service: &str,
    read: &LogOptions,
) -> tokio::sync::mpsc::UnboundedReceiver<(String, String)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut s = engine.logs(container, read);
    let service = service.to_string();
    tokio::spawn(async move {
        let mut lines = HistoryLines::default();
        while let Some(Ok(chunk)) = s.next().await {
            if let Some(l) = lines.push(chunk.stderr, &chunk.bytes)
                && tx
                    .send((service.clone(), format!("{} {}", l.ts, l.text)))
                    .is_err()
            {
                return;
            }
        }
        for l in lines.finish() {
            let _ = tx.send((service.clone(), format!("{} {}", l.ts, l.text)));
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use crate::run::read::{split_timestamp, ts_key};

    #[test]
    fn engine_timestamps_sort_in_time_order_though_trailing_zeros_are_trimmed() {
        let mut ts = vec![
            "2026-11-25T05:41:00.12Z",
            "2026-11-25T05:41:00.1Z",
            "2026-11-25T05:41:01Z",
            "2026-11-25T05:41:00.123456789Z",
        ];
        ts.sort_by_key(|t| ts_key(t));
        assert_eq!(
            ts,
            [
                "2026-11-25T05:41:00.1Z",
                "2026-11-25T05:41:00.12Z",
                "2026-11-25T05:41:00.123456789Z",
                "2026-11-25T05:41:01Z"
            ]
        );
    }

    #[test]
    fn engine_timestamps_are_split_off() {
        assert_eq!(
            split_timestamp("2026-11-25T05:41:00.1Z Daemon is ready"),
            ("2026-11-25T05:41:00.1Z", "Daemon is ready")
        );
        assert_eq!(
            split_timestamp("2026-11-25T05:41:00.1Z "),
            ("2026-11-25T05:41:00.1Z", "")
        );
    }
}
