//! `up`: reconcile the project with the spec and run it. Images are pulled or built at once, in parallel;
//! each service then waits for its dependencies to be READY (probed), runs its init steps, and starts.
//! Foreground `up` streams logs until Ctrl-C, then stops in reverse dependency order.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::{
    ContainerSpec, Engine, LogOptions, Mount, MountKind, NetworkAttachment, PortSpec, Resources,
    Role,
};
use crate::error::{EXIT_INTERRUPTED, EXIT_OK, Error, Result};
use crate::plan::{self, Decision, Observed};
use crate::printer::{LineSplitter, Printer};
use crate::spec::{Build, ImageSource, InitAction, MountSource, Service, Spec};
use crate::{context, init_step, kubo_prep, labels, probe};

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

/// Name on the tool's own project-wide events.
pub const TOOL: &str = "pinshare-dev";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Pending,
    Ready,
    Failed,
}

/// Mounts of a service's container (named volumes get the project prefix).
pub fn mounts(spec: &Spec, svc: &Service) -> Vec<Mount> {
    svc.volumes
        .iter()
        .map(|v| match &v.source {
            MountSource::Volume { name } => Mount {
                kind: MountKind::Volume,
                source: spec.volume_name(name),
                target: v.target.clone(),
                read_only: v.read_only,
            },
            MountSource::Bind { path } => Mount {
                kind: MountKind::Bind,
                source: path.clone(),
                target: v.target.clone(),
                read_only: v.read_only,
            },
        })
        .collect()
}

/// The container a service runs in.
pub fn container_body(
    spec: &Spec,
    svc: &Service,
    hash: &str,
    context_hash: Option<&str>,
) -> ContainerSpec {
    let mut container_labels = labels::container(&spec.project, &svc.name, Role::Service, hash);
    if let Some(c) = context_hash {
        container_labels.insert(labels::CONTEXT_HASH.to_string(), c.to_string());
    }
    if let Ok(file) = std::path::absolute(&spec.file) {
        container_labels.insert(labels::SPEC_FILE.to_string(), file.display().to_string());
    }
    let r = &svc.resources;
    let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    ContainerSpec {
        image: svc.image.reference().to_string(),
        hostname: Some(svc.name.clone()),
        env: svc.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        user: svc.user.clone(),
        labels: container_labels,
        ports: svc
            .ports
            .iter()
            .map(|p| PortSpec {
                container_port: p.container_port,
                protocol: p.protocol.as_str(),
                host_ip: p.host_ip,
                host_port: p.host_port,
            })
            .collect(),
        mounts: mounts(spec, svc),
        resources: Resources {
            // Kubernetes CPU request → relative shares (1 core = 1024); limit → nano CPUs.
            cpu_shares: r.cpu_millis.map(|m| to_i64((m * 1024 / 1000).max(2))),
            nano_cpus: r.cpu_limit_millis.map(|m| to_i64(m * 1_000_000)),
            memory: r.memory_limit_bytes.map(to_i64),
            memory_reservation: r.memory_bytes.map(to_i64),
        },
        network: Some(NetworkAttachment {
            name: spec.network_name(),
            aliases: vec![svc.name.clone()],
        }),
        // An init process as PID 1 forwards signals to the app and reaps zombies.
        init: true,
        stop_timeout: Some(i64::try_from(svc.stop_grace.as_secs()).unwrap_or(10)),
    }
}

/// Ensures the project network and named volumes exist and are ours.
async fn ensure_project_objects(engine: &dyn Engine, spec: &Spec, printer: &Printer) -> Result<()> {
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
            engine
                .create_network(&net, labels::project(&spec.project))
                .await?;
            printer.event(TOOL, &format!("created network {net}"));
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
                engine
                    .create_volume(&name, labels::project(&spec.project))
                    .await?;
                printer.event(TOOL, &format!("created volume {name}"));
            }
        }
    }
    Ok(())
}

