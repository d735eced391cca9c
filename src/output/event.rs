//! What the run says about a service or itself, as values: its start-up, end and engine connection ([`Life`]),
//! the watch and the spec's reload ([`Watch`]), the rebuild, the start-first swap and the live update
//! ([`Build`]), what steering commands set going ([`Steer`]), a supervisor's restarts ([`Supervise`]), images
//! pulled and built ([`Image`]), init steps and kubo's repo ([`Init`]), a plan's containers ([`Reconcile`]), a
//! failed readiness wait's probes ([`Probe`]), what `up` and `test` say of themselves ([`Command`]) and a
//! container near its memory limit ([`Memory`]). Each is
//! rendered here (the later groups in `event/`), once, to the line the terminal shows (`»`), and handed as it
//! is to the printer's readers (`Tapped::event`), so a test or the dashboard asks what happened rather than
//! matching text.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod command;
mod image;
mod init;
mod memory;
mod probe;
mod reconcile;
mod steer;
mod supervise;

pub use command::Command;
pub use image::Image;
pub use init::Init;
pub use memory::Memory;
pub use probe::Probe;
pub use reconcile::Reconcile;
pub use steer::Steer;
pub use supervise::{Supervise, Trouble};

/// The supervisor's tests read delays as its lines do.
#[cfg(test)]
pub use supervise::delay_text;

/// One thing the run says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start-up, the end of the run, the engine going away around them.
    Life(Life),
    /// The watch and the spec's reload.
    Watch(Watch),
    /// A rebuild, its swap, a live update.
    Build(Build),
    /// What a steering command set going.
    Steer(Steer),
    /// A supervisor's verdict on a service in trouble, its restarts, its readiness lost and back.
    Supervise(Supervise),
    /// An image pulled or built, its host build.
    Image(Image),
    /// Init steps, ownership repairs, kubo's repo.
    Init(Init),
    /// What a plan does to containers.
    Reconcile(Reconcile),
    /// A failed readiness wait's last probes.
    Probe(Probe),
    /// What `up` and `test` say of themselves.
    Command(Command),
    /// A container near its memory limit.
    Memory(Memory),
}

impl From<Life> for Event {
    fn from(e: Life) -> Self {
        Event::Life(e)
    }
}

impl From<Watch> for Event {
    fn from(e: Watch) -> Self {
        Event::Watch(e)
    }
}

impl From<Build> for Event {
    fn from(e: Build) -> Self {
        Event::Build(e)
    }
}

/// The run's start-up and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// The project's network was created.
    NetworkCreated(String),
    /// A named volume was created.
    VolumeCreated(String),
    /// A service with a readiness probe is ready: `after_start` its start (None: it was running already and
    /// kept), `since_up` the command began.
    Ready {
        /// From the container's start to ready; None when the running container was kept.
        after_start: Option<Duration>,
        /// From the command's start.
        since_up: Duration,
    },
    /// A service without a readiness probe runs.
    Running,
    /// All `count` selected services are ready (`up --detach`).
    AllReady {
        /// Services.
        count: usize,
        /// Since the command began.
        after: Duration,
    },
    /// Start-up was cut short (`why`); the containers go, volumes stay.
    StartUpCut(String),
    /// Start-up failed; the containers go.
    StartUpFailed,
    /// The engine went away during start-up.
    EngineAwayAtStartUp,
    /// The engine is back after `0`; start-up goes on.
    EngineBackAtStartUp(Duration),
    /// The run stops: by SIGTERM (`down` in another terminal) or Ctrl-C.
    Stopping {
        /// Asked by SIGTERM.
        by_sigterm: bool,
    },
    /// A second Ctrl-C: the containers are killed.
    Killing,
    /// The engine is away as the run stops: it is waited for up to the limit.
    EngineAwayAtStop(Duration),
    /// The engine came back while the run stopped.
    EngineBackAtStop,
    /// The run stopped.
    Stopped {
        /// Asked by SIGTERM.
        by_sigterm: bool,
    },
    /// The connection to the engine was lost (why); following and supervision resume when it is back.
    EngineLost(String),
    /// The connection to the engine is back after this long.
    EngineBack(Duration),
    /// What a failed start-up created (network, volumes) was removed.
    RemovedMade(Vec<String>),
    /// A failed start-up's root cause started a container: its last `lines` follow (`lines` >= 1).
    LastLines {
        /// How many lines follow.
        lines: usize,
        /// The container.
        container: String,
    },
    /// Why a service failed in a start-up (the error), after the root cause.
    StartUpError(String),
}

