//! What a run adds to the spec it runs: not read from the files, shared by every copy of the spec and kept when
//! the files are read again ([`Spec::reloaded`]), so every part of the run that holds the spec agrees on it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{LoadError, Spec, load_files};

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
        new.host_builds = self.host_builds.clone();
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
        let lock = spec.host_builds.lock(&ws);
        assert!(Arc::ptr_eq(&lock, &spec.clone().host_builds.lock(&ws)));
        assert!(!Arc::ptr_eq(&lock, &spec.host_builds.lock(&other)));
        // A build of the old spec still running holds the lock a build of the reloaded one waits for.
        let reloaded = spec.reloaded().expect("reloads");
        assert!(Arc::ptr_eq(&lock, &reloaded.host_builds.lock(&ws)));
        // Another command's spec (another test in this process) has locks of its own.
        let another = load_files(&[file]).expect("valid");
        assert!(!Arc::ptr_eq(&lock, &another.host_builds.lock(&ws)));
    }
}
