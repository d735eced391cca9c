//! What the dev loop says about a service or the run, as values: the watch, the spec's reload, the rebuild, the
//! start-first swap and the live update. Each is rendered here, once, to the line the terminal shows (`»`), and
//! handed as it is to the printer's readers ([`crate::output::tap::Tapped::event`]), so a test or the dashboard
//! asks what happened rather than matching text.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One thing the dev loop says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
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
    /// The build failed; the running container keeps serving.
    BuildFailed(String),
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

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Changed { first, more: 0 } => write!(f, "{first} changed"),
            Event::Changed { first, more } => write!(f, "{first} and {more} more changed"),
            Event::EngineAwayDuringChange => f.write_str(
                "the engine went away during this change; it is looked at again once the engine is back",
            ),
            Event::NotWatching(e) => write!(f, "not watching source files: {e}"),
            Event::ReadyNotWatching => write!(f, "all services ready; not watching ({CTRL_C})"),
            Event::ReadyWatching {
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
            Event::SpecChanged(file) => write!(f, "{} changed; reconciling", file.display()),
            Event::SpecInvalid(count) => write!(
                f,
                "{count}; the edit was not applied, everything keeps running as it was"
            ),
            Event::SpecUnreadable(e) => write!(f, "{e}; everything keeps running as it was"),
            Event::ProjectRenamed => {
                f.write_str("the project name changed; stop and run `up` again to apply it")
            }
            Event::SpecApplyFailed(e) => write!(f, "applying the new spec failed: {e}"),
            Event::NothingChanged => f.write_str("no service's configuration changed"),
            Event::Ready => f.write_str("ready"),
            other => other.fmt_build(f),
        }
    }
}

impl Event {
    /// The rebuild's, the swap's and the live update's lines.
    fn fmt_build(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::BuildFailed(e) => {
                write!(
                    f,
                    "build failed, the running container was left serving: {e}"
                )
            }
            Event::ImageUnchanged(after) => {
                write!(f, "image unchanged after {} ms; container kept", ms(*after))
            }
            Event::NewNotReady(e) => write!(f, "the new container is not ready: {e}"),
            Event::Rebuilt { total, stages } => {
                write!(f, "rebuilt in {} ms: ", ms(*total))?;
                let shown: Vec<String> = stages
                    .iter()
                    .map(|(s, t)| format!("{s} {}", ms(*t)))
                    .collect();
                f.write_str(&shown.join(", "))
            }
            Event::RetireFailed(e) => {
                write!(
                    f,
                    "stopping the old container failed: {e}; `down` removes it"
                )
            }
            Event::SwapStarting { new, old } => write!(
                f,
                "build {} starting alongside build {}, which keeps serving",
                short(new),
                short(old)
            ),
            Event::SwapServes { new, old } => write!(
                f,
                "build {} serves now; stopping build {}",
                short(new),
                short(old)
            ),
            Event::SwapAbandoned { why, old } => {
                write!(f, "{why}; build {} keeps serving", short(old))
            }
            Event::LeftoverRenamed { leftover, name } => write!(
                f,
                "{leftover}, left by a swap that was cut short, takes back the name {name}"
            ),
            Event::LeftoverRemoved(c) => {
                write!(f, "removed {c}, left by a swap that was cut short")
            }
            Event::FullRebuild(why) => write!(f, "full rebuild: {why}"),
            Event::LiveRunOutput(l) => write!(f, "run: {l}"),
            Event::LiveUpdated {
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
            _ => unreachable!("rendered by Display"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The lines as users (and the book, and the real-engine tests) know them.
    #[test]
    fn each_event_reads_as_the_line_it_always_was() {
        let cases = [
            (
                Event::Changed {
                    first: "app/VERSION".into(),
                    more: 0,
                },
                "app/VERSION changed",
            ),
            (
                Event::Changed {
                    first: "a.go".into(),
                    more: 2,
                },
                "a.go and 2 more changed",
            ),
            (
                Event::ReadyWatching {
                    services: vec!["pinshare".into()],
                    directories: 3,
                    spec: "/p/pinshare.toml".into(),
                },
                "all services ready; watching pinshare (3 directories) and /p/pinshare.toml (Ctrl-C stops and removes the containers, volumes are kept)",
            ),
            (
                Event::ReadyWatching {
                    services: vec![],
                    directories: 0,
                    spec: "s.toml".into(),
                },
                "all services ready; watching no sources (0 directories) and s.toml (Ctrl-C stops and removes the containers, volumes are kept)",
            ),
            (
                Event::Rebuilt {
                    total: ms(1234),
                    stages: vec![("detect", ms(100)), ("build", ms(900)), ("ready", ms(34))],
                },
                "rebuilt in 1234 ms: detect 100, build 900, ready 34",
            ),
            (
                Event::ImageUnchanged(ms(42)),
                "image unchanged after 42 ms; container kept",
            ),
            (
                Event::SwapAbandoned {
                    why: "moving traffic failed: gone".into(),
                    old: "sha256:0123456789abcdef".into(),
                },
                "moving traffic failed: gone; build 0123456789ab keeps serving",
            ),
            (
                Event::LiveUpdated {
                    total: ms(300),
                    stages: [ms(50), ms(10), ms(0), ms(200), ms(40)],
                    copied: 2,
                    deleted: 1,
                },
                "live-updated in 300 ms: detect 50, sync 10, run 0, restart 200, ready 40 (2 copied, 1 deleted)",
            ),
            (
                Event::SpecInvalid("2 errors".into()),
                "2 errors; the edit was not applied, everything keeps running as it was",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(event.to_string(), line);
        }
    }
}
