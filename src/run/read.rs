//! Reading one container's output to its end: its history from the logs API where one is asked for, then its
//! live output from an attach, joined at the seam without a gap or a repeat (see [`super::seam`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::engine::{Engine, LogOptions};
use crate::output::lines::LineSplitter;
use crate::output::printer::Printer;
use crate::run::attach::Live;
use crate::run::seam::{HistoryLines, Seam};

/// How long the live stream may be quiet while lines are held at the seam before they are decided on.
const SETTLE: Duration = Duration::from_millis(100);
/// How far past the attach's answer the engine may still have been subscribing it.
const ATTACH_SLACK: Duration = Duration::from_millis(20);

/// Where the first container's output starts.
#[derive(Debug, Clone)]
pub enum From {
    /// Only lines written from now on (a container that is already running and kept).
    Now,
    /// The last N lines, or all with `None`.
    Tail(Option<u64>),
    /// Lines since this Unix time.
    Since(i64),
    /// Lines since this Unix time whose engine timestamp is later than `after` (what was printed already).
    After {
        /// Unix seconds to ask the engine from (it takes whole seconds).
        since: i64,
        /// The last engine timestamp already printed, if any.
        after: Option<String>,
    },
}

/// Where a container's output starts.
pub enum Start {
    /// Attached before its start: the stream holds everything.
    Attached(Live),
    /// Already running: its history from `From`, then live.
    From(From),
}

/// Now as an engine timestamp, `2026-11-25T05:41:00.123456789Z`.
pub fn stamp(at: Duration) -> String {
    let secs = at.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        at.subsec_nanos()
    )
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Prints one container's output as `service` lines until it stops; returns the stamp of the last line
/// printed (the engine's for history, the time of arrival for live lines), so a follow resumed after an
/// engine outage starts right after it. With `timestamps`, each line carries its stamp.
pub async fn follow_one(
    engine: &dyn Engine,
    id: &str,
    service: &str,
    printer: &Printer,
    start: Start,
    timestamps: bool,
) -> Option<String> {
    let mut last = None;
    let (live, mut seams) = match start {
        Start::Attached(live) => (Some(live), [Seam::open(), Seam::open()]),
        Start::From(from) => {
            let t1 = stamp(now());
            let live = engine.attach(id).await.ok();
            let t2 = stamp(now() + ATTACH_SLACK);
            // The engine lets a stopped container be attached, and that stream only ends when it runs and stops
            // again: keep it only if the container was running once attached (its end then ends the stream).
            let running =
                matches!(engine.inspect_container(id).await, Ok(Some(c)) if c.is_running());
            let live = live.filter(|_| running);
            let seams = history(
                engine,
                id,
                service,
                printer,
                from,
                timestamps,
                [&t1, &t2],
                &mut last,
            )
            .await;
            (live, seams)
        }
    };
    // Without a live stream (the container stopped before the attach) its history is all there is.
    let Some(mut live) = live else { return last };
    let mut split = [LineSplitter::default(), LineSplitter::default()];
    // Lines go to the printer a chunk at a time; `arrived` is the arrival time of the latest.
    let mut batch: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut arrived = None;
    let mut print = async |batch: &mut [Vec<String>; 2]| {
        if let Some(at) = print_batch(printer, service, batch, timestamps).await {
            arrived = Some(at);
        }
    };
    loop {
        let next = if seams.iter().any(Seam::holding) {
            match tokio::time::timeout(SETTLE, live.next()).await {
                Ok(n) => n,
                Err(_) => {
                    for (k, seam) in seams.iter_mut().enumerate() {
                        batch[k].extend(seam.settle());
                    }
                    print(&mut batch).await;
                    continue;
                }
            }
        } else {
            live.next().await
        };
        let Some(Ok(chunk)) = next else { break };
        let k = usize::from(chunk.stderr);
        for l in split[k].push(&chunk.bytes) {
            if seams[k].decided() {
                batch[k].push(l);
            } else {
                batch[k].extend(seams[k].push(l));
            }
        }
        print(&mut batch).await;
    }
    for k in 0..2 {
        if let Some(l) = split[k].finish() {
            batch[k].extend(seams[k].push(l));
        }
        batch[k].extend(seams[k].settle());
    }
    print(&mut batch).await;
    arrived.map(stamp).or(last)
}

