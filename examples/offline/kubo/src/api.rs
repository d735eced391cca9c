//! The daemon's HTTP RPC API (/api/v0/*) and gateway, with Kubo's origin rules.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cid::{self, EMPTY_DIR_CID};
use crate::http::{Request, Response};
use crate::multipart;

pub const VERSION: &str = "0.39.0";
pub const AGENT_VERSION: &str = "kubo/0.39.0/standin";

const ACAO: &str = "Access-Control-Allow-Origin";
const ACAM: &str = "Access-Control-Allow-Methods";
const ACAH: &str = "Access-Control-Allow-Headers";
const ACAC: &str = "Access-Control-Allow-Credentials";

/// Go's http.CanonicalHeaderKey.
pub fn canonical_header_key(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut upper = true;
    for c in k.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

/// CORS/CSRF settings read once from API.HTTPHeaders at daemon start.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// API.HTTPHeaders["Access-Control-Allow-Origin"].
    pub configured_origins: Vec<String>,
    /// Always allowed: http(s)://{localhost,127.0.0.1,[::1]}:<api port>.
    pub localhost_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Option<Vec<String>>,
    pub allow_credentials: Option<String>,
    /// Every other configured header (sent on every API response), values joined with ", ".
    pub extra_headers: Vec<(String, String)>,
}

impl Cors {
    pub fn from_config(cfg: &Value, api_port: u16) -> Cors {
        let mut c = Cors {
            allow_methods: vec!["POST".to_string()],
            localhost_origins: ["localhost", "127.0.0.1", "[::1]"]
                .iter()
                .flat_map(|h| {
                    [
                        format!("http://{h}:{api_port}"),
                        format!("https://{h}:{api_port}"),
                    ]
                })
                .collect(),
            ..Cors::default()
        };
        let Some(headers) = cfg.pointer("/API/HTTPHeaders").and_then(Value::as_object) else {
            return c;
        };
        for (k, v) in headers {
            let vals: Vec<String> = match v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => continue,
            };
            let key = canonical_header_key(k);
            match key.as_str() {
                ACAO => c.configured_origins = vals,
                ACAM => {
                    if !vals.is_empty() {
                        c.allow_methods = vals;
                    }
                }
                ACAH => c.allow_headers = Some(vals),
                ACAC => c.allow_credentials = vals.last().cloned(),
                _ => c.extra_headers.push((key, vals.join(", "))),
            }
        }
        c
    }

    /// Kubo's rule: exact match against the configured list (or "*"), plus the
    /// API's own localhost origins.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.configured_origins
            .iter()
            .any(|o| o == "*" || o == origin)
            || self.localhost_origins.iter().any(|o| o == origin)
    }

    /// Referer check used when there is no Origin: its scheme://host[:port] must be allowed.
    pub fn referer_allowed(&self, referer: &str) -> bool {
        let Some((scheme, rest)) = referer.split_once("://") else {
            return false;
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        self.origin_allowed(&format!("{scheme}://{host}"))
    }
}

fn api_error(status: u16, code: u8, msg: &str) -> Response {
    Response::json(
        status,
        format!(
            "{}\n",
            json!({"Message": msg, "Code": code, "Type": "error"})
        ),
    )
}

fn json_ok(v: Value) -> Response {
    Response::json(200, format!("{v}\n"))
}

pub struct Node {
    pub repo: PathBuf,
    pub peer_id: String,
    pub public_key: String,
    pub cors: Cors,
    lock: Mutex<()>,
}

impl Node {
    pub fn new(repo: PathBuf, peer_id: String, public_key: String, cors: Cors) -> Node {
        Node {
            repo,
            peer_id,
            public_key,
            cors,
            lock: Mutex::new(()),
        }
    }

    fn blocks_dir(&self) -> PathBuf {
        self.repo.join("blocks")
    }

    fn block_path(&self, cid: &str) -> PathBuf {
        self.blocks_dir().join(cid)
    }

    fn pins_path(&self) -> PathBuf {
        self.repo.join("pins.standin")
    }

