//! The repo ($IPFS_PATH) and its JSON config, Kubo style.

use serde_json::{Map, Value, json};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cid::{base58btc, base64_std};
use crate::sys::random_bytes;
use standin_common::goerr;

pub const REPO_VERSION: &str = "18";

pub fn repo_path(repo_dir_flag: Option<&str>) -> PathBuf {
    if let Some(p) = repo_dir_flag {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("IPFS_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".to_string());
    Path::new(&home).join(".ipfs")
}

pub fn config_path(repo: &Path) -> PathBuf {
    repo.join("config")
}

/// Kubo's "is initialized" test: the config file exists (stat only).
pub fn is_initialized(repo: &Path) -> bool {
    fs::symlink_metadata(config_path(repo)).is_ok()
}

pub fn no_repo_error(repo: &Path) -> String {
    format!(
        "no IPFS repo found in {}.\nplease run: 'ipfs init'",
        repo.display()
    )
}

/// Reads and parses the config; errors are Go-style (`open <path>: permission denied`).
pub fn read_config(repo: &Path) -> Result<Value, String> {
    let p = config_path(repo);
    let bytes = fs::read(&p).map_err(|e| goerr::path_error("open", &p, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("failure to decode config: {e}"))
}

/// kubo config/serialize WriteConfigFile: indented JSON (keys sorted, as Go encodes a map), mode
/// 0600, through a temporary file in the repo and a rename (atomicfile), so a reader never sees half.
pub fn write_config(repo: &Path, cfg: &Value) -> Result<(), String> {
    let p = config_path(repo);
    let text = serde_json::to_string_pretty(cfg).map_err(|e| e.to_string())?;
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let tmp = repo.join(format!(
        "config{}{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let write = |path: &Path| -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    write(&tmp).map_err(|e| goerr::path_error("open", &tmp, &e))?;
    fs::rename(&tmp, &p).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!(
            "rename {} {}: {}",
            tmp.display(),
            p.display(),
            goerr::reason(&e)
        )
    })
}

/// kubo config/config.go FromMap: the edited map must still decode into the Config struct. Only
/// the fields pinshare-dev writes are type-checked here (string lists; Strings also takes a string).
pub fn check_types(cfg: &Value) -> Result<(), String> {
    let desc = |v: &Value| match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Null => "null",
    };
    let str_list =
        |v: &Value| v.is_null() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let err = |v: &Value, st: &str, field: &str, ty: &str| {
        Err(format!(
            "failure to decode config: json: cannot unmarshal {} into Go struct field {st}.{field} of type {ty}",
            desc(v)
        ))
    };
    for (section, st) in [("API", "API"), ("Gateway", "Gateway")] {
        if let Some(m) = cfg
            .pointer(&format!("/{section}/HTTPHeaders"))
            .and_then(Value::as_object)
        {
            for v in m.values() {
                let bad = match v {
                    Value::Array(a) => a.iter().find(|x| !x.is_string()),
                    Value::Null => None,
                    other => Some(other),
                };
                if let Some(b) = bad {
                    let ty = if v.is_array() { "string" } else { "[]string" };
                    return err(b, st, &format!("{section}.HTTPHeaders"), ty);
                }
            }
        }
    }
    for f in ["Swarm", "Announce", "AppendAnnounce", "NoAnnounce"] {
        if let Some(v) = cfg
            .pointer(&format!("/Addresses/{f}"))
            .filter(|v| !str_list(v))
        {
            return err(v, "Addresses", &format!("Addresses.{f}"), "[]string");
        }
    }
    for f in ["API", "Gateway"] {
        if let Some(v) = cfg
            .pointer(&format!("/Addresses/{f}"))
            .filter(|v| !(v.is_string() || str_list(v)))
        {
            return Err(format!(
                "failure to decode config: json: cannot unmarshal {} into Go value of type []string",
                desc(v)
            ));
        }
    }
    Ok(())
}

/// kubo plugin/loader/loader.go NewPluginLoader reads the config's Plugins section before any
/// command runs: a config that exists but cannot be read stops every command, `version` included.
pub fn plugin_preload_check(repo: &Path) -> Result<(), String> {
    let p = config_path(repo);
    match fs::read(&p) {
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .map(|_| ())
            .map_err(|e| format!("error loading plugins: failure to decode config: {e}")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!(
            "error loading plugins: {}",
            goerr::path_error("open", &p, &e)
        )),
    }
}

/// kubo repo/fsrepo/fsrepo.go: `repo.lock`, held by whoever opens the repo (daemon, local
/// `ipfs config`, local commands) for as long as it has it open.
pub fn lock_repo(repo: &Path) -> Result<fs::File, String> {
    let lock_path = repo.join("repo.lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| goerr::path_error("open", &lock_path, &e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(fs::TryLockError::WouldBlock) => Err(format!(
            "lock {}: someone else has the lock",
            lock_path.display()
        )),
        Err(fs::TryLockError::Error(e)) => Err(goerr::path_error("lock", &lock_path, &e)),
    }
}

