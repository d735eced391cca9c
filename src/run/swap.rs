//! The zero-downtime swap of a foreground run: the rebuilt service's new container starts under a name of its
//! own, with no network alias, while the old one serves. Only once it passes readiness does traffic move: it
//! joins the project network again answering to the service's name, the forwarder sends new connections to it,
//! it takes the service's container name, and the old one is stopped with its grace and removed. That stop runs
//! in the background ([`crate::run::tasks::Retiring`]): the next change of the service is built meanwhile, and waits for it only
//! before it touches the service's containers again. A new container that fails to start or to become ready is
//! removed, and the old one goes on serving.
//!
//! Not for every service: kubo holds its repo's lock (one daemon per repo), a service with init steps prepares
//! its volumes for one container, and one whose host ports the engine publishes cannot have two containers on
//! them. Those are swapped the way a stop-first rebuild does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::task::TaskTracker;

use crate::container::{container_body, is_forwarded};
use crate::engine::{Container, Engine};
use crate::error::{Error, Result};
use crate::output::event::Build;
use crate::output::printer::Printer;
use crate::probe::ready;
use crate::reconcile::{Action, Desired};
use crate::run::attach::Feeds;
use crate::run::forward::Forwarder;
use crate::run::state::Phase;
use crate::spec::{Service, Spec};

/// The longest a swap's readiness probe waits between attempts.
const SWAP_POLL: Duration = Duration::from_millis(50);

/// What a swap needs from the foreground run.
#[derive(Clone)]
pub struct Foreground {
    /// The run's engine (the attaching one).
    pub engine: Arc<dyn Engine>,
    /// Where the new container's output waits for its follower.
    pub feeds: Feeds,
    /// The host ports the run owns.
    pub forwarder: Forwarder,
    /// The run's observable state (the swap's phases).
    pub state: crate::run::state::RunState,
    /// Old containers being stopped after their swap.
    pub retiring: crate::run::tasks::Retiring,
    /// The run's task tracker, where those stops run.
    pub tracker: TaskTracker,
    /// The request to stop the run: a stop that waits for a lost engine gives up then.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// How long each stage of a swap took.
#[derive(Debug, Clone, Copy)]
pub struct Took {
    /// Create and start.
    pub start: Duration,
    /// Until the new container's probe passed.
    pub ready: Duration,
    /// The alias, the forwarder and the name (the old container's stop comes after: [`retire`]).
    pub swap: Duration,
}

/// Whether two containers of `svc` may run side by side: not when it has init steps, which prepare its volumes
/// for one container (kubo's repo preparation is one, and kubo's repo lock allows one daemon).
pub fn side_by_side(svc: &Service) -> bool {
    svc.init.is_empty()
}

/// Whether `old`, the running container of `svc`, can be replaced start-first by `actions`.
pub fn applies(svc: &Service, old: &Container, actions: &[Action]) -> bool {
    old.is_running()
        && side_by_side(svc)
        && !actions.iter().any(|a| matches!(a, Action::RunInit { .. }))
        && (svc.ports.is_empty() || is_forwarded(old))
}

/// Replaces `old` with a container of `desired`, start-first.
pub async fn start_first(
    fg: &Foreground,
    spec: &Spec,
    svc: &Service,
    old: &Container,
    desired: &Desired,
    printer: &Printer,
) -> Result<Took> {
    let engine = &*fg.engine;
    let name = &svc.name;
    let canonical = spec.container_name(name);
    let next = format!("{canonical}-next");
    let retired = format!("{canonical}-replaced");
    remove_leftovers(engine, spec, old, [&next, &retired]).await?;
    let t = Instant::now();
    fg.state.set(name, Phase::Starting { since: t.into() });
    let id = create_next(engine, spec, svc, desired, &next).await?;
    printer.say(
        name,
        Build::SwapStarting {
            new: desired.image.clone(),
            old: old.image.clone(),
        },
    );
    if let Err(e) = engine.start_container(&next).await {
        return Err(abandon(engine, &next, printer, name, old, &e.to_string()).await);
    }
    print_alongside(fg, &id, name, printer);
    let start = t.elapsed();

    let t = Instant::now();
    let quick = quick_probing(svc);
    let svc = &quick;
    if let Err(e) = ready::wait_ready_of(engine, spec, svc, &next).await {
        return Err(abandon(
            engine,
            &next,
            printer,
            name,
            old,
            &format!("the new container is not ready: {e}"),
        )
        .await);
    }
    let ready = t.elapsed();
    let t = Instant::now();
    fg.state.set(name, Phase::Swapping { since: t.into() });
    let names = Names {
        canonical: &canonical,
        next: &next,
        retired: &retired,
    };
    if let Err(e) = move_traffic(fg, spec, svc, &names).await {
        move_back(fg, name, &names).await;
        return Err(abandon(
            engine,
            &next,
            printer,
            name,
            old,
            &format!("moving traffic failed: {e}"),
        )
        .await);
    }
    printer.say(
        name,
        Build::SwapServes {
            new: desired.image.clone(),
            old: old.image.clone(),
        },
    );
    let swap = t.elapsed();
    Ok(Took { start, ready, swap })
}

/// The container names of a swap: the service's own, the new container's while it starts, and the old one's once
/// it is retired.
struct Names<'a> {
    canonical: &'a str,
    next: &'a str,
    retired: &'a str,
}