/// Prints `batch` (stdout's lines, then stderr's: the dashboard tells them apart) and empties it; returns when,
/// if there was anything to print.
async fn print_batch(
    printer: &Printer,
    service: &str,
    batch: &mut [Vec<String>; 2],
    timestamps: bool,
) -> Option<Duration> {
    if batch.iter().all(Vec::is_empty) {
        return None;
    }
    let at = now();
    for (k, lines) in batch.iter_mut().enumerate() {
        if lines.is_empty() {
            continue;
        }
        if timestamps {
            let ts = stamp(at);
            for l in lines.iter_mut() {
                *l = format!("{ts} {l}");
            }
        }
        printer.log_batch(service, k == 1, lines).await;
        lines.clear();
    }
    Some(at)
}

/// Prints the history `from` asks for (lines stamped at or before `after` left out) and returns the seams
/// for the live stream attached between `t1` and `t2`.
#[allow(clippy::too_many_arguments)]
async fn history(
    engine: &dyn Engine,
    id: &str,
    service: &str,
    printer: &Printer,
    from: From,
    timestamps: bool,
    [t1, t2]: [&str; 2],
    last: &mut Option<String>,
) -> [Seam; 2] {
    let (tail, since, after) = match from {
        // Only what is written from now on: the live stream alone.
        From::Now => return [Seam::open(), Seam::open()],
        From::Tail(t) => (t, None, None),
        From::Since(s) => (None, Some(s), None),
        From::After { since, after } => (None, Some(since), after),
    };
    let opts = LogOptions {
        follow: false,
        tail,
        since,
        timestamps: true,
    };
    *last = after.clone();
    let mut stream = engine.logs(id, &opts);
    let mut lines = HistoryLines::default();
    // Per stream, the lines stamped after t1 (the live stream may repeat them) and how many of those were
    // stamped by t2 (only those may be missing from it).
    let mut tails: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut undecided = [0usize; 2];
    let (k1, k2) = (ts_key(t1), ts_key(t2));
    let mut take = async |l: crate::run::seam::Stamped| {
        let k = usize::from(l.stderr);
        let key = ts_key(&l.ts);
        if key > k1 {
            if key <= k2 && undecided[k] == tails[k].len() {
                undecided[k] += 1;
            }
            tails[k].push(l.text.clone());
        }
        if after.as_deref().is_some_and(|a| key <= ts_key(a)) {
            return;
        }
        if timestamps {
            let text = format!("{} {}", l.ts, l.text);
            printer.output(service, l.stderr, &text).await;
        } else {
            printer.output(service, l.stderr, &l.text).await;
        }
        *last = Some(l.ts);
    };
    while let Some(Ok(chunk)) = stream.next().await {
        if let Some(l) = lines.push(chunk.stderr, &chunk.bytes) {
            take(l).await;
        }
    }
    for l in lines.finish() {
        take(l).await;
    }
    let [out, err] = tails;
    [Seam::new(out, undecided[0]), Seam::new(err, undecided[1])]
}

/// Splits an engine line `2026-11-25T05:41:00.123456789Z text` into its timestamp and text.
pub fn split_timestamp(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
}

/// A sort key for an engine timestamp: the engine trims trailing zeros of the fraction
/// (`…:00.1Z`, `…:00.12Z`), so the strings alone do not sort in time order.
pub fn ts_key(ts: &str) -> (&str, u32) {
    let ts = ts.trim_end_matches('Z');
    let (whole, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let digits: String = frac.chars().take(9).collect();
    let nanos = format!("{digits:0<9}").parse().unwrap_or(0);
    (whole, nanos)
}

#[cfg(test)]
mod tests {
    use super::stamp;
    use std::time::Duration;

    #[test]
    fn stamps_are_written_like_engine_timestamps() {
        assert_eq!(
            stamp(Duration::new(1_795_585_260, 5)),
            "2026-11-25T05:41:00.000000005Z"
        );
        assert_eq!(stamp(Duration::ZERO), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            stamp(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