    pub fn read_pins(&self) -> BTreeSet<String> {
        fs::read_to_string(self.pins_path())
            .map(|s| {
                s.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let tmp = path.with_file_name(format!(
            ".{}.tmp{}-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&tmp, data)
            .and_then(|_| fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                crate::sys::go_path_err("write", path, &e)
            })
    }

    fn add_pins(&self, cids: &[String]) -> Result<(), String> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut pins = self.read_pins();
        let before = pins.len();
        pins.extend(cids.iter().cloned());
        if pins.len() == before {
            return Ok(());
        }
        let text: String = pins.iter().map(|p| format!("{p}\n")).collect();
        self.write_atomic(&self.pins_path(), text.as_bytes())
    }

    fn remove_pins(&self, cids: &[String]) -> Result<(), String> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut pins = self.read_pins();
        for c in cids {
            if !pins.remove(c) {
                return Err("not pinned or pinned indirectly".to_string());
            }
        }
        let text: String = pins.iter().map(|p| format!("{p}\n")).collect();
        self.write_atomic(&self.pins_path(), text.as_bytes())
    }

    fn has_block(&self, cid: &str) -> bool {
        cid == EMPTY_DIR_CID || self.block_path(cid).is_file()
    }

    fn store(&self, cid: &str, data: &[u8]) -> Result<(), String> {
        let p = self.block_path(cid);
        if p.is_file() {
            return Ok(());
        }
        let dir = self.blocks_dir();
        fs::create_dir_all(&dir).map_err(|e| crate::sys::go_path_err("mkdir", &dir, &e))?;
        self.write_atomic(&p, data)
    }

    /// Handles everything on the API listener.
    pub fn handle_api(&self, req: &Request) -> Response {
        let origin = req.header("Origin").filter(|o| !o.is_empty());
        let cors = &self.cors;

        // CORS preflight.
        if req.method == "OPTIONS"
            && origin.is_some()
            && req.header("Access-Control-Request-Method").is_some()
        {
            let origin = origin.unwrap_or_default();
            if !cors.origin_allowed(origin) {
                return Response::text(403, "403 - Forbidden\n");
            }
            let mut r = Response::new(200)
                .with_header(ACAO, origin)
                .with_header(ACAM, &cors.allow_methods.join(", "))
                .with_header(
                    "Vary",
                    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
                );
            let req_headers = req.header("Access-Control-Request-Headers").unwrap_or("");
            match &cors.allow_headers {
                Some(h) => r = r.with_header(ACAH, &h.join(", ")),
                None if !req_headers.is_empty() => {
                    // rs/cors defaults: Origin, Accept, Content-Type, X-Requested-With
                    let default = ["origin", "accept", "content-type", "x-requested-with"];
                    let ok = req_headers
                        .split(',')
                        .all(|h| default.contains(&h.trim().to_ascii_lowercase().as_str()));
                    if ok {
                        r = r.with_header(ACAH, req_headers);
                    }
                }
                None => {}
            }
            if let Some(c) = &cors.allow_credentials {
                r = r.with_header(ACAC, c);
            }
            return r;
        }

        // Origin / Referer / browser-without-origin checks (go-ipfs-cmds).
        let forbidden = match (origin, req.header("Referer").filter(|r| !r.is_empty())) {
            (Some(o), _) => !cors.origin_allowed(o),
            (None, Some(r)) => !cors.referer_allowed(r),
            (None, None) => {
                req.method == "POST"
                    && req
                        .header("User-Agent")
                        .unwrap_or("")
                        .starts_with("Mozilla")
            }
        };
        if forbidden {
            return Response::text(403, "403 - Forbidden\n");
        }

        let mut resp = self.dispatch(req);
        for (k, v) in &cors.extra_headers {
            resp = resp.with_header(k, v);
        }
        if let Some(o) = origin {
            resp = resp.with_header(ACAO, o).with_header("Vary", "Origin");
            if let Some(c) = &cors.allow_credentials {
                resp = resp.with_header(ACAC, c);
            }
        }
        resp.with_header("Server", &format!("kubo/{VERSION}"))
    }

    fn dispatch(&self, req: &Request) -> Response {
        let Some(cmd) = req.path.strip_prefix("/api/v0/") else {
            if req.path == "/webui" || req.path.starts_with("/webui/") {
                return Response::text(404, "the WebUI is not bundled with the kubo stand-in\n");
            }
            return Response::text(404, "404 page not found\n");
        };
        if req.method == "OPTIONS" {
            return Response::new(204).with_header("Allow", "OPTIONS, POST");
        }
        if req.method != "POST" {
            return Response::text(405, "405 - Method Not Allowed\n")
                .with_header("Allow", "OPTIONS, POST");
        }
        let cmd = cmd.trim_end_matches('/');
        match cmd {
            "id" => json_ok(json!({
                "ID": self.peer_id,
                "PublicKey": self.public_key,
                "Addresses": [],
                "AgentVersion": AGENT_VERSION,
                "Protocols": []
            })),
            "version" => json_ok(json!({
                "Version": VERSION,
                "Commit": "standin",
                "Repo": crate::config::REPO_VERSION,
                "System": "amd64/linux",
                "Golang": "go1.25"
            })),
            "diag/healthy" => json_ok(json!({"Healthy": true, "ID": self.peer_id})),
            "add" => self.cmd_add(req),
            "cat" => self.cmd_cat(req),
            "pin/add" => self.cmd_pin_add(req),
            "pin/ls" => self.cmd_pin_ls(req),
            "pin/rm" => self.cmd_pin_rm(req),
            "dag/stat" => self.cmd_dag_stat(req),
            "swarm/peers" => json_ok(json!({"Peers": []})),
            "shutdown" => {
                std::thread::spawn(|| {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    crate::sys::log_line("Received shutdown request, shutting down...");
                    std::process::exit(0);
                });
                Response::new(200)
            }
            _ => Response::text(404, "404 page not found\n"),
        }
    }

    fn args(req: &Request) -> Vec<&str> {
        req.query
            .iter()
            .filter(|(k, _)| k == "arg")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn cmd_add(&self, req: &Request) -> Response {
        let cid_version = match req.param("cid-version") {
            None | Some("") | Some("0") => 0u8,
            Some("1") => 1,
            Some(v) => return api_error(400, 1, &format!("unknown CID version: {v}")),
        };
        let raw_leaves = match req.bool_param("raw-leaves", cid_version == 1) {
            Ok(b) => b,
            Err(e) => return api_error(400, 1, &e),
        };
        let (pin, only_hash, wrap, trickle) = match (
            req.bool_param("pin", true),
            req.bool_param("only-hash", false),
            req.bool_param("wrap-with-directory", false),
            req.bool_param("trickle", false),
        ) {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
                return api_error(400, 1, &e);
            }
        };
        if let Some(h) = req.param("hash").filter(|h| *h != "sha2-256") {
            return api_error(
                400,
                1,
                &format!("kubo stand-in: only hash=sha2-256 is supported, not {h:?}"),
            );
        }
        if let Some(c) = req
            .param("chunker")
            .filter(|c| !c.is_empty() && *c != "size-262144")
        {
            return api_error(
                400,
                1,
                &format!(
                    "kubo stand-in: only the default chunker (size-262144) is supported, not {c:?}"
                ),
            );
        }
        if wrap {
            return api_error(
                400,
                1,
                "kubo stand-in: wrap-with-directory is not supported",
            );
        }
        let Some(boundary) = req
            .header("Content-Type")
            .and_then(multipart::boundary_from_content_type)
        else {
            return api_error(
                400,
                1,
                "file argument 'path' is required (expected a multipart/form-data body)",
            );
        };
        let parts = match multipart::parse(&req.body, &boundary) {
            Ok(p) => p,
            Err(e) => return api_error(400, 1, &e),
        };
        if parts.is_empty() {
            return api_error(400, 1, "file argument 'path' is required");
        }
        let mut out = String::new();
        let mut to_pin = Vec::new();
        for part in &parts {
            if part
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/x-directory"))
            {
                return api_error(400, 1, "kubo stand-in: adding directories is not supported");
            }
            if trickle && part.data.len() > cid::CHUNK_SIZE {
                return api_error(
                    400,
                    1,
                    "kubo stand-in: trickle layout is not supported for multi-chunk files",
                );
            }
            let added = match cid::add_cid(&part.data, cid_version, raw_leaves) {
                Ok(a) => a,
                Err(e) => return api_error(400, 1, &e),
            };
            let c = added.cid.to_string();
            if !only_hash {
                if let Err(e) = self.store(&c, &part.data) {
                    return api_error(500, 0, &e);
                }
                if pin {
                    to_pin.push(c.clone());
                }
            }
            let name = part
                .filename
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| c.clone());
            out.push_str(
                &json!({"Name": name, "Hash": c, "Size": added.size.to_string()}).to_string(),
            );
            out.push('\n');
        }
        if let Err(e) = self.add_pins(&to_pin) {
            return api_error(500, 0, &e);
        }
        Response::json(200, out).with_header("X-Chunked-Output", "1")
    }

