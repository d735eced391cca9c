//! `up`: reconcile the project with the spec and run it. Images are pulled or built at once, in parallel;
//! each service then waits for its dependencies to be READY (probed), runs its init steps, and starts.
//! Foreground `up` streams logs until Ctrl-C, then stops in reverse dependency order.

mod shutdown;
mod startup;
#[cfg(test)]
mod stop_tests;
#[cfg(test)]
mod tests;

pub use shutdown::{remove_network, remove_project_containers};
pub use startup::{bring_up, last_lines, last_lines_heading};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::error::{EXIT_INTERRUPTED, EXIT_OK, Error, Result};
use crate::printer::{Printer, TOOL};
use crate::reconcile;
use crate::spec::Spec;
use crate::tasks::Tasks;

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Services to start (with their dependencies); empty = all.
    pub services: Vec<String>,
    /// Return once every service is ready.
    pub detach: bool,
    /// Foreground: watch sources and the spec.
    pub watch: bool,
}

/// The requests to stop a run, as tokens: the first Ctrl-C (or SIGTERM) cancels `stop`, the root of the run's
/// cancellation tree (an ordered stop follows); a second cancels `kill`.
#[derive(Clone, Default)]
pub struct StopSignals {
    /// First Ctrl-C or SIGTERM: stop in reverse dependency order and remove the containers.
    pub stop: CancellationToken,
    /// Second: kill instead.
    pub kill: CancellationToken,
    /// The stop came from SIGTERM (exit 0, and its own lines), not Ctrl-C (130).
    pub terminated: Arc<AtomicBool>,
}

impl StopSignals {
    fn by_sigterm(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }
}

