//! Readiness and addresses: waiting for a service's probe, and where a container port is reached from the host.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::probe;
use crate::spec::{Service, Spec};

/// Host address of a container port: its published port, or the container's address on the project network.
pub async fn port_resolver(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
) -> Result<impl Fn(u16) -> Option<SocketAddr> + Send + Sync + 'static> {
    let published: BTreeMap<u16, SocketAddr> = svc
        .ports
        .iter()
        .filter(|p| p.protocol == crate::spec::Protocol::Tcp)
        .map(|p| (p.container_port, SocketAddr::new(p.reach_ip(), p.host_port)))
        .collect();
    let ip = if published.len() < svc.ports.len() || svc.readiness.is_some() {
        engine
            .inspect_container(&spec.container_name(&svc.name))
            .await?
            .and_then(|c| c.ip_on(&spec.network_name()))
    } else {
        None
    };
    Ok(move |port: u16| {
        published
            .get(&port)
            .copied()
            .or_else(|| ip.map(|ip| SocketAddr::new(ip, port)))
    })
}

/// Waits for the service's readiness probe (immediately ready without one).
pub async fn wait_ready(engine: &dyn Engine, spec: &Spec, svc: &Service) -> Result<()> {
    let Some(probe_spec) = &svc.readiness else {
        return Ok(());
    };
    let container = spec.container_name(&svc.name);
    let resolve = port_resolver(engine, spec, svc).await?;
    probe::wait_ready(engine, &container, probe_spec, &resolve)
        .await
        .map(|_| ())
        .map_err(|e| Error::Runtime(format!("{}: {e}", svc.name)))
}
