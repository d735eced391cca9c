//! `exec SERVICE CMD...`: a command in the service's running container, through the Engine API. On a terminal
//! (stdin and stdout both) it gets a TTY: the local terminal goes raw for the session and is restored after,
//! and the window size follows SIGWINCH. Piped, stdout and stderr stay apart and stdin is forwarded until its
//! end. The command's exit code is the tool's.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::commands::logs::check_services;
use crate::engine::{Engine, ExecRequest, Role};
use crate::error::{Error, Result};
use crate::spec::Spec;

/// What `exec` was asked to run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The service whose container runs it.
    pub service: String,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-e K=V`, each.
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
}

/// Runs the command in the service's running container; returns its exit code.
pub async fn exec(spec: &Spec, opts: ExecOptions) -> Result<u8> {
    check_services(spec, std::slice::from_ref(&opts.service))?;
    if let Some(bad) = opts.env.iter().find(|e| !e.contains('=')) {
        return Err(Error::Usage(format!(
            "-e {bad}: expected KEY=VALUE (e.g. -e IPFS_LOGGING=debug)"
        )));
    }
    let engine = crate::engine::connect().await?;
    let container = running_container(&*engine, spec, &opts.service).await?;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let req = ExecRequest {
        argv: opts.argv,
        user: opts.user,
        env: opts.env,
        workdir: opts.workdir,
        tty,
    };
    let session = engine.exec_attached(&container, &req).await?;
    // Raw from before the first byte is forwarded until after the last is written; restored on every path.
    let raw = if tty { RawMode::enter() } else { None };
    if tty {
        tokio::spawn(follow_window_size(
            std::sync::Arc::clone(&engine),
            Resize::Exec(session.id.clone()),
        ));
    }
    tokio::spawn(forward_stdin(session.input, !tty));
    let copied = copy_output(session.output).await;
    drop(raw);
    copied?;
    let code = exit_code(&*engine, &session.id).await?;
    // Exit codes are 0..=255 on Unix; the engine reports -1 or more only for a failure of its own.
    Ok(u8::try_from(code).unwrap_or(1))
}

/// The service's running container (found by the project and service labels), or an error saying how to
/// start it. A one-off `run` container is not the service's.
async fn running_container(engine: &dyn Engine, spec: &Spec, service: &str) -> Result<String> {
    let own = spec.container_name(service);
    let mut candidates: Vec<_> = engine
        .project_containers(&spec.project)
        .await?
        .into_iter()
        .filter(|c| c.service == service && c.role == Some(Role::Service) && c.is_running())
        .collect();
    // During a swap two run at once; the one with the service's own name is the one that serves.
    candidates.sort_by_key(|c| c.name != own);
    candidates.into_iter().next().map(|c| c.name).ok_or_else(|| {
        Error::Runtime(format!(
            "service `{service}` of project {} has no running container; start it with `{}` (or `{}`)",
            spec.project,
            spec.command(&format!("up --detach {service}")),
            spec.command(&format!("up {service}"))
        ))
    })
}

/// Writes the command's output to ours as it comes: stderr to stderr, the rest to stdout.
pub(crate) async fn copy_output(
    mut output: futures_util::stream::BoxStream<'static, crate::engine::R<crate::engine::LogChunk>>,
) -> Result<()> {
    while let Some(chunk) = output.next().await {
        let chunk = chunk?;
        // A reader that went away (`| head`) ends the copy, not the command's exit code.
        let written = if chunk.stderr {
            let mut e = std::io::stderr().lock();
            e.write_all(&chunk.bytes).and_then(|()| e.flush())
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&chunk.bytes).and_then(|()| o.flush())
        };
        if written.is_err() {
            break;
        }
    }
    Ok(())
}

/// Forwards our stdin to the command's; at its end, closes the command's stdin when `close_at_end` (piped
/// input), so `cat` and friends finish. Read on a thread of its own: a blocking read of a terminal never returns
/// when the command ends first, and such a thread does not hold up the exit.
pub(crate) async fn forward_stdin(
    mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    close_at_end: bool,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 8192];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    while let Some(bytes) = rx.recv().await {
        if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
            return;
        }
    }
    if close_at_end {
        let _ = input.shutdown().await;
    }
}

/// Whose TTY follows the terminal's size.
pub(crate) enum Resize {
    /// An exec's, by its id.
    Exec(String),
    /// A container's (`run`), by its name.
    Container(String),
}

/// Sends the terminal's size now and at every SIGWINCH, until the session ends (the task is dropped with the
/// runtime).
pub(crate) async fn follow_window_size(engine: std::sync::Arc<dyn Engine>, target: Resize) {
    let mut winch =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    loop {
        if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdout()) {
            let (rows, cols) = (size.ws_row, size.ws_col);
            let resized = match &target {
                Resize::Exec(id) => engine.exec_resize(id, rows, cols).await,
                Resize::Container(name) => engine.resize_container(name, rows, cols).await,
            };
            if let Err(e) = resized {
                tracing::debug!("{e}");
            }
        }
        match winch.as_mut() {
            Some(w) => {
                if w.recv().await.is_none() {
                    return;
                }
            }
            None => return,
        }
    }
}

/// The exit code once the engine has recorded it: the output can end a moment before the engine marks the
/// exec as finished.
async fn exit_code(engine: &dyn Engine, id: &str) -> Result<i64> {
    let mut delay = Duration::from_millis(5);
    for _ in 0..40 {
        if let Some(code) = engine.exec_exit_code(id).await? {
            return Ok(code);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
    Err(Error::Runtime(format!(
        "exec {id}: its output ended but the engine still reports it running"
    )))
}

/// The local terminal in raw mode (keys go to the container's TTY as typed, Ctrl-C included); the settings
/// it had come back when this is dropped.
pub(crate) struct RawMode {
    saved: rustix::termios::Termios,
}

impl RawMode {
    /// Raw mode on stdin's terminal; `None` (and a line at debug level) when it cannot be set.
    pub(crate) fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        match rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw) {
            Ok(()) => Some(RawMode { saved }),
            Err(e) => {
                tracing::debug!("setting the terminal to raw mode: {e}");
                None
            }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ContainerSpec;
    use crate::engine::fake::Fake;

    const SPEC: &str = "[project]\nname = \"p\"\n\n[services.ipfs]\nimage = \"kubo:1\"\n";

    async fn container(fake: &Fake, name: &str, role: Role, start: bool) {
        let spec = ContainerSpec {
            image: "kubo:1".into(),
            labels: crate::labels::container("p", "ipfs", role, "h"),
            ..Default::default()
        };
        fake.create_container(name, spec).await.expect("created");
        if start {
            fake.start_container(name).await.expect("started");
        }
    }

    #[tokio::test]
    async fn exec_goes_to_the_running_service_container_and_not_to_an_init_step() {
        let spec = crate::spec::parse(std::path::Path::new("pinshare.toml"), SPEC).expect("spec");
        let fake = Fake::new();
        fake.add_image("kubo:1", "sha256:kubo");
        container(&fake, "p-ipfs-init", Role::Init, true).await;
        let none = running_container(&fake, &spec, "ipfs")
            .await
            .map_err(|e| e.to_string());
        let err = none.expect_err("no service container runs");
        assert!(
            err.contains("service `ipfs` of project p has no running container"),
            "{err}"
        );
        assert!(err.contains("up --detach ipfs"), "{err}");

        container(&fake, "p-ipfs", Role::Service, true).await;
        let found = running_container(&fake, &spec, "ipfs")
            .await
            .expect("found");
        assert_eq!(found, "p-ipfs");
    }

    #[tokio::test]
    async fn exit_code_is_read_once_the_engine_has_it() {
        let fake = Fake::new();
        assert_eq!(exit_code(&fake, "fake-exec:7").await.ok(), Some(7));
    }
}
