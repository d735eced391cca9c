//! `start_ipfs`: the kubo image's entrypoint, `tini -- start_ipfs` (kubo v0.42.0 `Dockerfile`,
//! `bin/container_daemon`, `bin/container_init_run`; identical at v0.39.0). This image has no tini
//! or gosu, so this file does their part too: as PID 1 it forwards signals to its one child and
//! reaps (tini); as root it changes to the `ipfs` user (gosu). Everything after that is the
//! script's steps, in order, each failing the start like `set -e` does.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Gid, Pid, Uid, geteuid, setgid, setgroups, setuid};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use standin_common::goerr;

use crate::sys::{elog_line, log_line};

/// `adduser -D -h $IPFS_PATH -u 1000 -G users ipfs` in kubo's Dockerfile.
const IPFS_UID: u32 = 1000;
const USERS_GID: u32 = 100;

/// The name the child runs under: kubo's image copies `bin/container_daemon` to `start_ipfs`, and
/// this binary's `main` sends this name to [`container_daemon`].
pub const CONTAINER_DAEMON: &str = "container_daemon";

pub fn start_ipfs(args: Vec<String>) -> ! {
    // tini: run the entrypoint as a child, pass signals on, reap every orphan, exit as it exits.
    // The handlers go in first (tini blocks the signals before it spawns), so a signal that comes
    // while the child starts waits for it instead of being lost.
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])
            .unwrap_or_else(|e| fail_start(&format!("start_ipfs: signal handlers: {e}")));
    let exe = std::env::current_exe().unwrap_or_else(|_| "/usr/local/bin/start_ipfs".into());
    // Reaped below by waitpid(-1), with every orphan, not through `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(exe)
        .arg0(CONTAINER_DAEMON)
        .args(&args)
        .spawn()
        .unwrap_or_else(|e| fail_start(&format!("start_ipfs: {e}")));
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if let Ok(sig) = Signal::try_from(sig) {
                let _ = kill(pid, sig);
            }
        }
    });
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => std::process::exit(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => std::process::exit(128 + sig as i32),
            Err(nix::errno::Errno::ECHILD) => std::process::exit(1),
            // An orphan reaped, or EINTR.
            _ => {}
        }
    }
}

fn fail_start(msg: &str) -> ! {
    elog_line(msg);
    std::process::exit(1);
}

/// What the script's `gosu` and `unset` changed in the environment of the commands it runs (the
/// process's own environment stays as it started: changing it is not thread-safe).
#[derive(Default)]
struct Env {
    set: Vec<(&'static str, String)>,
    unset: Vec<&'static str>,
}

impl Env {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        for (k, v) in &self.set {
            c.env(k, v);
        }
        for k in &self.unset {
            c.env_remove(k);
        }
        c
    }

    /// Runs `ipfs ARGS` like the script's plain command lines: inherits stdio; failure ends the start.
    fn ipfs(&self, args: &[&str]) {
        ipfs_status(self.command("ipfs").args(args).status());
    }
}

fn ipfs_status(status: std::io::Result<std::process::ExitStatus>) {
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => fail_start(&format!("start_ipfs: ipfs: {e}")),
    }
}

