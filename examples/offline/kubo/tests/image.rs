//! The kubo double's image against the real engine, run the way users run ipfs/kubo: its own
//! entrypoint and command, started as root. Each test names the kubo file (tag) it checks.
//! Needs Docker; fails (never skips) without it. Builds the binaries (`sh kubo/build.sh`) and both
//! images once per test process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const EMPTY_DIR: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

fn offline_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn prefix() -> String {
    format!("kubo-double-test-{}", std::process::id())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e} (is Docker installed?)"))
}

fn docker(args: &[&str]) -> Output {
    run(Command::new("docker").args(args))
}

fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The image for one kubo version, built once per test process.
fn image(version: &str) -> String {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let o = run(Command::new("sh")
            .arg("kubo/build.sh")
            .current_dir(offline_dir()));
        assert!(
            o.status.success(),
            "kubo/build.sh: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for v in ["0.39.0", "0.42.0"] {
            let tag = format!("kubo-double-test:{v}");
            let o = run(Command::new("docker")
                .args(["build", "-q", "-f", "kubo/Dockerfile", "--build-arg"])
                .arg(format!("KUBO_VERSION={v}"))
                .args(["-t", &tag, "."])
                .env("DOCKER_BUILDKIT", "0")
                .current_dir(offline_dir()));
            assert!(
                o.status.success(),
                "docker build {v}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    });
    format!("kubo-double-test:{version}")
}

/// Containers, volumes and networks one test made; removed when it ends, even on failure.
struct Scope {
    name: String,
    containers: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
    dirs: Vec<PathBuf>,
}

impl Scope {
    fn new(test: &str) -> Scope {
        Scope {
            name: format!("{}-{test}", prefix()),
            containers: vec![],
            volumes: vec![],
            networks: vec![],
            dirs: vec![],
        }
    }

    fn volume(&mut self) -> String {
        let v = format!("{}-vol{}", self.name, self.volumes.len());
        docker_ok(&["volume", "create", &v]);
        self.volumes.push(v.clone());
        v
    }

    fn network(&mut self) -> String {
        let n = format!("{}-net", self.name);
        docker_ok(&["network", "create", &n]);
        self.networks.push(n.clone());
        n
    }

    fn dir(&mut self) -> PathBuf {
        let d = std::env::temp_dir().join(format!("{}-dir{}", self.name, self.dirs.len()));
        std::fs::create_dir_all(&d).unwrap();
        set_mode(&d, 0o755);
        self.dirs.push(d.clone());
        d
    }

    /// `docker run -d` with a unique name; returns it.
    fn start(&mut self, args: &[&str]) -> String {
        let c = format!("{}-c{}", self.name, self.containers.len());
        self.containers.push(c.clone());
        let mut all = vec!["run", "-d", "--name", &c];
        all.extend_from_slice(args);
        docker_ok(&all);
        c
    }

    /// `docker run` to completion (removed afterwards); returns the output.
    /// `sh -c SCRIPT` in a throwaway container of `img` (kubo's image has a shell: busybox).
    fn sh(&mut self, opts: &[&str], img: &str, script: &str) -> Output {
        let mut args = vec!["--rm"];
        args.extend_from_slice(opts);
        args.extend(["--entrypoint", "/bin/sh", img, "-c", script]);
        self.once(&args)
    }

    fn once(&mut self, args: &[&str]) -> Output {
        let c = format!("{}-c{}", self.name, self.containers.len());
        self.containers.push(c.clone());
        let mut all = vec!["run", "--name", &c];
        all.extend_from_slice(args);
        docker(&all)
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-fv", c]);
        }
        for v in &self.volumes {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
        for n in &self.networks {
            let _ = docker(&["network", "rm", n]);
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn logs(c: &str) -> String {
    let o = docker(&["logs", c]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_ready(c: &str) {
    poll(
        &format!("{c}: Daemon is ready"),
        Duration::from_secs(30),
        || {
            let l = logs(c);
            if l.contains("Daemon is ready") {
                return Some(());
            }
            let running = docker_ok(&["inspect", "-f", "{{.State.Running}}", c]);
            assert_eq!(running, "true", "{c} stopped:\n{l}");
            None
        },
    );
}

fn wait_exit(c: &str) -> i32 {
    poll(&format!("{c} to exit"), Duration::from_secs(30), || {
        let s = docker_ok(&["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", c]);
        let (running, code) = s.split_once(' ').unwrap();
        (running == "false").then(|| code.parse().unwrap())
    })
}

fn exec(c: &str, args: &[&str]) -> Output {
    let mut all = vec!["exec", c];
    all.extend_from_slice(args);
    docker(&all)
}

fn host_port(c: &str) -> u16 {
    let p = docker_ok(&["port", c, "5001/tcp"]);
    p.lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A raw HTTP/1.1 request from the host; returns (status, head+body).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// kubo v0.42.0 bin/container_daemon: starts as root, `exec gosu ipfs`; the daemon runs as 1000.
#[test]
fn entrypoint_starts_as_root_and_the_daemon_runs_as_ipfs() {
    let img = image("0.42.0");
    let mut s = Scope::new("root-drop");
    let c = s.start(&[&img]);
    wait_ready(&c);
    let l = logs(&c);
    assert!(
        l.starts_with("Changing user to ipfs\nipfs version 0.42.0\n"),
        "{l}"
    );
    let top = docker_ok(&["top", &c, "-eo", "pid,uid,args"]);
    let daemon = top
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("ipfs"))
        .unwrap_or_else(|| panic!("{top}"));
    assert_eq!(daemon.split_whitespace().nth(1), Some("1000"), "{top}");
    assert!(
        l.contains("Swarm listening on /ip4/0.0.0.0/tcp/4001"),
        "{l}"
    );
    assert!(
        l.contains("RPC API server listening on /ip4/0.0.0.0/tcp/5001"),
        "{l}"
    );
    assert!(
        l.contains("Gateway server listening on /ip4/0.0.0.0/tcp/8080"),
        "{l}"
    );
    // A clean stop (SIGTERM through PID 1) removes the api file (fsrepo Close).
    docker_ok(&["stop", "-t", "10", &c]);
    assert_eq!(wait_exit(&c), 0);
    let again = s.sh(
        &["--volumes-from", &c],
        &img,
        "test -e /data/ipfs/api && echo present || echo absent",
    );
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "absent",
        "{}",
        text(&again)
    );
}

// kubo v0.42.0 bin/container_daemon: `gosu ipfs test -w "$repo" || chown -R -- ipfs "$repo"`.
#[test]
fn a_root_owned_repo_directory_is_chowned() {
    let img = image("0.42.0");
    let mut s = Scope::new("chown");
    let v = s.volume();
    let mount = format!("{v}:/data/ipfs");
    let o = s.sh(
        &["-v", &mount],
        &img,
        "chown -R 0:0 /data/ipfs && chmod 755 /data/ipfs",
    );
    assert!(o.status.success(), "{}", text(&o));
    let c = s.start(&["-v", &mount, &img]);
    wait_ready(&c);
    let owner = exec(&c, &["stat", "-c", "%u", "/data/ipfs", "/data/ipfs/config"]);
    assert_eq!(String::from_utf8_lossy(&owner.stdout), "1000\n1000\n");
}

// kubo v0.42.0 bin/container_daemon: a writable directory is not repaired, so a root-owned 0600
// config stops the start (cmd/ipfs/kubo/start.go loadPlugins, before `ipfs version` even runs).
#[test]
fn a_root_owned_0600_config_in_a_writable_directory_fails_with_permission_denied() {
    let img = image("0.42.0");
    let mut s = Scope::new("denied");
    let v = s.volume();
    let mount = format!("{v}:/data/ipfs");
    let o = s.sh(
        &["-v", &mount],
        &img,
        "echo '{}' > /data/ipfs/config && chmod 600 /data/ipfs/config",
    );
    assert!(o.status.success(), "{}", text(&o));
    let c = s.start(&["-v", &mount, &img]);
    assert_ne!(wait_exit(&c), 0);
    let l = logs(&c);
    assert!(
        l.contains("Error: error loading plugins: open /data/ipfs/config: permission denied"),
        "{l}"
    );
    assert!(!l.contains("Daemon is ready"), "{l}");
}

// kubo v0.42.0 bin/container_daemon: first start sets Addresses.API/Gateway to 0.0.0.0, so a
// published port reaches the RPC API; go-ipfs-cmds http/handler.go: GET is 405, POST 200.
#[test]
fn first_start_listens_on_all_interfaces_and_is_reachable_through_a_published_port() {
    let img = image("0.42.0");
    let mut s = Scope::new("publish");
    let c = s.start(&["-p", "127.0.0.1::5001", &img]);
    wait_ready(&c);
    let port = host_port(&c);
    let (st, body) = poll("POST /api/v0/id", Duration::from_secs(10), || {
        let r = http(port, "POST", "/api/v0/id", &[]);
        (r.0 != 0).then_some(r)
    });
    assert_eq!(st, 200, "{body}");
    assert_eq!(http(port, "GET", "/api/v0/id", &[]).0, 405);
    assert_eq!(
        http(port, "POST", "/api/v0/id", &[("User-Agent", "Mozilla/5.0")]).0,
        403
    );
    let addr = exec(&c, &["ipfs", "config", "Addresses.API"]);
    assert_eq!(
        String::from_utf8_lossy(&addr.stdout).trim(),
        "/ip4/0.0.0.0/tcp/5001"
    );
    let pins = exec(&c, &["ipfs", "pin", "ls"]);
    assert_eq!(
        String::from_utf8_lossy(&pins.stdout).trim(),
        format!("{EMPTY_DIR} recursive")
    );
}

// kubo v0.42.0 bin/container_daemon + bin/container_init_run: /container-init.d/*.sh run as ipfs
// before the daemon, executable ones executed, the rest sourced; `ipfs config` works there.
#[test]
fn init_scripts_run_before_the_daemon_and_can_set_cors() {
    let img = image("0.42.0");
    let mut s = Scope::new("initd");
    let d = s.dir();
    std::fs::write(d.join("001-origin.sh"), "#!/bin/sh\nset -e\n[ \"$(id -u)\" = 1000 ]\nipfs config --json API.HTTPHeaders.Access-Control-Allow-Origin '[\"http://localhost:5173\"]'\n").unwrap();
    set_mode(&d.join("001-origin.sh"), 0o755);
    std::fs::write(
        d.join("002-methods.SH"),
        "ipfs config --json API.HTTPHeaders.Access-Control-Allow-Methods '[\"POST\"]'\n",
    )
    .unwrap();
    set_mode(&d.join("002-methods.SH"), 0o644);
    std::fs::write(d.join("003-ignored.txt"), "exit 1\n").unwrap();
    let mount = format!("{}:/container-init.d:ro", d.display());
    let c = s.start(&["-p", "127.0.0.1::5001", "-v", &mount, &img]);
    wait_ready(&c);
    let l = logs(&c);
    let exec_at = l
        .find("Executing '/container-init.d/001-origin.sh'...")
        .unwrap_or_else(|| panic!("{l}"));
    let src_at = l
        .find("Sourcing '/container-init.d/002-methods.SH'...")
        .unwrap_or_else(|| panic!("{l}"));
    let daemon_at = l.find("Initializing daemon...").unwrap();
    assert!(exec_at < src_at && src_at < daemon_at, "{l}");
    let port = host_port(&c);
    let (st, resp) = http(
        port,
        "POST",
        "/api/v0/id",
        &[
            ("Origin", "http://localhost:5173"),
            ("User-Agent", "Mozilla/5.0"),
        ],
    );
    assert_eq!(st, 200, "{resp}");
    assert!(
        resp.contains("Access-Control-Allow-Origin: http://localhost:5173"),
        "{resp}"
    );
    let (st, resp) = http(
        port,
        "OPTIONS",
        "/api/v0/id",
        &[
            ("Origin", "http://localhost:5173"),
            ("Access-Control-Request-Method", "POST"),
        ],
    );
    assert_eq!(st, 204, "{resp}");
}

// kubo v0.42.0 bin/container_daemon `set -e`: a failing init script stops the start.
#[test]
fn a_failing_init_script_stops_the_start() {
    let img = image("0.42.0");
    let mut s = Scope::new("initfail");
    let d = s.dir();
    std::fs::write(d.join("01-fail.sh"), "echo about to fail\nfalse\n").unwrap();
    set_mode(&d.join("01-fail.sh"), 0o644);
    let mount = format!("{}:/container-init.d:ro", d.display());
    let c = s.start(&["-v", &mount, &img]);
    assert_ne!(wait_exit(&c), 0);
    let l = logs(&c);
    assert!(
        l.contains("Sourcing '/container-init.d/01-fail.sh'...\nabout to fail"),
        "{l}"
    );
    assert!(!l.contains("Initializing daemon"), "{l}");
}

// kubo v0.42.0 core/commands/diag.go adds `diag healthy`; v0.39.0 has none (go-ipfs-cmds cli/parse.go).
#[test]
fn diag_healthy_fails_on_0_39_and_passes_on_0_42() {
    let mut s = Scope::new("diag");
    for (v, ok) in [("0.39.0", false), ("0.42.0", true)] {
        let img = image(v);
        let c = s.start(&[&img]);
        wait_ready(&c);
        let o = exec(
            &c,
            &["ipfs", "--api=/ip4/127.0.0.1/tcp/5001", "diag", "healthy"],
        );
        assert_eq!(o.status.success(), ok, "{v}: {}", text(&o));
        if !ok {
            assert!(
                text(&o).starts_with("Error: expected 0 argument(s), got 1\n"),
                "{}",
                text(&o)
            );
        }
        let ver = exec(&c, &["ipfs", "version"]);
        assert_eq!(
            String::from_utf8_lossy(&ver.stdout).trim(),
            format!("ipfs version {v}")
        );
        let stat = exec(
            &c,
            &[
                "ipfs",
                "--api=/ip4/127.0.0.1/tcp/5001",
                "dag",
                "stat",
                &format!("/ipfs/{EMPTY_DIR}"),
            ],
        );
        assert!(stat.status.success(), "{v}: {}", text(&stat));
    }
}

// kubo v0.42.0 bin/container_daemon: IPFS_SWARM_KEY -> $IPFS_PATH/swarm.key, mode 0400; a second
// start finds the repo and initializes nothing.
#[test]
fn swarm_key_on_first_start_and_an_idempotent_second_start() {
    let img = image("0.42.0");
    let mut s = Scope::new("swarmkey");
    let key = "/key/swarm/psk/1.0.0/\n/base16/\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let env = format!("IPFS_SWARM_KEY={key}");
    let c = s.start(&["-e", &env, &img]);
    wait_ready(&c);
    assert!(logs(&c).contains("Copying swarm key from variable..."));
    let st = exec(&c, &["stat", "-c", "%a %u", "/data/ipfs/swarm.key"]);
    assert_eq!(String::from_utf8_lossy(&st.stdout).trim(), "400 1000");
    let content = exec(&c, &["cat", "/data/ipfs/swarm.key"]);
    assert_eq!(String::from_utf8_lossy(&content.stdout), format!("{key}\n"));
    docker_ok(&["restart", "-t", "10", &c]);
    poll("second start", Duration::from_secs(30), || {
        let l = logs(&c);
        (l.matches("Daemon is ready").count() == 2).then_some(())
    });
    let l = logs(&c);
    assert!(l.contains("Found IPFS fs-repo at /data/ipfs"), "{l}");
    assert_eq!(l.matches("initializing IPFS node").count(), 1, "{l}");
}

// kubo v0.42.0 cmd/ipfs/kubo/start.go makeExecutor: with an api file and no repo, the CLI talks
// to the daemon (PinShare's container: `/dns4/ipfs/tcp/5001`, resolved by Docker's DNS).
#[test]
fn the_cli_in_another_container_uses_the_api_file() {
    let img = image("0.42.0");
    let mut s = Scope::new("apifile");
    let net = s.network();
    let c = s.start(&["--network", &net, "--network-alias", "ipfs", &img]);
    wait_ready(&c);
    let script = "set -e; cd /data/ipfs; echo /dns4/ipfs/tcp/5001 > /data/ipfs/api; \
        printf 'hello world' > f; ipfs version; \
        cid=$(ipfs add --cid-version 1 --raw-leaves f | cut -d' ' -f2); echo CID=$cid; \
        ipfs pin rm $cid; ipfs pin add $cid; ipfs get $cid; cat $cid; echo; \
        ipfs config Addresses.API";
    let o = s.sh(&["--network", &net, "--user", "1000:100"], &img, script);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("CID=bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
        "{out}"
    );
    assert!(out.contains("hello world\n"), "{out}");
    assert!(
        out.contains("/ip4/0.0.0.0/tcp/5001"),
        "the config came from the daemon: {out}"
    );
    // Without a reachable daemon and without a repo there is no fallback.
    let o = s.sh(
        &["--network", &net, "--user", "1000:100"],
        &img,
        "echo /dns4/nobody/tcp/5001 > /data/ipfs/api; ipfs pin ls",
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("Error: cannot connect to the api. Is the daemon running?"),
        "{}",
        text(&o)
    );
}

// kubo v0.42.0 cmd/ipfs/util/signal.go (SetupInterruptHandler: SIGHUP, SIGINT and SIGTERM print an empty line
// and cancel the request) and cmd/ipfs/kubo/daemon.go (`Received interrupt signal, shutting down...`, then
// node.Close and a nil return: exit 0), behind the `Dockerfile`'s `ENTRYPOINT ["/sbin/tini", "--", ...]`.
// Run the way pinshare-dev runs it: docker-init in front, every capability dropped but the entrypoint's,
// no-new-privileges. tini (root) signalling the uid-1000 daemon is kill(2) across uids, which needs KILL.
#[test]
fn sigterm_and_sigint_shut_the_daemon_down_like_kubo_behind_tini() {
    let img = image("0.42.0");
    let mut s = Scope::new("signals");
    for sig in ["TERM", "INT"] {
        let mut args = vec!["--init", "--cap-drop", "ALL"];
        for cap in ["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"] {
            args.extend(["--cap-add", cap]);
        }
        args.extend(["--security-opt", "no-new-privileges", &img]);
        let c = s.start(&args);
        wait_ready(&c);
        docker_ok(&["kill", "-s", sig, &c]);
        assert_eq!(wait_exit(&c), 0, "SIG{sig}:\n{}", logs(&c));
        let l = logs(&c);
        assert!(
            l.contains(
                "\n\nReceived interrupt signal, shutting down...\n(Hit ctrl-c again to force-shutdown the daemon.)\n"
            ),
            "SIG{sig}:\n{l}"
        );
    }
}
