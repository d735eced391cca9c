//! `ipfs`: an offline double of kubo's CLI and daemon (and, as `start_ipfs`, of its image's
//! entrypoint), covering what pinshare-dev and PinShare depend on: repo init and config with
//! kubo's key rules and lock, the RPC API with kubo's access rules, add/get/cat/pin with kubo's
//! CIDs for small files, and the version differences between the tags it can stand in for.

mod api;
mod cid;
mod config;
mod cors;
mod entrypoint;
#[allow(dead_code)] // shared with the app double
mod http;
mod multipart;
mod sys;
mod version;

use serde_json::Value;
use standin_common::goerr;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sys::{elog_line, log_line};
use version::Kubo;

const USAGE: &str = "USAGE
  ipfs [--api=<multiaddr>] [--repo-dir=<dir>] <command> ...

  (kubo stand-in: a small offline subset of Kubo)

  init [--profile=<p>]            Initialize the repo at $IPFS_PATH
  config <key> [<value>] [--json] Get or set a config value
  config show                     Print the config
  daemon                          Run the daemon (RPC API, gateway, swarm port)
  id                              Show the node identity
  diag healthy                    Report whether the daemon is operational (kubo >= 0.42)
  dag stat <cid>                  Print size and block count
  add <file>                      Add a file
  cat <cid>                       Print a file
  get <cid> [-o <path>]           Save a file
  pin add|ls|rm [<cid>]           Manage pins
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
    match Path::new(&argv0).file_name().and_then(|n| n.to_str()) {
        Some("start_ipfs") => entrypoint::start_ipfs(args),
        Some(entrypoint::CONTAINER_DAEMON) => entrypoint::container_daemon(args),
        _ => run(args),
    }
}

fn run(args: Vec<String>) {
    let kubo = version::current();
    let (g, args) = split_globals(args);
    let repo = config::repo_path(g.repo_dir.as_deref());
    let sub: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(sub.as_slice(), [] | ["help"] | ["--help"] | ["-h"]) {
        print!("{USAGE}");
        return;
    }
    // kubo v0.42.0 cmd/ipfs/kubo/start.go BuildEnv -> loadPlugins: before any command.
    if let Err(e) = config::plugin_preload_check(&repo) {
        fail(&e);
    }
    let ex = Executor { g: &g, repo: &repo };
    match sub.as_slice() {
        ["version", rest @ ..] | ["--version", rest @ ..] => {
            if rest.iter().any(|a| *a == "-n" || *a == "--number") {
                println!("{}", kubo.number());
            } else {
                println!("ipfs version {}", kubo.number());
            }
        }
        ["init", rest @ ..] => cmd_init(&repo, rest, kubo),
        ["config", "show", ..] => {
            let v = ex.json("config/show", &[], None);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        ["config", rest @ ..] => cmd_config(&ex, rest),
        ["daemon", rest @ ..] => cmd_daemon(&repo, rest, kubo),
        ["id", ..] => {
            let v = ex.json("id", &[], None);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        ["diag", "healthy", ..] if kubo.has_diag_healthy() => {
            let body = ex.call("diag/healthy", &[], None);
            // No text encoder: the CLI prints the JSON value.
            let _ = std::io::stdout().write_all(&body);
        }
        ["diag", rest @ ..] => {
            let n = rest.iter().filter(|a| !a.starts_with('-')).count();
            if n > 0 {
                // go-ipfs-cmds cli/parse.go: `diag` takes no arguments (kubo < 0.42 has no `healthy`).
                elog_line(&format!("Error: expected 0 argument(s), got {n}"));
                elog_line("");
                elog_line(DIAG_SHORT_HELP);
                std::process::exit(1);
            }
            print!("{DIAG_SHORT_HELP}");
        }
        ["dag", "stat", rest @ ..] => {
            let arg =
                first_positional(rest).unwrap_or_else(|| fail("argument \"root\" is required"));
            let q = [("arg", arg), ("progress", "false")];
            let v = ex.json("dag/stat", &q, None);
            print!("{}", dag_stat_text(&v, kubo));
        }
        ["cat", rest @ ..] => {
            let arg = first_positional(rest)
                .unwrap_or_else(|| fail("argument \"ipfs-path\" is required"));
            let body = ex.call("cat", &[("arg", arg)], None);
            let _ = std::io::stdout().write_all(&body);
        }
        ["get", rest @ ..] => cmd_get(&ex, rest),
        ["add", rest @ ..] => cmd_add(&ex, rest),
        ["pin", verb @ ("add" | "rm"), rest @ ..] => {
            let arg = first_positional(rest)
                .unwrap_or_else(|| fail("argument \"ipfs-path\" is required"));
            let v = ex.json(&format!("pin/{verb}"), &[("arg", arg)], None);
            let word = if *verb == "add" { "pinned" } else { "unpinned" };
            for p in v["Pins"].as_array().into_iter().flatten() {
                println!("{word} {} recursively", p.as_str().unwrap_or(""));
            }
        }
        ["pin", "ls", rest @ ..] => {
            let mut q: Vec<(&str, &str)> = first_positional(rest)
                .map(|a| vec![("arg", a)])
                .unwrap_or_default();
            q.push(("stream", "false"));
            let v = ex.json("pin/ls", &q, None);
            for (k, t) in v["Keys"].as_object().into_iter().flatten() {
                println!("{k} {}", t["Type"].as_str().unwrap_or(""));
            }
        }
        [other, ..] => fail(&format!("unknown command \"{other}\"\n\n{USAGE}")),
        [] => unreachable!("handled above"),
    }
}

const DIAG_SHORT_HELP: &str = "USAGE
  ipfs diag - Generate diagnostic reports.

  ipfs diag

  For more information about each command, use:
  'ipfs diag <subcmd> --help'
";

fn first_positional<'a>(args: &[&'a str]) -> Option<&'a str> {
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        // Options that take their value as the next argument.
        if ["-o", "--output", "--cid-version", "--chunker", "--hash"].contains(a) {
            skip = true;
            continue;
        }
        if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// kubo core/commands/dag/dag.go DagStatCmd text encoder (0.42 adds humanized sizes).
