//! Following one service's output across container replacements: the follower subscribes to the project's
//! container events first, follows the current container, and when a new container of the service starts
//! (a rebuild here, `pinshare-dev rebuild` or `up` from another terminal) prints a marker and follows that one.

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::engine::{Engine, EventAction, Role};
use crate::output::printer::Printer;
use crate::run::attach::Feeds;
use crate::run::read::{From, Start, follow_one};

/// What a subscription delivers: an event, or the engine connection going away and coming back.
#[derive(Debug, Clone)]
pub enum Watched {
    /// A start or die of one of the service's containers.
    Event(crate::engine::ContainerEvent),
    /// The engine's event stream ended (a daemon restart, a lost socket); reconnecting.
    Lost {
        /// Unix seconds when it was noticed.
        at: i64,
    },
    /// The connection is back; what happened meanwhile is replayed as events after this.
    Back,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// One line per outage on the tool's own prefix, however many subscriptions (of the printer's run) notice it.
fn outage_began(printer: &Printer, why: &str) {
    let mut o = printer
        .outage()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if o.is_none() {
        *o = Some(std::time::Instant::now());
        let lost = crate::output::event::Life::EngineLost(why.to_string());
        printer.say(crate::output::printer::TOOL, lost);
    }
}

fn outage_ended(printer: &Printer) {
    let mut o = printer
        .outage()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(t) = o.take() {
        let back = crate::output::event::Life::EngineBack(t.elapsed());
        printer.say(crate::output::printer::TOOL, back);
    }
}

/// Start and die events of one service's long-running containers. The subscription replays from a second before
/// it was made, so a look taken just after it misses nothing; a task drains the engine's stream at once, so events
/// queue while the caller is busy (following output, waiting for a lock). When the engine's stream ends, it says
/// so ([`Watched::Lost`]), reconnects with backoff, and resubscribes from the last event it saw, so what happened
/// meanwhile (a container that died) is replayed after [`Watched::Back`].
/// Its task ends when the subscription is dropped (it watches its channel close), wherever it waits.
pub struct ServiceEvents {
    rx: tokio::sync::mpsc::UnboundedReceiver<Watched>,
}

impl ServiceEvents {
    /// Subscribes to `service` of `project`.
    pub fn subscribe(
        engine: &Arc<dyn Engine>,
        project: &str,
        service: &str,
        printer: &Printer,
    ) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (engine, project, service, printer) = (
            Arc::clone(engine),
            project.to_string(),
            service.to_string(),
            printer.clone(),
        );
        let closed = tx.clone();
        let task = async move {
            let mut since = unix_now() - 1;
            loop {
                let mut stream = engine.container_events(&project, Some(since));
                let why = loop {
                    match stream.next().await {
                        Some(Ok(ev)) => {
                            since = since.max(ev.time);
                            if ev.service == service
                                && ev.role == Some(Role::Service)
                                && tx.send(Watched::Event(ev)).is_err()
                            {
                                return;
                            }
                        }
                        Some(Err(e)) => break e.to_string(),
                        None => break "the event stream ended".to_string(),
                    }
                };
                outage_began(&printer, &why);
                if tx.send(Watched::Lost { at: unix_now() }).is_err() {
                    return;
                }
                let mut delay = std::time::Duration::from_millis(100);
                while engine.version().await.is_err() {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                }
                outage_ended(&printer);
                if tx.send(Watched::Back).is_err() {
                    return;
                }
            }
        };
        tokio::spawn(async move {
            tokio::select! {
                biased;
                () = closed.closed() => {}
                () = task => {}
            }
        });
        ServiceEvents { rx }
    }

    /// The next event or connection change; `None` only once the subscription is gone.
    pub async fn recv(&mut self) -> Option<Watched> {
        self.rx.recv().await
    }
}