/// One lock per host-build directory: two builds in one directory (two packages of one cargo workspace, one
/// Go module) run one after the other instead of side by side, where they would only wait for each other's
/// locks (`Blocking waiting for file lock on package cache`) and compete for the same cores.
fn host_build_lock(workdir: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::LazyLock<
        std::sync::Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut locks = LOCKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(locks.entry(workdir.to_path_buf()).or_default())
}

/// Runs a host-side build command, streaming its output.
async fn host_build(svc: &str, b: &Build, printer: &Printer) -> Result<()> {
    let Some(hc) = &b.host_command else {
        return Ok(());
    };
    let lock = host_build_lock(&hc.workdir);
    let _turn = lock.lock().await;
    let start = Instant::now();
    printer.event(svc, &format!("host build: {}", hc.argv.join(" ")));
    let mut child = tokio::process::Command::new(&hc.argv[0])
        .args(&hc.argv[1..])
        .envs(&hc.env)
        .current_dir(&hc.workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Error::Runtime(format!(
                "{svc}: starting host build `{}` in {}: {e}",
                hc.argv.join(" "),
                hc.workdir.display()
            ))
        })?;
    let mut tasks = JoinSet::new();
    if let Some(out) = child.stdout.take() {
        let (p, s) = (printer.clone(), svc.to_string());
        tasks.spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                p.event(&s, &format!("host build: {l}"));
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let (p, s) = (printer.clone(), svc.to_string());
        tasks.spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                p.event(&s, &format!("host build: {l}"));
            }
        });
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::Runtime(format!("{svc}: host build: {e}")))?;
    while tasks.join_next().await.is_some() {}
    if !status.success() {
        return Err(Error::Runtime(format!(
            "{svc}: host build `{}` failed ({status})",
            hc.argv.join(" ")
        )));
    }
    printer.event(
        svc,
        &format!("host build done in {} ms", start.elapsed().as_millis()),
    );
    Ok(())
}

/// Packs the service's build context (blocking work, off the runtime).
async fn pack_context(svc: &Service, b: &Build) -> Result<context::Context> {
    let salt = format!("{}\0{:?}\0{:?}", b.dockerfile, b.args, b.target);
    let (ctx_dir, df) = (b.context.clone(), b.dockerfile.clone());
    tokio::task::spawn_blocking(move || context::pack(&ctx_dir, &df, &salt))
        .await
        .map_err(|e| Error::Runtime(e.to_string()))?
        .map_err(|e| {
            Error::Runtime(format!(
                "{}: reading build context {}: {e}",
                svc.name,
                b.context.display()
            ))
        })
}

/// The hash of what a host build reads: its command, environment and directory, and every file under the
/// service's watch paths that a change of would trigger a rebuild (`.gitignore`d files, `.git/` and editor
/// files left out, as the watcher does). Unchanged, the build's output is too.
fn host_inputs_hash(hc: &crate::spec::HostCommand, paths: &[std::path::PathBuf]) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        format!("{:?}", hc.argv),
        format!("{:?}", hc.env),
        hc.workdir.display().to_string(),
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    for root in paths {
        let mut files: Vec<std::path::PathBuf> = ignore::WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(true)
            .require_git(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build()
            .flatten()
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(ignore::DirEntry::into_path)
            .collect();
        files.sort();
        h.update(root.display().to_string().as_bytes());
        h.update(b"\0");
        for f in files {
            h.update(f.display().to_string().as_bytes());
            h.update(b"\0");
            match std::fs::read(&f) {
                Ok(data) => h.update(&data),
                Err(e) => h.update(e.to_string().as_bytes()),
            };
            h.update(b"\0");
        }
    }
    h.finalize().to_hex()[..32].to_string()
}

/// A service's image, ready locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Image id.
    pub id: String,
    /// Hash of the build context it was built from (built images only).
    pub context_hash: Option<String>,
}

