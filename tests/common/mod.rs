//! Test harness: each test gets its own project (name, free host ports, spec file) built from the offline
//! example, drives the real binary against the real engine, and cleans up by label even when it fails.

#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The offline example directory.
pub fn offline_dir() -> PathBuf {
    repo().join("examples/offline")
}

/// Runs the docker CLI (tests may; the tool itself never does).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

/// stdout of a docker CLI call that must succeed.
pub fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Fails the test (never skips) when the engine is unreachable.
pub fn require_docker() {
    let o = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(
        o.status.success(),
        "the Docker engine is unreachable; these tests need it (.ci/run starts one): {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls until `f` returns `Some`, or panics after `timeout`.
pub fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut delay = Duration::from_millis(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 request on loopback (Connection: close).
pub fn http(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {text:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_string(),
    })
}

/// A test project: the offline example with its own name and host ports.
pub struct Project {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub spec: PathBuf,
    pub kubo_api: u16,
    pub app_port: u16,
}

impl Project {
    /// A project named after the test, from the offline example spec.
    pub fn offline(test: &str) -> Self {
        require_docker();
        let name = format!("t-{test}-{}", std::process::id()).replace('_', "-");
        let dir = tempfile::tempdir().unwrap();
        let (kubo_api, gateway, swarm, app_port, p2p) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let offline = offline_dir();
        let text = std::fs::read_to_string(offline.join("pinshare.toml"))
            .unwrap()
            .replace("name = \"pinshare-offline\"", &format!("name = \"{name}\""))
            .replace(
                "context = \".\"",
                &format!("context = \"{}\"", offline.display()),
            )
            .replace(
                "host_env = {",
                &format!("host_workdir = \"{}\", host_env = {{", offline.display()),
            )
            .replace("\"5001:5001\"", &format!("\"{kubo_api}:5001\""))
            .replace("\"8080:8080\"", &format!("\"{gateway}:8080\""))
            .replace("\"4001:4001\"", &format!("\"{swarm}:4001\""))
            .replace("\"9090:9090\"", &format!("\"{app_port}:9090\""))
            .replace("\"50001:50001\"", &format!("\"{p2p}:50001\""));
        let spec = dir.path().join("pinshare.toml");
        std::fs::write(&spec, text).unwrap();
        let p = Project {
            name,
            dir,
            spec,
            kubo_api,
            app_port,
        };
        p.cleanup();
        p
    }

    /// The binary with `-f <spec>` and the given arguments.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"));
        c.arg("-f").arg(&self.spec).args(args).env("NO_COLOR", "1");
        c
    }

    /// Runs the binary and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and requires exit 0; returns stdout + stderr.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.status.success(),
            "pinshare-dev {args:?} exited with {:?}:\n{text}",
            o.status.code()
        );
        text
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}", self.name)
    }

    pub fn volume(&self, name: &str) -> String {
        format!("{}_{name}", self.name)
    }

    /// `docker inspect -f FORMAT` of a service's container.
    pub fn inspect(&self, service: &str, format: &str) -> String {
        docker_ok(&["inspect", "-f", format, &self.container(service)])
    }

    /// Containers carrying this project's label.
    pub fn labelled_containers(&self) -> Vec<String> {
        let out = docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.pinshare.project={}", self.name),
        ]);
        out.lines().map(str::to_string).collect()
    }

    pub fn labelled_volumes(&self) -> Vec<String> {
        let out = docker_ok(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=dev.pinshare.project={}", self.name),
        ]);
        out.lines().map(str::to_string).collect()
    }

    /// Removes everything carrying this project's label.
    pub fn cleanup(&self) {
        let label = format!("label=dev.pinshare.project={}", self.name);
        let ids = docker(&["ps", "-aq", "--filter", &label]);
        let ids = String::from_utf8_lossy(&ids.stdout).to_string();
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            docker(&args);
        }
        for kind in ["network", "volume"] {
            let out = docker(&[kind, "ls", "-q", "--filter", &label]);
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                docker(&[kind, "rm", id]);
            }
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Whether a path exists (for readability in tests).
pub fn exists(p: &Path) -> bool {
    p.exists()
}
