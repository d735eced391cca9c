//! `pinshare`: an offline double of the PinShare app (github.com/Episk-pos/PinShare), for the parts
//! pinshare-dev depends on. Each behaviour names the PinShare file it follows; see README "The offline
//! PinShare double" for the interface.
//!
//! Start sequence (`internal/app/app.go` `Start`, at Episk-pos/PinShare ea26bbba):
//! 1. dependency check: the `ipfs` CLI on PATH; `POST $IPFS_API/api/v0/version` answering 200 (no timeout,
//!    as Go's `http.Post`), or when IPFS_API is unset a TCP dial of localhost:5001; the security path
//!    (P2P-Sec on localhost:36939, else VirusTotal, else clamscan + `freshclam`): any failure exits 1 after
//!    all the lines are printed;
//! 2. `./upload`, `./cache`, `./rejected`, `pinshare.db` (fatal when it cannot be opened), `metadata.json`,
//!    `identity.key` (generated once), all relative to the working directory;
//! 3. the libp2p host on PS_LIBP2P_PORT, tcp and udp (quic-v1);
//! 4. the HTTP API on API_PORT, last.
//!
//! This binary is also the image's `freshclam` and `clamscan` (by the name it is called with).

mod api;
mod clamav;
mod client;
mod config;
mod golog;
mod identity;
mod ipfs_cmd;
mod store;

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;

/// Set once PinShare's own signal handler would be installed (after the dependency check).
static HANDLER: AtomicBool = AtomicBool::new(false);
/// Set once the metadata is loaded (PinShare's `LoadedMetaData`): shutdown saves it.
static STATE: OnceLock<Arc<api::State>> = OnceLock::new();

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let called = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("pinshare");
    match called {
        "freshclam" => clamav::freshclam(),
        "clamscan" => clamav::clamscan(&args[1..]),
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("pinshare: starting the runtime: {e}");
            std::process::exit(1)
        });
    let code = rt.block_on(async {
        match args.get(1).map(String::as_str) {
            None => start().await,
            Some("health") => health_command().await,
            Some("crash") => crash_command(args.get(2).map_or("1", String::as_str)),
            Some("alloc") => alloc_command(args.get(2).map_or("64", String::as_str)).await,
            Some(other) => {
                // cobra's answer to an unknown subcommand, then app.go's.
                eprintln!("Error: unknown command \"{other}\" for \"pinshare\"");
                eprintln!("[ERROR] CLI Error: unknown command \"{other}\" for \"pinshare\"");
                1
            }
        }
    });
    std::process::exit(code);
}

/// Double-only `pinshare health`: exit 0 when GET /health answers 200 within 3 s (the image has no shell or
/// curl, so a container healthcheck or an exec liveness probe can run this).
async fn health_command() -> i32 {
    let port = config::Config::from_env()
        .ok()
        .and_then(|c| c.api_port().ok())
        .unwrap_or(9090);
    let url = format!("http://127.0.0.1:{port}/health");
    match tokio::time::timeout(Duration::from_secs(3), client::request("GET", &url)).await {
        Ok(Ok(a)) if a.status == 200 => 0,
        Ok(Ok(a)) => {
            eprintln!("pinshare health: {url}: HTTP {}", a.status);
            1
        }
        Ok(Err(e)) => {
            eprintln!("pinshare health: {e}");
            1
        }
        Err(_) => {
            eprintln!("pinshare health: {url}: timeout after 3s");
            1
        }
    }
}

/// Double-only `pinshare crash CODE`: a start-up failure (for restart and backoff tests).
fn crash_command(code: &str) -> i32 {
    let code: i32 = code.parse().unwrap_or(1);
    eprintln!("pinshare: fatal: crashing on purpose with code {code}");
    code
}

/// Double-only `pinshare alloc MIB`: allocates and touches MIB mebibytes, then idles (memory-limit tests).
async fn alloc_command(mib: &str) -> i32 {
    let mib: usize = mib.parse().unwrap_or(64);
    println!("pinshare: allocating {mib} MiB");
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(mib);
    for i in 0..mib {
        // Non-zero bytes so every page is really touched.
        held.push(vec![u8::try_from(i % 251).unwrap_or(1) | 1; 1 << 20]);
    }
    println!("pinshare: holding {} MiB", held.len());
    wait_for_term().await;
    println!("shutting down");
    drop(held);
    0
}

