//! `start_ipfs`: the kubo image's entrypoint, `tini -- start_ipfs` (kubo v0.42.0 `Dockerfile`,
//! `bin/container_daemon`, `bin/container_init_run`; identical at v0.39.0). This image has no tini
//! or gosu, so this file does their part too: as PID 1 it forwards signals to its one child and
//! reaps (tini); as root it changes to the `ipfs` user (gosu). Everything after that is the
//! script's steps, in order, each failing the start like `set -e` does.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::sys::{elog_line, log_line};

/// `adduser -D -h $IPFS_PATH -u 1000 -G users ipfs` in kubo's Dockerfile.
const IPFS_UID: u32 = 1000;
const USERS_GID: u32 = 100;

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

pub fn start_ipfs(args: Vec<String>) -> ! {
    // tini: run the entrypoint as a child, pass signals on, reap every orphan, exit as it exits.
    // SAFETY: fork(2) in a single-threaded process; the child only continues normal Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail_start("fork failed");
    }
    if pid == 0 {
        container_daemon(args);
    }
    CHILD.store(pid, Ordering::SeqCst);
    // SAFETY: sigaction(2) with a handler that only calls kill(2).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = forward as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) on any child; EINTR (a forwarded signal) just loops.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            if libc::WIFEXITED(status) {
                std::process::exit(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                std::process::exit(128 + libc::WTERMSIG(status));
            }
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
            std::process::exit(1);
        }
    }
}

fn fail_start(msg: &str) -> ! {
    elog_line(msg);
    std::process::exit(1);
}

/// Runs `ipfs ARGS` like the script's plain command lines: inherits stdio; failure ends the start.
fn ipfs(args: &[&str]) {
    match Command::new("ipfs").args(args).status() {
        Ok(s) if s.success() => {}
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => fail_start(&format!("start_ipfs: ipfs: {e}")),
    }
}

/// kubo v0.42.0 bin/container_daemon, step by step.
fn container_daemon(args: Vec<String>) -> ! {
    let repo = std::env::var("IPFS_PATH").unwrap_or_default();
    let repo_path = Path::new(&repo);
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        log_line("Changing user to ipfs");
        // `gosu ipfs test -w "$repo" || chown -R -- ipfs "$repo"`
        if !writable_as_ipfs(&repo)
            && let Err(e) = chown_tree(repo_path)
        {
            fail_start(&format!("chown: {e}"));
        }
        drop_to_ipfs();
    }
    ipfs(&["version"]);
    if repo_path.join("config").exists() {
        log_line(&format!("Found IPFS fs-repo at {repo}"));
    } else {
        let profile = std::env::var("IPFS_PROFILE").unwrap_or_default();
        let flag = format!("--profile={profile}");
        if profile.is_empty() {
            ipfs(&["init"]);
        } else {
            ipfs(&["init", &flag]);
        }
        ipfs(&["config", "Addresses.API", "/ip4/0.0.0.0/tcp/5001"]);
        ipfs(&["config", "Addresses.Gateway", "/ip4/0.0.0.0/tcp/8080"]);
        swarm_key(repo_path);
    }
    // `find /container-init.d -maxdepth 1 \( -type f -o -type l \) -iname '*.sh' -print0 | sort -z
    //  | xargs -n 1 -0 -r container_init_run`, through the image's own shell and tools.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("find /container-init.d -maxdepth 1 \\( -type f -o -type l \\) -iname '*.sh' -print0 | sort -z | xargs -n 1 -0 -r container_init_run")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => fail_start(&format!("start_ipfs: /bin/sh: {e}")),
    }
    // `exec ipfs "$@"`
    let err = Command::new("ipfs").args(&args).exec();
    fail_start(&format!("start_ipfs: exec ipfs: {err}"))
}

/// The swarm-key part of the first start.
fn swarm_key(repo: &Path) {
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
                crate::sys::go_reason(&e)
            ));
        }
        set_mode(&dest, 0o400);
    }
    // SAFETY: single-threaded here; nothing else reads the environment concurrently.
    unsafe { std::env::remove_var("IPFS_SWARM_KEY") };
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
                crate::sys::go_reason(&e)
            ));
        }
        set_mode(&dest, 0o400);
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("IPFS_SWARM_KEY_FILE") };
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

/// `gosu ipfs test -w DIR`: access(2) with W_OK in a child that has become ipfs.
fn writable_as_ipfs(dir: &str) -> bool {
    let Ok(c) = CString::new(dir) else {
        return false;
    };
    // SAFETY: the child only calls async-signal-safe functions, then _exit.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let groups = [USERS_GID as libc::gid_t];
            if libc::setgroups(1, groups.as_ptr()) != 0
                || libc::setgid(USERS_GID) != 0
                || libc::setuid(IPFS_UID) != 0
            {
                libc::_exit(2);
            }
            libc::_exit(if libc::access(c.as_ptr(), libc::W_OK) == 0 {
                0
            } else {
                1
            });
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0) == pid
            && libc::WIFEXITED(status)
            && libc::WEXITSTATUS(status) == 0
    }
}

/// `chown -R -- ipfs DIR`: the owner only (the group stays), symlinks themselves, not followed.
fn chown_tree(p: &Path) -> Result<(), String> {
    let md = std::fs::symlink_metadata(p)
        .map_err(|e| format!("{}: {}", p.display(), crate::sys::go_reason(&e)))?;
    std::os::unix::fs::lchown(p, Some(IPFS_UID), None)
        .map_err(|e| format!("{}: {}", p.display(), crate::sys::go_reason(&e)))?;
    let _ = md.uid();
    if md.is_dir() {
        let rd = std::fs::read_dir(p)
            .map_err(|e| format!("{}: {}", p.display(), crate::sys::go_reason(&e)))?;
        for e in rd.flatten() {
            chown_tree(&e.path())?;
        }
    }
    Ok(())
}

/// `exec gosu ipfs "$0" "$@"`: ipfs's groups, gid and uid, and its HOME from /etc/passwd.
fn drop_to_ipfs() {
    // SAFETY: plain credential syscalls; failure is checked.
    unsafe {
        let groups = [USERS_GID as libc::gid_t];
        if libc::setgroups(1, groups.as_ptr()) != 0
            || libc::setgid(USERS_GID) != 0
            || libc::setuid(IPFS_UID) != 0
        {
            fail_start(&format!(
                "error: failed switching to \"ipfs\": {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: single-threaded here.
        std::env::set_var(
            "HOME",
            std::env::var("IPFS_PATH").unwrap_or_else(|_| "/data/ipfs".into()),
        );
        std::env::set_var("USER", "ipfs");
    }
}