fn dag_stat_text(v: &Value, kubo: Kubo) -> String {
    let stats = v["DagStats"].as_array().cloned().unwrap_or_default();
    let cid_w = stats
        .first()
        .and_then(|s| s["Cid"].as_str())
        .map_or(3, str::len);
    let mut out = String::from("\n");
    out.push_str(&format!("{:<cid_w$}\t{:<15}\tSize\n", "CID", "Blocks"));
    for s in &stats {
        out.push_str(&format!(
            "{}\t{:<15}\t{}\n",
            s["Cid"].as_str().unwrap_or(""),
            s["NumBlocks"].as_u64().unwrap_or(0),
            s["Size"].as_u64().unwrap_or(0)
        ));
    }
    let total = v["TotalSize"].as_u64().unwrap_or(0);
    let shared = v["SharedSize"].as_u64().unwrap_or(0);
    let ratio = v["Ratio"].as_f64().unwrap_or(0.0);
    let unique = v["UniqueBlocks"].as_u64().unwrap_or(0);
    out.push_str("\nSummary\n");
    match kubo {
        Kubo::V0_39_0 => out.push_str(&format!(
            "Total Size: {total}\nUnique Blocks: {unique}\nShared Size: {shared}\nRatio: {ratio:.6}\n"
        )),
        Kubo::V0_42_0 => out.push_str(&format!(
            "Total Size: {total} ({total} B)\nUnique Blocks: {unique}\nShared Size: {shared} ({shared} B)\nRatio: {ratio:.6}\n"
        )),
    }
    out.push_str("\n\n");
    out
}

// ------------------------------------------------------------------- init

/// kubo cmd/ipfs/kubo/init.go: identity first, then `initializing IPFS node at`, the writable
/// check, the exists check, profiles, the repo; the empty directory is pinned (initializeIpnsKeyspace).
fn cmd_init(repo: &Path, args: &[&str], kubo: Kubo) {
    let mut profiles = String::new();
    let mut empty = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(p) = a
            .strip_prefix("--profile=")
            .or_else(|| a.strip_prefix("-p="))
        {
            profiles = p.to_string();
        } else if *a == "--profile" || *a == "-p" {
            profiles = it.next().map(|s| s.to_string()).unwrap_or_default();
        } else if *a == "--empty-repo=false" || *a == "-e=false" {
            empty = false;
        }
    }
    if !empty {
        fail("kubo stand-in: --empty-repo=false (seeding the init docs) is not supported");
    }
    init_repo(repo, &profiles, kubo);
}

