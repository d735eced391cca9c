//! The pod: the one Deployment, its containers (a service that others depend on becomes a native sidecar),
//! their init containers, security contexts and resources. The biggest object, so its own file; the parts
//! that have a concept of their own (probes, env and its Secret, volumes, kubo) are next to it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities as K8sCapabilities, Container, ContainerPort, HostAlias,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe as KProbe, ResourceRequirements, SecurityContext, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::super::{K8sOptions, cpu_quantity, dns_label, image, kubo, memory_quantity};
use super::env::env;
use super::kubo::{KUBO_GATEWAY_PORT, KUBO_PREP_SCRIPT, kubo_args, non_root};
use super::probes::{probe, start_attempts};
use super::service::{exposed_ports, protocol};
use super::volumes::{claim_name, volume_mounts};
use crate::spec::{Capabilities, Security};
use crate::spec::{InitAction, Protocol, Resources, Service, Spec};

pub(super) fn deployment(
    spec: &Spec,
    opts: &K8sOptions,
    labels: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Deployment {
    let services: Vec<&Service> = spec.order.iter().map(|n| &spec.services[n]).collect();
    let (init_containers, containers) = pod_containers(spec, &services, opts, notes);
    let volumes = claimed_volumes(spec);

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

/// The pod's init containers and containers, in start order: each service's init steps, then the service
/// itself, which natively is a sidecar (an init container that keeps running) when something depends on it.
fn pod_containers(
    spec: &Spec,
    services: &[&Service],
    opts: &K8sOptions,
    notes: &mut Vec<String>,
) -> (Vec<Container>, Vec<Container>) {
    // A service something else depends on starts first and keeps running: a sidecar.
    let depended: BTreeSet<&str> = services
        .iter()
        .flat_map(|s| s.depends_on.iter().map(String::as_str))
        .collect();
    let native = !opts.classic_sidecar;

    let mut init_containers = Vec::new();
    let mut containers = Vec::new();
    for svc in services {
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
    (init_containers, containers)
}

/// A pod volume for each of the spec's named volumes, on its claim, sorted by name.
fn claimed_volumes(spec: &Spec) -> Vec<Volume> {
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
    volumes
}

/// The container a service runs in: its image, command, environment, ports, probes, resources, privileges and
/// mounts, with a note for whatever cannot be said in Kubernetes.
fn container(spec: &Spec, svc: &Service, opts: &K8sOptions, notes: &mut Vec<String>) -> Container {
    let kubo = kubo(svc);
    if kubo.is_some() && !svc.ports.is_empty() {
        note_unexposed_kubo_ports(spec, svc, notes);
    }
    let (startup, readiness) = startup_and_readiness(svc, notes);
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
        ports: container_ports(svc),
        resources: resources(&svc.resources),
        startup_probe: startup,
        readiness_probe: readiness,
        liveness_probe: liveness,
        security_context: match &kubo {
            // Run as kubo's user from the start, its entrypoint does no root work: no capability is of use.
            Some(k) => harden(Some(non_root(k)), &as_kubo_user(&svc.security)),
            None => harden(user_context(svc, notes), &svc.security),
        },
        volume_mounts: volume_mounts(spec, svc, notes),
        ..Default::default()
    }
}

/// Notes the ports of a kubo service that get no Service (only those opted in are exposed), if there are any.
fn note_unexposed_kubo_ports(spec: &Spec, svc: &Service, notes: &mut Vec<String>) {
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

/// The startup and readiness probes of a service, both from its readiness check (none when it has none or
/// when it cannot be said in Kubernetes, which is noted).
fn startup_and_readiness(
    svc: &Service,
    notes: &mut Vec<String>,
) -> (Option<KProbe>, Option<KProbe>) {
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
    (startup, readiness)
}

/// The container ports of a service, each port and protocol once and in order (none when it publishes none).
fn container_ports(svc: &Service) -> Option<Vec<ContainerPort>> {
    let mut ports: Vec<(u16, Protocol)> = svc
        .ports
        .iter()
        .map(|p| (p.container_port, p.protocol))
        .collect();
    ports.sort();
    ports.dedup();
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|(port, proto)| ContainerPort {
                container_port: i32::from(*port),
                protocol: Some(protocol(*proto)),
                ..Default::default()
            })
            .collect()
    })
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
            // As the local one-shot: the engine's default capabilities (root prep work goes here).
            security_context: harden(
                user_context_of(step.user.as_deref(), &svc.name, notes),
                &crate::spec::Security {
                    no_new_privileges: svc.security.no_new_privileges,
                    capabilities: Capabilities::DockerDefault,
                },
            ),
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
                security_context: harden(Some(non_root(&k)), &as_kubo_user(&svc.security)),
                ..base
            }
        }
    }
}

/// The privilege settings `up` gives the container: `no-new-privileges` is `allowPrivilegeEscalation: false`,
/// and the capabilities are dropped but the kept ones.
fn harden(context: Option<SecurityContext>, security: &Security) -> Option<SecurityContext> {
    let mut c = context.unwrap_or_default();
    if security.no_new_privileges {
        c.allow_privilege_escalation = Some(false);
    }
    if let Capabilities::Only(kept) = &security.capabilities {
        c.capabilities = Some(K8sCapabilities {
            drop: Some(vec!["ALL".into()]),
            add: (!kept.is_empty()).then(|| kept.clone()),
        });
    }
    (c != SecurityContext::default()).then_some(c)
}

/// Kubo's security when it runs as its own user from the start (the pod's runAsUser): the capabilities its
/// entrypoint needs as root are not needed.
fn as_kubo_user(security: &Security) -> Security {
    Security {
        no_new_privileges: security.no_new_privileges,
        capabilities: match &security.capabilities {
            Capabilities::Only(_) => Capabilities::Only(Vec::new()),
            Capabilities::DockerDefault => Capabilities::DockerDefault,
        },
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
