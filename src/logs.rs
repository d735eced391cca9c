//! `logs`: a project's container output by service, found by label, from any terminal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::engine::{Engine, LogOptions};
use crate::error::{Error, Result};
use crate::printer::{LineSplitter, Printer};
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

/// Splits an engine line `2026-11-25T05:41:00.123456789Z text` into its timestamp and text.
pub fn split_timestamp(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
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
    let engine = Engine::connect().await?;
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
    let mut streams = Vec::new();
    for service in &wanted {
        let container = spec.container_name(service);
        if containers
            .iter()
            .any(|c| c.name == container && c.role == "service")
        {
            found += 1;
            if !opts.follow {
                streams.push(spawn_lines(&engine, &container, service, &read));
            }
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
        // Follow each service across container replacements until Ctrl-C.
        let cancel = tokio_util::sync::CancellationToken::new();
        let first = match (since, opts.tail) {
            (Some(s), _) => crate::follow::From::Since(s),
            (None, t) => crate::follow::From::Tail(t),
        };
        let mut handles = Vec::new();
        for service in &wanted {
            handles.push(crate::follow::spawn(
                &engine,
                &spec.project,
                &spec.container_name(service),
                service,
                &printer,
                first,
                opts.timestamps,
                cancel.clone(),
            ));
        }
        let _ = tokio::signal::ctrl_c().await;
        cancel.cancel();
        for h in handles {
            let _ = h.await;
        }
    } else {
        let mut all: Vec<(String, String)> = Vec::new();
        for mut s in streams {
            while let Some(item) = s.recv().await {
                all.push(item);
            }
        }
        // RFC 3339 timestamps in UTC sort as strings; the sort is stable within one service.
        all.sort_by(|a, b| split_timestamp(&a.1).0.cmp(split_timestamp(&b.1).0));
        for (svc, line) in all {
            emit(&printer, &svc, &line, opts.timestamps);
        }
    }
    printer.flush().await;
    Ok(())
}

fn emit(p: &Printer, svc: &str, line: &str, timestamps: bool) {
    if timestamps {
        p.log(svc, line);
    } else {
        p.log(svc, split_timestamp(line).1);
    }
}

/// Spawns a reader that turns one container's chunks into whole lines.
pub fn spawn_lines(
    engine: &Engine,
    container: &str,
    service: &str,
    read: &LogOptions,
) -> tokio::sync::mpsc::UnboundedReceiver<(String, String)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut s = engine.logs(container, read);
    let service = service.to_string();
    tokio::spawn(async move {
        let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
        while let Some(Ok(chunk)) = s.next().await {
            let sp = if chunk.stderr { &mut err } else { &mut out };
            for l in sp.push(&chunk.bytes) {
                if tx.send((service.clone(), l)).is_err() {
                    return;
                }
            }
        }
        for l in [out.finish(), err.finish()].into_iter().flatten() {
            let _ = tx.send((service.clone(), l));
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::split_timestamp;

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
