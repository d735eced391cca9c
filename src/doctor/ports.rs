//! The port check: every published host port of the spec, free, held by the service's own container, by
//! another project's or a foreign container (named), or by another program; and `preflight`, the port check
//! `up` runs before it creates anything.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use crate::engine::{Engine, RunningContainer, engine_address};
use crate::error::{Error, Result};
use crate::labels;
use crate::spec::{PortMapping, Protocol, Spec};

use super::{Finding, Status};

/// A host port a running container publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Host address (`0.0.0.0` when Docker gives none).
    pub ip: IpAddr,
    /// Host port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// A running container and the host ports it publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Container name.
    pub container: String,
    /// `dev.pinshare.project` label, when pinshare-dev created it.
    pub project: Option<String>,
    /// `dev.pinshare.service` label.
    pub service: Option<String>,
    /// Published host ports.
    pub ports: Vec<Published>,
}

/// Reduces the engine's list of running containers to the ones publishing host ports.
pub fn holders(list: Vec<RunningContainer>) -> Vec<Holder> {
    list.into_iter()
        .filter_map(|c| {
            let ports: Vec<Published> = c
                .ports
                .into_iter()
                .map(|p| Published {
                    ip: p
                        .ip
                        .as_deref()
                        .and_then(|ip| ip.parse().ok())
                        .unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    port: p.port,
                    protocol: if p.udp { Protocol::Udp } else { Protocol::Tcp },
                })
                .collect();
            if ports.is_empty() {
                return None;
            }
            let get = |k: &str| c.labels.get(k).cloned();
            Some(Holder {
                project: get(labels::PROJECT),
                service: get(labels::SERVICE),
                container: c.name,
                ports,
            })
        })
        .collect()
}

/// What binding a port on this host says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// Bound and released: nobody holds it.
    Free,
    /// Someone holds it: the program, when /proc tells (`python3 (pid 30122)`).
    InUse(Option<String>),
    /// The address is not one of this machine's.
    NotLocal(String),
    /// Could not tell (e.g. a port below 1024 without privileges, or a remote engine).
    Unknown(String),
    /// Held by this project's running `up` (the pid holding the project's lock): its port forwarder.
    OurRun(u32),
}

/// Binds the mapping's host address and port (TCP or UDP) and releases it at once. `run` is the pid of this
/// project's running `up`: a port that process holds is its forwarder's, which serves the service.
pub fn probe_bind(m: &PortMapping, run: Option<u32>) -> Bind {
    let addr = SocketAddr::new(m.host_ip, m.host_port);
    let bound = match m.protocol {
        Protocol::Tcp => TcpListener::bind(addr).map(drop),
        Protocol::Udp => UdpSocket::bind(addr).map(drop),
    };
    match bound {
        Ok(()) => Bind::Free,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            match crate::doctor::port_owner::owner_pid(m) {
                Some(pid) if Some(pid) == run => Bind::OurRun(pid),
                pid => Bind::InUse(pid.map(crate::doctor::port_owner::describe)),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => Bind::NotLocal(e.to_string()),
        Err(e) => Bind::Unknown(e.to_string()),
    }
}

/// Who holds a published port, if anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody.
    Free,
    /// This service's own container: `up` keeps or recreates it.
    Ours {
        /// Container name.
        container: String,
    },
    /// A container of another service of this project.
    OurOtherService {
        /// Container name.
        container: String,
        /// Its service.
        service: String,
    },
    /// A container of another pinshare-dev project.
    OtherProject {
        /// Container name.
        container: String,
        /// Its project.
        project: String,
    },
    /// A container pinshare-dev did not create.
    Foreign {
        /// Container name.
        container: String,
    },
    /// This project's running `up` (its port forwarder), by pid.
    OurRun(u32),
    /// A program outside Docker: its name and pid, when they can be known.
    Program(Option<String>),
    /// The host address is not this machine's.
    NotLocal(String),
    /// Could not tell.
    Unchecked(String),
}

/// One published port of one service, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortCheck {
    /// Service publishing it.
    pub service: String,
    /// The mapping.
    pub mapping: PortMapping,
    /// Who holds it.
    pub verdict: Verdict,
}

/// Whether two bind addresses collide: equal, or one is a wildcard of the same family (`[::]` is dual-stack).
fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    let wild_covers =
        |w: IpAddr, o: IpAddr| w.is_unspecified() && (w.is_ipv4() == o.is_ipv4() || w.is_ipv6());
    a == b || wild_covers(a, b) || wild_covers(b, a)
}

