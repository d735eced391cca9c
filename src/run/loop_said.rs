//! What the fake runs of `loop_tests.rs`, `await_tests.rs` and `state_tests.rs` said, as typed events
//! ([`Event`]), read from the printer's tap: the tests ask how many rebuilds served or swaps ended rather than
//! match the lines' text.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::loop_tests::Run;
use crate::output::event::{Build, Event, Watch};
use crate::output::printer::Printer;

/// The dev loop's events as said, with the service (or the tool) they were about.
pub(super) type Events = Arc<Mutex<Vec<(String, Event)>>>;

/// Collects the events `printer` says from now on.
pub(super) fn collect_events(printer: &Printer) -> Events {
    let events = Events::default();
    let mut tap = printer.tap();
    let into = Arc::clone(&events);
    tokio::spawn(async move {
        loop {
            match tap.recv().await {
                Ok(t) => {
                    if let Some(e) = t.event {
                        into.lock().expect("events").push((t.name, e));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    panic!("the test's reader of events fell {n} pieces behind")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    events
}

impl Run {
    /// How many events said so far match `what` (given the service and the event).
    pub(super) fn said(&self, what: impl Fn(&str, &Event) -> bool) -> usize {
        let events = self.events.lock().expect("events");
        events.iter().filter(|(name, e)| what(name, e)).count()
    }

    /// Rebuilds that served, so far.
    pub(super) fn rebuilt(&self) -> usize {
        self.said(|_, e| matches!(e, Event::Build(Build::Rebuilt { .. })))
    }

    /// Changes to app's main.go seen, so far.
    pub(super) fn main_go_changed(&self) -> usize {
        let main_go = Event::Watch(Watch::Changed {
            first: "main.go".into(),
            more: 0,
        });
        self.said(|name, e| name == "app" && *e == main_go)
    }

    /// Polls in virtual time until `n` events matching `what` (`described`) were said; panics after ten virtual
    /// minutes, with every event said.
    pub(super) async fn said_n(
        &self,
        described: &str,
        n: usize,
        what: impl Fn(&str, &Event) -> bool,
    ) {
        let t = tokio::time::Instant::now();
        while self.said(&what) < n {
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "{described} not said {n} times: {:#?}",
                self.events.lock().expect("events")
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Polls until `n` rebuilds served.
    pub(super) async fn rebuilt_n(&self, n: usize) {
        self.said_n("rebuilt", n, |_, e| {
            matches!(e, Event::Build(Build::Rebuilt { .. }))
        })
        .await;
    }
}
