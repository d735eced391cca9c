//! What happens before a service's container starts: its init steps, the ownership of its volumes, kubo's repo.

use std::fmt;
use std::time::Duration;

use super::{Event, ms};

/// Init steps, ownership repairs, kubo's repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Init {
    /// A line an init step (named) printed.
    StepOutput {
        /// The step's name.
        step: String,
        /// Its line.
        line: String,
    },
    /// An init step (named) is done.
    StepDone(String),
    /// All of a service's init steps are done, in so long.
    StepsDone(Duration),
    /// `fix_ownership`: a volume's mount point was someone else's; its paths were given to the service's user.
    OwnershipRepaired {
        /// The mount point.
        target: String,
        /// Its owner before.
        owner: u64,
        /// How many paths were changed.
        fixed: usize,
        /// The user given them.
        uid: u32,
        /// And group.
        gid: u32,
    },
    /// kubo's repo directory is not writable by its user: the image's entrypoint chowns it.
    RepoNotWritable {
        /// The repo (`IPFS_PATH`).
        repo: String,
        /// Its owner.
        owner: u64,
        /// kubo's user.
        uid: u32,
        /// And group.
        gid: u32,
    },
    /// kubo's config was someone else's (or unreadable) in a directory kubo can write: its paths were given to
    /// kubo's user.
    ConfigOwnershipRepaired {
        /// The config file.
        config: String,
        /// Its owner before.
        owner: u64,
        /// Its permission bits before.
        mode: u32,
        /// How many paths were changed.
        fixed: usize,
        /// The repo.
        repo: String,
        /// kubo's user.
        uid: u32,
        /// And group.
        gid: u32,
    },
    /// A key of kubo's config listens on loopback only; it is set as the image's entrypoint would.
    LoopbackFixed {
        /// The dotted key.
        key: String,
        /// Its value, as JSON (empty when missing).
        was: String,
        /// The value set, as JSON.
        set: String,
    },
    /// kubo's config has every key the spec gives it.
    KuboConfigUpToDate,
    /// kubo's config script (its path in the container) writes these keys: into a new repo (after `ipfs init`),
    /// or before the daemon starts.
    KuboConfigScript {
        /// No repo yet: the entrypoint makes it first.
        new_repo: bool,
        /// The script's path in the container.
        script: String,
        /// The keys it writes.
        keys: Vec<String>,
    },
}

impl From<Init> for Event {
    fn from(e: Init) -> Self {
        Event::Init(e)
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::StepOutput { step, line } => write!(f, "{step}: {line}"),
            Init::StepDone(step) => write!(f, "init step `{step}` done"),
            Init::StepsDone(after) => write!(f, "init steps done in {} ms", ms(*after)),
            Init::OwnershipRepaired {
                target,
                owner,
                fixed,
                uid,
                gid,
            } => write!(
                f,
                "{target} was owned by uid {owner}; repaired ownership of {fixed} path(s) to {uid}:{gid} (fix_ownership)"
            ),
            Init::RepoNotWritable {
                repo,
                owner,
                uid,
                gid,
            } => write!(
                f,
                "{repo} belongs to uid {owner} and is not writable by {uid}:{gid}: the image's entrypoint gives it to ipfs (chown -R) before the daemon starts"
            ),
            Init::ConfigOwnershipRepaired {
                config,
                owner,
                mode,
                fixed,
                repo,
                uid,
                gid,
            } => write!(
                f,
                "{config} was owned by uid {owner} (mode {mode:o}) in a directory kubo can write, which the image's entrypoint does not repair; gave {fixed} path(s) in {repo} to {uid}:{gid}"
            ),
            Init::LoopbackFixed { key, was, set } => write!(
                f,
                "{key} is {was} (a plain `ipfs init` listens on loopback only: the app and the published port would not reach it); setting {set} as the image's entrypoint would"
            ),
            Init::KuboConfigUpToDate => f.write_str("kubo config up to date"),
            Init::KuboConfigScript {
                new_repo,
                script,
                keys,
            } => {
                let when = if *new_repo {
                    "no repo yet: the image's entrypoint runs `ipfs init` (API and gateway on 0.0.0.0), then"
                } else {
                    "before the daemon starts,"
                };
                write!(f, "kubo config: {when} {script} writes {}", keys.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::event::tests::reads;

    #[test]
    fn init_lines_read_as_they_always_did() {
        reads(
            Init::StepOutput {
                step: "migrate".into(),
                line: "applied 3".into(),
            },
            "migrate: applied 3",
        );
        reads(Init::StepDone("migrate".into()), "init step `migrate` done");
        reads(
            Init::StepsDone(Duration::from_millis(350)),
            "init steps done in 350 ms",
        );
        reads(
            Init::OwnershipRepaired {
                target: "/data".into(),
                owner: 0,
                fixed: 4,
                uid: 1000,
                gid: 100,
            },
            "/data was owned by uid 0; repaired ownership of 4 path(s) to 1000:100 (fix_ownership)",
        );
        reads(
            Init::RepoNotWritable {
                repo: "/data/ipfs".into(),
                owner: 0,
                uid: 1000,
                gid: 100,
            },
            "/data/ipfs belongs to uid 0 and is not writable by 1000:100: the image's entrypoint gives it to ipfs (chown -R) before the daemon starts",
        );
        reads(
            Init::ConfigOwnershipRepaired {
                config: "/data/ipfs/config".into(),
                owner: 0,
                mode: 0o600,
                fixed: 2,
                repo: "/data/ipfs".into(),
                uid: 1000,
                gid: 100,
            },
            "/data/ipfs/config was owned by uid 0 (mode 600) in a directory kubo can write, which the image's entrypoint does not repair; gave 2 path(s) in /data/ipfs to 1000:100",
        );
        reads(
            Init::LoopbackFixed {
                key: "Addresses.API".into(),
                was: "\"/ip4/127.0.0.1/tcp/5001\"".into(),
                set: "\"/ip4/0.0.0.0/tcp/5001\"".into(),
            },
            "Addresses.API is \"/ip4/127.0.0.1/tcp/5001\" (a plain `ipfs init` listens on loopback only: the app and the published port would not reach it); setting \"/ip4/0.0.0.0/tcp/5001\" as the image's entrypoint would",
        );
        reads(Init::KuboConfigUpToDate, "kubo config up to date");
        let script = |new_repo| Init::KuboConfigScript {
            new_repo,
            script: "/container-init.d/pinshare-dev-kubo-config.sh".into(),
            keys: vec!["API.HTTPHeaders".into(), "Gateway.NoFetch".into()],
        };
        reads(
            script(true),
            "kubo config: no repo yet: the image's entrypoint runs `ipfs init` (API and gateway on 0.0.0.0), then /container-init.d/pinshare-dev-kubo-config.sh writes API.HTTPHeaders, Gateway.NoFetch",
        );
        reads(
            script(false),
            "kubo config: before the daemon starts, /container-init.d/pinshare-dev-kubo-config.sh writes API.HTTPHeaders, Gateway.NoFetch",
        );
    }
}
