//! `render k8s`: one Deployment whose pod holds every service — kubo (and anything else the app depends on) as a
//! native sidecar (an init container with `restartPolicy: Always` whose startup probe gates the app, Kubernetes
//! ≥ 1.29) or, with `--classic-sidecar`, as a second ordinary container — plus a ClusterIP Service per service
//! with exposed ports and a PersistentVolumeClaim per named volume.
//!
//! Kubo's repo is prepared by an init container running as kubo's uid/gid (1000:100), never root: `ipfs init`
//! when there is no config, then `ipfs config --json KEY VALUE` for each `kubo_config` key (the same values the
//! local run writes). The pod's `fsGroup` makes the volume group-owned and group-writable for that gid, which
//! also makes a repo left root-owned by an old image usable again (the seed's `permission denied`: kubelet
//! rewrites the group and mode whenever the volume root does not match). Services reach each other
//! by name as locally (`http://ipfs:5001`) through `hostAliases` to the pod's loopback, and kubo's RPC API and
//! gateway listen on that loopback unless `[render.k8s] expose` lists their port.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, HTTPHeader,
    HostAlias, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe as KProbe, ResourceRequirements,
    SecretKeySelector, SecurityContext, Service as KService, ServicePort, ServiceSpec,
    TCPSocketAction, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    Action, K8sOptions, Kubo, cpu_quantity, dns_label, header, image, kubo, memory_quantity,
    relative, seconds, translate, yaml,
};
use crate::spec::{
    DEFAULT_STORAGE_BYTES, InitAction, MountSource, Probe, Protocol, Resources, Service, Spec,
};

/// Kubo's RPC API and gateway ports (kubo's defaults; the addresses the init container writes use them).
const KUBO_API_PORT: u16 = 5001;
const KUBO_GATEWAY_PORT: u16 = 8080;

/// The init container's script; the keys and values come as arguments, so they are data, never shell text.
const KUBO_PREP_SCRIPT: &str = r#"set -eu
if [ ! -e "$IPFS_PATH/config" ]; then
  ipfs init ${IPFS_PROFILE:+--profile="$IPFS_PROFILE"}
fi
while [ "$#" -ge 2 ]; do
  ipfs config --json "$1" "$2"
  shift 2
done
"#;

/// All manifests as one multi-document YAML stream (for stdout or `kubectl apply -f -`).
pub fn k8s(spec: &Spec, opts: &K8sOptions) -> String {
    let files = k8s_files(spec, opts);
    let mut out = String::new();
    for (i, (_, text)) in files.iter().enumerate() {
        if i == 0 {
            out.push_str(text);
        } else {
            // Every file starts with the same header; keep it once.
            out.push_str("---\n");
            out.push_str(
                text.strip_prefix(&header(spec, "render k8s"))
                    .unwrap_or(text),
            );
        }
    }
    out
}

/// The manifests as files: (file name, YAML). The Deployment comes first and carries the notes.
pub fn k8s_files(spec: &Spec, opts: &K8sOptions) -> Vec<(String, String)> {
    let o = objects(spec, opts);
    let head = header(spec, "render k8s");
    let mut text = head.clone();
    for n in &o.notes {
        text.push_str(&format!("# {n}\n"));
    }
    text.push_str(&yaml(&o.deployment));
    let mut files = vec![(
        format!("deployment-{}.yaml", dns_label(&spec.project)),
        text,
    )];
    for s in &o.services {
        let name = s.metadata.name.clone().unwrap_or_default();
        files.push((format!("service-{name}.yaml"), format!("{head}{}", yaml(s))));
    }
    for c in &o.claims {
        let name = c.metadata.name.clone().unwrap_or_default();
        files.push((format!("pvc-{name}.yaml"), format!("{head}{}", yaml(c))));
    }
    files
}

/// The Kubernetes objects, before YAML.
pub(super) struct Objects {
    /// The one Deployment.
    pub deployment: Deployment,
    /// A Service per service with exposed ports, in start order.
    pub services: Vec<KService>,
    /// A PersistentVolumeClaim per named volume, by name.
    pub claims: Vec<PersistentVolumeClaim>,
    /// What did not translate one to one, for the header.
    pub notes: Vec<String>,
}

