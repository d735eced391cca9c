//! Keeping services alive while a foreground `up` runs: one supervisor per service watches its container's
//! exit and its liveness probe and, as the service's `restart` policy says, replaces the container after a
//! kubelet-like backoff. Like a kubelet restart, the new container is created fresh from the same image and
//! configuration (named volumes keep the data); it carries its restart count and, while it waits out the backoff
//! (created, not started), the time it will start — so `ps` in any terminal can say
//! `crash-loop (next try in 8 s, 5 restarts)` with Docker as the only state.
//!
//! The decisions are a pure machine (`machine.rs`: a typed phase, inputs in, effects out, timers as data); the
//! driver here feeds it what happens (events, looks, probe results, engine calls' results) and carries out what
//! it says, each engine call a child future that reports back. Every change to containers goes through the same
//! lock as rebuilds and spec reloads, so a supervisor never restarts a container that a rebuild is replacing:
//! after taking the lock it looks again, and follows whatever container now carries the service's name.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};
use tokio_util::sync::CancellationToken;
// tokio's clock (the system's, unless paused): backoff and grace periods are then tested in virtual time.
use tokio::time::Instant;

use crate::engine::{Container, Engine, EventAction, State};
use crate::labels;
use crate::output::printer::Printer;
use crate::reconcile::{self, Action, Reason, RestartMark};
use crate::run::follow::{ServiceEvents, Watched};
use crate::run::state::Phase;
use crate::spec::{Service, Spec};
use crate::{probe, probe::ready};

mod io;
mod look;
mod machine;
mod phase;
use io::{Effect, Env, Input, Mark, Timer};
use look::look;
use machine::Sup;
#[cfg(test)]
use {crate::output::event::delay_text, crate::spec::Backoff, io::next_restart};

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

/// Why a container needs a restart; said in the supervisor's lines, so it is one of the events' types.
pub use crate::output::event::Trouble;

fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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

/// Reports readiness changes of a running service (a dependency that stops answering is visible); never
/// restarts anything and never returns.
async fn readiness_watch(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    report: impl Fn(Option<String>),
) {
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
            (Err(e), true) => report(Some(e.to_string())),
            (Ok(()), false) => report(None),
            _ => {}
        }
        ready = now.is_ok();
    }
}

/// The probes of the container followed at `epoch`, reporting to the machine until aborted: liveness (once it
/// fails) and readiness changes.
async fn probes(
    engine: Arc<dyn Engine>,
    spec: Arc<Spec>,
    service: String,
    epoch: u64,
    tx: mpsc::UnboundedSender<Input>,
) {
    let Some(svc) = spec.services.get(&service) else {
        return;
    };
    let report = |error: Option<String>| {
        let _ = tx.send(match error {
            Some(error) => Input::NotReady { epoch, error },
            None => Input::ReadyAgain { epoch },
        });
    };
    tokio::select! {
        t = liveness(&*engine, &spec, svc) => {
            if let Trouble::Unhealthy { failures, last } = t {
                let _ = tx.send(Input::Unhealthy { epoch, failures, last });
            }
        }
        () = readiness_watch(&*engine, &spec, svc, report) => {}
    }
}

/// What a child future of the driver gives back.
enum Done {
    /// An input for the machine.
    Input(Input),
    /// The container lock, taken.
    Locked(OwnedMutexGuard<()>),
}

/// What woke the driver.
enum Woke {
    Cancel,
    Done(Done),
    Input(Input),
    Watched(Option<Watched>),
    Timer(Timer),
}

/// Carries out the machine's effects for one service: engine calls and the lock as child futures that report
/// back, the probes as a task, the messages and the run state at once.
struct Driver {
    sup: Supervisor,
    service: String,
    work: FuturesUnordered<BoxFuture<'static, Done>>,
    probes: Option<tokio::task::JoinHandle<()>>,
    probe_tx: mpsc::UnboundedSender<Input>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(p) = self.probes.take() {
            p.abort();
        }
    }
}