/// The watch and the spec's reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// Source files of the service changed: the first (relative to the spec's directory) and how many more.
    Changed {
        /// The first changed path, as shown.
        first: String,
        /// How many more changed in the same batch.
        more: usize,
    },
    /// The engine went away while a change was being built; it is looked at again when the engine is back.
    EngineAwayDuringChange,
    /// The watcher could not start.
    NotWatching(String),
    /// Start-up is over and nothing is watched (`--no-watch`).
    ReadyNotWatching,
    /// Start-up is over: the services whose sources are watched, how many directories, and the spec file.
    ReadyWatching {
        /// The services with watched sources, in order.
        services: Vec<String>,
        /// Directories watched.
        directories: usize,
        /// The spec file (watched too).
        spec: PathBuf,
    },
    /// The spec file changed and validated: what changed is being applied.
    SpecChanged(PathBuf),
    /// A spec edit with errors (their count, as `check` says it) was not applied.
    SpecInvalid(String),
    /// A spec edit could not be read or loaded (the error) and was not applied.
    SpecUnreadable(String),
    /// The spec edit renamed the project: not applied.
    ProjectRenamed,
    /// Applying a valid spec edit failed.
    SpecApplyFailed(String),
    /// The spec edit changed nothing that runs.
    NothingChanged,
    /// The service is ready (after a reload).
    Ready,
    /// A line of the errors of a spec edit (a rendered diagnostic, one line of it as `check` shows it).
    SpecErrorLine(String),
    /// A save to a service stopped by `stop` (the run not manual) waits for `start` (the command), which
    /// builds it.
    StoppedNotRebuilt {
        /// The command that starts it.
        start: String,
    },
    /// A save to a service stopped by `stop` in a manual run waits for `start`, then `trigger` (the commands).
    StoppedWaits {
        /// The command that starts it.
        start: String,
        /// The command that builds it.
        trigger: String,
    },
    /// A save in a manual run waits for `trigger` (the command).
    Pending {
        /// The command that builds it.
        trigger: String,
    },
}

/// A rebuild, its swap, a live update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// The build failed; the running container keeps serving.
    Failed(String),
    /// The build gave the image that runs already: the container was kept.
    ImageUnchanged(Duration),
    /// The rebuilt container did not get ready.
    NewNotReady(String),
    /// A rebuild served: from the save to the new container serving (`total`), then each stage and its time.
    Rebuilt {
        /// From the first change seen to done.
        total: Duration,
        /// Stages in order: detect, build, then the swap's or the replace's own.
        stages: Vec<(&'static str, Duration)>,
    },
    /// The old container of a swap could not be stopped.
    RetireFailed(String),
    /// A swap's new build starts beside the old, which keeps serving (image ids; the line shows 12 digits).
    SwapStarting {
        /// The new build.
        new: String,
        /// The build that keeps serving meanwhile.
        old: String,
    },
    /// The swap's new build serves; the old is being stopped.
    SwapServes {
        /// The new build.
        new: String,
        /// The old build, being stopped.
        old: String,
    },
    /// A swap failed (`why`): the old build keeps serving.
    SwapAbandoned {
        /// What failed.
        why: String,
        /// The build that keeps serving.
        old: String,
    },
    /// The old container of a swap cut short takes its name back.
    LeftoverRenamed {
        /// `…-replaced`.
        leftover: String,
        /// The service's container name.
        name: String,
    },
    /// A container a swap cut short left was removed.
    LeftoverRemoved(String),
    /// A live update failed (the error).
    LiveUpdateFailed(String),
    /// A rebuild failed after its build (the error; a failed build says [`Build::Failed`]).
    RebuildFailed(String),
    /// A live update falls back to a full rebuild, and why.
    FullRebuild(String),
    /// A line of a live update's `run` command.
    LiveRunOutput(String),
    /// A live update is done.
    LiveUpdated {
        /// From the first change seen to ready.
        total: Duration,
        /// Each stage: detect, sync, run, restart, ready.
        stages: [Duration; 5],
        /// Files copied.
        copied: usize,
        /// Files deleted.
        deleted: usize,
    },
}

