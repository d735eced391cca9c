//! Image builds over the Engine API: BuildKit where the engine has it (the `/build` request with `version=2`
//! and BuildKit's session protocol over `/session`, which bollard's `buildkit` feature speaks), so Dockerfiles
//! may use `RUN --mount=type=cache`, secrets and `--target` as BuildKit runs them; the classic builder where
//! the engine refuses BuildKit, saying so in the build's output; or the one `PINSHARE_DEV_BUILDER` asks for.

use std::collections::HashMap;
use std::sync::Mutex;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::BuildInfoAux;
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::stream::StreamExt;

use super::super::{EngineError, ErrorKind, R};
use super::convert::error;
use super::progress::Trace;

/// The environment variable that picks the builder: `buildkit`, `classic` or `auto` (unset: `auto`).
pub(super) const BUILDER_ENV: &str = "PINSHARE_DEV_BUILDER";

/// Which builder a build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preference {
    /// BuildKit, or the classic builder where the engine refuses BuildKit.
    Auto,
    /// BuildKit only: a refusal is the build's error.
    BuildKit,
    /// The classic builder only (`RUN --mount` then fails: the classic builder has no mounts).
    Classic,
}

/// `PINSHARE_DEV_BUILDER`'s value as a preference; the error says what the values are.
pub(super) fn preference(value: Option<&str>) -> Result<Preference, String> {
    match value.map(str::trim) {
        None | Some("" | "auto") => Ok(Preference::Auto),
        Some("buildkit") => Ok(Preference::BuildKit),
        Some("classic") => Ok(Preference::Classic),
        Some(other) => Err(format!(
            "{BUILDER_ENV}={other:?} is not a builder: use buildkit, classic or auto (unset: auto)"
        )),
    }
}

/// Why an engine speaking API `major.minor` has no BuildKit through the API: `/build?version=2` and `/session`
/// came with Engine 18.09 (API 1.39).
pub(super) fn too_old(major: usize, minor: usize) -> Option<String> {
    (major, minor).lt(&(1, 39)).then(|| {
        format!("the engine speaks API {major}.{minor}; BuildKit needs 1.39 (Engine 18.09)")
    })
}

/// A BuildKit attempt that did not build: the engine refused BuildKit itself (fall back), or the build failed.
#[derive(Debug)]
pub(super) enum Attempt {
    /// The engine did not take the build as a BuildKit build (why, in its words).
    Refused(String),
    /// A real build error: the Dockerfile, a step, the context.
    Failed(EngineError),
}

/// The two ways to run one build: BuildKit and the classic builder. The decision between them
/// ([`build`]) is separate, so it is tested with scripted answers.
#[async_trait::async_trait]
pub(super) trait Builders: Send + Sync {
    /// A BuildKit build; every output line to `output`.
    async fn buildkit(&self, output: &mut (dyn FnMut(String) + Send)) -> Result<String, Attempt>;
    /// A classic build; every output line to `output`.
    async fn classic(&self, output: &mut (dyn FnMut(String) + Send)) -> R<String>;
}

/// What is known of one engine's BuildKit, shared by its builds: `Some(why)` once it was found missing, so
/// later builds go to the classic builder without asking again.
pub(super) type Missing = Mutex<Option<String>>;