impl Driver {
    /// Runs `f` (given the supervisor and the current spec) as a child future reporting its input.
    fn child<F>(&mut self, f: impl FnOnce(Supervisor, Arc<Spec>, String) -> F)
    where
        F: std::future::Future<Output = Input> + Send + 'static,
    {
        let Some(spec) = self.sup.current_spec() else {
            return;
        };
        let fut = f(self.sup.clone(), spec, self.service.clone());
        self.work
            .push(Box::pin(async move { Done::Input(fut.await) }));
    }

    /// Carries out `effects` in order; false once the supervision ends.
    fn carry_out(&mut self, effects: Vec<Effect>) -> bool {
        for effect in effects {
            match effect {
                Effect::Exit => return false,
                Effect::Unlock => self.guard = None,
                Effect::Lock => {
                    let lock = Arc::clone(&self.sup.lock);
                    self.work.push(Box::pin(
                        async move { Done::Locked(lock.lock_owned().await) },
                    ));
                }
                Effect::Probe(epoch) => self.probe(epoch),
                Effect::Say(said) => self.sup.printer.say(&self.service, said),
                Effect::Mark(mark) => self.mark(mark),
                other => self.engine_call(other),
            }
        }
        true
    }

    fn probe(&mut self, epoch: Option<u64>) {
        if let Some(p) = self.probes.take() {
            p.abort();
        }
        let (Some(epoch), Some(spec)) = (epoch, self.sup.current_spec()) else {
            return;
        };
        let task = probes(
            Arc::clone(&self.sup.engine),
            spec,
            self.service.clone(),
            epoch,
            self.probe_tx.clone(),
        );
        self.probes = Some(tokio::spawn(task));
    }

    fn mark(&self, mark: Mark) {
        let (state, service) = (&self.sup.state, self.service.as_str());
        match mark {
            Mark::Failed(reason) => state.set(service, Phase::Failed { reason }),
            Mark::Held => state.hold(service, true),
            Mark::Restarting(n, at) => state.restarting(service, n, at),
            Mark::Starting(since) => state.set(service, Phase::Starting { since }),
            Mark::Ready => state.ready(service, None),
        }
    }

    /// An engine call as a child future.
    fn engine_call(&mut self, effect: Effect) {
        match effect {
            Effect::Look(epoch) => self.child(move |s, spec, svc| async move {
                let look = look(&*s.engine, &spec.container_name(&svc)).await;
                Input::Looked { epoch, look }
            }),
            Effect::Inspect => self.child(|s, spec, svc| async move {
                match s.engine.inspect_container(&spec.container_name(&svc)).await {
                    Ok(c) => Input::Inspected(c.map(Box::new)),
                    Err(_) => Input::InspectFailed,
                }
            }),
            Effect::CheckOom { id, code, deadline } => self.child(move |s, _, _| async move {
                Input::OomChecked(oom_killed(&*s.engine, &id, code, deadline).await)
            }),
            Effect::Recreate { old, n, start_at } => self.child(move |s, spec, svc| async move {
                let made = s.recreate(&spec, &svc, &old, n, start_at).await;
                Input::Created(made.map_err(|e| e.to_string()))
            }),
            Effect::Start { id, n } => self.child(move |s, spec, svc| async move {
                let started = s.start(&spec, &svc, &id, n).await;
                match started {
                    Err(e) if s.engine.version().await.is_err() => Input::StartCut(e.to_string()),
                    Err(e) => {
                        let _ = s.engine.remove_container(&id).await;
                        Input::StartDone(Err(e.to_string()))
                    }
                    Ok(()) => Input::StartDone(Ok(())),
                }
            }),
            Effect::WaitReady => self.child(|s, spec, svc| async move {
                let t = Instant::now();
                let ready = match spec.services.get(&svc) {
                    Some(svc) => ready::wait_ready(&*s.engine, &spec, svc).await,
                    None => Ok(()),
                };
                Input::ReadyDone(ready.map(|()| t.elapsed()).map_err(|e| e.to_string()))
            }),
            _ => {}
        }
    }
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The machine's input for what the service's event subscription says.
fn input_of(w: Watched) -> Input {
    match w {
        Watched::Event(ev) => match ev.action {
            EventAction::Die => Input::Died {
                id: ev.id,
                code: ev.exit_code.unwrap_or(-1),
            },
            EventAction::Start => Input::Started { id: ev.id },
        },
        Watched::Lost { .. } => Input::EngineLost,
        Watched::Back => Input::EngineBack,
    }
}

impl Supervisor {
    fn current_spec(&self) -> Option<Arc<Spec>> {
        self.spec.read().ok().map(|g| Arc::clone(&g))
    }

