//! The project spec: `pinshare.toml` parsed (`raw.rs`), then validated into a [`Spec`] that cannot be invalid
//! (`validate/`, one file per check). Errors carry file, line and column (`diagnostic.rs`).

pub(crate) mod context;
mod diagnostic;
pub(crate) mod lenient;
mod raw;
mod render;
mod steps;
pub mod units;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use diagnostic::{SpecError, SpecErrors};
pub use render::{DEFAULT_STORAGE_BYTES, RenderSettings};
pub use steps::{StepRun, TestStep};

/// A service's `stop_grace` when the spec gives none: SIGTERM, then SIGKILL after this long.
pub const DEFAULT_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
pub use units::{MountSource, PortMapping, Protocol, VolumeMount};

/// Default spec file name, looked up in the current directory and its parents.
pub(crate) const FILE_NAME: &str = "pinshare.toml";

/// A validated project.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// Project name: prefixes Docker object names and fills the project label.
    pub project: String,
    /// The spec file as given or found.
    pub file: PathBuf,
    /// Overlay files (`-f` after the first), each laid on the ones before it.
    pub overlays: Vec<PathBuf>,
    /// Directory of the spec file; relative paths in the spec are resolved against it.
    pub dir: PathBuf,
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Service names in dependency order (dependencies first, ties by name).
    pub order: Vec<String>,
    /// `[render]`: settings for `pinshare-dev render k8s|compose` only.
    pub render: RenderSettings,
    /// `[test]`: the steps `pinshare-dev test` runs, in order.
    pub test: Vec<TestStep>,
    /// `[ui] port`: the dashboard's port, if the spec names one.
    pub ui_port: Option<u16>,
    /// Labels every object of the project carries besides the project label (a `test` project's owner).
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// What the run adds (`context.rs`): host-build locks, the services whose ports it forwards.
    #[serde(skip)]
    pub run: context::RunContext,
}

/// A validated service.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// Service name (also its network alias).
    pub name: String,
    /// Where the image comes from.
    pub image: ImageSource,
    /// Services that must be ready first.
    pub depends_on: Vec<String>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Keys of `env` whose values are secret (listed in `secrets`, or secret by name: see [`crate::output::redact`]).
    /// Not part of the container's configuration, so not hashed with it.
    #[serde(skip)]
    pub secret_env: BTreeSet<String>,
    /// Published ports.
    pub ports: Vec<PortMapping>,
    /// Mounts.
    pub volumes: Vec<VolumeMount>,
    /// The bind mounts among `volumes` that hand the container part of the host, allowed by
    /// `allow_host_mounts`: `doctor` lists them, `up` warns about each. Derived from `volumes`, so not hashed.
    #[serde(skip)]
    pub host_mounts: Vec<HostMount>,
    /// Requests and limits.
    pub resources: Resources,
    /// Readiness probe.
    pub readiness: Option<Probe>,
    /// Liveness probe.
    pub liveness: Option<Probe>,
    /// One-shot steps before start.
    pub init: Vec<InitStep>,
    /// Command override.
    pub command: Option<Vec<String>>,
    /// Entrypoint override.
    pub entrypoint: Option<Vec<String>>,
    /// User override.
    pub user: Option<String>,
    /// Grace period between SIGTERM and SIGKILL.
    #[serde(skip)]
    pub stop_grace: Duration,
    /// Watched paths (absolute) and extra ignore globs.
    pub watch: Watch,
    /// Live update rules, if any.
    pub live_update: Option<LiveUpdate>,
    /// When a foreground `up` restarts the container.
    pub restart: RestartPolicy,
    /// Delays between restarts.
    pub backoff: Backoff,
    /// Give writable mounts to the service's user before it starts.
    pub fix_ownership: bool,
    /// What the container may do beyond an ordinary process: least privilege unless `security` relaxes it.
    pub security: Security,
}

/// A container's privileges: `no-new-privileges` and the capabilities it keeps.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Security {
    /// Set `no-new-privileges`: an exec of a setuid binary (or one with file capabilities) gains nothing.
    pub no_new_privileges: bool,
    /// The capabilities kept.
    pub capabilities: Capabilities,
}

/// Which capabilities a container keeps.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum Capabilities {
    /// Every capability dropped, then only these added back (names without `CAP_`, upper case, sorted); each is
    /// in Docker's default set, so this never grants more than a plain `docker run`.
    Only(Vec<String>),
    /// Docker's default set, untouched (`capabilities = "docker-default"`).
    DockerDefault,
}

impl Security {
    /// The default for a service: `no-new-privileges`, and every capability dropped except `kept`.
    pub fn least(kept: &[&str]) -> Self {
        Security {
            no_new_privileges: true,
            capabilities: Capabilities::Only(kept.iter().map(|c| (*c).to_string()).collect()),
        }
    }
}

