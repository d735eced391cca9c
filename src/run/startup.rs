//! Start-up: the project's network and volumes, what is observed, and every selected service brought up in
//! dependency order of readiness, with the last lines of the first failure.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, LogOptions};
use crate::error::{Error, Result};
use crate::labels;
use crate::output::event::Life;
use crate::output::lines::LineSplitter;
use crate::output::printer::Printer;
use crate::reconcile::{self, Action, Desired, Observed, Occasion, Seen};
use crate::run::state::{self, RunState};
use crate::spec::Spec;

use crate::image::resolve_image;
use crate::output::printer::TOOL;
use crate::probe::ready::wait_ready_shown;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Pending,
    Ready,
    Failed,
}

/// The project network and volumes a start-up made (not those that were there before): a failed start-up takes
/// them away again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    /// The network, when this start-up created it.
    pub network: Option<String>,
    /// The volumes this start-up created.
    pub volumes: Vec<String>,
}

/// Ensures the project network and named volumes exist and are ours; notes in `made` what it created.
pub async fn ensure_project_objects(
    engine: &dyn Engine,
    spec: &Spec,
    printer: &Printer,
    made: &mut Made,
) -> Result<()> {
    let net = spec.network_name();
    match engine.network_labels(&net).await? {
        Some(l) if l.get(labels::PROJECT) == Some(&spec.project) => {}
        Some(_) => {
            return Err(Error::Runtime(format!(
                "network {net} exists but was not created by pinshare-dev for project {}; remove or rename it (docker network rm {net}), or set another [project] name",
                spec.project
            )));
        }
        None => {
            engine.create_network(&net, spec.object_labels()).await?;
            printer.say(TOOL, Life::NetworkCreated(net.clone()));
            made.network = Some(net);
        }
    }
    for v in spec.named_volumes() {
        let name = spec.volume_name(&v);
        match engine.volume_labels(&name).await? {
            Some(l) if l.get(labels::PROJECT) == Some(&spec.project) => {}
            Some(_) => {
                return Err(Error::Runtime(format!(
                    "volume {name} exists but was not created by pinshare-dev for project {}; it was left untouched — rename the volume in the spec or set another [project] name",
                    spec.project
                )));
            }
            None => {
                engine.create_volume(&name, spec.object_labels()).await?;
                printer.say(TOOL, Life::VolumeCreated(name.clone()));
                made.volumes.push(name);
            }
        }
    }
    Ok(())
}

/// The heading over a container's last lines: `last line of C:`, `last 20 lines of C:`.
pub fn last_lines_heading(n: usize, container: &str) -> Life {
    Life::LastLines {
        lines: n,
        container: container.to_string(),
    }
}

/// Last lines of a container's output, for error reports.
pub async fn last_lines(engine: &dyn Engine, container: &str, n: u64) -> Vec<String> {
    let mut s = engine.logs(
        container,
        &LogOptions {
            follow: false,
            tail: Some(n),
            since: None,
            timestamps: false,
        },
    );
    let mut split = LineSplitter::default();
    let mut lines = Vec::new();
    while let Some(Ok(c)) = s.next().await {
        lines.extend(split.push(&c.bytes));
    }
    lines.extend(split.finish());
    lines
}

struct Shared {
    engine: Arc<dyn Engine>,
    spec: Spec,
    printer: Printer,
    phases: HashMap<String, watch::Sender<Phase>>,
    observed: Vec<Seen>,
    started_at: Instant,
    state: RunState,
}

/// A service that did not come up.
struct Failure {
    service: String,
    error: Error,
    container_started: bool,
}

