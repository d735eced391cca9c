//! The `up` command: one `up` per project (the lock), the signal handlers, the engine connection, the
//! preflight, then [`run`](crate::run::run) with the stop requests as tokens.

use std::sync::atomic::Ordering;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::output::event::Command;
use crate::output::printer::{Printer, TOOL};
use crate::reconcile;
use crate::run::{StopSignals, UpOptions, run};
use crate::spec::Spec;
use crate::ui::{Feed, Port};

/// The first Ctrl-C stops gracefully, the second kills: one listener for the whole run, so no SIGINT is
/// swallowed between the two. A closed stdout (`up | head`) stops as Ctrl-C does. Ends when `done` is cancelled.
async fn listen(
    (mut sigint, mut sigterm): (Signal, Signal),
    output_closed: CancellationToken,
    signals: StopSignals,
    done: CancellationToken,
) {
    tokio::select! {
        () = done.cancelled() => return,
        Some(()) = sigint.recv() => {}
        Some(()) = sigterm.recv() => signals.terminated.store(true, Ordering::SeqCst),
        // The reader chose to stop reading: exit 0 as when `down` asks by SIGTERM, not 130; nobody sees the
        // messages of the stop any more.
        () = output_closed.cancelled() => signals.terminated.store(true, Ordering::SeqCst),
        else => return,
    }
    signals.stop.cancel();
    tokio::select! {
        () = done.cancelled() => {}
        Some(()) = sigint.recv() => signals.kill.cancel(),
        Some(()) = sigterm.recv() => signals.kill.cancel(),
        else => {}
    }
}

/// Runs `up` (`manual`: saves wait for `trigger`; `ui`: serve the dashboard there); returns the exit code.
/// Its printer is made from `out`, with its settings.
pub async fn up(
    spec: Spec,
    opts: UpOptions,
    manual: bool,
    ui: Option<Port>,
    out: &Printer,
) -> Result<u8> {
    let selected = reconcile::selection(&spec, &opts.services).map_err(Error::Usage)?;
    let lock = crate::run::lock::acquire(&spec.project)?;
    // Registered before anything else can take a while, so a Ctrl-C from here on is ours to handle (and the
    // lock is released cleanly).
    let sigint = signal(SignalKind::interrupt())
        .map_err(|e| Error::Runtime(format!("installing the Ctrl-C handler: {e}")))?;
    // `down` in another terminal sends SIGTERM: stop as on Ctrl-C rather than die and leave the containers
    // running, or keep watching a project that `down` removed under us.
    let sigterm = signal(SignalKind::terminate())
        .map_err(|e| Error::Runtime(format!("installing the SIGTERM handler: {e}")))?;
    let signals = StopSignals {
        control: crate::run::control::Handle::new(&spec.project, manual),
        ..StopSignals::default()
    };
    // A foreground run serves its state and takes steering commands; dropped (before the lock), the socket goes.
    let endpoint = if opts.detach {
        None
    } else {
        // Without it the run goes on: `ps` shows no phases and the steering commands act on the engine.
        crate::run::control::serve(&signals.control, &spec.project)
            .inspect_err(|e| {
                eprintln!("warning: {e}; `ps` shows no phases, steering acts on the engine");
            })
            .ok()
    };
    let done = CancellationToken::new();
    let printer = out.spawn(spec.services.keys().map(String::as_str));
    let dashboard = dashboard(&spec, ui, &signals, &printer).await?;
    let listener = tokio::spawn(listen(
        (sigint, sigterm),
        printer.output_closed(),
        signals.clone(),
        done.clone(),
    ));
    let result = async {
        let engine = crate::engine::connect().await?;
        // Before anything is created: a taken host port would otherwise fail a container start halfway.
        crate::doctor::preflight(&*engine, &spec, &selected).await?;
        // Allowed by the spec, never silent: one line per mount that hands a container part of the host.
        for s in &selected {
            for m in &spec.services[s].host_mounts {
                printer.say(s, Command::HostMount(m.describe()));
            }
        }
        if manual {
            printer.say(TOOL, Command::ManualMode(spec.command("trigger SERVICE")));
        }
        if let Some(pid) = lock.reclaimed_from {
            printer.say(TOOL, Command::Adopting(pid));
        }
        run(engine, spec, opts, printer, signals, None).await
    }
    .await;
    done.cancel();
    let _ = listener.await;
    drop(dashboard);
    drop(endpoint);
    result
}

/// Starts the dashboard, if asked, and says where it is. A port asked for (`--ui-port`) that cannot be had is
/// an error; when the default and the ports after it are all taken, the run goes on without a dashboard.
async fn dashboard(
    spec: &Spec,
    ui: Option<Port>,
    signals: &StopSignals,
    printer: &Printer,
) -> Result<Option<crate::ui::Dashboard>> {
    // A killed `up` leaves its URL behind; this run holds the lock now, so it is not anyone's.
    let _ = std::fs::remove_file(crate::ui::link::path_for(&spec.project));
    let Some(port) = ui else {
        return Ok(None);
    };
    let feed = Feed {
        project: spec.project.clone(),
        control: signals.control.clone(),
        ports: crate::ui::ports(spec),
        printer: printer.clone(),
        spec: std::sync::Arc::new(spec.clone()),
    };
    match crate::ui::start(port, feed).await {
        Ok(d) => {
            let link = crate::ui::hyperlink(&d.url, console::Term::stdout().is_term());
            printer.say(TOOL, Command::Dashboard(link));
            Ok(Some(d))
        }
        Err(e) if port == Port::Default => {
            printer.say(TOOL, Command::NoDashboard(e.to_string()));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