/// kubo repo/fsrepo/fsrepo.go APIAddr: the daemon's RPC multiaddr from `$IPFS_PATH/api`, if any.
pub fn api_file_addr(repo: &Path) -> Result<Option<String>, String> {
    let p = repo.join("api");
    match fs::read(&p) {
        Ok(b) if b.len() >= 2048 => Err(format!(
            "API file too large, must be <2048 bytes long: {}",
            p.display()
        )),
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(goerr::path_error("open", &p, &e)),
    }
}

/// kubo repo/fsrepo/fsrepo.go SetAPIAddr: written through `.api.tmp` and a rename.
pub fn write_api_file(repo: &Path, ma: &str) -> Result<(), String> {
    let tmp = repo.join(".api.tmp");
    fs::write(&tmp, ma)
        .and_then(|_| fs::rename(&tmp, repo.join("api")))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!(
                "serveHTTPApi: SetAPIAddr() failed: {}",
                goerr::path_error("open", &tmp, &e)
            )
        })
}

/// kubo config/profile.go: applies the named profiles (comma separated) to a fresh config.
pub fn apply_profiles(
    cfg: &mut Value,
    profiles: &str,
    kubo: crate::version::Kubo,
) -> Result<(), String> {
    if profiles.is_empty() {
        return Ok(());
    }
    for p in profiles.split(',') {
        if !kubo.profiles().contains(&p) {
            return Err(format!("invalid configuration profile: {p}"));
        }
        let filters: Vec<Value> = kubo.server_filters().into_iter().map(Value::from).collect();
        let append = |cfg: &mut Value, ptr: &str, add: &[Value]| {
            let mut cur: Vec<Value> = cfg
                .pointer(ptr)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for f in add {
                if !cur.contains(f) {
                    cur.push(f.clone());
                }
            }
            set_pointer(cfg, ptr, Value::Array(cur));
        };
        let remove = |cfg: &mut Value, ptr: &str, del: &[Value]| {
            let cur: Vec<Value> = cfg
                .pointer(ptr)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            set_pointer(
                cfg,
                ptr,
                Value::Array(cur.into_iter().filter(|v| !del.contains(v)).collect()),
            );
        };
        match p {
            "server" => {
                append(cfg, "/Addresses/NoAnnounce", &filters);
                append(cfg, "/Swarm/AddrFilters", &filters);
                set_pointer(cfg, "/Discovery/MDNS/Enabled", json!(false));
                set_pointer(cfg, "/Swarm/DisableNatPortMap", json!(true));
            }
            "local-discovery" => {
                remove(cfg, "/Addresses/NoAnnounce", &filters);
                remove(cfg, "/Swarm/AddrFilters", &filters);
                set_pointer(cfg, "/Discovery/MDNS/Enabled", json!(true));
                set_pointer(cfg, "/Swarm/DisableNatPortMap", json!(false));
            }
            "test" => {
                set_pointer(cfg, "/Addresses/API", json!("/ip4/127.0.0.1/tcp/0"));
                set_pointer(cfg, "/Addresses/Gateway", json!("/ip4/127.0.0.1/tcp/0"));
                set_pointer(cfg, "/Addresses/Swarm", json!(["/ip4/127.0.0.1/tcp/0"]));
                set_pointer(cfg, "/Swarm/DisableNatPortMap", json!(true));
                set_pointer(cfg, "/Routing/LoopbackAddressesOnLanDHT", json!(true));
                set_pointer(cfg, "/Bootstrap", json!([]));
                set_pointer(cfg, "/Discovery/MDNS/Enabled", json!(false));
                set_pointer(cfg, "/AutoTLS/Enabled", json!(false));
                set_pointer(cfg, "/AutoConf/Enabled", json!(false));
                set_pointer(cfg, "/DNS/Resolvers", json!({}));
                set_pointer(cfg, "/Routing/DelegatedRouters", json!([]));
                set_pointer(cfg, "/Ipns/DelegatedPublishers", json!([]));
            }
            "lowpower" => {
                set_pointer(cfg, "/Routing/Type", json!("autoclient"));
                set_pointer(cfg, "/AutoNAT/ServiceMode", json!("disabled"));
                set_pointer(cfg, "/Swarm/RelayService/Enabled", json!(false));
                set_pointer(cfg, "/Swarm/ConnMgr/Type", json!("basic"));
                set_pointer(cfg, "/Swarm/ConnMgr/LowWater", json!(20));
                set_pointer(cfg, "/Swarm/ConnMgr/HighWater", json!(40));
                set_pointer(cfg, "/Swarm/ConnMgr/GracePeriod", json!("1m0s"));
            }
            // Valid names whose settings (datastores, announcing, import) nothing here reads:
            // accepted like kubo accepts them; their config changes are not reproduced.
            _ => {}
        }
    }
    Ok(())
}

