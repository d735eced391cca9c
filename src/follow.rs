//! Following one service's output across container replacements: the follower subscribes to the project's
//! container events first, follows the current container, and when a new container of the service starts
//! (a rebuild here, `pinshare-dev rebuild` or `up` from another terminal) prints a marker and follows that one.

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, LogOptions};
use crate::printer::{LineSplitter, Printer};

/// Where the first container's output starts.
#[derive(Debug, Clone, Copy)]
pub enum From {
    /// Only lines written from now on (a container that is already running and kept).
    Now,
    /// The last N lines, or all with `None`.
    Tail(Option<u64>),
    /// Lines since this Unix time.
    Since(i64),
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The marker printed when a container is replaced.
pub fn replaced_marker(image_id: &str, exit: Option<i64>) -> String {
    let short = image_id.trim_start_matches("sha256:");
    let short = &short[..short.len().min(12)];
    let exit = exit.map_or_else(|| "exit ?".to_string(), |c| format!("exit {c}"));
    format!("— replaced (image sha256:{short}…, {exit}) —")
}

/// The marker printed when a supervisor restarted the service in a fresh container.
pub fn restarted_marker(restart: u32, exit: Option<i64>) -> String {
    let exit = exit.map_or_else(|| "exit ?".to_string(), |c| format!("exit {c}"));
    format!("— restarted (restart {restart}, {exit}) —")
}

async fn follow_one(
    engine: &Engine,
    id: &str,
    service: &str,
    printer: &Printer,
    from: From,
    timestamps: bool,
) {
    let opts = match from {
        From::Now => LogOptions {
            follow: true,
            tail: Some(0),
            since: None,
            timestamps,
        },
        From::Tail(t) => LogOptions {
            follow: true,
            tail: t,
            since: None,
            timestamps,
        },
        From::Since(s) => LogOptions {
            follow: true,
            tail: None,
            since: Some(s),
            timestamps,
        },
    };
    let mut stream = engine.logs(id, &opts);
    let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
    while let Some(Ok(chunk)) = stream.next().await {
        let splitter = if chunk.stderr { &mut err } else { &mut out };
        for l in splitter.push(&chunk.bytes) {
            printer.log(service, &l);
        }
    }
    for l in [out.finish(), err.finish()].into_iter().flatten() {
        printer.log(service, &l);
    }
}

/// Follows `service` (container `container`) until cancelled. `report_exits` prints an event when a container
/// of the service stops.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    engine: &Engine,
    project: &str,
    container: &str,
    service: &str,
    printer: &Printer,
    first: From,
    timestamps: bool,
    report_exits: bool,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (engine, project, container, service, printer) = (
        engine.clone(),
        project.to_string(),
        container.to_string(),
        service.to_string(),
        printer.clone(),
    );
    tokio::spawn(async move {
        // Events from a second before the first look are replayed, so nothing between the two is missed; a
        // task drains them at once, while the current container's output is being followed.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0) - 1);
        let mut stream = engine.container_events(&project, Some(since));
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let forward = tokio::spawn(async move {
            while let Some(ev) = stream.next().await {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
        let _forward = AbortOnDrop(forward);
        let mut current = match engine.inspect_container(&container).await {
            Ok(Some(c)) if c.state.as_ref().and_then(|s| s.running) == Some(true) => c.id,
            _ => None,
        };
        let mut from = first;
        let mut last_exit: Option<i64> = None;
        let mut died = false;
        'follow: loop {
            if let Some(id) = &current {
                tokio::select! {
                    () = follow_one(&engine, id, &service, &printer, from, timestamps) => {}
                    () = cancel.cancelled() => return,
                }
            }
            // Wait for the next container of this service to start.
            let next = loop {
                let ev = tokio::select! {
                    ev = events.recv() => ev,
                    () = cancel.cancelled() => return,
                };
                let Some(Ok(ev)) = ev else { return };
                if ev.service != service || ev.role != "service" {
                    continue;
                }
                if ev.action == "die" {
                    if current.as_deref() == Some(ev.id.as_str()) {
                        last_exit = ev.exit_code;
                        died = true;
                        if report_exits {
                            let oom = match engine.inspect_container(&ev.id).await {
                                Ok(Some(c))
                                    if c.state.as_ref().and_then(|s| s.oom_killed)
                                        == Some(true) =>
                                {
                                    " (OOM-killed)"
                                }
                                _ => "",
                            };
                            printer.event(
                                &service,
                                &format!("exited with code {}{oom}", ev.exit_code.unwrap_or(-1)),
                            );
                        }
                    }
                    continue;
                }
                if ev.action == "start" && current.as_deref() != Some(ev.id.as_str()) {
                    break ev.id;
                }
                if ev.action == "start" && died {
                    // The same container started again (restarted in place): its new output only.
                    let exit = last_exit.map_or_else(|| "?".to_string(), |c| c.to_string());
                    printer.log(&service, &format!("— restarted in place (exit {exit}) —"));
                    last_exit = None;
                    died = false;
                    from = From::Since(ev.time);
                    continue 'follow;
                }
            };
            if current.is_some() {
                let (image, restarts) = match engine.inspect_container(&next).await {
                    Ok(Some(c)) => {
                        let l = c.config.and_then(|c| c.labels).unwrap_or_default();
                        // A supervisor's restart carries its start time; a rebuild's container does not.
                        let restart = l
                            .contains_key(crate::labels::NEXT_START)
                            .then(|| crate::supervise::restarts_of(&l));
                        (c.image.unwrap_or_default(), restart)
                    }
                    _ => (String::new(), None),
                };
                let marker = match restarts {
                    Some(n) => restarted_marker(n, last_exit),
                    None => replaced_marker(&image, last_exit),
                };
                printer.log(&service, &marker);
            }
            current = Some(next);
            last_exit = None;
            died = false;
            from = From::Tail(None);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{replaced_marker, restarted_marker};

    #[test]
    fn restart_marker_names_the_restart_and_the_exit_code() {
        assert_eq!(
            restarted_marker(2, Some(137)),
            "— restarted (restart 2, exit 137) —"
        );
    }

    #[test]
    fn marker_names_the_new_image_and_the_old_exit_code() {
        assert_eq!(
            replaced_marker("sha256:0123456789abcdef0123", Some(0)),
            "— replaced (image sha256:0123456789ab…, exit 0) —"
        );
        assert_eq!(
            replaced_marker("", None),
            "— replaced (image sha256:…, exit ?) —"
        );
    }
}