pub(super) fn objects(spec: &Spec, opts: &K8sOptions) -> Objects {
    let mut notes = Vec::new();
    let labels = pod_labels(spec);
    let deployment = deployment(spec, opts, &labels, &mut notes);
    let services = spec
        .order
        .iter()
        .map(|n| &spec.services[n])
        .filter_map(|svc| {
            let ports = exposed_ports(spec, svc);
            (!ports.is_empty()).then(|| service(svc, &ports, &labels))
        })
        .collect();
    let claims = spec
        .named_volumes()
        .iter()
        .map(|v| claim(spec, v))
        .collect();
    if let Some(n) = secret_note(spec) {
        notes.insert(0, n);
    }
    let mut seen = BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    Objects {
        deployment,
        services,
        claims,
        notes,
    }
}

fn pod_labels(spec: &Spec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/instance".into(),
            dns_label(&spec.project),
        ),
        ("app.kubernetes.io/name".into(), dns_label(&spec.project)),
    ])
}

fn claim_name(spec: &Spec, volume: &str) -> String {
    dns_label(&format!("{}-{volume}", spec.project))
}

/// Container ports (and protocols) that get a Service: `[render.k8s] expose` when the service is listed there,
/// else every published port of a service that is not kubo, and none of kubo's.
fn exposed_ports(spec: &Spec, svc: &Service) -> Vec<(u16, Protocol)> {
    let chosen = spec.render.k8s.expose.get(&svc.name);
    let mut ports: Vec<(u16, Protocol)> = svc
        .ports
        .iter()
        .filter(|p| match chosen {
            Some(list) => list.contains(&p.container_port),
            None => kubo(svc).is_none(),
        })
        .map(|p| (p.container_port, p.protocol))
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

fn deployment(
    spec: &Spec,
    opts: &K8sOptions,
    labels: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Deployment {
    let services: Vec<&Service> = spec.order.iter().map(|n| &spec.services[n]).collect();
    // A service something else depends on starts first and keeps running: a sidecar.
    let depended: BTreeSet<&str> = services
        .iter()
        .flat_map(|s| s.depends_on.iter().map(String::as_str))
        .collect();
    let native = !opts.classic_sidecar;

    let mut init_containers = Vec::new();
    let mut containers = Vec::new();
    for svc in &services {
        let sidecar = depended.contains(svc.name.as_str());
        for step in &svc.init {
            init_containers.push(init_container(spec, svc, step, opts, notes));
        }
        let mut c = container(spec, svc, opts, notes);
        if native && sidecar {
            c.restart_policy = Some("Always".into());
            init_containers.push(c);
        } else {
            if !native && !svc.init.is_empty() && !svc.depends_on.is_empty() {
                notes.push(format!(
                    "{}: with --classic-sidecar its init steps run before {} is started",
                    svc.name,
                    svc.depends_on.join(", ")
                ));
            }
            // Natively, whatever it depends on is a sidecar started (and startup-probed) before it.
            for d in svc.depends_on.iter().filter(|_| !native) {
                notes.push(format!(
                    "{}: containers of a pod start together; it does not wait for {d} here (its readiness probe keeps it out of its Service until it is ready)",
                    svc.name
                ));
            }
            containers.push(c);
        }
    }

    let mut volumes: Vec<Volume> = spec
        .named_volumes()
        .iter()
        .map(|v| Volume {
            name: dns_label(v),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(spec, v),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));

    // Kubo writes its repo as uid 1000 / gid 100: the volume must be writable by that group.
    let fs_group = services
        .iter()
        .find_map(|s| kubo(s))
        .map(|k| i64::from(k.gid));
    let grace = services
        .iter()
        .map(|s| s.stop_grace.as_secs())
        .max()
        .unwrap_or(10);
    let mut hostnames: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    hostnames.sort();

    Deployment {
        metadata: ObjectMeta {
            name: Some(dns_label(&spec.project)),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            // One kubo per repo: its repo lock and a ReadWriteOnce volume forbid two pods at once.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    // Service names resolve to the pod itself, as they resolve to the service locally.
                    host_aliases: Some(vec![HostAlias {
                        hostnames: Some(hostnames),
                        ip: "127.0.0.1".into(),
                    }]),
                    // No injected *_SERVICE_HOST / *_PORT variables: the environment is the spec's.
                    enable_service_links: Some(false),
                    init_containers: (!init_containers.is_empty()).then_some(init_containers),
                    containers,
                    security_context: fs_group.map(|g| PodSecurityContext {
                        fs_group: Some(g),
                        // The recursive walk runs only when the volume root is not already right.
                        fs_group_change_policy: Some("OnRootMismatch".into()),
                        ..Default::default()
                    }),
                    termination_grace_period_seconds: Some(i64::try_from(grace).unwrap_or(10)),
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn container(spec: &Spec, svc: &Service, opts: &K8sOptions, notes: &mut Vec<String>) -> Container {
    let mut ports: Vec<(u16, Protocol)> = svc
        .ports
        .iter()
        .map(|p| (p.container_port, p.protocol))
        .collect();
    ports.sort();
    ports.dedup();
    let kubo = kubo(svc);
    if kubo.is_some() && !svc.ports.is_empty() {
        let hidden: BTreeSet<u16> = svc
            .ports
            .iter()
            .map(|p| p.container_port)
            .filter(|p| !exposed_ports(spec, svc).iter().any(|(e, _)| e == p))
            .collect();
        if !hidden.is_empty() {
            let list: Vec<String> = hidden.iter().map(u16::to_string).collect();
            notes.push(format!(
                "{}: port(s) {} get no Service (kubo's RPC API is admin-level); opt in per port with [render.k8s] expose = {{ {} = [{}] }}",
                svc.name,
                list.join(", "),
                svc.name,
                KUBO_GATEWAY_PORT
            ));
        }
    }
    let mut startup = None;
    let readiness = svc.readiness.as_ref().and_then(|p| {
        let Some((probe, note)) = probe(p) else {
            notes.push(format!(
                "{}: a log-line readiness probe has no Kubernetes equivalent; none rendered",
                svc.name
            ));
            return None;
        };
        if let Some(n) = note {
            notes.push(format!("{} readiness: {n}", svc.name));
        }
        // The startup probe is the readiness check with the spec's start timeout: it gates the containers
        // after a native sidecar, and holds liveness off while the service starts.
        startup = Some(KProbe {
            failure_threshold: Some(start_attempts(p)),
            ..probe.clone()
        });
        Some(probe)
    });
    let liveness = svc.liveness.as_ref().and_then(probe).map(|(probe, note)| {
        if let Some(n) = note {
            notes.push(format!("{} liveness: {n}", svc.name));
        }
        probe
    });
    Container {
        name: dns_label(&svc.name),
        image: Some(image(svc, opts.image_tag.as_deref())),
        command: svc.entrypoint.clone(),
        args: svc.command.clone(),
        env: env(spec, svc, &svc.env),
        ports: (!ports.is_empty()).then(|| {
            ports
                .iter()
                .map(|(port, proto)| ContainerPort {
                    container_port: i32::from(*port),
                    protocol: Some(protocol(*proto)),
                    ..Default::default()
                })
                .collect()
        }),
        resources: resources(&svc.resources),
        startup_probe: startup,
        readiness_probe: readiness,
        liveness_probe: liveness,
        security_context: match &kubo {
            Some(k) => Some(non_root(k)),
            None => user_context(svc, notes),
        },
        volume_mounts: volume_mounts(spec, svc, notes),
        ..Default::default()
    }
}

/// An init step as an init container; `kubo_config` becomes the repo preparation.
fn init_container(
    spec: &Spec,
    svc: &Service,
    step: &crate::spec::InitStep,
    opts: &K8sOptions,
    notes: &mut Vec<String>,
) -> Container {
    let image = step
        .image
        .clone()
        .unwrap_or_else(|| image(svc, opts.image_tag.as_deref()));
    let name = dns_label(&format!("{}-{}", svc.name, step.name));
    let base = Container {
        name,
        image: Some(image),
        env: env(spec, svc, &svc.env),
        resources: resources(&svc.resources),
        volume_mounts: volume_mounts(spec, svc, &mut Vec::new()),
        ..Default::default()
    };
    match &step.action {
        InitAction::Command(argv) => Container {
            command: Some(argv.clone()),
            security_context: user_context_of(step.user.as_deref(), &svc.name, notes),
            ..base
        },
        InitAction::KuboConfig { .. } => {
            let Some(k) = kubo(svc) else {
                return base;
            };
            let mut env_map = svc.env.clone();
            env_map.insert("IPFS_PATH".into(), k.repo.to_string());
            Container {
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    KUBO_PREP_SCRIPT.into(),
                    k.step.name.clone(),
                ]),
                args: Some(kubo_args(spec, svc, &k)),
                env: env(spec, svc, &env_map),
                security_context: Some(non_root(&k)),
                ..base
            }
        }
    }
}

/// KEY VALUE pairs for the preparation script: the spec's keys, then the listen addresses of the RPC API and
/// gateway (pod loopback unless exposed) when the spec does not set them itself.
fn kubo_args(spec: &Spec, svc: &Service, k: &Kubo<'_>) -> Vec<String> {
    let mut args: Vec<String> = k
        .keys
        .iter()
        .flat_map(|(key, value)| [key.clone(), value.to_string()])
        .collect();
    let exposed = exposed_ports(spec, svc);
    for (key, port) in [
        ("Addresses.API", KUBO_API_PORT),
        ("Addresses.Gateway", KUBO_GATEWAY_PORT),
    ] {
        if k.keys.iter().any(|(existing, _)| existing == key) {
            continue;
        }
        let host = if exposed.iter().any(|(p, _)| *p == port) {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        };
        args.push(key.into());
        args.push(serde_json::Value::String(format!("/ip4/{host}/tcp/{port}")).to_string());
    }
    args
}

fn non_root(k: &Kubo<'_>) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(i64::from(k.uid)),
        run_as_group: Some(i64::from(k.gid)),
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    }
}

fn user_context(svc: &Service, notes: &mut Vec<String>) -> Option<SecurityContext> {
    user_context_of(svc.user.as_deref(), &svc.name, notes)
}

/// `uid[:gid]` → runAsUser/runAsGroup; a user name cannot be expressed (Kubernetes wants numbers).
fn user_context_of(
    user: Option<&str>,
    service: &str,
    notes: &mut Vec<String>,
) -> Option<SecurityContext> {
    let user = user?;
    let (u, g) = user
        .split_once(':')
        .map_or((user, None), |(u, g)| (u, Some(g)));
    match (u.parse::<i64>(), g.map(str::parse::<i64>)) {
        (Ok(uid), None) => Some(SecurityContext {
            run_as_user: Some(uid),
            ..Default::default()
        }),
        (Ok(uid), Some(Ok(gid))) => Some(SecurityContext {
            run_as_user: Some(uid),
            run_as_group: Some(gid),
            ..Default::default()
        }),
        _ => {
            notes.push(format!(
                "{service}: user `{user}` is a name; Kubernetes needs a numeric uid, so the image's user applies"
            ));
            None
        }
    }
}

/// The Secret that holds the values of secret env variables; the manifests only refer to it.
fn secret_name(spec: &Spec) -> String {
    dns_label(&format!("{}-secrets", spec.project))
}

/// A container's environment: values as written, except a secret's, which comes from [`secret_name`].
fn env(spec: &Spec, svc: &Service, vars: &BTreeMap<String, String>) -> Option<Vec<EnvVar>> {
    (!vars.is_empty()).then(|| {
        vars.iter()
            .map(|(k, v)| {
                if svc.is_secret(k) {
                    EnvVar {
                        name: k.clone(),
                        value: None,
                        value_from: Some(EnvVarSource {
                            secret_key_ref: Some(SecretKeySelector {
                                name: secret_name(spec),
                                key: k.clone(),
                                optional: None,
                            }),
                            ..Default::default()
                        }),
                    }
                } else {
                    EnvVar {
                        name: k.clone(),
                        value: Some(v.clone()),
                        value_from: None,
                    }
                }
            })
            .collect()
    })
}

/// The note that says which Secret to create, and how, before applying; `None` without secrets.
fn secret_note(spec: &Spec) -> Option<String> {
    let keys: BTreeSet<&str> = spec
        .services
        .values()
        .flat_map(|s| s.secret_env.iter().map(String::as_str))
        .collect();
    if keys.is_empty() {
        return None;
    }
    let literals: Vec<String> = keys
        .iter()
        .map(|k| format!("--from-literal={k}=..."))
        .collect();
    Some(format!(
        "secret env values are not rendered; create the Secret first: kubectl create secret generic {} {}",
        secret_name(spec),
        literals.join(" ")
    ))
}

fn resources(r: &Resources) -> Option<ResourceRequirements> {
    let pair = |cpu: Option<u64>, mem: Option<u64>| {
        let mut m = BTreeMap::new();
        if let Some(c) = cpu {
            m.insert("cpu".to_string(), Quantity(cpu_quantity(c)));
        }
        if let Some(b) = mem {
            m.insert("memory".to_string(), Quantity(memory_quantity(b)));
        }
        (!m.is_empty()).then_some(m)
    };
    let requests = pair(r.cpu_millis, r.memory_bytes);
    let limits = pair(r.cpu_limit_millis, r.memory_limit_bytes);
    (requests.is_some() || limits.is_some()).then_some(ResourceRequirements {
        requests,
        limits,
        ..Default::default()
    })
}

fn volume_mounts(spec: &Spec, svc: &Service, notes: &mut Vec<String>) -> Option<Vec<VolumeMount>> {
    let mounts: Vec<VolumeMount> = svc
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            MountSource::Volume { name } => Some(VolumeMount {
                name: dns_label(name),
                mount_path: v.target.clone(),
                read_only: v.read_only.then_some(true),
                ..Default::default()
            }),
            MountSource::Bind { path } => {
                let host = svc
                    .host_mounts
                    .iter()
                    .find(|m| &m.source == path && m.target == v.target);
                notes.push(match host {
                    // Allowed for a local run, never for a cluster: a hostPath would hand over a node.
                    Some(m) => format!(
                        "{}: host mount {}:{}{} (allowed by allow_host_mounts) is never rendered as a hostPath volume",
                        svc.name,
                        m.source,
                        m.target,
                        if m.read_only { ":ro" } else { "" }
                    ),
                    None => format!(
                        "{}: bind mount {}:{} is a development mount; not rendered",
                        svc.name,
                        relative(spec, path),
                        v.target
                    ),
                });
                None
            }
        })
        .collect();
    (!mounts.is_empty()).then_some(mounts)
}

