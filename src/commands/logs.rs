//! `logs`: a project's container output by service, found by label, from any terminal.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::engine::{Engine, LogOptions, Role};
use crate::error::{EXIT_INTERRUPTED, EXIT_OK, Error, Result};
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
    /// Only lines from then on: a duration back from now (`10m`) or a time (`2026-12-07T01:00:00Z`).
    pub since: Option<String>,
    /// Show timestamps.
    pub timestamps: bool,
}

/// Checks service names against the spec; an unknown one is a usage error listing the known ones.
pub fn check_services(spec: &Spec, services: &[String]) -> Result<()> {
    for s in services {
        if !spec.services.contains_key(s) {
            return Err(Error::Usage(spec.no_service(s)));
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

/// Runs `logs`; returns the exit code: 0, or 130 when Ctrl-C ends `--follow` (as it ends `up`).
pub async fn logs(spec: &Spec, opts: LogsOptions, out: &Printer) -> Result<u8> {
    check_services(spec, &opts.services)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let since = opts
        .since
        .as_deref()
        .map(|s| since_secs(s, now))
        .transpose()
        .map_err(|e| Error::Usage(format!("--since: {e}")))?;
    let engine = crate::engine::connect().await?;
    let containers = engine.project_containers(&spec.project).await?;
    let wanted: Vec<String> = if opts.services.is_empty() {
        spec.order.clone()
    } else {
        opts.services.clone()
    };
    let printer = out.spawn(spec.services.keys().map(String::as_str));
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
        return Err(Error::Runtime(no_containers(spec, &wanted)));
    }
    if opts.follow {
        return Ok(follow(
            &engine,
            spec,
            &wanted,
            &present,
            &read,
            &printer,
            opts.timestamps,
        )
        .await);
    }
    for (svc, line) in history(&*engine, &present, &read).await {
        emit(&printer, &svc, &line, opts.timestamps).await;
    }
    printer.flush().await;
    Ok(EXIT_OK)
}

/// `logs -f`: prints what there is now of the `present` services, merged in time order, then follows each of
/// the `wanted` ones until Ctrl-C; the exit code says how it stopped.
async fn follow(
    engine: &Arc<dyn Engine>,
    spec: &Spec,
    wanted: &[String],
    present: &[(String, String)],
    read: &LogOptions,
    printer: &Printer,
    timestamps: bool,
) -> u8 {
    // What is there now, merged in time order as without -f; then each service is followed from where its
    // history ended (the engine asked from a second before the read, the lines already printed dropped), so
    // nothing written meanwhile is lost or printed twice.
    let read_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let mut last: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (svc, line) in history(&**engine, present, read).await {
        last.insert(svc.clone(), split_timestamp(&line).0.to_string());
        emit(printer, &svc, &line, timestamps).await;
    }
    // Follow each service across container replacements until Ctrl-C.
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut handles = Vec::new();
    for service in wanted {
        handles.push(crate::run::follow::spawn(
            engine,
            &spec.project,
            &spec.container_name(service),
            service,
            printer,
            crate::run::read::From::After {
                since: i64::try_from(read_at.as_secs()).unwrap_or(0) - 1,
                // A service with nothing printed (no lines, or `--tail 0`) starts at the read.
                after: Some(last.get(service).cloned().unwrap_or_else(|| stamp(read_at))),
            },
            timestamps,
            cancel.clone(),
        ));
    }
    let code = until_stopped(printer).await;
    cancel.cancel();
    for h in handles {
        let _ = h.await;
    }
    printer.flush().await;
    code
}

/// Waits for Ctrl-C (exit 130) or for the output's reader to go (`logs -f | head` has what it wanted: exit 0).
async fn until_stopped(printer: &Printer) -> u8 {
    let closed = printer.output_closed();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => EXIT_INTERRUPTED,
        () = closed.cancelled() => EXIT_OK,
    }
}

/// Why `logs` has nothing to show: `service ipfs has no container (project p); start it with `pinshare-dev up``,
/// or `services ipfs and pinshare have no container …; start them …`.
fn no_containers(spec: &Spec, services: &[String]) -> String {
    let (subject, verb, them) = match services {
        [one] => (format!("service {one}"), "has", "it"),
        [init @ .., last] => (
            format!("services {} and {last}", init.join(", ")),
            "have",
            "them",
        ),
        [] => ("no service".to_string(), "has", "them"),
    };
    format!(
        "{subject} {verb} no container (project {}); start {them} with `{}`",
        spec.project,
        spec.command("up")
    )
}

/// `--since` as Unix seconds, as compose takes it: a duration back from `now` (`10m`, `1h30m`), an RFC 3339 time
/// (`2026-12-07T01:00:00Z`, `2026-12-07T02:00:00+01:00`, fractions allowed), a date (`2026-12-07`, midnight UTC),
/// or Unix seconds (`1796605200`).
fn since_secs(s: &str, now: Duration) -> std::result::Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(d) = units::parse_duration(s) {
        return Ok(i64::try_from(now.saturating_sub(d).as_secs()).unwrap_or(0));
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    if let Some(d) = date(s) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    match s.split_once('.').map_or((s, "0"), |(w, f)| (w, f)) {
        (whole, frac)
            if !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit()) =>
        {
            whole.parse().map_err(|e| format!("`{s}`: {e}"))
        }
        _ => Err(format!(
            "`{s}` is neither a duration (10m, 1h30m) nor a time (2026-12-07T01:00:00Z, 2026-12-07, Unix seconds)"
        )),
    }
}

