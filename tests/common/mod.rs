//! Test harness: each test gets its own project (name, free host ports, spec file) built from the offline
//! example, drives the real binary against the real engine, and cleans up by label even when it fails.

#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub mod private_engine;
pub mod proxy;

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

/// A free TCP port on loopback, never the same twice in this test process: the listener is dropped at once, so
/// the kernel may hand the same port to the next caller, and two projects of tests running side by side would
/// then publish the same host port (`port is already allocated`).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
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

/// Kubo's CORS check as a browser sees it: an allowed Origin gets 200 with the origin echoed, another gets 403.
pub fn assert_cors(kubo_api: u16) {
    let allowed = http(
        "POST",
        kubo_api,
        "/api/v0/id",
        &[("Origin", "http://localhost:5173")],
        b"",
    )
    .expect("kubo answers");
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(
        allowed.header("Access-Control-Allow-Origin"),
        Some("http://localhost:5173")
    );
    let denied = http(
        "POST",
        kubo_api,
        "/api/v0/id",
        &[("Origin", "http://evil.example")],
        b"",
    )
    .expect("kubo answers");
    assert_eq!(denied.status, 403, "{denied:?}");
}

/// Whether kubo lists `cid` among its pins.
pub fn assert_pinned(kubo_api: u16, cid: &str) {
    let pins = http(
        "POST",
        kubo_api,
        &format!("/api/v0/pin/ls?arg={cid}"),
        &[],
        b"",
    )
    .expect("kubo answers");
    assert_eq!(pins.status, 200, "{pins:?}");
    assert!(pins.body.contains(cid), "{cid} is pinned: {pins:?}");
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
            .replace("\"50001:50001\"", &format!("\"{p2p}:50001\""))
            .replace("\"50001:50001/udp\"", &format!("\"{p2p}:50001/udp\""));
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

    /// Names of the containers carrying this project's label, sorted.
    pub fn labelled_names(&self) -> Vec<String> {
        let out = docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=dev.pinshare.project={}", self.name),
            "--format",
            "{{.Names}}",
        ]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
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

    /// Removes everything carrying this project's label, and the images of `offline_copy`.
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
        // The image tags stay until a later test process sweeps them (`sweep_test_images`): removing the last tag
        // of an image deletes it and its untagged parents, and a build running alongside may be taking that very
        // image from its cache (the build then fails with `unable to find image "sha256:…"`).
    }
}

/// Removes the `pinshare-test/t-<test>-<pid>-…` tags of test processes that have ended. Test binaries run one
/// after another, and a live process's tags (another `cargo test` in another terminal) are left alone.
fn sweep_test_images() {
    let out = docker(&[
        "image",
        "ls",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "pinshare-test/*",
    ]);
    let me = std::process::id().to_string();
    for tag in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(pid) = test_tag_pid(tag) else {
            continue;
        };
        if pid != me && !Path::new("/proc").join(pid).exists() {
            docker(&["rmi", tag]);
        }
    }
}

