//! Looking at a service's container by name, whatever the events said: a restarted daemon keeps no event
//! history, so a death during its outage is never announced. The supervisor looks every [`RESYNC`] and when the
//! engine is back (level-triggered, not edge-triggered).

use std::time::Duration;

use super::Trouble;
use crate::engine::{Engine, State};

/// How often a supervisor looks at its container by name, whatever the events said: a restarted daemon keeps
/// no event history, so a death during its outage is never announced (level-triggered, not edge-triggered).
pub(super) const RESYNC: Duration = Duration::from_secs(5);

/// What a look at the service's container by name finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Look {
    /// This container runs under the name.
    Running(String),
    /// This one stopped.
    Exited {
        /// Id.
        id: String,
        /// Exit code.
        code: i64,
        /// Killed for memory.
        oom: bool,
    },
    /// No container has the name.
    Gone,
    /// Nothing to act on: the engine did not answer, or the container is being created or backed off.
    Unknown,
}

pub(super) async fn look(engine: &dyn Engine, container: &str) -> Look {
    match engine.inspect_container(container).await {
        Ok(Some(c)) if c.is_running() => Look::Running(c.id),
        Ok(Some(c)) => match c.state {
            State::Exited { code, oom } => Look::Exited {
                id: c.id,
                code,
                oom,
            },
            _ => Look::Unknown,
        },
        Ok(None) => Look::Gone,
        Err(_) => Look::Unknown,
    }
}

/// The trouble of a container found stopped by a look. A clean exit after an outage is the engine's doing (a
/// daemon that stops stops its containers, and PinShare exits 0 on SIGTERM); a failure is the service's, as any
/// other, since a crash during a lost connection looks the same.
pub(super) fn found_stopped(code: i64, oom: bool, outage: bool) -> Trouble {
    if outage && code == 0 && !oom {
        Trouble::DiedWithEngine { code }
    } else {
        Trouble::Exited { code, oom }
    }
}
