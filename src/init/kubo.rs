//! `kubo_config`: the kubo repo prepared through the `ipfs/kubo` image's own contract, on the service's created,
//! not yet started container — no extra container, whether the repo is new or old.
//!
//! What the image does by itself (kubo v0.42.0 and v0.39.0 `bin/container_daemon`, `Dockerfile`): its
//! entrypoint starts as root, runs `chown -R ipfs $IPFS_PATH` only when the repo directory is not writable by
//! uid 1000, drops to that user, runs `ipfs init` (with `$IPFS_PROFILE`) and moves the RPC API and gateway to
//! 0.0.0.0 only when there is no `config`, installs the swarm key, then runs every `/container-init.d/*.sh` as
//! the ipfs user before the daemon. So we only add what it does not do:
//! - a root-owned `config` inside a writable directory (the seed's `open /data/ipfs/config: permission
//!   denied`) is given back to 1000 through the Engine API's archive endpoints;
//! - the `kubo_config` keys whose value differs (all of them on a new repo) become one script handed to
//!   `/container-init.d` through the archive API: `ipfs config --json KEY VALUE` runs locally, as the image's
//!   user, after `ipfs init` and before the daemon reads the config — on every start of this container, which
//!   is idempotent;
//! - a repo made by a plain `ipfs init` (config/init.go writes 127.0.0.1, so neither the app nor a published
//!   port reaches kubo) gets the addresses the entrypoint would have written.

use serde_json::Value;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::init::oneshot::{io_err, read_tar, repair_ownership};
use crate::output::event::Init;
use crate::output::printer::Printer;
use crate::spec::{InitAction, Service};

/// Where the image's entrypoint looks for scripts (kubo `bin/container_daemon`: maxdepth 1, `*.sh`, sorted).
pub const SCRIPT_DIR: &str = "/container-init.d";
/// Our script in it; a user's own scripts sort around it by name.
pub const SCRIPT_NAME: &str = "pinshare-dev-kubo-config.sh";

/// The `kubo_config` of a service, as the preparation needs it.
#[derive(Debug, Clone, Copy)]
pub struct KuboRepo<'a> {
    /// `IPFS_PATH` in the container.
    pub repo: &'a str,
    /// The image's ipfs user.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Keys and JSON values, in key order.
    pub keys: &'a [(String, Value)],
}

/// The kubo repo of a service with `kubo_config`.
pub fn of(svc: &Service) -> Option<KuboRepo<'_>> {
    svc.init.iter().find_map(|s| match &s.action {
        InitAction::KuboConfig {
            repo,
            uid,
            gid,
            keys,
        } => Some(KuboRepo {
            repo,
            uid: *uid,
            gid: *gid,
            keys,
        }),
        InitAction::Command(_) => None,
    })
}

/// Reads a dotted key from a JSON config, as kubo splits it (exact case).
pub fn get_path<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(config, |v, k| v.get(k))
}

/// The keys whose configured value differs from `config` (all of them without a config).
pub fn differing<'a>(
    config: Option<&Value>,
    keys: &'a [(String, Value)],
) -> Vec<&'a (String, Value)> {
    keys.iter()
        .filter(|(k, v)| config.and_then(|c| get_path(c, k)) != Some(v))
        .collect()
}

/// The listen addresses the image's entrypoint writes after its own `ipfs init`, for a repo whose addresses
/// are on loopback (a plain `ipfs init`), unless the spec sets them itself.
pub fn loopback_fixes(config: &Value, keys: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for key in ["Addresses.API", "Addresses.Gateway"] {
        if keys.iter().any(|(k, _)| k == key) {
            continue;
        }
        let rewrite = |a: &str| {
            a.strip_prefix("/ip4/127.0.0.1/")
                .map(|rest| format!("/ip4/0.0.0.0/{rest}"))
        };
        let fixed = match get_path(config, key) {
            Some(Value::String(a)) => rewrite(a).map(Value::String),
            Some(Value::Array(list))
                if list
                    .iter()
                    .any(|a| a.as_str().is_some_and(|a| rewrite(a).is_some())) =>
            {
                Some(Value::Array(
                    list.iter()
                        .map(|a| match a.as_str().and_then(rewrite) {
                            Some(r) => Value::String(r),
                            None => a.clone(),
                        })
                        .collect(),
                ))
            }
            _ => None,
        };
        if let Some(v) = fixed {
            out.push((key.to_string(), v));
        }
    }
    out
}

/// A word for `sh`, single-quoted.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The script the image's entrypoint runs before the daemon: one `ipfs config --json` per key.
pub fn script(service: &str, keys: &[(String, Value)]) -> String {
    let mut s = format!(
        "#!/bin/sh\n# Written by pinshare-dev from [services.{service}.kubo_config]: the image's entrypoint runs it as the\n# ipfs user after `ipfs init` and before the daemon reads its config, on every start of this container.\nset -e\n"
    );
    for (k, v) in keys {
        s.push_str(&format!(
            "ipfs config --json {} {}\n",
            sh_quote(k),
            sh_quote(&v.to_string())
        ));
    }
    s
}

