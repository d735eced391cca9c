//! `ipfs`: an offline stand-in for Kubo's CLI and daemon, covering the parts the
//! PinShare dev orchestrator depends on (repo init/config, lock, RPC API with
//! Kubo's CORS rules, add/cat/pin with Kubo-identical CIDs for small files).

mod api;
mod cid;
mod config;
mod http;
mod multipart;
mod sys;

use serde_json::Value;
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sys::{elog_line, log_line};

const USAGE: &str = "USAGE
  ipfs [--api=<multiaddr>] [--repo-dir=<dir>] <command> ...

  (kubo stand-in: a small offline subset of Kubo)

  init [--profile=<p>] [-e]       Initialize the repo at $IPFS_PATH
  config <key> [<value>] [--json] Get or set a config value
  config show                     Print the config
  daemon [--init] [--migrate]     Run the daemon (RPC API, gateway, swarm port)
  id                              Show the node identity (via the API)
  diag healthy                    Exit 0 when the API answers
  dag stat <cid>                  Print size and block count (via the API)
  add <file>                      Add a file (via the API)
  cat <cid>                       Print a file (via the API)
  pin add|ls|rm [<cid>]           Manage pins (via the API)
  version                         Print the version
";

struct Globals {
    api: Option<String>,
    repo_dir: Option<String>,
}

/// Pulls global options (`--api=X`, `--api X`, `--repo-dir`) out of the args,
/// wherever they are (Kubo accepts options anywhere).
fn split_globals(args: Vec<String>) -> (Globals, Vec<String>) {
    let mut g = Globals {
        api: None,
        repo_dir: None,
    };
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let take = |name: &str,
                    slot: &mut Option<String>,
                    a: &str,
                    it: &mut std::vec::IntoIter<String>|
         -> bool {
            if let Some(v) = a.strip_prefix(&format!("--{name}=")) {
                *slot = Some(v.to_string());
                true
            } else if a == format!("--{name}") {
                *slot = it.next();
                true
            } else {
                false
            }
        };
        if take("api", &mut g.api, &a, &mut it) || take("repo-dir", &mut g.repo_dir, &a, &mut it) {
            continue;
        }
        rest.push(a);
    }
    (g, rest)
}

fn fail(msg: &str) -> ! {
    elog_line(&format!("Error: {msg}"));
    std::process::exit(1);
}

fn main() {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    if Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "start_ipfs")
    {
        start_ipfs(args);
    } else {
        run(args);
    }
}

/// `start_ipfs`: the kubo image's container entrypoint (kubo's `bin/container_daemon`, a shell script this
/// FROM-scratch image cannot run): `ipfs init` (with `$IPFS_PROFILE`) when the repo has no config, then the
/// `ipfs` command given as arguments. Kubo's script starts as root, makes the repo directory writable and drops
/// to the `ipfs` user with su-exec; this image already runs as 1000:100 and refuses root rather than pretend.
fn start_ipfs(args: Vec<String>) {
    if sys::is_root() {
        fail(
            "start_ipfs (stand-in): run it as 1000:100; dropping from root (su-exec) is not emulated",
        );
    }
    let repo = config::repo_path(None);
    log_line(&format!("ipfs version {}-standin", api::VERSION));
    if config::is_initialized(&repo) {
        log_line(&format!("Found IPFS fs-repo at {}", repo.display()));
    } else {
        // Kubo's script then sets Addresses.API and Addresses.Gateway to 0.0.0.0: the stand-in's init does.
        do_init(&repo);
    }
    run(args);
}

