//! What goes into the supervisor's machine and what comes out of it: typed inputs (what a look found, events,
//! probe results, the engine lost or back, a timer, an engine call's result, cancel), effects for the driver to
//! carry out, and the typed lines it says.

use std::time::Duration;

use tokio::time::Instant;

use super::look::Look;
use crate::engine::Container;
use crate::output::event::Supervise;
use crate::spec::{Backoff, RestartPolicy};
/// What the machine needs to know of the service's spec and of the run, read afresh for every input (a spec
/// reload may change it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The restart policy.
    pub restart: RestartPolicy,
    /// The backoff schedule.
    pub backoff: Backoff,
    /// Stopped by `pinshare-dev stop`.
    pub held: bool,
    /// It has a readiness probe.
    pub readiness: bool,
    /// The services that depend on it (named when it stops being ready).
    pub dependents: Vec<String>,
}

/// What happened, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A look by name, asked for while `epoch` was followed, found this.
    Looked {
        /// The epoch of the look.
        epoch: u64,
        /// What it found.
        look: Look,
    },
    /// A die event.
    Died {
        /// Container id.
        id: String,
        /// Exit code (-1 unknown).
        code: i64,
    },
    /// A start event.
    Started {
        /// Container id.
        id: String,
    },
    /// The liveness probe of `epoch` failed (a [`Trouble::Unhealthy`]).
    Unhealthy {
        /// The epoch probed.
        epoch: u64,
        /// Consecutive failures.
        failures: u32,
        /// Last error.
        last: String,
    },
    /// The readiness probe of `epoch` stopped passing.
    NotReady {
        /// The epoch probed.
        epoch: u64,
        /// Its error.
        error: String,
    },
    /// The readiness probe of `epoch` passes again.
    ReadyAgain {
        /// The epoch probed.
        epoch: u64,
    },
    /// The engine connection is lost.
    EngineLost,
    /// The engine connection is back.
    EngineBack,
    /// A timer of [`Sup::deadline`] fired.
    Timer(Timer),
    /// The container lock is held.
    Locked,
    /// A look under the lock found this container (or none).
    Inspected(Option<Box<Container>>),
    /// The look under the lock got no answer (the engine went away): nothing is known, so nothing is decided.
    InspectFailed,
    /// Whether the kernel killed it for memory.
    OomChecked(bool),
    /// Creating the replacement gave this id, or failed.
    Created(Result<String, String>),
    /// Starting the replacement worked, or failed (the driver removed it then).
    StartDone(Result<(), String>),
    /// Starting the replacement failed with this error and the engine did not answer after it: the engine went
    /// away, which is not the service's failure (the driver left the container as it was).
    StartCut(String),
    /// Waiting for the restarted container to be ready ended (in so much time, or with this error).
    ReadyDone(Result<Duration, String>),
    /// The run ends.
    Cancel,
}

/// The machine's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Time for a look by name (level-triggered: a death whose event went by is found).
    Resync,
    /// A backoff is over.
    StartAt,
}

/// What the driver is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Look at the service's container by name; report [`Input::Looked`] with this epoch.
    Look(u64),
    /// Run the probes of the container of this epoch (replacing any), or none.
    Probe(Option<u64>),
    /// Take the container lock; report [`Input::Locked`].
    Lock,
    /// Let it go.
    Unlock,
    /// Look under the lock; report [`Input::Inspected`].
    Inspect,
    /// Ask whether `id`, which exited with `code`, was OOM-killed, not waiting past `deadline`.
    CheckOom {
        /// Container id.
        id: String,
        /// Exit code.
        code: i64,
        /// The restart's start time, when it restarts.
        deadline: Option<Instant>,
    },
    /// Replace `old` by a created, not started container for restart `n`, labelled to start at `start_at`.
    Recreate {
        /// The troubled container.
        old: Box<Container>,
        /// Restart number.
        n: u32,
        /// Its start time.
        start_at: Instant,
    },
    /// Start the replacement `id` (restart `n`); remove it if that fails.
    Start {
        /// Container id.
        id: String,
        /// Restart number.
        n: u32,
    },
    /// Wait until the service is ready; report [`Input::ReadyDone`].
    WaitReady,
    /// Print this.
    Say(Supervise),
    /// Change the run's observable state.
    Mark(Mark),
    /// The supervision ends here.
    Exit,
}

/// A change of the run's observable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// Not restarted, and why.
    Failed(String),
    /// Stopped by `pinshare-dev stop`, and stays so.
    Held,
    /// Restart `n` starts at this time.
    Restarting(u32, Instant),
    /// Started; waiting for readiness since then.
    Starting(Instant),
    /// Ready.
    Ready,
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