/// kubo cmd/ipfs/kubo/init.go doInit (after the identity is made).
fn init_repo(repo: &Path, profiles: &str, kubo: Kubo) {
    let id = config::new_identity();
    log_line("generating ED25519 keypair...done");
    log_line(&format!("peer identity: {}", id.peer_id));
    log_line(&format!("initializing IPFS node at {}", repo.display()));
    check_writable(repo).unwrap_or_else(|e| fail(&e));
    if config::is_initialized(repo) {
        // errRepoExists ends in a newline: kubo prints an empty line after it.
        fail("ipfs configuration file already exists!\nReinitializing would overwrite your keys\n");
    }
    let mut cfg = config::default_config(&id);
    config::apply_profiles(&mut cfg, profiles, kubo).unwrap_or_else(|e| fail(&e));
    config::init_repo(repo, &cfg).unwrap_or_else(|e| fail(&e));
    let _lock = config::lock_repo(repo).unwrap_or_else(|e| fail(&e));
    api::Node::open(repo, kubo)
        .pin_empty_dir()
        .unwrap_or_else(|e| fail(&e));
}

/// kubo cmd/ipfs/kubo/init.go checkWritable.
fn check_writable(dir: &Path) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(_) => {
            let t = dir.join("test");
            match fs::File::create(&t) {
                Ok(_) => fs::remove_file(&t).map_err(|e| goerr::path_error("remove", &t, &e)),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                    "{} is not writeable by the current user",
                    dir.display()
                )),
                Err(e) => Err(format!(
                    "unexpected error while checking writeablility of repo root: {}",
                    goerr::path_error("open", &t, &e)
                )),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .mode(0o775)
                .create(dir)
                .map_err(|e| goerr::path_error("mkdir", dir, &e))
        }
        Err(e) => Err(goerr::path_error("stat", dir, &e)),
    }
}

// ----------------------------------------------------------------- config

/// kubo core/commands/config.go ConfigCmd (CLI side: arguments, options, text encoder).
fn cmd_config(ex: &Executor, args: &[&str]) {
    let json_flag = args.contains(&"--json");
    let bool_flag = args.contains(&"--bool");
    let pos: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mut q: Vec<(&str, &str)> = Vec::new();
    match pos.as_slice() {
        [] => fail("argument \"key\" is required"),
        [key] => q.push(("arg", key)),
        [key, value] => {
            q.push(("arg", key));
            q.push(("arg", value));
        }
        _ => fail(&format!("expected 2 argument(s), got {}", pos.len())),
    }
    if json_flag {
        q.push(("json", "true"));
    }
    if bool_flag {
        q.push(("bool", "true"));
    }
    let v = ex.json("config", &q, None);
    if pos.len() == 1 {
        match &v["Value"] {
            Value::String(s) => println!("{s}"),
            other => println!(
                "{}",
                serde_json::to_string_pretty(other).unwrap_or_default()
            ),
        }
    }
}

// -------------------------------------------------------------- add / get

fn cmd_add(ex: &Executor, rest: &[&str]) {
    let path = first_positional(rest).unwrap_or_else(|| fail("argument \"path\" is required"));
    let data =
        fs::read(path).unwrap_or_else(|e| fail(&goerr::path_error("open", Path::new(path), &e)));
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path);
    let (ct, body) = multipart::build_file("file", name, &data);
    let mut query: Vec<(String, String)> = Vec::new();
    for f in rest.iter().filter(|a| a.starts_with("--")) {
        let f = f.trim_start_matches("--");
        let (k, v) = f.split_once('=').unwrap_or((f, "true"));
        query.push((k.to_string(), v.to_string()));
    }
    // `--cid-version 1` (space separated) as PinShare passes it.
    let mut fixed: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == "--cid-version" && i + 1 < rest.len() {
            fixed.push(("cid-version".into(), rest[i + 1].to_string()));
            i += 2;
            continue;
        }
        i += 1;
    }
    query.retain(|(k, v)| {
        !(["quiet", "quieter"].contains(&k.as_str()) || (k == "cid-version" && v == "true"))
    });
    query.extend(fixed);
    let q: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let quiet = rest
        .iter()
        .any(|a| ["-q", "--quiet", "-Q", "--quieter"].contains(a));
    let out = ex.call("add", &q, Some((&ct, body)));
    for line in String::from_utf8_lossy(&out).lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            if quiet {
                println!("{}", v["Hash"].as_str().unwrap_or(""));
                continue;
            }
            println!(
                "added {} {}",
                v["Hash"].as_str().unwrap_or(""),
                v["Name"].as_str().unwrap_or("")
            );
        }
    }
}

