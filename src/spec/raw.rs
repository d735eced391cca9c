//! Serde mirror of `pinshare.toml`: every field as written, with spans kept so that semantic errors can point at
//! the right line. Nothing here is validated beyond TOML types and unknown keys; see `validate.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pinshare.toml", description = "pinshare-dev project spec")]
pub struct RawSpec {
    /// Project settings.
    #[serde(default)]
    pub project: Option<RawProject>,
    /// Services by name (lowercase letters, digits, `-`, `_`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawService>")]
    pub services: BTreeMap<Spanned<String>, Spanned<RawService>>,
    /// Settings for `pinshare-dev render k8s|compose` only.
    #[serde(default)]
    pub render: Option<super::render::RawRender>,
}

/// `[project]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// Names the network, volumes, containers and labels. Default: the spec file's directory name.
    #[schemars(with = "String")]
    pub name: Option<Spanned<String>>,
}

/// A number or a string (`cpu = 1` or `cpu = "250m"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StrOrNum {
    /// A string such as `"250m"` or `"512Mi"`.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float such as `0.5`.
    Float(f64),
}

impl std::fmt::Display for StrOrNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StrOrNum::Str(s) => f.write_str(s),
            StrOrNum::Int(i) => write!(f, "{i}"),
            StrOrNum::Float(x) => write!(f, "{x}"),
        }
    }
}

/// `[services.NAME]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Image to run (pulled when missing), or the tag given to the built image when `build` is set.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// Build the image from a local context.
    #[schemars(with = "Option<RawBuild>")]
    pub build: Option<Spanned<RawBuild>>,
    /// Services that must be ready before this one starts.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub depends_on: Vec<Spanned<String>>,
    /// Environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Published ports: `"HOST:CONTAINER"`, `"IP:HOST:CONTAINER"`, optionally `/tcp` or `/udp`.
    /// Without an IP the port binds 127.0.0.1.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ports: Vec<Spanned<String>>,
    /// Mounts: `"NAME:/path"` (named volume, kept until `down --volumes`) or `"./host/path:/path[:ro]"`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub volumes: Vec<Spanned<String>>,
    /// CPU and memory requests (reservations) and limits, Kubernetes units.
    #[schemars(with = "Option<RawResources>")]
    pub resources: Option<Spanned<RawResources>>,
    /// Probe that says the service is ready; dependents wait for it.
    #[schemars(with = "Option<RawProbe>")]
    pub readiness: Option<Spanned<RawProbe>>,
    /// Probe that says the service is alive.
    #[schemars(with = "Option<RawProbe>")]
    pub liveness: Option<Spanned<RawProbe>>,
    /// Kubo configuration keys written with `ipfs config --json` before the daemon starts.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub kubo_config: Option<Spanned<BTreeMap<String, toml::Value>>>,
    /// One-shot steps run, in order, before the service starts; each must exit 0.
    #[serde(default)]
    #[schemars(with = "Vec<RawInitStep>")]
    pub init: Vec<Spanned<RawInitStep>>,
    /// Overrides the image's command.
    pub command: Option<Vec<String>>,
    /// Overrides the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// User (`uid[:gid]` or a name) the container runs as.
    pub user: Option<String>,
    /// How long a stop waits after SIGTERM before SIGKILL (`"10s"`). Default 10s.
    #[schemars(with = "Option<String>")]
    pub stop_grace: Option<Spanned<String>>,
    /// Source files whose changes rebuild this service.
    pub watch: Option<RawWatch>,
    /// Sync changed files into the running container instead of rebuilding (Tilt's live update).
    pub live_update: Option<RawLiveUpdate>,
}

/// `build = { ... }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    /// Build context directory, relative to the spec file. Default `"."`.
    #[schemars(with = "Option<String>")]
    pub context: Option<Spanned<String>>,
    /// Dockerfile path relative to the context. Default `"Dockerfile"`.
    #[schemars(with = "Option<String>")]
    pub dockerfile: Option<Spanned<String>>,
    /// Build arguments.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Target stage of a multi-stage Dockerfile.
    pub target: Option<String>,
    /// Command run on the host before the image build (for example a static `cargo build`); argv, no shell.
    #[schemars(with = "Option<Vec<String>>")]
    pub host_command: Option<Spanned<Vec<String>>>,
    /// Extra environment for `host_command`.
    #[serde(default)]
    pub host_env: BTreeMap<String, String>,
    /// Working directory of `host_command`, relative to the spec file. Default: the spec file's directory.
    #[schemars(with = "Option<String>")]
    pub host_workdir: Option<Spanned<String>>,
}

