//! The control endpoint of a foreground `up`: a unix socket next to the project's lock file
//! (`pinshare-dev-<project>.sock`), mode 0600, removed when the run ends; a stale one (a killed `up`) is
//! replaced by the next `up`, which holds the lock and so knows no other `up` serves it.
//!
//! Protocol: one JSON request per connection, written whole (the client then shuts its side down), and one JSON
//! reply; then the connection closes.
//!
//! ```text
//! {"op":"snapshot"}                      -> {"ok":true,"snapshot":{...}}   (see state::Snapshot)
//! {"op":"restart","service":"pinshare"}  -> {"ok":true,"message":"..."}    or {"ok":false,"error":"..."}
//! {"op":"stop"|"start"|"trigger","service":"..."}
//! ```
//!
//! A steering request is answered once it is carried out (a restart once the new container is ready, a trigger
//! once the build serves or failed).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::error::{Error, Result};
use crate::run::state::{RunState, Snapshot};

/// The largest request taken.
const MAX_REQUEST: u64 = 64 * 1024;

/// A request to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The run's state.
    Snapshot,
    /// A new container for the service, same image, no rebuild.
    Restart {
        /// The service.
        service: String,
    },
    /// Stop the service; it stays stopped through saves and spec edits until `start`.
    Stop {
        /// The service.
        service: String,
    },
    /// Start a service that `stop` stopped.
    Start {
        /// The service.
        service: String,
    },
    /// Build the service now (its pending changes in manual mode).
    Trigger {
        /// The service.
        service: String,
    },
    /// The snapshot now and after every change (at most every [`WATCH_EVERY`]), one JSON reply a line, until
    /// the client goes or the run ends.
    Watch,
}

/// How often a `watch` connection is sent a new snapshot at most.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);

impl Request {
    /// The service it names, if any.
    pub fn service(&self) -> Option<&str> {
        match self {
            Request::Snapshot | Request::Watch => None,
            Request::Restart { service }
            | Request::Stop { service }
            | Request::Start { service }
            | Request::Trigger { service } => Some(service),
        }
    }
}

/// The endpoint's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Done.
    pub ok: bool,
    /// What was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
}

impl Reply {
    fn of(r: std::result::Result<String, String>) -> Self {
        match r {
            Ok(message) => Reply {
                ok: true,
                message: Some(message),
                ..Reply::default()
            },
            Err(error) => Reply {
                error: Some(error),
                ..Reply::default()
            },
        }
    }
}

/// Carries out steering requests (the run's, once start-up is over: `run::steer`).
#[async_trait::async_trait]
pub trait Steering: Send + Sync {
    /// Carries out `request`; the text says what was done, or why not.
    async fn apply(&self, request: &Request) -> std::result::Result<String, String>;
}

/// What the run shares with whoever serves its control endpoint: the state it keeps, and once start-up is over
/// the steering of its containers.
#[derive(Clone, Debug, Default)]
pub struct Handle {
    /// The observable state.
    pub state: RunState,
    steer: Arc<OnceLock<Box<dyn Steering>>>,
}

impl std::fmt::Debug for dyn Steering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Steering")
    }
}

impl Handle {
    /// A handle for a run of `project`; `manual`: saves wait for `trigger`.
    pub fn new(project: &str, manual: bool) -> Self {
        Handle {
            state: RunState::new(project, &[], manual),
            steer: Arc::default(),
        }
    }

    /// Start-up is over: steering requests go to `steerer` from now on.
    pub(crate) fn publish(&self, steerer: Box<dyn Steering>) {
        let _ = self.steer.set(steerer);
        self.state.steerable();
    }

    /// Answers `request`.
    pub async fn answer(&self, request: Request) -> Reply {
        if matches!(request, Request::Snapshot | Request::Watch) {
            return Reply {
                ok: true,
                snapshot: Some(self.state.snapshot()),
                ..Reply::default()
            };
        }
        match self.steer.get() {
            Some(steerer) => Reply::of(steerer.apply(&request).await),
            None => Reply::of(Err(
                "the run is starting; steering is taken once every service is ready".into(),
            )),
        }
    }
}

/// The endpoint's socket for `project`: beside its lock file.
pub fn socket_path(project: &str) -> PathBuf {
    crate::run::lock::path_for(project).with_extension("sock")
}

/// The endpoint, served while it lives; dropped, it stops and removes its socket.
#[derive(Debug)]
pub struct Endpoint {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves `handle` on `project`'s socket. The caller holds the project's lock: a socket already there is a
/// killed `up`'s, and is replaced.
pub fn serve(handle: &Handle, project: &str) -> Result<Endpoint> {
    let path = socket_path(project);
    let listener = bind_private(&path)
        .map_err(|e| Error::Runtime(format!("control endpoint {}: {e}", path.display())))?;
    let handle = handle.clone();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let _ = answer_one(&handle, conn).await;
            });
        }
    });
    Ok(Endpoint { path, task })
}

