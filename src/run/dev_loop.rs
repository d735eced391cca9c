//! The foreground dev loop after start-up: watch sources and rebuild (or live-update) only the service whose
//! files changed, watch `pinshare.toml` and reconcile only the services whose config changed, until Ctrl-C.
//! Every change to containers goes through one lock, so a rebuild and a spec reload never interleave.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::{Mutex, mpsc};

use crate::engine::Engine;
use crate::error::Result;
use crate::output::event::Watch;
use crate::output::printer::Printer;
use crate::output::printer::TOOL;
use crate::reconcile::{self, Action, Desired, Observed, Occasion};
use crate::run::state::RunState;
use crate::run::tasks::Tasks;
use crate::spec::{ImageSource, LoadError, Spec};
use crate::watch::{self, Changes};
use crate::{image, probe::ready, run::follow};

/// What the loop needs from `up`.
pub struct Session {
    /// Engine.
    pub engine: Arc<dyn Engine>,
    /// The spec `up` started with.
    pub spec: Spec,
    /// The services `up` started.
    pub selected: Vec<String>,
    /// Terminal.
    pub printer: Printer,
    /// Watch sources and the spec.
    pub watch: bool,
    /// The run's cancellation tree, task tracker and container lock; the loop ends when its root is cancelled.
    pub tasks: Tasks,
    /// Where the live streams of the containers the run starts wait for their followers.
    pub feeds: crate::run::attach::Feeds,
    /// The host ports the run forwards itself (its rebuilds swap those services start-first).
    pub forwarder: crate::run::forward::Forwarder,
}

/// Where the loop's events come from: batches of source changes and edits of the spec. [`run`] makes the real
/// ones (notify watchers) unless given others, which is how tests drive the loop.
pub struct Sources {
    /// Source changes, one batch per service.
    pub changes: mpsc::UnboundedReceiver<Changes>,
    /// The spec file was written.
    pub spec_edits: mpsc::UnboundedReceiver<()>,
    /// Directories the source watcher watches (for the "watching" line).
    pub directories: usize,
    /// Told every valid new spec: the source watcher starts over with its rules.
    rewatch: Box<dyn FnMut(&Spec) + Send>,
    _spec_watcher: Option<SpecWatcher>,
}

impl Sources {
    /// Sources fed by whoever holds the senders.
    #[cfg(test)]
    pub fn channels() -> (
        Self,
        mpsc::UnboundedSender<Changes>,
        mpsc::UnboundedSender<()>,
    ) {
        let (tx, changes) = mpsc::unbounded_channel();
        let (spec_tx, spec_edits) = mpsc::unbounded_channel();
        let sources = Sources {
            changes,
            spec_edits,
            directories: 0,
            rewatch: Box::new(|_| {}),
            _spec_watcher: None,
        };
        (sources, tx, spec_tx)
    }

    /// The notify watchers of the spec's sources and of the spec file.
    pub(crate) fn real(spec: &Spec, printer: &Printer) -> Self {
        let (tx, changes) = mpsc::unbounded_channel::<Changes>();
        let mut watcher = start_watcher(spec, printer, &tx);
        let (spec_tx, spec_edits) = mpsc::unbounded_channel::<()>();
        let directories = watcher.as_ref().map_or(0, |w| w.directories);
        let printer = printer.clone();
        Sources {
            changes,
            spec_edits,
            directories,
            rewatch: Box::new(move |new: &Spec| {
                // The new watcher first, the old one a moment later: a save made while they change hands (just
                // after a spec save) is seen by one or both, and the worker folds a double into one batch. The
                // old debouncer hands on what it holds before it goes.
                let old = std::mem::replace(&mut watcher, start_watcher(new, &printer, &tx));
                let linger = quiet_of(new) * 2 + Duration::from_millis(100);
                tokio::spawn(async move {
                    tokio::time::sleep(linger).await;
                    drop(old);
                });
            }),
            _spec_watcher: watch_spec(spec, spec_tx),
        }
    }
}