async fn start_service(sh: Arc<Shared>, name: String) -> std::result::Result<(), Failure> {
    let fail = |error: Error, started: bool| {
        let reason = error.to_string();
        sh.state.set(&name, state::Phase::Failed { reason });
        Failure {
            service: name.clone(),
            error,
            container_started: started,
        }
    };
    let spec = &sh.spec;
    let svc = &spec.services[&name];
    let built = matches!(svc.image, crate::spec::ImageSource::Build(_));
    let t = Instant::now();
    if built {
        sh.state.build_began(&name, "up", &[], t.into());
    }
    // Image work starts at once, while dependencies are still starting.
    let image = resolve_image(&*sh.engine, spec, svc, &sh.printer)
        .await
        .map_err(|e| fail(e, false))?;
    let (build, image_id) = (t.elapsed(), image.id.clone());
    dependencies_ready(&sh, &name, svc)
        .await
        .map_err(|e| fail(e, false))?;

    let container = spec.container_name(&name);
    let desired = Desired {
        hash: reconcile::config_hash(&spec.project, svc, &image.id),
        image: image.id,
        context_hash: image.context_hash,
    };
    let actions = reconcile::plan(
        spec,
        &Observed::one(spec, &sh.observed, &name, desired, Occasion::Up),
    );
    let kept = actions.iter().all(|a| matches!(a, Action::Keep { .. }));
    let mut started = Instant::now();
    sh.state.set(
        &name,
        state::Phase::Starting {
            since: started.into(),
        },
    );
    let superseded = superseded_build(&*sh.engine, &container, built && !kept).await;
    if let Err(e) = reconcile::apply(&*sh.engine, spec, &actions, &sh.printer).await {
        let exists = sh
            .engine
            .inspect_container(&container)
            .await
            .ok()
            .flatten()
            .is_some();
        return Err(fail(e, exists));
    }
    if !kept {
        started = Instant::now();
    }
    wait_ready_shown(&*sh.engine, spec, svc, &sh.printer)
        .await
        .map_err(|e| fail(e, true))?;
    said_ready(&sh, &name, kept, started, build, &image_id);
    // After the ready line: pruning is not part of the start-up the developer waits for.
    if let Some(old) = &superseded {
        crate::image::prune_superseded(&*sh.engine, spec, &name, (&image_id, old), &sh.printer)
            .await;
    }
    Ok(())
}

/// The image of the container a start-up is about to recreate (`recreate`: a built service not kept), whose
/// build the new one supersedes.
async fn superseded_build(engine: &dyn Engine, container: &str, recreate: bool) -> Option<String> {
    if !recreate {
        return None;
    }
    engine
        .inspect_container(container)
        .await
        .ok()
        .flatten()
        .map(|c| c.image)
}

/// Says that `name` is ready (or runs, without a probe) and notes it in the run's state. A kept container started
/// long before this `up`: a time "after start" would be the probe's, so it is not given.
fn said_ready(
    sh: &Shared,
    name: &str,
    kept: bool,
    started: Instant,
    build: Duration,
    image_id: &str,
) {
    let svc = &sh.spec.services[name];
    if svc.readiness.is_some() {
        let ready = Life::Ready {
            after_start: (!kept).then(|| started.elapsed()),
            since_up: sh.started_at.elapsed(),
        };
        sh.printer.say(name, ready);
    } else {
        sh.printer.say(name, Life::Running);
    }
    if matches!(svc.image, crate::spec::ImageSource::Build(_)) {
        let stages = [("build", build), ("ready", started.elapsed())];
        let served = state::BuildResult::Served {
            image: image_id.to_string(),
        };
        sh.state.build_ended(name, &stages, served);
    } else {
        sh.state.ready(name, Some(image_id));
    }
}

/// Waits for `svc`'s dependencies to be ready; the error names the first that failed.
async fn dependencies_ready(
    sh: &Shared,
    name: &str,
    svc: &crate::spec::Service,
) -> std::result::Result<(), Error> {
    let deps = svc.depends_on.clone();
    sh.state.set(name, state::Phase::Waiting { deps });
    for dep in &svc.depends_on {
        let Some(tx) = sh.phases.get(dep) else {
            continue;
        };
        let mut rx = tx.subscribe();
        let phase = rx
            .wait_for(|p| *p != Phase::Pending)
            .await
            .map(|p| p.clone())
            .unwrap_or(Phase::Failed);
        if phase == Phase::Failed {
            return Err(Error::DependencyFailed {
                service: name.to_string(),
                dependency: dep.clone(),
            });
        }
    }
    Ok(())
}

/// Brings the selected services up, in dependency order of readiness. Once `cancel` is cancelled every
/// service's task ends at its next await and this returns [`Error::Interrupted`] after all of them did. The
/// network and volumes it creates are noted in `made`.
pub async fn bring_up(
    handle: &Arc<dyn Engine>,
    spec: &Spec,
    selected: &[String],
    printer: &Printer,
    (started_at, cancel, state): (Instant, &CancellationToken, &RunState),
    made: &mut Made,
) -> Result<()> {
    let engine = handle.as_ref();
    let observed =
        crate::run::tasks::unless_cancelled(cancel, prepare(engine, spec, selected, printer, made))
            .await
            .ok_or(Error::Interrupted)??;
    let during = (started_at, cancel, state.clone());
    start_all(handle, spec, selected, printer, during, observed).await
}