/// `YYYY-MM-DD`, a real day.
fn date(s: &str) -> Option<time::Date> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
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
    use super::{no_containers, since_secs};
    use crate::run::read::{split_timestamp, ts_key};
    use std::time::Duration;

    #[test]
    fn since_takes_durations_back_from_now_and_times_as_compose_does() {
        let now = Duration::from_secs(1_796_610_000);
        assert_eq!(since_secs("10m", now), Ok(1_796_609_400));
        assert_eq!(since_secs("1h30m", now), Ok(1_796_604_600));
        // 2026-12-07T01:00:00Z
        assert_eq!(since_secs("2026-12-07T01:00:00Z", now), Ok(1_796_605_200));
        assert_eq!(since_secs("2026-12-07t01:00:00z", now), Ok(1_796_605_200));
        assert_eq!(
            since_secs("2026-12-07T01:00:00.75Z", now),
            Ok(1_796_605_200)
        );
        assert_eq!(
            since_secs("2026-12-07T02:00:00+01:00", now),
            Ok(1_796_605_200)
        );
        assert_eq!(since_secs("2026-12-07", now), Ok(1_796_601_600));
        assert_eq!(since_secs("1796605200", now), Ok(1_796_605_200));
        assert_eq!(since_secs("1796605200.5", now), Ok(1_796_605_200));
    }

    #[test]
    fn nothing_to_show_reads_as_a_sentence_for_one_service_or_several() {
        let spec = crate::spec::parse(
            std::path::Path::new("pinshare.toml"),
            "[project]\nname = \"p\"\n[services.ipfs]\nimage = \"i\"\n[services.pinshare]\nimage = \"a\"\n[services.web]\nimage = \"w\"\n",
        )
        .expect("valid");
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(
            no_containers(&spec, &names(&["ipfs"])),
            "service ipfs has no container (project p); start it with `pinshare-dev up`"
        );
        assert_eq!(
            no_containers(&spec, &names(&["ipfs", "pinshare"])),
            "services ipfs and pinshare have no container (project p); start them with `pinshare-dev up`"
        );
        assert_eq!(
            no_containers(&spec, &names(&["ipfs", "pinshare", "web"])),
            "services ipfs, pinshare and web have no container (project p); start them with `pinshare-dev up`"
        );
    }

    #[test]
    fn since_says_what_it_takes_when_it_is_neither() {
        for bad in ["yesterday", "2026-12-07T01:00:00", "2026-13-07", "10 m", ""] {
            let e = since_secs(bad, Duration::ZERO).expect_err(bad);
            assert_eq!(
                e,
                format!(
                    "`{bad}` is neither a duration (10m, 1h30m) nor a time (2026-12-07T01:00:00Z, 2026-12-07, Unix seconds)"
                )
            );
        }
    }

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