/// Decides for each `(service, mapping)`: a running container publishing the port names the holder; otherwise
/// `bind` (called only then) says whether another program holds it.
pub fn check_ports(
    project: &str,
    ports: &[(String, PortMapping)],
    holders: &[Holder],
    mut bind: impl FnMut(&PortMapping) -> Bind,
) -> Vec<PortCheck> {
    ports
        .iter()
        .map(|(service, m)| {
            let holder = holders.iter().find(|h| {
                h.ports.iter().any(|p| {
                    p.port == m.host_port && p.protocol == m.protocol && overlaps(p.ip, m.host_ip)
                })
            });
            let verdict = match holder {
                Some(h) => {
                    let container = h.container.clone();
                    match (&h.project, &h.service) {
                        (Some(p), Some(s)) if p == project && s == service => {
                            Verdict::Ours { container }
                        }
                        (Some(p), s) if p == project => Verdict::OurOtherService {
                            container,
                            service: s.clone().unwrap_or_default(),
                        },
                        (Some(p), _) => Verdict::OtherProject {
                            container,
                            project: p.clone(),
                        },
                        (None, _) => Verdict::Foreign { container },
                    }
                }
                None => match bind(m) {
                    Bind::Free => Verdict::Free,
                    Bind::InUse(owner) => Verdict::Program(owner),
                    Bind::OurRun(pid) => Verdict::OurRun(pid),
                    Bind::NotLocal(e) => Verdict::NotLocal(e),
                    Bind::Unknown(e) => Verdict::Unchecked(e),
                },
            };
            PortCheck {
                service: service.clone(),
                mapping: m.clone(),
                verdict,
            }
        })
        .collect()
}

impl PortCheck {
    /// `127.0.0.1:5001`, `[::1]:4001/udp`.
    pub fn address(&self) -> String {
        let a = SocketAddr::new(self.mapping.host_ip, self.mapping.host_port);
        match self.mapping.protocol {
            Protocol::Tcp => a.to_string(),
            Protocol::Udp => format!("{a}/udp"),
        }
    }

    /// `ss` showing who listens on the port.
    fn ss(&self) -> String {
        let flags = match self.mapping.protocol {
            Protocol::Tcp => "-ltnp",
            Protocol::Udp => "-lunp",
        };
        format!("ss {flags} 'sport = :{}'", self.mapping.host_port)
    }

    /// Whether `up` would fail to publish this port.
    #[cfg(test)]
    pub fn blocks_up(&self) -> bool {
        !matches!(
            self.verdict,
            Verdict::Free | Verdict::Ours { .. } | Verdict::OurRun(_) | Verdict::Unchecked(_)
        )
    }

    /// The `doctor` line.
    pub fn finding(&self, spec_file: &str) -> Finding {
        let at = format!("{} ({})", self.address(), self.service);
        let change = format!("or change the port in {spec_file}");
        match &self.verdict {
            Verdict::Free => Finding::new(Status::Ok, "port", format!("{at}: free")),
            Verdict::Ours { container } => Finding::new(
                Status::Ok,
                "port",
                format!("{at}: held by our container {container} (up keeps or recreates it)"),
            ),
            Verdict::OurRun(pid) => Finding::new(
                Status::Ok,
                "port",
                format!(
                    "{at}: served by this project's running `up` (pid {pid}), its port forwarder"
                ),
            ),
            Verdict::OurOtherService { container, service } => Finding::new(
                Status::Fail,
                "port",
                format!("{at}: held by our container {container} of service {service}"),
            )
            .fix(format!("pinshare-dev -f {spec_file} down, {change}")),
            Verdict::OtherProject { container, project } => Finding::new(
                Status::Fail,
                "port",
                format!("{at}: held by container {container} (project {project})"),
            )
            .fix(format!(
                "stop project {project} ({}, or docker stop {container}), {change}",
                down_command(project)
            )),
            Verdict::Foreign { container } => Finding::new(
                Status::Fail,
                "port",
                format!("{at}: held by a foreign container {container}"),
            )
            .fix(format!("docker stop {container}, {change}")),
            Verdict::Program(None) => Finding::new(
                Status::Fail,
                "port",
                format!("{at}: in use by another program (try: {})", self.ss()),
            )
            .fix(format!("stop that program, {change}")),
            Verdict::Program(Some(owner)) => {
                Finding::new(Status::Fail, "port", format!("{at}: in use by {owner}"))
                    .fix(format!("stop {owner}, {change}"))
            }
            Verdict::NotLocal(e) => Finding::new(
                Status::Fail,
                "port",
                format!(
                    "{at}: {} is not an address of this machine ({e})",
                    self.mapping.host_ip
                ),
            )
            .fix(format!(
                "use an address of this machine (or 127.0.0.1) in {spec_file}"
            )),
            Verdict::Unchecked(why) => {
                Finding::new(Status::Skip, "port", format!("{at}: not checked: {why}"))
            }
        }
    }

