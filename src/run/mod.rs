//! The run of a project: reconcile it with the spec and run it. Images are pulled or built at once, in
//! parallel; each service then waits for its dependencies to be READY (probed), runs its init steps, and
//! starts. In the foreground the dev loop, supervisors and log followers run until a stop request, then the
//! project stops in reverse dependency order. One cancellation tree and one task tracker (`tasks.rs`) hold
//! everything a run spawns. The `up` command (`commands/up.rs`) installs the signals and calls [`run`].

pub(crate) mod attach;
pub mod control;
pub(crate) mod dev_loop;
pub(crate) mod follow;
pub(crate) mod forward;
pub(crate) mod lock;
pub(crate) mod memory;
pub(crate) mod output_tail;
pub(crate) mod read;
pub(crate) mod rebuild;
pub(crate) mod seam;
pub mod state;
pub(crate) mod steer;
pub(crate) mod supervise;
pub(crate) mod swap;
pub(crate) mod tasks;
pub(crate) mod trigger;

#[cfg(test)]
mod await_tests;
#[cfg(test)]
mod loop_said;
#[cfg(test)]
mod loop_tests;
mod shutdown;
mod startup;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod stop_tests;
#[cfg(test)]
mod tests;

pub use shutdown::{remove_network, remove_project_containers};
pub use startup::{Made, bring_up, ensure_project_objects, last_lines, last_lines_heading};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::error::{EXIT_INTERRUPTED, EXIT_OK, Error, Result};
use crate::output::event::{Life, TERM_WHY};
use crate::output::printer::{Printer, TOOL};
use crate::reconcile;
use crate::run::attach::{Attaching, Feeds};
use crate::run::tasks::Tasks;
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
    /// Foreground with watch: the run owns the host ports of the services it rebuilds (a userspace
    /// forwarder), so a rebuild swaps their containers with no gap.
    pub forward: bool,
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
    /// Where the run keeps its observable state and takes steering commands (the control endpoint's side).
    pub control: control::Handle,
}

impl StopSignals {
    fn by_sigterm(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }
}

