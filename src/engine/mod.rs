//! The engine seam: what pinshare-dev asks of a container engine, in its own words. One method per Docker
//! operation; every error names the operation and the object ("creating container pinshare-ipfs: port 5001 is
//! already allocated"). `docker.rs` speaks the Docker Engine API (bollard, and only there).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;

use crate::labels;

mod docker;
#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod stats;

pub use crate::labels::Role;
pub use docker::{DockerEngine, engine_address};
pub use stats::{CpuPeriod, StatsSample, Throttling};

/// Connects to the Docker engine (honouring `DOCKER_HOST`), version negotiated.
pub async fn connect() -> R<Arc<dyn Engine>> {
    Ok(Arc::new(DockerEngine::connect().await?))
}

/// A container engine: one method per operation; every error names the operation and the object.
///
/// Callers hold it as `Arc<dyn Engine>` (or borrow `&dyn Engine`): one engine type flows through `up`, the
/// supervisors, the dev loop and the probes, and tests swap in [`fake::Fake`] without making every one of
/// them generic. `async_trait` boxes the futures, which is what makes the trait object possible; one
/// allocation per engine call is nothing next to the call itself.
#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// From now on creating calls fail; then waits for those already made. For the clean-up after Ctrl-C.
    async fn stop_creating(&self);

    /// Waits until every create/start call started so far has been answered.
    async fn settle(&self);

    /// Labels of a network, `None` when it does not exist.
    async fn network_labels(&self, name: &str) -> R<Option<HashMap<String, String>>>;

    /// The gateway addresses of a network (empty when it does not exist or names none). For a network whose
    /// address management names only a subnet (the default bridge's), the subnet's first address.
    async fn network_gateways(&self, name: &str) -> R<Vec<std::net::IpAddr>>;

    /// Creates a bridge network.
    async fn create_network(&self, name: &str, labels: HashMap<String, String>) -> R<()>;

    /// Removes a network.
    async fn remove_network(&self, name: &str) -> R<()>;

    /// The labels of every network carrying label `key=value`.
    async fn networks_labelled(&self, key: &str, value: &str) -> R<Vec<HashMap<String, String>>>;

    /// Labels of a volume, `None` when it does not exist.
    async fn volume_labels(&self, name: &str) -> R<Option<HashMap<String, String>>>;

    /// Creates a named volume.
    async fn create_volume(&self, name: &str, labels: HashMap<String, String>) -> R<()>;

    /// Names of the volumes carrying the project label, sorted.
    async fn project_volumes(&self, project: &str) -> R<Vec<String>>;

    /// Removes a volume.
    async fn remove_volume(&self, name: &str) -> R<()>;

    /// Every container (running or not) with the project label.
    async fn project_containers(&self, project: &str) -> R<Vec<ContainerInfo>>;

    /// Full inspection (by name or id); `None` when it does not exist.
    async fn inspect_container(&self, name: &str) -> R<Option<Container>>;

    /// Creates a container; returns its id.
    async fn create_container(&self, name: &str, spec: ContainerSpec) -> R<String>;

    /// Starts a container.
    async fn start_container(&self, name: &str) -> R<()>;

    /// SIGTERM, then SIGKILL after `grace`; a stopped container is fine.
    async fn stop_container(&self, name: &str, grace: Duration) -> R<()>;

    /// Unpauses a paused container (a paused one can be neither stopped nor killed).
    async fn unpause_container(&self, name: &str) -> R<()>;

    /// Restarts a container (SIGTERM, `grace`, SIGKILL, start); its filesystem is kept.
    async fn restart_container(&self, name: &str, grace: Duration) -> R<()>;

    /// Start and die events of the project's containers, as they happen.
    /// `since` (Unix seconds) replays events from then, so a subscription made just after a look misses nothing.
    fn container_events(
        &self,
        project: &str,
        since: Option<i64>,
    ) -> BoxStream<'static, R<ContainerEvent>>;

    /// Removes a container (forced: a running one is killed); already gone is fine. Anonymous volumes go
    /// with it; named ones stay.
    async fn remove_container(&self, name: &str) -> R<()>;

    /// Waits for a container to stop; returns its exit code.
    async fn wait_container(&self, name: &str) -> R<i64>;

    /// Container output as a stream of chunks, from the engine's log (with timestamps when asked). Its live
    /// follow reads the json-file log as it grows and drops lines under a flood (Engine 20.10): use it for the
    /// history, and [`Engine::attach`] for what comes next.
    fn logs(&self, name: &str, opts: &LogOptions) -> BoxStream<'static, R<LogChunk>>;

    /// The container's live stdout and stderr from now on (no history, no timestamps), as `docker run` gets
    /// them: nothing is dropped, and a reader that is slow slows the container's writes. Returns once the
    /// engine has answered the attach; made before the start, it holds the first line. The stream ends when
    /// the container stops.
    async fn attach(&self, name: &str) -> R<BoxStream<'static, R<LogChunk>>>;

    /// Attaches to a created container made with `stdin`, before it starts: its output until it ends, and its
    /// stdin (shutting the writer down closes it). The session's `id` is the container's name.
    async fn attach_stdin(&self, name: &str) -> R<ExecSession>;

    /// Sets the size of a running container's TTY.
    async fn resize_container(&self, name: &str, rows: u16, cols: u16) -> R<()>;

    /// One resource-usage sample of a container; `None` when it does not exist or is not running. With `period`
    /// the engine reads the counters twice, about a second apart, so the sample has a CPU figure; without, it
    /// answers at once with memory, network and block I/O only (what a periodic memory check needs).
    async fn stats(&self, name: &str, period: bool) -> R<Option<StatsSample>>;

    /// Renames a container (running or not); its id, state and attached streams stay.
    async fn rename_container(&self, name: &str, new_name: &str) -> R<()>;

    /// Leaves `network` and joins it again answering to `aliases` (the engine has no other way to change a
    /// running container's aliases): its address and its ephemeral published ports may change.
    async fn rejoin_network(&self, network: &str, name: &str, aliases: &[String]) -> R<()>;

    /// Runs a command in a running container and collects its output and exit code.
    async fn exec(&self, name: &str, argv: &[String]) -> R<ExecOutput>;

    /// Starts a command in a running container with its streams attached (what `docker exec -i [-t]` does):
    /// its output as it comes, and its stdin to write to (shut down = end of input). The exit code is read
    /// afterwards with [`Engine::exec_exit_code`].
    async fn exec_attached(&self, name: &str, req: &ExecRequest) -> R<ExecSession>;

    /// Tells a TTY exec session its terminal's size.
    async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> R<()>;

    /// The exit code of an exec session; `None` while its command still runs.
    async fn exec_exit_code(&self, id: &str) -> R<Option<i64>>;

    /// A tar of `path` in a (possibly stopped) container; `None` when the path does not exist.
    async fn download(&self, name: &str, path: &str) -> R<Option<Vec<u8>>>;

    /// The first `max` bytes (or a little more) of the tar of `path` in a (possibly stopped) container; the
    /// rest is never read, so looking at the owner of a huge volume's root costs one header.
    async fn download_prefix(&self, name: &str, path: &str, max: usize) -> R<Option<Vec<u8>>>;

    /// Extracts a tar into `dir` of a (possibly stopped) container; ownership comes from the tar headers.
    async fn upload(&self, name: &str, dir: &str, tar: Vec<u8>) -> R<()>;

    /// Image inspection; `None` when the image is not present locally.
    async fn inspect_image(&self, reference: &str) -> R<Option<ImageInfo>>;

    /// Asks the registry of `reference` for it as a pull would, without pulling (the engine's distribution
    /// inspect): an error says why a pull would fail (registry unreachable, image or tag unknown, access denied).
    async fn registry_has(&self, reference: &str) -> R<()>;

    /// Ids of the images built for `service` of `project` (by label), newest first, tagged or not.
    async fn service_images(&self, project: &str, service: &str) -> R<Vec<String>>;

    /// Removes an image by id; refused (an error) while a container uses it.
    async fn remove_image(&self, id: &str) -> R<()>;

    /// Pulls an image, reporting each progress message through `progress`.
    async fn pull(&self, reference: &str, progress: &mut (dyn FnMut(PullProgress) + Send))
    -> R<()>;

    /// Builds an image from an in-memory context tar; returns the image id. BuildKit where the engine has it
    /// (its steps as `#N …` lines), else the classic builder, with one line that says so and why; the
    /// `PINSHARE_DEV_BUILDER` environment variable (`buildkit`, `classic`, `auto`) picks one. Every output line
    /// goes to `output`.
    #[allow(clippy::too_many_arguments)]
    async fn build(
        &self,
        tag: &str,
        dockerfile: &str,
        context_tar: Vec<u8>,
        args: &HashMap<String, String>,
        target: Option<&str>,
        image_labels: &HashMap<String, String>,
        output: &mut (dyn FnMut(String) + Send),
    ) -> R<String>;

    /// Every running container, of any project or none, with its labels and published ports.
    async fn running_containers(&self) -> R<Vec<RunningContainer>>;

    /// System information: root directory, image and container counts, security options.
    async fn info(&self) -> R<SystemInfo>;

    /// Engine version string and API version.
    async fn version(&self) -> R<(String, String)>;
}

