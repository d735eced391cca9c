//! `pinshare`: an offline stand-in for the PinShare app. It talks to Kubo's RPC
//! API the way PinShare does (add + pin), serves a health check that depends on
//! Kubo, and exposes its VERSION file so rebuilds are visible.
//!
//! The HTTP, multipart and OS helpers are shared with the kubo stand-in.

#[allow(dead_code)]
#[path = "../../kubo/src/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../../kubo/src/multipart.rs"]
mod multipart;
#[allow(dead_code)]
#[path = "../../kubo/src/sys.rs"]
mod sys;

use serde_json::Value;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use sys::log_line;

struct App {
    ipfs_api: String,
    version_file: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The URL `pinshare health` checks: this container's own /health, on the port of `listen`.
fn health_url(listen: &str) -> String {
    let port = listen
        .rsplit_once(':')
        .map_or(listen, |(_, p)| p)
        .parse::<u16>()
        .unwrap_or(9090);
    format!("http://127.0.0.1:{port}/health")
}

/// `pinshare health`: exit 0 when GET /health answers 200, else 1 (for a container healthcheck; the image has
/// no shell or curl).
fn health_command() -> ! {
    let url = health_url(&env_or("LISTEN_ADDR", "0.0.0.0:9090"));
    match http::request("GET", &url, &[], b"", Duration::from_secs(3)) {
        Ok(r) if r.status == 200 => std::process::exit(0),
        Ok(r) => {
            sys::elog_line(&format!("pinshare health: {url}: HTTP {}", r.status));
            std::process::exit(1);
        }
        Err(e) => {
            sys::elog_line(&format!("pinshare health: {url}: {e}"));
            std::process::exit(1);
        }
    }
}

/// `pinshare crash CODE`: a start-up failure (for restart and backoff tests): says so and exits with CODE.
fn crash_command(code: &str) -> ! {
    let code: i32 = code.parse().unwrap_or(1);
    sys::elog_line(&format!(
        "pinshare: fatal: crashing on purpose with code {code}"
    ));
    std::process::exit(code);
}

/// `pinshare alloc MIB`: allocates and touches MIB mebibytes, one at a time, then idles (for memory-limit
/// tests: under a smaller limit the kernel OOM-kills it).
fn alloc_command(mib: &str) -> ! {
    let mib: usize = mib.parse().unwrap_or(64);
    sys::exit_on_term_signals("shutting down\n");
    log_line(&format!("pinshare: allocating {mib} MiB"));
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(mib);
    for i in 0..mib {
        // Non-zero bytes so every page is really touched.
        held.push(vec![u8::try_from(i % 251).unwrap_or(1) | 1; 1 << 20]);
    }
    log_line(&format!("pinshare: holding {} MiB", held.len()));
    loop {
        std::thread::park();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("health") => health_command(),
        Some("crash") => crash_command(args.get(2).map_or("1", String::as_str)),
        Some("alloc") => alloc_command(args.get(2).map_or("64", String::as_str)),
        _ => {}
    }
    sys::exit_on_term_signals("shutting down\n");
    let app = App {
        ipfs_api: env_or("IPFS_API", "http://ipfs:5001")
            .trim_end_matches('/')
            .to_string(),
        version_file: env_or("VERSION_FILE", "/opt/pinshare/VERSION"),
    };
    let listen = env_or("LISTEN_ADDR", "0.0.0.0:9090");
    let p2p = env_or("P2P_ADDR", "0.0.0.0:50001");
    if let Err(e) = http::parse_http_url(&app.ipfs_api) {
        sys::elog_line(&format!("pinshare: bad IPFS_API: {e}"));
        std::process::exit(2);
    }
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        sys::elog_line(&format!(
            "pinshare: listen tcp {listen}: bind: {}",
            sys::go_reason(&e)
        ));
        std::process::exit(1);
    });
    let p2p_listener = TcpListener::bind(&p2p).unwrap_or_else(|e| {
        sys::elog_line(&format!(
            "pinshare: listen tcp {p2p}: bind: {}",
            sys::go_reason(&e)
        ));
        std::process::exit(1);
    });
    std::thread::spawn(move || http::accept_and_close(p2p_listener));
    let version = std::fs::read_to_string(&app.version_file).unwrap_or_else(|_| "unknown".into());
    let version = version.trim();
    let version = version.strip_prefix('v').unwrap_or(version);
    log_line(&format!(
        "pinshare stand-in v{version} listening on {listen} (IPFS_API={})",
        app.ipfs_api
    ));
    let app = Arc::new(app);
    http::serve(
        listener,
        Arc::new(move |req: &Request| {
            let resp = app.handle(req);
            log_line(&format!("{} {} {}", req.method, req.path, resp.status));
            resp
        }),
    );
}