/// A bind mount that hands the container part of the host (the engine's socket, a system directory, the home
/// directory), written on purpose: listed in the service's `allow_host_mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    /// The host path mounted (resolved against the spec's directory).
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// What the mount hands over and why it matters:
    /// `is the Docker engine's socket: whoever controls the container is root on this machine`.
    pub danger: String,
}

impl HostMount {
    /// `/var/run/docker.sock:/var/run/docker.sock is the Docker engine's socket: …`, for warnings.
    pub(crate) fn describe(&self) -> String {
        let ro = if self.read_only { ":ro" } else { "" };
        format!("{}:{}{ro} {}", self.source, self.target, self.danger)
    }
}

/// When a container is restarted by a foreground `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// After any exit and after a failed liveness probe.
    Always,
    /// After a non-zero exit and after a failed liveness probe.
    OnFailure,
    /// Never.
    No,
}

impl RestartPolicy {
    /// Whether an exit with `code` is restarted.
    pub(crate) fn restarts_exit(self, code: i64) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::No => false,
        }
    }

    /// As written in the spec.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::No => "no",
        }
    }
}

/// Kubelet-like restart delays: `first`, then `base` doubling up to `max`; reset after `reset_after` of calm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Backoff {
    /// Before the first restart.
    #[serde(serialize_with = "ser_millis")]
    pub first: Duration,
    /// Before the second; doubles after.
    #[serde(serialize_with = "ser_millis")]
    pub base: Duration,
    /// Cap.
    #[serde(serialize_with = "ser_millis")]
    pub max: Duration,
    /// Running this long resets the count.
    #[serde(serialize_with = "ser_millis")]
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(100),
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// Delay before restart number `n` (1-based) of a sequence.
    pub(crate) fn delay(&self, n: u32) -> Duration {
        match n {
            0 | 1 => self.first.min(self.max),
            n => self
                .base
                .saturating_mul(1u32 << (n - 2).min(20))
                .min(self.max),
        }
    }
}

/// Live update: sync files into the running container, run commands, restart.
#[derive(Debug, Clone, Serialize)]
pub struct LiveUpdate {
    /// (absolute host path, absolute container path)
    pub sync: Vec<(PathBuf, String)>,
    /// (argv, trigger globs relative to the spec dir)
    pub run: Vec<(Vec<String>, Vec<String>)>,
    /// Restart the container after a sync.
    pub restart: bool,
    /// Globs relative to the spec dir that force a full rebuild.
    pub fall_back_on: Vec<String>,
}

/// Where a service's image comes from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ImageSource {
    /// Use a local image, pulling it when missing.
    Pull {
        /// Reference such as `ipfs/kubo:v0.39.0`.
        reference: String,
    },
    /// Build from a local context.
    Build(Build),
}

impl ImageSource {
    /// The reference containers are created from.
    pub(crate) fn reference(&self) -> &str {
        match self {
            ImageSource::Pull { reference } => reference,
            ImageSource::Build(b) => &b.tag,
        }
    }
}

/// A local image build.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    /// Tag given to the built image.
    pub tag: String,
    /// Absolute context directory.
    pub context: PathBuf,
    /// Dockerfile path relative to the context, with `/` separators.
    pub dockerfile: String,
    /// Build arguments.
    pub args: BTreeMap<String, String>,
    /// Target stage.
    pub target: Option<String>,
    /// Host-side command run before the image build.
    pub host_command: Option<HostCommand>,
}

/// A command run on the host before an image build.
#[derive(Debug, Clone, Serialize)]
pub struct HostCommand {
    /// argv
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Absolute working directory.
    pub workdir: PathBuf,
}

/// Requests and limits, in Docker's units.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Resources {
    /// CPU request in millicores.
    pub cpu_millis: Option<u64>,
    /// Memory request in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU limit in millicores.
    pub cpu_limit_millis: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit_bytes: Option<u64>,
}

/// A probe and its timing.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// What is checked.
    pub check: Check,
    /// Longest interval between attempts.
    #[serde(serialize_with = "ser_millis")]
    pub period: Duration,
    /// Timeout of one attempt.
    #[serde(serialize_with = "ser_millis")]
    pub timeout: Duration,
    /// Give up on readiness after this long.
    #[serde(serialize_with = "ser_millis")]
    pub start_timeout: Duration,
    /// Consecutive failures that count as failed.
    pub failure_threshold: u32,
    /// Liveness: time after readiness before the first check.
    #[serde(serialize_with = "ser_millis")]
    pub start_grace: Duration,
}

fn ser_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