/// What kind of failure an engine operation met; control flow depends on it (a missing container is often
/// what we wanted), the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object does not exist.
    NotFound,
    /// The object is in a state that forbids the operation (being removed, name taken).
    Conflict,
    /// The engine could not be reached or did not answer.
    Unavailable,
    /// The project is being torn down: nothing more is created.
    Stopping,
    /// Anything else the engine refused or failed at.
    Failed,
}

/// A failed engine operation.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {message}")]
pub struct EngineError {
    /// What was being done, naming the object: "creating container pinshare-ipfs".
    pub op: String,
    /// What the engine said.
    pub message: String,
    /// What kind of failure it was.
    pub kind: ErrorKind,
}

impl EngineError {
    /// An error of `kind` for operation `op`.
    pub fn new(op: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        EngineError {
            op: op.into(),
            message: message.into(),
            kind,
        }
    }

    /// Whether the engine said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

/// Result of an engine operation.
pub type R<T> = Result<T, EngineError>;

/// The state of a container, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused (its processes are frozen).
    Paused,
    /// Being restarted by the engine.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped, with its exit code and whether the kernel killed it for memory.
    Exited {
        /// Exit code.
        code: i64,
        /// Killed by the OOM killer.
        oom: bool,
    },
    /// Could not be stopped or removed cleanly.
    Dead,
    /// Being stopped (newer engines list it; an inspection reads it as running or exited).
    Stopping,
}