/// kubo core/commands/get.go: the daemon sends a tar; the CLI writes its entries under `-o` or the
/// CID's name in the working directory.
fn cmd_get(ex: &Executor, rest: &[&str]) {
    let arg = first_positional(rest).unwrap_or_else(|| fail("argument \"ipfs-path\" is required"));
    let mut out: Option<String> = None;
    for (i, a) in rest.iter().enumerate() {
        if let Some(o) = a
            .strip_prefix("--output=")
            .or_else(|| a.strip_prefix("-o="))
        {
            out = Some(o.to_string());
        } else if (*a == "-o" || *a == "--output") && i + 1 < rest.len() {
            out = Some(rest[i + 1].to_string());
        }
    }
    let body = ex.call("get", &[("arg", arg)], None);
    let name = arg
        .trim_start_matches("/ipfs/")
        .trim_end_matches('/')
        .to_string();
    let target = out.unwrap_or_else(|| name.clone());
    println!("Saving file(s) to {target}");
    let mut ar = tar::Archive::new(&body[..]);
    let entries = ar.entries().unwrap_or_else(|e| fail(&e.to_string()));
    for e in entries {
        let mut e = e.unwrap_or_else(|e| fail(&e.to_string()));
        e.unpack(&target)
            .unwrap_or_else(|err| fail(&format!("{target}: {err}")));
    }
}

// ----------------------------------------------------------------- daemon