    fn one_cid(req: &Request, argname: &str) -> Result<String, Response> {
        let Some(arg) = Self::args(req).into_iter().next() else {
            return Err(api_error(
                400,
                1,
                &format!("argument \"{argname}\" is required"),
            ));
        };
        cid::normalize_cid_arg(arg)
            .ok_or_else(|| api_error(500, 0, &format!("invalid path {arg:?}: invalid cid")))
    }

    fn cmd_cat(&self, req: &Request) -> Response {
        let c = match Self::one_cid(req, "ipfs-path") {
            Ok(c) => c,
            Err(r) => return r,
        };
        if c == EMPTY_DIR_CID {
            return api_error(500, 0, "this dag node is a directory");
        }
        let data = match fs::read(self.block_path(&c)) {
            Ok(d) => d,
            Err(_) => {
                return api_error(
                    500,
                    0,
                    &format!("block was not found locally (offline): ipld: could not find {c}"),
                );
            }
        };
        let offset = req
            .param("offset")
            .and_then(|o| o.parse::<usize>().ok())
            .unwrap_or(0)
            .min(data.len());
        let end = match req.param("length").and_then(|l| l.parse::<usize>().ok()) {
            Some(l) => (offset + l).min(data.len()),
            None => data.len(),
        };
        Response::new(200)
            .with_header("Content-Type", "text/plain")
            .with_header("X-Stream-Output", "1")
            .with_body(data[offset..end].to_vec())
    }