/// Creates the new container under the name `next`, with no network alias: the service's name keeps resolving to
/// the old container until the new one is ready. Returns its id.
async fn create_next(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    desired: &Desired,
    next: &str,
) -> Result<String> {
    let mut body = container_body(spec, svc, &desired.hash, desired.context_hash.as_deref());
    if let Some(n) = body.network.as_mut() {
        n.aliases.clear();
    }
    Ok(engine.create_container(next, body).await?)
}

/// `svc` with its readiness probe's period at most [`SWAP_POLL`]. The old container serves meanwhile: nobody
/// waits but the developer, so the probe is not allowed to back off past SWAP_POLL (a local request every 50 ms),
/// however long the period is.
fn quick_probing(svc: &Service) -> Service {
    let mut quick = svc.clone();
    if let Some(p) = quick.readiness.as_mut() {
        p.period = p.period.min(SWAP_POLL);
    }
    quick
}

/// Moves traffic to the ready new container: it re-joins the network under the service's name, the forwarder
/// points at it once its probe passes again, and it takes the service's container name from the old one.
async fn move_traffic(
    fg: &Foreground,
    spec: &Spec,
    svc: &Service,
    names: &Names<'_>,
) -> Result<()> {
    let (engine, name, next) = (&*fg.engine, &svc.name, names.next);
    let t = Instant::now();
    engine
        .rejoin_network(&spec.network_name(), next, std::slice::from_ref(name))
        .await?;
    let rejoined = t.elapsed();
    // Re-joined, it has new ephemeral ports: the forwarder goes where its probe passes again.
    ready::wait_ready_of(engine, spec, svc, next).await?;
    let probed = t.elapsed();
    let Some(c) = engine.inspect_container(next).await? else {
        return Err(Error::Runtime(format!("{next} is gone")));
    };
    if fg.forwarder.forwards(name) {
        fg.forwarder.point(name, &c);
    }
    tracing::debug!(
        rejoin_ms = rejoined.as_millis(),
        probe_ms = (probed - rejoined).as_millis(),
        point_ms = (t.elapsed() - probed).as_millis(),
        "traffic moved"
    );
    engine
        .rename_container(names.canonical, names.retired)
        .await?;
    engine.rename_container(next, names.canonical).await?;
    Ok(())
}

/// After a failed [`move_traffic`]: back as it was, the old container under its name, with the forwarder and the
/// alias.
async fn move_back(fg: &Foreground, name: &str, names: &Names<'_>) {
    let engine = &*fg.engine;
    if engine
        .inspect_container(names.canonical)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        let _ = engine
            .rename_container(names.retired, names.canonical)
            .await;
    }
    if let Ok(Some(c)) = engine.inspect_container(names.canonical).await {
        fg.forwarder.point(name, &c);
    }
}

