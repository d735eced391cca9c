//! An in-memory engine for tests: containers, networks, volumes and images are data, every call is recorded,
//! and a test scripts what the real engine would do — events, exits, OOM kills, failures and latency. Time is
//! tokio's, so under `#[tokio::test(start_paused = true)]` backoff and timeouts run in virtual time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::{broadcast, watch};

use super::{
    Container, ContainerEvent, ContainerInfo, ContainerSpec, Engine, EngineError, ErrorKind,
    EventAction, ExecOutput, ExecRequest, ExecSession, ImageInfo, LogChunk, LogOptions,
    PullProgress, R, Role, RunningContainer, State, StatsSample, SystemInfo,
};
use crate::labels;

mod script;

/// What a container does once started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Keeps running until stopped.
    Run,
    /// Exits with `code` after running for the given time.
    Exit(Duration, i64),
    /// Is killed by the kernel for memory (exit 137) after running for the given time.
    Oom(Duration),
}

/// One recorded call: the operation and its object, e.g. `create_container pinshare-ipfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Operation (the trait method's name).
    pub op: &'static str,
    /// Its object (container, network, volume or image name; empty when there is none).
    pub object: String,
    /// When it was made, on tokio's clock.
    pub at: tokio::time::Instant,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    id: String,
    name: String,
    spec: ContainerSpec,
    image_id: String,
    state: State,
    started_at: Option<String>,
    restart_count: i64,
    logs: Vec<String>,
    /// Bumped on every start, so a scheduled exit of an earlier run does not end a later one.
    run: u64,
}

impl FakeContainer {
    fn view(&self) -> Container {
        Container {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image_id.clone(),
            labels: self.spec.labels.clone(),
            state: self.state,
            started_at: self.started_at.clone(),
            finished_at: None,
            restart_count: self.restart_count,
            networks: self
                .spec
                .network
                .iter()
                .map(|n| (n.name.clone(), None))
                .collect(),
            // Published where the spec says; an engine-chosen port (0) stays 0 here.
            ports: self
                .spec
                .ports
                .iter()
                .map(|p| {
                    (
                        p.container_port,
                        crate::engine::PublishedPort {
                            ip: Some(p.host_ip.to_string()),
                            port: p.host_port,
                            udp: p.protocol == "udp",
                        },
                    )
                })
                .collect(),
        }
    }
}

#[derive(Default)]
struct World {
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeMap<String, HashMap<String, String>>,
    volumes: BTreeMap<String, HashMap<String, String>>,
    images: BTreeMap<String, ImageInfo>,
    calls: Vec<Call>,
    /// Every event so far, with the project of its container.
    history: Vec<(String, ContainerEvent)>,
    /// Failures still to happen, by (operation, object); an empty object matches any.
    failures: HashMap<(&'static str, String), VecDeque<ErrorKind>>,
    latency: HashMap<&'static str, Duration>,
    /// What each container (by name) does when started; one entry per start, the last one repeats.
    behaviour: HashMap<String, VecDeque<Behaviour>>,
    exec: HashMap<String, VecDeque<ExecOutput>>,
    /// Resource-usage samples of each container (by name), one per `stats` call, the last one repeats.
    stats: HashMap<String, VecDeque<StatsSample>>,
    /// Every stop asked for, with its grace.
    graces: Vec<(String, Duration)>,
    stopping: bool,
    next_id: u64,
    /// Run once when the call with this number (1-based, counting every call) is made.
    hooks: Vec<(usize, Box<dyn FnOnce() + Send>)>,
    /// The engine is unreachable: every call fails, event streams end.
    lost: bool,
}

struct Inner {
    world: Mutex<World>,
    events: broadcast::Sender<(String, ContainerEvent)>,
    /// Bumped on every state change, so waits re-check.
    changed: watch::Sender<u64>,
    /// Whether the engine is lost; live event streams end when it turns true.
    lost: watch::Sender<bool>,
    epoch: (std::time::SystemTime, tokio::time::Instant),
}

/// The recording fake. Cheap to clone; clones share the world.
#[derive(Clone)]
pub struct Fake(Arc<Inner>);

impl Default for Fake {
    fn default() -> Self {
        Fake::new()
    }
}

#[async_trait]
impl Engine for Fake {
    async fn stop_creating(&self) {
        self.world().stopping = true;
    }

