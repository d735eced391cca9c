//! `[services.NAME.kubo_config]` → the init step that prepares kubo's repo. The keys are kubo's own config paths
//! and the values become `ipfs config --json` arguments, so the checks here are those kubo would otherwise make
//! at start-up, after the containers exist: a header that is not a list of strings, a section written in the
//! wrong case, a value with no JSON form.

use toml::Spanned;

use super::super::raw::RawService;
use super::super::{InitAction, InitStep};
use super::{Ctx, DEFAULT_IPFS_PATH, KUBO_GID, KUBO_UID, safety};

/// Kubo's top-level config sections (kubo v0.39 `config.Config`). Only used to catch one written in another
/// case: kubo matches keys exactly, so `api.HTTPHeaders…` would be a second, ignored section.
const SECTIONS: &[&str] = &[
    "API",
    "Addresses",
    "AutoConf",
    "AutoNAT",
    "AutoTLS",
    "Bootstrap",
    "DNS",
    "Datastore",
    "Discovery",
    "Experimental",
    "Gateway",
    "HTTPRetrieval",
    "Identity",
    "Import",
    "Internal",
    "Ipns",
    "Migration",
    "Mounts",
    "Peering",
    "Pinning",
    "Plugins",
    "Provide",
    "Provider",
    "Pubsub",
    "Reprovider",
    "Routing",
    "Swarm",
    "Version",
];

/// The repo preparation step of a service with `kubo_config`, `None` without.
pub(super) fn step(cx: &mut Ctx, name: &str, raw: &RawService) -> Option<InitStep> {
    let kc = raw.kubo_config.as_ref()?;
    let mut keys = Vec::new();
    for (k, v) in kc.get_ref() {
        if let Some(pair) = key(cx, name, raw, k, v) {
            keys.push(pair);
        }
    }
    let repo = raw
        .env
        .get("IPFS_PATH")
        .cloned()
        .unwrap_or_else(|| DEFAULT_IPFS_PATH.to_string());
    Some(InitStep {
        name: "kubo-config".into(),
        image: None,
        user: Some(format!("{KUBO_UID}:{KUBO_GID}")),
        action: InitAction::KuboConfig {
            repo,
            uid: KUBO_UID,
            gid: KUBO_GID,
            keys,
        },
    })
}

/// One key: checked, and its value as JSON.
fn key(
    cx: &mut Ctx,
    service: &str,
    raw: &RawService,
    k: &Spanned<String>,
    v: &Spanned<toml::Value>,
) -> Option<(String, serde_json::Value)> {
    let key = k.get_ref();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        cx.err(
            k.span(),
            format!("kubo_config key `{key}` is not a dotted config path"),
            Some("for example \"API.HTTPHeaders.Access-Control-Allow-Origin\""),
        );
        return None;
    }
    let section = key.split('.').next().unwrap_or_default();
    if let Some(right) = SECTIONS
        .iter()
        .find(|s| s.eq_ignore_ascii_case(section) && **s != section)
    {
        let fixed = format!("{right}{}", &key[section.len()..]);
        cx.err(
            k.span(),
            format!("kubo's config section is `{right}`, not `{section}`"),
            Some(&format!(
                "kubo's config keys are case-sensitive: write \"{fixed}\""
            )),
        );
        return None;
    }
    if has_datetime(v.get_ref()) {
        cx.err(
            v.span(),
            format!("kubo_config `{key}`: a TOML date has no JSON form"),
            Some("write it as a string in quotes"),
        );
        return None;
    }
    if key.starts_with("API.HTTPHeaders.") {
        let strings = match v.get_ref() {
            toml::Value::Array(a) => a.iter().all(toml::Value::is_str),
            _ => false,
        };
        if !strings {
            let help = match v.get_ref() {
                toml::Value::String(s) => format!(
                    "write it as a list: [{}]",
                    s.split(',')
                        .map(|p| format!("\"{}\"", p.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => "write a list of strings, e.g. [\"http://localhost:5173\"]".to_string(),
            };
            cx.err(
                v.span(),
                format!("kubo takes a list of strings for `{key}`"),
                Some(&help),
            );
            return None;
        }
        if key == "API.HTTPHeaders.Access-Control-Allow-Origin" {
            safety::any_origin(cx, service, raw, v);
        }
    }
    match serde_json::to_value(v.get_ref()) {
        Ok(j) => Some((key.clone(), j)),
        Err(e) => {
            cx.err(v.span(), format!("kubo_config `{key}`: {e}"), None);
            None
        }
    }
}

fn has_datetime(v: &toml::Value) -> bool {
    match v {
        toml::Value::Datetime(_) => true,
        toml::Value::Array(a) => a.iter().any(has_datetime),
        toml::Value::Table(t) => t.values().any(has_datetime),
        _ => false,
    }
}
