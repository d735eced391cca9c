//! One `up` per project at a time. The lock is an advisory file lock (flock) on
//! `$XDG_RUNTIME_DIR/pinshare-dev-<project>.lock` (else the temp directory), holding the owner's pid: the
//! kernel drops it when the owner dies, even by SIGKILL, so a stale lock is simply taken over. Only `up` makes the
//! file, and removes it when its run ends (other commands only look): the temp directory does not collect one file
//! per project name ever used. A SIGKILLed holder's file stays, with its pid, until the next `up` takes it over.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Held for the life of an `up`; released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    path: PathBuf,
    /// The pid that held it before us and is gone, if any.
    pub reclaimed_from: Option<u32>,
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Removed while still locked (the lock goes when `file` closes, after this): an `up` that opened the file
        // in between finds, once it has the lock, that the path no longer leads to it, and starts over (`acquire`).
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `path` still names the open `file` (the same inode).
fn same_file(file: &File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
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
    // A holder that ends removes the file: a lock taken on the removed file is no lock, so take the new one.
    let (mut file, previous) = loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // Read only once the lock is decided: a holder that exits cleanly in between removes its file.
        match file.try_lock() {
            Ok(()) if same_file(&file, &path) => {
                let previous = read_pid(&mut file);
                break (file, previous);
            }
            Ok(()) => {}
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
        }
    };
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(ProjectLock {
        file,
        path,
        reclaimed_from: previous.filter(|p| *p != std::process::id()),
    })
}

/// The pid written in a lock file, if any.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    text.trim().parse::<u32>().ok()
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
        assert!(
            !path_for(&project).exists(),
            "a clean release removes the file"
        );
    }

    #[test]
    fn looking_for_a_holder_makes_no_file() {
        let project = format!("lock-look-{}", std::process::id());
        assert_eq!(holder(&project), None);
        assert!(!path_for(&project).exists());
    }

    #[test]
    fn a_lock_taken_on_a_file_its_holder_removed_is_taken_again_on_a_new_one() {
        let project = format!("lock-race-{}", std::process::id());
        let first = acquire(&project).expect("first lock");
        // An `up` that opened the file just before the holder ended: the holder removes the file and lets go.
        let opened = File::open(path_for(&project)).expect("open");
        drop(first);
        opened.try_lock().expect("the removed file's lock is free");
        let second = acquire(&project).expect("a lock on a new file");
        assert!(path_for(&project).exists());
        assert_eq!(holder(&project), Some(std::process::id()));
        drop(second);
        drop(opened);
        assert!(!path_for(&project).exists());
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