/// How long a follower looks ahead for the die event of a container whose output has ended.
const LOOK_AHEAD: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a foreground follower may go on printing its container's output after it is cancelled.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The marker printed when a container is replaced: how the old one ended, and the image the new one runs
/// (each named for whose it is, so the image is not read as the one that exited).
pub fn replaced_marker(image_id: &str, exit: Option<i64>) -> String {
    let short = image_id.trim_start_matches("sha256:");
    let short = &short[..short.len().min(12)];
    let old = exit.map_or_else(
        || "old container's exit code unknown".to_string(),
        |c| format!("old container exited with code {c}"),
    );
    format!("— replaced: {old}; new one runs image sha256:{short}… —")
}

/// The marker printed when a supervisor restarted the service in a fresh container.
pub fn restarted_marker(restart: u32, exit: Option<i64>) -> String {
    let exit = exit.map_or_else(|| "exit ?".to_string(), |c| format!("exit {c}"));
    format!("— restarted (restart {restart}, {exit}) —")
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
    tokio::spawn(follower(
        engine, project, container, service, printer, first, timestamps, cancel, None,
    ))
}

/// Follows `service` for a foreground `up`, as a task of `tracker`: the containers the run starts come with
/// their live stream from `feeds`, attached before the start. Once `cancel` is cancelled it takes no new
/// container but prints the current one's output to its end, so what a container says while the shutdown stops
/// it is not cut off.
#[allow(clippy::too_many_arguments)]
pub fn spawn_tracked(
    tracker: &tokio_util::task::TaskTracker,
    engine: &Arc<dyn Engine>,
    spec: &crate::spec::Spec,
    service: &str,
    printer: &Printer,
    first: From,
    cancel: CancellationToken,
    feeds: &Feeds,
) {
    feeds.follow(service);
    tracker.spawn(follower(
        engine,
        &spec.project,
        &spec.container_name(service),
        service,
        printer,
        first,
        false,
        cancel,
        Some(feeds.clone()),
    ));
}

/// The task following `service`: it subscribes to the service's events first, then follows the container named
/// `container` if it runs, and each container of the service that starts after it.
#[allow(clippy::too_many_arguments)]
fn follower(
    engine: &Arc<dyn Engine>,
    project: &str,
    container: &str,
    service: &str,
    printer: &Printer,
    first: From,
    timestamps: bool,
    cancel: CancellationToken,
    feeds: Option<Feeds>,
) -> impl Future<Output = ()> + Send + 'static {
    let (engine, project, container, service, printer) = (
        Arc::clone(engine),
        project.to_string(),
        container.to_string(),
        service.to_string(),
        printer.clone(),
    );
    async move {
        let events = ServiceEvents::subscribe(&engine, &project, &service, &printer);
        let current = match engine.inspect_container(&container).await {
            Ok(Some(c)) if c.is_running() => Some(c.id),
            _ => None,
        };
        let follower = Follower {
            engine,
            service,
            printer,
            timestamps,
            cancel,
            feeds,
            events,
            current,
            from: first,
            last_exit: None,
            died: false,
            last_line: None,
            lost_at: None,
            pending: std::collections::VecDeque::new(),
            alongside: None,
        };
        follower.run().await;
    }
}

/// A follower of one service's output across its containers (see [`follower`]).
struct Follower {
    engine: Arc<dyn Engine>,
    service: String,
    printer: Printer,
    timestamps: bool,
    cancel: CancellationToken,
    /// The foreground run's live streams (and swaps' tasks printing a new container since its start).
    feeds: Option<Feeds>,
    events: ServiceEvents,
    /// The container followed now.
    current: Option<String>,
    /// Where its output is read from.
    from: From,
    /// Its exit code, once its die event came.
    last_exit: Option<i64>,
    /// Its die event came.
    died: bool,
    /// The last line of output printed.
    last_line: Option<String>,
    /// When the engine connection was lost (unix seconds), until it is back.
    lost_at: Option<i64>,
    /// Events read ahead (looking for a die), to be handled next.
    pending: std::collections::VecDeque<Watched>,
    /// The task printing the current container since its start (a swap's new container), if any.
    alongside: Option<tokio::task::JoinHandle<Option<String>>>,
}

