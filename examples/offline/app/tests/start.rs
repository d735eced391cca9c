//! The PinShare double as a process, against a fake `ipfs` CLI and a fake kubo RPC API. Each test names the
//! PinShare file (Episk-pos/PinShare) whose behaviour it checks.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pinshare");
const CID: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// A fake kubo RPC API: answers 200 `{}` to everything and records the request lines.
fn fake_kubo() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut c in l.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            s.lock()
                .expect("lock")
                .push(head.lines().next().unwrap_or("").to_string());
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (port, seen)
}

/// A directory for PATH: `freshclam` and `clamscan` are this binary (as in the image); `ipfs` is a script
/// that records its argv and prints a CID for `add … -Q`.
fn bin_dir(root: &Path, with_ipfs: bool) -> PathBuf {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for name in ["freshclam", "clamscan"] {
        symlink(BIN, bin.join(name)).expect("symlink");
    }
    if with_ipfs {
        let log = root.join("ipfs-argv");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$1\" in add) echo {CID};; esac\n",
            log.display()
        );
        std::fs::write(bin.join("ipfs"), script).expect("write");
        std::fs::set_permissions(bin.join("ipfs"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    bin
}

struct App {
    root: tempfile::TempDir,
    data: PathBuf,
    api_port: u16,
    env: Vec<(String, String)>,
}

impl App {
    fn new(with_ipfs: bool, ipfs_api: &str) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        let bin = bin_dir(root.path(), with_ipfs);
        let api_port = free_port();
        let env = vec![
            ("PATH".into(), bin.display().to_string()),
            ("IPFS_API".into(), ipfs_api.to_string()),
            ("API_PORT".into(), api_port.to_string()),
            ("PS_LIBP2P_PORT".into(), free_port().to_string()),
            ("PS_STANDIN_START_DELAY".into(), "500ms".into()),
            (
                "VERSION_FILE".into(),
                root.path().join("VERSION").display().to_string(),
            ),
        ];
        App {
            root,
            data,
            api_port,
            env,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(&self.data)
            .env_clear()
            .envs(self.env.iter().cloned());
        c
    }

    fn run(&self) -> Output {
        self.command().output().expect("run")
    }

    fn spawn(&self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    }

    fn http(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
        http(self.api_port, method, path, body)
    }

    fn wait_healthy(&self, child: &mut Child) {
        let start = Instant::now();
        while self.http("GET", "/health", b"").is_none() {
            assert!(
                child.try_wait().expect("wait").is_none(),
                "the app exited: {:?}",
                child.try_wait()
            );
            assert!(start.elapsed() < Duration::from_secs(30), "no /health");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn peer_id(&self) -> String {
        let (status, body) = self.http("GET", "/p2p/status", b"").expect("status");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        v["id"].as_str().expect("id").to_string()
    }
}

fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

fn stop(mut child: Child) -> (Option<i32>, String) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().expect("output");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
    )
}

// internal/app/app.go checkDependanciesAndEnableSecurityPath: exec.LookPath("ipfs"), exit 1.
#[test]
fn it_exits_1_at_start_when_the_ipfs_cli_is_missing() {
    let (kubo, _) = fake_kubo();
    let app = App::new(false, &format!("http://127.0.0.1:{kubo}"));
    let o = app.run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("[ERROR] ipfs cmd Missing"), "{out}");
    assert!(out.contains("[CHECK] External IPFS API reachable"), "{out}");
}

// internal/app/app.go: http.Post($IPFS_API + "/api/v0/version"), exit 1 when it fails.
#[test]
fn it_exits_1_at_start_when_kubo_does_not_answer() {
    let port = free_port();
    let app = App::new(true, &format!("http://127.0.0.1:{port}"));
    let o = app.run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("[CHECK] ipfs cmd found"), "{out}");
    assert!(
        out.contains(&format!(
            "[ERROR] External IPFS API not reachable: Post \"http://127.0.0.1:{port}/api/v0/version\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        )),
        "{out}"
    );
    assert!(
        !app.data.join("identity.key").exists(),
        "nothing is written before the checks pass"
    );
}

// internal/app/app.go: VT_TOKEN set but VirusTotal unreachable is fatal (these machines are offline).
#[test]
fn it_exits_1_when_a_virustotal_token_is_set_offline() {
    let (kubo, _) = fake_kubo();
    let mut app = App::new(true, &format!("http://127.0.0.1:{kubo}"));
    app.env.push(("VT_TOKEN".into(), "abc".into()));
    let o = app.run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("[PANIC] Security Capability is 0"), "{out}");
}

// internal/app/app.go Start (API last, identity.key and pinshare.db relative to the working directory);
// internal/api/main_api.go (/health any method, /p2p/status); internal/psfs/ipfs_cmd.go (add argv).
#[test]
fn it_serves_after_the_slow_start_and_keeps_its_identity_in_the_working_directory() {
    let (kubo, seen) = fake_kubo();
    let app = App::new(true, &format!("http://127.0.0.1:{kubo}"));
    std::fs::write(app.root.path().join("VERSION"), "v7\n").expect("write");
    let mut child = app.spawn();
    // freshclam (the double's: 500 ms here) runs before anything listens on API_PORT.
    assert!(
        app.http("GET", "/health", b"").is_none(),
        "/health must not answer during the slow start"
    );
    app.wait_healthy(&mut child);
    assert_eq!(
        seen.lock().expect("lock")[0],
        "POST /api/v0/version HTTP/1.1"
    );
    for method in ["GET", "POST", "PUT", "DELETE", "HEAD"] {
        let (status, body) = app.http(method, "/health", b"").expect("health");
        assert_eq!(status, 200, "{method}");
        if method != "HEAD" {
            assert_eq!(body, "{\"status\":\"ok\"}\n", "{method}");
        }
    }
    assert_eq!(
        app.http("GET", "/version", b""),
        Some((200, "v7\n".to_string()))
    );
    let id = app.peer_id();
    assert!(id.starts_with("12D3KooW"), "{id}");
    for f in ["identity.key", "pinshare.db", "upload", "cache", "rejected"] {
        assert!(app.data.join(f).exists(), "{f} in the working directory");
    }

    let (status, body) = app
        .http("POST", "/files?name=hello.txt", b"hello world\n")
        .expect("upload");
    assert_eq!((status, body.trim()), (200, CID), "{body}");
    let argv = std::fs::read_to_string(app.root.path().join("ipfs-argv")).expect("argv");
    assert_eq!(
        argv,
        "add --cid-version 1 --raw-leaves ./upload/hello.txt -Q\n"
    );
    let (_, files) = app.http("GET", "/files", b"").expect("files");
    assert!(files.contains(CID), "{files}");

    let (code, out) = stop(child);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("[INFO] Saved new identity to identity.key"),
        "{out}"
    );
    assert!(
        out.contains(&format!("[INFO] Libp2p Host ID: {id}")),
        "{out}"
    );
    assert!(
        out.contains("[INFO] Received shutdown signal, closing libp2p host and saving data..."),
        "{out}"
    );
    assert!(!out.contains("GET /health"), "no request lines: {out}");
    assert!(app.data.join("metadata.json").exists());

    // A new process in the same directory (a recreated container on the same volume): same peer id.
    let mut again = app.spawn();
    app.wait_healthy(&mut again);
    assert_eq!(app.peer_id(), id);
    let (_, out) = stop(again);
    assert!(
        out.contains("[INFO] Loaded identity from identity.key"),
        "{out}"
    );
}

// internal/db/db.go NewDB: a working directory the user cannot write is fatal (the root-owned bind mount
// that pinshare-dev's fix_ownership repairs).
#[test]
fn it_exits_1_when_the_working_directory_is_not_writable() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let (kubo, _) = fake_kubo();
    let app = App::new(true, &format!("http://127.0.0.1:{kubo}"));
    std::fs::set_permissions(app.root.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::set_permissions(&app.data, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let mut c = app.command();
    if is_root() {
        // root writes anywhere: run as the image's user, as the container would.
        c.uid(1000).gid(100);
    }
    let o = c.output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[ERROR] Failed to initialize database: failed to enable foreign keys: unable to open database file: permission denied"),
        "{err}"
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