/// Stops the container a swap of `service` retired (`…-replaced`), with its grace, and removes it. Until it has
/// stopped it keeps the service's network alias, so whoever reaches the service by name may still get it.
pub async fn retire(engine: &dyn Engine, spec: &Spec, svc: &Service) -> Result<()> {
    let retired = format!("{}-replaced", spec.container_name(&svc.name));
    match engine.stop_container(&retired, svc.stop_grace).await {
        // Gone already (a `down` from another terminal, a restarted daemon's cleanup): nothing to stop.
        Err(e) if e.is_not_found() => return Ok(()),
        r => r?,
    }
    engine.remove_container(&retired).await?;
    Ok(())
}

/// Resolves what a swap of `service` that was cut short (the engine went away mid-way, the run was killed) left
/// under the swap's names. With no container under the service's name, the retired one (`…-replaced`) was still
/// the one serving: it takes the name back. Otherwise it was retired: it goes. A `…-next` always goes.
pub async fn clear_leftovers(
    engine: &dyn Engine,
    spec: &Spec,
    service: &str,
    printer: &Printer,
) -> Result<()> {
    let canonical = spec.container_name(service);
    let (next, retired) = (format!("{canonical}-next"), format!("{canonical}-replaced"));
    let ours = |c: &Option<Container>| {
        c.as_ref()
            .is_some_and(|c| c.project() == Some(spec.project.as_str()))
    };
    if ours(&engine.inspect_container(&retired).await?) {
        if engine.inspect_container(&canonical).await?.is_none() {
            engine.rename_container(&retired, &canonical).await?;
            printer.say(
                service,
                Build::LeftoverRenamed {
                    leftover: retired.clone(),
                    name: canonical.clone(),
                },
            );
        } else {
            engine.remove_container(&retired).await?;
            printer.say(service, Build::LeftoverRemoved(retired.clone()));
        }
    }
    if ours(&engine.inspect_container(&next).await?) {
        engine.remove_container(&next).await?;
        printer.say(service, Build::LeftoverRemoved(next.clone()));
    }
    Ok(())
}

/// Removes what a swap that was cut short (a kill mid-way) left: ours by label, or the create after says whose
/// it is.
async fn remove_leftovers(
    engine: &dyn Engine,
    spec: &Spec,
    old: &Container,
    names: [&String; 2],
) -> Result<()> {
    for leftover in names {
        if let Some(c) = engine.inspect_container(leftover).await?
            && c.project() == Some(spec.project.as_str())
            && c.id != old.id
        {
            engine.remove_container(leftover).await?;
        }
    }
    Ok(())
}

/// Prints the new container's output from its start, while the follower still reads the old one's.
fn print_alongside(fg: &Foreground, id: &str, service: &str, printer: &Printer) {
    let Some(live) = fg.feeds.take(id) else {
        return;
    };
    let (engine, owned, service, printer) = (
        Arc::clone(&fg.engine),
        id.to_string(),
        service.to_string(),
        printer.clone(),
    );
    let task = tokio::spawn(async move {
        crate::run::read::follow_one(
            &*engine,
            &owned,
            &service,
            &printer,
            crate::run::read::Start::Attached(live),
            false,
        )
        .await
    });
    fg.feeds.put_alongside(id, task);
}

/// Takes the new container away (a stop first, for one that runs) and says the old build keeps serving.
async fn abandon(
    engine: &dyn Engine,
    next: &str,
    printer: &Printer,
    service: &str,
    old: &Container,
    why: &str,
) -> Error {
    let _ = engine.stop_container(next, Duration::ZERO).await;
    let _ = engine.remove_container(next).await;
    kept(printer, service, old, why)
}

fn kept(printer: &Printer, service: &str, old: &Container, why: &str) -> Error {
    let event = Build::SwapAbandoned {
        why: why.to_string(),
        old: old.image.clone(),
    };
    printer.say(service, event);
    Error::Build {
        service: service.to_string(),
        source: Box::new(Error::Runtime(why.to_string())),
    }
}