/// The kinds of probe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// HTTP request; 2xx/3xx passes.
    Http {
        /// Container port.
        port: u16,
        /// Path.
        path: String,
        /// Method.
        method: String,
        /// Extra headers.
        headers: BTreeMap<String, String>,
    },
    /// TCP connect.
    Tcp {
        /// Container port.
        port: u16,
    },
    /// Command in the container; exit 0 passes.
    Exec {
        /// argv
        argv: Vec<String>,
    },
    /// A line of the container's output matches (readiness only).
    Log {
        /// Regular expression (checked at validation).
        pattern: String,
    },
}

/// A one-shot step run before the service starts.
#[derive(Debug, Clone, Serialize)]
pub struct InitStep {
    /// Name for output.
    pub name: String,
    /// Image; `None` means the service's image.
    pub image: Option<String>,
    /// User.
    pub user: Option<String>,
    /// What the step does.
    pub action: InitAction,
}

/// What an init step does.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitAction {
    /// Run this argv (as the entrypoint) and require exit 0.
    Command(Vec<String>),
    /// Prepare a Kubo repo: ownership, `ipfs init` when there is no config, then `ipfs config --json` for
    /// each key whose value differs.
    KuboConfig {
        /// Repo path in the container (`IPFS_PATH`).
        repo: String,
        /// uid:gid kubo runs as.
        uid: u32,
        /// gid
        gid: u32,
        /// Keys and JSON values, in key order.
        keys: Vec<(String, serde_json::Value)>,
    },
}

/// What a service watches.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Watch {
    /// Absolute paths.
    pub paths: Vec<PathBuf>,
    /// Extra ignore globs, relative to the spec dir.
    pub ignore: Vec<String>,
    /// Quiet period folding a burst into one rebuild.
    #[serde(skip)]
    pub debounce: Duration,
}

impl Service {
    /// Whether the env variable `key` is secret.
    pub(crate) fn is_secret(&self, key: &str) -> bool {
        self.secret_env.contains(key)
    }

    /// The values of this service's secret env variables, for [`crate::output::redact::text`].
    pub(crate) fn secret_values(&self) -> Vec<&str> {
        self.secret_env
            .iter()
            .filter_map(|k| self.env.get(k).map(String::as_str))
            .collect()
    }
}

impl Spec {
    /// The values of every secret env variable of every service: what [`crate::output::redact::text`] takes out of
    /// anything printed.
    pub(crate) fn secret_values(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .services
            .values()
            .flat_map(Service::secret_values)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// `text` without the values of secret env variables.
    #[cfg(test)]
    pub fn redact(&self, text: &str) -> String {
        crate::output::redact::text(text, &self.secret_values())
    }

    /// Services in reverse dependency order: the order to stop them in.
    pub(crate) fn stop_order(&self) -> Vec<String> {
        self.order.iter().rev().cloned().collect()
    }

    /// The Docker name of a named volume of this project.
    pub(crate) fn volume_name(&self, name: &str) -> String {
        format!("{}_{name}", self.project)
    }

    /// The exact command line that runs `pinshare-dev ARGS` on this spec from the current directory: with
    /// `-f FILE` unless the spec is the `pinshare.toml` found here.
    pub(crate) fn command(&self, args: &str) -> String {
        if self.overlays.is_empty() && self.file == Path::new("pinshare.toml") {
            return format!("pinshare-dev {args}");
        }
        let mut line = String::from("pinshare-dev");
        for f in self.files() {
            // `pinshare-dev -f FILE ` → ` -f FILE`, quoted as command_for quotes it.
            let flag = command_for(&f, "");
            line.push_str(
                flag.strip_prefix("pinshare-dev")
                    .unwrap_or_default()
                    .trim_end(),
            );
        }
        format!("{line} {args}")
    }

    /// Every spec file: the base, then its overlays.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        std::iter::once(self.file.clone())
            .chain(self.overlays.iter().cloned())
            .collect()
    }

    /// A spec that names only a project, for `down --project NAME`: what carries that project's labels is acted
    /// on, each container with the default grace. `Err` says why the name cannot be a project's.
    pub(crate) fn bare(project: &str) -> Result<Spec, String> {
        if let Some(problem) = validate::project_name_problem(project) {
            return Err(problem);
        }
        Ok(Spec {
            project: project.to_string(),
            file: PathBuf::from(FILE_NAME),
            overlays: Vec::new(),
            dir: PathBuf::from("."),
            services: BTreeMap::new(),
            order: Vec::new(),
            render: RenderSettings::default(),
            test: Vec::new(),
            ui_port: None,
            labels: BTreeMap::new(),
            run: context::RunContext::default(),
        })
    }

