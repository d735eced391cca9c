//! The disk check: free space of the Docker root against what builds and kubo's repo need.

use std::path::Path;

use crate::engine::{SystemInfo, engine_address};

use super::ports::engine_is_local;
use super::{Finding, Status};

const GIB: u64 = 1 << 30;
/// Below this, builds and kubo's repo fail: FAIL.
const DISK_FAIL: u64 = GIB;
/// Below this, warn.
const DISK_WARN: u64 = 5 * GIB;

#[allow(clippy::cast_precision_loss)]
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

/// Free space of the Docker root: `space` is (available, total) bytes, or why it was not measured; `counts`
/// describes the engine's images and containers.
pub fn disk_finding(
    root: &str,
    space: std::result::Result<(u64, u64), String>,
    counts: &str,
) -> Finding {
    let (free, total) = match space {
        Ok(s) => s,
        Err(why) => return Finding::new(Status::Skip, "disk", format!("{root}: {why}{counts}")),
    };
    let text = format!("{root}: {} free of {}{counts}", gib(free), gib(total));
    let status = if free < DISK_FAIL {
        Status::Fail
    } else if free < DISK_WARN {
        Status::Warn
    } else {
        Status::Ok
    };
    let f = Finding::new(status, "disk", text);
    if status == Status::Ok {
        f
    } else {
        f.fix(format!(
            "free space on the filesystem of {root}: `docker system df` shows Docker's share, `docker image prune` removes dangling images"
        ))
    }
}

pub(super) fn disk_check(info: &SystemInfo) -> Finding {
    let root = info.root_dir.clone().unwrap_or_default();
    let counts = match (info.images, info.containers, info.containers_running) {
        (Some(i), Some(c), Some(r)) => {
            format!(" ({i} images, {c} containers of which {r} running)")
        }
        _ => String::new(),
    };
    let space = if root.is_empty() {
        Err("the engine did not say where its root directory is".to_string())
    } else if !engine_is_local() || !Path::new(&root).is_dir() {
        Err(format!(
            "not on this machine (engine {}): skipped",
            engine_address()
        ))
    } else {
        rustix::fs::statvfs(root.as_str())
            .map(|s| {
                (
                    s.f_bavail.saturating_mul(s.f_frsize),
                    s.f_blocks.saturating_mul(s.f_frsize),
                )
            })
            .map_err(|e| format!("statvfs: {e}"))
    };
    disk_finding(&root, space, &counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_space_thresholds() {
        assert_eq!(
            disk_finding("/var/lib/docker", Ok((10 * GIB, 100 * GIB)), "").status,
            Status::Ok
        );
        assert_eq!(
            disk_finding("/d", Ok((2 * GIB, 100 * GIB)), "").status,
            Status::Warn
        );
        let f = disk_finding("/d", Ok((GIB / 2, 100 * GIB)), " (3 images)");
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.text, "/d: 0.5 GiB free of 100.0 GiB (3 images)");
        assert_eq!(
            disk_finding("/d", Err("remote".into()), "").status,
            Status::Skip
        );
    }
}
