//! What carrying out a plan says about the containers it changes (start-up, a spec reload, the end of `up`).

use std::fmt;

use super::Event;

/// What a plan does to containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconcile {
    /// The running container is what the spec asks for: kept.
    UpToDate,
    /// A container no service of the spec owns is left running (said by the tool, naming it).
    LeftRunning(String),
    /// The container is replaced, and why (the reason's words: its configuration or image changed, it was not
    /// running).
    Recreating(String),
    /// A spec edit changed (or added) the service: its container is made anew.
    SpecEdited,
    /// A spec edit removed the service: its container stops.
    RemovedFromSpec,
    /// A second container of the service, left by a swap that was cut short, goes.
    RemovingLeftover(String),
    /// The end of `up` stops the container.
    Stopping(String),
    /// The container was started.
    Started(String),
    /// A step of the end of `up` failed (the error); the others go on.
    Failed(String),
}

impl From<Reconcile> for Event {
    fn from(e: Reconcile) -> Self {
        Event::Reconcile(e)
    }
}

impl fmt::Display for Reconcile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reconcile::UpToDate => f.write_str("up to date, container kept"),
            Reconcile::LeftRunning(c) => write!(
                f,
                "container {c} belongs to no service of the spec; left running (`down` removes it)"
            ),
            Reconcile::Recreating(why) => write!(f, "recreating: {why}"),
            Reconcile::SpecEdited => f.write_str("configuration changed; recreating"),
            Reconcile::RemovedFromSpec => f.write_str("removed from the spec; stopping"),
            Reconcile::RemovingLeftover(c) => {
                write!(
                    f,
                    "container {c} left by a swap that was cut short; removing it"
                )
            }
            Reconcile::Stopping(c) => write!(f, "stopping {c}"),
            Reconcile::Started(c) => write!(f, "started {c}"),
            Reconcile::Failed(e) => f.write_str(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::event::tests::reads;

    #[test]
    fn a_plans_lines_read_as_they_always_did() {
        reads(Reconcile::UpToDate, "up to date, container kept");
        reads(
            Reconcile::LeftRunning("demo-old".into()),
            "container demo-old belongs to no service of the spec; left running (`down` removes it)",
        );
        reads(
            Reconcile::Recreating("configuration or image changed".into()),
            "recreating: configuration or image changed",
        );
        reads(Reconcile::SpecEdited, "configuration changed; recreating");
        reads(
            Reconcile::RemovedFromSpec,
            "removed from the spec; stopping",
        );
        reads(
            Reconcile::RemovingLeftover("demo-app-next".into()),
            "container demo-app-next left by a swap that was cut short; removing it",
        );
        reads(
            Reconcile::Stopping("demo-ipfs".into()),
            "stopping demo-ipfs",
        );
        reads(Reconcile::Started("demo-app".into()), "started demo-app");
        reads(
            Reconcile::Failed("stop_container p-web: scripted failure".into()),
            "stop_container p-web: scripted failure",
        );
    }
}
