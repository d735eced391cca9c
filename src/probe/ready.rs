//! Readiness and addresses: waiting for a service's probe, and where a container port is reached from the host.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::output::event::Probe;
use crate::output::printer::Printer;
use crate::probe;
use crate::spec::{Service, Spec};

/// Host address of a container port: its published port, or the container's address on the project network.
pub async fn port_resolver(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
) -> Result<impl Fn(u16) -> Option<SocketAddr> + Send + Sync + 'static + use<>> {
    port_resolver_of(engine, spec, svc, &spec.container_name(&svc.name)).await
}

/// [`port_resolver`] for container `container` of the service (a swap's new one has another name). A container
/// whose ports a foreground run forwards is reached where the engine published it, not through the forwarder
/// (which goes to the container that serves).
pub async fn port_resolver_of(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    container: &str,
) -> Result<impl Fn(u16) -> Option<SocketAddr> + Send + Sync + 'static + use<>> {
    let c = engine.inspect_container(container).await?;
    let published: BTreeMap<u16, SocketAddr> = match &c {
        Some(c) if crate::container::is_forwarded(c) => c
            .ports
            .iter()
            .filter(|(_, h)| !h.udp)
            .map(|(p, h)| (*p, h.reach()))
            .collect(),
        _ => svc
            .ports
            .iter()
            .filter(|p| p.protocol == crate::spec::Protocol::Tcp)
            .map(|p| (p.container_port, SocketAddr::new(p.reach_ip(), p.host_port)))
            .collect(),
    };
    let ip = c.and_then(|c| c.ip_on(&spec.network_name()));
    Ok(move |port: u16| {
        published
            .get(&port)
            .copied()
            .or_else(|| ip.map(|ip| SocketAddr::new(ip, port)))
    })
}

/// Waits for the service's readiness probe (immediately ready without one).
pub async fn wait_ready(engine: &dyn Engine, spec: &Spec, svc: &Service) -> Result<()> {
    wait_ready_of(engine, spec, svc, &spec.container_name(&svc.name)).await
}

/// [`wait_ready`] for container `container` of the service.
pub async fn wait_ready_of(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    container: &str,
) -> Result<()> {
    let Some(probe_spec) = &svc.readiness else {
        return Ok(());
    };
    let resolve = port_resolver_of(engine, spec, svc, container).await?;
    probe::wait_ready(engine, container, probe_spec, &resolve, &mut |_, _| {})
        .await
        .map(|_| ())
        .map_err(|e| Error::Runtime(format!("{}: {e}", svc.name)))
}

/// [`wait_ready`], shown: on a terminal one live line with the elapsed time and the last probe error; if the
/// service is not ready in the end, the probe history (its last [`HISTORY`] attempts) is printed.
pub async fn wait_ready_shown(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    printer: &Printer,
) -> Result<()> {
    let Some(probe_spec) = &svc.readiness else {
        return Ok(());
    };
    let Some(live) = printer.status(&svc.name, "waiting for readiness") else {
        return wait_ready(engine, spec, svc).await;
    };
    let container = spec.container_name(&svc.name);
    let resolve = port_resolver(engine, spec, svc).await?;
    let mut history: std::collections::VecDeque<Probe> = std::collections::VecDeque::new();
    let mut missed = |after: std::time::Duration, why: &str| {
        live.set(&format!("waiting for readiness (last probe: {why})"));
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(Probe::Missed {
            after,
            why: why.to_string(),
        });
    };
    let r = probe::wait_ready(engine, &container, probe_spec, &resolve, &mut missed).await;
    drop(live);
    if r.is_err() {
        for h in history {
            printer.say(&svc.name, h);
        }
    }
    r.map(|_| ())
        .map_err(|e| Error::Runtime(format!("{}: {e}", svc.name)))
}

/// How many failed probes a failed readiness wait shows.
const HISTORY: usize = 20;
