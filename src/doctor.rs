//! `doctor`: what would stop `up` on this machine, found before anything runs — the engine and its API version,
//! every published host port (and who holds a busy one), the inotify limits against what watching this spec
//! needs, bind-mount ownership against the container's user, and the free space of the Docker root. Every
//! problem comes with the command that fixes it. `preflight` is the cheap subset `up` runs before it creates
//! anything: the published ports.
//!
//! The decisions are pure functions ([`check_ports`], [`inotify_finding`], [`mount_finding`],
//! [`disk_finding`]) tested without an engine; [`doctor`] and [`preflight`] only gather the facts.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use console::Style;

use crate::engine::{Engine, RunningContainer, SystemInfo, engine_address};
use crate::error::{EXIT_OK, EXIT_RUNTIME, Error, Result};
use crate::labels;
use crate::spec::{InitAction, MountSource, PortMapping, Protocol, Service, Spec};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Not checked, and why.
    Skip,
    /// `up` works, but something is likely to bite.
    Warn,
    /// `up` would fail.
    Fail,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }

    fn style(self) -> Style {
        let s = Style::new().force_styling(true);
        match self {
            Status::Ok => s.green(),
            Status::Skip => s.dim(),
            Status::Warn => s.yellow(),
            Status::Fail => s.red().bold(),
        }
    }
}

/// One line of `doctor`: a check's outcome and, when it is not ok, the commands that fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Outcome.
    pub status: Status,
    /// Which check: `engine`, `port`, `inotify`, `mount`, `disk`.
    pub check: &'static str,
    /// What was found.
    pub text: String,
    /// What to run or change, one action per entry.
    pub fix: Vec<String>,
}

impl Finding {
    fn new(status: Status, check: &'static str, text: impl Into<String>) -> Self {
        Finding {
            status,
            check,
            text: text.into(),
            fix: Vec::new(),
        }
    }

    fn fix(mut self, action: impl Into<String>) -> Self {
        self.fix.push(action.into());
        self
    }
}

/// Width of the mark and check columns, so fix lines line up under the text.
const MARK_WIDTH: usize = 4;
const CHECK_WIDTH: usize = 7;

/// `ok   port    127.0.0.1:5001 (ipfs): free`, then one indented `fix:` line per action.
pub fn render(f: &Finding, color: bool) -> String {
    let mark = format!("{:<MARK_WIDTH$}", f.status.mark());
    let mark = if color {
        f.status.style().apply_to(mark).to_string()
    } else {
        mark
    };
    let mut out = format!("{mark} {:<CHECK_WIDTH$} {}\n", f.check, f.text);
    for action in &f.fix {
        out.push_str(&format!(
            "{:indent$}fix: {action}\n",
            "",
            indent = MARK_WIDTH + CHECK_WIDTH + 2
        ));
    }
    out
}

/// The last line: counts of failures and warnings.
pub fn summary(findings: &[Finding]) -> String {
    let fails = findings.iter().filter(|f| f.status == Status::Fail).count();
    let warns = findings.iter().filter(|f| f.status == Status::Warn).count();
    match (fails, warns) {
        (0, 0) => "doctor: no problems found".to_string(),
        (0, w) => format!("doctor: no failures, {w} warning(s)"),
        (f, w) => format!(
            "doctor: {f} failure(s), {w} warning(s); `up` would fail until the FAIL lines are fixed"
        ),
    }
}

// ---- ports ----

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
    /// `dev.pinshare.spec-file` label: the spec its `up` ran from.
    pub spec_file: Option<String>,
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
                spec_file: get(labels::SPEC_FILE),
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
}

