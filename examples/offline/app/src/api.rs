//! PinShare's HTTP API (`internal/api/main_api.go` `Start`; routes of docs/spec/basemetadata.openapi.spec.yaml),
//! as far as pinshare-dev and its tests use it. It starts LAST in PinShare's start sequence, so nothing
//! listens on API_PORT (connection refused) until freshclam, the database, the identity and the libp2p host
//! are done. No request is logged (PinShare has no request logging).
//!
//! Real routes: `/health` (any method: the handler is registered without a method), `/metrics`,
//! `GET /files`, `GET /p2p/status` (the peer id), `GET /p2p/peers`, `/upload-status`.
//! Double-only routes: `POST /files` (body = file content, `?name=` or `X-Filename`): what dropping a file
//! into `./upload` does in PinShare (scan, `ipfs add`, store) without waiting for the 2-minute folder
//! watcher, answering the CID; `GET /version`: the image's VERSION file, so rebuilds are visible.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use sha2::Digest;
use std::convert::Infallible;
use std::sync::Arc;

use crate::ipfs_cmd;
use crate::store::Store;

/// What the handlers share.
pub struct State {
    pub cfg: crate::config::Config,
    pub store: Store,
    pub peer_id: String,
    pub addresses: Vec<String>,
    /// PinShare's `SecurityCapability` (3 = clamscan).
    pub security_capability: u8,
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// `json.NewEncoder(w).Encode(v)`: compact JSON and a newline.
fn json_resp(status: StatusCode, v: &serde_json::Value) -> Resp {
    respond(status, "application/json", format!("{v}\n"))
}

fn text(status: StatusCode, body: String) -> Resp {
    respond(status, "text/plain; charset=utf-8", body)
}

/// main_api.go `corsMiddleware`: the two UI origins are echoed, no Origin gets `*`, OPTIONS is answered 200
/// before routing (so `OPTIONS /anything` is 200 too).
fn cors(origin: Option<&str>, mut r: Resp) -> Resp {
    let h = r.headers_mut();
    let allow = match origin {
        None | Some("") => Some("*"),
        Some(o @ ("http://localhost:5174" | "http://localhost:5173")) => Some(o),
        Some(_) => None,
    };
    if let Some(v) = allow.and_then(|a| a.parse().ok()) {
        h.insert("Access-Control-Allow-Origin", v);
    }
    for (k, v) in [
        (
            "Access-Control-Allow-Methods",
            "GET, POST, PUT, DELETE, OPTIONS",
        ),
        (
            "Access-Control-Allow-Headers",
            "Content-Type, Authorization",
        ),
        ("Access-Control-Max-Age", "3600"),
    ] {
        h.insert(k, hyper::header::HeaderValue::from_static(v));
    }
    r
}

/// Serves one request.
pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let origin = req
        .headers()
        .get("Origin")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let resp = if req.method() == Method::OPTIONS {
        respond(StatusCode::OK, "text/plain; charset=utf-8", Bytes::new())
    } else {
        route(state, req).await
    };
    Ok(cors(origin.as_deref(), resp))
}

fn not_allowed() -> Resp {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed\n".into(),
    )
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Resp {
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    match req.uri().path() {
        "/health" => json_resp(StatusCode::OK, &json!({"status": "ok"})),
        "/metrics" => respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            "# HELP pinshare_standin_up The PinShare stand-in is serving.\n# TYPE pinshare_standin_up gauge\npinshare_standin_up 1\n",
        ),
        "/p2p/status" if get => json_resp(
            StatusCode::OK,
            &json!({"id": state.peer_id, "addresses": state.addresses, "connectedPeers": 0}),
        ),
        "/p2p/peers" if get => json_resp(StatusCode::OK, &json!([])),
        "/upload-status" | "/upload-status/active" => json_resp(StatusCode::OK, &json!({})),
        "/files" if get => json_resp(StatusCode::OK, &serde_json::Value::Array(state.store.all())),
        "/files" if req.method() == Method::POST => upload(state, req).await,
        "/version" if get => match std::fs::read(&state.cfg.version_file) {
            Ok(b) => respond(StatusCode::OK, "text/plain; charset=utf-8", b),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "{}\n",
                    standin_common::goerr::path_error(
                        "open",
                        std::path::Path::new(&state.cfg.version_file),
                        &e
                    )
                ),
            ),
        },
        "/p2p/status" | "/p2p/peers" | "/files" | "/version" => not_allowed(),
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
    }
}

