//! `render compose`: a docker-compose.yml equivalent to `pinshare-dev up` — the same images, one named network,
//! named volumes, ports on the spec's host IP (127.0.0.1 by default), CPU/memory as the same Docker knobs the
//! local run sets (`cpu_shares`, `cpus`, `mem_limit`, `mem_reservation`), `init: true`, healthchecks, and start
//! order by `depends_on` conditions instead of pinshare-dev's probes.
//!
//! Readable by docker-compose 1.29 (no top-level `name:` or `version:`). A healthcheck runs inside the container,
//! so only a probe that is a command can become one: an exec probe, or kubo's POST-only RPC readiness, which
//! becomes the same call through the image's `ipfs` CLI. An HTTP-only service falls back to its liveness probe
//! when that is a command, else gets no healthcheck (and dependents wait for it to start only).
//!
//! Kubo's repo preparation is one one-shot service that kubo waits for with `service_completed_successfully`:
//! the image's busybox `sh` runs kubo's own container entrypoint (`/usr/local/bin/start_ipfs version`: `ipfs
//! init` with the profile, 0.0.0.0 addresses and the swarm key when the repo has no config), then `ipfs config
//! --json KEY VALUE` for each key, the keys and values passed as arguments; as kubo's uid:gid (never root), with no
//! network.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{Action, header, image, kubo, relative, translate, yaml};
use crate::spec::{
    Capabilities, ImageSource, InitAction, MountSource, Probe, Security, Service, Spec,
};

/// The `kubo_config` one-shot's script: the image's entrypoint for `ipfs version` (kubo `bin/container_daemon`:
/// init on a new repo, then `/container-init.d`), then `ipfs config --json KEY VALUE` for each pair of arguments.
const KUBO_CONFIG_SCRIPT: &str = r#"set -eu
/usr/local/bin/start_ipfs version
while [ "$#" -ge 2 ]; do
  ipfs config --json "$1" "$2"
  shift 2
done
"#;
/// The project network's key (compose prefixes it with the compose project name).
const NETWORK: &str = "net";

#[derive(Serialize)]
struct File {
    services: BTreeMap<String, ComposeService>,
    networks: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Serialize, Default)]
struct ComposeService {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    build: Option<BuildSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<String, Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_reservation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
}

#[derive(Serialize)]
struct BuildSection {
    context: String,
    dockerfile: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

#[derive(Serialize)]
struct Condition {
    condition: &'static str,
}

#[derive(Serialize, Clone)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: String,
}

/// The docker-compose.yml. `image_tag` replaces the tag of built services' images.
pub(crate) fn compose(spec: &Spec, image_tag: Option<&str>) -> String {
    let mut notes = Vec::new();
    let health: BTreeMap<&str, Option<Healthcheck>> = spec
        .services
        .values()
        .map(|s| (s.name.as_str(), healthcheck(s, &mut notes)))
        .collect();

    let mut services = BTreeMap::new();
    for name in &spec.order {
        let svc = &spec.services[name];
        let image = image(svc, image_tag);
        let volumes = volumes(spec, svc);
        let mut previous: Option<String> = None;
        for (step_name, one_shot) in init_services(svc, &image, &volumes) {
            let depends_on = match &previous {
                Some(p) => BTreeMap::from([(
                    p.clone(),
                    Condition {
                        condition: "service_completed_successfully",
                    },
                )]),
                None => waits_for(svc, &health, &mut notes),
            };
            services.insert(
                step_name.clone(),
                ComposeService {
                    depends_on,
                    ..one_shot
                },
            );
            previous = Some(step_name);
        }
        let mut depends_on = waits_for(svc, &health, &mut notes);
        if let Some(p) = previous {
            depends_on.insert(
                p,
                Condition {
                    condition: "service_completed_successfully",
                },
            );
        }
        note_host_work(svc, &mut notes);
        let healthcheck = health.get(svc.name.as_str()).cloned().flatten();
        services.insert(
            svc.name.clone(),
            main_service(spec, svc, image, volumes, depends_on, healthcheck),
        );
    }

    let volumes = spec
        .named_volumes()
        .into_iter()
        .map(|v| (v, BTreeMap::new()))
        .collect();
    let file = File {
        services,
        networks: BTreeMap::from([(NETWORK.to_string(), BTreeMap::new())]),
        volumes,
    };
    let mut out = header(spec, "render compose");
    out.push_str("# Paths are relative to the directory of the spec: keep this file there. Start: docker-compose up -d\n");
    if let Some(note) = secrets_note(spec) {
        notes.insert(0, note);
    }
    let mut seen = std::collections::BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    for n in &notes {
        out.push_str(&format!("# {n}\n"));
    }
    out.push_str(&yaml(&file));
    out
}