/// Makes the service's image available locally. `container` is the service's container, whose labels tell
/// whether an unchanged build context can skip the build.
pub async fn resolve_image(
    engine: &dyn Engine,
    container: &str,
    svc: &Service,
    printer: &Printer,
) -> Result<Resolved> {
    match &svc.image {
        ImageSource::Pull { reference } => {
            if let Some(id) = engine.inspect_image(reference).await?.map(|i| i.id) {
                return Ok(Resolved {
                    id,
                    context_hash: None,
                });
            }
            let start = Instant::now();
            printer.event(&svc.name, &format!("pulling {reference}"));
            let mut last = String::new();
            engine
                .pull(reference, &mut |line: String| {
                    // Progress percentages change constantly; print each layer's state changes only.
                    let key: String = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
                    if key != last {
                        printer.event(&svc.name, &line);
                        last = key;
                    }
                })
                .await
                .map_err(|e| Error::Runtime(format!("{e} (no image {reference} locally and the pull failed; build or load it, e.g. docker load -i image.tar)")))?;
            printer.event(
                &svc.name,
                &format!("pulled {reference} in {} ms", start.elapsed().as_millis()),
            );
            engine
                .inspect_image(reference)
                .await?
                .map(|i| i.id)
                .ok_or_else(|| {
                    Error::Runtime(format!(
                        "{}: image {reference} missing after the pull",
                        svc.name
                    ))
                })
                .map(|id| Resolved {
                    id,
                    context_hash: None,
                })
        }
        ImageSource::Build(b) => {
            let mut start = Instant::now();
            // The running container remembers what its image was made from: the context's hash and, with a host
            // build, the hash of that build's inputs (its command and the service's watched files). When both
            // are unchanged and the image is still the tag's, nothing runs: no host build, no image build.
            let built_from = match engine.inspect_container(container).await? {
                Some(c) => match engine.inspect_image(&b.tag).await? {
                    Some(img) if !img.id.is_empty() && img.id == c.image => c
                        .label(labels::CONTEXT_HASH)
                        .map(|h| (h.to_string(), img.id)),
                    _ => None,
                },
                None => None,
            };
            // Without a container (a cold `up`, after `down`), the image itself says what it was made from.
            let built_from = match built_from {
                Some(b) => Some(b),
                None => engine
                    .inspect_image(&b.tag)
                    .await?
                    .filter(|img| !img.id.is_empty())
                    .and_then(|mut img| Some((img.labels.remove(labels::CONTEXT_HASH)?, img.id))),
            };
            let inputs = match &b.host_command {
                Some(hc) => {
                    let (hc, paths) = (hc.clone(), svc.watch.paths.clone());
                    Some(
                        tokio::task::spawn_blocking(move || host_inputs_hash(&hc, &paths))
                            .await
                            .map_err(|e| Error::Runtime(e.to_string()))?,
                    )
                }
                None => None,
            };
            let made_from = |ctx: &str| match &inputs {
                Some(i) => format!("{ctx}+{i}"),
                None => ctx.to_string(),
            };
            let mut ctx = pack_context(svc, b).await?;
            let up_to_date = |ctx: &context::Context| {
                built_from
                    .as_ref()
                    .filter(|(h, _)| *h == made_from(&ctx.hash))
                    .map(|(_, id)| id.clone())
            };
            if b.host_command.is_some() && up_to_date(&ctx).is_none() {
                host_build(&svc.name, b, printer).await?;
                start = Instant::now();
                ctx = pack_context(svc, b).await?;
            }
            if let Some(id) = up_to_date(&ctx) {
                printer.event(&svc.name, &format!("image {} up to date", b.tag));
                return Ok(Resolved {
                    id,
                    context_hash: Some(made_from(&ctx.hash)),
                });
            }
            printer.event(
                &svc.name,
                &format!(
                    "building {} ({} files, {} KiB context)",
                    b.tag,
                    ctx.files,
                    ctx.tar.len() / 1024
                ),
            );
            // One label, what the image is made from: a cold `up` can then skip both builds. The classic builder
            // adds it as a last step, cached as long as the context is unchanged.
            let image_labels =
                HashMap::from([(labels::CONTEXT_HASH.to_string(), made_from(&ctx.hash))]);
            let args: HashMap<String, String> = b.args.clone().into_iter().collect();
            let id = engine
                .build(
                    &b.tag,
                    &b.dockerfile,
                    ctx.tar,
                    &args,
                    b.target.as_deref(),
                    &image_labels,
                    &mut |l| printer.event(&svc.name, &format!("build: {l}")),
                )
                .await?;
            printer.event(
                &svc.name,
                &format!("built {} in {} ms", b.tag, start.elapsed().as_millis()),
            );
            Ok(Resolved {
                id,
                context_hash: Some(made_from(&ctx.hash)),
            })
        }
    }
}