fn protocol(p: Protocol) -> String {
    match p {
        Protocol::Tcp => "TCP".into(),
        Protocol::Udp => "UDP".into(),
    }
}

/// A spec probe as a Kubernetes probe (timing carried over), and a note when its kind changed.
fn probe(p: &Probe) -> Option<(KProbe, Option<String>)> {
    let (action, note) = translate(&p.check)?;
    let mut k = KProbe {
        period_seconds: Some(seconds(p.period)),
        timeout_seconds: Some(seconds(p.timeout)),
        failure_threshold: Some(i32::try_from(p.failure_threshold).unwrap_or(i32::MAX)),
        initial_delay_seconds: (!p.start_grace.is_zero()).then(|| seconds(p.start_grace)),
        ..Default::default()
    };
    match action {
        Action::HttpGet {
            port,
            path,
            headers,
        } => {
            k.http_get = Some(HTTPGetAction {
                port: IntOrString::Int(i32::from(port)),
                path: Some(path),
                http_headers: (!headers.is_empty()).then(|| {
                    headers
                        .into_iter()
                        .map(|(name, value)| HTTPHeader { name, value })
                        .collect()
                }),
                ..Default::default()
            });
        }
        Action::Exec(argv) => {
            k.exec = Some(ExecAction {
                command: Some(argv),
            });
        }
        Action::Tcp(port) => {
            k.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::Int(i32::from(port)),
                host: None,
            });
        }
    }
    Some((k, note))
}

