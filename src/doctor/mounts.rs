//! The bind-mount checks: whether the container's user can use each bind-mount source as the host owns it,
//! and a warning for every host mount allowed by `allow_host_mounts`.

use std::os::unix::fs::MetadataExt;

use crate::engine::Engine;
use crate::spec::{InitAction, MountSource, Service, Spec};

use super::{Finding, Status};

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

pub(super) async fn mount_checks(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::render;

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
}