    /// The error `up` stops with, when this port blocks it.
    pub fn error_message(&self, spec_file: &str) -> Option<String> {
        let port = format!("port {} of service {}", self.address(), self.service);
        let change = format!("change the port in {spec_file}");
        Some(match &self.verdict {
            // A running `up` of this project holds the project lock too, and `up` says so before this check.
            Verdict::Free | Verdict::Ours { .. } | Verdict::OurRun(_) | Verdict::Unchecked(_) => {
                return None;
            }
            Verdict::Program(None) => format!(
                "{port} is already in use by another program; free it or {change} ({} shows who holds it)",
                self.ss()
            ),
            Verdict::Program(Some(owner)) => {
                format!("{port} is already in use by {owner}; stop it or {change}")
            }
            Verdict::Foreign { container } => format!(
                "{port} is already in use by container {container}, which pinshare-dev did not create; stop it (docker stop {container}) or {change}"
            ),
            Verdict::OtherProject { container, project } => format!(
                "{port} is already in use by container {container} of pinshare-dev project {project}; stop that project ({}, or docker stop {container}) or {change}",
                down_command(project)
            ),
            Verdict::OurOtherService { container, service } => format!(
                "{port} is already in use by container {container} of service {service} of this project; run pinshare-dev down first, or {change}"
            ),
            Verdict::NotLocal(e) => format!(
                "{port} cannot be published: {} is not an address of this machine ({e}); use one that is (or 127.0.0.1) in {spec_file}",
                self.mapping.host_ip
            ),
        })
    }
}

/// The `down` of another project, by its label: the spec its `up` ran from may name another project by now.
fn down_command(project: &str) -> String {
    format!("`{}`", crate::commands::down::project_command(project))
}

/// The published ports of the given services, in the given order.
pub(super) fn published(spec: &Spec, services: &[String]) -> Vec<(String, PortMapping)> {
    services
        .iter()
        .filter_map(|s| spec.services.get(s))
        .flat_map(|svc| svc.ports.iter().map(|p| (svc.name.clone(), p.clone())))
        .collect()
}

/// Whether the engine runs on this machine, so binding a port here says something about it.
pub(super) fn engine_is_local() -> bool {
    engine_address().starts_with("unix://")
}

/// The bind probe, or why it cannot say anything about the engine's host; `run` is the pid of this project's
/// running `up`, whose forwarder holds the ports it serves.
pub(super) fn bind_probe(local: bool, run: Option<u32>) -> impl FnMut(&PortMapping) -> Bind {
    move |m| {
        if local {
            probe_bind(m, run)
        } else {
            Bind::Unknown(format!(
                "the engine is remote ({}): only its containers were checked",
                engine_address()
            ))
        }
    }
}

/// The cheap checks `up` runs before it creates anything: every published port of `services` must be free or
/// held by that service's own container (which `up` keeps or recreates). The error names each blocked port, its
/// service and its holder.
pub async fn preflight(engine: &dyn Engine, spec: &Spec, services: &[String]) -> Result<()> {
    let ports = published(spec, services);
    if ports.is_empty() {
        return Ok(());
    }
    let holders = holders(engine.running_containers().await?);
    let file = spec.file.display().to_string();
    let problems: Vec<String> = check_ports(
        &spec.project,
        &ports,
        &holders,
        // `up` holds the project lock by now: no other run of this project holds a port.
        bind_probe(engine_is_local(), None),
    )
    .iter()
    .filter_map(|c| c.error_message(&file))
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Runtime(format!(
            "{}\nnothing was created or changed",
            problems.join("\n")
        )))
    }
}

#[cfg(test)]
mod tests;
