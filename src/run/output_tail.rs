//! What a build printed, kept for the dashboard: a build's lines go to the terminal as they come (or, on a
//! terminal, onto one live line and printed whole when it fails), and the log pane's buffer soon drops them.
//! While a build runs, its service's tool events are copied off the printer's tap (redacted as printed), the
//! last [`OUTPUT_TAIL`] kept; a failed build keeps them in its record.

use std::collections::VecDeque;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::output::printer::Printer;
use crate::output::tap::Tapped;
use crate::run::state::OUTPUT_TAIL;

/// The lines of one service's build, being collected.
pub(crate) struct Tail {
    stop: oneshot::Sender<()>,
    task: JoinHandle<VecDeque<String>>,
}

fn take(kept: &mut VecDeque<String>, service: &str, p: Tapped) {
    if p.source == crate::output::tap::Source::Event && p.name == service {
        kept.extend(p.lines);
        while kept.len() > OUTPUT_TAIL {
            kept.pop_front();
        }
    }
}

/// Starts collecting `service`'s events from `printer`.
pub(crate) fn follow(printer: &Printer, service: &str) -> Tail {
    let mut rx = printer.tap();
    let (stop, mut stopped) = oneshot::channel::<()>();
    let service = service.to_string();
    let task = tokio::spawn(async move {
        let mut kept = VecDeque::new();
        loop {
            tokio::select! {
                biased;
                piece = rx.recv() => match piece {
                    Ok(p) => take(&mut kept, &service, p),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
                _ = &mut stopped => {
                    // Printed before the build returned: already in the queue.
                    loop {
                        match rx.try_recv() {
                            Ok(p) => take(&mut kept, &service, p),
                            Err(TryRecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                    break;
                }
            }
        }
        kept
    });
    Tail { stop, task }
}

impl Tail {
    /// The lines collected, the last [`OUTPUT_TAIL`].
    pub(crate) async fn finish(self) -> Vec<String> {
        let _ = self.stop.send(());
        self.task.await.map(Vec::from).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_builds_tail_is_its_services_events_and_only_the_last_ones() {
        let printer = Printer::quiet(["app", "ipfs"]);
        let tail = follow(&printer, "app");
        printer.event("ipfs", "another service's event");
        for i in 0..OUTPUT_TAIL + 10 {
            printer.event("app", &format!("build: step {i}"));
        }
        printer.log("app", "a container line").await;
        printer.event(
            "app",
            "build failed, the running container was left serving",
        );
        let lines = tail.finish().await;
        assert_eq!(lines.len(), OUTPUT_TAIL);
        assert_eq!(lines[0], "build: step 11");
        assert_eq!(
            lines.last().map(String::as_str),
            Some("build failed, the running container was left serving")
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("another") || l.contains("container line"))
        );
    }
}
