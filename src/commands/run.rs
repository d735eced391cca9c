//! `run SERVICE [CMD...]`: a one-off container from the service's image (built as `up` would), with its
//! environment, volumes and network, after its dependencies are up and ready (the start-up of `up`, unless
//! `--no-deps`). Its exit code is the tool's; it is removed afterwards, and on Ctrl-C. It carries the project
//! label and the one-off role, so `down` removes one a killed `run` left and nothing takes it for the service's.
//! Our stdin is the container's (closed at its end, as `docker run -i`); when stdin and stdout are both a
//! terminal the container gets a TTY, as `exec` gives one: the terminal raw for the session, its size followed.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::commands::exec::{RawMode, Resize, copy_output, follow_window_size, forward_stdin};
use crate::commands::logs::check_services;
use crate::engine::{ContainerSpec, Engine, Role};
use crate::error::{Error, Result};
use crate::labels;
use crate::output::printer::Printer;
use crate::spec::{Service, Spec};

/// What `run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The service whose image, environment, volumes and network the container gets.
    pub service: String,
    /// The command (arguments to the image's entrypoint); empty = the service's.
    pub argv: Vec<String>,
    /// `--entrypoint`: this program instead of the image's entrypoint.
    pub entrypoint: Option<String>,
    /// `-e K=V`, each, on top of the service's environment.
    pub env: Vec<String>,
    /// Leave the dependencies alone.
    pub no_deps: bool,
}

/// Runs the one-off container to its end; returns its exit code (130 after Ctrl-C).
pub async fn run(spec: &Spec, opts: RunOptions, out: &Printer) -> Result<u8> {
    check_services(spec, std::slice::from_ref(&opts.service))?;
    if let Some(bad) = opts.env.iter().find(|e| !e.contains('=')) {
        return Err(Error::Usage(format!(
            "-e {bad}: expected KEY=VALUE (e.g. -e IPFS_LOGGING=debug)"
        )));
    }
    let cancel = CancellationToken::new();
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::Runtime(format!("installing the Ctrl-C handler: {e}")))?;
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if sigint.recv().await.is_some() {
            on_ctrl_c.cancel();
        }
    });
    let engine = crate::engine::connect().await?;
    // The command's output is stdout; the tool's own lines go to stderr.
    let printer = out.spawn_stderr(spec.services.keys().map(String::as_str));
    let r = prepare_and_run(&engine, spec, &opts, &printer, &cancel).await;
    printer.flush().await;
    r
}

async fn prepare_and_run(
    engine: &Arc<dyn Engine>,
    spec: &Spec,
    opts: &RunOptions,
    printer: &Printer,
    cancel: &CancellationToken,
) -> Result<u8> {
    let svc = &spec.services[&opts.service];
    let deps: Vec<String> = crate::reconcile::selection(spec, std::slice::from_ref(&opts.service))
        .map_err(Error::Usage)?
        .into_iter()
        .filter(|s| *s != opts.service)
        .collect();
    if opts.no_deps || deps.is_empty() {
        crate::run::ensure_project_objects(
            &**engine,
            spec,
            printer,
            &mut crate::run::Made::default(),
        )
        .await?;
    } else {
        crate::doctor::preflight(&**engine, spec, &deps).await?;
        crate::run::bring_up(
            engine,
            spec,
            &deps,
            printer,
            (Instant::now(), cancel, &Default::default()),
            &mut crate::run::Made::default(),
        )
        .await?;
    }
    let image = crate::run::tasks::unless_cancelled(
        cancel,
        crate::image::resolve_image(&**engine, spec, svc, printer),
    )
    .await
    .ok_or(Error::Interrupted)??;
    let name = format!(
        "{}-run-{}",
        spec.container_name(&svc.name),
        std::process::id()
    );
    let mut body = one_off_body(spec, svc, &image.id, opts);
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    (body.stdin, body.tty) = (true, tty);
    engine.create_container(&name, body).await?;
    printer.flush().await;
    let r = run_container(engine, &name, (svc, tty), cancel).await;
    // Removed whatever happened: a one-off is not kept (`down` removes one a kill left behind).
    engine.remove_container(&name).await?;
    r
}

/// The service's container body, made one-off: the command given, the extra environment, no published ports
/// (the service's own container has them), no network alias (the service's name still reaches the service),
/// and the one-off role instead of the service's.
pub(crate) fn one_off_body(
    spec: &Spec,
    svc: &Service,
    image: &str,
    opts: &RunOptions,
) -> ContainerSpec {
    let mut body = crate::container::container_body(spec, svc, "", None);
    body.image = image.to_string();
    body.labels = labels::container(&spec.project, &svc.name, Role::OneOff, "");
    body.labels.remove(labels::CONFIG_HASH);
    body.labels
        .insert(labels::ONEOFF.to_string(), "true".to_string());
    body.labels.extend(spec.labels.clone());
    body.hostname = None;
    body.ports.clear();
    if let Some(net) = body.network.as_mut() {
        net.aliases.clear();
    }
    if let Some(program) = &opts.entrypoint {
        // As with `docker run --entrypoint`: the image's command belonged to the entrypoint it replaces.
        body.entrypoint = Some(vec![program.clone()]);
        body.cmd = Some(Vec::new());
    }
    if !opts.argv.is_empty() {
        body.cmd = Some(opts.argv.clone());
    }
    body.env.extend(opts.env.iter().cloned());
    body
}

/// Attaches (stdin too), starts, forwards stdin, copies the output (stderr to stderr, unless under a TTY) and
/// waits; on Ctrl-C stops the container with the service's grace and answers [`Error::Interrupted`] (under a
/// TTY, Ctrl-C is a key the container's program gets).
async fn run_container(
    engine: &Arc<dyn Engine>,
    name: &str,
    (svc, tty): (&Service, bool),
    cancel: &CancellationToken,
) -> Result<u8> {
    // Attached before the start, so the first line is not missed.
    let session = engine.attach_stdin(name).await?;
    // Raw from before the first byte is forwarded until after the last is written; restored on every path.
    let raw = if tty { RawMode::enter() } else { None };
    engine.start_container(name).await?;
    if tty {
        tokio::spawn(follow_window_size(
            Arc::clone(engine),
            Resize::Container(name.to_string()),
        ));
    }
    tokio::spawn(forward_stdin(session.input, !tty));
    let copy = async {
        let copied = copy_output(session.output).await;
        drop(raw);
        copied
    };
    let finished = async {
        let (copied, code) = tokio::join!(copy, engine.wait_container(name));
        copied?;
        Ok::<_, Error>(code?)
    };
    tokio::select! {
        code = finished => {
            let code = code?;
            // Exit codes are 0..=255 on Unix; anything else is the engine's own failure.
            Ok(u8::try_from(code).unwrap_or(1))
        }
        () = cancel.cancelled() => {
            engine.stop_container(name, svc.stop_grace).await?;
            Err(Error::Interrupted)
        }
    }
}