/// Brings the project up on `engine` and, in the foreground, runs it until `signals` say stop, then stops it;
/// returns the exit code. Everything it spawns hangs off one cancellation tree rooted at `signals.stop` and is
/// tracked by one task tracker, which it waits for before it returns. `sources` replace the real watchers.
pub async fn run(
    engine: Arc<dyn Engine>,
    mut spec: Spec,
    opts: UpOptions,
    printer: Printer,
    signals: StopSignals,
    sources: Option<crate::run::dev_loop::Sources>,
) -> Result<u8> {
    let selected = reconcile::selection(&spec, &opts.services).map_err(Error::Usage)?;
    let started_at = Instant::now();
    let tasks = Tasks::for_run(&signals.stop, &signals.control, &selected);
    let stopped_code = |term: bool| if term { EXIT_OK } else { EXIT_INTERRUPTED };

    // Foreground: follow every selected service from the start, across replacements, each container the run
    // starts attached before its start.
    let feeds = Feeds::default();
    let engine: Arc<dyn Engine> = if opts.detach {
        engine
    } else {
        Arc::new(Attaching::new(engine, feeds.clone()))
    };
    if !opts.detach {
        for s in &selected {
            crate::run::follow::spawn_tracked(
                &tasks.tracker,
                &engine,
                &spec,
                s,
                &printer,
                crate::run::read::From::Now,
                tasks.followers.clone(),
                &feeds,
            );
        }
    }

    let forwarder = if opts.forward && opts.watch && !opts.detach {
        let names = forwarded_services(&*engine, &mut spec, &selected).await?;
        forward::Forwarder::bind(&engine, &spec, &names, &tasks).await?
    } else {
        forward::Forwarder::default()
    };

    // Watching starts now, not once every service is ready: a save during start-up (PinShare's takes minutes)
    // waits in the channel and is built once start-up is over, or found already taken by the start-up build.
    let sources = match sources {
        Some(given) => Some(given),
        None if opts.watch && !opts.detach => {
            Some(crate::run::dev_loop::Sources::real(&spec, &printer))
        }
        None => None,
    };

    let mut made = crate::run::startup::Made::default();
    let result = start_up(
        &engine, &spec, &selected, &printer, &tasks, &opts, started_at, &mut made,
    )
    .await;

    let code = match result {
        Err(_) if tasks.root.is_cancelled() => {
            let why = if signals.by_sigterm() {
                format!("{TERM_WHY} during start-up")
            } else {
                "interrupted during start-up".to_string()
            };
            printer.say(TOOL, Life::StartUpCut(why));
            let _guard = tasks.quiesce().await;
            // Creates that were in flight when start-up ended finish first, and no task that is still winding
            // down can create anything after, so the look below sees everything.
            engine.stop_creating().await;
            remove_project_containers(&*engine, &spec, &printer, false).await?;
            remove_network(&*engine, &spec).await;
            finish(&tasks, &printer, &feeds).await;
            stopped_code(signals.by_sigterm())
        }
        Err(e) => {
            tasks.followers.cancel();
            if !opts.detach {
                printer.say(TOOL, Life::StartUpFailed);
                printer.flush().await;
                remove_project_containers(&*engine, &spec, &printer, false).await?;
            }
            // Nothing new is left behind by a failed start-up: what it created goes once nothing uses it.
            crate::run::shutdown::remove_made(&*engine, &spec, &made, &printer).await;
            if !opts.detach {
                remove_network(&*engine, &spec).await;
            }
            finish(&tasks, &printer, &feeds).await;
            printer.flush().await;
            return Err(e);
        }
        Ok(()) if opts.detach => {
            let all = Life::AllReady {
                count: selected.len(),
                after: started_at.elapsed(),
            };
            printer.say(TOOL, all);
            EXIT_OK
        }
        Ok(()) => {
            tasks.spawn_until(
                &tasks.monitors,
                crate::run::memory::watch(
                    engine.clone(),
                    spec.clone(),
                    selected.clone(),
                    printer.clone(),
                    crate::run::memory::PERIOD,
                ),
            );
            crate::run::dev_loop::run(
                crate::run::dev_loop::Session {
                    engine: engine.clone(),
                    spec: spec.clone(),
                    selected: selected.clone(),
                    printer: printer.clone(),
                    watch: opts.watch,
                    tasks: tasks.clone(),
                    feeds: feeds.clone(),
                    forwarder: forwarder.clone(),
                },
                sources,
            )
            .await;
            printer.say(
                TOOL,
                Life::Stopping {
                    by_sigterm: signals.by_sigterm(),
                },
            );
            // No rebuild, reload or restart changes anything from here on.
            let _guard = tasks.quiesce().await;
            tokio::select! {
                r = async {
                    // An engine that is away (a daemon restart) may be back in a moment: the containers are
                    // then removed rather than left behind.
                    engine_within(&*engine, &printer, SHUTDOWN_WAIT).await;
                    // A rebuild or restart stopped mid-way may still have a create in flight.
                    engine.stop_creating().await;
                    remove_project_containers(&*engine, &spec, &printer, true).await?;
                    remove_network(&*engine, &spec).await;
                    Ok::<_, Error>(())
                } => r?,
                () = signals.kill.cancelled() => {
                    printer.say(TOOL, Life::Killing);
                    engine.stop_creating().await;
                    remove_project_containers(&*engine, &spec, &printer, false).await?;
                    remove_network(&*engine, &spec).await;
                }
            }
            finish(&tasks, &printer, &feeds).await;
            printer.say(
                TOOL,
                Life::Stopped {
                    by_sigterm: signals.by_sigterm(),
                },
            );
            stopped_code(signals.by_sigterm())
        }
    };
    printer.flush().await;
    Ok(code)
}

