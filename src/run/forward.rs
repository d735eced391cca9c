//! The host ports of a foreground run, owned by the run itself. The engine cannot move a published port from
//! one running container to another, so a foreground `up` binds the spec's host ports (TCP and UDP) here and
//! forwards each connection or datagram to the serving container's port. A swap points the forwarder at the
//! new container once it is ready: connections made before stay with the old one until it stops, every new one
//! goes to the new one, and none is refused. `up --detach` keeps engine-published ports (nothing would be left
//! to forward once it returns).
//!
//! Where the engine's bridges are this host's own (a local Linux engine: the project network's gateway is an
//! address of this host), the container publishes nothing and the forwarder goes to its address on the project
//! network ([`Reach::Direct`]): the network re-join of a swap then has no port proxies to tear down and make
//! again (159 ms median in the bench, against 258–281 with three proxies). Elsewhere (Docker Desktop's VM, a
//! rootless engine, a remote one) the engine publishes the container's ports on ephemeral loopback ports
//! ([`Reach::Published`]).
//! `PINSHARE_DEV_FORWARD=published` or `=direct` decides instead.
//!
//! Where a connection cannot reach its target (a supervisor restarted the container and it got another address
//! or ephemeral port, a rebuild from another terminal), the forwarder looks the serving container up by name
//! once and tries again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::container::Reach;
use crate::engine::{Container, Engine};
use crate::error::{Error, Result};
use crate::spec::{Protocol, Spec};

/// Overrides [`reach`]: `published` or `direct`.
pub const FORWARD_ENV: &str = "PINSHARE_DEV_FORWARD";

/// How this run's forwarder reaches its containers: [`Reach::Direct`] when the gateway of the project network
/// (or, before it exists, of the engine's default bridge) is an address of this host, so the engine's bridges
/// are this host's; [`Reach::Published`] otherwise, or when the engine does not say.
pub async fn reach(engine: &dyn Engine, spec: &Spec) -> Result<Reach> {
    match std::env::var(FORWARD_ENV).ok().as_deref() {
        None | Some("") => {}
        Some("published") => return Ok(Reach::Published),
        Some("direct") => return Ok(Reach::Direct),
        Some(other) => {
            return Err(Error::Usage(format!(
                "{FORWARD_ENV}={other:?} is not a way to forward: use published or direct (unset: decided \
                 from the engine's network)"
            )));
        }
    }
    let mut gateways = engine.network_gateways(&spec.network_name()).await?;
    if gateways.is_empty() {
        gateways = engine.network_gateways("bridge").await?;
    }
    Ok(reach_of_gateways(&gateways))
}

/// [`Reach::Direct`] when one of `gateways` is an address of this host (a socket can be bound to it).
fn reach_of_gateways(gateways: &[IpAddr]) -> Reach {
    let local = |ip: &IpAddr| {
        !ip.is_loopback()
            && !ip.is_unspecified()
            && std::net::UdpSocket::bind(SocketAddr::new(*ip, 0)).is_ok()
    };
    if gateways.iter().any(local) {
        Reach::Direct
    } else {
        Reach::Published
    }
}

/// One forwarded host port.
struct Route {
    service: String,
    /// The name the serving container has.
    container: String,
    container_port: u16,
    udp: bool,
    /// The project network, where a container that publishes nothing is reached.
    network: String,
    target: Mutex<Option<SocketAddr>>,
}

impl Route {
    fn target(&self) -> Option<SocketAddr> {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, to: Option<SocketAddr>) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }

    /// Looks the serving container up by name: where its port is reached now.
    async fn resolve(&self, engine: &dyn Engine) -> Option<SocketAddr> {
        let c = engine.inspect_container(&self.container).await.ok()??;
        let to = c
            .is_running()
            .then(|| c.reachable(self.container_port, self.udp, &self.network))
            .flatten();
        self.set(to);
        to
    }
}

/// The host ports a foreground run forwards, by service.
#[derive(Clone, Default)]
pub struct Forwarder {
    routes: Arc<HashMap<String, Vec<Arc<Route>>>>,
}

/// How long a UDP client with no traffic keeps its session (and its socket to the container).
const UDP_IDLE: Duration = Duration::from_secs(120);

