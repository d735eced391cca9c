//! One `up` per project at a time. The lock is an advisory file lock (flock) on
//! `$XDG_RUNTIME_DIR/pinshare-dev-<project>.lock` (else the temp directory), holding the owner's pid: the
//! kernel drops it when the owner dies, even by SIGKILL, so a stale lock is simply taken over.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Held for the life of an `up`; released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    /// The pid that held it before us and is gone, if any.
    pub reclaimed_from: Option<u32>,
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // A clean exit leaves no pid behind; only a killed holder's pid stays (and is reported when taken over).
        let _ = self.file.set_len(0);
    }
}

/// The lock file of a project.
pub fn path_for(project: &str) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("pinshare-dev-{project}.lock"))
}

/// Takes the project's lock, or says which process has it.
pub fn acquire(project: &str) -> Result<ProjectLock> {
    let path = path_for(project);
    let io = |e: std::io::Error| {
        Error::Runtime(format!("taking the project lock {}: {e}", path.display()))
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let read_pid = |file: &mut File| {
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        text.trim().parse::<u32>().ok()
    };
    // Read only once the lock is decided: a holder that exits cleanly in between clears its pid.
    let previous = match file.try_lock() {
        Ok(()) => read_pid(&mut file),
        Err(TryLockError::WouldBlock) => {
            let previous = read_pid(&mut file);
            let who =
                previous.map_or_else(|| "another process".to_string(), |p| format!("pid {p}"));
            return Err(Error::Runtime(format!(
                "another `pinshare-dev up` ({who}) is running for project {project}; stop it first (Ctrl-C in its terminal{}) — `ps`, `logs` and `rebuild` work alongside it",
                previous.map_or_else(String::new, |p| format!(", or kill {p}"))
            )));
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    };
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(ProjectLock {
        file,
        reclaimed_from: previous.filter(|p| *p != std::process::id()),
    })
}

/// The pid of the process holding the project's lock (a running `up`), if one does. A pid of 0 means the holder
/// is alive but has not written its pid yet.
pub fn holder(project: &str) -> Option<u32> {
    let mut file = OpenOptions::new().read(true).open(path_for(project)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Some(text.trim().parse().unwrap_or(0))
        }
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_project_names_the_holder() {
        let project = format!("lock-test-{}", std::process::id());
        let first = acquire(&project).expect("first lock");
        let err = acquire(&project).expect_err("second lock is refused");
        let text = err.to_string();
        assert!(
            text.contains(&format!("(pid {})", std::process::id())),
            "{text}"
        );
        assert_eq!(holder(&project), Some(std::process::id()));
        drop(first);
        assert_eq!(holder(&project), None, "released");
        let again = acquire(&project).expect("free again after drop");
        assert_eq!(again.reclaimed_from, None, "a clean release leaves no pid");
        drop(again);
        let _ = std::fs::remove_file(path_for(&project));
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let project = format!("lock-stale-{}", std::process::id());
        // What a SIGKILLed holder leaves: its pid in the file, and no lock (the kernel dropped it).
        std::fs::write(path_for(&project), "4194303\n").expect("write");
        let l = acquire(&project).expect("taken over");
        assert_eq!(l.reclaimed_from, Some(4_194_303));
        drop(l);
        let _ = std::fs::remove_file(path_for(&project));
    }
}
