//! `allow_host_mounts`: the opt-in that lets a service mount a path [`Host::danger`](super::Host::danger)
//! refuses. Its own file because it is the other half of the check: the paths are the host's, the opt-in and
//! its errors are the service's.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::super::{Ctx, DEFAULT_IPFS_PATH, missing_bind_source, resolve};
use super::forms;
use crate::spec::HostMount;
use crate::spec::raw::RawService;

/// A bind mount of the service that hands the container the host, found while reading `volumes`.
pub(in super::super) struct Found {
    /// The volume entry.
    pub span: Range<usize>,
    /// The source as written.
    pub written: String,
    /// The source resolved (what would be mounted).
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
    pub danger: String,
}

/// Settles the service's dangerous mounts against its `allow_host_mounts`: an allowed one becomes a
/// [`HostMount`], any other is an error naming the opt-in; an entry that allows nothing is an error too.
pub(in super::super) fn settle(
    cx: &mut Ctx,
    service: &str,
    dir: &Path,
    raw: &RawService,
    found: Vec<Found>,
) -> Vec<HostMount> {
    let allowed: Vec<(&Spanned<String>, Vec<PathBuf>)> = raw
        .allow_host_mounts
        .iter()
        .map(|a| {
            let path = resolve(dir, &cx.host.expand_home(a.get_ref()));
            (a, forms(&path))
        })
        .collect();
    let matches = |a: &(&Spanned<String>, Vec<PathBuf>), f: &Found| {
        a.0.get_ref() == &f.written || forms(&f.source).iter().any(|s| a.1.contains(s))
    };
    // The hint lists the whole opt-in this service would need, so it can be copied as it is.
    let mut needed: Vec<String> = raw
        .allow_host_mounts
        .iter()
        .map(|a| a.get_ref().clone())
        .collect();
    for f in &found {
        if !allowed.iter().any(|a| matches(a, f)) && !needed.contains(&f.written) {
            needed.push(f.written.clone());
        }
    }
    let needed = needed
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");

    let mut used = vec![false; allowed.len()];
    let mut out = Vec::new();
    for f in found {
        let shown = shown(&f.written, &f.source);
        match allowed.iter().position(|a| matches(a, &f)) {
            Some(i) => {
                used[i] = true;
                if !f.source.exists() {
                    missing_bind_source(cx, f.span.clone(), &f.written, &f.source);
                }
                ownership_repair(cx, service, raw, &f, &shown);
                out.push(HostMount {
                    source: f.source.display().to_string(),
                    target: f.target,
                    read_only: f.read_only,
                    danger: f.danger,
                });
            }
            None => {
                let ro = if f.read_only {
                    "read-only does not make it safe; "
                } else {
                    ""
                };
                cx.err(
                    f.span,
                    format!("bind mount {shown} {}", f.danger),
                    Some(&format!(
                        "{ro}remove it, or if this container really needs it, write allow_host_mounts = [{needed}] in [services.{service}]"
                    )),
                );
            }
        }
    }
    for ((entry, _), used) in allowed.iter().zip(used) {
        if !used {
            cx.err(
                entry.span(),
                format!(
                    "`{}` in allow_host_mounts is not a host mount of this service",
                    entry.get_ref()
                ),
                Some(
                    "allow_host_mounts lists exactly the refused `volumes` sources this service may mount; remove the entry",
                ),
            );
        }
    }
    out
}

/// `` `../..` (/home/me) `` when the written source is not the resolved one, else `` `/etc` ``.
fn shown(written: &str, source: &Path) -> String {
    if written == source.to_string_lossy() {
        format!("`{written}`")
    } else {
        format!("`{written}` ({})", source.display())
    }
}

