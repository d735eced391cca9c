//! The dashboard's kubo panel, read by the tool through kubo's RPC API (the browser never calls kubo, whose API
//! is admin-level): the peer id, the connected peers, the repo's size and the CORS origins configured, with
//! links to the gateway where the spec publishes it. Every call is a POST with no `Origin` from a program's
//! User-Agent, which kubo takes (kubo v0.42.0 core/corehttp/commands.go; go-ipfs-cmds http/handler.go).
//!
//! - `id` → `ID`, `AgentVersion` (core/commands/id.go `IdOutput`);
//! - `swarm/peers` → `Peers`, `null` when there are none (core/commands/swarm.go: a nil slice);
//! - `repo/stat?size-only=true` → `RepoSize`, `StorageMax` (core/commands/repo.go, core/corerepo/stat.go:
//!   `size-only` spares kubo the walk over every block that `NumObjects` costs);
//! - `config?arg=API.HTTPHeaders` → `{"Key", "Value"}` with the headers map (core/commands/config.go); the
//!   origins are `Access-Control-Allow-Origin`, matched exactly as kubo matches it. kubo reads them once at
//!   daemon start (core/corehttp/commands.go `addHeadersFromConfig`); `kubo_config` writes them before it.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::Value;

use crate::engine::Engine;
use crate::spec::{ImageSource, InitAction, Protocol, Service, Spec};

/// One call's longest wait.
const TIMEOUT: Duration = Duration::from_secs(3);
/// kubo's RPC and gateway ports in the image (the entrypoint's `Addresses.API` and `.Gateway`).
const API_PORT: u16 = 5001;
const GATEWAY_PORT: u16 = 8080;

/// What the panel shows of one kubo service.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Kubo {
    /// The service.
    pub service: String,
    /// Where the tool reached its RPC API.
    pub api: Option<String>,
    /// `ID`.
    pub peer_id: Option<String>,
    /// `AgentVersion`.
    pub agent: Option<String>,
    /// Connected peers.
    pub peers: Option<usize>,
    /// `RepoSize`, bytes.
    pub repo_size: Option<u64>,
    /// `StorageMax`, bytes (none when kubo says unlimited).
    pub storage_max: Option<u64>,
    /// `API.HTTPHeaders.Access-Control-Allow-Origin`.
    pub origins: Option<Vec<String>>,
    /// `API.HTTPHeaders.Access-Control-Allow-Methods`.
    pub methods: Option<Vec<String>>,
    /// The gateway as the host reaches it: `http://127.0.0.1:PORT`, per published gateway port.
    pub gateways: Vec<String>,
    /// What could not be read, one line per call.
    pub errors: Vec<String>,
}

/// Whether `svc` runs kubo: it has `kubo_config`, or its image is `ipfs/kubo`.
pub fn is_kubo(svc: &Service) -> bool {
    let kubo_image = match &svc.image {
        ImageSource::Pull { reference: r } => {
            r.starts_with("ipfs/kubo") || r.contains("/ipfs/kubo")
        }
        ImageSource::Build(_) => false,
    };
    kubo_image
        || svc
            .init
            .iter()
            .any(|s| matches!(s.action, InitAction::KuboConfig { .. }))
}

