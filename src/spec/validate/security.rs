//! `security`: the least-privilege defaults every container gets, and the one key that relaxes them for a
//! service. Every container runs with `no-new-privileges` and drops every capability; kubo keeps the four its
//! image's entrypoint needs as root before it switches to uid 1000 (kubo v0.42.0 `bin/container_daemon`:
//! `chown -R -- ipfs "$repo"` of a repo ipfs cannot write — CHOWN, and DAC_OVERRIDE to walk and read a tree it
//! does not own, which the root-run `ipfs` of an exec probe needs as well for the 0600 config —, then
//! `gosu ipfs` — SETGID, SETUID) — and KILL for the `tini` in front of it (`Dockerfile`: `ENTRYPOINT
//! ["/sbin/tini", "--", "/usr/local/bin/start_ipfs"]`): a root process may signal a uid-1000 one only with
//! CAP_KILL (kill(2)), so without it tini cannot pass the stop signal on, the daemon never sees SIGTERM
//! (`cmd/ipfs/util/signal.go`) and every stop waits out the grace period and ends in SIGKILL (exit 137).
//! A relaxed service never gets more than Docker's default set: widening it is `cap_add`, which is refused
//! (`safety.rs`).

use toml::Spanned;

use super::super::raw::{RawSecurity, RawService};
use super::super::{Capabilities, Security};
use super::Ctx;
use super::safety::is_kubo;

/// What kubo's entrypoint needs as root (see the module comment), sorted.
const KUBO_CAPABILITIES: &[&str] = &["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"];

/// Docker's default capability set (moby `oci/caps/defaults.go`): what a plain `docker run` keeps.
const DOCKER_DEFAULT: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The service's security: its defaults, relaxed where `security` says so.
pub(super) fn security(cx: &mut Ctx, raw: &RawService) -> Security {
    let default = if is_kubo(raw) {
        Security::least(KUBO_CAPABILITIES)
    } else {
        Security::least(&[])
    };
    let Some(s) = &raw.security else {
        return default;
    };
    let RawSecurity {
        no_new_privileges,
        capabilities,
    } = s.get_ref();
    Security {
        no_new_privileges: no_new_privileges.unwrap_or(true),
        capabilities: capabilities
            .as_ref()
            .map_or(default.capabilities, |c| capability_list(cx, c)),
    }
}

fn capability_list(cx: &mut Ctx, value: &Spanned<toml::Value>) -> Capabilities {
    let help_kinds = "write a list of names from Docker's default set, such as [\"CHOWN\", \"NET_BIND_SERVICE\"], or \"docker-default\"";
    match value.get_ref() {
        toml::Value::String(s) if s == "docker-default" => Capabilities::DockerDefault,
        toml::Value::String(s) => {
            cx.err(
                value.span(),
                format!("`{s}` is not a capability list"),
                Some(help_kinds),
            );
            Capabilities::Only(Vec::new())
        }
        toml::Value::Array(items) => {
            let mut kept = Vec::new();
            for item in items {
                let Some(name) = item.as_str() else {
                    cx.err(
                        value.span(),
                        format!("`{item}` is not a capability name"),
                        Some(help_kinds),
                    );
                    continue;
                };
                let span = element_span(cx, value, name);
                let upper = name.to_ascii_uppercase();
                let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
                if DOCKER_DEFAULT.contains(&bare) {
                    kept.push(bare.to_string());
                } else if bare == "ALL" {
                    cx.err(
                        span,
                        "`ALL` would keep every capability the kernel has, more than Docker's default set",
                        Some("list the ones the service needs, or write capabilities = \"docker-default\""),
                    );
                } else {
                    cx.err(
                        span,
                        format!("`{name}` is not in Docker's default capability set; adding capabilities is not supported"),
                        Some(&format!(
                            "a service may keep only what a plain `docker run` keeps: {}",
                            DOCKER_DEFAULT.join(", ")
                        )),
                    );
                }
            }
            kept.sort();
            kept.dedup();
            Capabilities::Only(kept)
        }
        other => {
            cx.err(
                value.span(),
                format!("`capabilities` is a {}, not a list", other.type_str()),
                Some(help_kinds),
            );
            Capabilities::Only(Vec::new())
        }
    }
}

