//! The supervisor's decisions, without an engine: a typed phase per service, typed [`Input`]s in (what a look
//! found, die and start events, probe results, the engine lost or back, a timer, an engine call's result,
//! cancel) and [`Effect`]s out (look, lock, recreate, start, say, mark the run state). [`Sup::step`] is pure:
//! the driver in `mod.rs` carries out the effects (engine calls as child futures that report back as inputs)
//! and owns nothing else. Timers are data of the machine ([`Sup::deadline`]).
//!
//! Changes to containers happen under the run's container lock (shared with rebuilds and spec reloads): the
//! machine asks for it ([`Effect::Lock`]), looks again once it has it, and lets it go ([`Effect::Unlock`]) before
//! it waits out a backoff.

use std::time::Duration;

use tokio::time::Instant;

use super::Trouble;
use super::io::{Effect, Env, Input, Mark, Timer, next_restart};
use super::look::{Look, RESYNC, found_stopped};
pub use super::phase::{Decided, Phase, Restart, Verdict};
use crate::engine::{Container, State};
use crate::labels;
use crate::output::event::Supervise;
use crate::spec::RestartPolicy;

/// How long after a start cut short by the engine going away the same restart is tried again, unless the loss
/// is known by then (it then waits for the engine).
const AFTER_CUT: Duration = Duration::from_secs(1);

/// One service's supervision: its phase and what it knows of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sup {
    /// Where it is.
    pub phase: Phase,
    /// The engine connection is up (probes through a lost one would fail for the engine's sake).
    pub engine_up: bool,
    /// An outage of the engine came since the followed container started: a clean exit found by a look is the
    /// engine's doing (its events are gone with a restarted daemon).
    pub outage: bool,
    /// A stopped container whose trouble was reported and that stays as it is (its policy said no restart).
    pub settled: Option<String>,
    /// Counts the containers followed: a look or a probe of an earlier one is stale.
    pub epoch: u64,
    /// The next look by name, while a container is followed or awaited.
    pub resync_at: Option<Instant>,
    /// The lock is held.
    pub locked: bool,
    /// The run ends once the lock is let go.
    pub cancelled: bool,
    /// A death of the replacement being started, seen before its start was confirmed: dealt with after.
    pub early: Option<(String, Trouble)>,
    /// The engine is back and a look at the followed container is under way: a death during the outage is the
    /// look's to report (it tells a clean exit the engine caused, which a die event replayed after the outage
    /// cannot), so die events wait for it.
    pub relook: bool,
}

impl Sup {
    /// A supervision that begins with a look; the effects to carry out first.
    pub fn new() -> (Self, Vec<Effect>) {
        let sup = Sup {
            phase: Phase::Begin,
            engine_up: true,
            outage: false,
            settled: None,
            epoch: 0,
            resync_at: None,
            locked: false,
            cancelled: false,
            early: None,
            relook: false,
        };
        (sup, vec![Effect::Look(0)])
    }

    /// The next timer, if any.
    pub fn deadline(&self) -> Option<(Timer, Instant)> {
        match &self.phase {
            Phase::BackingOff(r, _, false) | Phase::Retrying(r, false) => {
                Some((Timer::StartAt, r.start_at))
            }
            Phase::Idle | Phase::Watching { .. } => self.resync_at.map(|t| (Timer::Resync, t)),
            _ => None,
        }
    }

