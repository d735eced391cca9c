//! Kubo in the pod: its repo is prepared by an init container running as kubo's uid/gid, never root, with the
//! `kubo_config` keys as arguments to a fixed script, and its RPC API and gateway listen on the pod's loopback
//! unless `[render.k8s] expose` lists their port.

use k8s_openapi::api::core::v1::SecurityContext;

use super::super::Kubo;
use super::service::exposed_ports;
use crate::spec::{Service, Spec};

/// Kubo's RPC API and gateway ports (kubo's defaults; the addresses the init container writes use them).
const KUBO_API_PORT: u16 = 5001;
pub(super) const KUBO_GATEWAY_PORT: u16 = 8080;

/// The init container's script; the keys and values come as arguments, so they are data, never shell text.
pub(super) const KUBO_PREP_SCRIPT: &str = r#"set -eu
if [ ! -e "$IPFS_PATH/config" ]; then
  ipfs init ${IPFS_PROFILE:+--profile="$IPFS_PROFILE"}
fi
while [ "$#" -ge 2 ]; do
  ipfs config --json "$1" "$2"
  shift 2
done
"#;

/// KEY VALUE pairs for the preparation script: the spec's keys, then the listen addresses of the RPC API and
/// gateway (pod loopback unless exposed) when the spec does not set them itself.
pub(super) fn kubo_args(spec: &Spec, svc: &Service, k: &Kubo<'_>) -> Vec<String> {
    let mut args: Vec<String> = k
        .keys
        .iter()
        .flat_map(|(key, value)| [key.clone(), value.to_string()])
        .collect();
    let exposed = exposed_ports(spec, svc);
    for (key, port) in [
        ("Addresses.API", KUBO_API_PORT),
        ("Addresses.Gateway", KUBO_GATEWAY_PORT),
    ] {
        if k.keys.iter().any(|(existing, _)| existing == key) {
            continue;
        }
        let host = if exposed.iter().any(|(p, _)| *p == port) {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        };
        args.push(key.into());
        args.push(serde_json::Value::String(format!("/ip4/{host}/tcp/{port}")).to_string());
    }
    args
}

pub(super) fn non_root(k: &Kubo<'_>) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(i64::from(k.uid)),
        run_as_group: Some(i64::from(k.gid)),
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    }
}
