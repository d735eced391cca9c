//! The inotify check: the kernel's per-user watch and instance limits against what watching this spec needs
//! plus what this user's other programs already use.

use std::os::unix::fs::MetadataExt;

use crate::spec::Spec;

use super::{Finding, Status};

/// inotify use of this user's programs, read from /proc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InotifyUse {
    /// Watches.
    pub watches: u64,
    /// Instances.
    pub instances: u64,
}

/// The kernel's per-user inotify limits and what is already used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InotifyState {
    /// `fs.inotify.max_user_watches`.
    pub max_watches: u64,
    /// `fs.inotify.max_user_instances`.
    pub max_instances: u64,
    /// Use by this user's other programs, when /proc tells.
    pub used: Option<InotifyUse>,
}

/// Watches a foreground `up` takes besides the source directories: the spec file's directory.
const SPEC_WATCHES: u64 = 1;
/// inotify instances a foreground `up` opens: the source watcher and the spec watcher.
const OUR_INSTANCES: u64 = 2;
/// Assumed use by other programs when /proc cannot tell (editors, IDEs, desktop indexers).
const OTHERS_MARGIN: u64 = 8192;
/// The usual recommendation (IDEs, webpack, watchexec all suggest it).
const RECOMMENDED_WATCHES: u64 = 524_288;
/// Recommended instance limit.
const RECOMMENDED_INSTANCES: u64 = 1024;
/// Where a persistent setting goes.
const SYSCTL_FILE: &str = "/etc/sysctl.d/60-inotify.conf";

fn sysctl_fix(key: &str, value: u64) -> [String; 2] {
    [
        format!("sudo sysctl fs.inotify.{key}={value}"),
        format!(
            "echo fs.inotify.{key}={value} | sudo tee -a {SYSCTL_FILE}   # keeps it after a reboot"
        ),
    ]
}

/// Compares what watching needs (`directories` of this spec, plus the spec file, plus what other programs use)
/// with the limits: above the limit fails, above half of it warns.
pub fn inotify_finding(directories: usize, state: InotifyState) -> Finding {
    let ours = u64::try_from(directories).unwrap_or(u64::MAX) + SPEC_WATCHES;
    let (others, others_text) = match state.used {
        Some(u) => (
            u.watches,
            format!("{} in use by this user's other programs", u.watches),
        ),
        None => (
            OTHERS_MARGIN,
            format!("a margin of {OTHERS_MARGIN} for other programs"),
        ),
    };
    let need = ours.saturating_add(others);
    let instances_used = state.used.map_or(0, |u| u.instances);
    let instances_need = instances_used + OUR_INSTANCES;
    let text = format!(
        "{directories} directories to watch (+{SPEC_WATCHES} for the spec) and {others_text}: {need} of fs.inotify.max_user_watches {}; instances {instances_need} of {}",
        state.max_watches, state.max_instances
    );
    let status = |n: u64, max: u64| {
        if n > max {
            Status::Fail
        } else if n.saturating_mul(2) > max {
            Status::Warn
        } else {
            Status::Ok
        }
    };
    let watches = status(need, state.max_watches);
    let instances = status(instances_need, state.max_instances);
    let mut f = Finding::new(watches.max(instances), "inotify", text);
    if watches != Status::Ok {
        let value = RECOMMENDED_WATCHES.max(need.saturating_mul(2).next_power_of_two());
        for a in sysctl_fix("max_user_watches", value) {
            f = f.fix(a);
        }
    }
    if instances != Status::Ok {
        let value = RECOMMENDED_INSTANCES.max(instances_need.saturating_mul(2).next_power_of_two());
        for a in sysctl_fix("max_user_instances", value) {
            f = f.fix(a);
        }
    }
    f
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Counts the inotify instances and watches of this user's processes (other than this one) from /proc. Processes
/// whose descriptors cannot be read are left out.
fn inotify_use() -> Option<InotifyUse> {
    let me = std::fs::metadata("/proc/self").ok()?.uid();
    let own = std::process::id().to_string();
    let mut used = InotifyUse::default();
    for p in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str() else { continue };
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if p.metadata().map(|m| m.uid()).ok() != Some(me) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:inotify") {
                used.instances += 1;
                let info = p.path().join("fdinfo").join(fd.file_name());
                if let Ok(text) = std::fs::read_to_string(info) {
                    let n = text
                        .lines()
                        .filter(|l| l.starts_with("inotify wd:"))
                        .count();
                    used.watches += u64::try_from(n).unwrap_or(0);
                }
            }
        }
    }
    Some(used)
}

pub(super) fn inotify_check(spec: &Spec) -> Finding {
    let (Some(max_watches), Some(max_instances)) = (
        read_number("/proc/sys/fs/inotify/max_user_watches"),
        read_number("/proc/sys/fs/inotify/max_user_instances"),
    ) else {
        return Finding::new(
            Status::Skip,
            "inotify",
            "skipped: no /proc/sys/fs/inotify (not Linux); the platform's file watcher has no such limit",
        );
    };
    let directories = crate::watch::Rules::new(spec).directories().len();
    inotify_finding(
        directories,
        InotifyState {
            max_watches,
            max_instances,
            used: inotify_use(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(max_watches: u64, used: Option<u64>) -> InotifyState {
        InotifyState {
            max_watches,
            max_instances: 128,
            used: used.map(|watches| InotifyUse {
                watches,
                instances: 4,
            }),
        }
    }

    #[test]
    fn inotify_within_half_the_limit_is_ok() {
        let f = inotify_finding(40, state(8192, Some(1000)));
        assert_eq!(f.status, Status::Ok, "{f:?}");
        assert_eq!(
            f.text,
            "40 directories to watch (+1 for the spec) and 1000 in use by this user's other programs: 1041 of fs.inotify.max_user_watches 8192; instances 6 of 128"
        );
        assert!(f.fix.is_empty());
    }

    #[test]
    fn inotify_above_half_warns_and_above_the_limit_fails_with_the_sysctl() {
        let f = inotify_finding(3000, state(8192, Some(2000)));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.fix,
            vec![
                "sudo sysctl fs.inotify.max_user_watches=524288".to_string(),
                "echo fs.inotify.max_user_watches=524288 | sudo tee -a /etc/sysctl.d/60-inotify.conf   # keeps it after a reboot".to_string(),
            ]
        );
        let f = inotify_finding(9000, state(8192, Some(0)));
        assert_eq!(f.status, Status::Fail);
        // A need above the usual recommendation gets a value that fits it.
        let f = inotify_finding(400_000, state(524_288, Some(0)));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(f.fix[0], "sudo sysctl fs.inotify.max_user_watches=1048576");
    }

    #[test]
    fn inotify_without_proc_assumes_a_margin_and_counts_instances() {
        let f = inotify_finding(10, state(8192, None));
        assert!(
            f.text.contains("a margin of 8192 for other programs"),
            "{}",
            f.text
        );
        assert_eq!(f.status, Status::Fail, "8203 watches exceed 8192");
        let f = inotify_finding(
            1,
            InotifyState {
                max_watches: 1 << 20,
                max_instances: 128,
                used: Some(InotifyUse {
                    watches: 0,
                    instances: 127,
                }),
            },
        );
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.fix[0], "sudo sysctl fs.inotify.max_user_instances=1024");
    }
}