impl State {
    /// Docker's own word for it, as `docker ps` and `pinshare-dev ps` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Removing => "removing",
            State::Exited { .. } => "exited",
            State::Dead => "dead",
            State::Stopping => "stopping",
        }
    }

    /// Whether it has processes, as Docker's `State.Running`: a paused or restarting container is running.
    pub fn is_running(self) -> bool {
        matches!(self, State::Running | State::Paused | State::Restarting)
    }
}

/// A container as inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Id of the image it was created from.
    pub image: String,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// State.
    pub state: State,
    /// When it last started (RFC 3339, as the engine wrote it: `0001-01-01T00:00:00Z` for never).
    pub started_at: Option<String>,
    /// When it last stopped (RFC 3339, as the engine wrote it).
    pub finished_at: Option<String>,
    /// How often the engine restarted it.
    pub restart_count: i64,
    /// Its address on each network it is attached to, by network name.
    pub networks: HashMap<String, Option<IpAddr>>,
    /// Its published ports, by container port: where the engine bound each on the host.
    pub ports: Vec<(u16, PublishedPort)>,
}

impl Container {
    /// Whether it runs (see [`State::is_running`]).
    pub fn is_running(&self) -> bool {
        self.state.is_running()
    }

    /// Whether it is paused.
    pub fn is_paused(&self) -> bool {
        self.state == State::Paused
    }