impl App {
    fn handle(&self, req: &Request) -> Response {
        let get = req.method == "GET" || req.method == "HEAD";
        match (req.path.as_str(), get, req.method.as_str()) {
            ("/health", true, _) => self.health(),
            ("/version", true, _) => match std::fs::read(&self.version_file) {
                Ok(b) => Response::new(200)
                    .with_header("Content-Type", "text/plain; charset=utf-8")
                    .with_body(b),
                Err(e) => Response::text(
                    500,
                    format!("read {}: {}\n", self.version_file, sys::go_reason(&e)),
                ),
            },
            ("/pins", true, _) => self.pins(),
            ("/files", _, "POST") => self.upload(req),
            ("/health" | "/version" | "/pins" | "/files", _, _) => {
                Response::text(405, "method not allowed\n")
            }
            _ => Response::text(404, "404 page not found\n"),
        }
    }

    fn rpc(
        &self,
        cmd_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<http::ClientResponse, String> {
        http::request(
            "POST",
            &format!("{}/api/v0/{cmd_and_query}", self.ipfs_api),
            headers,
            body,
            timeout,
        )
    }

    /// Error text for a non-200 Kubo answer (its JSON Message when there is one).
    fn rpc_error(cmd: &str, r: &http::ClientResponse) -> String {
        let msg = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| v["Message"].as_str().map(String::from))
            .unwrap_or_else(|| r.text().trim_end().to_string());
        format!("ipfs {cmd}: HTTP {}: {msg}", r.status)
    }

    fn health(&self) -> Response {
        match self.rpc("id", &[], b"", Duration::from_secs(1)) {
            Ok(r) if r.status == 200 => {
                let id = serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|v| v["ID"].as_str().map(String::from))
                    .unwrap_or_default();
                Response::text(200, format!("ok {id}\n"))
            }
            Ok(r) => Response::text(503, format!("{}\n", Self::rpc_error("id", &r))),
            Err(e) => Response::text(503, format!("ipfs id: {e}\n")),
        }
    }

    fn pins(&self) -> Response {
        match self.rpc("pin/ls", &[], b"", Duration::from_secs(10)) {
            Ok(r) if r.status == 200 => Response::json(200, r.text()),
            Ok(r) => Response::text(502, format!("{}\n", Self::rpc_error("pin/ls", &r))),
            Err(e) => Response::text(502, format!("ipfs pin/ls: {e}\n")),
        }
    }

    fn upload(&self, req: &Request) -> Response {
        let name = req
            .param("name")
            .or_else(|| req.header("X-Filename"))
            .filter(|n| !n.is_empty())
            .unwrap_or("file")
            .to_string();
        let (ct, body) = multipart::build_file("file", &name, &req.body);
        let add = match self.rpc(
            "add?cid-version=1&raw-leaves=true&pin=true",
            &[("Content-Type", &ct)],
            &body,
            Duration::from_secs(60),
        ) {
            Ok(r) if r.status == 200 => r,
            Ok(r) => return Response::text(502, format!("{}\n", Self::rpc_error("add", &r))),
            Err(e) => return Response::text(502, format!("ipfs add: {e}\n")),
        };
        // Kubo may stream several JSON objects (progress, one per file): take the last Hash.
        let cid = add
            .text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["Hash"].as_str().map(String::from))
            .next_back();
        let Some(cid) = cid else {
            return Response::text(
                502,
                format!("ipfs add: no Hash in response: {}\n", add.text().trim_end()),
            );
        };
        match self.rpc(
            &format!("pin/add?arg={}", http::percent_encode(&cid)),
            &[],
            b"",
            Duration::from_secs(30),
        ) {
            Ok(r) if r.status == 200 => Response::text(200, format!("{cid}\n")),
            Ok(r) => Response::text(502, format!("{}\n", Self::rpc_error("pin/add", &r))),
            Err(e) => Response::text(502, format!("ipfs pin/add: {e}\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::health_url;

    #[test]
    fn health_url_uses_the_listen_port() {
        assert_eq!(health_url("0.0.0.0:9090"), "http://127.0.0.1:9090/health");
        assert_eq!(health_url("[::]:8081"), "http://127.0.0.1:8081/health");
        assert_eq!(health_url("garbage"), "http://127.0.0.1:9090/health");
    }
}