/// The container port in `key` of `kubo_config` (`/ip4/0.0.0.0/tcp/5001`), else `default`.
fn configured_port(svc: &Service, key: &str, default: u16) -> u16 {
    svc.init
        .iter()
        .find_map(|s| match &s.action {
            InitAction::KuboConfig { keys, .. } => keys.iter().find(|(k, _)| k == key),
            InitAction::Command(_) => None,
        })
        .and_then(|(_, v)| v.as_str())
        .and_then(|a| a.split("/tcp/").nth(1))
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

/// The gateway's host URLs: the published host ports of its container port.
pub fn gateways(svc: &Service) -> Vec<String> {
    let port = configured_port(svc, "Addresses.Gateway", GATEWAY_PORT);
    svc.ports
        .iter()
        .filter(|p| p.protocol == Protocol::Tcp && p.container_port == port)
        .map(|p| format!("http://{}", SocketAddr::new(p.reach_ip(), p.host_port)))
        .collect()
}

/// Reads every kubo service of `spec` (none: an empty list).
pub async fn read_all(engine: &dyn Engine, spec: &Spec) -> Vec<Kubo> {
    let mut out = Vec::new();
    for name in spec.order.iter().filter(|n| is_kubo(&spec.services[*n])) {
        out.push(read(engine, spec, &spec.services[name]).await);
    }
    out
}

/// Reads one kubo service through its RPC API.
pub async fn read(engine: &dyn Engine, spec: &Spec, svc: &Service) -> Kubo {
    let mut k = Kubo {
        service: svc.name.clone(),
        gateways: gateways(svc),
        ..Kubo::default()
    };
    let port = configured_port(svc, "Addresses.API", API_PORT);
    let addr = match crate::probe::ready::port_resolver(engine, spec, svc).await {
        Ok(resolve) => resolve(port),
        Err(e) => {
            k.errors.push(e.to_string());
            return k;
        }
    };
    let Some(addr) = addr else {
        k.errors.push(format!(
            "kubo's RPC port {port} is neither published nor reachable on the project network: is {} running?",
            svc.name
        ));
        return k;
    };
    k.api = Some(addr.to_string());
    let (id, peers, repo, headers) = tokio::join!(
        call(addr, "/api/v0/id"),
        call(addr, "/api/v0/swarm/peers"),
        call(addr, "/api/v0/repo/stat?size-only=true"),
        call(addr, "/api/v0/config?arg=API.HTTPHeaders"),
    );
    let mut failed = |e: String| k.errors.push(e);
    let id = id.map_err(&mut failed).ok();
    let peers = peers.map_err(&mut failed).ok();
    let repo = repo.map_err(&mut failed).ok();
    let headers = headers.map_err(&mut failed).ok();
    fill(&mut k, id, peers, repo, headers);
    k
}

/// The panel's figures from the four answers (each `None` when its call failed).
fn fill(
    k: &mut Kubo,
    id: Option<Value>,
    peers: Option<Value>,
    repo: Option<Value>,
    headers: Option<Value>,
) {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(id) = id {
        k.peer_id = text(&id, "ID");
        k.agent = text(&id, "AgentVersion");
    }
    // `null` is kubo's answer for no peers.
    k.peers = peers.map(|p| p.get("Peers").and_then(Value::as_array).map_or(0, Vec::len));
    if let Some(r) = repo {
        k.repo_size = r.get("RepoSize").and_then(Value::as_u64);
        k.storage_max = r
            .get("StorageMax")
            .and_then(Value::as_u64)
            .filter(|m| *m != u64::MAX);
    }
    if let Some(h) = headers {
        let list = |name: &str| {
            let v = h.get("Value").and_then(|m| m.get(name));
            Some(
                v.and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        };
        k.origins = list("Access-Control-Allow-Origin");
        k.methods = list("Access-Control-Allow-Methods");
    }
}

/// One RPC call: a POST with no body; the JSON answer, or what went wrong.
async fn call(addr: SocketAddr, path: &str) -> Result<Value, String> {
    let what = |e: &dyn std::fmt::Display| format!("POST http://{addr}{path}: {e}");
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| what(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| what(&e))?;
        let conn = tokio::spawn(conn);
        let req = Request::post(path)
            .header("host", addr.to_string())
            .header("user-agent", "pinshare-dev-dashboard")
            .header("content-length", "0")
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| what(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| what(&e))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| what(&e))?
            .to_bytes();
        conn.abort();
        if !status.is_success() {
            // kubo's errors are `{"Message": ..., "Code": ..., "Type": "error"}`.
            let said = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("Message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(what(&format!("HTTP {}: {said}", status.as_u16())));
        }
        serde_json::from_slice(&body).map_err(|e| what(&e))
    };
    tokio::time::timeout(TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(what(&format!("no answer within {} s", TIMEOUT.as_secs()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubo_answers_become_the_panel_and_null_peers_are_none() {
        let mut k = Kubo::default();
        fill(
            &mut k,
            Some(json!({"ID": "12D3KooWx", "AgentVersion": "kubo/0.42.0/"})),
            // kubo's nil slice: connected to no one.
            Some(json!({"Peers": null})),
            Some(json!({"RepoSize": 15, "StorageMax": u64::MAX, "NumObjects": 0})),
            Some(json!({"Key": "API.HTTPHeaders", "Value": {
                "Access-Control-Allow-Origin": ["http://localhost:5173"],
                "access-control-allow-methods": ["GET"]}})),
        );
        assert_eq!(k.peer_id.as_deref(), Some("12D3KooWx"));
        assert_eq!(k.peers, Some(0));
        assert_eq!((k.repo_size, k.storage_max), (Some(15), None));
        assert_eq!(k.origins, Some(vec!["http://localhost:5173".to_string()]));
        // kubo matches the key exactly: a wrong-case one is not in force.
        assert_eq!(k.methods, Some(vec![]));
        let mut k = Kubo::default();
        fill(
            &mut k,
            None,
            Some(json!({"Peers": [{"Peer": "a"}, {"Peer": "b"}]})),
            None,
            None,
        );
        assert_eq!((k.peers, k.origins), (Some(2), None));
    }
}
