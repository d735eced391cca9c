//! The daemon's HTTP RPC API (/api/v0/*) and gateway, with Kubo's origin rules.

use serde_json::{Value, json};
use standin_common::goerr;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cid::{self, EMPTY_DIR_CID};
use crate::http::{Request, Response};
use crate::multipart;

use crate::cors::{Gate, Policy};
use crate::version::Kubo;

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

/// go-humanize ParseBytes for the units a kubo config uses: a number, optional space, then B, kB/KB, MB, GB,
/// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive; a bare number is bytes.
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(at);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024.0_f64.powi(4),
        _ => return None,
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((n * mult) as u64)
}

pub struct Node {
    pub repo: PathBuf,
    pub peer_id: String,
    pub public_key: String,
    pub kubo: Kubo,
    /// Set on the daemon's node; the local executor runs commands without the HTTP layers.
    policy: Option<Policy>,
    lock: Mutex<()>,
}

impl Node {
    /// The node of an initialized repo (the caller holds the repo lock).
    pub fn open(repo: &Path, kubo: Kubo) -> Node {
        let cfg = crate::config::read_config(repo).unwrap_or(Value::Null);
        Node {
            repo: repo.to_path_buf(),
            peer_id: cfg
                .pointer("/Identity/PeerID")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            public_key: crate::config::public_key_from_config(&cfg),
            kubo,
            policy: None,
            lock: Mutex::new(()),
        }
    }

    pub fn with_policy(mut self, p: Policy) -> Node {
        self.policy = Some(p);
        self
    }

    /// kubo cmd/ipfs/kubo/init.go initializeIpnsKeyspace: the empty directory, pinned recursively.
    pub fn pin_empty_dir(&self) -> Result<(), String> {
        self.add_pins(&[EMPTY_DIR_CID.to_string()])
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
                goerr::path_error("write", path, &e)
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
        fs::create_dir_all(&dir).map_err(|e| goerr::path_error("mkdir", &dir, &e))?;
        self.write_atomic(&p, data)
    }

