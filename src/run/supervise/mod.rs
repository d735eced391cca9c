//! Keeping services alive while a foreground `up` runs: one supervisor task per service watches its container's
//! exit and its liveness probe and, as the service's `restart` policy says, replaces the container after a
//! kubelet-like backoff. Like a kubelet restart, the new container is created fresh from the same image and
//! configuration (named volumes keep the data); it carries its restart count and, while it waits out the backoff
//! (created, not started), the time it will start — so `ps` in any terminal can say
//! `crash-loop (next try in 8 s, 5 restarts)` with Docker as the only state.
//!
//! Every change to containers goes through the same lock as rebuilds and spec reloads, so a supervisor never
//! restarts a container that a rebuild is replacing: after taking the lock it looks again, and follows whatever
//! container now carries the service's name.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
// tokio's clock (the system's, unless paused): backoff and grace periods are then tested in virtual time.
use tokio::time::Instant;

use crate::engine::{Container, ContainerEvent, Engine, EventAction, State};
use crate::labels;
use crate::output::printer::Printer;
use crate::reconcile::{self, Action, Reason, RestartMark};
use crate::run::follow::Watched;
use crate::spec::{Backoff, Service, Spec};
use crate::{probe, probe::ready};

mod look;
use look::{Look, changed, found_stopped, look};

/// The spec as the foreground loop currently knows it (replaced on a valid spec edit).
pub type SharedSpec = Arc<std::sync::RwLock<Arc<Spec>>>;

/// What a supervisor needs.
#[derive(Clone)]
pub struct Supervisor {
    /// Engine.
    pub engine: Arc<dyn Engine>,
    /// Current spec.
    pub spec: SharedSpec,
    /// Terminal.
    pub printer: Printer,
    /// Held while containers are changed (rebuilds, reloads, restarts).
    pub lock: Arc<Mutex<()>>,
    /// The run's observable state.
    pub state: crate::run::state::RunState,
}

/// Why a container needs a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// It exited with this code.
    Exited {
        /// Exit code.
        code: i64,
        /// The kernel killed it for memory.
        oom: bool,
    },
    /// It stopped cleanly because the engine did (a daemon restart stops every container without a restart
    /// policy): not the service's trouble, so it is restored at once, with no backoff, unless its policy is "no".
    DiedWithEngine {
        /// Exit code.
        code: i64,
    },
    /// Its liveness probe failed this many times in a row; the last failure.
    Unhealthy {
        /// Consecutive failures.
        failures: u32,
        /// Last probe error.
        last: String,
    },
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Exited { code, oom: true } => {
                write!(f, "exited with code {code} (OOM-killed)")
            }
            Trouble::Exited { code, oom: false } => write!(f, "exited with code {code}"),
            Trouble::DiedWithEngine { code } => {
                write!(f, "stopped with the engine (exit code {code})")
            }
            Trouble::Unhealthy { failures, last } => {
                write!(
                    f,
                    "liveness failed {failures} times in a row (last: {last})"
                )
            }
        }
    }
}

/// The restart number of the next restart and the delay before it: the count starts over when the container
/// ran for `reset_after` without trouble.
pub fn next_restart(previous: u32, ran_for: Duration, b: &Backoff) -> (u32, Duration) {
    let n = if ran_for >= b.reset_after {
        1
    } else {
        previous + 1
    };
    (n, b.delay(n))
}

fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A delay as people read it: `100 ms`, `2 s`, `1.6 s`.
fn delay_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    }
}

/// `ps`'s state for a container of ours that a supervisor is backing off, from its labels: `None` unless the
/// container is created-not-started with a next-start time.
pub fn crash_loop_state(
    state: State,
    container_labels: &HashMap<String, String>,
    now: SystemTime,
) -> Option<String> {
    if state != State::Created {
        return None;
    }
    let at: u64 = container_labels.get(labels::NEXT_START)?.parse().ok()?;
    let restarts = labels::restarts_of(container_labels);
    let left = Duration::from_millis(at.saturating_sub(unix_millis(now)));
    Some(format!(
        "crash-loop (next try in {} s, {restarts} restart{})",
        left.as_millis().div_ceil(1000),
        if restarts == 1 { "" } else { "s" }
    ))
}

/// The id of the service's container if it is running.
async fn running_id(engine: &dyn Engine, container: &str) -> Option<String> {
    match engine.inspect_container(container).await {
        Ok(Some(c)) if c.is_running() => Some(c.id),
        _ => None,
    }
}