    /// This spec as another project: its own containers, network and volumes, every object carrying `labels`.
    /// Its host ports are the caller's to take away (`test` has them published on ephemeral loopback ports).
    pub(crate) fn throwaway(&self, project: &str, labels: BTreeMap<String, String>) -> Spec {
        let mut spec = self.clone();
        spec.project = project.to_string();
        spec.labels = labels;
        spec.run.forwarded.clear();
        spec
    }

    /// Labels of a project-wide object (network, volume) of this project.
    pub(crate) fn object_labels(&self) -> std::collections::HashMap<String, String> {
        let mut l = crate::labels::project(&self.project);
        l.extend(self.labels.clone());
        l
    }

    /// The project network's name.
    pub(crate) fn network_name(&self) -> String {
        format!("{}_net", self.project)
    }

    /// The container name of a service.
    pub(crate) fn container_name(&self, service: &str) -> String {
        format!("{}-{service}", self.project)
    }

    /// Every named volume the services use, deduplicated, in name order.
    pub(crate) fn named_volumes(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .services
            .values()
            .flat_map(|s| s.volumes.iter())
            .filter_map(|v| match &v.source {
                MountSource::Volume { name } => Some(name.clone()),
                MountSource::Bind { .. } => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Service names for messages: `ipfs, pinshare`.
    pub(crate) fn service_list(&self) -> String {
        self.services.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// The one wording of a service name the spec does not have, for every command that takes service names.
    pub(crate) fn no_service(&self, name: &str) -> String {
        format!(
            "no service `{name}` in {}; known services: {}",
            self.file.display(),
            self.service_list()
        )
    }
}

impl PortMapping {
    /// Address to reach this port from the host: the bound address, loopback for a wildcard bind.
    pub(crate) fn reach_ip(&self) -> IpAddr {
        if self.host_ip.is_unspecified() {
            if self.host_ip.is_ipv4() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
            }
        } else {
            self.host_ip
        }
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No file was given and none was found.
    #[error("no {FILE_NAME} in {0} or any parent directory")]
    NotFound(PathBuf),
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The contents are invalid.
    #[error(transparent)]
    Invalid(#[from] SpecErrors),
}

/// Finds the spec: the given path, or `pinshare.toml` in `cwd` or its nearest parent.
pub(crate) fn locate(given: Option<&Path>, cwd: &Path) -> Result<PathBuf, LoadError> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(LoadError::NotFound(cwd.to_path_buf()))
}

/// Reads and validates a spec file.
#[cfg(test)]
pub(crate) fn load(path: &Path) -> Result<Spec, LoadError> {
    load_files(&[path.to_path_buf()])
}

/// Reads and validates a base spec file and its overlays (each laid on the ones before it).
pub(crate) fn load_files(paths: &[PathBuf]) -> Result<Spec, LoadError> {
    let mut texts = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        texts.push(text);
    }
    let files: Vec<(&Path, &str)> = paths
        .iter()
        .map(PathBuf::as_path)
        .zip(texts.iter().map(String::as_str))
        .collect();
    if files.is_empty() {
        return Err(LoadError::NotFound(PathBuf::from(".")));
    }
    Ok(validate::validate_files(&files)?)
}

/// Validates spec text; `path` names the file in errors and anchors relative paths.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    validate::validate_files(&[(path, text)])
}

/// `pinshare-dev -f FILE ARGS`, the file quoted for a POSIX shell when it needs to be.
pub(crate) fn command_for(file: &Path, args: &str) -> String {
    let file = file.to_string_lossy();
    let plain = file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c));
    if plain {
        format!("pinshare-dev -f {file} {args}")
    } else {
        format!("pinshare-dev -f '{}' {args}", file.replace('\'', r"'\''"))
    }
}

/// JSON Schema of the file format, for editors.
pub(crate) fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawSpec)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_to_run_names_the_spec_unless_it_is_found_here() {
        let text = "[services.a]\nimage = \"a\"\n";
        let here = parse(Path::new("pinshare.toml"), text).expect("valid");
        assert_eq!(here.command("down"), "pinshare-dev down");
        let other = parse(Path::new("examples/offline/pinshare.toml"), text).expect("valid");
        assert_eq!(
            other.command("down"),
            "pinshare-dev -f examples/offline/pinshare.toml down"
        );
        let spaced = parse(Path::new("/tmp/my dir/it's.toml"), text).expect("valid");
        assert_eq!(
            spaced.command("up"),
            r"pinshare-dev -f '/tmp/my dir/it'\''s.toml' up"
        );
        let files = [Path::new("pinshare.toml"), Path::new("mock.toml")];
        let overlaid =
            validate::validate_files(&[(files[0], text), (files[1], text)]).expect("valid");
        assert_eq!(
            overlaid.command("down"),
            "pinshare-dev -f pinshare.toml -f mock.toml down"
        );
    }
}
