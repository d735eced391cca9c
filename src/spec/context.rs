//! What a run adds to the spec it runs: not read from the files, shared by every copy of the spec and kept when
//! the files are read again ([`Spec::reloaded`]), so every part of the run that holds the spec agrees on it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{LoadError, Spec, load_files};
use crate::labels;

/// What the run added to its spec.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// One lock per host-build directory (shared by every copy).
    pub host_builds: HostBuilds,
    /// The services whose host ports this run forwards itself (a foreground `up`), and how its forwarder
    /// reaches their containers: every path that makes a container (start-up, rebuilds, reloads, restarts) is
    /// given the spec, so all make it the same way.
    pub forwarded: BTreeMap<String, Reach>,
}

/// How the forwarder of a foreground run reaches a container whose host ports it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The engine publishes the container's ports on ephemeral loopback ports (an engine whose container
    /// addresses this host cannot reach: in a VM, rootless).
    Published,
    /// The container publishes nothing; the forwarder goes to its address on the project network. A network
    /// re-join (a swap's alias move) then has no port proxies to tear down and set up again.
    Direct,
}

impl Reach {
    /// The value of the `dev.pinshare.ports` label.
    pub fn label(self) -> &'static str {
        match self {
            Reach::Published => labels::PORTS_FORWARDED,
            Reach::Direct => labels::PORTS_FORWARDED_DIRECT,
        }
    }
}

/// One lock per host-build directory: two builds in one directory (two packages of one cargo workspace, one
/// Go module) run one after the other instead of side by side, where they would only wait for each other's
/// locks (`Blocking waiting for file lock on package cache`) and compete for the same cores.
#[derive(Debug, Clone, Default)]
pub struct HostBuilds(Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>);

impl HostBuilds {
    /// The lock of the host builds that run in `workdir`.
    pub fn lock(&self, workdir: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(workdir.to_path_buf()).or_default())
    }
}

impl Spec {
    /// The spec's files read and validated again, with what this run added to the spec.
    pub(crate) fn reloaded(&self) -> Result<Spec, LoadError> {
        let mut new = load_files(&self.files())?;
        new.run = self.run.clone();
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_build_locks_are_one_per_directory_and_outlive_a_reload() {
        let d = tempfile::tempdir().expect("tempdir");
        let file = d.path().join("pinshare.toml");
        std::fs::write(&file, "[services.ipfs]\nimage = \"ipfs/kubo:v0.39.0\"\n").expect("write");
        let spec = load_files(std::slice::from_ref(&file)).expect("valid");
        let (ws, other) = (d.path().join("ws"), d.path().join("other"));
        let lock = spec.run.host_builds.lock(&ws);
        assert!(Arc::ptr_eq(&lock, &spec.clone().run.host_builds.lock(&ws)));
        assert!(!Arc::ptr_eq(&lock, &spec.run.host_builds.lock(&other)));
        // A build of the old spec still running holds the lock a build of the reloaded one waits for.
        let reloaded = spec.reloaded().expect("reloads");
        assert!(Arc::ptr_eq(&lock, &reloaded.run.host_builds.lock(&ws)));
        // Another command's spec (another test in this process) has locks of its own.
        let another = load_files(&[file]).expect("valid");
        assert!(!Arc::ptr_eq(&lock, &another.run.host_builds.lock(&ws)));
    }

    #[test]
    fn forwarded_services_outlive_a_reload_but_not_a_throwaway_copy() {
        let d = tempfile::tempdir().expect("tempdir");
        let file = d.path().join("pinshare.toml");
        std::fs::write(&file, "[services.ipfs]\nimage = \"ipfs/kubo:v0.39.0\"\n").expect("write");
        let mut spec = load_files(std::slice::from_ref(&file)).expect("valid");
        spec.run.forwarded.insert("ipfs".into(), Reach::Direct);
        let reloaded = spec.reloaded().expect("reloads");
        assert_eq!(reloaded.run.forwarded.get("ipfs"), Some(&Reach::Direct));
        let copy = spec.throwaway("copy", BTreeMap::new());
        assert!(copy.run.forwarded.is_empty(), "{:?}", copy.run.forwarded);
        // Another command's spec (another test in this process) forwards nothing.
        assert!(load_files(&[file]).expect("valid").run.forwarded.is_empty());
    }
}