    /// Handles everything on the API listener: kubo's mux sends `/api/v0/` through the access
    /// layers (see [`crate::cors`]) to the commands.
    pub fn handle_api(&self, req: &Request) -> Response {
        if !req.path.starts_with("/api/v0/") {
            if req.path == "/webui" || req.path.starts_with("/webui/") {
                return Response::text(404, "the WebUI is not bundled with the kubo stand-in\n");
            }
            return Response::text(404, "404 page not found\n");
        }
        let Some(policy) = &self.policy else {
            return self.dispatch(req);
        };
        let cors = match policy.gate(req) {
            Gate::Respond(r) => return r,
            Gate::Proceed { cors } => cors,
        };
        let mut resp = self.dispatch(req);
        let reached_command = resp.status != 404 || !resp.body.starts_with(b"404 page not found");
        let mut headers: Vec<(String, String)> = cors;
        if reached_command {
            for (k, v) in policy.user_headers() {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        headers.append(&mut resp.headers);
        resp.headers = headers;
        resp
    }

    /// One command (go-ipfs-cmds parseRequest + the command's Run).
    pub fn dispatch(&self, req: &Request) -> Response {
        let cmd = req.path.strip_prefix("/api/v0/").unwrap_or("");
        let cmd = cmd.trim_end_matches('/');
        let v = self.kubo.number();
        match cmd {
            "id" => json_ok(json!({
                "ID": self.peer_id,
                "PublicKey": self.public_key,
                "Addresses": [],
                "AgentVersion": format!("kubo/{v}/"),
                "Protocols": []
            })),
            "version" => json_ok(json!({
                "Version": v,
                "Commit": "",
                "Repo": crate::config::REPO_VERSION,
                "System": "amd64/linux",
                "Golang": self.kubo.golang()
            })),
            // kubo v0.42.0 core/commands/diag.go diagHealthyCmd: resolves the empty directory, emits "ok".
            "diag/healthy" if self.kubo.has_diag_healthy() => json_ok(json!("ok")),
            "config" => self.cmd_config(req),
            "config/show" => self.cmd_config_show(),
            "get" => self.cmd_get(req),
            "add" => self.cmd_add(req),
            "cat" => self.cmd_cat(req),
            "pin/add" => self.cmd_pin_add(req),
            "pin/ls" => self.cmd_pin_ls(req),
            "pin/rm" => self.cmd_pin_rm(req),
            "dag/stat" => self.cmd_dag_stat(req),
            // kubo v0.42.0 core/commands/swarm.go swarmPeersCmd: `var out connInfos` and a Peers slice
            // appended per connection; the double is connected to no one, so the nil slice: null.
            "swarm/peers" => json_ok(json!({"Peers": null})),
            "repo/stat" => self.cmd_repo_stat(req),
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
                keys.insert(p.clone(), json!({"Type": "recursive", "Name": ""}));
            }
        } else {
            for a in args {
                match cid::normalize_cid_arg(a) {
                    Some(c) if pins.contains(&c) => {
                        keys.insert(c, json!({"Type": "recursive", "Name": ""}));
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
        // kubo core/commands/dag/dag.go DagStatSummary (TotalSize counts block bytes; the empty
        // directory is one 4-byte block).
        let (size, blocks) = if c == EMPTY_DIR_CID {
            (4, 1) // the dag-pb node 0a 02 08 01
        } else {
            match fs::metadata(self.block_path(&c)) {
                Ok(m) => {
                    let n = m.len() as usize;
                    let blocks = if n <= cid::CHUNK_SIZE {
                        1
                    } else {
                        n.div_ceil(cid::CHUNK_SIZE) + 1
                    };
                    (n, blocks)
                }
                Err(_) => {
                    return api_error(
                        500,
                        0,
                        &format!("block was not found locally (offline): ipld: could not find {c}"),
                    );
                }
            }
        };
        json_ok(json!({
            "UniqueBlocks": blocks,
            "TotalSize": size,
            "Ratio": 1,
            "DagStats": [{"Cid": c, "Size": size, "NumBlocks": blocks}]
        }))
    }

    /// kubo core/commands/config.go ConfigCmd Run (repo side: fsrepo GetConfigKey / SetConfigKey).
    fn cmd_config(&self, req: &Request) -> Response {
        let args = Self::args(req);
        let Some(key) = args.first().copied() else {
            return api_error(400, 1, "argument \"key\" is required");
        };
        if matches!(key.to_lowercase().as_str(), "identity" | "identity.privkey") {
            return api_error(500, 0, "cannot show or change private key through API");
        }
        let conceal = ["Pinning", "RemoteServices", "*", "API", "Key"];
        if key
            .split('.')
            .zip(conceal)
            .all(|(k, g)| g == "*" || k.eq_ignore_ascii_case(g))
        {
            return api_error(500, 0, "cannot show or change pinning services credentials");
        }
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut cfg = match crate::config::read_config(&self.repo) {
            Ok(c) => c,
            Err(e) => return api_error(500, 0, &e),
        };
        if let Some(value) = args.get(1) {
            let v = if req.bool_param("json", false).unwrap_or(false) {
                match serde_json::from_str::<Value>(value) {
                    Ok(v) => v,
                    Err(e) => return api_error(500, 0, &format!("failed to unmarshal json. {e}")),
                }
            } else if req.bool_param("bool", false).unwrap_or(false) {
                Value::Bool(*value == "true")
            } else {
                Value::String((*value).to_string())
            };
            let set = crate::config::check_key(self.kubo.config_keys(), key)
                .and_then(|()| crate::config::set_key(&mut cfg, key, v))
                .and_then(|()| crate::config::check_types(&cfg))
                .and_then(|()| crate::config::write_config(&self.repo, &cfg));
            if let Err(e) = set {
                return api_error(
                    500,
                    0,
                    &format!("failed to set config value: {e} (maybe use --json?)"),
                );
            }
        }
        match crate::config::get_key(&cfg, key) {
            Ok(v) => json_ok(json!({"Key": key, "Value": v})),
            Err(e) => api_error(500, 0, &format!("failed to get config value: {e:?}")),
        }
    }

    /// kubo v0.42.0 core/commands/repo.go repoStatCmd and core/corerepo/stat.go: `Stat` embeds `SizeStat`, so
    /// one flat object; `size-only` leaves the other fields at Go's zero values. RepoSize is the datastore's
    /// disk usage (here the blocks directory, plus the empty directory's 4-byte block that `ipfs init` stores);
    /// StorageMax is `Datastore.StorageMax` parsed by go-humanize (SI units), or MaxUint64 when unset.
    fn cmd_repo_stat(&self, req: &Request) -> Response {
        let size_only = match req.bool_param("size-only", false) {
            Ok(b) => b,
            Err(e) => return api_error(400, 1, &e),
        };
        let cfg = match crate::config::read_config(&self.repo) {
            Ok(c) => c,
            Err(e) => return api_error(500, 0, &e),
        };
        let storage_max = match cfg.pointer("/Datastore/StorageMax").and_then(Value::as_str) {
            None | Some("") => u64::MAX,
            Some(s) => match parse_bytes(s) {
                Some(n) => n,
                None => {
                    return api_error(
                        500,
                        0,
                        &format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"),
                    );
                }
            },
        };
        let blocks: Vec<u64> = fs::read_dir(self.blocks_dir())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .filter(fs::Metadata::is_file)
                    .map(|m| m.len())
                    .collect()
            })
            .unwrap_or_default();
        let size = 4 + blocks.iter().sum::<u64>();
        if size_only {
            return json_ok(json!({"RepoSize": size, "StorageMax": storage_max,
                                  "NumObjects": 0, "RepoPath": "", "Version": ""}));
        }
        json_ok(json!({
            "RepoSize": size,
            "StorageMax": storage_max,
            "NumObjects": blocks.len() + 1,
            "RepoPath": self.repo.display().to_string(),
            "Version": format!("fs-repo@{}", crate::config::REPO_VERSION),
        }))
    }

    /// kubo core/commands/config.go configShowCmd: the file, without the private key.
    fn cmd_config_show(&self) -> Response {
        match crate::config::read_config(&self.repo) {
            Ok(mut cfg) => {
                if let Some(id) = cfg.get_mut("Identity").and_then(Value::as_object_mut) {
                    id.remove("PrivKey");
                }
                json_ok(cfg)
            }
            Err(e) => api_error(500, 0, &e),
        }
    }

    /// kubo core/commands/get.go: a tar stream holding the file under the CID's name.
    fn cmd_get(&self, req: &Request) -> Response {
        let c = match Self::one_cid(req, "ipfs-path") {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut b = tar::Builder::new(Vec::new());
        let res = if c == EMPTY_DIR_CID {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, &c, std::io::empty())
        } else {
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
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, &c, &data[..])
        };
        match res.and_then(|()| b.into_inner()) {
            Ok(t) => Response::new(200)
                .with_header("Content-Type", "application/x-tar")
                .with_header("X-Stream-Output", "1")
                .with_body(t),
            Err(e) => api_error(500, 0, &e.to_string()),
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

    const PEER: &str = "12D3KooWtest";
    const PORT: u16 = 5001;

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

    fn hdrs<'a>(r: &'a Response, k: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(h, _)| h.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    struct TestNode {
        node: Node,
        dir: PathBuf,
    }

    impl Drop for TestNode {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn node_v(cfg: Value, kubo: Kubo) -> TestNode {
        let dir = std::env::temp_dir().join(format!(
            "kubo-standin-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(dir.join("blocks")).unwrap();
        let policy = Policy::from_config(&cfg, PORT, kubo.number(), None);
        let mut node = Node::open(&dir, kubo).with_policy(policy);
        node.peer_id = PEER.into();
        TestNode { node, dir }
    }

    fn node(cfg: Value) -> TestNode {
        node_v(cfg, Kubo::V0_42_0)
    }

    fn post_id(n: &Node, headers: &[(&str, &str)]) -> Response {
        n.handle_api(&req("POST", "/api/v0/id", headers))
    }

    fn body(r: &Response) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    // ---- kubo v0.42.0 test/sharness/t0401-api-browser-security.sh, first daemon (no CORS config)

    #[test]
    fn t0401_browser_is_unable_to_access_api_without_origin() {
        let t = node(json!({}));
        let r = post_id(&t.node, &[("User-Agent", "Mozilla")]);
        assert_eq!(r.status, 403);
        assert_eq!(body(&r), "403 - Forbidden\n");
    }

    #[test]
    fn t0401_browser_is_unable_to_access_api_with_invalid_origin() {
        let t = node(json!({}));
        let r = post_id(
            &t.node,
            &[
                ("User-Agent", "Mozilla"),
                ("Origin", "https://invalid.example.com"),
            ],
        );
        assert_eq!(r.status, 403);
    }

    #[test]
    fn t0401_browser_is_able_to_access_api_if_origin_is_the_api_port_on_localhost() {
        let t = node(json!({}));
        for o in [
            format!("http://127.0.0.1:{PORT}"),
            format!("http://[::1]:{PORT}"),
            format!("http://localhost:{PORT}"),
        ] {
            let r = post_id(&t.node, &[("User-Agent", "Mozilla"), ("Origin", &o)]);
            assert_eq!(r.status, 200, "{o}");
            assert!(body(&r).contains(PEER), "{o}");
        }
    }

    #[test]
    fn t0401_random_browser_extension_is_unable_to_access_rpc_api() {
        let t = node(json!({}));
        let r = post_id(
            &t.node,
            &[
                ("User-Agent", "Mozilla"),
                ("Origin", "chrome-extension://invalidextensionid"),
            ],
        );
        assert_eq!(r.status, 403);
    }

    #[test]
    fn t0401_companion_extensions_are_able_to_access_rpc_api() {
        let t = node(json!({}));
        for o in [
            "chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch",
            "chrome-extension://hjoieblefckbooibpepigmacodalfndh",
        ] {
            let r = post_id(&t.node, &[("User-Agent", "Mozilla"), ("Origin", o)]);
            assert_eq!(r.status, 200, "{o}");
            assert!(body(&r).contains(PEER));
        }
    }

    // ---- t0401, second daemon: Allow-Origin [valid.example.com], Allow-Methods [POST],
    //      Allow-Headers [X-Requested-With], set with `ipfs config --json`.

    fn t0401_cfg() -> Value {
        json!({"API": {"HTTPHeaders": {
            "Access-Control-Allow-Origin": ["https://valid.example.com"],
            "Access-Control-Allow-Methods": ["POST"],
            "Access-Control-Allow-Headers": ["X-Requested-With"]
        }}})
    }

    #[test]
    fn t0401_companion_extension_is_allowed_even_when_custom_allow_origin_is_set() {
        let t = node(t0401_cfg());
        let r = post_id(
            &t.node,
            &[
                ("User-Agent", "Mozilla"),
                (
                    "Origin",
                    "chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch",
                ),
            ],
        );
        assert_eq!(r.status, 200);
        assert!(body(&r).contains(PEER));
    }

    #[test]
    fn t0401_options_preflight_with_cors_allowlist_succeeds_and_echoes_origin() {
        let t = node(t0401_cfg());
        let r = t.node.handle_api(&req(
            "OPTIONS",
            "/api/v0/id",
            &[
                ("User-Agent", "Mozilla"),
                ("Origin", "https://valid.example.com"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "origin, x-requested-with"),
            ],
        ));
        // rs/cors v1.11.1 cors.go Handler: preflights end in OptionsSuccessStatus = 204.
        assert_eq!(r.status, 204);
        assert_eq!(
            hdr(&r, "Access-Control-Allow-Origin"),
            Some("https://valid.example.com")
        );
        assert_eq!(hdr(&r, "Access-Control-Allow-Methods"), Some("POST"));
        assert_eq!(
            hdr(&r, "Access-Control-Allow-Headers"),
            Some("origin, x-requested-with")
        );
    }

    #[test]
    fn t0401_browser_is_able_to_access_api_with_valid_origin_matching_cors_allowlist() {
        let t = node(t0401_cfg());
        let r = post_id(
            &t.node,
            &[
                ("User-Agent", "Mozilla"),
                ("Origin", "https://valid.example.com"),
            ],
        );
        assert_eq!(r.status, 200);
        assert!(body(&r).contains(PEER));
        // rs/cors handleActualRequest: the origin is echoed, with Vary: Origin.
        assert_eq!(
            hdr(&r, "Access-Control-Allow-Origin"),
            Some("https://valid.example.com")
        );
        assert_eq!(hdr(&r, "Vary"), Some("Origin"));
    }

    // ---- go-ipfs-cmds v0.16.1 http/handler.go ServeHTTP (kubo v0.42.0; same in v0.15.0 / v0.39.0)

    #[test]
    fn get_and_head_are_405_before_any_origin_check() {
        let t = node(json!({}));
        for m in ["GET", "HEAD", "PUT", "DELETE"] {
            let r = t.node.handle_api(&req(
                m,
                "/api/v0/id",
                &[("Origin", "https://evil.example.com")],
            ));
            assert_eq!(r.status, 405, "{m}");
            assert_eq!(body(&r), "405 - Method Not Allowed\n");
            assert_eq!(hdr(&r, "Allow"), Some("OPTIONS, POST"));
        }
    }

    #[test]
    fn options_without_request_method_is_204_with_allow() {
        let t = node(json!({}));
        let r = t.node.handle_api(&req("OPTIONS", "/api/v0/id", &[]));
        assert_eq!(r.status, 204);
        assert_eq!(hdr(&r, "Allow"), Some("OPTIONS, POST"));
    }

    // rs/cors v1.11.1 cors.go handlePreflight: a disallowed origin gets 204 and no CORS headers.
    #[test]
    fn preflight_from_a_disallowed_origin_is_204_without_cors_headers() {
        let t = node(t0401_cfg());
        let r = t.node.handle_api(&req(
            "OPTIONS",
            "/api/v0/id",
            &[
                ("Origin", "https://evil.example.com"),
                ("Access-Control-Request-Method", "POST"),
            ],
        ));
        assert_eq!(r.status, 204);
        assert_eq!(hdr(&r, "Access-Control-Allow-Origin"), None);
        assert_eq!(
            hdr(&r, "Vary"),
            Some("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        );
    }

    // kubo v0.42.0 core/corehttp/commands.go: AddAllowedHeaders(Origin, Accept, Content-Type,
    // X-Requested-With) is the preflight list; the configured Allow-Headers do not extend it.
    #[test]
    fn preflight_request_headers_are_the_fixed_list_not_the_configured_one() {
        let mut cfg = t0401_cfg();
        cfg["API"]["HTTPHeaders"]["Access-Control-Allow-Headers"] = json!(["Authorization"]);
        let t = node(cfg);
        let pre = |h: &str| {
            t.node.handle_api(&req(
                "OPTIONS",
                "/api/v0/id",
                &[
                    ("Origin", "https://valid.example.com"),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", h),
                ],
            ))
        };
        let r = pre("authorization");
        assert_eq!(r.status, 204);
        assert_eq!(
            hdr(&r, "Access-Control-Allow-Origin"),
            None,
            "configured header granted"
        );
        let r = pre("content-type");
        assert_eq!(
            hdr(&r, "Access-Control-Allow-Headers"),
            Some("content-type")
        );
        // rs/cors internal/sortedset.go Accepts: names must be sorted and unique.
        assert_eq!(
            hdr(
                &pre("x-requested-with, origin"),
                "Access-Control-Allow-Origin"
            ),
            None
        );
        assert_eq!(
            hdr(&pre("accept,accept"), "Access-Control-Allow-Origin"),
            None
        );
        // ... and are compared as sent (browsers send lowercase).
        assert_eq!(
            hdr(&pre("Content-Type"), "Access-Control-Allow-Origin"),
            None
        );
    }

    // rs/cors handlePreflight: Allow-Methods echoes the requested method if it is allowed.
    #[test]
    fn preflight_checks_the_requested_method_against_allow_methods() {
        let mut cfg = t0401_cfg();
        cfg["API"]["HTTPHeaders"]["Access-Control-Allow-Methods"] = json!(["GET", "POST", "PUT"]);
        let t = node(cfg);
        let pre = |m: &str| {
            t.node.handle_api(&req(
                "OPTIONS",
                "/api/v0/pin/add",
                &[
                    ("Origin", "https://valid.example.com"),
                    ("Access-Control-Request-Method", m),
                ],
            ))
        };
        assert_eq!(
            hdr(&pre("PUT"), "Access-Control-Allow-Methods"),
            Some("PUT")
        );
        assert_eq!(hdr(&pre("DELETE"), "Access-Control-Allow-Origin"), None);
    }

    // go-ipfs-cmds http/config.go allowReferer: without Origin, the Referer's scheme://host is checked.
    #[test]
    fn referer_is_checked_like_an_origin() {
        let t = node(t0401_cfg());
        let ok = post_id(
            &t.node,
            &[("Referer", "https://valid.example.com/some/page?x=1")],
        );
        assert_eq!(ok.status, 200);
        let bad = post_id(&t.node, &[("Referer", "https://evil.example.com/")]);
        assert_eq!(bad.status, 403);
        let local = post_id(
            &t.node,
            &[
                ("User-Agent", "Mozilla"),
                ("Referer", "http://localhost:5001/webui"),
            ],
        );
        assert_eq!(local.status, 200);
        // Origin allowed but Referer not: both are checked.
        let both = post_id(
            &t.node,
            &[
                ("Origin", "https://valid.example.com"),
                ("Referer", "https://evil.example.com/"),
            ],
        );
        assert_eq!(both.status, 403);
    }

    // go-ipfs-cmds http/config.go allowUserAgent.
    #[test]
    fn browser_without_origin_or_referer_is_refused_but_electron_and_programs_are_not() {
        let t = node(json!({}));
        assert_eq!(
            post_id(&t.node, &[("User-Agent", "Mozilla/5.0 (X11)")]).status,
            403
        );
        assert_eq!(
            post_id(&t.node, &[("User-Agent", "Mozilla/5.0 Electron/30.0")]).status,
            200
        );
        assert_eq!(post_id(&t.node, &[("User-Agent", "curl/8.0")]).status, 200);
        assert_eq!(post_id(&t.node, &[]).status, 200);
        assert_eq!(
            post_id(&t.node, &[("User-Agent", "go-ipfs-cmds/http")]).status,
            200
        );
    }

    // kubo core/corehttp/commands.go addHeadersFromConfig: ACAO/ACAM/ACAC go to the CORS library,
    // every other header (Allow-Headers, Expose-Headers, ...) is written on command answers, plus Server.
    #[test]
    fn configured_headers_credentials_and_server_on_command_answers() {
        let t = node(json!({"API": {"HTTPHeaders": {
            "Access-Control-Allow-Origin": ["http://localhost:5173"],
            "Access-Control-Allow-Methods": ["GET", "POST", "PUT"],
            "Access-Control-Allow-Headers": ["Authorization", "Content-Type"],
            "Access-Control-Expose-Headers": ["Location"],
            "Access-Control-Allow-Credentials": ["true"]
        }}}));
        let r = post_id(&t.node, &[("Origin", "http://localhost:5173")]);
        assert_eq!(r.status, 200);
        assert_eq!(
            hdr(&r, "Access-Control-Allow-Origin"),
            Some("http://localhost:5173")
        );
        assert_eq!(hdr(&r, "Access-Control-Allow-Credentials"), Some("true"));
        assert_eq!(
            hdrs(&r, "Access-Control-Allow-Headers"),
            vec!["Authorization", "Content-Type"]
        );
        assert_eq!(hdr(&r, "Access-Control-Expose-Headers"), Some("Location"));
        assert_eq!(hdr(&r, "Server"), Some("kubo/0.42.0"));
        // The 403/405 answers stop before the user headers are written.
        let r = t.node.handle_api(&req("GET", "/api/v0/id", &[]));
        assert_eq!(hdr(&r, "Server"), None);
    }

    // kubo core/corehttp/commands.go: `nc.API.HTTPHeaders[cmdsHttp.ACAOrigin]` is an exact map key.
    #[test]
    fn a_wrong_case_allow_origin_key_allows_nothing() {
        let t = node(json!({"API": {"HTTPHeaders": {
            "access-control-allow-origin": ["http://localhost:5173"]
        }}}));
        assert_eq!(
            post_id(&t.node, &[("Origin", "http://localhost:5173")]).status,
            403
        );
    }

    // go-ipfs-cmds allowOrigin compares exactly; rs/cors lowercases. A differently cased origin
    // passes the CORS layer but is refused by the handler.
    #[test]
    fn origin_match_is_exact_in_the_handler() {
        let t = node(t0401_cfg());
        assert_eq!(
            post_id(&t.node, &[("Origin", "https://VALID.example.com")]).status,
            403
        );
        assert_eq!(
            post_id(&t.node, &[("Origin", "https://valid.example.com:443")]).status,
            403
        );
    }

    #[test]
    fn star_allows_every_origin_and_is_echoed_as_star() {
        let t = node(json!({"API": {"HTTPHeaders": {"Access-Control-Allow-Origin": ["*"]}}}));
        let r = post_id(&t.node, &[("Origin", "https://anything.example")]);
        assert_eq!(r.status, 200);
        assert_eq!(hdr(&r, "Access-Control-Allow-Origin"), Some("*"));
    }

    // kubo core/corehttp/commands.go patchCORSVars: <port> is the API listener's own port.
    #[test]
    fn localhost_on_another_port_is_not_allowed() {
        let t = node(json!({}));
        assert_eq!(
            post_id(&t.node, &[("Origin", "http://localhost:5173")]).status,
            403
        );
    }

    // go-ipfs-cmds v0.16.1 http/parse.go: an unknown command path is 404.
    #[test]
    fn unknown_command_is_404() {
        let t = node(json!({}));
        let r = t.node.handle_api(&req("POST", "/api/v0/nope", &[]));
        assert_eq!(r.status, 404);
        assert_eq!(body(&r), "404 page not found\n");
    }

    // kubo v0.42.0 core/commands/diag.go: diag healthy; v0.39.0 has no such subcommand and diag
    // has no Run, so go-ipfs-cmds parse.go answers 404.
    #[test]
    fn diag_healthy_over_rpc_only_from_0_42() {
        let t = node_v(json!({}), Kubo::V0_42_0);
        let r = t.node.handle_api(&req("POST", "/api/v0/diag/healthy", &[]));
        assert_eq!((r.status, body(&r)), (200, "\"ok\"\n".to_string()));
        let t = node_v(json!({}), Kubo::V0_39_0);
        assert_eq!(
            t.node
                .handle_api(&req("POST", "/api/v0/diag/healthy", &[]))
                .status,
            404
        );
    }

    // kubo v0.42.0 version.go CurrentVersionNumber / core/commands/version.go.
    #[test]
    fn version_reports_the_selected_tag() {
        for k in [Kubo::V0_39_0, Kubo::V0_42_0] {
            let t = node_v(json!({}), k);
            let r = t.node.handle_api(&req("POST", "/api/v0/version", &[]));
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["Version"], k.number());
            assert_eq!(
                hdr(&r, "Server"),
                Some(format!("kubo/{}", k.number()).as_str())
            );
        }
    }

    // kubo v0.42.0 core/commands/dag/dag.go DagStatSummary JSON; the empty directory is one 4-byte block.
    #[test]
    fn dag_stat_of_the_empty_directory() {
        let t = node(json!({}));
        let r = t.node.handle_api(&req(
            "POST",
            &format!("/api/v0/dag/stat?arg=/ipfs/{EMPTY_DIR_CID}"),
            &[],
        ));
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            json!({"UniqueBlocks": 1, "TotalSize": 4, "Ratio": 1,
                   "DagStats": [{"Cid": EMPTY_DIR_CID, "Size": 4, "NumBlocks": 1}]})
        );
    }

    // kubo v0.42.0 cmd/ipfs/kubo/init.go initializeIpnsKeyspace pins the empty directory;
    // core/commands/pin/pin.go PinLsOutputWrapper: {"Keys":{cid:{"Type","Name"}}}.
    #[test]
    fn pin_ls_shape_and_the_init_pin() {
        let t = node(json!({}));
        t.node.pin_empty_dir().unwrap();
        let r = t
            .node
            .handle_api(&req("POST", "/api/v0/pin/ls?stream=false", &[]));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            json!({"Keys": {EMPTY_DIR_CID: {"Type": "recursive", "Name": ""}}})
        );
    }

    // PRODUCT.md: `add --cid-version=1` -> raw leaves, sha2-256.
    #[test]
    fn add_cat_get_pin_roundtrip() {
        let t = node(json!({}));
        let (ct, b) = crate::multipart::build_file("file", "hello.txt", b"hello world");
        let mut r = req(
            "POST",
            "/api/v0/add?cid-version=1&raw-leaves=true",
            &[("Content-Type", &ct)],
        );
        r.body = b;
        let resp = t.node.handle_api(&r);
        assert_eq!(resp.status, 200, "{}", body(&resp));
        let v: Value = serde_json::from_str(body(&resp).lines().next().unwrap()).unwrap();
        let cid = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
        assert_eq!(v["Hash"], cid);
        let resp = t
            .node
            .handle_api(&req("POST", &format!("/api/v0/get?arg={cid}"), &[]));
        let mut ar = tar::Archive::new(&resp.body[..]);
        let mut e = ar.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some(cid));
        let mut s = String::new();
        std::io::Read::read_to_string(&mut e, &mut s).unwrap();
        assert_eq!(s, "hello world");
        let resp = t
            .node
            .handle_api(&req("POST", &format!("/api/v0/pin/rm?arg={cid}"), &[]));
        assert_eq!(resp.status, 200);
        let resp = t.node.handle_api(&req(
            "POST",
            &format!("/api/v0/pin/add?arg=/ipfs/{cid}"),
            &[],
        ));
        assert_eq!(resp.status, 200);
    }

    // kubo v0.42.0 core/commands/repo.go repoStatCmd + core/corerepo/stat.go (same at v0.39.0): one flat
    // object (SizeStat embedded); `size-only` keeps Go's zero values in the rest; StorageMax from
    // `Datastore.StorageMax` through go-humanize ParseBytes ("10GB" = 10^10), MaxUint64 when unset.
    #[test]
    fn repo_stat_is_one_flat_object_and_size_only_zeroes_the_rest() {
        let t = node(json!({}));
        fs::write(
            t.dir.join("config"),
            json!({"Datastore": {"StorageMax": "10GB"}}).to_string(),
        )
        .unwrap();
        fs::write(t.dir.join("blocks").join("bafkreiexample"), b"hello world").unwrap();
        let r = t.node.handle_api(&req("POST", "/api/v0/repo/stat", &[]));
        assert_eq!(r.status, 200, "{}", body(&r));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            json!({"RepoSize": 15, "StorageMax": 10_000_000_000u64, "NumObjects": 2,
                   "RepoPath": t.dir.display().to_string(), "Version": "fs-repo@18"})
        );
        let r = t
            .node
            .handle_api(&req("POST", "/api/v0/repo/stat?size-only=true", &[]));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            json!({"RepoSize": 15, "StorageMax": 10_000_000_000u64, "NumObjects": 0,
                   "RepoPath": "", "Version": ""})
        );
        fs::write(t.dir.join("config"), json!({"Datastore": {}}).to_string()).unwrap();
        let r = t.node.handle_api(&req("POST", "/api/v0/repo/stat", &[]));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["StorageMax"], json!(u64::MAX));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("1.5 kB"), Some(1500));
    }

    // kubo v0.42.0 core/commands/swarm.go swarmPeersCmd (same at v0.39.0): `var out connInfos`, Peers
    // appended per connection, so a node connected to no one answers a nil slice: {"Peers":null}.
    #[test]
    fn swarm_peers_of_a_node_without_connections_is_null() {
        let t = node(json!({}));
        let r = t.node.handle_api(&req("POST", "/api/v0/swarm/peers", &[]));
        assert_eq!(
            (r.status, body(&r)),
            (200, "{\"Peers\":null}\n".to_string())
        );
    }
}
