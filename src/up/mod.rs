//! `up`: reconcile the project with the spec and run it. Images are pulled or built at once, in parallel;
//! each service then waits for its dependencies to be READY (probed), runs its init steps, and starts.
//! Foreground `up` streams logs until Ctrl-C, then stops in reverse dependency order.

mod shutdown;
mod startup;
#[cfg(test)]
mod tests;

pub use shutdown::{remove_network, remove_project_containers};
pub use startup::{bring_up, last_lines, last_lines_heading};

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::error::{EXIT_INTERRUPTED, EXIT_OK, Error, Result};
use crate::printer::{Printer, TOOL};
use crate::reconcile;
use crate::spec::Spec;

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

/// Runs `up`; returns the exit code.
pub async fn up(spec: Spec, opts: UpOptions) -> Result<u8> {
    let selected = reconcile::selection(&spec, &opts.services).map_err(Error::Usage)?;
    let lock = crate::lock::acquire(&spec.project)?;
    // Registered before anything else can take a while, so a Ctrl-C from here on is ours to handle (and the
    // lock is released cleanly).
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::Runtime(format!("installing the Ctrl-C handler: {e}")))?;
    // `down` in another terminal sends SIGTERM: stop as on Ctrl-C rather than die and leave the containers
    // running, or keep watching a project that `down` removed under us.
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Runtime(format!("installing the SIGTERM handler: {e}")))?;
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
    let started_at = Instant::now();
    let cancel = CancellationToken::new();
    // The first Ctrl-C stops gracefully, the second kills: one listener for the whole run, so no SIGINT is
    // swallowed between the two.
    let kill = CancellationToken::new();
    let terminated = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let interrupted = {
        let (cancel, kill, terminated) = (cancel.clone(), kill.clone(), Arc::clone(&terminated));
        tokio::spawn(async move {
            tokio::select! {
                Some(()) = sigint.recv() => {}
                Some(()) = sigterm.recv() => {
                    terminated.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                else => return,
            }
            cancel.cancel();
            tokio::select! {
                Some(()) = sigint.recv() => {}
                Some(()) = sigterm.recv() => {}
                else => return,
            }
            kill.cancel();
        })
    };
    // Why the run ends, for its last lines and its exit code: a SIGTERM is a request to stop (0), Ctrl-C 130.
    let by_sigterm = || terminated.load(std::sync::atomic::Ordering::SeqCst);
    const TERM_WHY: &str =
        "asked to stop by SIGTERM (`pinshare-dev down` in another terminal sends it)";
    let stopped_code = |term: bool| if term { EXIT_OK } else { EXIT_INTERRUPTED };

    // Foreground: follow every selected service from the start, across replacements.
    let followers = CancellationToken::new();
    if !opts.detach {
        for s in &selected {
            crate::follow::spawn(
                &engine,
                &spec.project,
                &spec.container_name(s),
                s,
                &printer,
                crate::follow::From::Now,
                false,
                followers.clone(),
            );
        }
    }

    let result = tokio::select! {
        r = bring_up(&engine, &spec, &selected, &printer, started_at) => Some(r),
        () = cancel.cancelled() => None,
    };

    let code = match result {
        None => {
            let why = if by_sigterm() {
                format!("{TERM_WHY} during start-up")
            } else {
                "interrupted during start-up".to_string()
            };
            printer.event(
                TOOL,
                &format!("{why}; removing the project's containers (volumes are kept)"),
            );
            // Creates that were in flight when start-up was dropped finish first, and no task that is still
            // winding down can create anything after, so the look below sees everything.
            engine.stop_creating().await;
            remove_project_containers(&*engine, &spec, &printer, false).await?;
            remove_network(&*engine, &spec).await;
            stopped_code(by_sigterm())
        }
        Some(Err(e)) => {
            followers.cancel();
            if !opts.detach {
                printer.event(
                    TOOL,
                    "start-up failed; removing the project's containers (volumes are kept)",
                );
                printer.flush().await;
                remove_project_containers(&*engine, &spec, &printer, false).await?;
                remove_network(&*engine, &spec).await;
            }
            printer.flush().await;
            return Err(e);
        }
        Some(Ok(())) if opts.detach => {
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
        Some(Ok(())) => {
            crate::dev::run(crate::dev::Session {
                engine: engine.clone(),
                spec: spec.clone(),
                selected: selected.clone(),
                printer: printer.clone(),
                watch: opts.watch,
                cancel: cancel.clone(),
                followers: followers.clone(),
            })
            .await;
            if by_sigterm() {
                printer.event(TOOL, &format!("{TERM_WHY}; stopping"));
            } else {
                printer.event(TOOL, "stopping (press Ctrl-C again to kill)");
            }
            tokio::select! {
                r = async {
                    // A rebuild or restart stopped mid-way may still have a create in flight.
                    engine.stop_creating().await;
                    remove_project_containers(&*engine, &spec, &printer, true).await?;
                    remove_network(&*engine, &spec).await;
                    Ok::<_, Error>(())
                } => r?,
                () = kill.cancelled() => {
                    printer.event(TOOL, "killing");
                    engine.stop_creating().await;
                    remove_project_containers(&*engine, &spec, &printer, false).await?;
                    remove_network(&*engine, &spec).await;
                }
            }
            followers.cancel();
            if by_sigterm() {
                printer.event(
                    TOOL,
                    "stopped: containers and network removed at the request of SIGTERM; volumes kept",
                );
            } else {
                printer.event(TOOL, "stopped; volumes kept (down --volumes removes them)");
            }
            stopped_code(by_sigterm())
        }
    };
    interrupted.abort();
    printer.flush().await;
    Ok(code)
}