fn run(args: Vec<String>) {
    let (g, args) = split_globals(args);
    let repo = config::repo_path(g.repo_dir.as_deref());
    let sub: Vec<&str> = args.iter().map(String::as_str).collect();
    match sub.as_slice() {
        [] | ["help"] | ["--help"] | ["-h"] => print!("{USAGE}"),
        ["version", ..] | ["--version"] | ["-v"] => {
            println!("ipfs version {}-standin", api::VERSION)
        }
        ["init", rest @ ..] => cmd_init(&repo, rest),
        ["config", rest @ ..] => cmd_config(&repo, rest),
        ["daemon", rest @ ..] => cmd_daemon(&repo, rest),
        ["id", ..] => {
            let v = api_call_json(&g, &repo, "id", &[]);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        ["diag", "healthy", ..] => {
            api_call(&g, &repo, "diag/healthy", &[], None);
        }
        ["dag", "stat", rest @ ..] => {
            let arg =
                first_positional(rest).unwrap_or_else(|| fail("argument \"root\" is required"));
            let v = api_call_json(&g, &repo, "dag/stat", &[("arg", arg)]);
            println!("Size: {}, NumBlocks: {}", v["Size"], v["NumBlocks"]);
        }
        ["cat", rest @ ..] => {
            let arg = first_positional(rest)
                .unwrap_or_else(|| fail("argument \"ipfs-path\" is required"));
            let body = api_call(&g, &repo, "cat", &[("arg", arg)], None);
            use std::io::Write;
            let _ = std::io::stdout().write_all(&body);
        }
        ["add", rest @ ..] => {
            let path =
                first_positional(rest).unwrap_or_else(|| fail("argument \"path\" is required"));
            let data = fs::read(path)
                .unwrap_or_else(|e| fail(&sys::go_path_err("open", Path::new(path), &e)));
            let name = Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(path);
            let (ct, body) = multipart::build_file("file", name, &data);
            let mut query: Vec<(&str, &str)> = Vec::new();
            for f in rest.iter().filter(|a| a.starts_with("--")) {
                let f = f.trim_start_matches("--");
                let (k, v) = f.split_once('=').unwrap_or((f, "true"));
                query.push((k, v));
            }
            let out = api_call(&g, &repo, "add", &query, Some((&ct, body)));
            for line in String::from_utf8_lossy(&out).lines() {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    println!(
                        "added {} {}",
                        v["Hash"].as_str().unwrap_or(""),
                        v["Name"].as_str().unwrap_or("")
                    );
                }
            }
        }
        ["pin", verb @ ("add" | "rm"), rest @ ..] => {
            let arg = first_positional(rest)
                .unwrap_or_else(|| fail("argument \"ipfs-path\" is required"));
            let v = api_call_json(&g, &repo, &format!("pin/{verb}"), &[("arg", arg)]);
            let word = if *verb == "add" { "pinned" } else { "unpinned" };
            for p in v["Pins"].as_array().into_iter().flatten() {
                println!("{word} {} recursively", p.as_str().unwrap_or(""));
            }
        }
        ["pin", "ls", rest @ ..] => {
            let q: Vec<(&str, &str)> = first_positional(rest)
                .map(|a| vec![("arg", a)])
                .unwrap_or_default();
            let v = api_call_json(&g, &repo, "pin/ls", &q);
            for (k, t) in v["Keys"].as_object().into_iter().flatten() {
                println!("{k} {}", t["Type"].as_str().unwrap_or(""));
            }
        }
        [other, ..] => fail(&format!("unknown command \"{other}\"\n\n{USAGE}")),
    }
}

fn first_positional<'a>(args: &[&'a str]) -> Option<&'a str> {
    args.iter().copied().find(|a| !a.starts_with('-'))
}

// ------------------------------------------------------------------- init

fn do_init(repo: &Path) {
    let id = config::new_identity();
    log_line("generating ED25519 keypair...done");
    log_line(&format!("peer identity: {}", id.peer_id));
    log_line(&format!("initializing IPFS node at {}", repo.display()));
    if let Err(e) = config::init_repo(repo, &id) {
        fail(&e);
    }
}

fn cmd_init(repo: &Path, _args: &[&str]) {
    // --profile/-p, -e/--empty-repo, --algorithm ... are accepted and ignored.
    if config::is_initialized(repo) {
        fail("ipfs configuration file already exists!\nReinitializing would overwrite your keys.");
    }
    do_init(repo);
}

// ----------------------------------------------------------------- config

fn cmd_config(repo: &Path, args: &[&str]) {
    let json_flag = args.contains(&"--json");
    let bool_flag = args.contains(&"--bool");
    let pos: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !config::is_initialized(repo) {
        fail(&config::no_repo_error(repo));
    }
    let mut cfg = config::read_config(repo).unwrap_or_else(|e| fail(&e));
    match pos.as_slice() {
        [] => fail("argument \"key\" is required"),
        ["show"] => {
            if let Some(id) = cfg.get_mut("Identity").and_then(Value::as_object_mut) {
                id.remove("PrivKey");
            }
            println!("{}", serde_json::to_string_pretty(&cfg).unwrap_or_default());
        }
        [key] => match config::get_key(&cfg, key) {
            Ok(Value::String(s)) => println!("{s}"),
            Ok(v) => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
            Err(e) => fail(&format!("failed to get config value: {e:?}")),
        },
        [key, value, ..] => {
            let v = if json_flag {
                serde_json::from_str::<Value>(value)
                    .unwrap_or_else(|e| fail(&format!("failed to unmarshal json. {e}")))
            } else if bool_flag {
                Value::Bool(
                    value
                        .parse()
                        .unwrap_or_else(|_| fail(&format!("invalid boolean {value:?}"))),
                )
            } else {
                Value::String(value.to_string())
            };
            if let Err(e) = config::set_key(&mut cfg, key, v) {
                fail(&format!(
                    "failed to set config value: {e} (maybe use --json?)"
                ));
            }
            if let Err(e) = config::write_config(repo, &cfg) {
                fail(&e);
            }
        }
    }
}

