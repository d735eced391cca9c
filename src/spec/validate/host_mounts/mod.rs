//! Bind mounts that hand the host to a container, refused like `privileged` unless the service lists them in
//! `allow_host_mounts`: the engine's socket (whoever controls the container is root on the host), the host's `/`,
//! `/etc`, `/proc`, `/sys`, `/boot`, `/dev`, `/root`, `/var/lib/docker`, and the user's home directory. Read-only
//! does not make them safe — a read-only socket still takes API calls, a read-only `/etc` still shows its keys —
//! so `:ro` needs the opt-in too.
//!
//! Which paths: a listed path itself; a directory that contains one (`/var/run` holds the socket, `/home` the
//! home directory, `/var` both); anything inside `/proc`, `/sys`, `/dev`, `/boot`, `/root` and `/var/lib/docker`
//! (`/proc/1/root` is `/`; `/root` only when it is not the user's own home); any file named `docker.sock`,
//! `podman.sock` or `containerd.sock`. Inside `/etc` and the home directory, paths are fine: `/etc/localtime:ro`,
//! a project under `~/src`.
//!
//! Spellings: a source is compared lexically resolved (relative to the spec's directory, `~` expanded, `.`,
//! `..`, `//` and a trailing `/` folded) and with its symlinks resolved as far as it exists (`/var/run` is a
//! symlink to `/run` on Debian). The engine's socket is also where `DOCKER_HOST` (`unix://…`) points, and the
//! rootless, Podman, containerd and Docker Desktop sockets. `$HOME` is not a path to the spec (no variables are
//! expanded), so it is already refused as a volume name.
//!
//! This file says which paths those are; `allow.rs` settles the ones a service mounts against its
//! `allow_host_mounts`.

use std::path::{Component, Path, PathBuf};

pub(super) use allow::{Found, settle};

mod allow;

/// File names that are a container engine's API socket wherever they are.
const SOCKET_NAMES: [&str; 3] = ["docker.sock", "podman.sock", "containerd.sock"];

/// What a mount hands over, and why that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    path: PathBuf,
    what: &'static str,
    why: &'static str,
    /// Whether every path inside is refused too (not for `/`, `/etc` and the home directory).
    inside_too: bool,
}

const DOCKER_SOCKET: (&str, &str) = (
    "the Docker engine's socket",
    "whoever controls the container is root on this machine",
);
const ENGINE_SOCKET: (&str, &str) = (
    "a container engine's socket",
    "whoever controls the container controls every container of this machine",
);

/// The host directories refused as bind sources: path, what it is, why that matters, and whether every path
/// inside is refused too.
const SYSTEM_DIRS: [(&str, &str, &str, bool); 8] = [
    (
        "/",
        "the host's root directory",
        "the container could read and change every file of this machine",
        false,
    ),
    (
        "/etc",
        "the host's /etc",
        "its configuration, password hashes and keys",
        false,
    ),
    (
        "/proc",
        "the host's /proc",
        "the host's processes, and through /proc/1/root its whole filesystem",
        true,
    ),
    (
        "/sys",
        "the host's /sys",
        "the kernel's and the devices' settings",
        true,
    ),
    (
        "/boot",
        "the host's /boot",
        "the kernel and boot loader this machine starts from",
        true,
    ),
    (
        "/dev",
        "the host's /dev",
        "the host's devices, its disks included",
        true,
    ),
    (
        "/root",
        "root's home directory",
        "the keys and credentials of the host's root user",
        true,
    ),
    (
        "/var/lib/docker",
        "the Docker engine's data directory",
        "every container's and volume's files and the engine's state",
        true,
    ),
];

/// The host paths the mounts are compared with, from the environment: `HOME`, `DOCKER_HOST`, `XDG_RUNTIME_DIR`.
#[derive(Debug, Clone)]
pub(super) struct Host {
    home: Option<PathBuf>,
    listed: Vec<Listed>,
}