/// `resources = { ... }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    /// CPU request (`"250m"`, `"0.5"`, `1`), used as a relative CPU share.
    #[schemars(with = "Option<StrOrNum>")]
    pub cpu: Option<Spanned<StrOrNum>>,
    /// Memory request (`"512Mi"`), a soft reservation.
    #[schemars(with = "Option<StrOrNum>")]
    pub memory: Option<Spanned<StrOrNum>>,
    /// CPU limit.
    #[schemars(with = "Option<StrOrNum>")]
    pub cpu_limit: Option<Spanned<StrOrNum>>,
    /// Memory limit (hard).
    #[schemars(with = "Option<StrOrNum>")]
    pub memory_limit: Option<Spanned<StrOrNum>>,
}

/// A probe: exactly one of `http`, `tcp`, `exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    /// HTTP request to a container port; success is a 2xx or 3xx answer.
    pub http: Option<RawHttpProbe>,
    /// TCP connect to a container port.
    pub tcp: Option<RawTcpProbe>,
    /// Command run inside the container; success is exit code 0.
    #[schemars(with = "Option<Vec<String>>")]
    pub exec: Option<Spanned<Vec<String>>>,
    /// Longest wait between attempts (`"1s"`); readiness starts faster and backs off to it. Default 1s.
    #[schemars(with = "Option<String>")]
    pub period: Option<Spanned<String>>,
    /// Timeout of one attempt. Default 2s.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Readiness only: give up when not ready after this long. Default 120s.
    #[schemars(with = "Option<String>")]
    pub start_timeout: Option<Spanned<String>>,
    /// Consecutive failures before the probe counts as failed. Default 3.
    pub failure_threshold: Option<u32>,
}

/// `http = { port = 5001, path = "/api/v0/id", method = "POST" }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHttpProbe {
    /// Container port.
    #[schemars(with = "u16")]
    pub port: Spanned<i64>,
    /// Request path. Default `/`.
    pub path: Option<String>,
    /// Request method. Default GET.
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `tcp = { port = 4001 }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTcpProbe {
    /// Container port.
    #[schemars(with = "u16")]
    pub port: Spanned<i64>,
}

/// `[[services.NAME.init]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInitStep {
    /// Shown in output. Default `init-N`.
    pub name: Option<String>,
    /// Image. Default: the service's image.
    pub image: Option<String>,
    /// Command (argv, no shell); replaces the image's entrypoint.
    #[schemars(with = "Vec<String>")]
    pub command: Spanned<Vec<String>>,
    /// User to run as. Default: the service's user.
    pub user: Option<String>,
}

/// `watch = { paths = [...], ignore = [...] }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    /// Paths relative to the spec file. Default: the build context.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Extra ignore globs, relative to the spec file; a glob without `/` matches a name at any depth.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Quiet period: a burst of changes is folded into one rebuild once nothing changed for this long.
    /// Default `"100ms"`.
    #[schemars(with = "Option<String>")]
    pub debounce: Option<Spanned<String>>,
}

/// `live_update = { sync = [...], run = [...], restart = true, fall_back_on = [...] }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLiveUpdate {
    /// Host path (file or directory, relative to the spec file) → absolute container path.
    #[serde(default)]
    pub sync: Vec<RawSync>,
    /// Commands run in the container after a sync, when a changed file matches their trigger globs.
    #[serde(default)]
    pub run: Vec<RawRun>,
    /// Restart the container after syncing. Default true.
    pub restart: Option<bool>,
    /// Globs (relative to the spec file) whose changes need a full rebuild instead.
    #[serde(default)]
    pub fall_back_on: Vec<String>,
}

/// `{ from = "app/static", to = "/opt/app/static" }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    /// Host path relative to the spec file.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// Absolute container path.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
}

/// `{ command = ["..."], trigger = ["app/*.sql"] }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// argv run inside the container.
    #[schemars(with = "Vec<String>")]
    pub command: Spanned<Vec<String>>,
    /// Globs relative to the spec file; empty = after every sync.
    #[serde(default)]
    pub trigger: Vec<String>,
}