/// Attempts that fit in the readiness start timeout at the probe's period.
fn start_attempts(p: &Probe) -> i32 {
    let period = p.period.as_millis().max(1);
    let n = p.start_timeout.as_millis().div_ceil(period).max(1);
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn service(
    svc: &Service,
    ports: &[(u16, Protocol)],
    labels: &BTreeMap<String, String>,
) -> KService {
    let mut meta_labels = labels.clone();
    meta_labels.insert("app.kubernetes.io/component".into(), dns_label(&svc.name));
    KService {
        metadata: ObjectMeta {
            name: Some(dns_label(&svc.name)),
            labels: Some(meta_labels),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels.clone()),
            ports: Some(
                ports
                    .iter()
                    .map(|(port, proto)| ServicePort {
                        name: Some(format!("{}-{port}", proto.as_str())),
                        port: i32::from(*port),
                        target_port: Some(IntOrString::Int(i32::from(*port))),
                        protocol: Some(protocol(*proto)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}

fn claim(spec: &Spec, volume: &str) -> PersistentVolumeClaim {
    let size = spec
        .render
        .k8s
        .storage
        .get(volume)
        .copied()
        .unwrap_or(DEFAULT_STORAGE_BYTES);
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(spec, volume)),
            labels: Some(pod_labels(spec)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(memory_quantity(size)),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}
