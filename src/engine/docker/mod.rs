//! The Docker implementation of the engine seam, over the Engine API (bollard). The only file that knows
//! bollard: its types become ours at this border.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use super::{
    Container, ContainerEvent, ContainerInfo, ContainerSpec, Engine, EngineError, ErrorKind,
    EventAction, ExecOutput, ExecRequest, ExecSession, ImageInfo, LogChunk, LogOptions,
    PullProgress, R, Role, RunningContainer, StatsSample, SystemInfo,
};
use crate::labels;

mod build;
#[cfg(test)]
mod build_tests;
mod containers;
mod convert;
mod images;
mod progress;
use convert::{
    chunk, container, container_info, create_body, error, image_info, running_container,
    system_info,
};

/// The Docker engine, connected and version-negotiated.
#[derive(Clone)]
pub struct DockerEngine {
    docker: Docker,
    /// Calls that create objects run as their own tasks: a caller that gives up (Ctrl-C during start-up) does
    /// not abandon a request the engine is still carrying out, and [`Engine::settle`] waits for them, so the
    /// clean-up that follows sees everything that was created.
    creating: tokio_util::task::TaskTracker,
    /// Set when the project is being torn down: no new object is created after that. A lock rather than a flag,
    /// so that a create that passed the check is already counted when the clean-up starts waiting.
    stopped: std::sync::Arc<std::sync::RwLock<bool>>,
    /// The builder `PINSHARE_DEV_BUILDER` asks for (a bad value is the error of every build, not of `ps`).
    builder: Result<build::Preference, String>,
    /// Set once a build found BuildKit missing: later builds use the classic builder without asking.
    buildkit_missing: std::sync::Arc<build::Missing>,
}

/// Where we connect: `DOCKER_HOST` or the default local socket.
pub fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

impl DockerEngine {
    /// Connects (honouring `DOCKER_HOST`) and negotiates the API version down to the engine's.
    pub async fn connect() -> R<Self> {
        let addr = engine_address();
        let hint = " — is Docker running? (start it, or point DOCKER_HOST at it)";
        let docker = Docker::connect_with_defaults().map_err(|e| {
            EngineError::new(
                format!("connecting to the Docker engine at {addr}"),
                ErrorKind::Unavailable,
                format!("{e}{hint}"),
            )
        })?;
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| {
                EngineError::new(
                    format!("connecting to the Docker engine at {addr}"),
                    ErrorKind::Unavailable,
                    format!("no answer within 10 s{hint}"),
                )
            })?
            .map_err(|e| {
                EngineError::new(
                    format!("connecting to the Docker engine at {addr}"),
                    ErrorKind::Unavailable,
                    format!("{e}{hint}"),
                )
            })?;
        Ok(DockerEngine {
            docker,
            creating: tokio_util::task::TaskTracker::new(),
            stopped: std::sync::Arc::new(std::sync::RwLock::new(false)),
            builder: build::preference(std::env::var(build::BUILDER_ENV).ok().as_deref()),
            buildkit_missing: std::sync::Arc::default(),
        })
    }

    /// Runs a creating call to completion even if the caller stops waiting for it.
    async fn finish<T: Send + 'static>(
        &self,
        op: String,
        call: impl std::future::Future<Output = Result<T, BollardError>> + Send + 'static,
    ) -> R<T> {
        let handle = {
            let stopped = self.stopped.read().map_or(true, |s| *s);
            if stopped {
                return Err(EngineError::new(
                    op,
                    ErrorKind::Stopping,
                    "stopping: nothing more is created",
                ));
            }
            self.creating.spawn(call)
        };
        match handle.await {
            Ok(r) => r.map_err(|e| error(op, &e)),
            Err(e) => Err(EngineError::new(op, ErrorKind::Failed, e.to_string())),
        }
    }
}

#[async_trait::async_trait]
impl Engine for DockerEngine {
    async fn stop_creating(&self) {
        if let Ok(mut s) = self.stopped.write() {
            *s = true;
        }
        self.settle().await;
    }

    async fn settle(&self) {
        self.creating.close();
        self.creating.wait().await;
        self.creating.reopen();
    }

    // ---- networks ----

    async fn network_labels(&self, name: &str) -> R<Option<HashMap<String, String>>> {
        Ok(self
            .network(name)
            .await?
            .map(|n| n.labels.unwrap_or_default()))
    }

    async fn network_gateways(&self, name: &str) -> R<Vec<std::net::IpAddr>> {
        self.gateways(name).await
    }