    /// Whether the kernel killed it for memory.
    pub fn oom_killed(&self) -> bool {
        matches!(self.state, State::Exited { oom: true, .. })
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// `dev.pinshare.project`.
    pub fn project(&self) -> Option<&str> {
        self.label(labels::PROJECT)
    }

    /// `dev.pinshare.config-hash`.
    pub fn config_hash(&self) -> Option<&str> {
        self.label(labels::CONFIG_HASH)
    }

    /// Its address on `network`.
    pub fn ip_on(&self, network: &str) -> Option<IpAddr> {
        self.networks.get(network).copied().flatten()
    }

    /// Where the engine published container port `port` (`udp` or TCP) on the host, if it did.
    pub fn published(&self, port: u16, udp: bool) -> Option<std::net::SocketAddr> {
        self.ports
            .iter()
            .find(|(p, h)| *p == port && h.udp == udp)
            .map(|(_, h)| h.reach())
    }

    /// Where this host reaches container port `port`: where the engine published it, or else the container's
    /// address on `network` (a container whose forwarder goes to its address publishes nothing).
    pub fn reachable(&self, port: u16, udp: bool, network: &str) -> Option<std::net::SocketAddr> {
        self.published(port, udp)
            .or_else(|| Some(std::net::SocketAddr::new(self.ip_on(network)?, port)))
    }
}

/// A project container as listed (cheaper than an inspection).
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    /// Name without the leading `/`.
    pub name: String,
    /// `dev.pinshare.service` label.
    pub service: String,
    /// `dev.pinshare.role` label, when it is one of ours.
    pub role: Option<Role>,
    /// `dev.pinshare.config-hash` label.
    pub config_hash: String,
    /// State as listed (an exited one's code comes from its status text; the list does not say OOM).
    pub state: State,
    /// Human status from Docker (`Up 3 minutes`).
    pub status: String,
    /// Image reference.
    pub image: String,
    /// `dev.pinshare.ports` says a foreground run's forwarder owns its host ports.
    pub ports_forwarded: bool,
}

impl ContainerInfo {
    /// Whether the container is running and not paused or restarting: the list's `running`, not
    /// [`State::is_running`] (a paused container can be neither stopped nor killed).
    pub fn is_running(&self) -> bool {
        self.state == State::Running
    }
}

/// A running container of any project (or none) and the host ports it publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningContainer {
    /// Name without the leading `/` (the id when it has none).
    pub name: String,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Published host ports.
    pub ports: Vec<PublishedPort>,
}

/// A host port a container publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// Host address as the engine wrote it (`0.0.0.0`, `::`, `127.0.0.1`), if it did.
    pub ip: Option<String>,
    /// Host port.
    pub port: u16,
    /// UDP (else TCP).
    pub udp: bool,
}

impl PublishedPort {
    /// Where the host reaches it: the bound address, loopback for a wildcard (or unnamed) bind.
    pub fn reach(&self) -> std::net::SocketAddr {
        let ip = self
            .ip
            .as_deref()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .filter(|a| !a.is_unspecified())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        std::net::SocketAddr::new(ip, self.port)
    }
}

/// A local image as inspected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageInfo {
    /// Id (`sha256:…`).
    pub id: String,
    /// The user it runs as; empty = root.
    pub user: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
}

/// What the engine says about itself, for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemInfo {
    /// `DockerRootDir`.
    pub root_dir: Option<String>,
    /// Image count.
    pub images: Option<i64>,
    /// Container count.
    pub containers: Option<i64>,
    /// Running container count.
    pub containers_running: Option<i64>,
    /// `SecurityOptions` (`name=rootless`, `name=userns`…).
    pub security_options: Vec<String>,
}

/// Kind of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A named volume.
    Volume,
    /// A host path.
    Bind,
}

/// A mount of a container to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Volume or bind.
    pub kind: MountKind,
    /// Volume name or host path.
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A published port of a container to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Port in the container.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// Host address to bind.
    pub host_ip: IpAddr,
    /// Host port.
    pub host_port: u16,
}

/// Resource requests and limits (all optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Relative CPU weight (1 core = 1024).
    pub cpu_shares: Option<i64>,
    /// CPU limit in billionths of a core.
    pub nano_cpus: Option<i64>,
    /// Memory limit, bytes.
    pub memory: Option<i64>,
    /// Memory reservation, bytes.
    pub memory_reservation: Option<i64>,
}

