//! The book's generated pages (docs/src/reference/, docs/man/) are what the binary generates now, and
//! `--version` names the commit the binary was built from.

use std::path::{Path, PathBuf};
use std::process::Command;

const BLESS: &str = "PINSHARE_DEV_BLESS=1 cargo test --test docs";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pinshare-dev")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The generated files among the committed ones: the two reference pages and everything under docs/man/.
fn committed(docs: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        "src/reference/pinshare-toml.md",
        "src/reference/commands.md",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| docs.join(p).exists())
    .collect();
    out.extend(
        files(&docs.join("man"))
            .into_iter()
            .map(|p| Path::new("man").join(p)),
    );
    out.sort();
    out
}

#[test]
fn generated_pages_in_docs_are_what_the_binary_generates() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bin())
        .args(["__docs"])
        .arg(tmp.path())
        .output()
        .expect("run pinshare-dev __docs");
    assert!(
        out.status.success(),
        "__docs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = repo().join("docs");
    let fresh = files(tmp.path());
    assert!(fresh.len() > 3, "__docs wrote too little: {fresh:?}");
    if std::env::var_os("PINSHARE_DEV_BLESS").is_some() {
        for old in committed(&docs) {
            std::fs::remove_file(docs.join(old)).expect("remove a stale page");
        }
        for rel in &fresh {
            let to = docs.join(rel);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(tmp.path().join(rel), to).expect("copy a page");
        }
        return;
    }
    let mut stale: Vec<String> = Vec::new();
    for rel in &fresh {
        let new = std::fs::read(tmp.path().join(rel)).expect("read a fresh page");
        match std::fs::read(docs.join(rel)) {
            Ok(old) if old == new => {}
            Ok(_) => stale.push(format!("docs/{} differs", rel.display())),
            Err(_) => stale.push(format!("docs/{} is missing", rel.display())),
        }
    }
    for old in committed(&docs) {
        if !fresh.contains(&old) {
            stale.push(format!("docs/{} is no longer generated", old.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "the generated pages are stale:\n  {}\nregenerate them with: {BLESS}",
        stale.join("\n  ")
    );
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_commit_of_the_checkout() {
    let out = Command::new(bin())
        .arg("--version")
        .output()
        .expect("run pinshare-dev --version");
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let head = git(&["rev-parse", "--short", "HEAD"]).expect("this test runs in a git checkout");
    let changed = git(&[
        "status",
        "--porcelain",
        "--untracked-files=normal",
        "--",
        "src",
        "build.rs",
        "Cargo.toml",
        "Cargo.lock",
    ])
    .is_some_and(|s| !s.is_empty());
    let commit = if changed {
        format!("{head}-dirty")
    } else {
        head
    };
    assert_eq!(
        printed,
        format!("pinshare-dev {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}