    fn cmd_pin_add(&self, req: &Request) -> Response {
        let args = Self::args(req);
        if args.is_empty() {
            return api_error(400, 1, "argument \"ipfs-path\" is required");
        }
        let mut cids = Vec::new();
        for a in args {
            let Some(c) = cid::normalize_cid_arg(a) else {
                return api_error(500, 0, &format!("invalid path {a:?}: invalid cid"));
            };
            if !self.has_block(&c) {
                return api_error(
                    500,
                    0,
                    &format!(
                        "pin: block was not found locally (offline): ipld: could not find {c}"
                    ),
                );
            }
            cids.push(c);
        }
        match self.add_pins(&cids) {
            Ok(()) => json_ok(json!({"Pins": cids})),
            Err(e) => api_error(500, 0, &e),
        }
    }

    fn cmd_pin_rm(&self, req: &Request) -> Response {
        let args = Self::args(req);
        if args.is_empty() {
            return api_error(400, 1, "argument \"ipfs-path\" is required");
        }
        let cids: Vec<String> = args
            .iter()
            .filter_map(|a| cid::normalize_cid_arg(a))
            .collect();
        if cids.len() != args.len() {
            return api_error(500, 0, "invalid path: invalid cid");
        }
        match self.remove_pins(&cids) {
            Ok(()) => json_ok(json!({"Pins": cids})),
            Err(e) => api_error(500, 0, &e),
        }
    }