/// A file name kept inside the upload folder.
fn safe_name(raw: Option<&str>) -> String {
    let n = raw.unwrap_or("").rsplit('/').next().unwrap_or("");
    if n.is_empty() || n == "." || n == ".." {
        "file".into()
    } else {
        n.to_string()
    }
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

async fn upload(state: Arc<State>, req: Request<Incoming>) -> Resp {
    let name = safe_name(
        req.uri()
            .query()
            .and_then(|q| query_param(q, "name"))
            .or_else(|| {
                req.headers()
                    .get("X-Filename")
                    .and_then(|v| v.to_str().ok())
            }),
    );
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("reading body: {e}\n")),
    };
    let out = tokio::task::spawn_blocking(move || process_upload(&state, &name, &body)).await;
    match out {
        Ok(Ok(cid)) => text(StatusCode::OK, format!("{cid}\n")),
        Ok(Err((status, msg))) => text(status, format!("{msg}\n")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// Double-only upload: writes the body into the upload folder, then processes it as the watcher would.
fn process_upload(state: &State, name: &str, body: &[u8]) -> Result<String, (StatusCode, String)> {
    let path = format!("{}/{name}", state.cfg.upload_folder);
    std::fs::write(&path, body).map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "[ERROR] {}",
                standin_common::goerr::path_error("open", std::path::Path::new(&path), &e)
            ),
        )
    })?;
    process_file(state, name)
}

/// `startFileWatcher`'s scan (`internal/p2p/uploads.go` `ProcessUploads`): every file of the upload folder.
pub fn scan_upload_folder(state: &State) {
    let Ok(dir) = std::fs::read_dir(&state.cfg.upload_folder) else {
        return;
    };
    for e in dir.flatten() {
        if e.file_type().is_ok_and(|t| t.is_file())
            && let Some(name) = e.file_name().to_str()
        {
            let _ = process_file(state, name);
        }
    }
}

/// `ProcessUploads` for one file: SHA-256, skip when already stored, clamscan (security capability 3),
/// `ipfs add --cid-version 1 --raw-leaves PATH -Q` (which pins), store, save.
fn process_file(state: &State, name: &str) -> Result<String, (StatusCode, String)> {
    let cfg = &state.cfg;
    let path = format!("{}/{name}", cfg.upload_folder);
    let body = std::fs::read(&path).map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            standin_common::goerr::path_error("open", std::path::Path::new(&path), &e),
        )
    })?;
    let sha = format!("{:x}", sha2::Sha256::digest(&body));
    if let Some(cid) = state.store.cid_of(&sha) {
        println!("[WARNING] File already exists in GlobalStore with SHA256: {sha} ");
        return Ok(cid);
    }
    if state.security_capability <= 3 {
        println!("[INFO] File Security checking file: {name} with SHA256: {sha}");
        let abs =
            std::fs::canonicalize(&path).map_or_else(|_| path.clone(), |p| p.display().to_string());
        println!("[INFO] Running ClamAv Scan of File {abs}");
        let scan = std::process::Command::new("clamscan")
            .args(["--no-summary", "--quiet", &abs])
            .output();
        match scan {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                println!("[ERROR] File Security check failed for file: {name} with SHA256: {sha}");
                if cfg.ff_move_upload {
                    let _ = std::fs::rename(&path, format!("{}/{name}", cfg.reject_folder));
                }
                return Err((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "clamscan: exit status {}: {}",
                        o.status.code().unwrap_or(-1),
                        String::from_utf8_lossy(&o.stdout).trim()
                    ),
                ));
            }
            Err(e) => {
                let msg = format!("exec: \"clamscan\": {}", standin_common::goerr::reason(&e));
                println!("[ERROR] (ClamScanFileClean) {msg}");
                return Err((StatusCode::INTERNAL_SERVER_ERROR, msg));
            }
        }
    }
    let cid = ipfs_cmd::run(&ipfs_cmd::add_argv(&path)).map_err(|e| {
        let msg = format!("ipfs add failed: {e}");
        println!("[ERROR] {msg}");
        (StatusCode::BAD_GATEWAY, msg)
    })?;
    println!("[INFO] File: {name} ++added to IPFS with CID: {cid}");
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e).to_lowercase();
    state.store.add(
        &sha,
        &cid.to_lowercase(),
        name,
        &ext,
        &crate::golog::rfc3339_now(),
    );
    println!("[INFO] File: {name} ++added to GlobalStore with CID: {cid}");
    if cfg.ff_move_upload {
        let _ = std::fs::rename(&path, format!("{}/{name}", cfg.cache_folder));
    }
    if let Err(e) = state.store.save(&cfg.metadata_file) {
        println!("[ERROR] saving {}: {e}", cfg.metadata_file);
    }
    Ok(cid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_stay_in_the_upload_folder() {
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_name(Some("..")), "file");
        assert_eq!(safe_name(None), "file");
        assert_eq!(safe_name(Some("a.txt")), "a.txt");
    }

    // PinShare internal/api/main_api.go corsMiddleware.
    #[test]
    fn cors_echoes_the_ui_origins_and_stars_same_origin_requests() {
        let r = cors(
            Some("http://localhost:5173"),
            text(StatusCode::OK, String::new()),
        );
        assert_eq!(
            r.headers()["Access-Control-Allow-Origin"],
            "http://localhost:5173"
        );
        let r = cors(None, text(StatusCode::OK, String::new()));
        assert_eq!(r.headers()["Access-Control-Allow-Origin"], "*");
        let r = cors(
            Some("http://evil.example"),
            text(StatusCode::OK, String::new()),
        );
        assert!(r.headers().get("Access-Control-Allow-Origin").is_none());
    }
}