/// The debouncer's own period for a service whose debounce is `debounce`: short. It hands each event on once the
/// event is that old, whether or not more follow, so it adds delay and no tolerance; the per-service worker
/// folds batches until none came for the rest of the debounce ([`fold_window`]), so a burst whose writes are less
/// than about the debounce apart is one rebuild. (With half each, writes 50 ms apart split a 100 ms burst: CI saw
/// 2 rebuilds for one burst of writes 15 ms apart.)
fn debouncer_of(debounce: Duration) -> Duration {
    (debounce / 2).min(Duration::from_millis(10))
}

/// How long a worker waits for another batch before it builds: the rest of the debounce.
fn fold_window(debounce: Duration) -> Duration {
    debounce.saturating_sub(debouncer_of(debounce))
}

fn quiet_of(spec: &Spec) -> Duration {
    spec.services
        .values()
        .map(|s| s.watch.debounce)
        .min()
        .unwrap_or(Duration::from_millis(100))
}

fn watched(spec: &Spec, selected: &[String]) -> Vec<String> {
    selected
        .iter()
        .filter(|s| {
            spec.services.get(*s).is_some_and(|svc| {
                matches!(svc.image, ImageSource::Build(_)) || svc.live_update.is_some()
            })
        })
        .cloned()
        .collect()
}

fn start_watcher(
    spec: &Spec,
    printer: &Printer,
    tx: &mpsc::UnboundedSender<Changes>,
) -> Option<watch::Watcher> {
    let rules = Arc::new(watch::Rules::new(spec));
    match watch::start(rules, debouncer_of(quiet_of(spec)), tx.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            printer.say(TOOL, Watch::NotWatching(e.to_string()));
            None
        }
    }
}

type SpecWatcher = notify_debouncer_full::Debouncer<
    notify::RecommendedWatcher,
    notify_debouncer_full::RecommendedCache,
>;

/// Watches the spec file and its overlays (the files `watch --explain` calls the spec): a save of any of them
/// reloads the spec.
fn watch_spec(spec: &Spec, tx: mpsc::UnboundedSender<()>) -> Option<SpecWatcher> {
    let targets = watch::spec_files(spec);
    let dirs: BTreeSet<PathBuf> = targets
        .iter()
        .filter_map(|f| f.parent().map(std::path::Path::to_path_buf))
        .collect();
    let wanted = targets.clone();
    // A spec save is not latency-critical: a coarse tick keeps an idle `up` from waking 80 times a second.
    let mut d = new_debouncer(
        Duration::from_millis(50),
        Some(Duration::from_millis(50)),
        move |r: DebounceEventResult| {
            if let Ok(events) = r
                && events.iter().any(|e| {
                    !matches!(e.kind, notify::EventKind::Access(_))
                        && e.paths.iter().any(|p| wanted.contains(p))
                })
            {
                let _ = tx.send(());
            }
        },
    )
    .ok()?;
    for dir in &dirs {
        d.watch(dir, RecursiveMode::NonRecursive).ok()?;
    }
    Some(d)
}

fn describe(paths: &BTreeSet<PathBuf>, dir: &std::path::Path) -> Watch {
    let first = paths
        .iter()
        .next()
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .unwrap_or_default();
    Watch::Changed {
        first,
        more: paths.len().saturating_sub(1),
    }
}