    fn cmd_pin_ls(&self, req: &Request) -> Response {
        let pins = self.read_pins();
        let mut keys = serde_json::Map::new();
        let args = Self::args(req);
        if args.is_empty() {
            for p in &pins {
                keys.insert(p.clone(), json!({"Type": "recursive"}));
            }
        } else {
            for a in args {
                match cid::normalize_cid_arg(a) {
                    Some(c) if pins.contains(&c) => {
                        keys.insert(c, json!({"Type": "recursive"}));
                    }
                    _ => return api_error(500, 0, &format!("path '{a}' is not pinned")),
                }
            }
        }
        json_ok(json!({"Keys": keys}))
    }

    fn cmd_dag_stat(&self, req: &Request) -> Response {
        let c = match Self::one_cid(req, "root") {
            Ok(c) => c,
            Err(r) => return r,
        };
        if c == EMPTY_DIR_CID {
            return json_ok(json!({"Size": 0, "NumBlocks": 1}));
        }
        match fs::metadata(self.block_path(&c)) {
            Ok(m) => {
                let n = m.len() as usize;
                let blocks = if n <= cid::CHUNK_SIZE {
                    1
                } else {
                    n.div_ceil(cid::CHUNK_SIZE) + 1
                };
                json_ok(json!({"Size": n, "NumBlocks": blocks}))
            }
            Err(_) => api_error(
                500,
                0,
                &format!("block was not found locally (offline): ipld: could not find {c}"),
            ),
        }
    }