fn cmd_daemon(repo: &Path, args: &[&str], kubo: Kubo) {
    log_line("Initializing daemon...");
    log_line(&format!("Kubo version: {}", kubo.number()));
    log_line(&format!("Repo version: {}", config::REPO_VERSION));
    log_line("System version: amd64/linux");
    log_line(&format!("Golang version: {}", kubo.golang()));
    // kubo v0.42.0 cmd/ipfs/kubo/daemon.go: `--init` [--init-profile=P] initializes a missing repo
    // (plain init: 127.0.0.1 addresses). Real kubo also seeds the init docs there; the double does not.
    let init = args.iter().any(|a| *a == "--init" || *a == "--init=true");
    if init && !config::is_initialized(repo) {
        let mut profiles = "";
        for (i, a) in args.iter().enumerate() {
            if let Some(p) = a.strip_prefix("--init-profile=") {
                profiles = p;
            } else if *a == "--init-profile" {
                profiles = args.get(i + 1).copied().unwrap_or("");
            }
        }
        init_repo(repo, profiles, kubo);
    }
    if !config::is_initialized(repo) {
        fail(&config::no_repo_error(repo));
    }
    let lock = config::lock_repo(repo).unwrap_or_else(|e| fail(&e));

    // Config is read once, like Kubo: changes need a restart.
    let cfg = config::read_config(repo).unwrap_or_else(|e| fail(&e));
    log_line(&format!(
        "PeerID: {}",
        cfg.pointer("/Identity/PeerID")
            .and_then(Value::as_str)
            .unwrap_or("")
    ));
    if repo.join("swarm.key").is_file() {
        log_line("Swarm is limited to private network of peers with the swarm key");
    }

    // Swarm: accept-and-close on the TCP addresses (IPv6 failures are ignored).
    let mut swarm = Vec::new();
    for ma in config::addr_strings(cfg.pointer("/Addresses/Swarm")) {
        let Ok((host, port)) = config::parse_multiaddr(&ma) else {
            continue;
        };
        match bind(&host, port) {
            Ok(l) => {
                swarm.push(listener_ma(&l, &ma));
                std::thread::spawn(move || http::accept_and_close(l));
            }
            Err(_) if ma.starts_with("/ip6/") => {}
            Err(e) => fail(&format!("listen tcp {host}:{port}: bind: {e}")),
        }
    }
    swarm.sort();
    for s in &swarm {
        log_line(&format!("Swarm listening on {s} (TCP)"));
    }
    log_line("Run 'ipfs id' to inspect announced and discovered multiaddrs of this node.");

    let api_ma = config::addr_strings(cfg.pointer("/Addresses/API"))
        .into_iter()
        .next()
        .unwrap_or_else(|| "/ip4/127.0.0.1/tcp/5001".into());
    let (api_host, api_port) =
        config::parse_multiaddr(&api_ma).unwrap_or_else(|e| fail(&format!("serveHTTPApi: {e}")));
    let api_listener = bind(&api_host, api_port).unwrap_or_else(|e| {
        fail(&format!("serveHTTPApi: manet.Listen({api_ma}) failed: listen tcp {api_host}:{api_port}: bind: {e}"))
    });
    let real = api_listener.local_addr().ok();
    let real_api_port = real.map_or(api_port, |a| a.port());
    let policy = cors::Policy::from_config(
        &cfg,
        real_api_port,
        kubo.number(),
        std::env::var("API_ORIGIN").ok().as_deref(),
    );
    let node = Arc::new(api::Node::open(repo, kubo).with_policy(policy));
    let listened = listener_ma(&api_listener, &api_ma);
    log_line(&format!("RPC API server listening on {listened}"));
    if let Some(a) = real {
        let s = a
            .to_string()
            .replacen("0.0.0.0:", "127.0.0.1:", 1)
            .replacen("[::]:", "[::1]:", 1);
        log_line(&format!("WebUI: http://{s}/webui"));
    }
    // daemon.go serveHTTPApi: SetAPIAddr(rewriteMaddrToUseLocalhostIfItsAny(...)).
    let api_file_ma = listened
        .replacen("/ip4/0.0.0.0/", "/ip4/127.0.0.1/", 1)
        .replacen("/ip6/::/", "/ip6/::1/", 1);
    config::write_api_file(repo, &api_file_ma).unwrap_or_else(|e| fail(&e));
    // kubo v0.42.0 cmd/ipfs/util/signal.go SetupInterruptHandler: SIGHUP, SIGINT or SIGTERM prints an empty
    // line and cancels the request context; daemon.go then prints these two lines, closes the node and
    // returns nil (exit 0).
    sys::on_term_signals(
        "\nReceived interrupt signal, shutting down...\n(Hit ctrl-c again to force-shutdown the daemon.)\n",
        &repo.join("api"),
    );

    let mut gateways = Vec::new();
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
        gateways.push(l);
    }
    log_line("Daemon is ready");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("starting the runtime: {e}")));
    rt.block_on(async move {
        for l in gateways {
            let n = Arc::clone(&node);
            tokio::spawn(http::serve(
                l,
                Arc::new(move |req: &http::Request| n.handle_gateway(req)),
            ));
        }
        http::serve(
            api_listener,
            Arc::new(move |req: &http::Request| node.handle_api(req)),
        )
        .await;
    });
    drop(lock);
}

fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    TcpListener::bind((host, port)).map_err(|e| goerr::reason(&e))
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

// --------------------------------------------------------------- executor

/// kubo v0.42.0 cmd/ipfs/kubo/start.go makeExecutor: a command runs on the daemon named by `--api`
/// or by the repo's `api` file; without either it runs locally (opening the repo: lock, config).
/// When the daemon named by the `api` file cannot be dialled, it falls back to local only if the
/// repo is initialized (ClientWithFallback); with `--api` it never falls back.
struct Executor<'a> {
    g: &'a Globals,
    repo: &'a Path,
}

enum Target {
    Remote { base: String, fallback: bool },
    Local,
}

