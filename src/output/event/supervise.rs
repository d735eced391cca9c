//! What a supervisor says about its service: the trouble and its verdict, the restarts, readiness lost and back.

use std::fmt;
use std::time::Duration;

use super::{Event, ms};

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

impl fmt::Display for Trouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// A supervisor's line about its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supervise {
    /// The trouble, and that the restart policy (as written in the spec) keeps it as it is.
    NotRestarted {
        /// What happened.
        trouble: Trouble,
        /// `always`, `on-failure`, `no`.
        policy: &'static str,
    },
    /// The trouble, and restart `n` in `delay` (or at once, restoring it).
    Restarting {
        /// What happened.
        trouble: Trouble,
        /// Restored at once after the engine came back.
        restored: bool,
        /// Restart number.
        n: u32,
        /// Its delay.
        delay: Duration,
    },
    /// A create or start failed (the error); tried again in `delay` as restart `n`.
    RestartFailed {
        /// The error.
        error: String,
        /// Until the next try.
        delay: Duration,
        /// The next try's restart number.
        n: u32,
    },
    /// Restarted as restart `n` (or restored); ready after so long, or not (the error), or no readiness wait.
    Restarted {
        /// Restored after the engine came back.
        restored: bool,
        /// Restart number.
        n: u32,
        /// The readiness wait's outcome, if there was one.
        ready: Option<Result<Duration, String>>,
    },
    /// Readiness lost (the probe's error), with the services depending on it that keep running.
    NotReady {
        /// The probe's error.
        error: String,
        /// Its dependents.
        dependents: Vec<String>,
    },
    /// Readiness back.
    ReadyAgain,
}

impl From<Supervise> for Event {
    fn from(e: Supervise) -> Self {
        Event::Supervise(e)
    }
}

/// A delay as people read it: `100 ms`, `2 s`, `1.6 s`.
pub fn delay_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    }
}

impl fmt::Display for Supervise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Supervise::NotRestarted { trouble, policy } => {
                write!(f, "{trouble}; not restarted (restart = \"{policy}\")")
            }
            Supervise::Restarting {
                trouble,
                restored: true,
                ..
            } => write!(f, "{trouble}; restoring it"),
            Supervise::Restarting {
                trouble, n, delay, ..
            } => write!(
                f,
                "{trouble}; restarting in {} (restart {n})",
                delay_text(*delay)
            ),
            Supervise::RestartFailed { error, delay, n } => write!(
                f,
                "restart failed: {error}; trying again in {} (restart {n})",
                delay_text(*delay)
            ),
            Supervise::Restarted { restored, n, ready } => {
                if *restored {
                    f.write_str("restored after the engine came back")?;
                } else {
                    write!(f, "restarted (restart {n})")?;
                }
                match ready {
                    None => Ok(()),
                    Some(Ok(took)) => write!(f, "; ready in {} ms", ms(*took)),
                    Some(Err(e)) => write!(f, "; {e}"),
                }
            }
            Supervise::NotReady { error, dependents } if dependents.is_empty() => {
                write!(f, "not ready: {error}")
            }
            Supervise::NotReady { error, dependents } => {
                write!(
                    f,
                    "not ready: {error}; {} keep running",
                    dependents.join(", ")
                )
            }
            Supervise::ReadyAgain => f.write_str("ready again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::event::tests::reads;

    fn exited(code: i64, oom: bool) -> Trouble {
        Trouble::Exited { code, oom }
    }

    #[test]
    fn a_supervisors_lines_read_as_they_always_did() {
        reads(
            Supervise::NotRestarted {
                trouble: exited(137, true),
                policy: "no",
            },
            "exited with code 137 (OOM-killed); not restarted (restart = \"no\")",
        );
        let restarting = |trouble, restored, delay| Supervise::Restarting {
            trouble,
            restored,
            n: 3,
            delay,
        };
        reads(
            restarting(exited(1, false), false, Duration::from_millis(1600)),
            "exited with code 1; restarting in 1.6 s (restart 3)",
        );
        reads(
            restarting(Trouble::DiedWithEngine { code: 0 }, true, Duration::ZERO),
            "stopped with the engine (exit code 0); restoring it",
        );
        reads(
            restarting(
                Trouble::Unhealthy {
                    failures: 3,
                    last: "HTTP 503".into(),
                },
                false,
                Duration::from_secs(2),
            ),
            "liveness failed 3 times in a row (last: HTTP 503); restarting in 2 s (restart 3)",
        );
        reads(
            Supervise::RestartFailed {
                error: "no such image".into(),
                delay: Duration::from_millis(100),
                n: 2,
            },
            "restart failed: no such image; trying again in 100 ms (restart 2)",
        );
        let restarted = |restored, ready| Supervise::Restarted {
            restored,
            n: 4,
            ready,
        };
        reads(restarted(false, None), "restarted (restart 4)");
        reads(
            restarted(false, Some(Ok(Duration::from_millis(81)))),
            "restarted (restart 4); ready in 81 ms",
        );
        reads(
            restarted(true, Some(Err("not ready after 30 s".into()))),
            "restored after the engine came back; not ready after 30 s",
        );
        let not_ready = |dependents: &[&str]| Supervise::NotReady {
            error: "HTTP 503".into(),
            dependents: dependents.iter().map(ToString::to_string).collect(),
        };
        reads(not_ready(&[]), "not ready: HTTP 503");
        reads(
            not_ready(&["app", "web"]),
            "not ready: HTTP 503; app, web keep running",
        );
        reads(Supervise::ReadyAgain, "ready again");
    }
}