/// The services whose host ports a foreground run forwards: those it rebuilds (built images, kubo aside: its
/// repo lock allows one daemon, so it is swapped stop-first) that publish ports. One left running by an
/// `up --detach` holds its host ports in the engine and keeps them: it is adopted as it is.
async fn forwarded_services(
    engine: &dyn Engine,
    spec: &mut Spec,
    selected: &[String],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut reach = None;
    for name in selected {
        let svc = &spec.services[name];
        if svc.ports.is_empty()
            || !matches!(svc.image, crate::spec::ImageSource::Build(_))
            || !swap::side_by_side(svc)
        {
            continue;
        }
        if let Some(c) = engine.inspect_container(&spec.container_name(name)).await?
            && c.is_running()
            && !crate::container::is_forwarded(&c)
        {
            continue;
        }
        let how = match reach {
            Some(how) => how,
            None => *reach.insert(forward::reach(engine, spec).await?),
        };
        spec.run.forwarded.insert(name.clone(), how);
        out.push(name.clone());
    }
    Ok(out)
}

/// Start-up. One that failed because the engine went away is not the project's failure: a foreground run waits
/// for the engine and goes on from what is there (start-up keeps what is up to date).
#[allow(clippy::too_many_arguments)]
async fn start_up(
    engine: &Arc<dyn Engine>,
    spec: &Spec,
    selected: &[String],
    printer: &Printer,
    tasks: &Tasks,
    opts: &UpOptions,
    started_at: Instant,
    made: &mut crate::run::startup::Made,
) -> Result<()> {
    loop {
        let r = bring_up(
            engine,
            spec,
            selected,
            printer,
            (started_at, &tasks.startup, &tasks.control.state),
            made,
        )
        .await;
        if r.is_err()
            && !opts.detach
            && !tasks.root.is_cancelled()
            && engine.version().await.is_err()
            && engine_back(&**engine, printer, &tasks.root).await
        {
            continue;
        }
        return r;
    }
}

/// How long a stopping run waits for an engine that is away before it gives up and says what is left.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits up to `limit` for the engine to answer, saying so when it does not at once.
async fn engine_within(engine: &dyn Engine, printer: &Printer, limit: std::time::Duration) {
    if engine.version().await.is_ok() {
        return;
    }
    printer.say(TOOL, Life::EngineAwayAtStop(limit));
    let deadline = tokio::time::Instant::now() + limit;
    let mut delay = std::time::Duration::from_millis(100);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(delay).await;
        if engine.version().await.is_ok() {
            printer.say(TOOL, Life::EngineBackAtStop);
            return;
        }
        delay = (delay * 2).min(std::time::Duration::from_secs(1));
    }
}

/// Waits, with backoff, for the engine to answer again; false when the run was stopped first.
async fn engine_back(engine: &dyn Engine, printer: &Printer, stop: &CancellationToken) -> bool {
    printer.say(TOOL, Life::EngineAwayAtStartUp);
    let t = Instant::now();
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        tokio::select! {
            () = stop.cancelled() => return false,
            () = tokio::time::sleep(delay) => {}
        }
        if engine.version().await.is_ok() {
            printer.say(TOOL, Life::EngineBackAtStartUp(t.elapsed()));
            return true;
        }
        delay = (delay * 2).min(std::time::Duration::from_secs(2));
    }
}

/// How long the output may make no progress before it is given up on (a stdout nobody reads).
const STUCK: std::time::Duration = std::time::Duration::from_secs(3);

/// Ends the followers and waits for every task. A follower prints its container's output to the end, and a
/// stdout that blocks (a paused pager) would hold it for ever: from here on, a write blocked for [`STUCK`]
/// gives the output up, so Ctrl-C still ends the run.
async fn finish(tasks: &Tasks, printer: &Printer, feeds: &Feeds) {
    printer.give_up_if_stuck(STUCK);
    tasks.finish().await;
    feeds.close();
}