/// The pid in a test image tag, `pinshare-test/t-logs-22088-kubo:dev` → `22088`.
fn test_tag_pid(tag: &str) -> Option<&str> {
    let name = tag.strip_prefix("pinshare-test/")?.split(':').next()?;
    let mut parts = name.rsplit('-');
    parts.next()?; // the service
    parts
        .next()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
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

static STANDINS: std::sync::Once = std::sync::Once::new();

/// Builds the static stand-in binaries once per test process (cargo's lock serialises processes): the kubo
/// double's inputs through its own host build (`kubo/build.sh`: `ipfs` and a static busybox), then the app.
pub fn build_standins() {
    STANDINS.call_once(|| {
        sweep_test_images();
        let kubo = Command::new("sh")
            .arg("kubo/build.sh")
            .current_dir(offline_dir())
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .status()
            .expect("sh runs");
        assert!(kubo.success(), "kubo/build.sh failed");
        let st = Command::new("cargo")
            .args([
                "build",
                "--release",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--target-dir",
                "target",
            ])
            .current_dir(offline_dir())
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .status()
            .expect("cargo runs");
        assert!(st.success(), "building the offline stand-ins failed");
    });
}

/// Copies a tree as a build context needs it: symlinks as symlinks (the kubo double's busybox applets),
/// modes kept (`container_init_run` must stay executable); `target/` left out.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        let kind = e.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            if e.file_name() != "target" {
                copy_tree(&e.path(), &dst);
            }
        } else {
            // fs::copy keeps the permission bits.
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

impl Project {
    /// A project with its OWN copy of the offline build context (so tests may edit sources), prebuilt
    /// binaries instead of a host build, and image tags of its own.
    pub fn offline_copy(test: &str) -> Self {
        build_standins();
        let p = Self::offline(test);
        let ctx = p.ctx();
        copy_tree(&offline_dir(), &ctx);
        let rel = ctx.join("target/x86_64-unknown-linux-gnu/release");
        std::fs::create_dir_all(&rel).unwrap();
        for bin in ["ipfs", "pinshare", "busybox"] {
            std::fs::copy(
                offline_dir()
                    .join("target/x86_64-unknown-linux-gnu/release")
                    .join(bin),
                rel.join(bin),
            )
            .unwrap();
        }
        let text = std::fs::read_to_string(&p.spec).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let line = if line.starts_with("build = {") {
                // Drop the host build: the binaries are already in this context.
                let cut = line.find(", host_command").unwrap_or(line.len() - 1);
                format!("{} }}", &line[..cut])
            } else {
                line.to_string()
            };
            out.push_str(&line);
            out.push('\n');
        }
        let out = out
            .replace(
                &format!("context = \"{}\"", offline_dir().display()),
                &format!("context = \"{}\"", ctx.display()),
            )
            .replace(
                "\"app/src\", \"app/VERSION\"",
                &format!(
                    "\"{}\", \"{}\"",
                    ctx.join("app/src").display(),
                    ctx.join("app/VERSION").display()
                ),
            )
            .replace(
                "\"kubo/src\", \"kubo/Dockerfile\", \"kubo/build.sh\", \"kubo/rootfs\", \"kubo/owned\", \"kubo/versions\"",
                &format!(
                    "\"{}\", \"{}\"",
                    ctx.join("kubo/src").display(),
                    ctx.join("kubo/Dockerfile").display()
                ),
            )
            .replace(
                "pinshare-offline/kubo:dev",
                &format!("pinshare-test/{}-kubo:dev", p.name),
            )
            .replace(
                "pinshare-offline/app:dev",
                &format!("pinshare-test/{}-app:dev", p.name),
            );
        std::fs::write(&p.spec, out).unwrap();
        p
    }

    /// Image tags of this project's own (the shared offline tags may be rebuilt by a test running alongside,
    /// which would rightly make `up` build again); `cleanup` removes them.
    pub fn private_tags(&self) {
        self.edit_spec(|s| {
            s.replace(
                "pinshare-offline/kubo:dev",
                &format!("pinshare-test/{}-kubo:dev", self.name),
            )
            .replace(
                "pinshare-offline/app:dev",
                &format!("pinshare-test/{}-app:dev", self.name),
            )
        });
    }

    /// The private build context of `offline_copy`.
    pub fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    /// Rewrites the spec with `f`.
    pub fn edit_spec(&self, f: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.spec).unwrap();
        let edited = f(text.clone());
        // A pattern that no longer matches the example must fail loudly, not test the unedited spec.
        assert_ne!(edited, text, "the spec edit matched nothing");
        std::fs::write(&self.spec, edited).unwrap();
    }

    /// Starts a foreground `pinshare-dev ARGS` whose stdout lines are collected.
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.spawn_env(args, &[])
    }

    /// `spawn` with extra environment variables.
    pub fn spawn_env(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut cmd = self.cmd(args);
        cmd.envs(env.iter().copied());
        Running::spawn(cmd)
    }

    /// The binary with `-f <spec>` and the given arguments, run by `wrapper` (e.g. `nsenter … program`).
    pub fn cmd_in(&self, mut wrapper: Command, args: &[&str]) -> Command {
        wrapper
            .arg(env!("CARGO_BIN_EXE_pinshare-dev"))
            .arg("-f")
            .arg(&self.spec)
            .args(args)
            .env("NO_COLOR", "1");
        wrapper
    }
}

impl Running {
    /// Starts `cmd`, collecting its stdout and stderr lines.
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for pipe in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let lines = std::sync::Arc::clone(&lines);
            std::thread::spawn(move || {
                use std::io::BufRead;
                for l in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(l);
                }
            });
        }
        Running { child, lines }
    }
}

/// A foreground process of the binary.
pub struct Running {
    pub child: std::process::Child,
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Running {
    /// All output so far.
    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Count of output lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Polls until `n` lines contain `needle`.
    pub fn wait_for(&self, needle: &str, n: usize, timeout: Duration) {
        let start = Instant::now();
        let mut delay = Duration::from_millis(10);
        while self.count(needle) < n {
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {n}× {needle:?}; output:\n{}",
                self.text()
            );
            if let Ok(Some(status)) = self.child_status() {
                panic!(
                    "exited with {status} while waiting for {needle:?}; output:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(200));
        }
    }

    fn child_status(&self) -> std::io::Result<Option<std::process::ExitStatus>> {
        // try_wait needs &mut; the pid check is enough here.
        let alive = Path::new(&format!("/proc/{}", self.child.id())).exists();
        let zombie = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true);
        if !alive || zombie {
            Ok(Some(std::process::ExitStatus::default()))
        } else {
            Ok(None)
        }
    }

    /// SIGINT, then waits; returns the exit code.
    pub fn interrupt(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
    }
}

/// The engine's exec events of `container` from now on (`docker events`, replayed from just before the call so
/// none is missed while the CLI connects), one line each: `ACTION|EXEC_ID|EXIT_CODE`, where the action of a
/// created exec is `exec_create: CMD` and that of an ended one `exec_die`.
pub fn exec_events(container: &str) -> Running {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut cmd = Command::new("docker");
    cmd.args([
        "events",
        "--since",
        &format!("{}.{:09}", since.as_secs(), since.subsec_nanos()),
        "--filter",
        &format!("container={container}"),
        "--format",
        "{{.Action}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}",
    ]);
    Running::spawn(cmd)
}

/// The runs of `command` (the engine's rendering: its argv joined by spaces) among `exec_events`' lines, in the
/// order they were created: each run's exit code, `None` while it runs.
pub fn exec_runs(events: &Running, command: &str) -> Vec<Option<i64>> {
    fn fields(l: &str) -> (&str, &str, &str) {
        let mut f = l.splitn(3, '|');
        (
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        )
    }
    let lines = events.lines.lock().unwrap();
    let created = format!("exec_create: {command}");
    lines
        .iter()
        .map(|l| fields(l))
        .filter(|(action, _, _)| *action == created)
        .map(|(_, id, _)| {
            lines
                .iter()
                .map(|l| fields(l))
                .find_map(|(action, die, code)| {
                    (action == "exec_die" && die == id).then(|| code.parse().ok())?
                })
        })
        .collect()
}