impl Host {
    /// This machine, as the environment describes it.
    pub(super) fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Host::new(
            var("HOME"),
            std::env::var("DOCKER_HOST").ok().as_deref(),
            var("XDG_RUNTIME_DIR"),
        )
    }

    /// The host as `home`, `DOCKER_HOST` and `XDG_RUNTIME_DIR` describe it: the engine sockets, the system
    /// directories and the home directory that bind mounts may not hand over.
    fn new(home: Option<PathBuf>, docker_host: Option<&str>, runtime_dir: Option<PathBuf>) -> Self {
        let home = home.filter(|h| h.is_absolute()).map(|h| lexical(&h));
        let mut listed = engine_sockets(home.as_deref(), docker_host, runtime_dir.as_deref());
        listed.extend(system_dirs(home.as_deref()));
        if let Some(home) = &home {
            listed.push(Listed {
                path: home.clone(),
                what: "your home directory",
                why: "your SSH keys, credentials and every other project",
                inside_too: false,
            });
        }
        Host { home, listed }
    }

    /// `~` and `~/…` as the home directory (as compose does); anything else unchanged.
    pub(super) fn expand_home(&self, written: &str) -> String {
        match (&self.home, written.strip_prefix('~')) {
            (Some(home), Some(rest)) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}{rest}", home.display())
            }
            _ => written.to_string(),
        }
    }

    /// How a resolved bind source hands the container the host, or `None` when it does not:
    /// `is the Docker engine's socket: whoever controls the container is root on this machine`.
    pub(super) fn danger(&self, source: &Path) -> Option<String> {
        let sources = forms(source);
        if let Some(name) = sources
            .iter()
            .filter_map(|s| s.file_name()?.to_str())
            .find(|n| SOCKET_NAMES.contains(n))
        {
            let (what, why) = if name == "docker.sock" {
                DOCKER_SOCKET
            } else {
                ENGINE_SOCKET
            };
            return Some(format!("is {what}: {why}"));
        }
        // The most telling relation first: `/run/docker.sock` is the socket, even though `/` contains it. The
        // source as written is tried before its symlinks are followed, so `/var/run` is named after
        // `/var/run/docker.sock` on every machine.
        let is = |l: &Listed, s: &Path| forms(&l.path).iter().any(|p| s == p);
        let inside =
            |l: &Listed, s: &Path| l.inside_too && forms(&l.path).iter().any(|p| s.starts_with(p));
        let contains = |l: &Listed, s: &Path| forms(&l.path).iter().any(|p| p.starts_with(s));
        for (relation, test) in [
            ("is", &is as &dyn Fn(&Listed, &Path) -> bool),
            ("is inside", &inside),
            ("contains", &contains),
        ] {
            for s in &sources {
                // The nearest listed path: `/var` contains `/var/lib/docker` before the socket further down.
                let hit = self
                    .listed
                    .iter()
                    .filter(|l| test(l, s))
                    .min_by_key(|l| l.path.as_os_str().len());
                if let Some(l) = hit {
                    let at = if relation == "contains" {
                        format!(" ({})", l.path.display())
                    } else {
                        String::new()
                    };
                    return Some(format!("{relation} {}{at}: {}", l.what, l.why));
                }
            }
        }
        None
    }
}

/// The container engines' API sockets, each refused with everything inside: Docker's and Podman's and
/// containerd's usual places, where `DOCKER_HOST` (`unix://…`) points, the rootless ones under the runtime
/// directory and Docker Desktop's under the home directory.
fn engine_sockets(
    home: Option<&Path>,
    docker_host: Option<&str>,
    runtime_dir: Option<&Path>,
) -> Vec<Listed> {
    let mut listed = Vec::new();
    let mut socket = |path: PathBuf, (what, why): (&'static str, &'static str)| {
        listed.push(Listed {
            path: lexical(&path),
            what,
            why,
            inside_too: true,
        });
    };
    socket("/var/run/docker.sock".into(), DOCKER_SOCKET);
    socket("/run/docker.sock".into(), DOCKER_SOCKET);
    if let Some(path) = docker_host.and_then(|h| h.strip_prefix("unix://")) {
        socket(
            path.into(),
            (
                "the Docker engine's socket (DOCKER_HOST names it)",
                DOCKER_SOCKET.1,
            ),
        );
    }
    if let Some(run) = runtime_dir {
        socket(run.join("docker.sock"), DOCKER_SOCKET);
        socket(run.join("podman/podman.sock"), ENGINE_SOCKET);
    }
    if let Some(home) = home {
        // Docker Desktop's sockets.
        socket(home.join(".docker/run/docker.sock"), DOCKER_SOCKET);
        socket(home.join(".docker/desktop/docker.sock"), DOCKER_SOCKET);
    }
    socket("/run/podman/podman.sock".into(), ENGINE_SOCKET);
    socket("/run/containerd/containerd.sock".into(), ENGINE_SOCKET);
    listed
}

/// [`SYSTEM_DIRS`] as listed paths; `/root` is only refused itself, not what is inside, when it is `home`.
fn system_dirs(home: Option<&Path>) -> Vec<Listed> {
    SYSTEM_DIRS
        .into_iter()
        .map(|(path, what, why, inside_too)| {
            let path = PathBuf::from(path);
            // Someone who works as root keeps projects under /root: like any home, only the directory itself.
            let inside_too = inside_too && home != Some(path.as_path());
            Listed {
                path,
                what,
                why,
                inside_too,
            }
        })
        .collect()
}