impl Forwarder {
    /// Binds the host ports of `services` and forwards them until `cancel` is cancelled. Fails, binding
    /// nothing, when a port cannot be bound.
    pub async fn bind(
        engine: &Arc<dyn Engine>,
        spec: &Spec,
        services: &[String],
        tasks: &crate::run::tasks::Tasks,
    ) -> Result<Self> {
        let mut routes: HashMap<String, Vec<Arc<Route>>> = HashMap::new();
        let mut tcp = Vec::new();
        let mut udp = Vec::new();
        for name in services {
            let svc = &spec.services[name];
            for p in &svc.ports {
                let host = SocketAddr::new(p.host_ip, p.host_port);
                let route = Arc::new(Route {
                    service: name.clone(),
                    container: spec.container_name(name),
                    container_port: p.container_port,
                    udp: p.protocol == Protocol::Udp,
                    network: spec.network_name(),
                    target: Mutex::new(None),
                });
                let taken = |e: std::io::Error| {
                    Error::Runtime(format!(
                        "forwarding {host}/{} to {name}'s port {}: {e}; stop what holds it, or change the \
                         host port in {}",
                        p.protocol.as_str(),
                        p.container_port,
                        spec.file.display()
                    ))
                };
                if route.udp {
                    udp.push((
                        UdpSocket::bind(host).await.map_err(taken)?,
                        Arc::clone(&route),
                    ));
                } else {
                    tcp.push((
                        TcpListener::bind(host).await.map_err(taken)?,
                        Arc::clone(&route),
                    ));
                }
                routes.entry(name.clone()).or_default().push(route);
            }
        }
        for (listener, route) in tcp {
            tasks.spawn_until(
                &tasks.followers,
                accept_loop(listener, route, Arc::clone(engine)),
            );
        }
        for (socket, route) in udp {
            tasks.spawn_until(
                &tasks.followers,
                udp_loop(socket, route, Arc::clone(engine)),
            );
        }
        Ok(Forwarder {
            routes: Arc::new(routes),
        })
    }

    /// Whether `service`'s host ports are forwarded here.
    pub fn forwards(&self, service: &str) -> bool {
        self.routes.contains_key(service)
    }

    /// From now on, new connections to `service`'s host ports go to container `c`.
    pub fn point(&self, service: &str, c: &Container) {
        for r in self.routes.get(service).into_iter().flatten() {
            r.set(c.reachable(r.container_port, r.udp, &r.network));
        }
    }
}

async fn accept_loop(listener: TcpListener, route: Arc<Route>, engine: Arc<dyn Engine>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors and the like: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (route, engine) = (Arc::clone(&route), Arc::clone(&engine));
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Some(mut upstream) = connect(&route, &*engine).await else {
                tracing::debug!(service = %route.service, port = route.container_port, "no container to forward to");
                return;
            };
            let _ = upstream.set_nodelay(true);
            let mut client = client;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

/// How long a connection to the last known target may take before the serving container is looked up again. At
/// the address of a container that is gone nobody refuses: the connect would wait seconds for the neighbour
/// lookup to give up. A live container on a local bridge (or a published port) answers in well under this.
const STALE: Duration = Duration::from_millis(250);

async fn connect(route: &Route, engine: &dyn Engine) -> Option<TcpStream> {
    if let Some(to) = route.target()
        && let Ok(Ok(s)) = tokio::time::timeout(STALE, TcpStream::connect(to)).await
    {
        return Some(s);
    }
    let to = route.resolve(engine).await?;
    TcpStream::connect(to).await.ok()
}

/// A UDP client's session: a socket connected to the container, and the target it was made for.
struct Session {
    upstream: Arc<UdpSocket>,
    target: SocketAddr,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn udp_loop(socket: UdpSocket, route: Arc<Route>, engine: Arc<dyn Engine>) {
    let socket = Arc::new(socket);
    let mut sessions: HashMap<SocketAddr, (Session, tokio::time::Instant)> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let now = tokio::time::Instant::now();
        sessions.retain(|_, (_, seen)| now.duration_since(*seen) < UDP_IDLE);
        let target = match route.target() {
            Some(t) => Some(t),
            None => route.resolve(&*engine).await,
        };
        let Some(target) = target else { continue };
        // A swap moved the route: the client's next datagram opens a session with the new container.
        if sessions
            .get(&client)
            .is_some_and(|(s, _)| s.target != target)
        {
            sessions.remove(&client);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = sessions.entry(client) {
            let Some(session) = open_session(target, &socket, client).await else {
                continue;
            };
            slot.insert((session, now));
        }
        if let Some((s, seen)) = sessions.get_mut(&client) {
            *seen = now;
            let _ = s.upstream.send(&buf[..n]).await;
        }
    }
}

/// A socket connected to `target` for `client`, and the task that sends the container's replies back.
async fn open_session(
    target: SocketAddr,
    socket: &Arc<UdpSocket>,
    client: SocketAddr,
) -> Option<Session> {
    let local = if target.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let upstream = UdpSocket::bind(local).await.ok()?;
    upstream.connect(target).await.ok()?;
    let upstream = Arc::new(upstream);
    let reader = tokio::spawn(reply_loop(
        Arc::clone(&upstream),
        Arc::clone(socket),
        client,
    ));
    Some(Session {
        upstream,
        target,
        reader,
    })
}

async fn reply_loop(upstream: Arc<UdpSocket>, socket: Arc<UdpSocket>, client: SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match upstream.recv(&mut buf).await {
            Ok(n) => {
                let _ = socket.send_to(&buf[..n], client).await;
            }
            // ICMP port unreachable while the container starts over: keep the session.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