    async fn settle(&self) {}

    async fn network_labels(&self, name: &str) -> R<Option<HashMap<String, String>>> {
        self.call("network_labels", name).await?;
        Ok(self.world().networks.get(name).cloned())
    }

    async fn network_gateways(&self, _name: &str) -> R<Vec<std::net::IpAddr>> {
        // The fake's containers have no address this host reaches: a forwarder goes to published ports.
        Ok(Vec::new())
    }

    async fn create_network(&self, name: &str, labels: HashMap<String, String>) -> R<()> {
        self.call("create_network", name).await?;
        self.refuse_when_stopping(format!("creating network {name}"))?;
        self.world().networks.insert(name.to_string(), labels);
        Ok(())
    }

    async fn networks_labelled(&self, key: &str, value: &str) -> R<Vec<HashMap<String, String>>> {
        self.call("networks_labelled", key).await?;
        Ok(self
            .world()
            .networks
            .values()
            .filter(|l| l.get(key).map(String::as_str) == Some(value))
            .cloned()
            .collect())
    }

    async fn remove_network(&self, name: &str) -> R<()> {
        self.call("remove_network", name).await?;
        self.world().networks.remove(name);
        Ok(())
    }

    async fn volume_labels(&self, name: &str) -> R<Option<HashMap<String, String>>> {
        self.call("volume_labels", name).await?;
        Ok(self.world().volumes.get(name).cloned())
    }

    async fn create_volume(&self, name: &str, labels: HashMap<String, String>) -> R<()> {
        self.call("create_volume", name).await?;
        self.refuse_when_stopping(format!("creating volume {name}"))?;
        self.world().volumes.insert(name.to_string(), labels);
        Ok(())
    }

    async fn project_volumes(&self, project: &str) -> R<Vec<String>> {
        self.call("project_volumes", project).await?;
        Ok(self
            .world()
            .volumes
            .iter()
            .filter(|(_, l)| l.get(labels::PROJECT).map(String::as_str) == Some(project))
            .map(|(n, _)| n.clone())
            .collect())
    }

    async fn remove_volume(&self, name: &str) -> R<()> {
        self.call("remove_volume", name).await?;
        self.world().volumes.remove(name);
        Ok(())
    }