/// Host address of a container port: its published port, or the container's address on the project network.
pub async fn port_resolver(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
) -> Result<impl Fn(u16) -> Option<SocketAddr> + Send + Sync + 'static> {
    let published: BTreeMap<u16, SocketAddr> = svc
        .ports
        .iter()
        .filter(|p| p.protocol == crate::spec::Protocol::Tcp)
        .map(|p| (p.container_port, SocketAddr::new(p.reach_ip(), p.host_port)))
        .collect();
    let ip = if published.len() < svc.ports.len() || svc.readiness.is_some() {
        engine
            .inspect_container(&spec.container_name(&svc.name))
            .await?
            .and_then(|c| c.ip_on(&spec.network_name()))
    } else {
        None
    };
    Ok(move |port: u16| {
        published
            .get(&port)
            .copied()
            .or_else(|| ip.map(|ip| SocketAddr::new(ip, port)))
    })
}

/// `last line of C:`, `last 20 lines of C:`.
pub fn last_lines_heading(n: usize, container: &str) -> String {
    if n == 1 {
        format!("last line of {container}:")
    } else {
        format!("last {n} lines of {container}:")
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

/// Stops and removes the service's current container (if any), runs its init steps, creates and starts the
/// new one. Returns when it is started (not yet ready).
pub async fn replace_container(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    image: &Resolved,
    hash: &str,
    printer: &Printer,
) -> Result<()> {
    let container = spec.container_name(&svc.name);
    if engine.inspect_container(&container).await?.is_some() {
        engine.stop_container(&container, svc.stop_grace).await?;
        engine.remove_container(&container).await?;
    }
    let kubo = kubo_prep::of(svc);
    // kubo's repo: the image's entrypoint chowns an unwritable one, `kubo_prep` the rest, on this container.
    if svc.fix_ownership && kubo.is_none() {
        init_step::fix_ownership(engine, spec, svc, &image.id, printer).await?;
    }
    if svc
        .init
        .iter()
        .any(|s| matches!(s.action, InitAction::Command(_)))
    {
        let t = Instant::now();
        init_step::run_all(engine, spec, svc, &image.id, printer).await?;
        printer.event(
            &svc.name,
            &format!("init steps done in {} ms", t.elapsed().as_millis()),
        );
    }
    engine
        .create_container(
            &container,
            container_body(spec, svc, hash, image.context_hash.as_deref()),
        )
        .await?;
    if let Some(k) = kubo
        && let Err(e) = kubo_prep::prepare(engine, &container, svc, k, printer).await
    {
        // Never leave a created container that was not prepared: the next start would skip the keys.
        let _ = engine.remove_container(&container).await;
        return Err(e);
    }
    engine.start_container(&container).await?;
    printer.event(&svc.name, &format!("started {container}"));
    Ok(())
}

/// Waits for the service's readiness probe (immediately ready without one).
pub async fn wait_ready(engine: &dyn Engine, spec: &Spec, svc: &Service) -> Result<()> {
    let Some(probe_spec) = &svc.readiness else {
        return Ok(());
    };
    let container = spec.container_name(&svc.name);
    let resolve = port_resolver(engine, spec, svc).await?;
    probe::wait_ready(engine, &container, probe_spec, &resolve)
        .await
        .map(|_| ())
        .map_err(|e| Error::Runtime(format!("{}: {e}", svc.name)))
}

/// The observed containers of the project, reduced for planning.
pub async fn observe(engine: &dyn Engine, spec: &Spec) -> Result<Vec<Observed>> {
    Ok(engine
        .project_containers(&spec.project)
        .await?
        .into_iter()
        .map(|c| Observed {
            name: c.name.clone(),
            service: c.service.clone(),
            role: c.role,
            hash: c.config_hash.clone(),
            running: c.is_running(),
        })
        .collect())
}

struct Shared {
    engine: Arc<dyn Engine>,
    spec: Spec,
    printer: Printer,
    phases: HashMap<String, watch::Sender<Phase>>,
    observed: Vec<Observed>,
    started_at: Instant,
}

/// A service that did not come up.
struct Failure {
    service: String,
    error: Error,
    container_started: bool,
}

async fn start_service(sh: Arc<Shared>, name: String) -> std::result::Result<(), Failure> {
    let fail = |error: Error, started: bool| Failure {
        service: name.clone(),
        error,
        container_started: started,
    };
    let spec = &sh.spec;
    let svc = &spec.services[&name];
    // Image work starts at once, while dependencies are still starting.
    let image = resolve_image(&*sh.engine, &spec.container_name(&name), svc, &sh.printer)
        .await
        .map_err(|e| fail(e, false))?;

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
            return Err(fail(
                Error::Runtime(format!(
                    "{name}: not started because its dependency {dep} failed"
                )),
                false,
            ));
        }
    }

    let container = spec.container_name(&name);
    let hash = plan::config_hash(&spec.project, svc, &image.id);
    let observed = sh.observed.iter().find(|o| o.name == container);
    let decision = plan::decide(&hash, observed);
    let mut started = Instant::now();
    match &decision {
        Decision::Keep => sh.printer.event(&name, "up to date, container kept"),
        Decision::Create | Decision::Recreate(_) => {
            if let Decision::Recreate(reason) = &decision {
                sh.printer.event(&name, &format!("recreating: {reason}"));
            }
            if let Err(e) =
                replace_container(&*sh.engine, spec, svc, &image, &hash, &sh.printer).await
            {
                let exists = sh
                    .engine
                    .inspect_container(&container)
                    .await
                    .ok()
                    .flatten()
                    .is_some();
                return Err(fail(e, exists));
            }
            started = Instant::now();
        }
    }
    wait_ready(&*sh.engine, spec, svc)
        .await
        .map_err(|e| fail(e, true))?;
    if svc.readiness.is_some() {
        sh.printer.event(
            &name,
            &ready_line(
                decision == Decision::Keep,
                started.elapsed(),
                sh.started_at.elapsed(),
            ),
        );
    } else {
        sh.printer.event(&name, "running (no readiness probe)");
    }
    Ok(())
}

