//! Rebuild on change: build the new image while the old container keeps serving, then swap (stop with grace,
//! start, wait for readiness) and report per-stage timings. A failed host build or image build leaves the old
//! container running. Live update syncs changed files into the running container instead, when the spec says
//! how, and falls back to a full rebuild otherwise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::engine::{Container, Engine, Role};
use crate::error::{Error, Result};
use crate::output::event::Build;
use crate::output::printer::Printer;
use crate::reconcile::{self, Action, Desired, Observed, Occasion, Seen};
use crate::spec::{ImageSource, LiveUpdate, Service, Spec};
use crate::{image, probe::ready};
use std::borrow::Cow;

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebuilt {
    /// A new container of `image` serves; each stage and its time (those of the timing line).
    Served {
        /// The image id.
        image: String,
        /// Stage, time.
        stages: Vec<(&'static str, Duration)>,
    },
    /// Same image and configuration: the container was kept.
    Unchanged,
    /// A new container serves, and the old one is being stopped in the background: the timing line and the
    /// build's end in the run's state follow once it is gone.
    Retiring,
}

fn served(desired: Desired, stages: Vec<(&'static str, Duration)>) -> Rebuilt {
    Rebuilt::Served {
        image: desired.image,
        stages,
    }
}

/// The rebuild's timing line: `rebuilt in N ms: detect …, build …`, then the swap's own stages in order; returns
/// the same figures.
fn said_rebuilt(
    printer: &Printer,
    service: &str,
    detect: Duration,
    start: Instant,
    build: Duration,
    stages: &[(&'static str, Duration)],
) -> Vec<(&'static str, Duration)> {
    let mut all = vec![("detect", detect), ("build", build)];
    all.extend_from_slice(stages);
    let total = detect + start.elapsed();
    printer.say(
        service,
        Build::Rebuilt {
            total,
            stages: all.clone(),
        },
    );
    all
}

/// A start-first swap whose new container serves: what its timing line needs once the old one is gone.
struct Swapped {
    took: crate::run::swap::Took,
    detect: Duration,
    start: Instant,
    build: Duration,
    desired: Desired,
    old_image: String,
    /// Names the build in the run's state.
    began: Option<tokio::time::Instant>,
}

impl Swapped {
    fn new(
        took: crate::run::swap::Took,
        (detect, start, build): (Duration, Instant, Duration),
        desired: Desired,
        old: &Container,
        began: Option<tokio::time::Instant>,
    ) -> Self {
        let old_image = old.image.clone();
        Swapped {
            took,
            detect,
            start,
            build,
            desired,
            old_image,
            began,
        }
    }

    /// Leaves the old container's stop, and what follows it, to the background.
    async fn retire(
        self,
        fg: &crate::run::swap::Foreground,
        spec: &Spec,
        service: &str,
        printer: &Printer,
    ) {
        let finish = self.finish(
            fg.clone(),
            spec.clone(),
            printer.clone(),
            service.to_string(),
        );
        fg.retiring.spawn(service, &fg.tracker, finish).await;
    }

    /// Stops and removes the old container, then says the timing line (its stop counted in the swap, as the
    /// developer waits for it: until then the old build may still answer to the service's name), prunes the
    /// superseded images and writes the build's end into the run's state.
    async fn finish(
        self,
        fg: crate::run::swap::Foreground,
        spec: Spec,
        printer: Printer,
        service: String,
    ) {
        let t = Instant::now();
        let Some(svc) = spec.services.get(&service) else {
            return;
        };
        // Tried again once a lost engine is back, unless the run is stopping (its shutdown removes it then).
        while let Err(e) = crate::run::swap::retire(&*fg.engine, &spec, svc).await {
            if fg.engine.version().await.is_ok() {
                printer.say(&service, Build::RetireFailed(e.to_string()));
                break;
            }
            let back = crate::run::tasks::engine_back(&*fg.engine);
            if crate::run::tasks::unless_cancelled(&fg.stopping, back)
                .await
                .is_none()
            {
                break;
            }
        }
        let took = self.took;
        let stages = [
            ("start", took.start),
            ("ready", took.ready),
            ("swap", took.swap + t.elapsed()),
        ];
        let stages = said_rebuilt(
            &printer,
            &service,
            self.detect,
            self.start,
            self.build,
            &stages,
        );
        // After the timing line: pruning is not part of the rebuild the developer waits for. Not while the next
        // build of the service is under way (its image is in no container yet): its own swap prunes.
        if fg.state.last_began(&service) == self.began {
            let images = (self.desired.image.as_str(), self.old_image.as_str());
            image::prune_superseded(&*fg.engine, &spec, &service, images, &printer).await;
        }
        let image = self.desired.image;
        let served = crate::run::state::BuildResult::Served { image };
        fg.state
            .build_ended_at(&service, self.began, &stages, served);
    }
}

/// The service's image, built if it is out of date; a failed build says the running container keeps serving.
async fn built(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    printer: &Printer,
) -> Result<image::Resolved> {
    match image::resolve_image(engine, spec, svc, printer).await {
        Ok(id) => Ok(id),
        Err(e) => {
            printer.say(&svc.name, Build::Failed(e.to_string()));
            Err(Error::Build {
                service: svc.name.clone(),
                source: Box::new(e),
            })
        }
    }
}

/// Before a foreground run's rebuild touches `service`'s containers: the last swap's old container is stopped
/// (nothing else of the service changes meanwhile), and what a swap cut short left is cleared.
async fn settle_swaps(
    fg: &crate::run::swap::Foreground,
    spec: &Spec,
    service: &str,
    printer: &Printer,
) -> Result<()> {
    fg.retiring.wait(service).await;
    crate::run::swap::clear_leftovers(&*fg.engine, spec, service, printer).await
}

/// `spec`, with `service` forwarded as its container `old` is when a forwarder owns its host ports (this run's,
/// or one in another terminal): the replacement then leaves them to that forwarder too.
fn forwarded_as<'a>(spec: &'a Spec, service: &str, old: Option<&Container>) -> Cow<'a, Spec> {
    match old.and_then(crate::container::reach_of) {
        Some(reach) if spec.run.forwarded.get(service) != Some(&reach) => {
            let mut spec = spec.clone();
            spec.run.forwarded.insert(service.to_string(), reach);
            Cow::Owned(spec)
        }
        _ => Cow::Borrowed(spec),
    }
}

/// Builds the service's image and swaps its container if the image or config changed, or in any case when
/// `force`. `detect` is the time from the first file event to the start of this build.
pub async fn rebuild(
    engine: &dyn Engine,
    spec: &Spec,
    service: &str,
    printer: &Printer,
    detect: Duration,
    fg: Option<&crate::run::swap::Foreground>,
    force: bool,
) -> Result<Rebuilt> {
    let svc = spec
        .services
        .get(service)
        .ok_or_else(|| Error::Usage(spec.no_service(service)))?;
    if !matches!(svc.image, ImageSource::Build(_)) {
        return Err(Error::Usage(format!(
            "service `{service}` runs image {} and has no `build`: nothing to rebuild",
            svc.image.reference()
        )));
    }
    let start = Instant::now();
    let t = Instant::now();
    let container = spec.container_name(service);
    let image = built(engine, spec, svc, printer).await?;
    let build = t.elapsed();
    let desired = Desired {
        hash: reconcile::config_hash(&spec.project, svc, &image.id),
        image: image.id,
        context_hash: image.context_hash,
    };
    if let Some(fg) = fg {
        settle_swaps(fg, spec, service, printer).await?;
    }
    let old = engine.inspect_container(&container).await?;
    // A container whose ports a foreground run forwards (this one, or one in another terminal) is replaced by
    // one that leaves the host ports to that forwarder.
    let forwarded = forwarded_as(spec, service, old.as_ref());
    let spec = &*forwarded;
    let seen = seen_of(old.as_ref(), &container, service, force);
    let actions = reconcile::plan(
        spec,
        &Observed::one(spec, &seen, service, desired.clone(), Occasion::Rebuild),
    );
    if actions.iter().all(|a| matches!(a, Action::Keep { .. })) {
        printer.say(service, Build::ImageUnchanged(start.elapsed()));
        return Ok(Rebuilt::Unchanged);
    }
    if let (Some(fg), Some(old)) = (fg, &old)
        && crate::run::swap::applies(svc, old, &actions)
    {
        let took = crate::run::swap::start_first(fg, spec, svc, old, &desired, printer).await?;
        let began = fg.state.last_began(service);
        let swapped = Swapped::new(took, (detect, start, build), desired, old, began);
        swapped.retire(fg, spec, service, printer).await;
        return Ok(Rebuilt::Retiring);
    }
    let t = Instant::now();
    if let Err(e) = reconcile::apply(engine, spec, &actions, printer).await {
        remove_if_never_started(engine, &container).await;
        return Err(e);
    }
    let swap = t.elapsed();
    let t = Instant::now();
    if let Err(e) = ready::wait_ready(engine, spec, svc).await {
        printer.say(service, Build::NewNotReady(e.to_string()));
        return Err(e);
    }
    let ready = t.elapsed();
    let stages = said_rebuilt(
        printer,
        service,
        detect,
        start,
        build,
        &[("swap", swap), ("ready", ready)],
    );
    if let Some(old) = &old {
        image::prune_superseded(engine, spec, service, (&desired.image, &old.image), printer).await;
    }
    Ok(served(desired, stages))
}

/// The service's container as the plan sees it. Forced: it is taken as out of date, so the plan recreates it
/// like a changed one.
fn seen_of(old: Option<&Container>, container: &str, service: &str, force: bool) -> Vec<Seen> {
    old.map(|c| Seen {
        name: container.to_string(),
        service: service.to_string(),
        role: c.label(crate::labels::ROLE).and_then(Role::parse),
        hash: if force {
            String::new()
        } else {
            c.config_hash().unwrap_or_default().to_string()
        },
        running: c.is_running(),
    })
    .into_iter()
    .collect()
}

/// A swap that failed between create and start leaves a `Created` container that nothing would ever start or
/// remove: take it away, so a failed swap leaves no orphan behind.
async fn remove_if_never_started(engine: &dyn Engine, container: &str) {
    if let Ok(Some(c)) = engine.inspect_container(container).await
        && !c.is_running()
    {
        let _ = engine.remove_container(container).await;
    }
}

/// Why `rebuild` has nothing to swap into, if so: a project that is not up has no network, and a container
/// created for it could never start.
pub async fn not_up(engine: &dyn Engine, spec: &Spec) -> Result<Option<String>> {
    if engine.network_labels(&spec.network_name()).await?.is_some() {
        return Ok(None);
    }
    Ok(Some(format!(
        "project {} is not up (no network {}); start it with `{}` (or `{}`), then rebuild",
        spec.project,
        spec.network_name(),
        spec.command("up"),
        spec.command("up --detach")
    )))
}

/// What a batch of changes means for a service with live update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LivePlan {
    /// Copy these files (host, container path) in, delete these container paths, run these commands.
    Sync {
        /// Files to copy.
        copy: Vec<(PathBuf, String)>,
        /// Container paths to delete.
        delete: Vec<String>,
        /// Commands to run after the copy.
        run: Vec<Vec<String>>,
    },
    /// Needs a full rebuild, and why.
    Rebuild(String),
}

fn globs(dir: &Path, patterns: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let abs = if p.starts_with('/') {
            p.clone()
        } else {
            format!("{}/{p}", dir.display())
        };
        if let Ok(g) = Glob::new(&abs) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Decides how to apply `changed` (absolute host paths) through live update. Pure: exists-checks only.
pub fn plan_live(spec_dir: &Path, lu: &LiveUpdate, changed: &BTreeSet<PathBuf>) -> LivePlan {
    let fall_back = globs(spec_dir, &lu.fall_back_on);
    let mut copy = Vec::new();
    let mut delete = Vec::new();
    for path in changed {
        if fall_back.is_match(path) {
            return LivePlan::Rebuild(format!("{} is listed in fall_back_on", path.display()));
        }
        let Some((from, to)) = lu.sync.iter().find(|(from, _)| path.starts_with(from)) else {
            return LivePlan::Rebuild(format!("{} is outside every sync rule", path.display()));
        };
        let rest = path.strip_prefix(from).unwrap_or(Path::new(""));
        let target = if rest.as_os_str().is_empty() {
            to.clone()
        } else {
            format!("{}/{}", to.trim_end_matches('/'), rest.to_string_lossy())
        };
        if path.is_file() {
            copy.push((path.clone(), target));
        } else if !path.exists() {
            delete.push(target);
        }
    }
    let run = lu
        .run
        .iter()
        .filter(|(_, trigger)| {
            trigger.is_empty() || changed.iter().any(|p| globs(spec_dir, trigger).is_match(p))
        })
        .map(|(argv, _)| argv.clone())
        .collect();
    LivePlan::Sync { copy, delete, run }
}

fn tar_of(copy: &[(PathBuf, String)]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (host, target) in copy {
        let data = std::fs::read(host)?;
        let meta = std::fs::metadata(host)?;
        let mut h = tar::Header::new_gnu();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            h.set_mode(meta.permissions().mode() & 0o7777);
        }
        #[cfg(not(unix))]
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(
            meta.modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        );
        b.append_data(&mut h, target.trim_start_matches('/'), data.as_slice())?;
    }
    b.into_inner()
}

/// Copies the changed files into `container` and deletes the deleted ones; `Ok(false)` (said) when it cannot
/// delete and a full rebuild is needed.
async fn sync_files(
    engine: &dyn Engine,
    container: &str,
    svc: &Service,
    (copy, delete): (&[(PathBuf, String)], &[String]),
    printer: &Printer,
) -> Result<bool> {
    if !copy.is_empty() {
        let tar = tar_of(copy)
            .map_err(|e| Error::Runtime(format!("{}: reading changed files: {e}", svc.name)))?;
        // Extracted by the engine: the image needs neither tar nor a shell.
        engine.upload(container, "/", tar).await?;
    }
    if !delete.is_empty() {
        let mut argv = vec!["rm".to_string(), "-rf".to_string(), "--".to_string()];
        argv.extend(delete.iter().cloned());
        match engine.exec(container, &argv).await {
            Ok(out) if out.code == 0 => {}
            _ => {
                let why = "deleting files needs `rm` in the container, and it has none";
                printer.say(&svc.name, Build::FullRebuild(why.to_string()));
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Runs a live update's commands in `container` in order, printing their output; the first that fails is the
/// error.
async fn run_commands(
    engine: &dyn Engine,
    container: &str,
    svc: &Service,
    run: &[Vec<String>],
    printer: &Printer,
) -> Result<()> {
    for argv in run {
        let out = engine.exec(container, argv).await?;
        for l in out.output.lines() {
            printer.say(&svc.name, Build::LiveRunOutput(l.to_string()));
        }
        if out.code != 0 {
            return Err(Error::Runtime(format!(
                "{}: live update `{}` exited with code {}",
                svc.name,
                argv.join(" "),
                out.code
            )));
        }
    }
    Ok(())
}

/// Applies a live update; `Ok(false)` means it could not and a full rebuild is needed.
pub async fn live_update(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    lu: &LiveUpdate,
    changed: &BTreeSet<PathBuf>,
    printer: &Printer,
    detect: Duration,
) -> Result<bool> {
    let (copy, delete, run) = match plan_live(&spec.dir, lu, changed) {
        LivePlan::Rebuild(why) => {
            printer.say(&svc.name, Build::FullRebuild(why.to_string()));
            return Ok(false);
        }
        LivePlan::Sync { copy, delete, run } => (copy, delete, run),
    };
    let container = spec.container_name(&svc.name);
    let running = engine
        .inspect_container(&container)
        .await?
        .is_some_and(|c| c.is_running());
    if !running {
        let why = "the container is not running".to_string();
        printer.say(&svc.name, Build::FullRebuild(why));
        return Ok(false);
    }
    let start = Instant::now();
    let t = Instant::now();
    if !sync_files(engine, &container, svc, (&copy, &delete), printer).await? {
        return Ok(false);
    }
    let sync = t.elapsed();
    let t = Instant::now();
    run_commands(engine, &container, svc, &run, printer).await?;
    let run_t = t.elapsed();
    let t = Instant::now();
    if lu.restart {
        engine.restart_container(&container, svc.stop_grace).await?;
    }
    let restart = t.elapsed();
    let t = Instant::now();
    ready::wait_ready(engine, spec, svc).await?;
    let ready = t.elapsed();
    printer.say(
        &svc.name,
        Build::LiveUpdated {
            total: detect + start.elapsed(),
            stages: [detect, sync, run_t, restart, ready],
            copied: copy.len(),
            deleted: delete.len(),
        },
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lu(dir: &Path) -> LiveUpdate {
        LiveUpdate {
            sync: vec![
                (dir.join("static"), "/srv/static".into()),
                (dir.join("VERSION"), "/opt/VERSION".into()),
            ],
            run: vec![
                (vec!["reload".into()], vec!["static/*.conf".into()]),
                (vec!["always".into()], vec![]),
            ],
            restart: false,
            fall_back_on: vec!["static/Cargo.toml".into()],
        }
    }

    #[test]
    fn synced_files_map_to_container_paths_and_trigger_their_commands() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("static")).expect("mkdir");
        std::fs::write(d.path().join("static/app.conf"), "x").expect("write");
        std::fs::write(d.path().join("VERSION"), "v2").expect("write");
        let changed: BTreeSet<PathBuf> = [
            d.path().join("static/app.conf"),
            d.path().join("VERSION"),
            d.path().join("static/gone.css"),
        ]
        .into();
        match plan_live(d.path(), &lu(d.path()), &changed) {
            LivePlan::Sync { copy, delete, run } => {
                assert_eq!(
                    copy,
                    vec![
                        (d.path().join("VERSION"), "/opt/VERSION".to_string()),
                        (
                            d.path().join("static/app.conf"),
                            "/srv/static/app.conf".to_string()
                        )
                    ]
                );
                assert_eq!(delete, vec!["/srv/static/gone.css".to_string()]);
                assert_eq!(
                    run,
                    vec![vec!["reload".to_string()], vec!["always".to_string()]]
                );
            }
            LivePlan::Rebuild(why) => panic!("{why}"),
        }
    }

    #[test]
    fn changes_outside_sync_rules_or_in_fall_back_on_rebuild() {
        let d = tempfile::tempdir().expect("tempdir");
        let outside: BTreeSet<PathBuf> = [d.path().join("src/main.rs")].into();
        assert!(
            matches!(plan_live(d.path(), &lu(d.path()), &outside), LivePlan::Rebuild(w) if w.contains("outside every sync rule"))
        );
        let fallback: BTreeSet<PathBuf> = [d.path().join("static/Cargo.toml")].into();
        assert!(
            matches!(plan_live(d.path(), &lu(d.path()), &fallback), LivePlan::Rebuild(w) if w.contains("fall_back_on"))
        );
    }

    #[test]
    fn commands_without_a_matching_trigger_do_not_run() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("VERSION"), "v2").expect("write");
        let changed: BTreeSet<PathBuf> = [d.path().join("VERSION")].into();
        match plan_live(d.path(), &lu(d.path()), &changed) {
            LivePlan::Sync { run, .. } => assert_eq!(run, vec![vec!["always".to_string()]]),
            LivePlan::Rebuild(why) => panic!("{why}"),
        }
    }
}