/// Binds the mapping's host address and port (TCP or UDP) and releases it at once.
pub fn probe_bind(m: &PortMapping) -> Bind {
    let addr = SocketAddr::new(m.host_ip, m.host_port);
    let bound = match m.protocol {
        Protocol::Tcp => TcpListener::bind(addr).map(drop),
        Protocol::Udp => UdpSocket::bind(addr).map(drop),
    };
    match bound {
        Ok(()) => Bind::Free,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Bind::InUse(crate::port_owner::owner(m))
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
        /// The spec that project's `up` ran from, when its containers say.
        spec_file: Option<String>,
    },
    /// A container pinshare-dev did not create.
    Foreign {
        /// Container name.
        container: String,
    },
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
                            spec_file: h.spec_file.clone(),
                        },
                        (None, _) => Verdict::Foreign { container },
                    }
                }
                None => match bind(m) {
                    Bind::Free => Verdict::Free,
                    Bind::InUse(owner) => Verdict::Program(owner),
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
    pub fn blocks_up(&self) -> bool {
        !matches!(
            self.verdict,
            Verdict::Free | Verdict::Ours { .. } | Verdict::Unchecked(_)
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
            Verdict::OurOtherService { container, service } => Finding::new(
                Status::Fail,
                "port",
                format!("{at}: held by our container {container} of service {service}"),
            )
            .fix(format!("pinshare-dev -f {spec_file} down, {change}")),
            Verdict::OtherProject {
                container,
                project,
                spec_file,
            } => Finding::new(
                Status::Fail,
                "port",
                format!("{at}: held by container {container} (project {project})"),
            )
            .fix(format!(
                "stop project {project} ({}, or docker stop {container}), {change}",
                down_command(spec_file.as_deref())
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
            Verdict::Free | Verdict::Ours { .. } | Verdict::Unchecked(_) => return None,
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
            Verdict::OtherProject {
                container,
                project,
                spec_file,
            } => format!(
                "{port} is already in use by container {container} of pinshare-dev project {project}; stop that project ({}, or docker stop {container}) or {change}",
                down_command(spec_file.as_deref())
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

/// The exact `down` of another project when its containers name their spec, else where to run it.
fn down_command(spec_file: Option<&str>) -> String {
    spec_file.map_or_else(
        || "pinshare-dev down in its directory".to_string(),
        |f| {
            format!(
                "`{}`",
                crate::spec::command_for(std::path::Path::new(f), "down")
            )
        },
    )
}

/// The published ports of the given services, in the given order.
fn published(spec: &Spec, services: &[String]) -> Vec<(String, PortMapping)> {
    services
        .iter()
        .filter_map(|s| spec.services.get(s))
        .flat_map(|svc| svc.ports.iter().map(|p| (svc.name.clone(), p.clone())))
        .collect()
}

/// Whether the engine runs on this machine, so binding a port here says something about it.
fn engine_is_local() -> bool {
    engine_address().starts_with("unix://")
}

/// The bind probe, or why it cannot say anything about the engine's host.
fn bind_probe(local: bool) -> impl FnMut(&PortMapping) -> Bind {
    move |m| {
        if local {
            probe_bind(m)
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
        bind_probe(engine_is_local()),
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

// ---- inotify ----

/// inotify use of this user's programs, read from /proc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InotifyUse {
    /// Watches.
    pub watches: u64,
    /// Instances.
    pub instances: u64,
}

/// The kernel's per-user inotify limits and what is already used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InotifyState {
    /// `fs.inotify.max_user_watches`.
    pub max_watches: u64,
    /// `fs.inotify.max_user_instances`.
    pub max_instances: u64,
    /// Use by this user's other programs, when /proc tells.
    pub used: Option<InotifyUse>,
}

/// Watches a foreground `up` takes besides the source directories: the spec file's directory.
const SPEC_WATCHES: u64 = 1;
/// inotify instances a foreground `up` opens: the source watcher and the spec watcher.
const OUR_INSTANCES: u64 = 2;
/// Assumed use by other programs when /proc cannot tell (editors, IDEs, desktop indexers).
const OTHERS_MARGIN: u64 = 8192;
/// The usual recommendation (IDEs, webpack, watchexec all suggest it).
const RECOMMENDED_WATCHES: u64 = 524_288;
/// Recommended instance limit.
const RECOMMENDED_INSTANCES: u64 = 1024;
/// Where a persistent setting goes.
const SYSCTL_FILE: &str = "/etc/sysctl.d/60-inotify.conf";

fn sysctl_fix(key: &str, value: u64) -> [String; 2] {
    [
        format!("sudo sysctl fs.inotify.{key}={value}"),
        format!(
            "echo fs.inotify.{key}={value} | sudo tee -a {SYSCTL_FILE}   # keeps it after a reboot"
        ),
    ]
}

/// Compares what watching needs (`directories` of this spec, plus the spec file, plus what other programs use)
/// with the limits: above the limit fails, above half of it warns.
pub fn inotify_finding(directories: usize, state: InotifyState) -> Finding {
    let ours = u64::try_from(directories).unwrap_or(u64::MAX) + SPEC_WATCHES;
    let (others, others_text) = match state.used {
        Some(u) => (
            u.watches,
            format!("{} in use by this user's other programs", u.watches),
        ),
        None => (
            OTHERS_MARGIN,
            format!("a margin of {OTHERS_MARGIN} for other programs"),
        ),
    };
    let need = ours.saturating_add(others);
    let instances_used = state.used.map_or(0, |u| u.instances);
    let instances_need = instances_used + OUR_INSTANCES;
    let text = format!(
        "{directories} directories to watch (+{SPEC_WATCHES} for the spec) and {others_text}: {need} of fs.inotify.max_user_watches {}; instances {instances_need} of {}",
        state.max_watches, state.max_instances
    );
    let status = |n: u64, max: u64| {
        if n > max {
            Status::Fail
        } else if n.saturating_mul(2) > max {
            Status::Warn
        } else {
            Status::Ok
        }
    };
    let watches = status(need, state.max_watches);
    let instances = status(instances_need, state.max_instances);
    let mut f = Finding::new(watches.max(instances), "inotify", text);
    if watches != Status::Ok {
        let value = RECOMMENDED_WATCHES.max(need.saturating_mul(2).next_power_of_two());
        for a in sysctl_fix("max_user_watches", value) {
            f = f.fix(a);
        }
    }
    if instances != Status::Ok {
        let value = RECOMMENDED_INSTANCES.max(instances_need.saturating_mul(2).next_power_of_two());
        for a in sysctl_fix("max_user_instances", value) {
            f = f.fix(a);
        }
    }
    f
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Counts the inotify instances and watches of this user's processes (other than this one) from /proc. Processes
/// whose descriptors cannot be read are left out.
fn inotify_use() -> Option<InotifyUse> {
    let me = std::fs::metadata("/proc/self").ok()?.uid();
    let own = std::process::id().to_string();
    let mut used = InotifyUse::default();
    for p in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str() else { continue };
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if p.metadata().map(|m| m.uid()).ok() != Some(me) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:inotify") {
                used.instances += 1;
                let info = p.path().join("fdinfo").join(fd.file_name());
                if let Ok(text) = std::fs::read_to_string(info) {
                    let n = text
                        .lines()
                        .filter(|l| l.starts_with("inotify wd:"))
                        .count();
                    used.watches += u64::try_from(n).unwrap_or(0);
                }
            }
        }
    }
    Some(used)
}

fn inotify_check(spec: &Spec) -> Finding {
    let (Some(max_watches), Some(max_instances)) = (
        read_number("/proc/sys/fs/inotify/max_user_watches"),
        read_number("/proc/sys/fs/inotify/max_user_instances"),
    ) else {
        return Finding::new(
            Status::Skip,
            "inotify",
            "skipped: no /proc/sys/fs/inotify (not Linux); the platform's file watcher has no such limit",
        );
    };
    let directories = crate::watch::Rules::new(spec).directories().len();
    inotify_finding(
        directories,
        InotifyState {
            max_watches,
            max_instances,
            used: inotify_use(),
        },
    )
}

// ---- bind mounts ----

/// Whom a container runs as, from a `user` string (the service's or the image's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    /// Numeric ids; the group is unknown when not written.
    Ids {
        /// uid
        uid: u32,
        /// gid
        gid: Option<u32>,
    },
    /// A user name only the image's /etc/passwd resolves.
    Name(String),
}

/// `""` and `root` → 0:0; `1000` → uid 1000; `1000:100`; `ipfs` → a name.
pub fn parse_user(user: &str) -> RunAs {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let gid = g.and_then(|g| if g == "root" { Some(0) } else { g.parse().ok() });
    match u {
        "" | "root" => RunAs::Ids {
            uid: 0,
            gid: gid.or(Some(0)),
        },
        _ => match u.parse() {
            Ok(uid) => RunAs::Ids { uid, gid },
            Err(_) => RunAs::Name(user.to_string()),
        },
    }
}

/// Owner and mode of a bind-mount source on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostOwner {
    /// uid
    pub uid: u32,
    /// gid
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// A directory (needs `x` to be entered).
    pub is_dir: bool,
}

/// The user a service's container runs as, or why it is not known here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerUser {
    /// Known: the ids and where they come from (`service user 1000`, `image user 1000:100`).
    Known(RunAs, String),
    /// Not known, and why.
    Unknown(String),
}

/// One bind mount of one service, with what the host and the engine say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFacts {
    /// Service.
    pub service: String,
    /// Absolute host path.
    pub path: String,
    /// Path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Owner and mode; `None` when the path does not exist.
    pub owner: Option<HostOwner>,
    /// Whom the container runs as.
    pub user: ContainerUser,
}

/// Whether `uid`/`gid` may use a path with `owner` as the mount needs (read, or read and write; `x` on a
/// directory). As the kernel does: the owner class if the uid matches, else the group class, else other.
fn can_use(owner: HostOwner, uid: u32, gid: Option<u32>, write: bool) -> bool {
    if uid == 0 {
        return true;
    }
    let mut need = 0o4;
    if write {
        need |= 0o2;
    }
    if owner.is_dir {
        need |= 0o1;
    }
    let shift = if owner.uid == uid {
        6
    } else if gid == Some(owner.gid) {
        3
    } else {
        0
    };
    (owner.mode >> shift) & need == need
}

/// Whether the container's user can use a bind-mount source; otherwise the `chown` (or `chmod`) that fixes it.
pub fn mount_finding(m: &MountFacts) -> Finding {
    let at = format!("{} → {} ({})", m.path, m.target, m.service);
    let Some(owner) = m.owner else {
        // Mounts of type bind are refused when the source is missing (unlike `-v`, which creates it as root).
        return Finding::new(
            Status::Fail,
            "mount",
            format!("{at}: does not exist; the engine refuses a missing bind-mount source"),
        )
        .fix(format!("mkdir -p {}", m.path));
    };
    let owned = format!(
        "owned by {}:{} (mode {:03o})",
        owner.uid,
        owner.gid,
        owner.mode & 0o777
    );
    let (uid, gid, from) = match &m.user {
        ContainerUser::Unknown(why) => {
            return Finding::new(Status::Skip, "mount", format!("{at}: {owned}; {why}"));
        }
        ContainerUser::Known(RunAs::Name(name), from) => {
            return Finding::new(
                Status::Skip,
                "mount",
                format!(
                    "{at}: {owned}; the container runs as `{name}` ({from}), a name whose uid is only known inside the image"
                ),
            )
            .fix(format!(
                "set `user = \"UID:GID\"` on service {} to have it checked",
                m.service
            ));
        }
        ContainerUser::Known(RunAs::Ids { uid, gid }, from) => (*uid, *gid, from),
    };
    let runs_as = match gid {
        Some(g) => format!("{uid}:{g}"),
        None => uid.to_string(),
    };
    let need = if m.read_only { "read" } else { "write" };
    if can_use(owner, uid, gid, !m.read_only) {
        return Finding::new(
            Status::Ok,
            "mount",
            format!("{at}: {owned}; the container runs as {runs_as} ({from}) and can {need} it"),
        );
    }
    let f = Finding::new(
        Status::Warn,
        "mount",
        format!("{at}: {owned}; the container runs as {runs_as} ({from}) and cannot {need} it"),
    );
    if owner.uid == uid {
        let bits = match (m.read_only, owner.is_dir) {
            (true, true) => "u+rX",
            (true, false) => "u+r",
            (false, _) => "u+rwX",
        };
        f.fix(format!("chmod -R {bits} {}", m.path))
    } else {
        f.fix(format!("sudo chown -R {runs_as} {}", m.path))
    }
}

/// Whom the service's container runs as: its `user`, else the image's; a kubo service's `kubo_config` uid
/// resolves kubo's `ipfs` user name.
async fn container_user(engine: Option<&dyn Engine>, svc: &Service) -> ContainerUser {
    let kubo = svc.init.iter().find_map(|s| match &s.action {
        InitAction::KuboConfig { uid, gid, .. } => Some((*uid, *gid)),
        InitAction::Command(_) => None,
    });
    let resolve = |user: &str, from: String| match (parse_user(user), kubo) {
        (RunAs::Name(n), Some((uid, gid))) => ContainerUser::Known(
            RunAs::Ids {
                uid,
                gid: Some(gid),
            },
            format!("{from} `{n}`, kubo's uid"),
        ),
        (r, _) => ContainerUser::Known(r, from),
    };
    if let Some(u) = &svc.user {
        return resolve(u, format!("service user {u}"));
    }
    let reference = svc.image.reference();
    let Some(engine) = engine else {
        return ContainerUser::Unknown(format!(
            "the user of image {reference} is unknown (engine unreachable)"
        ));
    };
    match engine.inspect_image(reference).await {
        Ok(Some(img)) => {
            let u = img.user;
            let shown = if u.is_empty() { "root" } else { u.as_str() };
            resolve(&u, format!("image user {shown}"))
        }
        Ok(None) => ContainerUser::Unknown(format!(
            "image {reference} is not present locally, so its user is unknown; run doctor again after up has pulled or built it"
        )),
        Err(e) => ContainerUser::Unknown(e.to_string()),
    }
}

/// Why host ownership says nothing about the container's access: the engine maps container uids to other host
/// uids (rootless Docker, userns-remap), as its `SecurityOptions` tell.
pub fn id_remapping(security_options: &[String]) -> Option<String> {
    let names: Vec<&str> = security_options
        .iter()
        .filter_map(|o| o.split(',').find_map(|kv| kv.strip_prefix("name=")))
        .collect();
    ["rootless", "userns"]
        .into_iter()
        .find(|n| names.contains(n))
        .map(|n| {
            format!(
                "the engine remaps user ids ({n}), so host ownership cannot be compared with the container's uid"
            )
        })
}

async fn mount_checks(
    engine: Option<&dyn Engine>,
    remapped: Option<&str>,
    spec: &Spec,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for name in &spec.order {
        let svc = &spec.services[name];
        let binds: Vec<_> = svc
            .volumes
            .iter()
            .filter_map(|v| match &v.source {
                MountSource::Bind { path } => Some((path.clone(), v)),
                MountSource::Volume { .. } => None,
            })
            .collect();
        if binds.is_empty() {
            continue;
        }
        let user = match remapped {
            Some(why) => ContainerUser::Unknown(why.to_string()),
            None => container_user(engine, svc).await,
        };
        for (path, v) in binds {
            let owner = std::fs::metadata(&path).ok().map(|m| HostOwner {
                uid: m.uid(),
                gid: m.gid(),
                mode: m.mode() & 0o7777,
                is_dir: m.is_dir(),
            });
            out.push(mount_finding(&MountFacts {
                service: name.clone(),
                path,
                target: v.target.clone(),
                read_only: v.read_only,
                owner,
                user: user.clone(),
            }));
        }
    }
    if out.is_empty() {
        out.push(Finding::new(Status::Ok, "mount", "no bind mounts"));
    }
    out
}

/// One warning per bind mount that hands a container part of the host and was allowed by `allow_host_mounts`:
/// the spec says it is wanted, but it should still be seen every time someone looks.
pub fn host_mount_findings(spec: &Spec) -> Vec<Finding> {
    spec.order
        .iter()
        .flat_map(|name| {
            spec.services[name].host_mounts.iter().map(move |m| {
                Finding::new(
                    Status::Warn,
                    "mount",
                    format!("{name}: {} (allowed by allow_host_mounts)", m.describe()),
                )
                .fix(format!(
                    "unless the container really needs it, remove it from `volumes` and `allow_host_mounts` in [services.{name}]"
                ))
            })
        })
        .collect()
}

// ---- disk ----

const GIB: u64 = 1 << 30;
/// Below this, builds and kubo's repo fail: FAIL.
const DISK_FAIL: u64 = GIB;
/// Below this, warn.
const DISK_WARN: u64 = 5 * GIB;

#[allow(clippy::cast_precision_loss)]
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

/// Free space of the Docker root: `space` is (available, total) bytes, or why it was not measured; `counts`
/// describes the engine's images and containers.
pub fn disk_finding(
    root: &str,
    space: std::result::Result<(u64, u64), String>,
    counts: &str,
) -> Finding {
    let (free, total) = match space {
        Ok(s) => s,
        Err(why) => return Finding::new(Status::Skip, "disk", format!("{root}: {why}{counts}")),
    };
    let text = format!("{root}: {} free of {}{counts}", gib(free), gib(total));
    let status = if free < DISK_FAIL {
        Status::Fail
    } else if free < DISK_WARN {
        Status::Warn
    } else {
        Status::Ok
    };
    let f = Finding::new(status, "disk", text);
    if status == Status::Ok {
        f
    } else {
        f.fix(format!(
            "free space on the filesystem of {root}: `docker system df` shows Docker's share, `docker image prune` removes dangling images"
        ))
    }
}

fn disk_check(info: &SystemInfo) -> Finding {
    let root = info.root_dir.clone().unwrap_or_default();
    let counts = match (info.images, info.containers, info.containers_running) {
        (Some(i), Some(c), Some(r)) => {
            format!(" ({i} images, {c} containers of which {r} running)")
        }
        _ => String::new(),
    };
    let space = if root.is_empty() {
        Err("the engine did not say where its root directory is".to_string())
    } else if !engine_is_local() || !Path::new(&root).is_dir() {
        Err(format!(
            "not on this machine (engine {}): skipped",
            engine_address()
        ))
    } else {
        rustix::fs::statvfs(root.as_str())
            .map(|s| {
                (
                    s.f_bavail.saturating_mul(s.f_frsize),
                    s.f_blocks.saturating_mul(s.f_frsize),
                )
            })
            .map_err(|e| format!("statvfs: {e}"))
    };
    disk_finding(&root, space, &counts)
}

// ---- engine and the whole run ----

async fn engine_check() -> (Finding, Option<std::sync::Arc<dyn Engine>>) {
    let addr = engine_address();
    let engine = match crate::engine::connect().await {
        Ok(e) => e,
        Err(e) => {
            // The connect error carries its own hint; the fix line says it as commands.
            let why = e
                .message
                .split(" — is Docker running?")
                .next()
                .unwrap_or_default()
                .to_string();
            return (
                Finding::new(Status::Fail, "engine", format!("{addr}: unreachable: {why}"))
                    .fix("start Docker (sudo systemctl start docker)")
                    .fix("or point DOCKER_HOST at a running engine, e.g. DOCKER_HOST=unix:///run/user/$(id -u)/docker.sock for a rootless one"),
                None,
            );
        }
    };
    match engine.version().await {
        Ok((version, api)) => (
            Finding::new(
                Status::Ok,
                "engine",
                format!("{addr}: Docker {version}, API {api}"),
            ),
            Some(engine),
        ),
        Err(e) => (
            Finding::new(Status::Fail, "engine", format!("{addr}: {e}"))
                .fix("check the engine's own log (journalctl -u docker)"),
            None,
        ),
    }
}

/// Runs every check, printing one line per finding as it comes; returns 0 when nothing fails, 1 otherwise.
pub async fn doctor(spec: &Spec) -> Result<u8> {
    let color = console::colors_enabled();
    let mut all = Vec::new();
    let mut emit = |found: Vec<Finding>| {
        for f in &found {
            print!("{}", render(f, color));
        }
        all.extend(found);
    };

    let (engine_finding, engine) = engine_check().await;
    emit(vec![engine_finding]);
    if engine.is_none() {
        emit(vec![Finding::new(
            Status::Skip,
            "engine",
            "without an engine: port holders are not named, image users and the Docker root's disk space are not checked",
        )]);
    }

    let ports = published(spec, &spec.order);
    let holders = match &engine {
        Some(e) => match e.running_containers().await {
            Ok(list) => holders(list),
            Err(err) => {
                emit(vec![Finding::new(Status::Warn, "port", err.to_string())]);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let file = spec.file.display().to_string();
    let port_findings: Vec<Finding> = if ports.is_empty() {
        vec![Finding::new(Status::Ok, "port", "no published ports")]
    } else {
        check_ports(
            &spec.project,
            &ports,
            &holders,
            bind_probe(engine_is_local()),
        )
        .iter()
        .map(|c| c.finding(&file))
        .collect()
    };
    emit(port_findings);

    emit(vec![inotify_check(spec)]);
    let info = match &engine {
        Some(e) => match e.info().await {
            Ok(i) => Some(i),
            Err(err) => {
                emit(vec![Finding::new(Status::Warn, "disk", err.to_string())]);
                None
            }
        },
        None => None,
    };
    let remapped = info
        .as_ref()
        .and_then(|i| id_remapping(&i.security_options));
    emit(mount_checks(engine.as_deref(), remapped.as_deref(), spec).await);
    emit(host_mount_findings(spec));
    if let Some(i) = &info {
        emit(vec![disk_check(i)]);
    }

    println!("{}", summary(&all));
    Ok(if all.iter().any(|f| f.status == Status::Fail) {
        EXIT_RUNTIME
    } else {
        EXIT_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(ip: [u8; 4], port: u16) -> PortMapping {
        PortMapping {
            host_ip: IpAddr::from(ip),
            host_port: port,
            container_port: port,
            protocol: Protocol::Tcp,
        }
    }

    fn holder(
        container: &str,
        project: Option<&str>,
        service: Option<&str>,
        ports: &[(IpAddr, u16, Protocol)],
    ) -> Holder {
        Holder {
            container: container.into(),
            project: project.map(str::to_string),
            service: service.map(str::to_string),
            spec_file: None,
            ports: ports
                .iter()
                .map(|&(ip, port, protocol)| Published { ip, port, protocol })
                .collect(),
        }
    }

    fn wild() -> IpAddr {
        IpAddr::from([0, 0, 0, 0])
    }

    fn verdicts(ports: &[(String, PortMapping)], holders: &[Holder], bind: Bind) -> Vec<Verdict> {
        check_ports("pinshare", ports, holders, |_| bind.clone())
            .into_iter()
            .map(|c| c.verdict)
            .collect()
    }

    #[test]
    fn a_port_held_by_the_services_own_container_is_fine() {
        let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
        let h = [holder(
            "pinshare-ipfs",
            Some("pinshare"),
            Some("ipfs"),
            &[(IpAddr::from([127, 0, 0, 1]), 5001, Protocol::Tcp)],
        )];
        let checks = check_ports("pinshare", &ports, &h, |_| {
            panic!("no bind when a container holds it")
        });
        assert_eq!(
            checks[0].verdict,
            Verdict::Ours {
                container: "pinshare-ipfs".into()
            }
        );
        assert!(!checks[0].blocks_up());
        let f = checks[0].finding("pinshare.toml");
        assert_eq!(f.status, Status::Ok);
        assert_eq!(
            f.text,
            "127.0.0.1:5001 (ipfs): held by our container pinshare-ipfs (up keeps or recreates it)"
        );
        assert_eq!(checks[0].error_message("pinshare.toml"), None);
    }

    #[test]
    fn holders_are_named_by_project_or_as_foreign() {
        let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
        let on = |project: Option<&str>, service: Option<&str>| {
            [holder(
                "x",
                project,
                service,
                &[(wild(), 5001, Protocol::Tcp)],
            )]
        };
        assert_eq!(
            verdicts(&ports, &on(Some("other"), Some("ipfs")), Bind::Free),
            vec![Verdict::OtherProject {
                container: "x".into(),
                project: "other".into(),
                spec_file: None,
            }]
        );
        // Its containers name the spec their `up` ran from: the exact command, not "in its directory".
        let mut named = on(Some("other"), Some("ipfs"));
        named[0].spec_file = Some("/home/u/other/dev.toml".into());
        let c = check_ports("pinshare", &ports, &named, |_| Bind::Free);
        assert_eq!(
            c[0].finding("pinshare.toml").fix,
            vec!["stop project other (`pinshare-dev -f /home/u/other/dev.toml down`, or docker stop x), or change the port in pinshare.toml".to_string()]
        );
        assert!(
            c[0].error_message("pinshare.toml")
                .is_some_and(|m| m
                    .contains("(`pinshare-dev -f /home/u/other/dev.toml down`, or docker stop x)")),
            "{:?}",
            c[0].error_message("pinshare.toml")
        );
        assert_eq!(
            verdicts(&ports, &on(Some("pinshare"), Some("pinshare")), Bind::Free),
            vec![Verdict::OurOtherService {
                container: "x".into(),
                service: "pinshare".into()
            }]
        );
        assert_eq!(
            verdicts(&ports, &on(None, None), Bind::Free),
            vec![Verdict::Foreign {
                container: "x".into()
            }]
        );
    }

    #[test]
    fn a_busy_port_without_a_container_is_another_program() {
        let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
        let checks = check_ports("pinshare", &ports, &[], |_| Bind::InUse(None));
        assert!(checks[0].blocks_up());
        assert_eq!(
            checks[0].error_message("pinshare.toml").as_deref(),
            Some(
                "port 127.0.0.1:5001 of service ipfs is already in use by another program; free it or change the port in pinshare.toml (ss -ltnp 'sport = :5001' shows who holds it)"
            )
        );
        let f = checks[0].finding("pinshare.toml");
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.text,
            "127.0.0.1:5001 (ipfs): in use by another program (try: ss -ltnp 'sport = :5001')"
        );
    }

    #[test]
    fn a_busy_port_whose_program_is_known_names_it_instead_of_suggesting_ss() {
        let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
        let checks = check_ports("pinshare", &ports, &[], |_| {
            Bind::InUse(Some("python3 (pid 30122)".into()))
        });
        assert!(checks[0].blocks_up());
        assert_eq!(
            checks[0].error_message("pinshare.toml").as_deref(),
            Some(
                "port 127.0.0.1:5001 of service ipfs is already in use by python3 (pid 30122); stop it or change the port in pinshare.toml"
            )
        );
        let f = checks[0].finding("pinshare.toml");
        assert_eq!(
            f.text,
            "127.0.0.1:5001 (ipfs): in use by python3 (pid 30122)"
        );
        assert_eq!(
            f.fix,
            vec!["stop python3 (pid 30122), or change the port in pinshare.toml".to_string()]
        );
    }

    #[test]
    fn containers_on_other_ports_protocols_or_addresses_do_not_hold_the_port() {
        let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
        let other = |ip: IpAddr, port, proto| [holder("x", None, None, &[(ip, port, proto)])];
        let lo2 = IpAddr::from([127, 0, 0, 2]);
        let v6lo: IpAddr = "::1".parse().expect("ip");
        for h in [
            other(wild(), 5002, Protocol::Tcp),
            other(wild(), 5001, Protocol::Udp),
            other(lo2, 5001, Protocol::Tcp),
            other(v6lo, 5001, Protocol::Tcp),
        ] {
            assert_eq!(
                verdicts(&ports, &h, Bind::Free),
                vec![Verdict::Free],
                "{h:?}"
            );
        }
        // A dual-stack wildcard covers IPv4 too.
        let v6wild: IpAddr = "::".parse().expect("ip");
        assert!(matches!(
            verdicts(&ports, &other(v6wild, 5001, Protocol::Tcp), Bind::Free)[0],
            Verdict::Foreign { .. }
        ));
        // A mapping on the wildcard collides with a container on one address.
        let wild_mapping = vec![("ipfs".to_string(), tcp([0, 0, 0, 0], 5001))];
        assert!(matches!(
            verdicts(&wild_mapping, &other(lo2, 5001, Protocol::Tcp), Bind::Free)[0],
            Verdict::Foreign { .. }
        ));
    }

    #[test]
    fn unchecked_ports_do_not_block_up_but_foreign_addresses_do() {
        let ports = vec![("web".to_string(), tcp([10, 9, 8, 7], 80))];
        let c = check_ports("p", &ports, &[], |_| {
            Bind::Unknown("permission denied".into())
        });
        assert!(!c[0].blocks_up());
        assert_eq!(c[0].finding("f").status, Status::Skip);
        let c = check_ports("p", &ports, &[], |_| Bind::NotLocal("cannot assign".into()));
        assert!(c[0].blocks_up());
        assert!(
            c[0].error_message("f")
                .is_some_and(|m| m.contains("10.9.8.7 is not an address of this machine")),
            "{:?}",
            c[0].error_message("f")
        );
    }

    #[test]
    fn udp_ports_are_written_with_their_protocol() {
        let mut m = tcp([127, 0, 0, 1], 4001);
        m.protocol = Protocol::Udp;
        let c = check_ports("p", &[("ipfs".into(), m)], &[], |_| Bind::InUse(None));
        assert!(c[0].finding("f").text.starts_with(
            "127.0.0.1:4001/udp (ipfs): in use by another program (try: ss -lunp 'sport = :4001')"
        ));
    }

    #[test]
    fn binding_a_held_port_says_in_use_and_a_released_one_free() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let m = tcp([127, 0, 0, 1], port);
        // This process holds it, and may read its own descriptors: the owner is named.
        let me = format!(
            "{} (pid {})",
            std::fs::read_to_string("/proc/self/comm")
                .expect("comm")
                .trim(),
            std::process::id()
        );
        assert_eq!(probe_bind(&m), Bind::InUse(Some(me.clone())));
        drop(l);
        assert_eq!(probe_bind(&m), Bind::Free);
        let u = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut m = tcp([127, 0, 0, 1], u.local_addr().expect("addr").port());
        m.protocol = Protocol::Udp;
        assert_eq!(probe_bind(&m), Bind::InUse(Some(me)));
    }

    #[test]
    fn running_containers_become_holders() {
        use crate::engine::PublishedPort;
        let port = |ip: &str, port, udp| PublishedPort {
            ip: Some(ip.to_string()),
            port,
            udp,
        };
        let list = vec![
            RunningContainer {
                name: "pinshare-ipfs".into(),
                labels: std::collections::HashMap::from([
                    ("dev.pinshare.project".into(), "pinshare".into()),
                    ("dev.pinshare.service".into(), "ipfs".into()),
                ]),
                ports: vec![port("127.0.0.1", 5001, false), port("::", 4001, true)],
            },
            RunningContainer {
                name: "quiet".into(),
                labels: std::collections::HashMap::new(),
                ports: Vec::new(),
            },
        ];
        let h = holders(list);
        assert_eq!(h.len(), 1, "a container publishing nothing holds nothing");
        assert_eq!(h[0].container, "pinshare-ipfs");
        assert_eq!(h[0].project.as_deref(), Some("pinshare"));
        assert_eq!(h[0].service.as_deref(), Some("ipfs"));
        assert_eq!(
            h[0].ports,
            vec![
                Published {
                    ip: IpAddr::from([127, 0, 0, 1]),
                    port: 5001,
                    protocol: Protocol::Tcp
                },
                Published {
                    ip: "::".parse().expect("ip"),
                    port: 4001,
                    protocol: Protocol::Udp
                },
            ]
        );
    }

    fn state(max_watches: u64, used: Option<u64>) -> InotifyState {
        InotifyState {
            max_watches,
            max_instances: 128,
            used: used.map(|watches| InotifyUse {
                watches,
                instances: 4,
            }),
        }
    }

    #[test]
    fn inotify_within_half_the_limit_is_ok() {
        let f = inotify_finding(40, state(8192, Some(1000)));
        assert_eq!(f.status, Status::Ok, "{f:?}");
        assert_eq!(
            f.text,
            "40 directories to watch (+1 for the spec) and 1000 in use by this user's other programs: 1041 of fs.inotify.max_user_watches 8192; instances 6 of 128"
        );
        assert!(f.fix.is_empty());
    }

    #[test]
    fn inotify_above_half_warns_and_above_the_limit_fails_with_the_sysctl() {
        let f = inotify_finding(3000, state(8192, Some(2000)));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.fix,
            vec![
                "sudo sysctl fs.inotify.max_user_watches=524288".to_string(),
                "echo fs.inotify.max_user_watches=524288 | sudo tee -a /etc/sysctl.d/60-inotify.conf   # keeps it after a reboot".to_string(),
            ]
        );
        let f = inotify_finding(9000, state(8192, Some(0)));
        assert_eq!(f.status, Status::Fail);
        // A need above the usual recommendation gets a value that fits it.
        let f = inotify_finding(400_000, state(524_288, Some(0)));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(f.fix[0], "sudo sysctl fs.inotify.max_user_watches=1048576");
    }

    #[test]
    fn inotify_without_proc_assumes_a_margin_and_counts_instances() {
        let f = inotify_finding(10, state(8192, None));
        assert!(
            f.text.contains("a margin of 8192 for other programs"),
            "{}",
            f.text
        );
        assert_eq!(f.status, Status::Fail, "8203 watches exceed 8192");
        let f = inotify_finding(
            1,
            InotifyState {
                max_watches: 1 << 20,
                max_instances: 128,
                used: Some(InotifyUse {
                    watches: 0,
                    instances: 127,
                }),
            },
        );
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.fix[0], "sudo sysctl fs.inotify.max_user_instances=1024");
    }

    #[test]
    fn users_parse_into_ids_or_names() {
        assert_eq!(
            parse_user(""),
            RunAs::Ids {
                uid: 0,
                gid: Some(0)
            }
        );
        assert_eq!(
            parse_user("root"),
            RunAs::Ids {
                uid: 0,
                gid: Some(0)
            }
        );
        assert_eq!(
            parse_user("1000"),
            RunAs::Ids {
                uid: 1000,
                gid: None
            }
        );
        assert_eq!(
            parse_user("1000:100"),
            RunAs::Ids {
                uid: 1000,
                gid: Some(100)
            }
        );
        assert_eq!(
            parse_user("1000:users"),
            RunAs::Ids {
                uid: 1000,
                gid: None
            }
        );
        assert_eq!(parse_user("ipfs"), RunAs::Name("ipfs".into()));
    }

    #[test]
    fn every_allowed_host_mount_is_a_warning_with_its_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pinshare.toml");
        let text = "[services.app]\nimage = \"app:1\"\nvolumes = [\"/etc:/host/etc:ro\", \"/proc:/host/proc:ro\"]\nallow_host_mounts = [\"/etc\", \"/proc\"]\n[services.db]\nimage = \"db:1\"\n";
        let spec = crate::spec::parse(&file, text).expect("valid with the opt-in");
        let lines: Vec<String> = host_mount_findings(&spec)
            .iter()
            .map(|f| render(f, false))
            .collect();
        assert_eq!(
            lines,
            [
                "warn mount   app: /etc:/host/etc:ro is the host's /etc: its configuration, password hashes and keys (allowed by allow_host_mounts)\n             fix: unless the container really needs it, remove it from `volumes` and `allow_host_mounts` in [services.app]\n",
                "warn mount   app: /proc:/host/proc:ro is the host's /proc: the host's processes, and through /proc/1/root its whole filesystem (allowed by allow_host_mounts)\n             fix: unless the container really needs it, remove it from `volumes` and `allow_host_mounts` in [services.app]\n",
            ]
        );
    }

    fn mount(owner: Option<HostOwner>, user: &str, read_only: bool) -> MountFacts {
        MountFacts {
            service: "ipfs".into(),
            path: "/src/data".into(),
            target: "/data/ipfs".into(),
            read_only,
            owner,
            user: ContainerUser::Known(parse_user(user), format!("image user {user}")),
        }
    }

    fn dir(uid: u32, gid: u32, mode: u32) -> Option<HostOwner> {
        Some(HostOwner {
            uid,
            gid,
            mode,
            is_dir: true,
        })
    }

    #[test]
    fn a_directory_the_container_user_cannot_write_gets_the_chown() {
        let f = mount_finding(&mount(dir(0, 0, 0o755), "1000:100", false));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.text,
            "/src/data → /data/ipfs (ipfs): owned by 0:0 (mode 755); the container runs as 1000:100 (image user 1000:100) and cannot write it"
        );
        assert_eq!(f.fix, vec!["sudo chown -R 1000:100 /src/data".to_string()]);
        let f = mount_finding(&mount(dir(0, 0, 0o755), "1000", false));
        assert_eq!(f.fix, vec!["sudo chown -R 1000 /src/data".to_string()]);
    }

    #[test]
    fn owner_group_other_and_root_access_follow_the_kernel() {
        let ok = |owner, user, ro| mount_finding(&mount(owner, user, ro)).status == Status::Ok;
        assert!(ok(dir(1000, 1000, 0o755), "1000:1000", false), "owner");
        assert!(ok(dir(0, 100, 0o775), "1000:100", false), "group-writable");
        assert!(ok(dir(0, 0, 0o777), "1000", false), "world-writable");
        assert!(
            ok(dir(0, 0, 0o755), "1000", true),
            "read-only needs r-x only"
        );
        assert!(ok(dir(1000, 0, 0o700), "", false), "root");
        assert!(
            !ok(dir(0, 100, 0o755), "1000:100", false),
            "group without w"
        );
        assert!(!ok(dir(0, 0, 0o750), "1000", true), "other without r");
        let f = mount_finding(&mount(dir(1000, 1000, 0o555), "1000", false));
        assert_eq!(
            f.fix,
            vec!["chmod -R u+rwX /src/data".to_string()],
            "owner lacks w: chmod, not chown"
        );
    }

    #[test]
    fn missing_sources_and_unknown_users_are_said_plainly() {
        let f = mount_finding(&mount(None, "1000", false));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.fix, vec!["mkdir -p /src/data".to_string()]);
        let f = mount_finding(&mount(dir(0, 0, 0o755), "ipfs", false));
        assert_eq!(f.status, Status::Skip);
        assert!(f.text.contains("runs as `ipfs`"), "{}", f.text);
    }

    #[test]
    fn rootless_and_userns_engines_are_recognised() {
        let opts = |o: &[&str]| o.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(
            id_remapping(&opts(&["name=apparmor", "name=seccomp,profile=default"])),
            None
        );
        assert!(
            id_remapping(&opts(&["name=seccomp,profile=default", "name=rootless"]))
                .is_some_and(|w| w.contains("(rootless)"))
        );
        assert!(id_remapping(&opts(&["name=userns"])).is_some_and(|w| w.contains("(userns)")));
    }

    #[test]
    fn disk_space_thresholds() {
        assert_eq!(
            disk_finding("/var/lib/docker", Ok((10 * GIB, 100 * GIB)), "").status,
            Status::Ok
        );
        assert_eq!(
            disk_finding("/d", Ok((2 * GIB, 100 * GIB)), "").status,
            Status::Warn
        );
        let f = disk_finding("/d", Ok((GIB / 2, 100 * GIB)), " (3 images)");
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.text, "/d: 0.5 GiB free of 100.0 GiB (3 images)");
        assert_eq!(
            disk_finding("/d", Err("remote".into()), "").status,
            Status::Skip
        );
    }

    #[test]
    fn findings_render_with_aligned_fix_lines_and_a_summary() {
        let f = Finding::new(Status::Fail, "port", "127.0.0.1:5001 (ipfs): in use").fix("stop it");
        assert_eq!(
            render(&f, false),
            "FAIL port    127.0.0.1:5001 (ipfs): in use\n             fix: stop it\n"
        );
        assert_eq!(
            render(&Finding::new(Status::Ok, "engine", "x"), false),
            "ok   engine  x\n"
        );
        assert_eq!(
            summary(&[f, Finding::new(Status::Warn, "disk", "y")]),
            "doctor: 1 failure(s), 1 warning(s); `up` would fail until the FAIL lines are fixed"
        );
    }
}