/// Refuses foreign containers, makes the network and volumes, and returns what is observed.
async fn prepare(
    engine: &dyn Engine,
    spec: &Spec,
    selected: &[String],
    printer: &Printer,
    made: &mut Made,
) -> Result<Vec<Seen>> {
    // A container with one of our names but not our label is someone else's: refuse before changing anything.
    for s in selected {
        let name = spec.container_name(s);
        if let Some(c) = engine.inspect_container(&name).await?
            && c.project() != Some(spec.project.as_str())
        {
            return Err(Error::Runtime(format!(
                "container {name} exists but was not created by pinshare-dev for project {}; it was left untouched — remove it (docker rm -f {name}) or set another [project] name",
                spec.project
            )));
        }
    }
    ensure_project_objects(engine, spec, printer, made).await?;

    let observed = reconcile::observe(engine, spec).await?;
    // What no service owns: an init step's leftovers go, the rest is left to `down`.
    let orphans = Observed {
        containers: observed.clone(),
        desired: std::collections::BTreeMap::new(),
        occasion: Occasion::Up,
    };
    reconcile::apply(engine, spec, &reconcile::plan(spec, &orphans), printer).await?;

    Ok(observed)
}

/// Starts every selected service in its own task, each waiting for its dependencies' readiness.
async fn start_all(
    handle: &Arc<dyn Engine>,
    spec: &Spec,
    selected: &[String],
    printer: &Printer,
    (started_at, cancel, state): (Instant, &CancellationToken, RunState),
    observed: Vec<Seen>,
) -> Result<()> {
    let engine = handle.as_ref();
    let phases: HashMap<String, watch::Sender<Phase>> = selected
        .iter()
        .map(|s| (s.clone(), watch::channel(Phase::Pending).0))
        .collect();
    let shared = Arc::new(Shared {
        engine: Arc::clone(handle),
        spec: spec.clone(),
        printer: printer.clone(),
        phases,
        observed,
        started_at,
        state,
    });
    let mut set = JoinSet::new();
    for s in selected {
        set.spawn(service_task(Arc::clone(&shared), s.clone(), cancel.clone()));
    }
    let failures = join_all(&mut set).await;
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(report_failures(engine, spec, printer, failures).await)
}

/// One service's task: its start-up unless `cancel` comes first, then its phase told to the services waiting for
/// it.
async fn service_task(
    sh: Arc<Shared>,
    name: String,
    cancel: CancellationToken,
) -> std::result::Result<(), Failure> {
    let Some(r) =
        crate::run::tasks::unless_cancelled(&cancel, start_service(Arc::clone(&sh), name.clone()))
            .await
    else {
        return Ok(());
    };
    let phase = if r.is_ok() {
        Phase::Ready
    } else {
        Phase::Failed
    };
    if let Some(tx) = sh.phases.get(&name) {
        tx.send_replace(phase);
    }
    r
}

/// Waits for every service's task; returns the failures (a task that panicked is one with no service).
async fn join_all(set: &mut JoinSet<std::result::Result<(), Failure>>) -> Vec<Failure> {
    let mut failures = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(f)) => failures.push(f),
            Err(e) => failures.push(Failure {
                service: String::new(),
                error: Error::Runtime(e.to_string()),
                container_started: false,
            }),
        }
    }
    failures
}

/// Reports the failures of a start-up, the root cause first (with the last lines of its container, when it
/// started) and the others after; returns the root cause's error.
async fn report_failures(
    engine: &dyn Engine,
    spec: &Spec,
    printer: &Printer,
    mut failures: Vec<Failure>,
) -> Error {
    // Report the root cause first: the failure that is not "a dependency failed".
    failures.sort_by_key(|f| matches!(f.error, Error::DependencyFailed { .. }));
    let first = failures.remove(0);
    if first.container_started {
        let container = spec.container_name(&first.service);
        let lines = last_lines(engine, &container, 20).await;
        if !lines.is_empty() {
            printer.say(&first.service, last_lines_heading(lines.len(), &container));
            for l in lines {
                printer.log(&first.service, &l).await;
            }
        }
    }
    for f in &failures {
        printer.say(&f.service, Life::StartUpError(f.error.to_string()));
    }
    printer.flush().await;
    first.error
}