fn set_pointer(cfg: &mut Value, ptr: &str, v: Value) {
    let key: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    let _ = set_key(cfg, &key.join("."), v);
}

/// Splits a config key on '.' exactly like Kubo (strings.Split).
pub fn split_key(key: &str) -> Vec<&str> {
    key.split('.').collect()
}

/// kubo v0.42.0 repo/common/common.go MapGetKV: exact-case lookup of each part.
pub fn get_key<'a>(root: &'a Value, key: &str) -> Result<&'a Value, String> {
    let parts = split_key(key);
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let sofar = parts[..i].join(".");
        let m = cur
            .as_object()
            .ok_or_else(|| format!("{sofar} key is not a map"))?;
        cur = m.get(*part).ok_or_else(|| {
            if sofar.is_empty() {
                format!("{part} not found")
            } else {
                format!("{sofar}.{part} not found")
            }
        })?;
    }
    Ok(cur)
}

/// kubo v0.42.0 repo/common/common.go MapSetKV: exact-case, creates maps for missing or null parts.
pub fn set_key(root: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let parts = split_key(key);
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let m = cur
            .as_object_mut()
            .ok_or_else(|| format!("{} key is not a map", parts[..i].join(".")))?;
        if i == parts.len() - 1 {
            m.insert((*part).to_string(), value);
            return Ok(());
        }
        let e = m.entry((*part).to_string()).or_insert(Value::Null);
        if e.is_null() {
            *e = Value::Object(Map::new());
        }
        cur = e;
    }
    Ok(())
}

/// kubo config/config.go CheckKey: the key must exist in the Config struct (field names exact,
/// maps accept any key). `schema` is the tag's key list (see [`crate::version::Kubo::config_keys`]).
pub fn check_key(schema: &str, key: &str) -> Result<(), String> {
    let kinds: std::collections::HashMap<&str, &str> = schema
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' ').map(|(k, p)| (p, k)))
        .collect();
    let parts = split_key(key);
    // `cur` is the schema path of the cursor ("" = the Config struct).
    let mut cur = String::new();
    for (i, part) in parts.iter().enumerate() {
        let kind = if cur.is_empty() {
            "S"
        } else {
            kinds[cur.as_str()]
        };
        match kind {
            "A" => return Ok(()), // ReflectToMap gave nil: CheckKey stops checking
            "S" | "M" => {}
            _ => return Err(format!("{} key is not a map", parts[..i].join("."))),
        }
        let exact = if cur.is_empty() {
            (*part).to_string()
        } else {
            format!("{cur}.{part}")
        };
        if kinds.contains_key(exact.as_str()) && kind == "S" {
            cur = exact;
        } else if kind == "M" {
            cur = format!("{cur}.*");
        } else {
            return Err(format!("{} not found", parts[..=i].join(".")));
        }
    }
    Ok(())
}