    async fn project_containers(&self, project: &str) -> R<Vec<ContainerInfo>> {
        self.call("project_containers", project).await?;
        let w = self.world();
        Ok(w.containers
            .values()
            .filter(|c| c.spec.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
            .map(|c| {
                let get = |k: &str| c.spec.labels.get(k).cloned().unwrap_or_default();
                ContainerInfo {
                    name: c.name.clone(),
                    service: get(labels::SERVICE),
                    role: Role::parse(&get(labels::ROLE)),
                    config_hash: get(labels::CONFIG_HASH),
                    state: c.state,
                    status: String::new(),
                    image: c.spec.image.clone(),
                    ports_forwarded: labels::is_forwarded(Some(&get(labels::PORTS))),
                }
            })
            .collect())
    }

    async fn inspect_container(&self, name: &str) -> R<Option<Container>> {
        self.call("inspect_container", name).await?;
        let w = self.world();
        Ok(Self::find(&w, name).and_then(|k| w.containers.get(&k).map(FakeContainer::view)))
    }

    async fn create_container(&self, name: &str, spec: ContainerSpec) -> R<String> {
        self.call("create_container", name).await?;
        self.refuse_when_stopping(format!("creating container {name}"))?;
        let mut w = self.world();
        if w.containers.contains_key(name) {
            return Err(EngineError::new(
                format!("creating container {name}"),
                ErrorKind::Conflict,
                format!("the container name \"/{name}\" is already in use"),
            ));
        }
        let Some(image_id) = w.images.get(&spec.image).map(|i| i.id.clone()) else {
            return Err(Self::not_found("creating container", "image", &spec.image));
        };
        w.next_id += 1;
        let id = format!("fake{:06}", w.next_id);
        w.containers.insert(
            name.to_string(),
            FakeContainer {
                id: id.clone(),
                name: name.to_string(),
                spec,
                image_id,
                state: State::Created,
                started_at: None,
                restart_count: 0,
                logs: Vec::new(),
                run: 0,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, name: &str) -> R<()> {
        self.call("start_container", name).await?;
        self.refuse_when_stopping(format!("starting container {name}"))?;
        self.start(name)
    }

    async fn stop_container(&self, name: &str, grace: Duration) -> R<()> {
        self.world().graces.push((name.to_string(), grace));
        self.call("stop_container", name).await?;
        self.stop(name)
    }

    async fn unpause_container(&self, name: &str) -> R<()> {
        self.call("unpause_container", name).await?;
        let mut w = self.world();
        let key =
            Self::find(&w, name).ok_or_else(|| Self::not_found("unpausing", "container", name))?;
        if let Some(c) = w.containers.get_mut(&key)
            && c.state == State::Paused
        {
            c.state = State::Running;
        }
        Ok(())
    }

    async fn restart_container(&self, name: &str, _grace: Duration) -> R<()> {
        self.call("restart_container", name).await?;
        self.stop(name)?;
        self.start(name)
    }

    fn container_events(
        &self,
        project: &str,
        since: Option<i64>,
    ) -> BoxStream<'static, R<ContainerEvent>> {
        self.record("container_events", project);
        if self.world().lost {
            let e = EngineError::new(
                format!("container_events {project}"),
                ErrorKind::Unavailable,
                "the engine is unreachable",
            );
            return stream::iter([Err(e)]).boxed();
        }
        // Subscribe before copying the history, so nothing falls between the two.
        let mut lost = self.0.lost.subscribe();
        let live = tokio_stream_of(self.0.events.subscribe()).take_until(async move {
            let _ = lost.wait_for(|l| *l).await;
        });
        let project = project.to_string();
        let past: Vec<(String, ContainerEvent)> = match since {
            Some(s) => self
                .world()
                .history
                .iter()
                .filter(|(_, e)| e.time >= s)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        stream::iter(past)
            .chain(live)
            .filter_map(move |(p, e)| std::future::ready((p == project).then_some(Ok(e))))
            .boxed()
    }

    async fn remove_container(&self, name: &str) -> R<()> {
        self.call("remove_container", name).await?;
        let removed = {
            let mut w = self.world();
            Self::find(&w, name).and_then(|k| w.containers.remove(&k))
        };
        if let Some(c) = removed
            && c.state.is_running()
        {
            self.emit(&c, EventAction::Die, Some(137));
        }
        self.bump();
        Ok(())
    }

    async fn wait_container(&self, name: &str) -> R<i64> {
        self.call("wait_container", name).await?;
        let mut changed = self.0.changed.subscribe();
        let id = {
            let w = self.world();
            Self::find(&w, name).and_then(|k| w.containers.get(&k).map(|c| c.id.clone()))
        }
        .ok_or_else(|| Self::not_found("waiting for", "container", name))?;
        loop {
            let state = {
                let w = self.world();
                w.containers.values().find(|c| c.id == id).map(|c| c.state)
            };
            match state {
                Some(State::Exited { code, .. }) => return Ok(code),
                Some(s) if s.is_running() || s == State::Created => {}
                // Removed or dead: what the engine answers for a forced removal.
                _ => return Ok(137),
            }
            if changed.changed().await.is_err() {
                return Ok(-1);
            }
        }
    }

    fn logs(&self, name: &str, opts: &LogOptions) -> BoxStream<'static, R<LogChunk>> {
        self.record("logs", name);
        if self.world().lost {
            let e = EngineError::new(
                format!("logs {name}"),
                ErrorKind::Unavailable,
                "the engine is unreachable",
            );
            return stream::iter([Err(e)]).boxed();
        }
        let lines: Vec<String> = self
            .world()
            .containers
            .get(name)
            .map(|c| c.logs.clone())
            .unwrap_or_default();
        let skip = opts.tail.map_or(0, |t| {
            lines.len().saturating_sub(usize::try_from(t).unwrap_or(0))
        });
        stream::iter(lines.into_iter().skip(skip).map(|l| {
            Ok(LogChunk {
                stderr: false,
                bytes: bytes::Bytes::from(l),
            })
        }))
        .boxed()
    }

    async fn attach(&self, name: &str) -> R<BoxStream<'static, R<LogChunk>>> {
        self.call("attach", name).await?;
        // The fake's containers write nothing: the live stream ends at once, as a stopped one's does.
        Ok(stream::empty().boxed())
    }

    async fn attach_stdin(&self, name: &str) -> R<ExecSession> {
        self.call("attach_stdin", name).await?;
        // As `attach`: the fake's containers write nothing, and what is written to them goes nowhere.
        Ok(ExecSession {
            id: name.to_string(),
            output: stream::empty().boxed(),
            input: Box::pin(tokio::io::sink()),
        })
    }

    async fn resize_container(&self, name: &str, _rows: u16, _cols: u16) -> R<()> {
        self.call("resize_container", name).await
    }

    async fn stats(&self, name: &str, period: bool) -> R<Option<StatsSample>> {
        self.call("stats", name).await?;
        let mut w = self.world();
        let Some(id) = Self::find(&w, name)
            .and_then(|k| w.containers.get(&k))
            .filter(|c| c.state.is_running())
            .map(|c| c.id.clone())
        else {
            return Ok(None);
        };
        let sample = match w.stats.get_mut(name) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
        .unwrap_or_default();
        Ok(Some(StatsSample {
            id,
            // As the engine: a read without a period has no CPU figure.
            cpu: sample.cpu.filter(|_| period),
            ..sample
        }))
    }

    async fn rename_container(&self, name: &str, new_name: &str) -> R<()> {
        self.call("rename_container", name).await?;
        let mut w = self.world();
        let key =
            Self::find(&w, name).ok_or_else(|| Self::not_found("renaming", "container", name))?;
        if w.containers.contains_key(new_name) {
            return Err(EngineError::new(
                format!("renaming container {name} to {new_name}"),
                ErrorKind::Conflict,
                format!("the container name \"/{new_name}\" is already in use"),
            ));
        }
        if let Some(mut c) = w.containers.remove(&key) {
            c.name = new_name.to_string();
            w.containers.insert(new_name.to_string(), c);
        }
        Ok(())
    }

    async fn rejoin_network(&self, network: &str, name: &str, aliases: &[String]) -> R<()> {
        self.call("rejoin_network", name).await?;
        let mut w = self.world();
        let key =
            Self::find(&w, name).ok_or_else(|| Self::not_found("re-joining", "container", name))?;
        if let Some(c) = w.containers.get_mut(&key) {
            c.spec.network = Some(crate::engine::NetworkAttachment {
                name: network.to_string(),
                aliases: aliases.to_vec(),
            });
        }
        Ok(())
    }

    async fn exec(&self, name: &str, _argv: &[String]) -> R<ExecOutput> {
        self.call("exec", name).await?;
        let mut w = self.world();
        let running = Self::find(&w, name)
            .and_then(|k| w.containers.get(&k))
            .is_some_and(|c| c.state.is_running());
        if !running {
            return Err(EngineError::new(
                format!("running a command in container {name}"),
                ErrorKind::Conflict,
                format!("container {name} is not running"),
            ));
        }
        Ok(match w.exec.get_mut(name) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
        .unwrap_or(ExecOutput {
            code: 0,
            output: String::new(),
        }))
    }

    /// The scripted output of [`Engine::exec`], as one chunk; what is written to stdin goes nowhere. The exit
    /// code travels in the session's id, so no state is kept for it.
    async fn exec_attached(&self, name: &str, req: &ExecRequest) -> R<ExecSession> {
        let out = self.exec(name, &req.argv).await?;
        let chunk = LogChunk {
            stderr: false,
            bytes: bytes::Bytes::from(out.output),
        };
        Ok(ExecSession {
            id: format!("fake-exec:{}", out.code),
            output: futures_util::stream::iter([Ok(chunk)]).boxed(),
            input: Box::pin(tokio::io::sink()),
        })
    }

    async fn exec_resize(&self, id: &str, _rows: u16, _cols: u16) -> R<()> {
        self.call("exec_resize", id).await
    }

    async fn exec_exit_code(&self, id: &str) -> R<Option<i64>> {
        Ok(id.strip_prefix("fake-exec:").and_then(|c| c.parse().ok()))
    }

    async fn download(&self, name: &str, path: &str) -> R<Option<Vec<u8>>> {
        self.call("download", &format!("{name}:{path}")).await?;
        Ok(None)
    }

    async fn download_prefix(&self, name: &str, path: &str, _max: usize) -> R<Option<Vec<u8>>> {
        self.call("download_prefix", &format!("{name}:{path}"))
            .await?;
        Ok(None)
    }

    async fn upload(&self, name: &str, dir: &str, _tar: Vec<u8>) -> R<()> {
        self.call("upload", &format!("{name}:{dir}")).await
    }

    async fn inspect_image(&self, reference: &str) -> R<Option<ImageInfo>> {
        self.call("inspect_image", reference).await?;
        let w = self.world();
        Ok(w.images
            .get(reference)
            .or_else(|| w.images.values().find(|i| i.id == reference))
            .cloned())
    }

    async fn registry_has(&self, reference: &str) -> R<()> {
        // Every registry has every image, as `pull` finds (a script can make the call fail).
        self.call("registry_has", reference).await
    }

    async fn service_images(&self, project: &str, service: &str) -> R<Vec<String>> {
        self.call("service_images", service).await?;
        let w = self.world();
        let ours = |i: &&ImageInfo| {
            i.labels.get(labels::PROJECT).map(String::as_str) == Some(project)
                && i.labels.get(labels::SERVICE).map(String::as_str) == Some(service)
        };
        // Ids count up in the fake: the newest is the highest.
        let mut ids: Vec<String> = w
            .images
            .values()
            .filter(ours)
            .map(|i| i.id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids.reverse();
        Ok(ids)
    }

    async fn remove_image(&self, id: &str) -> R<()> {
        self.call("remove_image", id).await?;
        let mut w = self.world();
        if w.containers.values().any(|c| c.spec.image == id) {
            return Err(EngineError::new(
                format!("removing image {id}"),
                ErrorKind::Failed,
                "image is being used by a container",
            ));
        }
        w.images.retain(|_, i| i.id != id);
        Ok(())
    }

    async fn pull(
        &self,
        reference: &str,
        _progress: &mut (dyn FnMut(PullProgress) + Send),
    ) -> R<()> {
        self.call("pull", reference).await?;
        let mut w = self.world();
        w.next_id += 1;
        let id = format!("sha256:pulled{}", w.next_id);
        w.images.entry(reference.to_string()).or_insert(ImageInfo {
            id,
            ..ImageInfo::default()
        });
        Ok(())
    }

    async fn build(
        &self,
        tag: &str,
        _dockerfile: &str,
        _context_tar: Vec<u8>,
        _args: &HashMap<String, String>,
        _target: Option<&str>,
        image_labels: &HashMap<String, String>,
        _output: &mut (dyn FnMut(String) + Send),
    ) -> R<String> {
        self.call("build", tag).await?;
        let mut w = self.world();
        w.next_id += 1;
        let id = format!("sha256:built{}", w.next_id);
        w.images.insert(
            tag.to_string(),
            ImageInfo {
                id: id.clone(),
                user: String::new(),
                labels: image_labels.clone(),
            },
        );
        Ok(id)
    }

    async fn running_containers(&self) -> R<Vec<RunningContainer>> {
        self.call("running_containers", "").await?;
        let w = self.world();
        Ok(w.containers
            .values()
            .filter(|c| c.state.is_running())
            .map(|c| RunningContainer {
                name: c.name.clone(),
                labels: c.spec.labels.clone(),
                ports: Vec::new(),
            })
            .collect())
    }

    async fn info(&self) -> R<SystemInfo> {
        self.call("info", "").await?;
        Ok(SystemInfo::default())
    }

    async fn version(&self) -> R<(String, String)> {
        self.call("version", "").await?;
        Ok(("fake".into(), "1.41".into()))
    }
}

/// A broadcast receiver as a stream; a receiver that lagged skips what it missed.
fn tokio_stream_of<T: Clone + Send + 'static>(
    rx: broadcast::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests;