/// Binds `path` as a socket only its owner may use: made under a umask that leaves the group and others out,
/// so there is no moment when it is open to them.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    use rustix::fs::Mode;
    let _ = std::fs::remove_file(path);
    let before = rustix::process::umask(Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(path);
    rustix::process::umask(before);
    let listener = bound?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn answer_one(handle: &Handle, mut conn: UnixStream) -> std::io::Result<()> {
    let mut text = Vec::new();
    let mut limited = (&mut conn).take(MAX_REQUEST);
    let read = limited.read_to_end(&mut text);
    let reply = match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(Ok(_)) => match serde_json::from_slice::<Request>(&text) {
            Ok(Request::Watch) => return follow(handle, conn).await,
            Ok(request) => handle.answer(request).await,
            Err(e) => Reply::of(Err(format!("not a request: {e}"))),
        },
        _ => Reply::of(Err("no request within 10 s".into())),
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
    out.push(b'\n');
    conn.write_all(&out).await?;
    conn.shutdown().await
}

/// Sends the snapshot on every change of the state, one line each, until the client goes.
async fn follow(handle: &Handle, mut conn: UnixStream) -> std::io::Result<()> {
    let mut changes = handle.state.changes();
    loop {
        changes.borrow_and_update();
        let reply = handle.answer(Request::Snapshot).await;
        let mut out = serde_json::to_vec(&reply).unwrap_or_default();
        out.push(b'\n');
        conn.write_all(&out).await?;
        tokio::time::sleep(WATCH_EVERY).await;
        if changes.changed().await.is_err() {
            return conn.shutdown().await;
        }
    }
}

/// Asks the foreground `up` of `project`; `None` when none serves an endpoint (no `up`, an `up --detach`, or
/// the socket of one that was killed).
pub async fn ask(project: &str, request: &Request) -> Result<Option<Reply>> {
    let path = socket_path(project);
    let Ok(mut conn) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
    let io =
        |e: std::io::Error| Error::Runtime(format!("control endpoint {}: {e}", path.display()));
    let text = serde_json::to_vec(request).map_err(|e| Error::Runtime(e.to_string()))?;
    conn.write_all(&text).await.map_err(io)?;
    conn.shutdown().await.map_err(io)?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.map_err(io)?;
    let reply = serde_json::from_slice(&answer).map_err(|e| {
        Error::Runtime(format!(
            "control endpoint {}: not a reply: {e}",
            path.display()
        ))
    })?;
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_socket_is_private_answers_a_snapshot_replaces_a_stale_one_and_goes_with_the_run() {
        let project = format!("control-test-{}", std::process::id());
        let path = socket_path(&project);
        // What a killed `up` leaves: a socket nobody listens on.
        drop(std::os::unix::net::UnixListener::bind(&path).expect("stale socket"));
        assert_eq!(ask(&project, &Request::Snapshot).await.ok().flatten(), None);
        let handle = Handle::new(&project, true);
        handle.state.begin(&["app".to_string()]);
        let endpoint = serve(&handle, &project).expect("served");
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let reply = ask(&project, &Request::Snapshot)
            .await
            .expect("asked")
            .expect("a reply");
        let snap = reply.snapshot.expect("a snapshot");
        assert_eq!(snap.project, project);
        assert!(snap.manual);
        assert_eq!(snap.services["app"].phase.text(), "waiting");
        // Steering waits for the end of start-up.
        let r = ask(
            &project,
            &Request::Stop {
                service: "app".into(),
            },
        )
        .await
        .expect("asked")
        .expect("reply");
        assert!(
            !r.ok && r.error.as_deref().is_some_and(|e| e.contains("starting")),
            "{r:?}"
        );
        drop(endpoint);
        assert!(!path.exists(), "removed with the run");
        assert_eq!(ask(&project, &Request::Snapshot).await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn watch_sends_the_snapshot_then_each_change() {
        use tokio::io::AsyncBufReadExt;
        let project = format!("control-watch-{}", std::process::id());
        let handle = Handle::new(&project, false);
        handle.state.begin(&["app".to_string()]);
        let endpoint = serve(&handle, &project).expect("served");
        let mut conn = UnixStream::connect(socket_path(&project))
            .await
            .expect("connect");
        conn.write_all(br#"{"op":"watch"}"#).await.expect("write");
        conn.shutdown().await.expect("shutdown");
        let mut lines = tokio::io::BufReader::new(conn).lines();
        let phase = |line: Option<String>| {
            let reply: Reply = serde_json::from_str(&line.expect("a line")).expect("a reply");
            reply.snapshot.expect("a snapshot").services["app"]
                .phase
                .text()
        };
        assert_eq!(phase(lines.next_line().await.expect("read")), "waiting");
        handle.state.hold("app", true);
        assert_eq!(phase(lines.next_line().await.expect("read")), "stopped");
        drop(endpoint);
    }
}