/// The span of `"name"` inside the written array, else the whole array.
fn element_span(cx: &Ctx, value: &Spanned<toml::Value>, name: &str) -> std::ops::Range<usize> {
    let span = value.span();
    let written = cx.text.get(span.clone()).unwrap_or_default();
    [format!("\"{name}\""), format!("'{name}'")]
        .iter()
        .find_map(|lit| written.find(lit.as_str()).map(|i| (i, lit.len())))
        .map_or(span.clone(), |(i, n)| span.start + i..span.start + i + n)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::{Capabilities, Security, parse};

    fn security_of(text: &str, service: &str) -> Security {
        parse(Path::new("pinshare.toml"), text)
            .expect("valid")
            .services[service]
            .security
            .clone()
    }

    fn error_of(text: &str) -> (String, String, Option<String>) {
        let e = parse(Path::new("pinshare.toml"), text).expect_err("invalid");
        assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
        let e = &e.errors[0];
        (e.location(), e.message.clone(), e.help.clone())
    }

    #[test]
    fn kubo_keeps_its_entrypoints_five_capabilities_and_others_none() {
        let text = "[services.ipfs]\nimage = \"ipfs/kubo:v0.42.0\"\n[services.app]\nimage = \"pinshare\"\n";
        assert_eq!(
            security_of(text, "ipfs"),
            Security::least(&["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"])
        );
        assert_eq!(security_of(text, "app"), Security::least(&[]));
        assert!(security_of(text, "app").no_new_privileges);
    }

    #[test]
    fn security_relaxes_one_service_only() {
        let text = "[services.ipfs]\nimage = \"ipfs/kubo:v0.42.0\"\nsecurity = { no_new_privileges = false }\n\
                    [services.app]\nimage = \"pinshare\"\nsecurity = { capabilities = [\"cap_net_bind_service\", \"KILL\", \"KILL\"] }\n\
                    [services.other]\nimage = \"x\"\nsecurity = { capabilities = \"docker-default\" }\n";
        let ipfs = security_of(text, "ipfs");
        assert!(!ipfs.no_new_privileges);
        // Only what is written changes: kubo keeps its default capabilities.
        assert_eq!(
            ipfs.capabilities,
            Capabilities::Only(
                ["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"]
                    .map(String::from)
                    .to_vec()
            )
        );
        let app = security_of(text, "app");
        assert!(app.no_new_privileges);
        assert_eq!(
            app.capabilities,
            Capabilities::Only(vec!["KILL".into(), "NET_BIND_SERVICE".into()])
        );
        assert_eq!(
            security_of(text, "other").capabilities,
            Capabilities::DockerDefault
        );
    }

    #[test]
    fn a_capability_beyond_dockers_default_set_is_refused_at_its_entry() {
        let (loc, msg, help) = error_of(
            "[services.app]\nimage = \"x\"\nsecurity = { capabilities = [\"CHOWN\", \"SYS_ADMIN\"] }\n",
        );
        assert_eq!(loc, "pinshare.toml:3:39");
        assert_eq!(
            msg,
            "`SYS_ADMIN` is not in Docker's default capability set; adding capabilities is not supported"
        );
        assert!(help.is_some_and(|h| h.contains("NET_BIND_SERVICE")));
        let (_, msg, _) =
            error_of("[services.app]\nimage = \"x\"\nsecurity = { capabilities = [\"ALL\"] }\n");
        assert!(
            msg.starts_with("`ALL` would keep every capability"),
            "{msg}"
        );
        let (_, msg, _) =
            error_of("[services.app]\nimage = \"x\"\nsecurity = { capabilities = \"none\" }\n");
        assert_eq!(msg, "`none` is not a capability list");
        let (loc, msg, _) = error_of("[services.app]\nimage = \"x\"\nsecurity = { cap = [] }\n");
        assert_eq!(loc, "pinshare.toml:3:14");
        assert!(msg.contains("unknown field `cap`"), "{msg}");
    }
}
