//! The page's one live stream (server-sent events): `snapshot` with the run's state on connect and on every
//! change (at most one per [`WATCH_EVERY`]), `logs` with the lines printed since the last event (several pieces in one event under a flood),
//! `gap` when this reader fell behind the printer and missed some. It ends when the run's state goes away.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::sse::Event;
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::output::tap::Tapped;
use crate::run::control::{Handle, WATCH_EVERY};
use crate::run::state::State;

/// Lines sent at most in one `logs` event.
const LINES_PER_EVENT: usize = 2000;

struct Follow {
    control: Handle,
    state: Option<watch::Receiver<State>>,
    /// When the last snapshot went out: at most one per [`WATCH_EVERY`].
    sent: Option<Instant>,
    logs: broadcast::Receiver<Tapped>,
    ports: Value,
    /// The printer is still there.
    logs_open: bool,
}

/// The stream of one page.
pub fn events(
    control: Handle,
    logs: broadcast::Receiver<Tapped>,
    ports: Value,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut state = control.state.changes();
    state.mark_changed();
    let follow = Follow {
        control,
        state: Some(state),
        sent: None,
        logs,
        ports,
        logs_open: true,
    };
    futures_util::stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(event), f))
    })
}

impl Follow {
    async fn next(&mut self) -> Option<Event> {
        let state = self.state.as_mut()?;
        tokio::select! {
            biased;
            changed = state.changed() => {
                if changed.is_err() {
                    self.state = None;
                    return None;
                }
                if let Some(sent) = self.sent {
                    tokio::time::sleep_until(sent + WATCH_EVERY).await;
                }
                state.borrow_and_update();
                self.sent = Some(Instant::now());
                let run = self.control.state.snapshot();
                Some(json_event("snapshot", &json!({ "run": run, "ports": self.ports })))
            }
            piece = self.logs.recv(), if self.logs_open => Some(match piece {
                Ok(first) => self.logs_event(first),
                Err(RecvError::Lagged(missed)) => json_event("gap", &json!({ "missed": missed })),
                Err(RecvError::Closed) => {
                    // The printer is gone: only the state is left to follow.
                    self.logs_open = false;
                    Event::default().comment("no more lines")
                }
            }),
        }
    }

    /// `first` and whatever else is waiting, up to [`LINES_PER_EVENT`] lines, as one event.
    fn logs_event(&mut self, first: Tapped) -> Event {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut count = first.lines.len();
        let mut pieces = vec![piece(first, now)];
        while count < LINES_PER_EVENT {
            match self.logs.try_recv() {
                Ok(p) => {
                    count += p.lines.len();
                    pieces.push(piece(p, now));
                }
                Err(_) => break,
            }
        }
        json_event("logs", &Value::Array(pieces))
    }
}

fn piece(p: Tapped, at_ms: u128) -> Value {
    json!({ "name": p.name, "source": p.source, "lines": p.lines, "at": at_ms })
}

fn json_event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}