/// Whether a `start` event is about the container that now carries the service's name and runs: events are
/// replayed from a second before the subscription, so a start may be of a container that already died.
async fn started_and_current(engine: &dyn Engine, container: &str, ev: &ContainerEvent) -> bool {
    running_id(engine, container).await.as_deref() == Some(ev.id.as_str())
}

/// Whether the kernel killed the container for memory. The engine may learn it a moment after the exit, so an
/// exit by SIGKILL is looked at again for up to about a second, but not past `deadline` (the restart's start
/// time: the announced delay is kept).
async fn oom_killed(engine: &dyn Engine, id: &str, code: i64, deadline: Option<Instant>) -> bool {
    let mut delay = Duration::from_millis(20);
    loop {
        let oom = engine
            .inspect_container(id)
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.oom_killed());
        let past_deadline = deadline.is_some_and(|d| Instant::now() + delay >= d);
        if oom || code != 137 || delay > Duration::from_millis(640) || past_deadline {
            return oom;
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

/// Fails once the liveness probe failed `failure_threshold` times in a row; never returns without a probe.
async fn liveness(engine: &dyn Engine, spec: &Spec, svc: &Service) -> Trouble {
    let Some(p) = &svc.liveness else {
        return std::future::pending().await;
    };
    let container = spec.container_name(&svc.name);
    tokio::time::sleep(p.start_grace).await;
    let Ok(resolve) = ready::port_resolver(engine, spec, svc).await else {
        return std::future::pending().await;
    };
    let mut failures = 0;
    loop {
        tokio::time::sleep(p.period).await;
        match probe::check_once(engine, &container, &p.check, &resolve, p.timeout).await {
            Ok(()) => failures = 0,
            Err(last) => {
                failures += 1;
                if failures >= p.failure_threshold {
                    return Trouble::Unhealthy { failures, last };
                }
            }
        }
    }
}

/// Shows readiness changes of a running service (a dependency that stops answering is visible); never restarts
/// anything and never returns.
async fn readiness_watch(engine: &dyn Engine, spec: &Spec, svc: &Service, printer: &Printer) {
    let Some(p) = &svc.readiness else {
        return std::future::pending().await;
    };
    let container = spec.container_name(&svc.name);
    let Ok(resolve) = ready::port_resolver(engine, spec, svc).await else {
        return std::future::pending().await;
    };
    // Readiness was just established; re-checking it at a calm pace is enough to notice a loss.
    let period = p.period.max(Duration::from_secs(10));
    let mut ready = true;
    loop {
        tokio::time::sleep(period).await;
        let now = probe::check_once(engine, &container, &p.check, &resolve, p.timeout).await;
        match (&now, ready) {
            (Err(e), true) => {
                let dependents: Vec<&str> = spec
                    .services
                    .values()
                    .filter(|s| s.depends_on.contains(&svc.name))
                    .map(|s| s.name.as_str())
                    .collect();
                let note = if dependents.is_empty() {
                    String::new()
                } else {
                    format!("; {} keep running", dependents.join(", "))
                };
                printer.event(&svc.name, &format!("not ready: {e}{note}"));
            }
            (Ok(()), false) => printer.event(&svc.name, "ready again"),
            _ => {}
        }
        ready = now.is_ok();
    }
}

impl Supervisor {
    fn current_spec(&self) -> Option<Arc<Spec>> {
        self.spec.read().ok().map(|g| Arc::clone(&g))
    }

    /// Supervises `service` until `cancel` is cancelled. It is looked at wherever the supervisor waits outside
    /// the container lock; a replacement under the lock completes first, so whoever takes the lock next (the
    /// shutdown) sees the container it made.
    pub async fn run(self, service: String, cancel: CancellationToken) {
        // Waits for `$f` unless cancelled, in which case the supervisor ends here.
        macro_rules! until_cancelled {
            ($f:expr) => {
                match crate::run::tasks::unless_cancelled(&cancel, $f).await {
                    Some(v) => v,
                    None => return,
                }
            };
        }
        let Some(spec) = self.current_spec() else {
            return;
        };
        let mut events = crate::run::follow::ServiceEvents::subscribe(
            &self.engine,
            &spec.project,
            &service,
            &self.printer,
        );
        // Probes through an engine that is gone would fail for the engine's sake, not the service's: while the
        // connection is lost only events are awaited.
        let mut engine_up = true;
        // A container that already stopped (a quick crash right after start-up) is trouble at once.
        let (mut current, mut early) = match until_cancelled!(
            self.engine
                .inspect_container(&spec.container_name(&service))
        ) {
            Ok(Some(c)) => {
                let early = match c.state {
                    State::Exited { code, .. } => Some(Trouble::Exited { code, oom: false }),
                    _ => None,
                };
                let watched = c.is_running() || early.is_some();
                (watched.then_some(c.id), early)
            }
            _ => (None, None),
        };
        let mut since = Instant::now();
        // An outage of the engine came since the followed container started: a death found by a look is the
        // engine's (its events are gone with a restarted daemon).
        let mut outage = false;
        // A stopped container whose trouble was reported and that stays as it is (its policy said no restart).
        let mut settled: Option<String> = None;
        loop {
            let Some(spec) = self.current_spec() else {
                return;
            };
            let Some(svc) = spec.services.get(&service) else {
                return;
            };
            let container = spec.container_name(&service);
            let Some(id) = current.clone() else {
                // Nothing followed: wait for the next container of the service (a rebuild, `up` elsewhere), or
                // one found stopped that nobody dealt with (its death went by in an outage).
                let next = self.next_container(
                    &mut events,
                    &container,
                    &mut engine_up,
                    &mut outage,
                    settled.as_deref(),
                );
                let Some((next, trouble)) = until_cancelled!(next) else {
                    return;
                };
                if trouble.is_none() {
                    outage = false;
                }
                (current, early, since) = (Some(next), trouble, Instant::now());
                continue;
            };

            let trouble = if let Some(t) = early.take() {
                t
            } else {
                let probing = async {
                    if !engine_up {
                        return std::future::pending().await;
                    }
                    tokio::select! {
                        t = liveness(&*self.engine, &spec, svc) => Some(t),
                        () = readiness_watch(&*self.engine, &spec, svc, &self.printer) => None,
                    }
                };
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    t = probing => match t {
                        Some(t) => t,
                        None => continue,
                    },
                    found = changed(&*self.engine, &container, Some(&id)) => {
                        match found {
                            Look::Exited { id: stopped, code, oom } => {
                                early = Some(found_stopped(code, oom, outage));
                                current = Some(stopped);
                            }
                            Look::Running(other) => {
                                (current, since, outage) = (Some(other), Instant::now(), false);
                            }
                            Look::Gone => current = None,
                            Look::Unknown => {}
                        }
                        continue;
                    },
                    ev = events.recv() => {
                        let ev = match ev {
                            None => return,
                            Some(Watched::Event(ev)) => ev,
                            Some(Watched::Lost { .. }) => {
                                (engine_up, outage) = (false, true);
                                continue;
                            }
                            Some(Watched::Back) => {
                                engine_up = true;
                                // Re-observe by name: what died or replaced it meanwhile is also replayed as
                                // events, but a look now does not depend on how much the engine kept.
                                match self.engine.inspect_container(&container).await {
                                    Ok(Some(c)) if c.id == id => {
                                        if let State::Exited { code, oom } = c.state {
                                            early = Some(found_stopped(code, oom, outage));
                                        }
                                        continue;
                                    }
                                    Ok(Some(c)) if c.is_running() => {
                                        current = Some(c.id);
                                        since = Instant::now();
                                        continue;
                                    }
                                    // Removed meanwhile (a `down`, another terminal): wait for the next one.
                                    Ok(None) => {
                                        current = None;
                                        continue;
                                    }
                                    _ => continue,
                                }
                            }
                        };
                        match ev.action {
                            EventAction::Die if ev.id == id => Trouble::Exited { code: ev.exit_code.unwrap_or(-1), oom: false },
                            EventAction::Start if ev.id != id && started_and_current(&*self.engine, &container, &ev).await => {
                                // Replaced by someone else (a rebuild from another terminal, `up`).
                                current = Some(ev.id);
                                since = Instant::now();
                                continue;
                            }
                            _ => continue,
                        }
                    }
                }
            };

            // How long it ran, measured now: waiting for the lock (a long build) must not look like calm.
            let ran_for = since.elapsed();
            // The announced delay counts from here, the exit (or failed probe): the look, the OOM check and the
            // recreate below happen within it, not before it.
            let exited_at = Instant::now();
            let guard = until_cancelled!(self.lock.lock());
            // Look again: while we waited for the lock, a rebuild or a reload may have replaced the container.
            let Ok(Some(info)) = self.engine.inspect_container(&container).await else {
                current = None;
                continue;
            };
            let running = info.is_running();
            if info.id != id {
                // Replaced meanwhile. A replacement that has exited already (a spec edit that makes it crash at
                // start, while the reload still held the lock) is the service's trouble now: its start event
                // went by while this one waited, and no other is coming.
                current = match info.state {
                    _ if running => Some(info.id.clone()),
                    State::Exited { code, .. } => {
                        early = Some(Trouble::Exited { code, oom: false });
                        Some(info.id.clone())
                    }
                    _ => None,
                };
                since = Instant::now();
                continue;
            }
            if running && matches!(trouble, Trouble::Exited { .. }) {
                // The same container runs again: restarted in place (a live update's restart), not a crash.
                since = Instant::now();
                continue;
            }
            let restart = !self.state.held(&service)
                && match &trouble {
                    Trouble::Exited { code, .. } => svc.restart.restarts_exit(*code),
                    Trouble::DiedWithEngine { .. } | Trouble::Unhealthy { .. } => {
                        svc.restart != crate::spec::RestartPolicy::No
                    }
                };
            let old_labels = info.labels.clone();
            let restored = matches!(trouble, Trouble::DiedWithEngine { .. });
            let (n, delay) = if restored {
                (labels::restarts_of(&old_labels), Duration::ZERO)
            } else {
                next_restart(labels::restarts_of(&old_labels), ran_for, &svc.backoff)
            };
            let trouble = match trouble {
                Trouble::Exited { code, .. } => Trouble::Exited {
                    code,
                    oom: oom_killed(
                        &*self.engine,
                        &id,
                        code,
                        restart.then_some(exited_at + delay),
                    )
                    .await,
                },
                t @ (Trouble::Unhealthy { .. } | Trouble::DiedWithEngine { .. }) => t,
            };
            if !restart {
                self.not_restarted(&service, svc, &trouble);
                settled = Some(id.clone());
                current = None;
                drop(guard);
                continue;
            }
            self.said_restarting(&service, &trouble, restored, n, (delay, exited_at + delay));
            // Create (not started), wait out the backoff, start; a failed create or start is tried again after
            // the next step of the backoff, unless another terminal put its own container under the name.
            let (mut n, mut start_at, mut guard) = (n, exited_at + delay, guard);
            let started: std::result::Result<String, Option<String>> = loop {
                let failed = match self
                    .recreate(&spec, svc, &info, &old_labels, n, start_at)
                    .await
                {
                    Ok(new_id) => {
                        drop(guard);
                        until_cancelled!(tokio::time::sleep_until(start_at));
                        guard = until_cancelled!(self.lock.lock());
                        match self.engine.inspect_container(&container).await {
                            Ok(Some(c)) if c.id == new_id => {
                                match self.start(&spec, &service, &new_id, n).await {
                                    Ok(()) => break Ok(new_id),
                                    Err(e) => {
                                        let _ = self.engine.remove_container(&new_id).await;
                                        e.to_string()
                                    }
                                }
                            }
                            // Replaced or removed meanwhile: follow what is there.
                            _ => break Err(running_id(&*self.engine, &container).await),
                        }
                    }
                    Err(e) => {
                        if let Some(other) = running_id(&*self.engine, &container).await {
                            break Err(Some(other));
                        }
                        e.to_string()
                    }
                };
                n += 1;
                let delay = svc.backoff.delay(n);
                start_at = Instant::now() + delay;
                self.printer.event(
                    &service,
                    &format!(
                        "restart failed: {failed}; trying again in {} (restart {n})",
                        delay_text(delay)
                    ),
                );
                self.state.restarting(&service, n, start_at);
            };
            (since, outage) = (Instant::now(), false);
            match started {
                Ok(new_id) => current = Some(new_id),
                Err(other) => {
                    current = other;
                    drop(guard);
                    continue;
                }
            }
            drop(guard);
            until_cancelled!(self.restarted(&spec, svc, restored, n));
        }
    }

    /// Says why `service`'s container stays as it is: stopped by `pinshare-dev stop`, or its policy.
    fn not_restarted(&self, service: &str, svc: &Service, trouble: &Trouble) {
        // Stopped by `pinshare-dev stop`, which said so.
        if self.state.held(service) {
            self.state.hold(service, true);
            return;
        }
        let text = format!(
            "{trouble}; not restarted (restart = \"{}\")",
            svc.restart.as_str()
        );
        self.printer.event(service, &text);
        let reason = trouble.to_string();
        self.state
            .set(service, crate::run::state::Phase::Failed { reason });
    }

    /// Says that `service` is restored or restarted (restart `n`) after `delay`, at `at`.
    fn said_restarting(
        &self,
        service: &str,
        trouble: &Trouble,
        restored: bool,
        n: u32,
        (delay, at): (Duration, Instant),
    ) {
        let text = if restored {
            format!("{trouble}; restoring it")
        } else {
            format!(
                "{trouble}; restarting in {} (restart {n})",
                delay_text(delay)
            )
        };
        self.printer.event(service, &text);
        self.state.restarting(service, n, at);
    }

    /// The restarted container runs: says so, and when it is ready.
    async fn restarted(&self, spec: &Spec, svc: &Service, restored: bool, n: u32) {
        let service = &svc.name;
        let done = if restored {
            "restored after the engine came back".to_string()
        } else {
            format!("restarted (restart {n})")
        };
        if svc.readiness.is_none() {
            self.printer.event(service, &done);
            self.state.ready(service, None);
            return;
        }
        let t = Instant::now();
        let since = t;
        self.state
            .set(service, crate::run::state::Phase::Starting { since });
        match ready::wait_ready(&*self.engine, spec, svc).await {
            Ok(()) => {
                let text = format!("{done}; ready in {} ms", t.elapsed().as_millis());
                self.printer.event(service, &text);
                self.state.ready(service, None);
            }
            Err(e) => self.printer.event(service, &format!("{done}; {e}")),
        }
    }

    /// While no container of the service is followed: the next one that starts (its start event, or a look
    /// once the engine is back and every [`RESYNC`]), or one found stopped that nobody dealt with yet (not
    /// `settled`), with its trouble. None once the subscription is gone.
    async fn next_container(
        &self,
        events: &mut crate::run::follow::ServiceEvents,
        container: &str,
        engine_up: &mut bool,
        outage: &mut bool,
        settled: Option<&str>,
    ) -> Option<(String, Option<Trouble>)> {
        loop {
            let found = tokio::select! {
                w = events.recv() => match w? {
                    Watched::Event(ev) => {
                        if ev.action == EventAction::Start
                            && started_and_current(&*self.engine, container, &ev).await
                        {
                            return Some((ev.id, None));
                        }
                        continue;
                    }
                    Watched::Lost { .. } => {
                        (*engine_up, *outage) = (false, true);
                        continue;
                    }
                    Watched::Back => {
                        *engine_up = true;
                        look(&*self.engine, container).await
                    }
                },
                l = changed(&*self.engine, container, None) => l,
            };
            match found {
                Look::Running(id) => return Some((id, None)),
                Look::Exited { id, code, oom } if Some(id.as_str()) != settled => {
                    return Some((id, Some(found_stopped(code, oom, *outage))));
                }
                _ => {}
            }
        }
    }

    /// Replaces the troubled container by a new, not yet started one with the same image and configuration,
    /// labelled with its restart number and the time it will start (`start_at`).
    async fn recreate(
        &self,
        spec: &Spec,
        svc: &Service,
        old: &Container,
        old_labels: &HashMap<String, String>,
        n: u32,
        start_at: Instant,
    ) -> crate::error::Result<String> {
        // By id, not by name: if another terminal (`rebuild`, `up`) replaced the container meanwhile, its new
        // one is left alone and the create below fails on the name instead.
        let old_id = if old.id.is_empty() {
            spec.container_name(&svc.name)
        } else {
            old.id.clone()
        };
        let hash = old_labels
            .get(labels::CONFIG_HASH)
            .cloned()
            .unwrap_or_default();
        let mark = RestartMark {
            n,
            start_at_unix_ms: unix_millis(
                SystemTime::now() + start_at.saturating_duration_since(Instant::now()),
            ),
        };
        let actions = reconcile::plan_restart(
            spec,
            svc,
            &old_id,
            old.is_paused(),
            &hash,
            old_labels.get(labels::CONTEXT_HASH).map(String::as_str),
            mark,
        );
        let applied = reconcile::apply(&*self.engine, spec, &actions, &self.printer).await?;
        applied.created.last().cloned().ok_or_else(|| {
            crate::error::Error::Runtime(format!("{}: restart created nothing", svc.name))
        })
    }

    /// Starts the container a restart created, once its backoff is over.
    async fn start(
        &self,
        spec: &Spec,
        service: &str,
        id: &str,
        n: u32,
    ) -> crate::error::Result<()> {
        let start = [Action::Start {
            service: service.to_string(),
            container: id.to_string(),
            reason: Reason::Restart(n),
        }];
        reconcile::apply(&*self.engine, spec, &start, &self.printer).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
