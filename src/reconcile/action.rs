//! The steps of a reconcile as data: what to do to which container, and why ([`Reason`], which says the words
//! people read). The plan makes them, apply carries them out.

use std::time::Duration;

use crate::output::event::Reconcile;
use crate::output::printer::TOOL;

/// Why an action is taken. Displays as the words people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The service has no container.
    Missing,
    /// Its container's config hash is not the desired one.
    Changed,
    /// Its container exists with the desired configuration but does not run.
    NotRunning,
    /// Running with the desired configuration.
    UpToDate,
    /// A spec edit changed its configuration.
    SpecEdited,
    /// A spec edit added it (or `up` had not started it).
    Added,
    /// A spec edit left its configuration as it was.
    SpecUnchanged,
    /// A rebuild gave it a new image or configuration.
    Rebuilt,
    /// A rebuild gave the same image and configuration.
    ImageUnchanged,
    /// Left over by an init step that did not finish.
    LeftoverInit,
    /// A second container of a service (`…-next`, `…-replaced`), left by a swap that was cut short (a killed
    /// `up`): one container per service, so it goes.
    CutSwap,
    /// No service of the spec owns it.
    NotInSpec,
    /// A spec edit removed its service.
    RemovedFromSpec,
    /// The foreground `up` ends.
    Shutdown,
    /// `pinshare-dev down`.
    Down,
    /// A supervisor restarts the service (restart number `n`).
    Restart(u32),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Missing => "no container",
            Reason::Changed => "configuration or image changed",
            Reason::NotRunning => "container was not running",
            Reason::UpToDate => "up to date",
            Reason::SpecEdited => "configuration changed",
            Reason::Added => "added to the spec",
            Reason::SpecUnchanged => "configuration unchanged",
            Reason::Rebuilt => "rebuilt",
            Reason::ImageUnchanged => "image unchanged",
            Reason::LeftoverInit => "left over by an init step",
            Reason::CutSwap => "left by a swap that was cut short",
            Reason::NotInSpec => "belongs to no service of the spec",
            Reason::RemovedFromSpec => "removed from the spec",
            Reason::Shutdown => "stopping",
            Reason::Down => "down",
            Reason::Restart(n) => return write!(f, "restart {n}"),
        })
    }
}

/// A one-shot step before a service's container is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitStep {
    /// Hand the service's volumes to the user it runs as (`fix_ownership`).
    Ownership,
    /// The spec's `init` commands, each in its own short-lived container.
    Commands,
}

/// What a restart's container carries, so `ps` in any terminal can tell a crash loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartMark {
    /// Restart number.
    pub n: u32,
    /// When it will be started, Unix milliseconds.
    pub start_at_unix_ms: u64,
}

/// One step of reconciling the project with the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the service's container (kubo's repo prepared on it, unless it is a restart's: the same
    /// configuration again).
    Create {
        /// Service.
        service: String,
        /// Container name.
        container: String,
        /// Config hash label.
        hash: String,
        /// Build-context hash label.
        context_hash: Option<String>,
        /// Set on a supervisor's restart.
        restart: Option<RestartMark>,
        /// Why.
        reason: Reason,
    },
    /// Take the service's current container away so it can be created again: stop it with `grace`, remove it.
    Recreate {
        /// Service.
        service: String,
        /// Container name.
        container: String,
        /// SIGTERM to SIGKILL.
        grace: Duration,
        /// Why.
        reason: Reason,
    },
    /// Start a created container (by name or id).
    Start {
        /// Service.
        service: String,
        /// Container name or id.
        container: String,
        /// Why.
        reason: Reason,
    },
    /// Stop a container (by name or id): SIGTERM, SIGKILL after `grace`. A container already gone is fine.
    Stop {
        /// Service.
        service: String,
        /// Container name or id.
        container: String,
        /// SIGTERM to SIGKILL.
        grace: Duration,
        /// It is paused: unpause first (a paused container can be neither stopped nor killed).
        paused: bool,
        /// Why.
        reason: Reason,
    },
    /// Remove a container (by name or id).
    Remove {
        /// Service.
        service: String,
        /// Container name or id.
        container: String,
        /// Why.
        reason: Reason,
    },
    /// Leave the container as it is.
    Keep {
        /// Service.
        service: String,
        /// Container name.
        container: String,
        /// Why.
        reason: Reason,
    },
    /// Run one of the service's init steps, with its image.
    RunInit {
        /// Service.
        service: String,
        /// Which.
        step: InitStep,
        /// Image id.
        image: String,
        /// Why.
        reason: Reason,
    },
}

/// A line an action announces: a typed event under a name, or a plain line (`down` prints those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `name » event`.
    Event(String, Reconcile),
    /// `text`.
    Plain(String),
}

impl Action {
    /// The service the action is about.
    pub fn service(&self) -> &str {
        match self {
            Action::Create { service, .. }
            | Action::Recreate { service, .. }
            | Action::Start { service, .. }
            | Action::Stop { service, .. }
            | Action::Remove { service, .. }
            | Action::Keep { service, .. }
            | Action::RunInit { service, .. } => service,
        }
    }

    /// Why it is taken.
    pub fn reason(&self) -> &Reason {
        match self {
            Action::Create { reason, .. }
            | Action::Recreate { reason, .. }
            | Action::Start { reason, .. }
            | Action::Stop { reason, .. }
            | Action::Remove { reason, .. }
            | Action::Keep { reason, .. }
            | Action::RunInit { reason, .. } => reason,
        }
    }

    /// What it says before it is carried out, if anything.
    pub fn announcement(&self) -> Option<Line> {
        let event = |e: Reconcile| Some(Line::Event(self.service().to_string(), e));
        match (self, self.reason()) {
            (Action::Keep { .. }, Reason::UpToDate) => event(Reconcile::UpToDate),
            (Action::Keep { container, .. }, Reason::NotInSpec) => Some(Line::Event(
                TOOL.to_string(),
                Reconcile::LeftRunning(container.clone()),
            )),
            (Action::Recreate { .. }, r @ (Reason::Changed | Reason::NotRunning)) => {
                event(Reconcile::Recreating(r.to_string()))
            }
            // Today's words for a service a spec edit added, too.
            (Action::Recreate { .. }, Reason::SpecEdited)
            | (Action::Create { .. }, Reason::Added) => event(Reconcile::SpecEdited),
            (Action::Stop { .. }, Reason::RemovedFromSpec) => event(Reconcile::RemovedFromSpec),
            (Action::Remove { container, .. }, Reason::CutSwap) => {
                event(Reconcile::RemovingLeftover(container.clone()))
            }
            (Action::Stop { container, .. }, Reason::Shutdown) => {
                event(Reconcile::Stopping(container.clone()))
            }
            (Action::Stop { container, .. }, Reason::Down) => {
                Some(Line::Plain(format!("stopping {container}")))
            }
            _ => None,
        }
    }

    /// What it says once it is done, if anything.
    pub fn done(&self) -> Option<Line> {
        match (self, self.reason()) {
            (Action::Start { .. }, Reason::Restart(_)) => None,
            (
                Action::Start {
                    container, service, ..
                },
                _,
            ) => Some(Line::Event(
                service.clone(),
                Reconcile::Started(container.clone()),
            )),
            (Action::Remove { container, .. }, Reason::Down) => {
                Some(Line::Plain(format!("removed container {container}")))
            }
            _ => None,
        }
    }
}
