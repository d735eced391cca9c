//! Build script: the commit the binary is built from, for `pinshare-dev --version`
//! (`pinshare-dev 0.1.0 (3605eb7)`, `(3605eb7-dirty)` when the sources that make the binary differ from that
//! commit, `(unknown)` without git or outside a checkout of this repository, as in a crates.io tarball).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the binary is made from: a change here without a commit (or a new file not in git) makes it `-dirty`.
const SOURCES: &[&str] = &["src", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    let commit = commit(&dir).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=PINSHARE_DEV_COMMIT={commit}");
}

/// `git` in `dir`, its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The short commit of the checkout at `dir`, with `-dirty` when SOURCES differ from it; None when `dir` is not
/// the top of a git checkout (a tarball unpacked inside some other repository names that repository's commit).
fn commit(dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    // A new commit moves HEAD (a checkout) or the branch it names (a commit); `git add` and a commit rewrite the
    // index. In a worktree these live in the main repository's git directory, so git says where.
    let mut watched = vec![
        "HEAD".to_string(),
        "index".to_string(),
        "packed-refs".to_string(),
    ];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        // A path that does not exist would make cargo run this script on every build.
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]).map(|p| dir.join(p))
            && path.exists()
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let short = git(dir, &["rev-parse", "--short", "HEAD"])?;
    let mut status = vec!["status", "--porcelain", "--untracked-files=normal", "--"];
    status.extend(SOURCES);
    let dirty = git(dir, &status).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{short}-dirty")
    } else {
        short
    })
}