impl Executor<'_> {
    fn target(&self) -> Target {
        let (ma, requested) = match &self.g.api {
            Some(a) => (Some(a.clone()), true),
            None => (
                config::api_file_addr(self.repo).unwrap_or_else(|e| fail(&e)),
                false,
            ),
        };
        let Some(ma) = ma else {
            return Target::Local;
        };
        let (host, port) = config::parse_multiaddr(&ma).unwrap_or_else(|e| fail(&e));
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        Target::Remote {
            base: format!("http://{host}:{port}"),
            fallback: !requested && config::is_initialized(self.repo),
        }
    }

    /// Runs one command; exits 1 with kubo's error text unless it succeeds.
    fn call(&self, cmd: &str, query: &[(&str, &str)], body: Option<(&str, Vec<u8>)>) -> Vec<u8> {
        let resp = match self.target() {
            Target::Local => self.local(cmd, query, body),
            Target::Remote { base, fallback } => match self.remote(&base, cmd, query, &body) {
                Ok(r) => r,
                Err(e) if e.starts_with("dial tcp") && fallback => self.local(cmd, query, body),
                Err(e) if e.starts_with("dial tcp") => fail(
                    "cannot connect to the api. Is the daemon running? To run as a standalone CLI command remove the api file in `$IPFS_PATH/api`",
                ),
                Err(e) => fail(&e),
            },
        };
        if resp.status != 200 {
            let msg = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| v["Message"].as_str().map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&resp.body).trim_end().to_string());
            fail(&msg);
        }
        resp.body
    }

    fn json(&self, cmd: &str, query: &[(&str, &str)], body: Option<(&str, Vec<u8>)>) -> Value {
        let body = self.call(cmd, query, body);
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| fail(&format!("decoding API response: {e}")))
    }

    fn remote(
        &self,
        base: &str,
        cmd: &str,
        query: &[(&str, &str)],
        body: &Option<(&str, Vec<u8>)>,
    ) -> Result<http::Response, String> {
        let url = format!("{base}/api/v0/{cmd}{}", encode_query(query));
        let (headers, body): (Vec<(&str, &str)>, Vec<u8>) = match body {
            Some((ct, b)) => (vec![("Content-Type", *ct)], b.clone()),
            None => (vec![], Vec::new()),
        };
        let timeout = Duration::from_secs(if cmd == "add" || cmd == "get" {
            120
        } else {
            30
        });
        let r = http::request("POST", &url, &headers, &body, timeout)?;
        Ok(http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }

    /// The local executor: opens the repo like fsrepo.Open (it must be initialized; the lock is
    /// taken for the command's duration) and runs the command in-process.
    fn local(
        &self,
        cmd: &str,
        query: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> http::Response {
        if !config::is_initialized(self.repo) {
            fail(&config::no_repo_error(self.repo));
        }
        let _lock = config::lock_repo(self.repo).unwrap_or_else(|e| fail(&e));
        let kubo = version::current();
        let node = api::Node::open(self.repo, kubo);
        let (ct, body) = match body {
            Some((ct, b)) => (Some(ct.to_string()), b),
            None => (None, Vec::new()),
        };
        let mut headers = Vec::new();
        if let Some(ct) = ct {
            headers.push(("Content-Type".to_string(), ct));
        }
        let req = http::Request {
            method: "POST".into(),
            path: format!("/api/v0/{cmd}"),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers,
            body,
        };
        node.dispatch(&req)
    }
}

fn encode_query(query: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in query.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(&format!(
            "{}={}",
            http::percent_encode(k),
            http::percent_encode(v)
        ));
    }
    s
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
    }

    // kubo v0.42.0 core/commands/dag/dag.go DagStatSummary.String (humanize) vs v0.39.0 (plain).
    #[test]
    fn dag_stat_text_differs_between_tags() {
        let v = serde_json::json!({"UniqueBlocks":1,"TotalSize":4,"Ratio":1,"DagStats":[{"Cid":cid::EMPTY_DIR_CID,"Size":4,"NumBlocks":1}]});
        let t42 = dag_stat_text(&v, Kubo::V0_42_0);
        assert!(
            t42.contains(
                "Total Size: 4 (4 B)\nUnique Blocks: 1\nShared Size: 0 (0 B)\nRatio: 1.000000\n"
            ),
            "{t42}"
        );
        assert!(t42.contains(&format!("{}\t1              \t4\n", cid::EMPTY_DIR_CID)));
        let t39 = dag_stat_text(&v, Kubo::V0_39_0);
        assert!(
            t39.contains("Total Size: 4\nUnique Blocks: 1\nShared Size: 0\nRatio: 1.000000\n"),
            "{t39}"
        );
    }
}