/// Runs one build with the builder `pref` asks for, falling back to the classic builder (with one line that
/// says so and why) where BuildKit is missing: known from an earlier build, from `too_old`, or refused now.
pub(super) async fn build(
    op: &str,
    pref: &Result<Preference, String>,
    missing: &Missing,
    too_old: Option<String>,
    builders: &dyn Builders,
    output: &mut (dyn FnMut(String) + Send),
) -> R<String> {
    let pref = pref
        .clone()
        .map_err(|e| EngineError::new(op, ErrorKind::Failed, e))?;
    let known = missing
        .lock()
        .map_or(None, |m| m.clone())
        .or(too_old.clone());
    match (pref, known) {
        (Preference::Classic, _) => {
            output(format!("using the classic builder ({BUILDER_ENV}=classic)"));
            return builders.classic(output).await.map_err(|mut e| {
                if e.message.contains("BuildKit") {
                    e.message.push_str(&format!(
                        " ({BUILDER_ENV}=classic chose the classic builder: unset it to build with BuildKit)"
                    ));
                }
                e
            });
        }
        (Preference::Auto, Some(why)) => return fall_back(&why, builders, output).await,
        (Preference::BuildKit, Some(why)) if too_old.is_some() => {
            return Err(EngineError::new(
                op,
                ErrorKind::Failed,
                format!(
                    "BuildKit unavailable ({why}); unset {BUILDER_ENV} to use the classic builder"
                ),
            ));
        }
        _ => {}
    }
    match builders.buildkit(output).await {
        Ok(id) => {
            if let Ok(mut m) = missing.lock() {
                *m = None;
            }
            Ok(id)
        }
        Err(Attempt::Failed(e)) => Err(e),
        Err(Attempt::Refused(why)) if pref == Preference::BuildKit => Err(EngineError::new(
            op,
            ErrorKind::Failed,
            format!(
                "BuildKit unavailable ({why}); {BUILDER_ENV}=buildkit allows no fallback: unset it to use the classic builder"
            ),
        )),
        Err(Attempt::Refused(why)) => {
            if let Ok(mut m) = missing.lock() {
                *m = Some(why.clone());
            }
            fall_back(&why, builders, output).await
        }
    }
}

async fn fall_back(
    why: &str,
    builders: &dyn Builders,
    output: &mut (dyn FnMut(String) + Send),
) -> R<String> {
    output(format!(
        "BuildKit unavailable ({why}); using the classic builder"
    ));
    builders.classic(output).await.map_err(|mut e| {
        if e.message.contains("BuildKit") {
            e.message.push_str(&format!(
                " (BuildKit is unavailable here: {why}; this Dockerfile needs it)"
            ));
        }
        e
    })
}

/// One build request to the Docker engine, by either builder.
pub(super) struct Request {
    pub docker: Docker,
    pub tag: String,
    pub dockerfile: String,
    pub context_tar: bytes::Bytes,
    pub args: HashMap<String, String>,
    pub target: Option<String>,
    pub labels: HashMap<String, String>,
}

/// Runs [`build`] on a runtime of its own, on a thread of its own, with a client of its own, and drops that
/// runtime when the build ends. bollard serves BuildKit's session on a task it spawns and never ends, which
/// holds the `/session` connection (and the engine's session) open: one socket more per build, for as long as
/// `up` runs (measured: 11 → 15 sockets after four rebuilds). Dropping the runtime ends that task and closes
/// the connection. A caller that stops waiting (Ctrl-C, a newer save) drops the build the same way.
pub(super) async fn build_apart(
    op: String,
    pref: Result<Preference, String>,
    missing: std::sync::Arc<Missing>,
    too_old: Option<String>,
    request: Request,
    output: &mut (dyn FnMut(String) + Send),
) -> R<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<R<String>>();
    let failed = |e: String| EngineError::new(op.clone(), ErrorKind::Failed, e);
    let thread_op = op.clone();
    std::thread::Builder::new()
        .name("image-build".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = done_tx.send(Err(EngineError::new(
                        thread_op,
                        ErrorKind::Failed,
                        format!("starting the build's runtime: {e}"),
                    )));
                    return;
                }
            };
            let result = rt.block_on(async {
                let mut out = |l: String| {
                    let _ = tx.send(l);
                };
                tokio::select! {
                    r = build(&thread_op, &pref, &missing, too_old, &request, &mut out) => Some(r),
                    () = tx.closed() => None,
                }
            });
            drop(request);
            drop(rt);
            if let Some(r) = result {
                let _ = done_tx.send(r);
            }
        })
        .map_err(|e| failed(format!("starting the build's thread: {e}")))?;
    while let Some(line) = rx.recv().await {
        output(line);
    }
    done_rx
        .await
        .unwrap_or_else(|_| Err(failed("the build's thread ended without an answer".into())))
}

impl Request {
    fn op(&self) -> String {
        format!("building image {}", self.tag)
    }

    fn options(&self) -> BuildImageOptionsBuilder {
        let mut b = BuildImageOptionsBuilder::default()
            .dockerfile(&self.dockerfile)
            .t(&self.tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&self.args)
            .labels(&self.labels);
        if let Some(t) = &self.target {
            b = b.target(t);
        }
        b
    }