pub struct Identity {
    pub peer_id: String,
    pub priv_key_b64: String,
}

/// A new Ed25519 identity the way kubo's init makes one (go-libp2p crypto): the config keeps the
/// protobuf `PrivateKey{Type: Ed25519, Data: seed ‖ public}` in base64, and the peer ID is the
/// identity multihash of the protobuf public key, base58btc ("12D3KooW...").
pub fn new_identity() -> Identity {
    let mut seed = [0u8; 32];
    random_bytes(&mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let pubkey = key.verifying_key().to_bytes();
    let mut pub_pb = vec![0x08, 0x01, 0x12, 0x20];
    pub_pb.extend_from_slice(&pubkey);
    let mut priv_pb = vec![0x08, 0x01, 0x12, 0x40];
    priv_pb.extend_from_slice(&seed);
    priv_pb.extend_from_slice(&pubkey);
    let mut mh = vec![0x00, pub_pb.len() as u8];
    mh.extend_from_slice(&pub_pb);
    Identity {
        peer_id: base58btc(&mh),
        priv_key_b64: base64_std(&priv_pb),
    }
}

/// Public key (base64 protobuf) from the config's identity: derived from PrivKey.
pub fn public_key_from_config(cfg: &Value) -> String {
    let priv_b64 = cfg
        .pointer("/Identity/PrivKey")
        .and_then(Value::as_str)
        .unwrap_or("");
    match base64_decode(priv_b64) {
        Some(b) if b.len() == 68 && b[..4] == [0x08, 0x01, 0x12, 0x40] => {
            let mut pb = vec![0x08, 0x01, 0x12, 0x20];
            pb.extend_from_slice(&b[36..68]);
            base64_std(&pb)
        }
        _ => String::new(),
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64.decode(s.as_bytes()).ok()
}

pub fn default_config(id: &Identity) -> Value {
    json!({
        "API": { "HTTPHeaders": {} },
        "Addresses": {
            "API": "/ip4/127.0.0.1/tcp/5001",
            "Announce": [],
            "AppendAnnounce": [],
            "Gateway": "/ip4/127.0.0.1/tcp/8080",
            "NoAnnounce": [],
            "Swarm": [
                "/ip4/0.0.0.0/tcp/4001",
                "/ip6/::/tcp/4001",
                "/ip4/0.0.0.0/udp/4001/webrtc-direct",
                "/ip4/0.0.0.0/udp/4001/quic-v1",
                "/ip4/0.0.0.0/udp/4001/quic-v1/webtransport",
                "/ip6/::/udp/4001/webrtc-direct",
                "/ip6/::/udp/4001/quic-v1",
                "/ip6/::/udp/4001/quic-v1/webtransport"
            ]
        },
        "AutoConf": {},
        "AutoNAT": {},
        "AutoTLS": {},
        "Bitswap": {},
        "Bootstrap": ["auto"],
        "DNS": { "Resolvers": { ".": "auto" } },
        "Datastore": {
            "BlockKeyCacheSize": null,
            "BloomFilterSize": 0,
            "GCPeriod": "1h",
            "HashOnRead": false,
            "Spec": {
                "mounts": [
                    {
                        "mountpoint": "/blocks",
                        "path": "blocks",
                        "prefix": "flatfs.datastore",
                        "shardFunc": "/repo/flatfs/shard/v1/next-to-last/2",
                        "sync": false,
                        "type": "flatfs"
                    },
                    {
                        "compression": "none",
                        "mountpoint": "/",
                        "path": "datastore",
                        "prefix": "leveldb.datastore",
                        "type": "levelds"
                    }
                ],
                "type": "mount"
            },
            "StorageGCWatermark": 90,
            "StorageMax": "10GB"
        },
        "Discovery": { "MDNS": { "Enabled": true } },
        "Experimental": {},
        "Gateway": {
            "DeserializedResponses": null,
            "DisableHTMLErrors": null,
            "ExposeRoutingAPI": null,
            "HTTPHeaders": {},
            "NoDNSLink": false,
            "NoFetch": false,
            "PublicGateways": null,
            "RootRedirect": ""
        },
        "HTTPRetrieval": {},
        "Identity": { "PeerID": id.peer_id, "PrivKey": id.priv_key_b64 },
        "Import": {},
        "Internal": {},
        "Ipns": { "DelegatedPublishers": ["auto"], "ResolveCacheSize": 128 },
        "Migration": {},
        "Mounts": { "FuseAllowOther": false, "IPFS": "/ipfs", "IPNS": "/ipns", "MFS": "/mfs" },
        "Peering": { "Peers": null },
        "Pinning": { "RemoteServices": {} },
        "Plugins": { "Plugins": null },
        "Provide": {},
        "Pubsub": {},
        "Routing": { "DelegatedRouters": ["auto"] },
        "Swarm": {
            "ConnMgr": {},
            "ResourceMgr": {},
            "Transports": { "Multiplexers": {}, "Network": {}, "Security": {} }
        },
        "Version": {}
    })
}

/// `ipfs init` minus the printing: creates the repo layout and config.
pub fn init_repo(repo: &Path, cfg: &Value) -> Result<(), String> {
    fs::create_dir_all(repo).map_err(|e| goerr::path_error("mkdir", repo, &e))?;
    write_config(repo, cfg)?;
    for d in ["blocks", "datastore", "keystore"] {
        let p = repo.join(d);
        fs::create_dir_all(&p).map_err(|e| goerr::path_error("mkdir", &p, &e))?;
    }
    let v = repo.join("version");
    fs::write(&v, format!("{REPO_VERSION}\n")).map_err(|e| goerr::path_error("open", &v, &e))?;
    let spec = repo.join("datastore_spec");
    let spec_text = r#"{"mounts":[{"mountpoint":"/blocks","path":"blocks","shardFunc":"/repo/flatfs/shard/v1/next-to-last/2","type":"flatfs"},{"mountpoint":"/","path":"datastore","type":"levelds"}],"type":"mount"}"#;
    fs::write(&spec, spec_text).map_err(|e| goerr::path_error("open", &spec, &e))?;
    Ok(())
}

/// A multiaddr we can dial or bind: /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>.
pub fn parse_multiaddr(ma: &str) -> Result<(String, u16), String> {
    let parts: Vec<&str> = ma.split('/').collect();
    if parts.len() < 5 || !parts[0].is_empty() {
        return Err(format!("invalid multiaddr {ma:?}"));
    }
    match parts[1] {
        "ip4" | "ip6" | "dns" | "dns4" | "dns6" => {}
        p => return Err(format!("unsupported multiaddr protocol {p:?} in {ma:?}")),
    }
    if parts[3] != "tcp" {
        return Err(format!("multiaddr {ma:?} is not a TCP address"));
    }
    let port: u16 = parts[4]
        .parse()
        .map_err(|_| format!("invalid port in multiaddr {ma:?}"))?;
    Ok((parts[2].to_string(), port))
}

/// Addresses.API / Addresses.Gateway may be a string or a list of strings.
pub fn addr_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::version::Kubo;

    // kubo v0.42.0 repo/common/common.go MapSetKV: creates maps, keeps dashes, exact case.
    #[test]
    fn set_creates_maps_and_matches_exact_case() {
        let mut cfg = json!({"API": {"HTTPHeaders": {}}, "Peering": {"Peers": null}});
        set_key(
            &mut cfg,
            "API.HTTPHeaders.Access-Control-Allow-Origin",
            json!(["http://localhost:5173"]),
        )
        .unwrap();
        assert_eq!(
            cfg["API"]["HTTPHeaders"]["Access-Control-Allow-Origin"][0],
            "http://localhost:5173"
        );
        set_key(&mut cfg, "Peering.Peers.X", json!(true)).unwrap();
        assert_eq!(cfg["Peering"]["Peers"]["X"], true);
        set_key(&mut cfg, "api.httpheaders.X-Test", json!("y")).unwrap();
        assert!(cfg["API"]["HTTPHeaders"].get("X-Test").is_none());
        assert_eq!(cfg["api"]["httpheaders"]["X-Test"], "y");
        let err = set_key(
            &mut cfg,
            "API.HTTPHeaders.Access-Control-Allow-Origin.X",
            json!(1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "API.HTTPHeaders.Access-Control-Allow-Origin key is not a map"
        );
    }

    // kubo v0.42.0 repo/common/common.go MapGetKV: a wrong-case key is "not found".
    #[test]
    fn get_matches_exact_case() {
        let cfg = json!({"Addresses": {"API": "/ip4/0.0.0.0/tcp/5001"}});
        assert_eq!(
            get_key(&cfg, "Addresses.API").unwrap(),
            "/ip4/0.0.0.0/tcp/5001"
        );
        assert_eq!(
            get_key(&cfg, "addresses.api").unwrap_err(),
            "addresses not found"
        );
        assert_eq!(
            get_key(&cfg, "Addresses.Nope").unwrap_err(),
            "Addresses.Nope not found"
        );
        assert_eq!(
            get_key(&cfg, "Addresses.API.X").unwrap_err(),
            "Addresses.API key is not a map"
        );
    }

    // kubo v0.42.0 config/config.go CheckKey (run by fsrepo SetConfigKey before any write).
    #[test]
    fn check_key_follows_the_config_struct() {
        for k in [Kubo::V0_39_0, Kubo::V0_42_0] {
            let s = k.config_keys();
            assert_eq!(
                check_key(s, "API.HTTPHeaders.Access-Control-Allow-Origin"),
                Ok(())
            );
            assert_eq!(check_key(s, "Addresses.API"), Ok(()));
            assert_eq!(check_key(s, "Datastore.Spec.mounts"), Ok(()));
            assert_eq!(
                check_key(s, "api.HTTPHeaders.X"),
                Err("api not found".into())
            );
            assert_eq!(
                check_key(s, "API.httpheaders"),
                Err("API.httpheaders not found".into())
            );
            assert_eq!(check_key(s, "Foo.Bar"), Err("Foo not found".into()));
            assert_eq!(
                check_key(s, "Addresses.API.X"),
                Err("Addresses.API key is not a map".into())
            );
            assert_eq!(
                check_key(s, "Swarm.ConnMgr.LowWater.X"),
                Err("Swarm.ConnMgr.LowWater.X not found".into())
            );
        }
    }

    // kubo config/init.go addressesConfig: plain `ipfs init` listens on 127.0.0.1.
    #[test]
    fn plain_init_writes_loopback_addresses() {
        let cfg = default_config(&new_identity());
        assert_eq!(cfg["Addresses"]["API"], "/ip4/127.0.0.1/tcp/5001");
        assert_eq!(cfg["Addresses"]["Gateway"], "/ip4/127.0.0.1/tcp/8080");
    }

    // kubo cmd/ipfs/kubo/init.go applyProfiles + config/profile.go.
    #[test]
    fn profiles_by_tag() {
        let mut cfg = default_config(&new_identity());
        apply_profiles(&mut cfg, "server", Kubo::V0_42_0).unwrap();
        assert_eq!(cfg["Discovery"]["MDNS"]["Enabled"], false);
        assert!(
            cfg["Swarm"]["AddrFilters"]
                .as_array()
                .unwrap()
                .contains(&json!("/ip4/127.0.0.0/ipcidr/8"))
        );
        let mut cfg39 = default_config(&new_identity());
        apply_profiles(&mut cfg39, "server", Kubo::V0_39_0).unwrap();
        assert!(
            !cfg39["Swarm"]["AddrFilters"]
                .as_array()
                .unwrap()
                .contains(&json!("/ip4/127.0.0.0/ipcidr/8"))
        );
        assert_eq!(
            apply_profiles(&mut cfg, "invalid_profile", Kubo::V0_42_0),
            Err("invalid configuration profile: invalid_profile".into())
        );
        assert!(apply_profiles(&mut cfg, "unixfs-v1-2025", Kubo::V0_42_0).is_ok());
        assert!(apply_profiles(&mut cfg, "unixfs-v1-2025", Kubo::V0_39_0).is_err());
        apply_profiles(&mut cfg, "test", Kubo::V0_42_0).unwrap();
        assert_eq!(cfg["Addresses"]["API"], "/ip4/127.0.0.1/tcp/0");
    }

    // kubo repo/fsrepo/fsrepo.go (go-fs-lock): a second opener is refused.
    #[test]
    fn repo_lock_refuses_a_second_holder() {
        let dir = std::env::temp_dir().join(format!("kubo-standin-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let held = lock_repo(&dir).unwrap();
        let err = lock_repo(&dir).unwrap_err();
        assert_eq!(
            err,
            format!(
                "lock {}/repo.lock: someone else has the lock",
                dir.display()
            )
        );
        drop(held);
        assert!(lock_repo(&dir).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }

    // kubo config/serialize WriteConfigFile: 0600, replaced atomically.
    #[test]
    fn config_is_written_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("kubo-standin-cfg-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        write_config(&dir, &json!({"A": 1})).unwrap();
        write_config(&dir, &json!({"A": 2})).unwrap();
        let m = fs::metadata(dir.join("config")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(read_config(&dir).unwrap(), json!({"A": 2}));
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    // kubo config/config.go FromMap: a header value must be a list of strings.
    #[test]
    fn header_values_must_be_string_lists() {
        let cfg = json!({"API": {"HTTPHeaders": {"Access-Control-Allow-Origin": "http://x"}}});
        assert!(
            check_types(&cfg)
                .unwrap_err()
                .starts_with("failure to decode config: json: cannot unmarshal string")
        );
        assert!(check_types(&json!({"API": {"HTTPHeaders": {"X": ["a"]}}})).is_ok());
    }

    #[test]
    fn identity_looks_like_kubo() {
        let id = new_identity();
        assert!(id.peer_id.starts_with("12D3KooW"), "{}", id.peer_id);
        assert!(id.priv_key_b64.starts_with("CAESQ"), "{}", id.priv_key_b64);
        let pk = public_key_from_config(&default_config(&id));
        assert!(pk.starts_with("CAESI"), "{pk}");
        // the peer ID is the identity multihash of that public key
        let mut mh = vec![0x00, 36];
        mh.extend_from_slice(&base64_decode(&pk).unwrap());
        assert_eq!(base58btc(&mh), id.peer_id);
    }

    // go-libp2p crypto/ed25519.go: the private key's Data is seed ‖ public, and the public half is
    // the one the seed derives (a PeerID names a key that can sign).
    #[test]
    fn identity_key_pair_is_a_real_ed25519_pair() {
        let id = new_identity();
        let b = base64_decode(&id.priv_key_b64).unwrap();
        let seed: [u8; 32] = b[4..36].try_into().unwrap();
        let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        assert_eq!(derived.as_bytes(), &b[36..68]);
    }

    #[test]
    fn multiaddrs() {
        assert_eq!(
            parse_multiaddr("/ip4/127.0.0.1/tcp/5001").unwrap(),
            ("127.0.0.1".into(), 5001)
        );
        assert_eq!(
            parse_multiaddr("/dns4/ipfs/tcp/5001").unwrap(),
            ("ipfs".into(), 5001)
        );
        assert!(parse_multiaddr("/ip4/0.0.0.0/udp/4001/quic-v1").is_err());
        assert!(parse_multiaddr("127.0.0.1:5001").is_err());
    }
}