    /// Read-only path gateway: GET/HEAD /ipfs/<cid>.
    pub fn handle_gateway(&self, req: &Request) -> Response {
        if req.method != "GET" && req.method != "HEAD" {
            return Response::text(405, "405 - Method Not Allowed\n")
                .with_header("Allow", "GET, HEAD, OPTIONS");
        }
        let Some(rest) = req.path.strip_prefix("/ipfs/") else {
            return Response::text(404, "404 page not found\n");
        };
        let Some(c) = cid::normalize_cid_arg(rest) else {
            return Response::text(
                400,
                format!("failed to resolve /ipfs/{rest}: invalid cid\n"),
            );
        };
        match fs::read(self.block_path(&c)) {
            Ok(d) => Response::new(200)
                .with_header("Content-Type", "application/octet-stream")
                .with_header("Etag", &format!("\"{c}\""))
                .with_header("X-Ipfs-Path", &format!("/ipfs/{c}"))
                .with_body(d),
            Err(_) => Response::text(
                404,
                format!(
                    "failed to resolve /ipfs/{c}: block not found (kubo stand-in is offline)\n"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Request;

    fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        Request {
            method: method.into(),
            path: p.into(),
            query: crate::http::parse_query(q),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn hdr<'a>(r: &'a Response, k: &str) -> Option<&'a str> {
        crate::http::find_header(&r.headers, k)
    }

    fn node(cfg: Value) -> (Node, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "kubo-standin-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(dir.join("blocks")).unwrap();
        let cors = Cors::from_config(&cfg, 5001);
        (
            Node::new(dir.clone(), "12D3KooWtest".into(), "CAESI".into(), cors),
            dir,
        )
    }

    #[test]
    fn origin_rule() {
        let cfg = json!({"API": {"HTTPHeaders": {
            "Access-Control-Allow-Origin": ["http://localhost:5173"],
            "Access-Control-Allow-Credentials": ["true"],
            "Access-Control-Expose-Headers": ["Location", "X-Foo"]
        }}});
        let c = Cors::from_config(&cfg, 5001);
        assert!(c.origin_allowed("http://localhost:5173"));
        assert!(c.origin_allowed("http://localhost:5001"));
        assert!(c.origin_allowed("http://127.0.0.1:5001"));
        assert!(!c.origin_allowed("http://localhost:5174"));
        assert!(!c.origin_allowed("http://localhost:5173/"));
        assert!(!c.origin_allowed("http://evil.example"));
        assert!(!c.origin_allowed("http://127.0.0.1:8080"));
        assert_eq!(c.allow_credentials.as_deref(), Some("true"));
        assert_eq!(
            c.extra_headers,
            vec![(
                "Access-Control-Expose-Headers".to_string(),
                "Location, X-Foo".to_string()
            )]
        );
        assert!(c.referer_allowed("http://localhost:5173/some/page?x"));
        assert!(!c.referer_allowed("http://evil.example/"));

        let star = Cors::from_config(
            &json!({"API": {"HTTPHeaders": {"Access-Control-Allow-Origin": ["*"]}}}),
            5001,
        );
        assert!(star.origin_allowed("http://evil.example"));
        let none = Cors::from_config(&json!({}), 5001);
        assert!(!none.origin_allowed("http://localhost:5173"));
        assert_eq!(none.allow_methods, vec!["POST"]);
    }

    #[test]
    fn api_methods_and_origins() {
        let (n, dir) = node(json!({"API": {"HTTPHeaders": {
            "Access-Control-Allow-Origin": ["http://localhost:5173"],
            "Access-Control-Allow-Methods": ["PUT", "POST"]
        }}}));
        let r = n.handle_api(&req("GET", "/api/v0/id", &[]));
        assert_eq!(r.status, 405);
        assert_eq!(r.body, b"405 - Method Not Allowed\n");
        let r = n.handle_api(&req("POST", "/api/v0/id", &[]));
        assert_eq!(r.status, 200);
        assert!(hdr(&r, ACAO).is_none());
        let r = n.handle_api(&req(
            "POST",
            "/api/v0/id",
            &[("Origin", "http://localhost:5173")],
        ));
        assert_eq!(r.status, 200);
        assert_eq!(hdr(&r, ACAO), Some("http://localhost:5173"));
        let r = n.handle_api(&req(
            "POST",
            "/api/v0/id",
            &[("Origin", "http://evil.example")],
        ));
        assert_eq!(r.status, 403);
        assert_eq!(r.body, b"403 - Forbidden\n");
        let r = n.handle_api(&req("POST", "/api/v0/id", &[("User-Agent", "Mozilla/5.0")]));
        assert_eq!(r.status, 403);
        let pre = [
            ("Origin", "http://localhost:5173"),
            ("Access-Control-Request-Method", "POST"),
        ];
        let r = n.handle_api(&req("OPTIONS", "/api/v0/add", &pre));
        assert_eq!(r.status, 200);
        assert_eq!(hdr(&r, ACAM), Some("PUT, POST"));
        let pre = [
            ("Origin", "http://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ];
        assert_eq!(
            n.handle_api(&req("OPTIONS", "/api/v0/add", &pre)).status,
            403
        );
        assert_eq!(n.handle_api(&req("POST", "/api/v0/nope", &[])).status, 404);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn add_cat_pin_round_trip() {
        let (n, dir) = node(json!({}));
        let (ct, body) = multipart::build_file("file", "hello.txt", b"hello world\n");
        let mut r = req(
            "POST",
            "/api/v0/add?cid-version=1&raw-leaves=true&pin=true",
            &[("Content-Type", &ct)],
        );
        r.body = body;
        let resp = n.handle_api(&r);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        let cid = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
        assert_eq!(v, json!({"Name": "hello.txt", "Hash": cid, "Size": "12"}));
        let resp = n.handle_api(&req("POST", &format!("/api/v0/cat?arg={cid}"), &[]));
        assert_eq!(resp.body, b"hello world\n");
        let resp = n.handle_api(&req("POST", "/api/v0/pin/ls", &[]));
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["Keys"][cid]["Type"], "recursive");
        let resp = n.handle_api(&req(
            "POST",
            &format!("/api/v0/pin/add?arg=/ipfs/{cid}"),
            &[],
        ));
        assert_eq!(resp.status, 200);
        let resp = n.handle_api(&req(
            "POST",
            "/api/v0/cat?arg=bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &[],
        ));
        assert_eq!(resp.status, 500);
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["Type"], "error");
        fs::remove_dir_all(dir).unwrap();
    }
}