async fn wait_for_term() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// SIGTERM/SIGINT. Before PinShare installs its handler, Go's default applies (the process dies; as PID 1,
/// Go exits 2). After: the message, the metadata saved when loaded, one second, exit 0 (app.go).
async fn on_signals() {
    wait_for_term().await;
    if !HANDLER.load(Ordering::SeqCst) {
        std::process::exit(2);
    }
    println!("\n[INFO] Received shutdown signal, closing libp2p host and saving data...");
    if let Some(state) = STATE.get()
        && let Err(e) = state.store.save(&state.cfg.metadata_file)
    {
        eprintln!("[ERROR] Error saving data on exit: {e}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    std::process::exit(0);
}

/// TCP dial with a timeout (app.go `checkPort`).
async fn check_port(host: &str, port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect((host, port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// app.go `checkDependanciesAndEnableSecurityPath`: the security capability, or None (exit 1).
async fn check_dependencies(cfg: &config::Config) -> Option<u8> {
    let mut met = true;
    if ipfs_cmd::look_path("ipfs").is_some() {
        println!("[CHECK] ipfs cmd found");
    } else {
        println!("[ERROR] ipfs cmd Missing");
        met = false;
    }
    if let Some(api) = &cfg.ipfs_api {
        println!("[INFO] Using external IPFS API: {api}");
        match client::request("POST", &format!("{api}/api/v0/version")).await {
            Ok(a) if a.status == 200 => println!("[CHECK] External IPFS API reachable"),
            Ok(a) => {
                println!("[ERROR] External IPFS API returned status: {}", a.status);
                met = false;
            }
            Err(e) => {
                println!("[ERROR] External IPFS API not reachable: {e}");
                met = false;
            }
        }
    } else if check_port("localhost", 5001).await {
        println!("[CHECK] ipfs daemon running");
    } else {
        println!("[ERROR] ipfs daemon not running");
        met = false;
    }

    let capability;
    if check_port("localhost", 36939).await {
        println!("[CHECK] P2P-Sec running");
        capability = 1;
        println!("[INFO] Security Capability set to 1");
    } else {
        println!("[WARNING] P2P-Sec not running");
        // checkWebsite("https://www.virustotal.com"): these machines reach no internet, and the double has
        // no TLS client: the site is never "up" here.
        let vt_web_up = false;
        let vt_token = std::env::var("VT_TOKEN").unwrap_or_default();
        if !vt_token.is_empty() && vt_token != "REDACTED" {
            println!("[CHECK] VT_TOKEN found");
            println!("[ERROR] VirusTotal.com not Online");
            println!("[PANIC] Security Capability is 0");
            return None;
        }
        if ipfs_cmd::look_path("clamscan").is_some() {
            println!("[CHECK] clamscan cmd found");
            capability = 3;
            println!("[INFO] Security Capability set to 3");
            freshclam_update().await;
        } else {
            println!("[WARNING] clamscan cmd Missing");
            debug_assert!(!vt_web_up);
            println!("[ERROR] VirusTotal.com not Online");
            println!("[PANIC] Security Capability is 0");
            return None;
        }
    }
    met.then_some(capability)
}

/// `internal/psfs/sec.go` `FreshclamUpdate`: runs `freshclam`, prints its stdout; failure is not fatal.
async fn freshclam_update() {
    println!("[INFO] Freshclam update started");
    match process_output("freshclam").await {
        Ok((ok, out)) => {
            if !ok {
                println!("exit status 1");
            }
            println!("{out}");
        }
        Err(e) => {
            println!("exec: \"freshclam\": {e}");
            println!();
        }
    }
}

/// `exec.Command(name).Output()` off the runtime's threads: (success, stdout).
async fn process_output(name: &str) -> Result<(bool, String), String> {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(&name)
            .output()
            .map(|o| {
                (
                    o.status.success(),
                    String::from_utf8_lossy(&o.stdout).to_string(),
                )
            })
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "executable file not found in $PATH".to_string()
                } else {
                    standin_common::goerr::reason(&e)
                }
            })
    })
    .await
    .map_err(|e| e.to_string())?
}

fn fatal(msg: &str) -> i32 {
    eprintln!("{msg}");
    1
}

fn mkdir_all(dir: &str, what: &str) {
    use std::os::unix::fs::DirBuilderExt;
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
    {
        eprintln!(
            "[ERROR] Error creating {what} directory '{dir}': {}",
            standin_common::goerr::path_error("mkdir", std::path::Path::new(dir), &e)
        );
    }
}

