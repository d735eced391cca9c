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

    // Foreground: follow every selected service from the start, across replacements, each container the run
    // starts attached before its start.
    let feeds = Feeds::default();
    let engine: Arc<dyn Engine> = if opts.detach {
        engine
    } else {
        Arc::new(Attaching::new(engine, feeds.clone()))
    };
    if !opts.detach {
        follow_all(&tasks, &engine, &spec, &selected, &printer, &feeds);
    }
    let forwarder = forwarder_of(&engine, &mut spec, &selected, &tasks, &opts).await?;

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

    let r = Running {
        engine: &engine,
        spec: &spec,
        selected: &selected,
        printer: &printer,
        tasks: &tasks,
        feeds: &feeds,
        signals: &signals,
    };
    let code = match result {
        Err(_) if tasks.root.is_cancelled() => r.cut_short().await?,
        Err(e) => {
            r.failed(opts.detach, &made).await?;
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
        Ok(()) => r.foreground(opts.watch, &forwarder, sources).await?,
    };
    printer.flush().await;
    Ok(code)
}

/// Follows every selected service from the start, across replacements, as tasks of the run.
fn follow_all(
    tasks: &Tasks,
    engine: &Arc<dyn Engine>,
    spec: &Spec,
    selected: &[String],
    printer: &Printer,
    feeds: &Feeds,
) {
    for s in selected {
        crate::run::follow::spawn_tracked(
            &tasks.tracker,
            engine,
            spec,
            s,
            printer,
            crate::run::read::From::Now,
            tasks.followers.clone(),
            feeds,
        );
    }
}

/// The run's own forwarder of host ports: bound for the services it forwards (noted in `spec`) when the run is
/// in the foreground with watch and `--forward`, otherwise one that forwards nothing.
async fn forwarder_of(
    engine: &Arc<dyn Engine>,
    spec: &mut Spec,
    selected: &[String],
    tasks: &Tasks,
    opts: &UpOptions,
) -> Result<forward::Forwarder> {
    if !(opts.forward && opts.watch && !opts.detach) {
        return Ok(forward::Forwarder::default());
    }
    let names = forwarded_services(&**engine, spec, selected).await?;
    forward::Forwarder::bind(engine, spec, &names, tasks).await
}

/// A run's exit code once it was stopped: 0 for SIGTERM (`term`), 130 for Ctrl-C.
fn stopped_code(term: bool) -> u8 {
    if term { EXIT_OK } else { EXIT_INTERRUPTED }
}

/// What the ends of a run (start-up cut short, failed, or the foreground until stopped) share.
struct Running<'a> {
    engine: &'a Arc<dyn Engine>,
    spec: &'a Spec,
    selected: &'a [String],
    printer: &'a Printer,
    tasks: &'a Tasks,
    feeds: &'a Feeds,
    signals: &'a StopSignals,
}

impl Running<'_> {
    /// Start-up was stopped (Ctrl-C or SIGTERM): removes what is up and returns the exit code.
    async fn cut_short(&self) -> Result<u8> {
        let (engine, spec, printer) = (self.engine, self.spec, self.printer);
        let why = if self.signals.by_sigterm() {
            format!("{TERM_WHY} during start-up")
        } else {
            "interrupted during start-up".to_string()
        };
        printer.say(TOOL, Life::StartUpCut(why));
        let _guard = self.tasks.quiesce().await;
        // Creates that were in flight when start-up ended finish first, and no task that is still winding
        // down can create anything after, so the look below sees everything.
        engine.stop_creating().await;
        remove_project_containers(&**engine, spec, printer, false).await?;
        remove_network(&**engine, spec).await;
        finish(self.tasks, printer, self.feeds).await;
        Ok(stopped_code(self.signals.by_sigterm()))
    }

    /// Start-up failed: in the foreground the project's containers go; what the start-up created goes in any case.
    async fn failed(&self, detach: bool, made: &crate::run::startup::Made) -> Result<()> {
        let (engine, spec, printer) = (self.engine, self.spec, self.printer);
        self.tasks.followers.cancel();
        if !detach {
            printer.say(TOOL, Life::StartUpFailed);
            printer.flush().await;
            remove_project_containers(&**engine, spec, printer, false).await?;
        }
        // Nothing new is left behind by a failed start-up: what it created goes once nothing uses it.
        crate::run::shutdown::remove_made(&**engine, spec, made, printer).await;
        if !detach {
            remove_network(&**engine, spec).await;
        }
        finish(self.tasks, printer, self.feeds).await;
        printer.flush().await;
        Ok(())
    }

    /// The foreground after start-up: the memory watch and the dev loop until a stop request, then the stop;
    /// returns the exit code.
    async fn foreground(
        &self,
        watch: bool,
        forwarder: &forward::Forwarder,
        sources: Option<crate::run::dev_loop::Sources>,
    ) -> Result<u8> {
        let (engine, spec, selected, printer) =
            (self.engine, self.spec, self.selected, self.printer);
        let tasks = self.tasks;
        tasks.spawn_until(
            &tasks.monitors,
            crate::run::memory::watch(
                engine.clone(),
                spec.clone(),
                selected.to_vec(),
                printer.clone(),
                crate::run::memory::PERIOD,
            ),
        );
        crate::run::dev_loop::run(
            crate::run::dev_loop::Session {
                engine: engine.clone(),
                spec: spec.clone(),
                selected: selected.to_vec(),
                printer: printer.clone(),
                watch,
                tasks: tasks.clone(),
                feeds: self.feeds.clone(),
                forwarder: forwarder.clone(),
            },
            sources,
        )
        .await;
        self.stop().await
    }

    /// Stops the project after the dev loop ended: in reverse dependency order, or killed on a second request;
    /// returns the exit code.
    async fn stop(&self) -> Result<u8> {
        let (engine, spec, printer) = (self.engine, self.spec, self.printer);
        let signals = self.signals;
        printer.say(
            TOOL,
            Life::Stopping {
                by_sigterm: signals.by_sigterm(),
            },
        );
        // No rebuild, reload or restart changes anything from here on.
        let _guard = self.tasks.quiesce().await;
        tokio::select! {
            r = async {
                // An engine that is away (a daemon restart) may be back in a moment: the containers are
                // then removed rather than left behind.
                engine_within(&**engine, printer, SHUTDOWN_WAIT).await;
                // A rebuild or restart stopped mid-way may still have a create in flight.
                engine.stop_creating().await;
                remove_project_containers(&**engine, spec, printer, true).await?;
                remove_network(&**engine, spec).await;
                Ok::<_, Error>(())
            } => r?,
            () = signals.kill.cancelled() => {
                printer.say(TOOL, Life::Killing);
                engine.stop_creating().await;
                remove_project_containers(&**engine, spec, printer, false).await?;
                remove_network(&**engine, spec).await;
            }
        }
        finish(self.tasks, printer, self.feeds).await;
        printer.say(
            TOOL,
            Life::Stopped {
                by_sigterm: signals.by_sigterm(),
            },
        );
        Ok(stopped_code(signals.by_sigterm()))
    }
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