/// The first Ctrl-C stops gracefully, the second kills: one listener for the whole run, so no SIGINT is
/// swallowed between the two. Ends when `done` is cancelled.
async fn listen(
    mut sigint: Signal,
    mut sigterm: Signal,
    signals: StopSignals,
    done: CancellationToken,
) {
    tokio::select! {
        () = done.cancelled() => return,
        Some(()) = sigint.recv() => {}
        Some(()) = sigterm.recv() => signals.terminated.store(true, Ordering::SeqCst),
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

/// Runs `up`; returns the exit code.
pub async fn up(spec: Spec, opts: UpOptions) -> Result<u8> {
    let selected = reconcile::selection(&spec, &opts.services).map_err(Error::Usage)?;
    let lock = crate::lock::acquire(&spec.project)?;
    // Registered before anything else can take a while, so a Ctrl-C from here on is ours to handle (and the
    // lock is released cleanly).
    let sigint = signal(SignalKind::interrupt())
        .map_err(|e| Error::Runtime(format!("installing the Ctrl-C handler: {e}")))?;
    // `down` in another terminal sends SIGTERM: stop as on Ctrl-C rather than die and leave the containers
    // running, or keep watching a project that `down` removed under us.
    let sigterm = signal(SignalKind::terminate())
        .map_err(|e| Error::Runtime(format!("installing the SIGTERM handler: {e}")))?;
    let signals = StopSignals::default();
    let done = CancellationToken::new();
    let listener = tokio::spawn(listen(sigint, sigterm, signals.clone(), done.clone()));
    let result = async {
        let engine = crate::engine::connect().await?;
        // Before anything is created: a taken host port would otherwise fail a container start halfway.
        crate::doctor::preflight(&*engine, &spec, &selected).await?;
        let printer = Printer::spawn(spec.services.keys().map(String::as_str));
        // Allowed by the spec, never silent: one line per mount that hands a container part of the host.
        for s in &selected {
            for m in &spec.services[s].host_mounts {
                let text = format!("warning: {} (allowed by allow_host_mounts)", m.describe());
                printer.event(s, &text);
            }
        }
        if let Some(pid) = lock.reclaimed_from {
            printer.event(
                TOOL,
                &format!("the previous `up` of this project (pid {pid}) ended without cleaning up; adopting what it left running"),
            );
        }
        run(engine, spec, opts, printer, signals, None).await
    }
    .await;
    done.cancel();
    let _ = listener.await;
    result
}

/// Why the run ends, for its last lines: a SIGTERM is a request to stop, not an interruption.
const TERM_WHY: &str =
    "asked to stop by SIGTERM (`pinshare-dev down` in another terminal sends it)";

/// Brings the project up on `engine` and, in the foreground, runs it until `signals` say stop, then stops it;
/// returns the exit code. Everything it spawns hangs off one cancellation tree rooted at `signals.stop` and is
/// tracked by one task tracker, which it waits for before it returns. `sources` replace the real watchers.
pub async fn run(
    engine: Arc<dyn Engine>,
    spec: Spec,
    opts: UpOptions,
    printer: Printer,
    signals: StopSignals,
    sources: Option<crate::dev::Sources>,
) -> Result<u8> {
    let selected = reconcile::selection(&spec, &opts.services).map_err(Error::Usage)?;
    let started_at = Instant::now();
    let tasks = Tasks::new(signals.stop.clone());
    let stopped_code = |term: bool| if term { EXIT_OK } else { EXIT_INTERRUPTED };

    // Foreground: follow every selected service from the start, across replacements.
    if !opts.detach {
        for s in &selected {
            crate::follow::spawn_tracked(
                &tasks.tracker,
                &engine,
                &spec,
                s,
                &printer,
                crate::follow::From::Now,
                tasks.followers.clone(),
            );
        }
    }

    let result = bring_up(
        &engine,
        &spec,
        &selected,
        &printer,
        started_at,
        &tasks.startup,
    )
    .await;

    let code = match result {
        Err(_) if tasks.root.is_cancelled() => {
            let why = if signals.by_sigterm() {
                format!("{TERM_WHY} during start-up")
            } else {
                "interrupted during start-up".to_string()
            };
            printer.event(
                TOOL,
                &format!("{why}; removing the project's containers (volumes are kept)"),
            );
            let _guard = tasks.quiesce().await;
            // Creates that were in flight when start-up ended finish first, and no task that is still winding
            // down can create anything after, so the look below sees everything.
            engine.stop_creating().await;
            remove_project_containers(&*engine, &spec, &printer, false).await?;
            remove_network(&*engine, &spec).await;
            tasks.finish().await;
            stopped_code(signals.by_sigterm())
        }
        Err(e) => {
            tasks.followers.cancel();
            if !opts.detach {
                printer.event(
                    TOOL,
                    "start-up failed; removing the project's containers (volumes are kept)",
                );
                printer.flush().await;
                remove_project_containers(&*engine, &spec, &printer, false).await?;
                remove_network(&*engine, &spec).await;
            }
            tasks.finish().await;
            printer.flush().await;
            return Err(e);
        }
        Ok(()) if opts.detach => {
            printer.event(
                TOOL,
                &format!(
                    "all {} service(s) ready in {} ms",
                    selected.len(),
                    started_at.elapsed().as_millis()
                ),
            );
            EXIT_OK
        }
        Ok(()) => {
            crate::dev::run(
                crate::dev::Session {
                    engine: engine.clone(),
                    spec: spec.clone(),
                    selected: selected.clone(),
                    printer: printer.clone(),
                    watch: opts.watch,
                    tasks: tasks.clone(),
                },
                sources,
            )
            .await;
            if signals.by_sigterm() {
                printer.event(TOOL, &format!("{TERM_WHY}; stopping"));
            } else {
                printer.event(TOOL, "stopping (press Ctrl-C again to kill)");
            }
            // No rebuild, reload or restart changes anything from here on.
            let _guard = tasks.quiesce().await;
            tokio::select! {
                r = async {
                    // A rebuild or restart stopped mid-way may still have a create in flight.
                    engine.stop_creating().await;
                    remove_project_containers(&*engine, &spec, &printer, true).await?;
                    remove_network(&*engine, &spec).await;
                    Ok::<_, Error>(())
                } => r?,
                () = signals.kill.cancelled() => {
                    printer.event(TOOL, "killing");
                    engine.stop_creating().await;
                    remove_project_containers(&*engine, &spec, &printer, false).await?;
                    remove_network(&*engine, &spec).await;
                }
            }
            tasks.finish().await;
            if signals.by_sigterm() {
                printer.event(
                    TOOL,
                    "stopped: containers and network removed at the request of SIGTERM; volumes kept",
                );
            } else {
                printer.event(TOOL, "stopped; volumes kept (down --volumes removes them)");
            }
            stopped_code(signals.by_sigterm())
        }
    };
    printer.flush().await;
    Ok(code)
}