/// `internal/db/db.go` `NewDB`: opening the file (created 0644 when missing) is what fails on a
/// directory the user cannot write. The double keeps no tables: a zero-length file is an empty SQLite
/// database.
fn open_database(path: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)
        .map(drop)
        .map_err(|e| {
            format!(
                "failed to enable foreign keys: unable to open database file: {}",
                standin_common::goerr::reason(&e)
            )
        })
}

/// `internal/p2p/host.go` `NewHost`: finds a free TCP port from `port` up, then listens on it over TCP and
/// UDP (libp2p tcp + quic-v1).
fn libp2p_listeners(port: u16) -> Result<(TcpListener, UdpSocket, u16), String> {
    println!("[P2P-INFO] Testing if Port {port} is in use. ");
    let mut p = port;
    let tcp = loop {
        match TcpListener::bind(("0.0.0.0", p)) {
            Ok(l) => break l,
            Err(_) if p < u16::MAX => {
                println!("[P2P-INFO] Port {port} is in use, trying next...");
                p += 1;
            }
            Err(e) => {
                return Err(format!(
                    "listen tcp4 0.0.0.0:{p}: bind: {}",
                    standin_common::goerr::reason(&e)
                ));
            }
        }
    };
    let udp = UdpSocket::bind(("0.0.0.0", p)).map_err(|e| {
        format!(
            "listen udp4 0.0.0.0:{p}: bind: {}",
            standin_common::goerr::reason(&e)
        )
    })?;
    Ok((tcp, udp, p))
}

