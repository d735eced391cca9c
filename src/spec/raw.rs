//! Serde mirror of `pinshare.toml`: every field as written, with spans kept so that semantic errors can point at
//! the right line. Nothing here is validated beyond TOML types and unknown keys; see `validate/`.

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
    /// Steps `pinshare-dev test` runs once the services are ready.
    #[serde(default)]
    pub test: Option<super::steps::RawTest>,
    /// The dashboard of the foreground `up`.
    #[serde(default)]
    pub ui: Option<RawUi>,
}

/// `[ui]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUi {
    /// The dashboard's port on 127.0.0.1 (`up --ui-port` wins); taken, `up` fails. Default: 7730, or the next
    /// free port after it.
    pub port: Option<u16>,
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
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub enum StrOrNum {
    /// A string such as `"250m"` or `"512Mi"`.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float such as `0.5`.
    Float(f64),
}

// By hand rather than `#[serde(untagged)]`, whose error ("data did not match any variant of untagged enum")
// names neither what was found nor what would do.
impl<'de> Deserialize<'de> for StrOrNum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = StrOrNum;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a quantity string such as \"250m\" or \"512Mi\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StrOrNum, E> {
                Ok(StrOrNum::Str(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StrOrNum, E> {
                Ok(StrOrNum::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StrOrNum, E> {
                i64::try_from(v)
                    .map(StrOrNum::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<StrOrNum, E> {
                Ok(StrOrNum::Float(v))
            }
        }
        d.deserialize_any(Visitor)
    }
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
    /// Keys of `env` whose values are secret: shown as `[redacted]` in everything pinshare-dev prints, and
    /// rendered as references (a Kubernetes Secret, a compose `${VAR}`) instead of values. Keys ending in
    /// `_SECRET`, `_TOKEN` or `_KEY`, or containing `PASSWORD`, are secret without being listed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub secrets: Vec<Spanned<String>>,
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
    /// `API.HTTPHeaders.*` values are lists of strings; a `"*"` origin needs `allow_any_origin = true`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub kubo_config: Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>,
    /// Allow `"*"` in `kubo_config."API.HTTPHeaders.Access-Control-Allow-Origin"`: any web page the developer
    /// opens could then call kubo's admin-level RPC API. Default false.
    pub allow_any_origin: Option<bool>,
    /// Allow publishing kubo's RPC API (container port 5001) on a host address other than loopback: anyone who
    /// reaches that address controls the node. Default false.
    pub expose_rpc_api: Option<bool>,
    /// Bind mounts allowed although they hand the container the host: the Docker engine's socket, `/`, `/etc`,
    /// `/proc`, `/sys`, `/boot`, `/dev`, `/root`, `/var/lib/docker`, your home directory, or a directory that
    /// contains one of them. Each entry is a `volumes` source of this service, as written or as resolved
    /// (`"/var/run/docker.sock"`); an entry that allows nothing is an error. Read-only mounts need it too.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub allow_host_mounts: Vec<Spanned<String>>,
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
    // Docker settings that widen what a container may do to the host. Read only to be refused with a message
    // that says why (rather than "unknown field"); not in the schema, so editors do not offer them.
    #[doc(hidden)]
    #[schemars(skip)]
    pub privileged: Option<Spanned<toml::Value>>,
    #[doc(hidden)]
    #[schemars(skip)]
    pub cap_add: Option<Spanned<toml::Value>>,
    #[doc(hidden)]
    #[schemars(skip)]
    pub network_mode: Option<Spanned<toml::Value>>,
    #[doc(hidden)]
    #[schemars(skip)]
    pub pid: Option<Spanned<toml::Value>>,
    /// When a foreground `up` restarts the container: `"on-failure"` (default: a non-zero exit or a failed
    /// liveness probe), `"always"` (any exit), `"no"`.
    #[schemars(with = "Option<String>")]
    pub restart: Option<Spanned<String>>,
    /// Delays between restarts: a first quick retry, then doubling to a cap, reset after a stable period.
    pub backoff: Option<RawBackoff>,
    /// Relaxes the least-privilege defaults for this service: `no_new_privileges = false` lets an exec of a
    /// setuid binary gain its owner's rights; `capabilities` replaces the capabilities kept after dropping all
    /// (kubo: CHOWN, DAC_OVERRIDE, KILL, SETGID, SETUID for its entrypoint and tini; others: none) with a list taken from
    /// Docker's default set, or `"docker-default"` for that whole set.
    #[schemars(with = "Option<RawSecurity>")]
    pub security: Option<Spanned<RawSecurity>>,
    /// Before the service starts, give its writable mounts (named volumes and bind mounts) to the user it runs
    /// as (`user`, else the image's), when they belong to someone else. Kubo's repo always gets this.
    pub fix_ownership: Option<bool>,
}

/// `backoff = { first = "100ms", base = "1s", max = "30s", reset_after = "60s" }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackoff {
    /// Delay before the first restart. Default `"100ms"`.
    #[schemars(with = "Option<String>")]
    pub first: Option<Spanned<String>>,
    /// Delay before the second restart; each further one doubles it. Default `"1s"`.
    #[schemars(with = "Option<String>")]
    pub base: Option<Spanned<String>>,
    /// Longest delay. Default `"30s"`.
    #[schemars(with = "Option<String>")]
    pub max: Option<Spanned<String>>,
    /// A container that ran this long without trouble starts the sequence over. Default `"60s"`.
    #[schemars(with = "Option<String>")]
    pub reset_after: Option<Spanned<String>>,
}

/// `security = { no_new_privileges = false, capabilities = ["NET_BIND_SERVICE"] }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    /// Set `no-new-privileges` (default true): an exec of a setuid binary (sudo, su) gains nothing. A root
    /// entrypoint that switches to another user itself (kubo's gosu) works with it.
    pub no_new_privileges: Option<bool>,
    /// The capabilities kept after dropping all: names from Docker's default set (`"CHOWN"`, `"NET_BIND_SERVICE"`,
    /// with or without `CAP_`), or `"docker-default"` for Docker's whole default set. Default: kubo keeps
    /// CHOWN, DAC_OVERRIDE, KILL, SETGID and SETUID (its entrypoint's `chown -R` and user switch, and tini passing
    /// the stop signal on to the uid-1000 daemon); others keep none.
    #[schemars(with = "Option<serde_json::Value>")]
    pub capabilities: Option<Spanned<toml::Value>>,
}

/// Keys of `[services.NAME]` that exist only to be refused; never suggested as a spelling.
pub(super) const REFUSED_KEYS: &[&str] = &["privileged", "cap_add", "network_mode", "pid"];

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

/// A probe: exactly one of `http`, `tcp`, `exec`, `log`.
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
    /// Readiness only: ready once a line of the container's output matches this regular expression.
    #[schemars(with = "Option<String>")]
    pub log: Option<Spanned<String>>,
    /// Liveness only: wait this long after the service is ready before the first check. Default 0s.
    #[schemars(with = "Option<String>")]
    pub start_grace: Option<Spanned<String>>,
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