/// Whether uid:gid may write a directory with this owner and mode (what `gosu ipfs test -w` answers).
fn writable_by(uid: u32, gid: u32, owner: u64, group: u64, mode: u32) -> bool {
    (owner == u64::from(uid) && mode & 0o200 != 0)
        || (group == u64::from(gid) && mode & 0o020 != 0)
        || mode & 0o002 != 0
}

/// Owner, group and mode of the first entry of a tar (the path asked for).
fn head(tar: &[u8]) -> Option<(u64, u64, u32)> {
    let h = tar::Header::from_byte_slice(tar.get(..512)?);
    Some((h.uid().ok()?, h.gid().ok()?, h.mode().ok()?))
}

/// The repo's config as JSON, as the container has it now (none in a new repo). A config that is not kubo's
/// user's, or not readable by its owner, is given to kubo's user, unless the image's entrypoint will do it
/// (when the repo directory is not writable by that user); either is said.
async fn read_config(
    engine: &dyn Engine,
    container: &str,
    name: &str,
    k: KuboRepo<'_>,
    printer: &Printer,
) -> Result<Option<Value>> {
    let config_path = format!("{}/config", k.repo);
    // One archive read on the way in: the config. A new repo has none (the entrypoint makes it, and chowns an
    // unwritable directory first); only a config owned by someone else needs a look at its directory.
    let Some(bytes) = engine.download(container, &config_path).await? else {
        return Ok(None);
    };
    let entries = read_tar(&bytes).map_err(|e| io_err("reading the kubo config archive", &e))?;
    let Some(entry) = entries.first() else {
        return Err(Error::Runtime(format!(
            "{name}: the engine gave an empty archive for {config_path}"
        )));
    };
    let owner = entry.header.uid().unwrap_or(0);
    // Permission bits only (a tar header may carry the file type too).
    let mode = entry.header.mode().unwrap_or(0) & 0o7777;
    if owner != u64::from(k.uid) || mode & 0o400 == 0 {
        let dir = engine.download_prefix(container, k.repo, 512).await?;
        match dir.as_deref().and_then(head) {
            // The entrypoint chowns the whole repo itself when the directory is not writable by its user.
            Some((dir_owner, g, m)) if !writable_by(k.uid, k.gid, dir_owner, g, m) => {
                let event = Init::RepoNotWritable {
                    repo: k.repo.to_string(),
                    owner: dir_owner,
                    uid: k.uid,
                    gid: k.gid,
                };
                printer.say(name, event);
            }
            _ => {
                let fixed = repair_ownership(engine, container, k.repo, k.uid, k.gid).await?;
                let event = Init::ConfigOwnershipRepaired {
                    config: config_path.clone(),
                    owner,
                    mode,
                    fixed: fixed.len(),
                    repo: k.repo.to_string(),
                    uid: k.uid,
                    gid: k.gid,
                };
                printer.say(name, event);
            }
        }
    }
    let json: Value = serde_json::from_slice(&entry.data).map_err(|e| {
        Error::Runtime(format!(
            "{name}: {config_path} exists but is not valid JSON ({e}); fix or remove it (the volume is kept)"
        ))
    })?;
    Ok(Some(json))
}

/// A tar archive of the config script, executable and owned by kubo's user, for the archive API.
fn script_archive(text: &str, k: KuboRepo<'_>) -> Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o755);
    header.set_uid(u64::from(k.uid));
    header.set_gid(u64::from(k.gid));
    header.set_mtime(0);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut header, SCRIPT_NAME, text.as_bytes())
        .map_err(|e| io_err("building the kubo config script archive", &e))?;
    b.into_inner()
        .map_err(|e| io_err("building the kubo config script archive", &e))
}