/// Whole milliseconds, as every timing line shows them.
fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// An image id as the lines show it: 12 hex digits.
fn short(image: &str) -> &str {
    let s = image.trim_start_matches("sha256:");
    &s[..s.len().min(12)]
}

/// Ctrl-C's effect, said when start-up is over.
const CTRL_C: &str = "Ctrl-C stops and removes the containers, volumes are kept";

/// Why the run ends, when SIGTERM asked for it.
pub const TERM_WHY: &str =
    "asked to stop by SIGTERM (`pinshare-dev down` in another terminal sends it)";

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Life(e) => e.fmt(f),
            Event::Watch(e) => e.fmt(f),
            Event::Build(e) => e.fmt(f),
            Event::Steer(e) => e.fmt(f),
            Event::Supervise(e) => e.fmt(f),
            Event::Image(e) => e.fmt(f),
            Event::Init(e) => e.fmt(f),
            Event::Reconcile(e) => e.fmt(f),
            Event::Probe(e) => e.fmt(f),
            Event::Command(e) => e.fmt(f),
            Event::Memory(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for Life {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Life::NetworkCreated(n) => write!(f, "created network {n}"),
            Life::VolumeCreated(v) => write!(f, "created volume {v}"),
            Life::Ready {
                after_start: None,
                since_up,
            } => write!(f, "already running, ready ({} ms since up began)", ms(*since_up)),
            Life::Ready {
                after_start: Some(after),
                since_up,
            } => write!(
                f,
                "ready in {} ms after start ({} ms since up began)",
                ms(*after),
                ms(*since_up)
            ),
            Life::Running => f.write_str("running (no readiness probe)"),
            Life::AllReady { count, after } => {
                write!(f, "all {count} service(s) ready in {} ms", ms(*after))
            }
            Life::StartUpCut(why) => {
                write!(f, "{why}; removing the project's containers (volumes are kept)")
            }
            Life::StartUpFailed => f.write_str(
                "start-up failed; removing the project's containers (volumes that were there before are kept)",
            ),
            Life::EngineAwayAtStartUp => f.write_str(
                "the engine went away during start-up; waiting for it, then start-up goes on (Ctrl-C stops)",
            ),
            Life::EngineBackAtStartUp(after) => write!(
                f,
                "engine back after {} ms; start-up goes on from what is there",
                ms(*after)
            ),
            Life::Stopping { by_sigterm: true } => write!(f, "{TERM_WHY}; stopping"),
            Life::Stopping { by_sigterm: false } => {
                f.write_str("stopping (press Ctrl-C again to kill)")
            }
            Life::Killing => f.write_str("killing"),
            Life::EngineAwayAtStop(limit) => write!(
                f,
                "the engine is away; waiting up to {} s for it before giving up (Ctrl-C again leaves everything as it is)",
                limit.as_secs()
            ),
            Life::EngineBackAtStop => f.write_str("engine back; stopping the project"),
            Life::Stopped { by_sigterm: true } => f.write_str(
                "stopped: containers and network removed at the request of SIGTERM; volumes kept",
            ),
            Life::Stopped { by_sigterm: false } => {
                f.write_str("stopped; volumes kept (down --volumes removes them)")
            }
            Life::EngineLost(why) => write!(
                f,
                "engine connection lost ({why}); reconnecting with backoff — supervision and log following resume when it is back (Ctrl-C still stops)"
            ),
            Life::EngineBack(after) => write!(
                f,
                "engine connection back after {} ms; re-observing the project by its labels",
                ms(*after)
            ),
            Life::RemovedMade(what) => write!(
                f,
                "removed what this failed start-up created: {}",
                what.join(", ")
            ),
            Life::LastLines {
                lines: 1,
                container,
            } => write!(f, "last line of {container}:"),
            Life::LastLines { lines, container } => write!(f, "last {lines} lines of {container}:"),
            Life::StartUpError(e) => f.write_str(e),
        }
    }
}

