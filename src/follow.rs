//! Following one service's output across container replacements: the follower subscribes to the project's
//! container events first, follows the current container, and when a new container of the service starts
//! (a rebuild here, `pinshare-dev rebuild` or `up` from another terminal) prints a marker and follows that one.

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::engine::{Engine, EventAction, LogOptions, Role};
use crate::printer::{LineSplitter, Printer};

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

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start and die events of one service's long-running containers. The subscription replays from a second before
/// it was made, so a look taken just after it misses nothing; a task drains the engine's stream at once, so events
/// queue while the caller is busy (following output, waiting for a lock). Ends when the stream does.
pub struct ServiceEvents {
    rx: tokio::sync::mpsc::UnboundedReceiver<crate::engine::ContainerEvent>,
    _task: AbortOnDrop,
}

impl ServiceEvents {
    /// Subscribes to `service` of `project`.
    pub fn subscribe(engine: &dyn Engine, project: &str, service: &str) -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0) - 1);
        let mut stream = engine.container_events(project, Some(since));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let service = service.to_string();
        let task = tokio::spawn(async move {
            while let Some(Ok(ev)) = stream.next().await {
                if ev.service == service && ev.role == Some(Role::Service) && tx.send(ev).is_err() {
                    return;
                }
            }
        });
        ServiceEvents {
            rx,
            _task: AbortOnDrop(task),
        }
    }

    /// The next event; `None` once the engine's stream ended.
    pub async fn recv(&mut self) -> Option<crate::engine::ContainerEvent> {
        self.rx.recv().await
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
    engine: &dyn Engine,
    id: &str,
    service: &str,
    printer: &Printer,
    from: From,
    timestamps: bool,
) {
    let mut after = None;
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
        From::After { since, after: a } => {
            after = Some(a);
            LogOptions {
                follow: true,
                tail: None,
                since: Some(since),
                timestamps: true,
            }
        }
    };
    // With `After`, lines carry the engine's timestamp: drop what was printed already, and the timestamp too
    // unless it was asked for.
    let print = |l: &str| match &after {
        None => printer.log(service, l),
        Some(a) => {
            let (ts, text) = crate::logs::split_timestamp(l);
            if a.as_deref()
                .is_some_and(|a| crate::logs::ts_key(ts) <= crate::logs::ts_key(a))
            {
                return;
            }
            printer.log(service, if timestamps { l } else { text });
        }
    };
    let mut stream = engine.logs(id, &opts);
    let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
    while let Some(Ok(chunk)) = stream.next().await {
        let splitter = if chunk.stderr { &mut err } else { &mut out };
        for l in splitter.push(&chunk.bytes) {
            print(&l);
        }
    }
    for l in [out.finish(), err.finish()].into_iter().flatten() {
        print(&l);
    }
}

/// Follows `service` (container `container`) until cancelled.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    engine: &Arc<dyn Engine>,
    project: &str,
    container: &str,
    service: &str,
    printer: &Printer,
    first: From,
    timestamps: bool,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (engine, project, container, service, printer) = (
        Arc::clone(engine),
        project.to_string(),
        container.to_string(),
        service.to_string(),
        printer.clone(),
    );
    tokio::spawn(async move {
        let mut events = ServiceEvents::subscribe(&*engine, &project, &service);
        let mut current = match engine.inspect_container(&container).await {
            Ok(Some(c)) if c.is_running() => Some(c.id),
            _ => None,
        };
        let mut from = first;
        let mut last_exit: Option<i64> = None;
        let mut died = false;
        'follow: loop {
            if let Some(id) = &current {
                tokio::select! {
                    () = follow_one(&*engine, id, &service, &printer, from.clone(), timestamps) => {}
                    () = cancel.cancelled() => return,
                }
            }
            // Wait for the next container of this service to start.
            let next = loop {
                let ev = tokio::select! {
                    ev = events.recv() => ev,
                    () = cancel.cancelled() => return,
                };
                let Some(ev) = ev else { return };
                if ev.action == EventAction::Die {
                    if current.as_deref() == Some(ev.id.as_str()) {
                        last_exit = ev.exit_code;
                        died = true;
                    }
                    continue;
                }
                if ev.action == EventAction::Start && current.as_deref() != Some(ev.id.as_str()) {
                    break ev.id;
                }
                if ev.action == EventAction::Start && died {
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
                        let l = &c.labels;
                        // A supervisor's restart carries its start time; a rebuild's container does not.
                        let restart = l
                            .contains_key(crate::labels::NEXT_START)
                            .then(|| crate::supervise::restarts_of(l));
                        (c.image.clone(), restart)
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
