//! A copy of what the printer prints, for readers other than the terminal (the dashboard's log pane): every
//! container line and tool event, redacted as printed, without prefix or colour. Lines are copied only while
//! someone listens; a reader that falls behind misses the oldest pieces and is told how many.

use tokio::sync::broadcast;

/// Pieces the tap keeps for a slow reader before it misses some.
pub const QUEUE: usize = 1024;

/// Lines of one service as the printer printed them (redacted, without prefix or colour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    /// The service, or the tool itself (`pinshare-dev`) for project-wide events.
    pub name: String,
    /// A tool event (`»`), not container output (`|`).
    pub event: bool,
    /// The lines.
    pub lines: Vec<String>,
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
    pub fn copy(&self, name: &str, event: bool, lines: impl FnOnce() -> Vec<String>) {
        if self.listening() {
            let _ = self.0.send(Tapped {
                name: name.to_string(),
                event,
                lines: lines(),
            });
        }
    }
}