    async fn create_network(&self, name: &str, labels: HashMap<String, String>) -> R<()> {
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ..Default::default()
        };
        let docker = self.docker.clone();
        self.finish(format!("creating network {name}"), async move {
            docker.create_network(req).await.map(|_| ())
        })
        .await
    }

    async fn networks_labelled(&self, key: &str, value: &str) -> R<Vec<HashMap<String, String>>> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{key}={value}")])]);
        let opts = bollard::query_parameters::ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_networks(Some(opts))
            .await
            .map_err(|e| error(format!("listing networks labelled {key}={value}"), &e))?;
        Ok(list
            .into_iter()
            .map(|n| n.labels.unwrap_or_default())
            .collect())
    }

    async fn remove_network(&self, name: &str) -> R<()> {
        self.docker
            .remove_network(name)
            .await
            .map_err(|e| error(format!("removing network {name}"), &e))
    }

    // ---- volumes ----

    async fn volume_labels(&self, name: &str) -> R<Option<HashMap<String, String>>> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.labels)),
            Err(e) => {
                let e = error(format!("inspecting volume {name}"), &e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn create_volume(&self, name: &str, labels: HashMap<String, String>) -> R<()> {
        let req = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        let docker = self.docker.clone();
        self.finish(format!("creating volume {name}"), async move {
            docker.create_volume(req).await.map(|_| ())
        })
        .await
    }

    async fn project_volumes(&self, project: &str) -> R<Vec<String>> {
        let filters = HashMap::from([("label".to_string(), vec![labels::project_filter(project)])]);
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_volumes(Some(opts))
            .await
            .map_err(|e| error(format!("listing volumes of project {project}"), &e))?;
        let mut names: Vec<String> = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.sort();
        Ok(names)
    }

    async fn remove_volume(&self, name: &str) -> R<()> {
        self.docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
            .map_err(|e| error(format!("removing volume {name}"), &e))
    }

    // ---- containers ----

    async fn project_containers(&self, project: &str) -> R<Vec<ContainerInfo>> {
        let filters = HashMap::from([("label".to_string(), vec![labels::project_filter(project)])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| error(format!("listing containers of project {project}"), &e))?;
        Ok(list.into_iter().map(container_info).collect())
    }

    async fn inspect_container(&self, name: &str) -> R<Option<Container>> {
        match self
            .docker
            .inspect_container(
                name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => Ok(Some(container(c))),
            Err(e) => {
                let e = error(format!("inspecting container {name}"), &e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn create_container(&self, name: &str, spec: ContainerSpec) -> R<String> {
        let body = create_body(spec);
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        let docker = self.docker.clone();
        self.finish(format!("creating container {name}"), async move {
            docker
                .create_container(Some(opts), body)
                .await
                .map(|r| r.id)
        })
        .await
    }

    async fn start_container(&self, name: &str) -> R<()> {
        let (docker, id) = (self.docker.clone(), name.to_string());
        self.finish(format!("starting container {name}"), async move {
            docker
                .start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
        })
        .await
    }

    async fn stop_container(&self, name: &str, grace: Duration) -> R<()> {
        let secs = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let opts = StopContainerOptionsBuilder::default().t(secs).build();
        match self.docker.stop_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            // 304: already stopped.
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(error(format!("stopping container {name}"), &e)),
        }
    }

    async fn unpause_container(&self, name: &str) -> R<()> {
        self.docker
            .unpause_container(name)
            .await
            .map_err(|e| error(format!("unpausing container {name}"), &e))
    }

    async fn restart_container(&self, name: &str, grace: Duration) -> R<()> {
        let secs = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let opts = bollard::query_parameters::RestartContainerOptionsBuilder::default()
            .t(secs)
            .build();
        self.docker
            .restart_container(name, Some(opts))
            .await
            .map_err(|e| error(format!("restarting container {name}"), &e))
    }

    fn container_events(
        &self,
        project: &str,
        since: Option<i64>,
    ) -> BoxStream<'static, R<ContainerEvent>> {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                vec!["start".to_string(), "die".to_string()],
            ),
            ("label".to_string(), vec![labels::project_filter(project)]),
        ]);
        let mut b = bollard::query_parameters::EventsOptionsBuilder::default().filters(&filters);
        if let Some(s) = since {
            b = b.since(&s.to_string());
        }
        let opts = b.build();
        let op = format!("watching container events of project {project}");
        self.docker
            .events(Some(opts))
            .map(move |item| {
                let m = item.map_err(|e| error(op.clone(), &e))?;
                let actor = m.actor.unwrap_or_default();
                let attrs = actor.attributes.unwrap_or_default();
                let action = match m.action.as_deref() {
                    Some("start") => EventAction::Start,
                    Some("die") => EventAction::Die,
                    // The filter asks for these two only.
                    _ => return Ok(None),
                };
                Ok(Some(ContainerEvent {
                    action,
                    id: actor.id.unwrap_or_default(),
                    service: attrs.get(labels::SERVICE).cloned().unwrap_or_default(),
                    role: attrs.get(labels::ROLE).and_then(|r| Role::parse(r)),
                    exit_code: attrs.get("exitCode").and_then(|c| c.parse().ok()),
                    time: m.time.unwrap_or(0),
                }))
            })
            .filter_map(|r| std::future::ready(r.transpose()))
            .boxed()
    }

    async fn remove_container(&self, name: &str) -> R<()> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = error(format!("removing container {name}"), &e);
                // Already gone (or being removed by an earlier request) is what we wanted.
                if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Conflict) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn wait_container(&self, name: &str) -> R<i64> {
        let opts = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut s = self.docker.wait_container(name, Some(opts));
        match s.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(error(format!("waiting for container {name}"), &e)),
            None => Err(EngineError::new(
                format!("waiting for container {name}"),
                ErrorKind::Failed,
                "the engine closed the stream",
            )),
        }
    }

    fn logs(&self, name: &str, opts: &LogOptions) -> BoxStream<'static, R<LogChunk>> {
        let mut b = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(opts.follow)
            .timestamps(opts.timestamps);
        b = b.tail(
            &opts
                .tail
                .map_or_else(|| "all".to_string(), |t| t.to_string()),
        );
        if let Some(since) = opts.since {
            // bollard takes i32 seconds: a time past 2038 is "later than anything so far", not "from the start".
            let clamped = since.clamp(0, i64::from(i32::MAX));
            b = b.since(i32::try_from(clamped).unwrap_or(i32::MAX));
        }
        let op = format!("reading logs of container {name}");
        self.docker
            .logs(name, Some(b.build()))
            .map(move |item| chunk(item).map_err(|e| error(op.clone(), &e)))
            .boxed()
    }

    async fn attach(&self, name: &str) -> R<BoxStream<'static, R<LogChunk>>> {
        // stdin is not attached: the write half is never used.
        Ok(self.attach_session(name, false).await?.output)
    }

    async fn attach_stdin(&self, name: &str) -> R<ExecSession> {
        self.attach_session(name, true).await
    }

    async fn resize_container(&self, name: &str, rows: u16, cols: u16) -> R<()> {
        self.resize_tty(name, rows, cols).await
    }

    async fn stats(&self, name: &str, period: bool) -> R<Option<StatsSample>> {
        self.stats_of(name, period).await
    }

    async fn exec(&self, name: &str, argv: &[String]) -> R<ExecOutput> {
        self.exec_in(name, argv).await
    }

    async fn exec_attached(&self, name: &str, req: &ExecRequest) -> R<ExecSession> {
        self.exec_session(name, req).await
    }

    async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> R<()> {
        self.resize_exec(id, rows, cols).await
    }

    async fn exec_exit_code(&self, id: &str) -> R<Option<i64>> {
        self.exec_code(id).await
    }

    async fn rename_container(&self, name: &str, new_name: &str) -> R<()> {
        self.rename(name, new_name).await
    }

    async fn rejoin_network(&self, network: &str, name: &str, aliases: &[String]) -> R<()> {
        self.rejoin(network, name, aliases).await
    }

    async fn download(&self, name: &str, path: &str) -> R<Option<Vec<u8>>> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let op = format!("reading {path} from container {name}");
        match self
            .docker
            .download_from_container(name, Some(opts))
            .try_fold(Vec::new(), |mut acc, b| async move {
                acc.extend_from_slice(&b);
                Ok(acc)
            })
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                let e = error(op, &e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn download_prefix(&self, name: &str, path: &str, max: usize) -> R<Option<Vec<u8>>> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let op = format!("reading {path} from container {name}");
        let mut stream = self.docker.download_from_container(name, Some(opts));
        let mut acc = Vec::new();
        while acc.len() < max {
            match stream.next().await {
                Some(Ok(b)) => acc.extend_from_slice(&b),
                Some(Err(e)) => {
                    let e = error(op, &e);
                    return if e.is_not_found() { Ok(None) } else { Err(e) };
                }
                None => break,
            }
        }
        Ok(Some(acc))
    }

    async fn upload(&self, name: &str, dir: &str, tar: Vec<u8>) -> R<()> {
        let opts = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(name, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(|e| error(format!("writing into {dir} of container {name}"), &e))
    }

    // ---- images ----

    async fn inspect_image(&self, reference: &str) -> R<Option<ImageInfo>> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(Some(image_info(i))),
            Err(e) => {
                let e = error(format!("inspecting image {reference}"), &e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn registry_has(&self, reference: &str) -> R<()> {
        self.registry_has_image(reference).await
    }

    async fn service_images(&self, project: &str, service: &str) -> R<Vec<String>> {
        self.images_of_service(project, service).await
    }

    async fn remove_image(&self, id: &str) -> R<()> {
        self.remove_image_by_id(id).await
    }

    async fn pull(
        &self,
        reference: &str,
        progress: &mut (dyn FnMut(PullProgress) + Send),
    ) -> R<()> {
        let (repo, tag) = split_reference(reference);
        let opts = CreateImageOptionsBuilder::default()
            .from_image(&repo)
            .tag(&tag)
            .build();
        let op = format!("pulling image {reference}");
        let mut s = self.docker.create_image(Some(opts), None, None);
        while let Some(item) = s.next().await {
            let info = item.map_err(|e| error(op.clone(), &e))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::new(op, ErrorKind::Failed, err));
            }
            if let Some(status) = info.status {
                let bytes = info
                    .progress_detail
                    .and_then(|p| p.current.zip(p.total))
                    .map(|(c, t)| (u64::try_from(c).unwrap_or(0), u64::try_from(t).unwrap_or(0)));
                progress(PullProgress {
                    layer: info.id,
                    status,
                    bytes,
                });
            }
        }
        Ok(())
    }

    async fn build(
        &self,
        tag: &str,
        dockerfile: &str,
        context_tar: Vec<u8>,
        args: &HashMap<String, String>,
        target: Option<&str>,
        image_labels: &HashMap<String, String>,
        output: &mut (dyn FnMut(String) + Send),
    ) -> R<String> {
        let v = self.docker.client_version();
        let too_old = build::too_old(v.major_version, v.minor_version);
        let op = format!("building image {tag}");
        let mut request = build::Request {
            docker: self.docker.clone(),
            tag: tag.to_string(),
            dockerfile: dockerfile.to_string(),
            context_tar: context_tar.into(),
            args: args.clone(),
            target: target.map(str::to_string),
            labels: image_labels.clone(),
        };
        // A client of the build's own, on the build's own runtime (see `build_apart`); where the address is
        // one we cannot open again, the build runs here, on the shared client.
        let addr = engine_address();
        let own = if addr.starts_with("unix://") {
            Docker::connect_with_unix(&addr, 120, &v).ok()
        } else if addr.starts_with("tcp://") || addr.starts_with("http://") {
            Docker::connect_with_http(&addr, 120, &v).ok()
        } else {
            None
        };
        match own {
            Some(docker) => {
                request.docker = docker;
                build::build_apart(
                    op,
                    self.builder.clone(),
                    std::sync::Arc::clone(&self.buildkit_missing),
                    too_old,
                    request,
                    output,
                )
                .await
            }
            None => {
                build::build(
                    &op,
                    &self.builder,
                    &self.buildkit_missing,
                    too_old,
                    &request,
                    output,
                )
                .await
            }
        }
    }

    async fn running_containers(&self) -> R<Vec<RunningContainer>> {
        let opts = ListContainersOptionsBuilder::default().all(false).build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| error("listing running containers", &e))?;
        Ok(list.into_iter().map(running_container).collect())
    }

    async fn info(&self) -> R<SystemInfo> {
        self.docker
            .info()
            .await
            .map(system_info)
            .map_err(|e| error("reading the engine's system information", &e))
    }

    async fn version(&self) -> R<(String, String)> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| error("reading the engine version", &e))?;
        Ok((
            v.version.unwrap_or_default(),
            v.api_version.unwrap_or_default(),
        ))
    }
}

/// `ipfs/kubo:v0.39.0` → (`ipfs/kubo`, `v0.39.0`); no tag → `latest`; digests kept whole.
pub fn split_reference(reference: &str) -> (String, String) {
    if reference.contains('@') {
        return (reference.to_string(), String::new());
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            reference[..last_slash + i].to_string(),
            reference[last_slash + i + 1..].to_string(),
        ),
        None => (reference.to_string(), "latest".into()),
    }
}