/// kubo v0.42.0 bin/container_daemon, step by step.
pub fn container_daemon(args: Vec<String>) -> ! {
    let repo = std::env::var("IPFS_PATH").unwrap_or_default();
    let repo_path = Path::new(&repo);
    let mut env = Env::default();
    if geteuid().is_root() {
        log_line("Changing user to ipfs");
        // `gosu ipfs test -w "$repo" || chown -R -- ipfs "$repo"`
        if !writable_as_ipfs(&repo)
            && let Err(e) = chown_tree(repo_path)
        {
            fail_start(&format!("chown: {e}"));
        }
        drop_to_ipfs(&mut env);
    }
    env.ipfs(&["version"]);
    if repo_path.join("config").exists() {
        log_line(&format!("Found IPFS fs-repo at {repo}"));
    } else {
        let profile = std::env::var("IPFS_PROFILE").unwrap_or_default();
        let flag = format!("--profile={profile}");
        if profile.is_empty() {
            env.ipfs(&["init"]);
        } else {
            env.ipfs(&["init", &flag]);
        }
        env.ipfs(&["config", "Addresses.API", "/ip4/0.0.0.0/tcp/5001"]);
        env.ipfs(&["config", "Addresses.Gateway", "/ip4/0.0.0.0/tcp/8080"]);
        swarm_key(repo_path, &mut env);
    }
    // `find /container-init.d -maxdepth 1 \( -type f -o -type l \) -iname '*.sh' -print0 | sort -z
    //  | xargs -n 1 -0 -r container_init_run`, through the image's own shell and tools.
    let status = env
        .command("/bin/sh")
        .arg("-c")
        .arg("find /container-init.d -maxdepth 1 \\( -type f -o -type l \\) -iname '*.sh' -print0 | sort -z | xargs -n 1 -0 -r container_init_run")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => fail_start(&format!("start_ipfs: /bin/sh: {e}")),
    }
    // `exec ipfs "$@"`
    let err = env.command("ipfs").args(&args).exec();
    fail_start(&format!("start_ipfs: exec ipfs: {err}"))
}

/// The swarm-key part of the first start.
fn swarm_key(repo: &Path, env: &mut Env) {
    let dest = repo.join("swarm.key");
    if let Some(key) = std::env::var("IPFS_SWARM_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        log_line("Copying swarm key from variable...");
        if let Err(e) = std::fs::write(&dest, format!("{key}\n")) {
            fail_start(&format!(
                "sh: can't create {}: {}",
                dest.display(),
                goerr::reason(&e)
            ));
        }
        set_mode(&dest, 0o400);
    }
    env.unset.push("IPFS_SWARM_KEY");
    if let Some(src) = std::env::var("IPFS_SWARM_KEY_FILE")
        .ok()
        .filter(|k| !k.is_empty())
    {
        log_line("Copying swarm key from file...");
        // `install -m 0400 SRC DEST`: replaces DEST (even a read-only one) with a copy.
        let _ = std::fs::remove_file(&dest);
        if let Err(e) = std::fs::copy(&src, &dest) {
            fail_start(&format!(
                "install: can't open '{src}': {}",
                goerr::reason(&e)
            ));
        }
        set_mode(&dest, 0o400);
    }
    env.unset.push("IPFS_SWARM_KEY_FILE");
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

/// `gosu ipfs test -w DIR`: the image's own `test`, run as ipfs (uid 1000, gid 100).
fn writable_as_ipfs(dir: &str) -> bool {
    Command::new("test")
        .args(["-w", dir])
        .uid(IPFS_UID)
        .gid(USERS_GID)
        .status()
        .is_ok_and(|s| s.success())
}

/// `chown -R -- ipfs DIR`: the owner only (the group stays), symlinks themselves, not followed.
fn chown_tree(p: &Path) -> Result<(), String> {
    let md = std::fs::symlink_metadata(p)
        .map_err(|e| format!("{}: {}", p.display(), goerr::reason(&e)))?;
    std::os::unix::fs::lchown(p, Some(IPFS_UID), None)
        .map_err(|e| format!("{}: {}", p.display(), goerr::reason(&e)))?;
    if md.is_dir() {
        let rd =
            std::fs::read_dir(p).map_err(|e| format!("{}: {}", p.display(), goerr::reason(&e)))?;
        for e in rd.flatten() {
            chown_tree(&e.path())?;
        }
    }
    Ok(())
}

/// `exec gosu ipfs "$0" "$@"`: ipfs's groups, gid and uid, and its HOME from /etc/passwd.
fn drop_to_ipfs(env: &mut Env) {
    let gid = Gid::from_raw(USERS_GID);
    if let Err(e) = setgroups(&[gid])
        .and_then(|()| setgid(gid))
        .and_then(|()| setuid(Uid::from_raw(IPFS_UID)))
    {
        fail_start(&format!(
            "error: failed switching to \"ipfs\": {}",
            std::io::Error::from(e)
        ));
    }
    let home = std::env::var("IPFS_PATH").unwrap_or_else(|_| "/data/ipfs".into());
    env.set.push(("HOME", home));
    env.set.push(("USER", "ipfs".into()));
}