/// What the wait for the next container ended with.
enum Next {
    /// Cancelled, or the subscription is gone: the follower ends.
    Stop,
    /// The current container is followed again, from [`Follower::from`].
    Again,
    /// This container of the service started: it is followed next.
    Started(String),
}

/// Completes [`DRAIN_LIMIT`] after `cancel` is cancelled.
async fn drain_limit_after(cancel: &CancellationToken) {
    cancel.cancelled().await;
    tokio::time::sleep(DRAIN_LIMIT).await;
}

impl Follower {
    /// Follows container after container until cancelled or the subscription is gone.
    async fn run(mut self) {
        loop {
            if !self.print_current().await {
                return;
            }
            match self.next_start().await {
                Next::Stop => return,
                Next::Again => {}
                Next::Started(next) => self.take_next(next).await,
            }
        }
    }

    /// Prints the current container's output until it ends (or the swap's task printing it ends); false when
    /// cancelled first.
    async fn print_current(&mut self) -> bool {
        let l = if let Some(task) = self.alongside.take() {
            tokio::select! {
                l = task => l.ok().flatten(),
                () = drain_limit_after(&self.cancel) => return false,
            }
        } else if let Some(id) = &self.current {
            let start = match self.feeds.as_ref().and_then(|f| f.take(id)) {
                Some(live) => Start::Attached(live),
                None => Start::From(self.from.clone()),
            };
            tracing::debug!(
                container = %id,
                attached = matches!(start, Start::Attached(_)),
                "following"
            );
            let one = follow_one(
                &*self.engine,
                id,
                &self.service,
                &self.printer,
                start,
                self.timestamps,
            );
            // The foreground run's follower prints a container's output to its end: the shutdown cancels
            // the followers once the containers are removed, so their streams are ending; past
            // DRAIN_LIMIT after that, whatever is still open is let go.
            if self.feeds.is_some() {
                tokio::select! {
                    l = one => l,
                    () = drain_limit_after(&self.cancel) => return false,
                }
            } else {
                tokio::select! {
                    l = one => l,
                    () = self.cancel.cancelled() => return false,
                }
            }
        } else {
            return true;
        };
        self.last_line = l.or(self.last_line.take());
        true
    }