/// Prepares the repo of `container` (created, never started) for `svc`'s `kubo_config`.
pub async fn prepare(
    engine: &dyn Engine,
    container: &str,
    svc: &Service,
    k: KuboRepo<'_>,
    printer: &Printer,
) -> Result<()> {
    let name = &svc.name;
    let config = read_config(engine, container, name, k, printer).await?;

    let mut todo: Vec<(String, Value)> = differing(config.as_ref(), k.keys)
        .into_iter()
        .cloned()
        .collect();
    if let Some(c) = &config {
        let fixes = loopback_fixes(c, k.keys);
        for (key, v) in &fixes {
            let event = Init::LoopbackFixed {
                key: key.clone(),
                was: get_path(c, key).map(Value::to_string).unwrap_or_default(),
                set: v.to_string(),
            };
            printer.say(name, event);
        }
        todo.extend(fixes);
    }
    if todo.is_empty() {
        printer.say(name, Init::KuboConfigUpToDate);
        return Ok(());
    }
    let tar = script_archive(&script(name, &todo), k)?;
    engine
        .upload(container, SCRIPT_DIR, tar)
        .await
        .map_err(|e| {
            if e.is_not_found() {
                Error::Runtime(format!(
                    "{name}: the image has no {SCRIPT_DIR}, where `kubo_config` hands its script to the ipfs/kubo entrypoint; use an ipfs/kubo image (or one with its entrypoint) for [services.{name}]"
                ))
            } else {
                e.into()
            }
        })?;
    let event = Init::KuboConfigScript {
        new_repo: config.is_none(),
        script: format!("{SCRIPT_DIR}/{SCRIPT_NAME}"),
        keys: todo.into_iter().map(|(k, _)| k).collect(),
    };
    printer.say(name, event);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_keys_are_read_like_kubo() {
        let c = json!({"API": {"HTTPHeaders": {"Access-Control-Allow-Origin": ["http://localhost:5173"]}}});
        assert_eq!(
            get_path(&c, "API.HTTPHeaders.Access-Control-Allow-Origin"),
            Some(&json!(["http://localhost:5173"]))
        );
        assert_eq!(get_path(&c, "API.Missing"), None);
        // kubo v0.42.0 config/config.go GetConfigKey-style lookup: keys match exactly.
        assert_eq!(
            get_path(&c, "api.HTTPHeaders.Access-Control-Allow-Origin"),
            None
        );
    }

    #[test]
    fn only_differing_keys_are_written() {
        let c = json!({"API": {"HTTPHeaders": {"Access-Control-Allow-Origin": ["http://a"], "Access-Control-Allow-Methods": ["GET"]}}});
        let keys = vec![
            (
                "API.HTTPHeaders.Access-Control-Allow-Origin".to_string(),
                json!(["http://a"]),
            ),
            (
                "API.HTTPHeaders.Access-Control-Allow-Methods".to_string(),
                json!(["GET", "POST"]),
            ),
        ];
        let d = differing(Some(&c), &keys);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "API.HTTPHeaders.Access-Control-Allow-Methods");
        assert_eq!(differing(None, &keys).len(), 2);
    }

    #[test]
    fn a_plain_init_repo_gets_the_entrypoints_addresses() {
        // kubo v0.42.0 config/init.go writes 127.0.0.1; bin/container_daemon sets 0.0.0.0 after its own init.
        let c = json!({"Addresses": {"API": "/ip4/127.0.0.1/tcp/5001", "Gateway": ["/ip4/127.0.0.1/tcp/8080", "/ip6/::1/tcp/8080"]}});
        let fixes = loopback_fixes(&c, &[]);
        assert_eq!(
            fixes,
            vec![
                ("Addresses.API".to_string(), json!("/ip4/0.0.0.0/tcp/5001")),
                (
                    "Addresses.Gateway".to_string(),
                    json!(["/ip4/0.0.0.0/tcp/8080", "/ip6/::1/tcp/8080"])
                ),
            ]
        );
        let already = json!({"Addresses": {"API": "/ip4/0.0.0.0/tcp/5001", "Gateway": "/ip4/0.0.0.0/tcp/8080"}});
        assert!(loopback_fixes(&already, &[]).is_empty());
        // A spec that sets the address itself decides.
        let own = vec![(
            "Addresses.API".to_string(),
            json!("/ip4/127.0.0.1/tcp/5001"),
        )];
        assert_eq!(loopback_fixes(&c, &own).len(), 1);
    }

    #[test]
    fn the_script_quotes_every_word_for_sh() {
        let s = script(
            "ipfs",
            &[(
                "API.HTTPHeaders.Access-Control-Allow-Origin".to_string(),
                json!(["http://it's.example"]),
            )],
        );
        assert!(s.starts_with("#!/bin/sh\n"), "{s}");
        assert!(s.contains("\nset -e\n"), "{s}");
        assert!(
            s.ends_with(
                "ipfs config --json 'API.HTTPHeaders.Access-Control-Allow-Origin' '[\"http://it'\\''s.example\"]'\n"
            ),
            "{s}"
        );
    }

    #[test]
    fn writability_is_judged_like_test_w() {
        assert!(writable_by(1000, 100, 1000, 100, 0o755));
        assert!(!writable_by(1000, 100, 0, 0, 0o755));
        assert!(writable_by(1000, 100, 0, 100, 0o775));
        assert!(writable_by(1000, 100, 0, 0, 0o777));
        assert!(!writable_by(1000, 100, 1000, 100, 0o555));
    }
}
