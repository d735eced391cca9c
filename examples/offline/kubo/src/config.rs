//! The repo ($IPFS_PATH) and its JSON config, Kubo style.

use serde_json::{Map, Value, json};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cid::{base58btc, base64_std};
use crate::sys::{go_path_err, random_bytes};

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
    let bytes = fs::read(&p).map_err(|e| go_path_err("open", &p, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("failure to decode config: {e}"))
}

/// Writes the config as pretty JSON with mode 0600 (temp file + rename).
pub fn write_config(repo: &Path, cfg: &Value) -> Result<(), String> {
    let p = config_path(repo);
    let mut text = serde_json::to_string_pretty(cfg).map_err(|e| e.to_string())?;
    text.push('\n');
    let tmp = repo.join(".config.standin-tmp");
    let write = |path: &Path| -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    match write(&tmp).and_then(|_| fs::rename(&tmp, &p)) {
        Ok(()) => Ok(()),
        Err(_) => {
            let _ = fs::remove_file(&tmp);
            // Directory not writable but the file is: rewrite in place.
            write(&p).map_err(|e| go_path_err("open", &p, &e))?;
            let _ = fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600));
            Ok(())
        }
    }
}

/// Splits a config key on '.' exactly like Kubo (strings.Split).
pub fn split_key(key: &str) -> Vec<&str> {
    key.split('.').collect()
}

/// Finds a key in an object: exact match first, then case-insensitive (Kubo does the same).
fn find_key(m: &Map<String, Value>, k: &str) -> Option<String> {
    if m.contains_key(k) {
        return Some(k.to_string());
    }
    m.keys().find(|x| x.eq_ignore_ascii_case(k)).cloned()
}

pub fn get_key<'a>(root: &'a Value, key: &str) -> Result<&'a Value, String> {
    if key.is_empty() {
        return Err("key has no attributes".into());
    }
    let parts = split_key(key);
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let m = cur
            .as_object()
            .ok_or_else(|| format!("{} key is not a map", parts[..i].join(".")))?;
        let k = find_key(m, part).ok_or_else(|| format!("key has no attribute {part}"))?;
        cur = &m[&k];
    }
    Ok(cur)
}

/// Sets a dotted key, creating intermediate objects (null counts as missing).
pub fn set_key(root: &mut Value, key: &str, value: Value) -> Result<(), String> {
    if key.is_empty() {
        return Err("key has no attributes".into());
    }
    let parts = split_key(key);
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        let m = cur
            .as_object_mut()
            .ok_or_else(|| format!("{} key is not a map", parts[..i].join(".")))?;
        let k = find_key(m, part).unwrap_or_else(|| part.to_string());
        if i == parts.len() - 1 {
            m.insert(k, value);
            return Ok(());
        }
        cur = m.entry(k).or_insert(Value::Null);
    }
    unreachable!("parts is never empty")
}

pub struct Identity {
    pub peer_id: String,
    pub priv_key_b64: String,
}

/// A Kubo-shaped Ed25519 identity. The key bytes are random (nothing signs with
/// them), but the encodings are the real ones, so the peer ID is "12D3KooW...".
pub fn new_identity() -> Identity {
    let mut seed = [0u8; 64];
    random_bytes(&mut seed);
    let pubkey = &seed[32..];
    let mut pub_pb = vec![0x08, 0x01, 0x12, 0x20];
    pub_pb.extend_from_slice(pubkey);
    let mut priv_pb = vec![0x08, 0x01, 0x12, 0x40];
    priv_pb.extend_from_slice(&seed);
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
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        buf = (buf << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

pub fn default_config(id: &Identity) -> Value {
    json!({
        "API": { "HTTPHeaders": {} },
        "Addresses": {
            "API": "/ip4/0.0.0.0/tcp/5001",
            "Announce": [],
            "AppendAnnounce": [],
            "Gateway": "/ip4/0.0.0.0/tcp/8080",
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
        "Bootstrap": [],
        "DNS": { "Resolvers": {} },
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
        "Ipns": {},
        "Migration": {},
        "Mounts": { "FuseAllowOther": false, "IPFS": "/ipfs", "IPNS": "/ipns", "MFS": "/mfs" },
        "Peering": { "Peers": null },
        "Pinning": { "RemoteServices": {} },
        "Plugins": { "Plugins": null },
        "Provide": {},
        "Pubsub": {},
        "Routing": {},
        "Swarm": {
            "ConnMgr": {},
            "ResourceMgr": {},
            "Transports": { "Multiplexers": {}, "Network": {}, "Security": {} }
        },
        "Version": {}
    })
}

/// `ipfs init` minus the printing: creates the repo layout and config.
pub fn init_repo(repo: &Path, id: &Identity) -> Result<(), String> {
    fs::create_dir_all(repo).map_err(|e| go_path_err("mkdir", repo, &e))?;
    write_config(repo, &default_config(id))?;
    for d in ["blocks", "datastore", "keystore"] {
        let p = repo.join(d);
        fs::create_dir_all(&p).map_err(|e| go_path_err("mkdir", &p, &e))?;
    }
    let v = repo.join("version");
    fs::write(&v, format!("{REPO_VERSION}\n")).map_err(|e| go_path_err("open", &v, &e))?;
    let spec = repo.join("datastore_spec");
    let spec_text = r#"{"mounts":[{"mountpoint":"/blocks","path":"blocks","shardFunc":"/repo/flatfs/shard/v1/next-to-last/2","type":"flatfs"},{"mountpoint":"/","path":"datastore","type":"levelds"}],"type":"mount"}"#;
    fs::write(&spec, spec_text).map_err(|e| go_path_err("open", &spec, &e))?;
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

    #[test]
    fn dotted_set_creates_objects_and_keeps_dashes() {
        let mut cfg = json!({"API": {"HTTPHeaders": {}}});
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
        set_key(&mut cfg, "Foo.Bar.Baz", json!(1)).unwrap();
        assert_eq!(cfg["Foo"]["Bar"]["Baz"], 1);
        // case-insensitive match of existing keys, like Kubo
        set_key(&mut cfg, "api.httpheaders.X-Test", json!("y")).unwrap();
        assert_eq!(cfg["API"]["HTTPHeaders"]["X-Test"], "y");
        assert!(cfg.get("api").is_none());
    }

    #[test]
    fn dotted_set_replaces_null_and_rejects_scalars() {
        let mut cfg = json!({"Peering": {"Peers": null}, "Gateway": {"RootRedirect": ""}});
        set_key(&mut cfg, "Peering.Peers.X", json!(true)).unwrap();
        assert_eq!(cfg["Peering"]["Peers"]["X"], true);
        let err = set_key(&mut cfg, "Gateway.RootRedirect.X", json!(1)).unwrap_err();
        assert_eq!(err, "Gateway.RootRedirect key is not a map");
        assert!(set_key(&mut cfg, "", json!(1)).is_err());
    }

    #[test]
    fn dotted_get() {
        let cfg = json!({"Addresses": {"API": "/ip4/0.0.0.0/tcp/5001"}});
        assert_eq!(
            get_key(&cfg, "Addresses.API").unwrap(),
            "/ip4/0.0.0.0/tcp/5001"
        );
        assert_eq!(
            get_key(&cfg, "addresses.api").unwrap(),
            "/ip4/0.0.0.0/tcp/5001"
        );
        assert!(get_key(&cfg, "Addresses.Nope").is_err());
        assert!(get_key(&cfg, "Addresses.API.X").is_err());
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