    /// What the machine needs to know of `service` now; None once it left the spec.
    fn env(&self, service: &str) -> Option<Env> {
        let spec = self.current_spec()?;
        let svc = spec.services.get(service)?;
        let dependents = spec
            .services
            .values()
            .filter(|s| s.depends_on.contains(&svc.name))
            .map(|s| s.name.clone())
            .collect();
        Some(Env {
            restart: svc.restart,
            backoff: svc.backoff,
            held: self.state.held(service),
            readiness: svc.readiness.is_some(),
            dependents,
        })
    }

    /// Supervises `service` until `cancel` is cancelled: feeds the machine ([`machine::Sup`]) what happens and
    /// carries out what it says. Cancelled while the container lock is held, the engine call under way completes
    /// first, so whoever takes the lock next (the shutdown) sees the container it made.
    pub async fn run(self, service: String, cancel: CancellationToken) {
        let Some(spec) = self.current_spec() else {
            return;
        };
        let mut events =
            ServiceEvents::subscribe(&self.engine, &spec.project, &service, &self.printer);
        let (probe_tx, mut probe_rx) = mpsc::unbounded_channel();
        let mut d = Driver {
            sup: self,
            service,
            work: FuturesUnordered::new(),
            probes: None,
            probe_tx,
            guard: None,
        };
        let (mut sup, first) = Sup::new();
        let mut cancel_seen = false;
        let mut effects = first;
        while d.carry_out(effects) {
            let deadline = sup.deadline();
            let woke = tokio::select! {
                biased;
                () = cancel.cancelled(), if !cancel_seen => Woke::Cancel,
                Some(done) = d.work.next() => Woke::Done(done),
                Some(i) = probe_rx.recv() => Woke::Input(i),
                w = events.recv() => Woke::Watched(w),
                () = sleep_until_some(deadline.map(|(_, at)| at)) => {
                    Woke::Timer(deadline.map_or(Timer::Resync, |(t, _)| t))
                }
            };
            let input = match woke {
                Woke::Cancel => {
                    cancel_seen = true;
                    Input::Cancel
                }
                Woke::Done(Done::Input(i)) | Woke::Input(i) => i,
                Woke::Done(Done::Locked(guard)) => {
                    d.guard = Some(guard);
                    Input::Locked
                }
                Woke::Watched(None) => return,
                Woke::Watched(Some(w)) => input_of(w),
                Woke::Timer(t) => Input::Timer(t),
            };
            let Some(env) = d.sup.env(&d.service) else {
                return;
            };
            effects = sup.step(input, &env, Instant::now());
        }
    }

    /// Replaces the troubled container by a new, not yet started one with the same image and configuration,
    /// labelled with its restart number and the time it will start (`start_at`).
    async fn recreate(
        &self,
        spec: &Spec,
        service: &str,
        old: &Container,
        n: u32,
        start_at: Instant,
    ) -> crate::error::Result<String> {
        let svc = spec.services.get(service).ok_or_else(|| {
            crate::error::Error::Runtime(format!("{service}: no longer in the spec"))
        })?;
        let old_labels = &old.labels;
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
mod machine_more_tests;
#[cfg(test)]
mod machine_tests;
#[cfg(test)]
mod tests;