async fn worker(
    engine: Arc<dyn Engine>,
    service: String,
    spec: Arc<std::sync::RwLock<Arc<Spec>>>,
    mut rx: mpsc::UnboundedReceiver<Changes>,
    printer: Printer,
    lock: Arc<Mutex<()>>,
    fg: crate::run::swap::Foreground,
) {
    while let Some(first) = rx.recv().await {
        let current = spec.read().map(|s| Arc::clone(&s)).ok();
        let Some(current) = current else { return };
        let debounce = current
            .services
            .get(&service)
            .map_or(Duration::from_millis(100), |s| s.watch.debounce);
        let quiet = fold_window(debounce);
        let mut paths = first.paths;
        let first_seen = first.first_seen;
        // Fold a burst (and whatever queued up during the last build) into one rebuild. The debouncer hands each
        // event on once it is a few ms old, one tick at a time, so the events of one save come in several
        // batches: the rest of the debounce, counted from the last batch, is what folds them. A live update waits
        // for it too: one tried without it copied every save of the bench in twice.
        loop {
            match tokio::time::timeout(quiet, rx.recv()).await {
                Ok(Some(c)) => paths.extend(c.paths),
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let detect = first_seen.elapsed();
        // A batch cut short by the engine going away is applied again once it is back: the change is not lost,
        // and what the first try did is found up to date (or left by a swap, which the swap clears).
        for attempt in 1.. {
            let guard = lock.lock().await;
            // The spec as it is now: an edit may have come while the engine was away.
            let Some(current) = spec.read().map(|s| Arc::clone(&s)).ok() else {
                break;
            };
            if !current.services.contains_key(&service) {
                break;
            }
            if attempt == 1 {
                printer.say(&service, describe(&paths, &current.dir));
            }
            let listed: Vec<PathBuf> = paths.iter().cloned().collect();
            if fg.state.defer(&service, &listed) {
                printer.say(&service, deferred(&fg.state, &service, &current));
                break;
            }
            let cause = crate::run::trigger::Trigger {
                paths: paths.clone(),
                detect,
                cause: "save",
            };
            let done =
                crate::run::trigger::build_now(&*engine, &current, &service, cause, &printer, &fg)
                    .await;
            drop(guard);
            if done || engine.version().await.is_ok() {
                break;
            }
            printer.say(&service, Watch::EngineAwayDuringChange);
            crate::run::tasks::engine_back(&*engine).await;
        }
    }
}

/// The line of a save that waits: in manual mode for `trigger`, for a stopped service for its `start` (which
/// builds it, unless the run is manual).
fn deferred(state: &RunState, service: &str, spec: &Spec) -> Watch {
    let trigger = spec.command(&format!("trigger {service}"));
    let start = spec.command(&format!("start {service}"));
    match (state.held(service), state.manual()) {
        (true, false) => Watch::StoppedNotRebuilt { start },
        (true, true) => Watch::StoppedWaits { start, trigger },
        (false, _) => Watch::Pending { trigger },
    }
}

/// Re-validates the spec; on success reconciles only what changed and returns the new spec.
async fn reload(s: &Session, current: &Spec, followed: &mut HashSet<String>) -> Option<Spec> {
    let new = match current.reloaded() {
        Ok(n) => n,
        Err(LoadError::Invalid(errors)) => {
            let text = errors.render_errors(false);
            for l in text.lines() {
                s.printer.say(TOOL, Watch::SpecErrorLine(l.to_string()));
            }
            let shown = s.printer.redact(text.trim_end()).into_owned();
            s.tasks.control.state.spec_error(Some(shown));
            // One closing line: `check`'s "nothing was changed" followed by this one said it twice.
            s.printer.say(TOOL, Watch::SpecInvalid(errors.count()));
            return None;
        }
        Err(e) => {
            let event = Watch::SpecUnreadable(e.to_string());
            let text = event.to_string();
            s.printer.say(TOOL, event);
            let shown = s.printer.redact(&text).into_owned();
            s.tasks.control.state.spec_error(Some(shown));
            return None;
        }
    };
    s.tasks.control.state.spec_error(None);
    // Old containers may still print the old values while they are replaced: hide both.
    let mut secrets = current.secret_values();
    secrets.extend(new.secret_values());
    s.printer.set_secrets(&secrets);
    if new.project != current.project {
        s.printer.say(TOOL, Watch::ProjectRenamed);
        return None;
    }
    s.printer.say(TOOL, Watch::SpecChanged(new.file.clone()));
    if let Err(e) = apply(s, current, &new, followed).await {
        s.printer.say(TOOL, Watch::SpecApplyFailed(e.to_string()));
    }
    Some(new)
}

async fn apply(
    s: &Session,
    current: &Spec,
    new: &Spec,
    followed: &mut HashSet<String>,
) -> Result<()> {
    let engine = &*s.engine;
    let observed = reconcile::observe(engine, new).await?;
    // Services removed from the spec stop first.
    let removed = Observed {
        containers: observed.clone(),
        desired: BTreeMap::new(),
        occasion: Occasion::SpecEdit,
    };
    reconcile::apply(engine, new, &reconcile::plan(new, &removed), &s.printer).await?;
    // What `up` started, plus services the edit added.
    let wanted: Vec<String> = new
        .order
        .iter()
        .filter(|n| s.selected.contains(n) || !current.services.contains_key(*n))
        // A service stopped by `pinshare-dev stop` stays stopped until `start`.
        .filter(|n| !s.tasks.control.state.held(n))
        .cloned()
        .collect();
    let mut changed = 0;
    for name in &wanted {
        let svc = &new.services[name];
        let image = image::resolve_image(engine, new, svc, &s.printer).await?;
        let image_id = image.id.clone();
        let desired = Desired {
            hash: reconcile::config_hash(&new.project, svc, &image.id),
            image: image.id,
            context_hash: image.context_hash,
        };
        let actions = reconcile::plan(
            new,
            &Observed::one(new, &observed, name, desired, Occasion::SpecEdit),
        );
        if actions.iter().all(|a| matches!(a, Action::Keep { .. })) {
            continue;
        }
        changed += 1;
        if followed.insert(name.clone()) {
            follow::spawn_tracked(
                &s.tasks.tracker,
                &s.engine,
                new,
                name,
                &s.printer,
                crate::run::read::From::Tail(None),
                s.tasks.followers.clone(),
                &s.feeds,
            );
        }
        reconcile::apply(engine, new, &actions, &s.printer).await?;
        ready::wait_ready(engine, new, svc).await?;
        s.printer.say(name, Watch::Ready);
        s.tasks.control.state.ready(name, Some(&image_id));
    }
    if changed == 0 {
        s.printer.say(TOOL, Watch::NothingChanged);
    }
    Ok(())
}

/// What a swap needs from the run.
pub(crate) fn foreground(s: &Session) -> crate::run::swap::Foreground {
    crate::run::swap::Foreground {
        engine: s.engine.clone(),
        feeds: s.feeds.clone(),
        forwarder: s.forwarder.clone(),
        state: s.tasks.control.state.clone(),
        retiring: s.tasks.retiring.clone(),
        tracker: s.tasks.tracker.clone(),
        stopping: s.tasks.root.clone(),
    }
}

/// Steering commands are taken from now on, carried out on `s`'s run with the spec in force.
fn publish_steering(s: &Session, spec: &crate::run::supervise::SharedSpec) {
    let fg = foreground(s);
    let steerer = crate::run::steer::Steerer::new(&s.engine, spec, &s.printer, &s.tasks, fg);
    s.tasks.control.publish(Box::new(steerer));
}

/// Spawns the watch worker of `name`; returns where its batches go.
fn spawn_worker(
    s: &Session,
    spec: &crate::run::supervise::SharedSpec,
    name: &str,
) -> mpsc::UnboundedSender<Changes> {
    let (wtx, wrx) = mpsc::unbounded_channel();
    let task = worker(
        s.engine.clone(),
        name.to_string(),
        Arc::clone(spec),
        wrx,
        s.printer.clone(),
        Arc::clone(&s.tasks.lock),
        foreground(s),
    );
    s.tasks.spawn_until(&s.tasks.workers, task);
    wtx
}

/// Starts the supervisor of `name` unless it has one (noted in `supervised`): it restarts the service on exit or
/// failed liveness, as its `restart` policy says.
fn supervise(
    s: &Session,
    spec: &crate::run::supervise::SharedSpec,
    name: &str,
    supervised: &mut HashSet<String>,
) {
    if supervised.insert(name.to_string()) {
        let sup = crate::run::supervise::Supervisor {
            engine: s.engine.clone(),
            spec: Arc::clone(spec),
            printer: s.printer.clone(),
            lock: Arc::clone(&s.tasks.lock),
            state: s.tasks.control.state.clone(),
        };
        s.tasks
            .tracker
            .spawn(sup.run(name.to_string(), s.tasks.supervisors.clone()));
    }
}

/// Reloads the spec holding the container lock; a valid new spec is put in force before the lock goes, and
/// returned.
async fn reload_locked(
    s: &Session,
    spec: &crate::run::supervise::SharedSpec,
    current: &Spec,
    followed: &mut HashSet<String>,
) -> Option<Spec> {
    let _guard = s.tasks.lock.lock().await;
    let r = reload(s, current, followed).await;
    // In force before the lock goes: a supervisor that takes it next (the edit made the app crash) restarts what
    // it finds with the spec that made it, not the one before.
    if let Some(new) = &r
        && let Ok(mut g) = spec.write()
    {
        *g = Arc::new(new.clone());
    }
    r
}

/// Runs until the root of `s.tasks` is cancelled, with the real watchers unless `sources` are given. Supervisors
/// and watch workers are tasks of the run; the caller's shutdown ends them ([`Tasks::quiesce`]).
pub async fn run(s: Session, sources: Option<Sources>) {
    let services = watched(&s.spec, &s.selected);
    let spec = Arc::new(std::sync::RwLock::new(Arc::new(s.spec.clone())));
    publish_steering(&s, &spec);
    // Supervisors: restarts on exit or failed liveness, as each service's `restart` policy says.
    let mut supervised: HashSet<String> = HashSet::new();
    for name in &s.selected {
        supervise(&s, &spec, name, &mut supervised);
    }
    if !s.watch {
        s.printer.say(TOOL, Watch::ReadyNotWatching);
        s.tasks.root.cancelled().await;
        return;
    }
    let mut sources = sources.unwrap_or_else(|| Sources::real(&s.spec, &s.printer));
    let mut workers: HashMap<String, mpsc::UnboundedSender<Changes>> = HashMap::new();
    let mut followed: HashSet<String> = s.selected.iter().cloned().collect();

    s.printer.say(
        TOOL,
        Watch::ReadyWatching {
            services: services.iter().map(ToString::to_string).collect(),
            directories: sources.directories,
            spec: s.spec.file.clone(),
        },
    );
    let root = &s.tasks.root;
    loop {
        tokio::select! {
            () = root.cancelled() => break,
            Some(changes) = sources.changes.recv() => {
                let name = changes.service.clone();
                let w = workers.entry(name.clone()).or_insert_with(|| spawn_worker(&s, &spec, &name));
                let _ = w.send(changes);
            }
            Some(()) = sources.spec_edits.recv() => {
                // Editors write in several steps; let them finish.
                while tokio::time::timeout(Duration::from_millis(100), sources.spec_edits.recv()).await.is_ok_and(|v| v.is_some()) {}
                let current = spec.read().map(|g| Arc::clone(&g)).ok();
                let Some(current) = current else { break };
                // Ctrl-C is not held up by a build holding the lock, nor by the reconcile itself.
                let reloaded = tokio::select! {
                    () = root.cancelled() => break,
                    r = reload_locked(&s, &spec, &current, &mut followed) => r,
                };
                if let Some(new) = reloaded {
                    (sources.rewatch)(&new);
                    let added: Vec<String> = new
                        .services
                        .keys()
                        .filter(|n| followed.contains(*n))
                        .cloned()
                        .collect();
                    // A service the edit added (and `reload` started) is kept alive like the others.
                    for name in &added {
                        supervise(&s, &spec, name, &mut supervised);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "dev_loop_tests.rs"]
mod tests;
