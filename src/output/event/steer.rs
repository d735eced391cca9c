//! What the user's steering commands (`restart`, `stop`, `start`, `trigger`, the dashboard's buttons) set going.

use std::fmt;
use std::time::Duration;

use super::{Event, ms};

/// What the user's steering commands (`restart`, `stop`, `trigger`, the dashboard's buttons) set going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Steer {
    /// `restart`: a new container of the same build.
    Restarting,
    /// A dependency of this service (named) was stopped by `stop`.
    DependencyStopped(String),
    /// `trigger`: a build.
    Triggered,
    /// `stop`: the service stays stopped until its `start` (the command, as the spec's project spells it).
    Stopped {
        /// The command that starts it again.
        start: String,
    },
    /// What a steering command did (`restarted on request`, `started on request`), ready so long after.
    ReadyAfter {
        /// What was done.
        done: &'static str,
        /// From the start to ready.
        after: Duration,
    },
}

impl From<Steer> for Event {
    fn from(e: Steer) -> Self {
        Event::Steer(e)
    }
}

impl fmt::Display for Steer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Steer::Restarting => {
                f.write_str("restarting on request: a new container of the same build, no rebuild")
            }
            Steer::DependencyStopped(dep) => {
                write!(f, "{dep}, which it depends on, was stopped on request")
            }
            Steer::Triggered => f.write_str("build triggered on request"),
            Steer::Stopped { start } => write!(
                f,
                "stopped on request; it stays stopped through saves and spec edits until `{start}`"
            ),
            Steer::ReadyAfter { done, after } => write!(f, "{done}; ready in {} ms", ms(*after)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_and_the_ready_after_a_steer_read_as_they_always_did() {
        let stopped = Steer::Stopped {
            start: "pinshare-dev start kv".into(),
        };
        assert_eq!(
            Event::from(stopped).to_string(),
            "stopped on request; it stays stopped through saves and spec edits until `pinshare-dev start kv`"
        );
        let ready = Steer::ReadyAfter {
            done: "restarted on request",
            after: Duration::from_millis(250),
        };
        assert_eq!(
            Event::from(ready).to_string(),
            "restarted on request; ready in 250 ms"
        );
    }
}
