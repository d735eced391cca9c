//! A copy of what the printer prints, for readers other than the terminal (the dashboard's log pane): every
//! container line and tool event, redacted as printed, without prefix or colour. Lines are copied only while
//! someone listens; a reader that falls behind misses the oldest pieces and is told how many.

use tokio::sync::broadcast;

use crate::output::event::Event;

/// Pieces the tap keeps for a slow reader before it misses some.
pub const QUEUE: usize = 1024;

/// Where a tapped line comes from: the container's stdout or stderr, or the tool itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The container's standard output (`|`).
    Stdout,
    /// The container's standard error (`|` too in the terminal, which does not tell them apart).
    Stderr,
    /// A tool event (`»`).
    Event,
}

impl Source {
    /// Container output from stderr or from stdout.
    pub fn output(stderr: bool) -> Self {
        if stderr {
            Source::Stderr
        } else {
            Source::Stdout
        }
    }
}

/// Lines of one service as the printer printed them (redacted, without prefix or colour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    /// The service, or the tool itself (`pinshare-dev`) for project-wide events.
    pub name: String,
    /// Where the lines come from.
    pub source: Source,
    /// The lines.
    pub lines: Vec<String>,
    /// The dev loop's event the line says, for readers that ask what happened rather than read text.
    pub event: Option<Event>,
}

/// The sending side, held by the printer.
#[derive(Debug, Clone)]
pub struct Tap(broadcast::Sender<Tapped>);

impl Default for Tap {
    fn default() -> Self {
        Tap(broadcast::channel(QUEUE).0)
    }
}

impl Tap {
    /// Every piece sent from now on; a reader more than [`QUEUE`] pieces behind misses the oldest
    /// (`RecvError::Lagged` says how many).
    pub fn subscribe(&self) -> broadcast::Receiver<Tapped> {
        self.0.subscribe()
    }

    /// Whether anyone listens (so lines are worth copying).
    pub fn listening(&self) -> bool {
        self.0.receiver_count() > 0
    }

    /// Hands `lines` to the readers, if there are any (made only then).
    pub fn copy(&self, name: &str, source: Source, lines: impl FnOnce() -> Vec<String>) {
        self.copy_event(name, source, lines, None);
    }

    /// [`Tap::copy`] of a line that says `event`.
    pub fn copy_event(
        &self,
        name: &str,
        source: Source,
        lines: impl FnOnce() -> Vec<String>,
        event: Option<Event>,
    ) {
        if self.listening() {
            let _ = self.0.send(Tapped {
                name: name.to_string(),
                source,
                lines: lines(),
                event,
            });
        }
    }
}