/// An allowed host mount must not be handed to the ownership repair: it would `chown -R` the host's files.
fn ownership_repair(cx: &mut Ctx, service: &str, raw: &RawService, f: &Found, shown: &str) {
    if f.read_only {
        return;
    }
    let kubo_repo = raw.kubo_config.is_some().then(|| {
        raw.env
            .get("IPFS_PATH")
            .cloned()
            .unwrap_or_else(|| DEFAULT_IPFS_PATH.to_string())
    });
    let repairs_it = raw.fix_ownership == Some(true)
        || kubo_repo.is_some_and(|repo| Path::new(&repo).starts_with(&f.target));
    if repairs_it {
        cx.err(
            f.span.clone(),
            format!(
                "bind mount {shown} would be given to the container's user before start (`chown -R` of host files)"
            ),
            Some(&format!(
                "mount it read-only (`{}:{}:ro`), or mount it elsewhere than the kubo repo and drop `fix_ownership` in [services.{service}]",
                f.written, f.target
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    // Through the whole validation (the environment's HOME and DOCKER_HOST; the paths below do not depend on them).

    fn spec(
        volumes: &str,
        extra: &str,
    ) -> Result<crate::spec::Spec, Vec<(String, String, String)>> {
        let text = format!("[services.app]\nimage = \"app:1\"\nvolumes = [{volumes}]\n{extra}");
        crate::spec::parse(Path::new("pinshare.toml"), &text).map_err(|e| {
            e.errors
                .iter()
                .map(|e| {
                    (
                        e.location(),
                        e.message.clone(),
                        e.help.clone().unwrap_or_default(),
                    )
                })
                .collect()
        })
    }

    #[test]
    fn a_refused_mount_names_the_opt_in_with_exactly_what_it_would_allow() {
        let e = spec(
            r#""/etc:/host-etc:ro", "/var/run/docker.sock:/var/run/docker.sock""#,
            "",
        )
        .expect_err("refused");
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].0, "pinshare.toml:3:12");
        assert_eq!(
            e[0].1,
            "bind mount `/etc` is the host's /etc: its configuration, password hashes and keys"
        );
        assert!(
            e[0].2.starts_with("read-only does not make it safe; "),
            "{}",
            e[0].2
        );
        for (_, _, help) in &e {
            assert!(
                help.ends_with(r#"write allow_host_mounts = ["/etc", "/var/run/docker.sock"] in [services.app]"#),
                "{help}"
            );
        }
    }

    #[test]
    fn the_opt_in_allows_the_mount_as_written_or_as_resolved() {
        for allow in [
            r#"["/var/run/docker.sock"]"#,
            r#"["/var/run/../run/docker.sock/"]"#,
        ] {
            let s = spec(
                r#""/var/run/docker.sock:/var/run/docker.sock""#,
                &format!("allow_host_mounts = {allow}\n"),
            );
            if !Path::new("/var/run/docker.sock").exists() {
                // The opt-in worked; the engine's socket is just not on this machine.
                let e = s.expect_err("missing");
                assert!(e.iter().all(|e| e.1.contains("does not exist")), "{e:?}");
                continue;
            }
            let s = s.unwrap_or_else(|e| panic!("{allow}: {e:?}"));
            let m = &s.services["app"].host_mounts;
            assert_eq!(m.len(), 1);
            assert_eq!(
                m[0].describe(),
                "/var/run/docker.sock:/var/run/docker.sock is the Docker engine's socket: whoever controls the container is root on this machine"
            );
        }
        let s = spec(
            r#""/etc:/host-etc:ro""#,
            "allow_host_mounts = [\"/etc/\"]\n",
        )
        .expect("allowed");
        assert!(s.services["app"].host_mounts[0].read_only);
    }

    #[test]
    fn an_opt_in_that_allows_nothing_is_an_error() {
        let e = spec(
            r#""/etc:/host-etc:ro""#,
            "allow_host_mounts = [\"/etc\", \"/proc\"]\n",
        )
        .expect_err("unused");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "pinshare.toml:4:30");
        assert_eq!(
            e[0].1,
            "`/proc` in allow_host_mounts is not a host mount of this service"
        );
    }

    #[test]
    fn an_allowed_writable_host_mount_is_never_given_to_the_container_user() {
        let e = spec(
            r#""/etc:/host-etc""#,
            "allow_host_mounts = [\"/etc\"]\nfix_ownership = true\n",
        )
        .expect_err("chown of /etc");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].1.contains("`chown -R` of host files"), "{e:?}");
        spec(
            r#""/etc:/host-etc:ro""#,
            "allow_host_mounts = [\"/etc\"]\nfix_ownership = true\n",
        )
        .expect("read-only is not repaired");
    }

    #[test]
    fn an_environment_variable_is_not_a_path() {
        let e = spec(r#""$HOME:/home""#, "").expect_err("not a path");
        assert!(e[0].1.starts_with("bad volume"), "{e:?}");
    }
}