/// An absolute path with `.`, `..` (never above `/`), `//` and a trailing `/` folded, without the filesystem.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A path as written and as the kernel would follow it: the longest existing prefix with its symlinks
/// resolved, the rest appended (`/var/run/docker.sock` → `/run/docker.sock`, whether the socket exists or not).
fn forms(path: &Path) -> Vec<PathBuf> {
    let lexical = lexical(path);
    let mut out = vec![lexical.clone()];
    let mut head = lexical.as_path();
    let mut tail = Vec::new();
    let real = loop {
        if let Ok(real) = head.canonicalize() {
            break Some(real);
        }
        match (head.parent(), head.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_owned());
                head = parent;
            }
            _ => break None,
        }
    };
    if let Some(mut real) = real {
        real.extend(tail.iter().rev());
        if real != lexical {
            out.push(real);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host::new(
            Some("/home/alice".into()),
            Some("unix:///tmp/engine-x/docker-engine.sock"),
            Some("/run/user/1000".into()),
        )
    }

    fn danger(p: &str) -> Option<String> {
        host().danger(&lexical(Path::new(p)))
    }

    #[test]
    fn every_spelling_of_the_socket_is_the_socket() {
        for p in [
            "/var/run/docker.sock",
            "/run/docker.sock",
            "//var/run//docker.sock",
            "/var/run/../run/docker.sock",
            "/var/./run/docker.sock/",
            "/run/user/1000/docker.sock",
            "/home/alice/.docker/run/docker.sock",
            "/somewhere/else/docker.sock",
        ] {
            let d = danger(p).unwrap_or_else(|| panic!("{p} is allowed"));
            assert!(d.starts_with("is the Docker engine's socket"), "{p}: {d}");
        }
        let named = danger("/tmp/engine-x/docker-engine.sock").unwrap_or_default();
        assert!(
            named.starts_with("is the Docker engine's socket (DOCKER_HOST names it)"),
            "{named}"
        );
        let podman = danger("/run/user/1000/podman/podman.sock").unwrap_or_default();
        assert!(
            podman.starts_with("is a container engine's socket"),
            "{podman}"
        );
    }

    #[test]
    fn a_directory_that_holds_a_listed_path_is_refused() {
        for (p, holds) in [
            ("/var/run", "/var/run/docker.sock"),
            ("/run", "/run/docker.sock"),
            ("/tmp/engine-x", "/tmp/engine-x/docker-engine.sock"),
            ("/home/alice/.docker", "/home/alice/.docker/run/docker.sock"),
            ("/var/lib", "/var/lib/docker"),
            ("/var", "/var/lib/docker"),
            ("/home", "/home/alice"),
        ] {
            let d = danger(p).unwrap_or_default();
            assert!(d.starts_with("contains "), "{p}: {d}");
            assert!(d.contains(&format!("({holds})")), "{p}: {d}");
        }
    }

    #[test]
    fn system_directories_and_home_are_refused_and_what_is_inside_some_of_them() {
        for (p, starts) in [
            ("/", "is the host's root directory"),
            ("/etc/", "is the host's /etc"),
            ("/proc", "is the host's /proc"),
            ("/proc/1/root", "is inside the host's /proc"),
            ("/sys/fs/cgroup", "is inside the host's /sys"),
            ("/boot", "is the host's /boot"),
            ("/dev/sda", "is inside the host's /dev"),
            ("/root/.ssh", "is inside root's home directory"),
            (
                "/var/lib/docker/volumes",
                "is inside the Docker engine's data",
            ),
            ("/home/alice", "is your home directory"),
            ("/home/alice/src/..", "is your home directory"),
        ] {
            let d = danger(p).unwrap_or_default();
            assert!(d.starts_with(starts), "{p}: {d}");
        }
    }

    #[test]
    fn ordinary_paths_stay_fine() {
        for p in [
            "/home/alice/src/pinshare",
            "/home/alice/src/pinshare/data",
            "/etc/localtime",
            "/etc/ssl/certs",
            "/tmp/pinshare-data",
            "/srv/data",
            "/home/bob-project",
        ] {
            assert_eq!(danger(p), None, "{p}");
        }
    }

    #[test]
    fn a_project_under_root_s_home_is_fine_when_root_is_the_user() {
        let root = Host::new(Some("/root".into()), None, None);
        assert_eq!(root.danger(Path::new("/root/src/pinshare/data")), None);
        let d = root.danger(Path::new("/root")).unwrap_or_default();
        assert!(d.starts_with("is root's home directory"), "{d}");
        assert!(
            danger("/root/src/pinshare/data").is_some(),
            "someone else's /root"
        );
    }

    #[test]
    fn home_is_expanded_only_as_a_whole_first_component() {
        let h = host();
        assert_eq!(h.expand_home("~"), "/home/alice");
        assert_eq!(h.expand_home("~/src"), "/home/alice/src");
        assert_eq!(h.expand_home("~bob/src"), "~bob/src");
        assert_eq!(h.expand_home("./~"), "./~");
    }

    #[test]
    fn parent_steps_never_climb_above_the_root() {
        assert_eq!(
            lexical(Path::new("/a/b/../../../../..")),
            PathBuf::from("/")
        );
        assert_eq!(lexical(Path::new("/a//b/./c/")), PathBuf::from("/a/b/c"));
    }

    #[test]
    fn a_symlink_is_followed_as_far_as_the_path_exists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let f = forms(&link.join("missing/file"));
        let real = real.canonicalize().expect("canonical");
        assert_eq!(f.last(), Some(&real.join("missing/file")));
        let etc = dir.path().join("etc-link");
        std::os::unix::fs::symlink("/etc", &etc).expect("symlink");
        assert!(
            host()
                .danger(&etc)
                .is_some_and(|d| d.starts_with("is the host's /etc")),
            "a symlink to /etc is /etc"
        );
    }
}
