//! The container a service runs in: its mounts and body (pure; replacing it is `reconcile`).

use crate::engine::{
    ContainerSpec, Mount, MountKind, NetworkAttachment, PortSpec, Resources, Role,
};
use crate::labels;
pub use crate::spec::context::Reach;
use crate::spec::{Capabilities, MountSource, Security, Service, Spec};

/// Whether container `c` leaves its host ports to a forwarder.
pub fn is_forwarded(c: &crate::engine::Container) -> bool {
    reach_of(c).is_some()
}

/// How a forwarder reaches container `c`, if one owns its host ports.
pub fn reach_of(c: &crate::engine::Container) -> Option<Reach> {
    match c.label(labels::PORTS)? {
        labels::PORTS_FORWARDED => Some(Reach::Published),
        labels::PORTS_FORWARDED_DIRECT => Some(Reach::Direct),
        _ => None,
    }
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
    container_labels.extend(spec.labels.clone());
    if let Some(c) = context_hash {
        container_labels.insert(labels::CONTEXT_HASH.to_string(), c.to_string());
    }
    if let Ok(file) = std::path::absolute(&spec.file) {
        container_labels.insert(labels::SPEC_FILE.to_string(), file.display().to_string());
    }
    let forwarded = if svc.ports.is_empty() {
        None
    } else {
        spec.run.forwarded.get(&svc.name).copied()
    };
    if let Some(reach) = forwarded {
        container_labels.insert(labels::PORTS.to_string(), reach.label().to_string());
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
            .filter(|_| forwarded != Some(Reach::Direct))
            .map(|p| {
                if forwarded.is_some() {
                    // The forwarder owns the host port; the engine publishes this one where it likes.
                    PortSpec {
                        container_port: p.container_port,
                        protocol: p.protocol.as_str(),
                        host_ip: std::net::IpAddr::from([127, 0, 0, 1]),
                        host_port: 0,
                    }
                } else {
                    PortSpec {
                        container_port: p.container_port,
                        protocol: p.protocol.as_str(),
                        host_ip: p.host_ip,
                        host_port: p.host_port,
                    }
                }
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
        ..hardened(&svc.security)
    }
}

/// The privilege settings of a container body: `no-new-privileges`, and every capability dropped but the kept
/// ones (or the engine's default set, untouched).
pub fn hardened(security: &Security) -> ContainerSpec {
    let (cap_drop, cap_add) = match &security.capabilities {
        Capabilities::Only(kept) => (vec!["ALL".to_string()], kept.clone()),
        Capabilities::DockerDefault => (Vec::new(), Vec::new()),
    };
    ContainerSpec {
        no_new_privileges: security.no_new_privileges,
        cap_drop,
        cap_add,
        ..Default::default()
    }
}