impl fmt::Display for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Watch::Changed { first, more: 0 } => write!(f, "{first} changed"),
            Watch::Changed { first, more } => write!(f, "{first} and {more} more changed"),
            Watch::EngineAwayDuringChange => f.write_str(
                "the engine went away during this change; it is looked at again once the engine is back",
            ),
            Watch::NotWatching(e) => write!(f, "not watching source files: {e}"),
            Watch::ReadyNotWatching => write!(f, "all services ready; not watching ({CTRL_C})"),
            Watch::ReadyWatching {
                services,
                directories,
                spec,
            } => {
                let watched = if services.is_empty() {
                    "no sources".to_string()
                } else {
                    services.join(", ")
                };
                write!(
                    f,
                    "all services ready; watching {watched} ({directories} directories) and {} ({CTRL_C})",
                    spec.display()
                )
            }
            Watch::SpecChanged(file) => write!(f, "{} changed; reconciling", file.display()),
            Watch::SpecInvalid(count) => write!(
                f,
                "{count}; the edit was not applied, everything keeps running as it was"
            ),
            Watch::SpecUnreadable(e) => write!(f, "{e}; everything keeps running as it was"),
            Watch::ProjectRenamed => {
                f.write_str("the project name changed; stop and run `up` again to apply it")
            }
            Watch::SpecApplyFailed(e) => write!(f, "applying the new spec failed: {e}"),
            Watch::NothingChanged => f.write_str("no service's configuration changed"),
            Watch::Ready => f.write_str("ready"),
            Watch::SpecErrorLine(l) => f.write_str(l),
            Watch::StoppedNotRebuilt { start } => write!(
                f,
                "not rebuilt: stopped by `stop`; `{start}` starts it and builds the change"
            ),
            Watch::StoppedWaits { start, trigger } => write!(
                f,
                "not rebuilt: stopped by `stop`; the change waits for `{start}`, then `{trigger}`"
            ),
            Watch::Pending { trigger } => write!(f, "pending (manual mode): `{trigger}` builds it"),
        }
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Build::Failed(e) => {
                write!(
                    f,
                    "build failed, the running container was left serving: {e}"
                )
            }
            Build::ImageUnchanged(after) => {
                write!(f, "image unchanged after {} ms; container kept", ms(*after))
            }
            Build::NewNotReady(e) => write!(f, "the new container is not ready: {e}"),
            Build::Rebuilt { total, stages } => {
                write!(f, "rebuilt in {} ms: ", ms(*total))?;
                let shown: Vec<String> = stages
                    .iter()
                    .map(|(s, t)| format!("{s} {}", ms(*t)))
                    .collect();
                f.write_str(&shown.join(", "))
            }
            Build::RetireFailed(e) => {
                write!(
                    f,
                    "stopping the old container failed: {e}; `down` removes it"
                )
            }
            Build::SwapStarting { new, old } => write!(
                f,
                "build {} starting alongside build {}, which keeps serving",
                short(new),
                short(old)
            ),
            Build::SwapServes { new, old } => write!(
                f,
                "build {} serves now; stopping build {}",
                short(new),
                short(old)
            ),
            Build::SwapAbandoned { why, old } => {
                write!(f, "{why}; build {} keeps serving", short(old))
            }
            Build::LeftoverRenamed { leftover, name } => write!(
                f,
                "{leftover}, left by a swap that was cut short, takes back the name {name}"
            ),
            Build::LeftoverRemoved(c) => {
                write!(f, "removed {c}, left by a swap that was cut short")
            }
            Build::LiveUpdateFailed(e) => write!(f, "live update failed: {e}"),
            Build::RebuildFailed(e) => write!(f, "rebuild failed: {e}"),
            Build::FullRebuild(why) => write!(f, "full rebuild: {why}"),
            Build::LiveRunOutput(l) => write!(f, "run: {l}"),
            Build::LiveUpdated {
                total,
                stages: [detect, sync, run, restart, ready],
                copied,
                deleted,
            } => write!(
                f,
                "live-updated in {} ms: detect {}, sync {}, run {}, restart {}, ready {} ({copied} copied, {deleted} deleted)",
                ms(*total),
                ms(*detect),
                ms(*sync),
                ms(*run),
                ms(*restart),
                ms(*ready),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[track_caller]
    pub(super) fn reads(event: impl Into<Event>, line: &str) {
        assert_eq!(event.into().to_string(), line);
    }

    /// The lines as users (and the book, and the real-engine tests) know them.
    #[test]
    fn each_event_reads_as_the_line_it_always_was() {
        let changed = |first: &str, more| Watch::Changed {
            first: first.into(),
            more,
        };
        reads(changed("app/VERSION", 0), "app/VERSION changed");
        reads(changed("a.go", 2), "a.go and 2 more changed");
        let ctrl_c = "(Ctrl-C stops and removes the containers, volumes are kept)";
        reads(
            Watch::ReadyWatching {
                services: vec!["pinshare".into()],
                directories: 3,
                spec: "/p/pinshare.toml".into(),
            },
            &format!(
                "all services ready; watching pinshare (3 directories) and /p/pinshare.toml {ctrl_c}"
            ),
        );
        reads(
            Watch::ReadyWatching {
                services: vec![],
                directories: 0,
                spec: "s.toml".into(),
            },
            &format!("all services ready; watching no sources (0 directories) and s.toml {ctrl_c}"),
        );
        reads(
            Watch::StoppedNotRebuilt {
                start: "pd start app".into(),
            },
            "not rebuilt: stopped by `stop`; `pd start app` starts it and builds the change",
        );
        reads(
            Watch::StoppedWaits {
                start: "pd start app".into(),
                trigger: "pd trigger app".into(),
            },
            "not rebuilt: stopped by `stop`; the change waits for `pd start app`, then `pd trigger app`",
        );
        reads(
            Watch::Pending {
                trigger: "pd trigger app".into(),
            },
            "pending (manual mode): `pd trigger app` builds it",
        );
        reads(
            Watch::SpecErrorLine("error: unknown field `imag`".into()),
            "error: unknown field `imag`",
        );
        reads(
            Watch::SpecInvalid("2 errors".into()),
            "2 errors; the edit was not applied, everything keeps running as it was",
        );
        reads(
            Build::Rebuilt {
                total: ms(1234),
                stages: vec![("detect", ms(100)), ("build", ms(900)), ("ready", ms(34))],
            },
            "rebuilt in 1234 ms: detect 100, build 900, ready 34",
        );
        reads(
            Build::ImageUnchanged(ms(42)),
            "image unchanged after 42 ms; container kept",
        );
        reads(
            Build::SwapAbandoned {
                why: "moving traffic failed: gone".into(),
                old: "sha256:0123456789abcdef".into(),
            },
            "moving traffic failed: gone; build 0123456789ab keeps serving",
        );
        reads(
            Build::LiveUpdated {
                total: ms(300),
                stages: [ms(50), ms(10), ms(0), ms(200), ms(40)],
                copied: 2,
                deleted: 1,
            },
            "live-updated in 300 ms: detect 50, sync 10, run 0, restart 200, ready 40 (2 copied, 1 deleted)",
        );
    }

    #[test]
    fn the_runs_start_and_end_read_as_they_always_did() {
        let ready = |after_start, since_up| Life::Ready {
            after_start,
            since_up,
        };
        reads(
            ready(Some(ms(81)), ms(2061)),
            "ready in 81 ms after start (2061 ms since up began)",
        );
        reads(
            ready(None, ms(40)),
            "already running, ready (40 ms since up began)",
        );
        reads(
            Life::AllReady {
                count: 2,
                after: ms(1500),
            },
            "all 2 service(s) ready in 1500 ms",
        );
        reads(
            Life::Stopping { by_sigterm: true },
            "asked to stop by SIGTERM (`pinshare-dev down` in another terminal sends it); stopping",
        );
        reads(
            Life::Stopped { by_sigterm: false },
            "stopped; volumes kept (down --volumes removes them)",
        );
        reads(
            Life::EngineBack(ms(5115)),
            "engine connection back after 5115 ms; re-observing the project by its labels",
        );
        reads(
            Steer::DependencyStopped("kv".into()),
            "kv, which it depends on, was stopped on request",
        );
        reads(
            Life::LastLines {
                lines: 1,
                container: "p-ipfs".into(),
            },
            "last line of p-ipfs:",
        );
        reads(
            Life::LastLines {
                lines: 20,
                container: "p-ipfs".into(),
            },
            "last 20 lines of p-ipfs:",
        );
        reads(
            Life::StartUpError("service `app` failed: exited".into()),
            "service `app` failed: exited",
        );
        reads(
            Life::EngineAwayAtStop(Duration::from_secs(30)),
            "the engine is away; waiting up to 30 s for it before giving up (Ctrl-C again leaves everything as it is)",
        );
    }
}