// ----------------------------------------------------------------- daemon

fn cmd_daemon(repo: &Path, args: &[&str]) {
    let init_flag = args.iter().any(|a| *a == "--init" || *a == "--init=true");
    sys::exit_on_term_signals("Received interrupt signal, shutting down...\n");

    // Kubo loads plugins first, which reads the config when it exists.
    if let Some(Err(e)) = config::is_initialized(repo).then(|| config::read_config(repo)) {
        fail(&format!("error loading plugins: {e}"));
    }
    log_line("Initializing daemon...");
    log_line(&format!("Kubo version: {}-standin", api::VERSION));
    log_line(&format!("Repo version: {}", config::REPO_VERSION));
    log_line("System version: amd64/linux");
    log_line("Golang version: go1.25");
    if !config::is_initialized(repo) {
        if !init_flag {
            fail(&config::no_repo_error(repo));
        }
        do_init(repo);
    }

    // Repo lock (flock), held for the life of the process.
    let lock_path = repo.join("repo.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| {
            fail(&format!(
                "lock {}: {}",
                lock_path.display(),
                sys::go_reason(&e)
            ))
        });
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => fail(&format!(
            "lock {}: someone else has the lock",
            lock_path.display()
        )),
        Err(fs::TryLockError::Error(e)) => fail(&format!(
            "lock {}: {}",
            lock_path.display(),
            sys::go_reason(&e)
        )),
    }

    // Config is read once, like Kubo: changes need a restart.
    let cfg = config::read_config(repo).unwrap_or_else(|e| fail(&e));
    let peer_id = cfg
        .pointer("/Identity/PeerID")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let public_key = config::public_key_from_config(&cfg);

    // Swarm: accept-and-close on the TCP addresses (IPv6 failures are ignored).
    for ma in config::addr_strings(cfg.pointer("/Addresses/Swarm")) {
        let Ok((host, port)) = config::parse_multiaddr(&ma) else {
            continue;
        };
        match bind(&host, port) {
            Ok(l) => {
                log_line(&format!("Swarm listening on {}", listener_ma(&l, &ma)));
                std::thread::spawn(move || http::accept_and_close(l));
            }
            Err(e) if ma.starts_with("/ip6/") => {
                let _ = e;
            }
            Err(e) => fail(&format!("listen tcp {host}:{port}: bind: {e}")),
        }
    }

    let api_ma = config::addr_strings(cfg.pointer("/Addresses/API"))
        .into_iter()
        .next()
        .unwrap_or_else(|| "/ip4/127.0.0.1/tcp/5001".into());
    let (api_host, api_port) =
        config::parse_multiaddr(&api_ma).unwrap_or_else(|e| fail(&format!("serveHTTPApi: {e}")));
    let api_listener = bind(&api_host, api_port).unwrap_or_else(|e| {
        fail(&format!("serveHTTPApi: manet.Listen({api_ma}) failed: listen tcp {api_host}:{api_port}: bind: {e}"))
    });
    let real_api_port = api_listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(api_port);
    let cors = api::Cors::from_config(&cfg, real_api_port);
    let node = Arc::new(api::Node::new(
        repo.to_path_buf(),
        peer_id,
        public_key,
        cors,
    ));
    log_line(&format!(
        "RPC API server listening on {}",
        listener_ma(&api_listener, &api_ma)
    ));
    let webui_host = if api_host == "0.0.0.0" {
        "127.0.0.1".to_string()
    } else {
        api_host.clone()
    };
    log_line(&format!("WebUI: http://{webui_host}:{real_api_port}/webui"));

    for gw_ma in config::addr_strings(cfg.pointer("/Addresses/Gateway")) {
        let Ok((host, port)) = config::parse_multiaddr(&gw_ma) else {
            continue;
        };
        let l = bind(&host, port).unwrap_or_else(|e| {
            fail(&format!("serveHTTPGateway: manet.Listen({gw_ma}) failed: listen tcp {host}:{port}: bind: {e}"))
        });
        log_line(&format!(
            "Gateway server listening on {}",
            listener_ma(&l, &gw_ma)
        ));
        let n = Arc::clone(&node);
        std::thread::spawn(move || {
            http::serve(
                l,
                Arc::new(move |req: &http::Request| {
                    let resp = n.handle_gateway(req);
                    log_line(&format!("{} {} {}", req.method, req.path, resp.status));
                    resp
                }),
            )
        });
    }
    log_line("Daemon is ready");
    let n = Arc::clone(&node);
    http::serve(
        api_listener,
        Arc::new(move |req: &http::Request| {
            let resp = n.handle_api(req);
            log_line(&format!("{} {} {}", req.method, req.path, resp.status));
            resp
        }),
    );
    drop(lock);
}

fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    TcpListener::bind((host, port)).map_err(|e| sys::go_reason(&e))
}

/// The multiaddr actually listened on (resolves port 0).
fn listener_ma(l: &TcpListener, configured: &str) -> String {
    match l.local_addr() {
        Ok(a) => {
            let proto = if a.is_ipv4() { "ip4" } else { "ip6" };
            format!("/{proto}/{}/tcp/{}", a.ip(), a.port())
        }
        Err(_) => configured.to_string(),
    }
}

// ----------------------------------------------------------------- client

fn api_base(g: &Globals, repo: &Path) -> String {
    let ma = match &g.api {
        Some(a) => a.clone(),
        None => {
            if !config::is_initialized(repo) {
                fail(&config::no_repo_error(repo));
            }
            let cfg = config::read_config(repo).unwrap_or_else(|e| fail(&e));
            config::addr_strings(cfg.pointer("/Addresses/API"))
                .into_iter()
                .next()
                .unwrap_or_else(|| "/ip4/127.0.0.1/tcp/5001".into())
        }
    };
    let (host, port) = config::parse_multiaddr(&ma).unwrap_or_else(|e| fail(&e));
    let host = match host.as_str() {
        "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{port}")
}

/// POSTs to /api/v0/<cmd>; exits 1 with Kubo's error text unless the answer is 200.
fn api_call(
    g: &Globals,
    repo: &Path,
    cmd: &str,
    query: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Vec<u8> {
    let base = api_base(g, repo);
    let mut url = format!("{base}/api/v0/{cmd}");
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&format!(
            "{}={}",
            http::percent_encode(k),
            http::percent_encode(v)
        ));
    }
    let (headers, body): (Vec<(&str, &str)>, Vec<u8>) = match &body {
        Some((ct, b)) => (vec![("Content-Type", *ct)], b.clone()),
        None => (vec![], Vec::new()),
    };
    let timeout = Duration::from_secs(if cmd == "add" { 120 } else { 10 });
    let resp = match http::request("POST", &url, &headers, &body, timeout) {
        Ok(r) => r,
        Err(e) => fail(&format!(
            "cannot connect to the api. Is the deamon running? To run as a standalone CLI command remove the api file in `$IPFS_PATH/api`\n({e})"
        )),
    };
    if resp.status != 200 {
        let msg = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v["Message"].as_str().map(String::from))
            .unwrap_or_else(|| format!("{} (HTTP {})", resp.text().trim_end(), resp.status));
        fail(&msg);
    }
    resp.body
}

fn api_call_json(g: &Globals, repo: &Path, cmd: &str, query: &[(&str, &str)]) -> Value {
    let body = api_call(g, repo, cmd, query, None);
    serde_json::from_slice(&body).unwrap_or_else(|e| fail(&format!("decoding API response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_anywhere() {
        let args: Vec<String> = [
            "--api=/ip4/127.0.0.1/tcp/5001",
            "diag",
            "healthy",
            "--repo-dir",
            "/x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (g, rest) = split_globals(args);
        assert_eq!(g.api.as_deref(), Some("/ip4/127.0.0.1/tcp/5001"));
        assert_eq!(g.repo_dir.as_deref(), Some("/x"));
        assert_eq!(rest, vec!["diag", "healthy"]);
        let (g, rest) = split_globals(vec![
            "--api".into(),
            "/ip4/1.2.3.4/tcp/1".into(),
            "id".into(),
        ]);
        assert_eq!(g.api.as_deref(), Some("/ip4/1.2.3.4/tcp/1"));
        assert_eq!(rest, vec!["id"]);
    }
}