    /// Waits for the next container of this service to start, handling the events and connection changes that
    /// come meanwhile.
    async fn next_start(&mut self) -> Next {
        loop {
            let ev = match self.pending.pop_front() {
                Some(ev) => Some(ev),
                None => tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => return Next::Stop,
                    ev = self.events.recv() => ev,
                },
            };
            let ev = match ev {
                None => return Next::Stop,
                Some(Watched::Event(ev)) => ev,
                Some(Watched::Lost { at }) => {
                    self.lost_at = Some(at);
                    let lost = "— engine connection lost: following resumes when it is back —";
                    self.printer.log(&self.service, lost).await;
                    continue;
                }
                Some(Watched::Back) => {
                    if self.still_running().await {
                        return Next::Again;
                    }
                    continue;
                }
            };
            if let Some(next) = self.on_event(ev).await {
                return next;
            }
        }
    }

    /// The engine connection is back: re-observes. The container still running is followed again from right after
    /// the last line printed (the engine kept what it wrote meanwhile): true. A replaced or stopped one is told by
    /// the events replayed next.
    async fn still_running(&mut self) -> bool {
        let Some(at) = self.lost_at.take() else {
            return false;
        };
        if let Some(id) = &self.current
            && let Ok(Some(c)) = self.engine.inspect_container(id).await
            && c.is_running()
        {
            let back = "— engine connection back: output of the gap follows —";
            self.printer.log(&self.service, back).await;
            // A line's second is enough to ask from; its full timestamp drops what was printed.
            self.from = From::After {
                since: at - 60,
                after: self.last_line.clone(),
            };
            return true;
        }
        false
    }

    /// What a start or die event of the service means: `None` while the wait goes on.
    async fn on_event(&mut self, ev: crate::engine::ContainerEvent) -> Option<Next> {
        if ev.action == EventAction::Die {
            if self.current.as_deref() == Some(ev.id.as_str()) {
                self.last_exit = ev.exit_code;
                self.died = true;
            }
            return None;
        }
        if ev.action == EventAction::Start && self.current.as_deref() != Some(ev.id.as_str()) {
            // A start-first swap started the next container before the current one died: its output has ended,
            // so its die event is on the way; look ahead for its exit code (what comes meanwhile is handled
            // after).
            if let Some(id) = self.current.as_deref()
                && !self.died
                && let Some(code) =
                    look_ahead_for_die(&mut self.events, &mut self.pending, id).await
            {
                self.last_exit = code;
            }
            return Some(Next::Started(ev.id));
        }
        if ev.action == EventAction::Start && self.died {
            // The same container started again (restarted in place): its new output only.
            let exit = self
                .last_exit
                .map_or_else(|| "?".to_string(), |c| c.to_string());
            let restarted = format!("— restarted in place (exit {exit}) —");
            self.printer.log(&self.service, &restarted).await;
            self.last_exit = None;
            self.died = false;
            self.from = From::Since(ev.time);
            return Some(Next::Again);
        }
        None
    }

    /// Follows `next` from now on; a replacement is marked, unless it is a swap's new container (its output has
    /// been printed since its start, and the swap said so).
    async fn take_next(&mut self, next: String) {
        self.alongside = self.feeds.as_ref().and_then(|f| f.take_alongside(&next));
        if self.current.is_some() && self.alongside.is_none() {
            let marker = marker_of(&*self.engine, &next, self.last_exit).await;
            self.printer.log(&self.service, &marker).await;
        }
        self.current = Some(next);
        self.last_exit = None;
        self.died = false;
        self.from = From::Tail(None);
    }
}

/// Reads events for up to [`LOOK_AHEAD`], keeping them in `pending`, until the die event of container `id`;
/// returns its exit code, if it came.
async fn look_ahead_for_die(
    events: &mut ServiceEvents,
    pending: &mut std::collections::VecDeque<Watched>,
    id: &str,
) -> Option<Option<i64>> {
    let deadline = tokio::time::Instant::now() + LOOK_AHEAD;
    while let Ok(Some(w)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let exit = match &w {
            Watched::Event(e) if e.action == EventAction::Die && e.id == id => Some(e.exit_code),
            _ => None,
        };
        pending.push_back(w);
        if exit.is_some() {
            return exit;
        }
    }
    None
}

/// The marker of container `next` replacing the one that exited with `last_exit`: a supervisor's restart, or a
/// new container (of the image it runs).
async fn marker_of(engine: &dyn Engine, next: &str, last_exit: Option<i64>) -> String {
    let (image, restarts) = match engine.inspect_container(next).await {
        Ok(Some(c)) => {
            let l = &c.labels;
            // A supervisor's restart carries its start time; a rebuild's container does not.
            let restart = l
                .contains_key(crate::labels::NEXT_START)
                .then(|| crate::labels::restarts_of(l));
            (c.image.clone(), restart)
        }
        _ => (String::new(), None),
    };
    match restarts {
        Some(n) => restarted_marker(n, last_exit),
        None => replaced_marker(&image, last_exit),
    }
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
    fn marker_says_the_exit_code_is_the_old_containers_and_the_image_the_new_ones() {
        assert_eq!(
            replaced_marker("sha256:0123456789abcdef0123", Some(137)),
            "— replaced: old container exited with code 137; new one runs image sha256:0123456789ab… —"
        );
        assert_eq!(
            replaced_marker("", None),
            "— replaced: old container's exit code unknown; new one runs image sha256:… —"
        );
    }
}