/// What `svc` waits for before it starts: each service it depends on to be healthy, or only started (noted)
/// when that one has no healthcheck.
fn waits_for(
    svc: &Service,
    health: &BTreeMap<&str, Option<Healthcheck>>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, Condition> {
    svc.depends_on
        .iter()
        .map(|d| {
            let healthy = health.get(d.as_str()).is_some_and(Option::is_some);
            if !healthy {
                notes.push(format!(
                    "{}: {d} has no healthcheck, so it waits only for {d} to start",
                    svc.name
                ));
            }
            let condition = if healthy {
                "service_healthy"
            } else {
                "service_started"
            };
            (d.clone(), Condition { condition })
        })
        .collect()
}

/// Notes what `up` does on the host for `svc` that docker-compose does not: a host build command, and host
/// mounts it does not check.
fn note_host_work(svc: &Service, notes: &mut Vec<String>) {
    if let ImageSource::Build(b) = &svc.image
        && let Some(hc) = &b.host_command
    {
        notes.push(format!(
            "{}: its image is built by `pinshare-dev up` (host build `{}` first); docker-compose can only run the Dockerfile",
            svc.name,
            hc.argv.join(" ")
        ));
    }
    for m in &svc.host_mounts {
        notes.push(format!(
            "{}: host mount {}; kept because allow_host_mounts lists it (docker-compose does not check it)",
            svc.name,
            m.describe()
        ));
    }
}

/// The compose service that runs `svc` itself (after its init one-shots): its image, command, environment,
/// ports, volumes, start order, healthcheck, resources and privileges as `up` sets them.
fn main_service(
    spec: &Spec,
    svc: &Service,
    image: String,
    volumes: Vec<String>,
    depends_on: BTreeMap<String, Condition>,
    healthcheck: Option<Healthcheck>,
) -> ComposeService {
    let r = &svc.resources;
    let to_f64 = |m: u64| {
        #[allow(clippy::cast_precision_loss)]
        let cores = m as f64 / 1000.0;
        cores
    };
    ComposeService {
        image,
        build: build(spec, svc),
        entrypoint: svc.entrypoint.clone(),
        command: svc.command.clone(),
        user: svc.user.clone(),
        environment: environment(svc),
        ports: svc.ports.iter().map(port).collect(),
        volumes,
        networks: vec![NETWORK.into()],
        depends_on,
        init: Some(true),
        healthcheck,
        // The same knobs `up` sets: request → relative shares (1 core = 1024), limit → CPUs.
        cpu_shares: r.cpu_millis.map(|m| (m * 1024 / 1000).max(2)),
        cpus: r.cpu_limit_millis.map(to_f64),
        mem_reservation: r.memory_bytes.map(docker_bytes),
        mem_limit: r.memory_limit_bytes.map(docker_bytes),
        stop_grace_period: Some(duration(svc.stop_grace)),
        ..hardened(&svc.security)
    }
}

/// The note that secret env values are left out of the file, naming them, when the spec has any.
fn secrets_note(spec: &Spec) -> Option<String> {
    let secrets: std::collections::BTreeSet<&str> = spec
        .services
        .values()
        .flat_map(|s| s.secret_env.iter().map(String::as_str))
        .collect();
    (!secrets.is_empty()).then(|| {
        format!(
            "secret env values are not in this file; docker-compose takes {} from the environment or a .env file here",
            secrets.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// The environment as compose gets it: a secret's value stays out of the file, and compose takes it from the
/// shell or a `.env` file next to it (refusing to start when it is missing).
fn environment(svc: &Service) -> BTreeMap<String, String> {
    svc.env
        .iter()
        .map(|(k, v)| {
            let v = if svc.is_secret(k) {
                format!("${{{k}:?set {k} in the environment or .env}}")
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// The privilege settings `up` gives the container (`container::hardened`): `no-new-privileges`, every
/// capability dropped but the kept ones.
fn hardened(security: &Security) -> ComposeService {
    let (cap_drop, cap_add) = match &security.capabilities {
        Capabilities::Only(kept) => (vec!["ALL".to_string()], kept.clone()),
        Capabilities::DockerDefault => (Vec::new(), Vec::new()),
    };
    ComposeService {
        security_opt: if security.no_new_privileges {
            vec!["no-new-privileges:true".into()]
        } else {
            Vec::new()
        },
        cap_drop,
        cap_add,
        ..Default::default()
    }
}

/// One-shot services run before `svc`, in order: (compose service name, service without `depends_on`).
fn init_services(svc: &Service, image: &str, volumes: &[String]) -> Vec<(String, ComposeService)> {
    let mut out = Vec::new();
    for step in &svc.init {
        let base = ComposeService {
            image: step.image.clone().unwrap_or_else(|| image.to_string()),
            environment: environment(svc),
            volumes: volumes.to_vec(),
            ..Default::default()
        };
        match &step.action {
            InitAction::Command(argv) => out.push((
                format!("{}-{}", svc.name, step.name),
                ComposeService {
                    // Like the local one-shot: argv[0] replaces the image's entrypoint.
                    entrypoint: argv.first().map(|a| vec![a.clone()]),
                    command: Some(argv.iter().skip(1).cloned().collect()),
                    user: step.user.clone(),
                    networks: vec![NETWORK.into()],
                    // As the local one-shot: Docker's default capabilities (root prep work goes here).
                    security_opt: hardened(&svc.security).security_opt,
                    ..base
                },
            )),
            InitAction::KuboConfig { .. } => {
                let Some(k) = kubo(svc) else { continue };
                // One container: kubo's own entrypoint (run as its user, so it skips the chown) initialises a new
                // repo as `docker run ipfs/kubo` would — profile, 0.0.0.0 addresses, swarm key — then the
                // script writes every key, passed as data (arguments), never as shell text.
                // `$` is compose's interpolation: `$$` is a literal one.
                let literal = |s: &str| s.replace('$', "$$");
                let mut command = vec![
                    "-c".to_string(),
                    literal(KUBO_CONFIG_SCRIPT),
                    format!("{}-{}", svc.name, step.name),
                ];
                for (key, value) in k.keys {
                    command.push(literal(key));
                    command.push(literal(&value.to_string()));
                }
                out.push((
                    format!("{}-{}", svc.name, step.name),
                    ComposeService {
                        image: base.image.clone(),
                        entrypoint: Some(vec!["/bin/sh".into()]),
                        command: Some(command),
                        user: Some(format!("{}:{}", k.uid, k.gid)),
                        environment: base.environment.clone(),
                        volumes: base.volumes.clone(),
                        network_mode: Some("none".into()),
                        // It runs as kubo's user from the start: no capability is of use to it.
                        ..hardened(&Security::least(&[]))
                    },
                ));
            }
        }
    }
    out
}

/// The healthcheck: the readiness probe when it can run as a command in the container, else the liveness probe
/// when it can; `None` when neither can.
fn healthcheck(svc: &Service, notes: &mut Vec<String>) -> Option<Healthcheck> {
    let as_command = |p: &Probe| match translate(&p.check)?.0 {
        Action::Exec(argv) => Some(argv),
        Action::HttpGet { .. } | Action::Tcp(_) => None,
    };
    let chosen = [&svc.readiness, &svc.liveness]
        .into_iter()
        .flatten()
        .find_map(|p| as_command(p).map(|argv| (p, argv)));
    let Some((p, argv)) = chosen else {
        if svc.readiness.is_some() || svc.liveness.is_some() {
            notes.push(format!(
                "{}: its probes are HTTP/TCP only and the image may have no curl: no healthcheck (add an exec liveness probe to get one)",
                svc.name
            ));
        }
        return None;
    };
    let mut test = vec!["CMD".to_string()];
    test.extend(argv);
    Some(Healthcheck {
        test,
        interval: duration(p.period),
        timeout: duration(p.timeout),
        retries: p.failure_threshold,
        start_period: duration(p.start_timeout),
    })
}

fn build(spec: &Spec, svc: &Service) -> Option<BuildSection> {
    let ImageSource::Build(b) = &svc.image else {
        return None;
    };
    Some(BuildSection {
        context: relative(spec, &b.context.display().to_string()),
        dockerfile: b.dockerfile.clone(),
        args: b.args.clone(),
        target: b.target.clone(),
    })
}

fn port(p: &crate::spec::PortMapping) -> String {
    let ip = if p.host_ip.is_ipv6() {
        format!("[{}]", p.host_ip)
    } else {
        p.host_ip.to_string()
    };
    format!(
        "{ip}:{}:{}/{}",
        p.host_port,
        p.container_port,
        p.protocol.as_str()
    )
}

fn volumes(spec: &Spec, svc: &Service) -> Vec<String> {
    svc.volumes
        .iter()
        .map(|v| {
            let source = match &v.source {
                MountSource::Volume { name } => name.clone(),
                MountSource::Bind { path } => relative(spec, path),
            };
            let ro = if v.read_only { ":ro" } else { "" };
            format!("{source}:{}{ro}", v.target)
        })
        .collect()
}

/// Compose durations: `1s`, `1m30s` is not needed; whole seconds or milliseconds.
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Bytes in Docker's binary units: `512m`, `2g`, or plain bytes.
fn docker_bytes(bytes: u64) -> String {
    [(1u64 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")]
        .iter()
        .find(|(n, _)| bytes.is_multiple_of(*n))
        .map_or_else(|| bytes.to_string(), |(n, u)| format!("{}{u}", bytes / n))
}
