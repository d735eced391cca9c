//! The phases of a service's supervision and what a restart under way carries: the machine's data
//! (`machine.rs` holds its steps).

use std::time::Duration;

use tokio::time::Instant;

use super::Trouble;
use crate::engine::Container;
use crate::spec::RestartPolicy;

/// Where the supervision of one service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The first look is under way.
    Begin,
    /// No container followed: waiting for the next one (a start event, or a look).
    Idle,
    /// Following this container since `since`.
    Watching {
        /// Id.
        id: String,
        /// Since when it runs (for the backoff's `reset_after`).
        since: Instant,
    },
    /// Trouble with `id`: waiting for the lock, then a look under it.
    Troubled {
        /// The troubled container.
        id: String,
        /// What happened.
        trouble: Trouble,
        /// How long it ran without trouble.
        ran_for: Duration,
        /// When the trouble came (the announced delay counts from here).
        at: Instant,
    },
    /// Under the lock: waiting to know whether the kernel killed it for memory.
    CheckingOom(Decided),
    /// Under the lock: the replacement (restart `n`) is being created.
    Creating(Restart),
    /// Under the lock: creating failed with `error`; a look says whether another container took the name.
    CreateFailed(Restart, String),
    /// A create or start failed: restart `r` is created at its `start_at`, once the engine is there (`due`: its
    /// time came while the engine was away). Never at once: a create that fails at once (the engine is away, the
    /// name is taken) would otherwise be tried again at once, for ever.
    Retrying(Restart, bool),
    /// The next try of restart `r`: waiting for the lock, then a look under it, then its create.
    Recreating(Restart),
    /// The replacement `new` is created and waits out the backoff (`due`: its time came while the engine was
    /// away; it starts once it is back).
    BackingOff(Restart, String, bool),
    /// The replacement `new` is being started: waiting for the lock, a look under it, then its start.
    Launching(Restart, String),
    /// The replacement runs and is waited for to be ready.
    Readying {
        /// The restart.
        restart: Restart,
        /// Its container.
        id: String,
        /// Since when it runs.
        since: Instant,
    },
}

/// A restart under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    /// The container it replaces, as looked at under the lock.
    pub old: Box<Container>,
    /// Restart number.
    pub n: u32,
    /// When it starts.
    pub start_at: Instant,
    /// Restoring what died with the engine (no backoff).
    pub restored: bool,
}

/// A trouble looked at under the lock, waiting for the OOM check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The restart it would be.
    pub restart: Restart,
    /// The trouble (its `oom` is filled in by the check).
    pub trouble: Trouble,
    /// Whether it restarts, and why not.
    pub verdict: Verdict,
    /// The announced delay.
    pub delay: Duration,
}

/// Whether a trouble is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is.
    Restart,
    /// Not: stopped by `pinshare-dev stop`.
    Held,
    /// Not: its policy says so.
    Policy(RestartPolicy),
}