    /// Handles `input` at `now`; what the driver is to do, in order.
    pub fn step(&mut self, input: Input, env: &Env, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Cancel if self.locked => self.cancelled = true,
            Input::Cancel => fx.push(Effect::Exit),
            Input::EngineLost => self.engine_lost(&mut fx),
            Input::EngineBack => self.engine_back(&mut fx),
            Input::Timer(t) => self.timer(t, &mut fx),
            Input::Looked { epoch, look } if epoch == self.epoch => {
                self.looked(look, now, &mut fx);
            }
            Input::Looked { .. } => {}
            Input::Died { id, code } => self.died(id, code, now, &mut fx),
            Input::Started { id } => self.started(&id, &mut fx),
            Input::Unhealthy {
                epoch,
                failures,
                last,
            } => {
                if let (true, Phase::Watching { id, since }) =
                    (epoch == self.epoch, self.phase.clone())
                {
                    let trouble = Trouble::Unhealthy { failures, last };
                    self.troubled(id, trouble, since, now, &mut fx);
                }
            }
            Input::NotReady { epoch, error } if self.probed(epoch) => {
                fx.push(Effect::Say(Supervise::NotReady {
                    error,
                    dependents: env.dependents.clone(),
                }));
            }
            Input::ReadyAgain { epoch } if self.probed(epoch) => {
                fx.push(Effect::Say(Supervise::ReadyAgain));
            }
            Input::NotReady { .. } | Input::ReadyAgain { .. } => {}
            Input::Locked => {
                self.locked = true;
                fx.push(Effect::Inspect);
            }
            Input::Inspected(found) => self.inspected(found, env, now, &mut fx),
            Input::OomChecked(oom) => self.oom_checked(oom, now, &mut fx),
            Input::Created(r) => self.created(r, &mut fx),
            Input::StartDone(r) => self.start_done(r, env, now, &mut fx),
            Input::StartCut(_) => self.start_cut(now, &mut fx),
            Input::InspectFailed => self.inspect_failed(env, now, &mut fx),
            Input::ReadyDone(r) => self.ready_done(r, now, &mut fx),
        }
        fx
    }

    /// Whether probe results of `epoch` are of the container followed now.
    fn probed(&self, epoch: u64) -> bool {
        epoch == self.epoch && matches!(self.phase, Phase::Watching { .. })
    }

    fn engine_lost(&mut self, fx: &mut Vec<Effect>) {
        (self.engine_up, self.outage) = (false, true);
        if matches!(self.phase, Phase::Watching { .. }) {
            fx.push(Effect::Probe(None));
        }
    }

    /// Re-observes by name: what died or replaced the container meanwhile may be replayed as events, but a look
    /// does not depend on how much the engine kept. A backoff that ended meanwhile starts now.
    fn engine_back(&mut self, fx: &mut Vec<Effect>) {
        self.engine_up = true;
        match &mut self.phase {
            Phase::Idle => fx.push(Effect::Look(self.epoch)),
            Phase::Watching { .. } => {
                self.relook = true;
                fx.push(Effect::Probe(Some(self.epoch)));
                fx.push(Effect::Look(self.epoch));
            }
            Phase::BackingOff(_, _, due @ true) | Phase::Retrying(_, due @ true) => {
                *due = false;
                self.timer(Timer::StartAt, fx);
            }
            _ => {}
        }
    }

    fn timer(&mut self, t: Timer, fx: &mut Vec<Effect>) {
        match (t, &mut self.phase) {
            (Timer::Resync, Phase::Idle | Phase::Watching { .. }) => {
                self.resync_at = None;
                fx.push(Effect::Look(self.epoch));
            }
            (Timer::StartAt, Phase::BackingOff(_, _, due) | Phase::Retrying(_, due))
                if !self.engine_up =>
            {
                *due = true;
            }
            (Timer::StartAt, Phase::Retrying(r, _)) => {
                self.phase = Phase::Recreating(r.clone());
                fx.push(Effect::Lock);
            }
            (Timer::StartAt, Phase::BackingOff(r, new, _)) => {
                self.phase = Phase::Launching(r.clone(), new.clone());
                fx.push(Effect::Lock);
            }
            _ => {}
        }
    }

    /// Follows `id`, running since `since`: probes it while the engine is up and looks by name every
    /// [`RESYNC`].
    fn follow(&mut self, id: String, since: Instant, now: Instant, fx: &mut Vec<Effect>) {
        self.epoch += 1;
        self.phase = Phase::Watching { id, since };
        self.resync_at = Some(now + RESYNC);
        fx.push(Effect::Probe(self.engine_up.then_some(self.epoch)));
    }

    fn idle(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::Watching { .. }) {
            fx.push(Effect::Probe(None));
        }
        self.epoch += 1;
        self.phase = Phase::Idle;
        self.resync_at = Some(now + RESYNC);
    }

    /// What a look by name found, while following a container, awaiting one, or at the beginning.
    fn looked(&mut self, look: Look, now: Instant, fx: &mut Vec<Effect>) {
        self.relook = false;
        let watching = match &self.phase {
            Phase::Begin | Phase::Idle => None,
            Phase::Watching { id, since } => Some((id.clone(), *since)),
            _ => return,
        };
        let begin = self.phase == Phase::Begin;
        match (look, watching) {
            (Look::Running(now_id), Some((id, _))) if now_id == id => {}
            (Look::Running(other), _) => {
                self.outage = false;
                self.follow(other, now, now, fx);
            }
            // Settled: reported, and kept as it is.
            (Look::Exited { id, .. }, None) if self.settled.as_ref() == Some(&id) => {}
            (Look::Exited { id, code, oom }, watching) => {
                let trouble = found_stopped(code, oom, self.outage);
                let since = watching.map_or(now, |(_, since)| since);
                self.troubled(id, trouble, since, now, fx);
            }
            (Look::Gone, Some(_)) => self.idle(now, fx),
            (Look::Gone | Look::Unknown, None) if begin => self.idle(now, fx),
            _ => {}
        }
        if matches!(self.phase, Phase::Idle | Phase::Watching { .. }) && self.resync_at.is_none() {
            self.resync_at = Some(now + RESYNC);
        }
    }

    fn died(&mut self, id: String, code: i64, now: Instant, fx: &mut Vec<Effect>) {
        let trouble = Trouble::Exited { code, oom: false };
        match &self.phase {
            Phase::Watching {
                id: followed,
                since,
            } if *followed == id && !self.relook => {
                let since = *since;
                self.troubled(id, trouble, since, now, fx);
            }
            Phase::Launching(_, new) | Phase::Readying { id: new, .. } if *new == id => {
                self.early = Some((id, trouble));
            }
            _ => {}
        }
    }

    /// A container of the service started: if it is not the one followed, a look says whether it now carries
    /// the name and runs (events are replayed from a second back: it may have died already).
    fn started(&mut self, id: &str, fx: &mut Vec<Effect>) {
        match &self.phase {
            Phase::Idle => fx.push(Effect::Look(self.epoch)),
            Phase::Watching { id: followed, .. } if followed != id => {
                fx.push(Effect::Look(self.epoch));
            }
            _ => {}
        }
    }

    /// Trouble with `id` (followed since `since`): take the lock and look again.
    fn troubled(
        &mut self,
        id: String,
        trouble: Trouble,
        since: Instant,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        if matches!(self.phase, Phase::Watching { .. }) {
            fx.push(Effect::Probe(None));
        }
        self.epoch += 1;
        self.resync_at = None;
        // How long it ran, measured now: waiting for the lock (a long build) must not look like calm. The
        // announced delay counts from now: the look, the OOM check and the recreate happen within it.
        let ran_for = now.saturating_duration_since(since);
        self.phase = Phase::Troubled {
            id,
            trouble,
            ran_for,
            at: now,
        };
        fx.push(Effect::Lock);
    }

    /// Lets the lock go (and ends, if the run was cancelled meanwhile).
    fn unlock(&mut self, fx: &mut Vec<Effect>) {
        self.locked = false;
        fx.push(Effect::Unlock);
        if self.cancelled {
            fx.push(Effect::Exit);
        }
    }

    fn inspected(
        &mut self,
        found: Option<Box<Container>>,
        env: &Env,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        if self.cancelled {
            return self.unlock(fx);
        }
        match self.phase.clone() {
            Phase::Troubled {
                id,
                trouble,
                ran_for,
                at,
            } => self.look_under_lock(found, (id, trouble, ran_for, at), env, now, fx),
            Phase::CreateFailed(r, error) => match found {
                Some(c) if c.is_running() => self.take_over(c.id, now, fx),
                _ => self.retry(r, error, env, now, fx),
            },
            Phase::Recreating(r) => match found {
                Some(c) if c.is_running() => self.take_over(c.id, now, fx),
                _ => self.create(r, fx),
            },
            Phase::Launching(r, new) => match found {
                Some(c) if c.id == new => {
                    fx.push(Effect::Start {
                        id: new.clone(),
                        n: r.n,
                    });
                    // Should the start fail, the next try replaces this container, which holds the name now.
                    self.phase = Phase::Launching(Restart { old: c, ..r }, new);
                }
                // Replaced or removed meanwhile: follow what is there.
                Some(c) if c.is_running() => self.take_over(c.id, now, fx),
                _ => {
                    self.unlock(fx);
                    self.outage = false;
                    self.idle(now, fx);
                }
            },
            _ => {}
        }
    }

    /// A look under the lock found another container running under the service's name (another terminal's, or
    /// a rebuild's that replaced ours meanwhile): the restart under way is given up and that one is followed.
    fn take_over(&mut self, id: String, now: Instant, fx: &mut Vec<Effect>) {
        self.unlock(fx);
        self.outage = false;
        self.follow(id, now, now, fx);
    }

    /// The look under the lock after trouble with `id`: replaced meanwhile, restarted in place, or to be
    /// restarted (or not) as the policy says.
    fn look_under_lock(
        &mut self,
        found: Option<Box<Container>>,
        (id, trouble, ran_for, at): (String, Trouble, Duration, Instant),
        env: &Env,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(c) = found else {
            self.unlock(fx);
            return self.idle(now, fx);
        };
        let running = c.is_running();
        if c.id != id {
            // Replaced meanwhile. A replacement that has exited already (a spec edit that makes it crash at
            // start, while the reload still held the lock) is the service's trouble now: its start event went
            // by while this one waited, and no other is coming.
            self.unlock(fx);
            return match c.state {
                _ if running => self.follow(c.id, now, now, fx),
                State::Exited { code, .. } => {
                    let trouble = Trouble::Exited { code, oom: false };
                    self.troubled(c.id, trouble, now, now, fx);
                }
                _ => self.idle(now, fx),
            };
        }
        if running && matches!(trouble, Trouble::Exited { .. }) {
            // The same container runs again: restarted in place (a live update's restart), not a crash.
            self.unlock(fx);
            return self.follow(id, now, now, fx);
        }
        let by_policy = match &trouble {
            Trouble::Exited { code, .. } => env.restart.restarts_exit(*code),
            Trouble::DiedWithEngine { .. } | Trouble::Unhealthy { .. } => {
                env.restart != RestartPolicy::No
            }
        };
        let verdict = match (env.held, by_policy) {
            (true, _) => Verdict::Held,
            (false, false) => Verdict::Policy(env.restart),
            (false, true) => Verdict::Restart,
        };
        let restarts = verdict == Verdict::Restart;
        let restored = matches!(trouble, Trouble::DiedWithEngine { .. });
        let previous = labels::restarts_of(&c.labels);
        let (n, delay) = if restored {
            (previous, Duration::ZERO)
        } else {
            next_restart(previous, ran_for, &env.backoff)
        };
        let restart = Restart {
            old: c,
            n,
            start_at: at + delay,
            restored,
        };
        let decided = Decided {
            restart,
            trouble,
            verdict,
            delay,
        };
        match decided.trouble {
            Trouble::Exited { code, .. } => {
                fx.push(Effect::CheckOom {
                    id,
                    code,
                    deadline: restarts.then_some(at + delay),
                });
                self.phase = Phase::CheckingOom(decided);
            }
            _ => self.decide(decided, now, fx),
        }
    }

    fn oom_checked(&mut self, oom: bool, now: Instant, fx: &mut Vec<Effect>) {
        let Phase::CheckingOom(mut d) = self.phase.clone() else {
            return;
        };
        if self.cancelled {
            return self.unlock(fx);
        }
        if let Trouble::Exited { code, .. } = d.trouble {
            d.trouble = Trouble::Exited { code, oom };
        }
        self.decide(d, now, fx);
    }

    /// Says what becomes of the trouble: kept as it is (held by `stop`, or its policy), or restarted.
    fn decide(&mut self, d: Decided, now: Instant, fx: &mut Vec<Effect>) {
        let Decided {
            restart,
            trouble,
            verdict,
            delay,
        } = d;
        let said = match verdict {
            // Stopped by `pinshare-dev stop`, which said so.
            Verdict::Held => Some(Effect::Mark(Mark::Held)),
            Verdict::Policy(policy) => {
                let reason = trouble.to_string();
                fx.push(Effect::Say(Supervise::NotRestarted {
                    trouble: trouble.clone(),
                    policy: policy.as_str(),
                }));
                Some(Effect::Mark(Mark::Failed(reason)))
            }
            Verdict::Restart => None,
        };
        if let Some(mark) = said {
            fx.push(mark);
            self.settled = Some(restart.old.id.clone());
            self.unlock(fx);
            return self.idle(now, fx);
        }
        fx.push(Effect::Say(Supervise::Restarting {
            trouble,
            restored: restart.restored,
            n: restart.n,
            delay,
        }));
        self.create(restart, fx);
    }

    /// Creates the replacement of restart `r` (under the lock).
    fn create(&mut self, r: Restart, fx: &mut Vec<Effect>) {
        fx.push(Effect::Mark(Mark::Restarting(r.n, r.start_at)));
        fx.push(Effect::Recreate {
            old: r.old.clone(),
            n: r.n,
            start_at: r.start_at,
        });
        self.phase = Phase::Creating(r);
    }

    fn created(&mut self, result: Result<String, String>, fx: &mut Vec<Effect>) {
        let Phase::Creating(r) = self.phase.clone() else {
            return;
        };
        match result {
            Ok(new) => {
                self.phase = Phase::BackingOff(r, new, false);
                self.unlock(fx);
            }
            // Tried again at the next step of the backoff, unless another terminal took the name.
            Err(e) if !self.cancelled => {
                self.phase = Phase::CreateFailed(r, e);
                fx.push(Effect::Inspect);
            }
            Err(_) => self.unlock(fx),
        }
    }

    /// A create or start of restart `r` failed with `error`: tried again, as the next restart, after the next
    /// step of the backoff, with the lock let go meanwhile ([`Phase::Retrying`]).
    fn retry(&mut self, r: Restart, error: String, env: &Env, now: Instant, fx: &mut Vec<Effect>) {
        let n = r.n + 1;
        let delay = env.backoff.delay(n);
        fx.push(Effect::Say(Supervise::RestartFailed { error, delay, n }));
        let r = Restart {
            n,
            start_at: now + delay,
            ..r
        };
        fx.push(Effect::Mark(Mark::Restarting(r.n, r.start_at)));
        self.phase = Phase::Retrying(r, false);
        self.unlock(fx);
    }

    fn start_done(
        &mut self,
        result: Result<(), String>,
        env: &Env,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Phase::Launching(r, new) = self.phase.clone() else {
            return;
        };
        match result {
            Ok(()) => {
                self.unlock(fx);
                if self.cancelled {
                    return;
                }
                self.outage = false;
                self.restarted(r, new, env, now, fx);
            }
            Err(_) if self.cancelled => self.unlock(fx),
            Err(e) => self.retry(r, e, env, now, fx),
        }
    }

    /// The start of restart `r` failed as the engine went away: not a failed restart (no new number, no "restart
    /// failed" line), so the same restart is tried again, in a new container (the one that failed to start may
    /// be gone once the engine is back), after [`AFTER_CUT`] — or, once the loss is known, when the engine is back.
    fn start_cut(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let Phase::Launching(r, _) = self.phase.clone() else {
            return;
        };
        if self.cancelled {
            return self.unlock(fx);
        }
        let r = Restart {
            start_at: now + AFTER_CUT,
            ..r
        };
        self.phase = Phase::Retrying(r, false);
        self.unlock(fx);
    }

    /// The look under the lock got no answer. Taken for "no container", it left a replacement that was about to
    /// start created and never started (nothing acts on a created container found by a look) and counted a
    /// create as failed: now the step is tried again, with the same restart, after [`AFTER_CUT`] — or, once the
    /// engine's loss is known, when it is back.
    fn inspect_failed(&mut self, env: &Env, now: Instant, fx: &mut Vec<Effect>) {
        if self.cancelled {
            return self.unlock(fx);
        }
        let later = |r: Restart| Restart {
            start_at: now + AFTER_CUT,
            ..r
        };
        match self.phase.clone() {
            Phase::Launching(r, new) => {
                self.phase = Phase::BackingOff(later(r), new, false);
                self.unlock(fx);
            }
            Phase::Recreating(r) | Phase::CreateFailed(r, _) => {
                self.phase = Phase::Retrying(later(r), false);
                self.unlock(fx);
            }
            // The next looks by name find the trouble again once the engine answers.
            Phase::Troubled { .. } => self.inspected(None, env, now, fx),
            _ => {}
        }
    }

    /// The replacement runs: says so, and when it is ready.
    fn restarted(&mut self, r: Restart, id: String, env: &Env, now: Instant, fx: &mut Vec<Effect>) {
        if !env.readiness {
            fx.push(Effect::Say(Supervise::Restarted {
                restored: r.restored,
                n: r.n,
                ready: None,
            }));
            fx.push(Effect::Mark(Mark::Ready));
            return self.watch_or_trouble(id, now, now, fx);
        }
        fx.push(Effect::Mark(Mark::Starting(now)));
        fx.push(Effect::WaitReady);
        self.epoch += 1;
        self.phase = Phase::Readying {
            restart: r,
            id,
            since: now,
        };
    }

    fn ready_done(&mut self, result: Result<Duration, String>, now: Instant, fx: &mut Vec<Effect>) {
        let Phase::Readying { restart, id, since } = self.phase.clone() else {
            return;
        };
        let ok = result.is_ok();
        fx.push(Effect::Say(Supervise::Restarted {
            restored: restart.restored,
            n: restart.n,
            ready: Some(result),
        }));
        if ok {
            fx.push(Effect::Mark(Mark::Ready));
        }
        self.watch_or_trouble(id, since, now, fx);
    }

    /// Follows the replacement `id`, or deals with its death if one was seen while it was being started.
    fn watch_or_trouble(&mut self, id: String, since: Instant, now: Instant, fx: &mut Vec<Effect>) {
        match self.early.take() {
            Some((dead, trouble)) if dead == id => {
                self.phase = Phase::Watching {
                    id: id.clone(),
                    since,
                };
                self.troubled(id, trouble, since, now, fx);
            }
            _ => self.follow(id, since, now, fx),
        }
    }
}