/// The addresses libp2p reports for 0.0.0.0: loopback and this host's own addresses.
fn host_ips() -> Vec<String> {
    use std::net::ToSocketAddrs;
    let mut ips = vec!["127.0.0.1".to_string()];
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    if let Ok(addrs) = (hostname.trim(), 0).to_socket_addrs() {
        for a in addrs.filter(std::net::SocketAddr::is_ipv4) {
            let ip = a.ip().to_string();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    ips
}

/// Scans the upload folder as `startFileWatcher` does: once at start, then every 2 minutes.
async fn file_watcher(state: Arc<api::State>) {
    let folder = state.cfg.upload_folder.clone();
    println!("[INFO] Starting file watcher for folder '{folder}' with interval 2m0s");
    println!("[INFO] Performing initial scan of '{folder}'...");
    let mut first = true;
    loop {
        if !first {
            println!("[INFO] Scanning '{folder}' for new files...");
        }
        first = false;
        let s = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || api::scan_upload_folder(&s)).await;
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
}

async fn periodic(state: Arc<api::State>) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("[INFO] Bootstrapping libp2p host against known peers (if any)...");
    println!("[INFO] Connecting to default libp2p bootstrap peers...");
    // Offline: the default bootstrap peers are never reached.
    println!("[INFO] Finished attempting to connect to bootstrap peers.");
    println!("[INFO] DHT bootstrap process initiated.");
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    loop {
        tick.tick().await;
        println!("\n[INFO] ----- Periodic Status Update -----");
        println!("[INFO] Connected to 0 peers.");
        println!("[INFO] Host Addresses:");
        for a in &state.addresses {
            println!("  {a}/p2p/{}", state.peer_id);
        }
        println!("[INFO] PubSub peers on metadata topic: 0 ([])");
        println!("[INFO] ------------------------------------");
    }
}

async fn banset_routine() {
    println!("[INFO] Starting banset routine");
    let mut tick = tokio::time::interval(Duration::from_secs(120));
    tick.tick().await;
    loop {
        tick.tick().await;
        println!("[INFO] Running banset routine");
    }
}

async fn start() -> i32 {
    tokio::spawn(on_signals());
    let cfg = match config::Config::from_env() {
        Ok(c) => c,
        Err(config::ConfigError(e)) => {
            // app.go ignores LoadConfig's error and dereferences the nil config.
            eprintln!("panic: runtime error: invalid memory address or nil pointer dereference");
            eprintln!("(pinshare stand-in: the config error PinShare ignores: {e})");
            return 2;
        }
    };
    let Some(capability) = check_dependencies(&cfg).await else {
        return 1;
    };
    HANDLER.store(true, Ordering::SeqCst);
    println!("[INFO] No command given. Libp2p host is running. Press Ctrl+C to exit.");
    mkdir_all(&cfg.upload_folder, "upload");
    // (sic: PinShare says "upload" for the cache folder too)
    mkdir_all(&cfg.cache_folder, "upload");
    mkdir_all(&cfg.reject_folder, "reject");

    if let Err(e) = open_database(&cfg.database_file) {
        return fatal(&format!("[ERROR] Failed to initialize database: {e}"));
    }
    golog::log("[INFO] Applied 9 database migrations");
    golog::log("[INFO] Database initialized successfully");
    println!("[INFO] Database initialized successfully");

    if cfg.encryption_key.is_empty() {
        println!(
            "[WARNING] No encryption key set (PS_ENCRYPTION_KEY), using default key. Set a secure 32-byte key for production!"
        );
    } else if cfg.encryption_key.len() != 32 {
        return fatal(&format!(
            "[ERROR] Invalid encryption key (must be 32 bytes): key is {} bytes",
            cfg.encryption_key.len()
        ));
    }
    println!(
        "[INFO] Job queue started with {} workers",
        cfg.max_concurrent_jobs
    );
    println!("[WARNING] Google Drive import disabled (OAuth credentials not configured)");
    println!(
        "[INFO] Set GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, and GOOGLE_REDIRECT_URL to enable"
    );

    let store = store::Store::load(&cfg.metadata_file);
    let id = match identity::Identity::load_or_create(std::path::Path::new(&cfg.identity_key_file))
    {
        Ok((id, how)) => {
            let verb = match how {
                identity::Origin::Loaded => "Loaded identity from",
                identity::Origin::Generated => "Saved new identity to",
            };
            println!("[INFO] {verb} {}", cfg.identity_key_file);
            id
        }
        Err(identity::IdentityError(msg)) => return fatal(&msg),
    };

    let (tcp, udp, p2p_port) = match libp2p_listeners(cfg.libp2p_port) {
        Ok(l) => l,
        Err(e) => {
            return fatal(&format!(
                "[ERROR] Failed to create libp2p host: failed to create libp2p host: {e}"
            ));
        }
    };
    std::thread::spawn(move || {
        // Accepts and drops: no libp2p protocol is spoken.
        for c in tcp.incoming() {
            drop(c);
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while udp.recv_from(&mut buf).is_ok() {}
    });
    println!("[INFO] Direct message handler registered for protocol: /pinshare/dm/1.0.0");
    let peer_id = id.peer_id();
    println!("[INFO] Libp2p Host ID: {peer_id}");
    println!("[INFO] Libp2p Host Addresses:");
    let mut addresses = Vec::new();
    for ip in host_ips() {
        addresses.push(format!("/ip4/{ip}/tcp/{p2p_port}"));
        addresses.push(format!("/ip4/{ip}/udp/{p2p_port}/quic-v1"));
    }
    for a in &addresses {
        println!("  {a}/p2p/{peer_id}");
    }
    println!("[INFO] Bootstrapping DHT...");
    println!("[INFO] DHT bootstrap process initiated.");
    println!("[INFO] PubSub Manager initialized.");

    let api_port = cfg.api_port();
    let state = Arc::new(api::State {
        cfg,
        store,
        peer_id,
        addresses,
        security_capability: capability,
    });
    let _ = STATE.set(Arc::clone(&state));
    tokio::spawn(periodic(Arc::clone(&state)));
    tokio::spawn(file_watcher(Arc::clone(&state)));
    tokio::spawn(banset_routine());
    serve_api(state, api_port).await
}

/// main_api.go `Start`: API_PORT parsed here (a bad one is fatal), then ListenAndServe on 0.0.0.0.
async fn serve_api(state: Arc<api::State>, port: Result<u16, String>) -> i32 {
    let port = match port {
        Ok(p) => p,
        Err(e) => {
            golog::log(&format!("[ERROR] Invalid API_PORT env: {e}"));
            return 1;
        }
    };
    let addr = format!("0.0.0.0:{port}");
    golog::log(&format!("[INFO] Starting API server on {addr}"));
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            golog::log(&format!(
                "listen tcp {addr}: bind: {}",
                standin_common::goerr::reason(&e)
            ));
            return 1;
        }
    };
    let version =
        std::fs::read_to_string(&state.cfg.version_file).unwrap_or_else(|_| "unknown".into());
    let version = version.trim();
    // Double-only line: which build is serving (rebuild tests wait for it).
    println!(
        "pinshare stand-in v{} listening on {addr}",
        version.strip_prefix('v').unwrap_or(version)
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| api::handle(Arc::clone(&state), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