/// The line saying a service passed its readiness probe. A kept container started long before this `up`: a
/// time "after start" would be the probe's, so it is not given.
fn ready_line(kept: bool, after_start: Duration, since_up: Duration) -> String {
    if kept {
        format!(
            "already running, ready ({} ms since up began)",
            since_up.as_millis()
        )
    } else {
        format!(
            "ready in {} ms after start ({} ms since up began)",
            after_start.as_millis(),
            since_up.as_millis()
        )
    }
}

/// Stops (gracefully, reverse dependency order) and removes every container of the project.
pub async fn remove_project_containers(
    engine: &dyn Engine,
    spec: &Spec,
    printer: &Printer,
    graceful: bool,
) -> Result<()> {
    let mut all = engine.project_containers(&spec.project).await?;
    let order = spec.stop_order();
    // Containers of services no longer in the spec stop first: nothing of ours depends on them.
    all.sort_by_key(|c| {
        order
            .iter()
            .position(|o| *o == c.service)
            .map_or(0, |p| p + 1)
    });
    // One container that cannot be stopped must not leave the others behind: go on, report the first error.
    let mut first_error = None;
    for c in &all {
        if graceful && c.is_running() {
            let grace = spec
                .services
                .get(&c.service)
                .map_or(Duration::from_secs(10), |s| s.stop_grace);
            printer.event(&c.service, &format!("stopping {}", c.name));
            if let Err(e) = engine.stop_container(&c.name, grace).await {
                printer.event(&c.service, &e.to_string());
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = engine.remove_container(&c.name).await {
            printer.event(&c.service, &e.to_string());
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Removes the project network if it is ours.
pub async fn remove_network(engine: &dyn Engine, spec: &Spec) {
    let net = spec.network_name();
    if let Ok(Some(l)) = engine.network_labels(&net).await
        && l.get(labels::PROJECT) == Some(&spec.project)
    {
        let _ = engine.remove_network(&net).await;
    }
}

/// Runs `up`; returns the exit code.
pub async fn up(spec: Spec, opts: UpOptions) -> Result<u8> {
    let selected = plan::selection(&spec, &opts.services).map_err(Error::Usage)?;
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

/// Brings the selected services up, in dependency order of readiness.
pub async fn bring_up(
    handle: &Arc<dyn Engine>,
    spec: &Spec,
    selected: &[String],
    printer: &Printer,
    started_at: Instant,
) -> Result<()> {
    let engine = handle.as_ref();
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
    ensure_project_objects(engine, spec, printer).await?;

    let observed = observe(engine, spec).await?;
    for o in plan::orphans(spec, &observed) {
        if o.role == Some(Role::Init) {
            engine.remove_container(&o.name).await?;
        } else {
            printer.event(TOOL, &format!("container {} belongs to no service of the spec; left running (`down` removes it)", o.name));
        }
    }

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
    });
    let mut set = JoinSet::new();
    for s in selected {
        let sh = Arc::clone(&shared);
        let name = s.clone();
        set.spawn(async move {
            let r = start_service(Arc::clone(&sh), name.clone()).await;
            let phase = if r.is_ok() {
                Phase::Ready
            } else {
                Phase::Failed
            };
            if let Some(tx) = sh.phases.get(&name) {
                tx.send_replace(phase);
            }
            r
        });
    }
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
    if failures.is_empty() {
        return Ok(());
    }
    // Report the root cause first: the failure that is not "a dependency failed".
    failures.sort_by_key(|f| f.error.to_string().contains("because its dependency"));
    let first = failures.remove(0);
    if first.container_started {
        let container = spec.container_name(&first.service);
        let lines = last_lines(engine, &container, 20).await;
        if !lines.is_empty() {
            printer.event(&first.service, &last_lines_heading(lines.len(), &container));
            for l in lines {
                printer.log(&first.service, &l);
            }
        }
    }
    for f in &failures {
        printer.event(&f.service, &f.error.to_string());
    }
    printer.flush().await;
    Err(first.error)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{bring_up, last_lines_heading};
    use crate::engine::fake::{Behaviour, Fake};
    use crate::engine::{Engine, State};
    use crate::printer::Printer;

    /// `db` is probed by exec; `app` and `web` wait for it, `web` also for `app`.
    fn spec() -> crate::spec::Spec {
        let text = r#"
[project]
name = "p"

[services.db]
image = "db:1"
readiness = { exec = ["db-ready"], period = "1s", timeout = "1s", start_timeout = "60s" }

[services.app]
image = "app:1"
depends_on = ["db"]

[services.web]
image = "web:1"
depends_on = ["app", "db"]
"#;
        crate::spec::parse(std::path::Path::new("pinshare.toml"), text).expect("valid spec")
    }

    fn fake() -> Fake {
        let fake = Fake::new();
        for (r, id) in [
            ("db:1", "sha256:db"),
            ("app:1", "sha256:app"),
            ("web:1", "sha256:web"),
        ] {
            fake.add_image(r, id);
        }
        fake
    }

    async fn up(fake: &Fake) -> crate::error::Result<()> {
        let spec = spec();
        let engine: Arc<dyn Engine> = Arc::new(fake.clone());
        let printer = Printer::quiet(["db", "app", "web"]);
        let selected = spec.order.clone();
        bring_up(
            &engine,
            &spec,
            &selected,
            &printer,
            std::time::Instant::now(),
        )
        .await
    }

    fn position(calls: &[String], call: &str) -> usize {
        calls
            .iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("no `{call}` in {calls:#?}"))
    }

    #[tokio::test(start_paused = true)]
    async fn dependents_start_only_once_their_dependency_is_ready_in_dependency_order() {
        let fake = fake();
        // Not ready for the first three probes, then ready.
        fake.exec_results(
            "p-db",
            &[(1, "starting"), (1, "starting"), (1, "starting"), (0, "")],
        );
        let t = tokio::time::Instant::now();
        up(&fake).await.expect("all ready");
        // The first probes are 10 ms apart: ready at the fourth, 30 ms after the start, in virtual time.
        assert_eq!(t.elapsed(), Duration::from_millis(30));
        let calls = fake.call_lines();
        let db_started = position(&calls, "start_container p-db");
        let app_created = position(&calls, "create_container p-app");
        let web_created = position(&calls, "create_container p-web");
        let last_probe = calls
            .iter()
            .rposition(|c| c == "exec p-db")
            .expect("probed");
        assert!(
            db_started < last_probe && last_probe < app_created,
            "{calls:#?}"
        );
        assert!(app_created < web_created, "{calls:#?}");
        for name in ["p-db", "p-app", "p-web"] {
            assert_eq!(fake.container(name).map(|c| c.state), Some(State::Running));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dependency_that_exits_before_it_is_ready_fails_up_and_its_dependents_are_never_created()
     {
        let fake = fake();
        fake.exec_results("p-db", &[(1, "starting")]);
        fake.behave("p-db", &[Behaviour::Exit(Duration::from_secs(2), 3)]);
        let t = tokio::time::Instant::now();
        let err = up(&fake).await.expect_err("db never gets ready");
        assert_eq!(
            err.to_string(),
            "db: exited with code 3 before it was ready"
        );
        assert_eq!(
            t.elapsed(),
            Duration::from_secs(2),
            "failed as soon as it exited"
        );
        let calls = fake.call_lines();
        for never in ["create_container p-app", "create_container p-web"] {
            assert!(!calls.iter().any(|c| c == never), "{calls:#?}");
        }
        assert!(fake.container("p-app").is_none() && fake.container("p-web").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_in_reverse_dependency_order_and_one_failure_does_not_leave_the_rest() {
        let fake = fake();
        up(&fake).await.expect("all ready");
        fake.fail("stop_container", "p-app", crate::engine::ErrorKind::Failed);
        let before = fake.calls().len();
        let err = super::remove_project_containers(&fake, &spec(), &Printer::quiet(["db"]), true)
            .await
            .expect_err("app could not be stopped");
        assert_eq!(err.to_string(), "stop_container p-app: scripted failure");
        let teardown: Vec<String> = fake.call_lines()[before..]
            .iter()
            .filter(|c| c.starts_with("stop_") || c.starts_with("remove_"))
            .cloned()
            .collect();
        assert_eq!(
            teardown,
            [
                "stop_container p-web",
                "remove_container p-web",
                "stop_container p-app",
                "remove_container p-app",
                "stop_container p-db",
                "remove_container p-db",
            ]
        );
        for name in ["p-db", "p-app", "p-web"] {
            assert!(fake.container(name).is_none(), "{name} removed");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_create_is_reported_with_the_operation_and_the_dependents_wait_for_nothing() {
        let fake = fake();
        fake.fail(
            "create_container",
            "p-app",
            crate::engine::ErrorKind::Conflict,
        );
        let err = up(&fake).await.expect_err("app cannot be created");
        assert_eq!(err.to_string(), "create_container p-app: scripted failure");
        assert_eq!(
            fake.container("p-db").map(|c| c.state),
            Some(State::Running)
        );
        assert!(
            fake.container("p-web").is_none(),
            "{:#?}",
            fake.call_lines()
        );
    }

    #[test]
    fn one_last_line_is_not_called_lines() {
        assert_eq!(last_lines_heading(1, "p-ipfs"), "last line of p-ipfs:");
        assert_eq!(last_lines_heading(20, "p-ipfs"), "last 20 lines of p-ipfs:");
    }
}