/// Attachment to a network, with the names the container is known by there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAttachment {
    /// Network name.
    pub name: String,
    /// DNS aliases on it.
    pub aliases: Vec<String>,
}

/// Everything a container is created with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    /// Image reference or id.
    pub image: String,
    /// Host name inside the container.
    pub hostname: Option<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// Command (arguments to the entrypoint); `None` = the image's.
    pub cmd: Option<Vec<String>>,
    /// Entrypoint; `None` = the image's.
    pub entrypoint: Option<Vec<String>>,
    /// User; `None` = the image's.
    pub user: Option<String>,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Published ports.
    pub ports: Vec<PortSpec>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// Resources.
    pub resources: Resources,
    /// The network it joins; `None` = the engine's default.
    pub network: Option<NetworkAttachment>,
    /// An init process as PID 1 (forwards signals, reaps zombies).
    pub init: bool,
    /// Seconds between SIGTERM and SIGKILL on stop; `None` = the engine's default.
    pub stop_timeout: Option<i64>,
    /// `no-new-privileges`: an exec of a setuid binary gains nothing.
    pub no_new_privileges: bool,
    /// Capabilities dropped (`ALL`, or none = the engine's default set).
    pub cap_drop: Vec<String>,
    /// Capabilities added back after the drop.
    pub cap_add: Vec<String>,
    /// Its stdin open, for [`Engine::attach_stdin`], and closed when the attached writer shuts it down
    /// (`docker run -i`).
    pub stdin: bool,
    /// A TTY (`docker run -t`): stdout and stderr become one stream.
    pub tty: bool,
}

/// One line-ish chunk of container output.
#[derive(Debug, Clone)]
pub struct LogChunk {
    /// From stderr.
    pub stderr: bool,
    /// Raw bytes (may hold several lines or part of one).
    pub bytes: bytes::Bytes,
}

/// One message of a pull: a layer's state, and its bytes so far when it is moving (a line of its own, piped:
/// `Image::PullProgress` in output/event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// The layer (short id), or `None` for the image as a whole.
    pub layer: Option<String>,
    /// `Pulling fs layer`, `Downloading`, `Extracting`, `Pull complete`, `Already exists`, …
    pub status: String,
    /// Bytes so far and in all, while downloading or extracting.
    pub bytes: Option<(u64, u64)>,
}

/// What happened to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    /// It started.
    Start,
    /// It stopped.
    Die,
}

/// A start or die of a project container.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    /// Start or die.
    pub action: EventAction,
    /// Container id.
    pub id: String,
    /// Service label.
    pub service: String,
    /// Role label, when it is one of ours.
    pub role: Option<Role>,
    /// Exit code, on `die`.
    pub exit_code: Option<i64>,
    /// When it happened (Unix seconds).
    pub time: i64,
}

/// Output and exit code of a command run in a container.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// Exit code.
    pub code: i64,
    /// stdout and stderr, interleaved.
    pub output: String,
}

/// A command to run in a running container with its streams attached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// User (`name`, `uid` or `uid:gid`); `None` = the container's.
    pub user: Option<String>,
    /// Extra `KEY=value` pairs on top of the container's environment.
    pub env: Vec<String>,
    /// Working directory; `None` = the container's.
    pub workdir: Option<String>,
    /// A pseudo-terminal (stdout and stderr then arrive as one stream).
    pub tty: bool,
}

/// A command started in a container, its streams attached.
pub struct ExecSession {
    /// The exec's id (for [`Engine::exec_resize`] and [`Engine::exec_exit_code`]).
    pub id: String,
    /// Its stdout and stderr (one stream under a TTY); ends when the command does.
    pub output: BoxStream<'static, R<LogChunk>>,
    /// Its stdin; shutting it down closes the command's stdin.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// Options of a log read.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep following.
    pub follow: bool,
    /// Lines from the end; `None` = all.
    pub tail: Option<u64>,
    /// Only lines after this Unix time.
    pub since: Option<i64>,
    /// Prefix each line with the engine's RFC 3339 timestamp.
    pub timestamps: bool,
}