    /// The id the build reported, else the tag's (an engine that reports none, or reported it in a form we
    /// did not read).
    async fn image_id(&self, reported: Option<String>) -> R<String> {
        if let Some(id) = reported.filter(|i| !i.is_empty()) {
            return Ok(id);
        }
        match self.docker.inspect_image(&self.tag).await {
            Ok(i) => i.id.ok_or_else(|| {
                EngineError::new(self.op(), ErrorKind::Failed, "the built image has no id")
            }),
            Err(e) => Err(EngineError::new(
                self.op(),
                ErrorKind::Failed,
                format!(
                    "the build finished without an image ({})",
                    error("", &e).message
                ),
            )),
        }
    }
}

/// A session id per build, unique in this process and across processes. Stateless, so no counter is shared
/// between builds: the pid tells processes apart, 64 random bits (the clock's nanoseconds where the system
/// has no randomness to give) tell this process's builds apart.
pub(super) fn session_id(tag: &str) -> String {
    let nonce = getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    format!(
        "pinshare-dev-{}-{nonce:016x}-{}",
        std::process::id(),
        tag.replace(['/', ':'], "-")
    )
}

/// Whether a failed BuildKit build's error says the engine never ran it as one: its session never arrived
/// (bollard starts the session beside the request and does not report a failed start).
fn session_missing(message: &str) -> bool {
    message.contains("no active session") || message.contains("session not found")
}

#[async_trait::async_trait]
impl Builders for Request {
    async fn buildkit(&self, output: &mut (dyn FnMut(String) + Send)) -> Result<String, Attempt> {
        let op = self.op();
        let opts = self
            .options()
            .version(BuilderVersion::BuilderBuildKit)
            .session(&session_id(&self.tag))
            .build();
        let mut s = self.docker.build_image(
            opts,
            None,
            Some(bollard::body_full(self.context_tar.clone())),
        );
        let mut trace = Trace::default();
        let mut id = None;
        while let Some(item) = s.next().await {
            let info = match item {
                Ok(info) => info,
                // The engine answered the request itself with an error: it did not start a BuildKit build
                // (`buildkit not supported`, no such endpoint, a daemon without the builder).
                Err(BollardError::DockerResponseServerError {
                    status_code,
                    message,
                }) if !trace.started() => {
                    return Err(Attempt::Refused(format!(
                        "the engine answered {status_code}: {}",
                        message.trim()
                    )));
                }
                Err(BollardError::DockerStreamError { error: e })
                    if !trace.started() && session_missing(&e) =>
                {
                    return Err(Attempt::Refused(format!(
                        "the engine did not take BuildKit's session: {}",
                        e.trim()
                    )));
                }
                Err(BollardError::DockerStreamError { error: e }) => {
                    trace.finish().into_iter().for_each(&mut *output);
                    let msg = trace.failure().unwrap_or_else(|| e.trim().to_string());
                    return Err(Attempt::Failed(EngineError::new(
                        op,
                        ErrorKind::Failed,
                        msg,
                    )));
                }
                Err(e) => return Err(Attempt::Failed(error(op, &e))),
            };
            match info.aux {
                Some(BuildInfoAux::BuildKit(status)) => {
                    trace.lines(&status).into_iter().for_each(&mut *output);
                }
                Some(BuildInfoAux::Default(image)) => id = image.id.or(id),
                None => {}
            }
            // An engine that takes `version=2` but builds classically (Podman's compat API) streams text.
            if let Some(text) = info.stream {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .for_each(|l| output(l.to_string()));
            }
        }
        trace.finish().into_iter().for_each(&mut *output);
        self.image_id(id).await.map_err(Attempt::Failed)
    }

    async fn classic(&self, output: &mut (dyn FnMut(String) + Send)) -> R<String> {
        let op = self.op();
        let mut s = self.docker.build_image(
            self.options().build(),
            None,
            Some(bollard::body_full(self.context_tar.clone())),
        );
        let mut id = None;
        while let Some(item) = s.next().await {
            let info = match item {
                Ok(info) => info,
                Err(BollardError::DockerStreamError { error: e }) => {
                    return Err(EngineError::new(op, ErrorKind::Failed, e.trim()));
                }
                Err(e) => return Err(error(op, &e)),
            };
            if let Some(text) = info.stream {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .for_each(|l| output(l.to_string()));
            }
            if let Some(BuildInfoAux::Default(image)) = info.aux {
                id = image.id.or(id);
            }
        }
        self.image_id(id).await
    }
}
