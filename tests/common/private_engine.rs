//! A Docker daemon of the test's own, to restart without touching the machine's engine. It runs in a network
//! namespace of its own (a second daemon beside the engine would delete the engine's `docker0` and reset its
//! iptables chains), with its own data root, exec root, socket and pid file. What reaches it must run in that
//! namespace too, where its published ports are: [`PrivateEngine::command`] wraps a program in `nsenter`. Only
//! processes this harness started are ever signalled, by their pid.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private `dockerd`.
pub struct PrivateEngine {
    netns: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Its socket.
    pub socket: PathBuf,
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

impl PrivateEngine {
    /// Starts one in a new network namespace and waits until it answers.
    pub fn start(test: &str) -> Self {
        let netns = format!("psd-{test}-{}", std::process::id());
        let _ = run("ip", &["netns", "del", &netns]);
        let o = run("ip", &["netns", "add", &netns]);
        assert!(
            o.status.success(),
            "ip netns add {netns} (the test needs root): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("docker.sock");
        let mut engine = PrivateEngine {
            netns,
            dir,
            child: None,
            socket,
        };
        let o = engine
            .command("ip")
            .args(["link", "set", "lo", "up"])
            .output();
        assert!(
            o.is_ok_and(|o| o.status.success()),
            "lo up in the namespace"
        );
        // The machine engine's storage driver and log settings, a data root of its own.
        let config = serde_json::json!({
            "data-root": engine.dir.path().join("data"),
            "storage-driver": machine_storage_driver(),
            "mtu": 1400,
            "log-driver": "json-file",
        });
        std::fs::write(engine.dir.path().join("daemon.json"), config.to_string()).expect("config");
        engine.launch();
        engine
    }

    /// `program` run inside the daemon's network namespace, with DOCKER_HOST naming its socket.
    pub fn command(&self, program: &str) -> Command {
        let mut c = self.wrapper();
        c.arg(program);
        c
    }

    /// `nsenter` into the daemon's network namespace, with DOCKER_HOST naming its socket: add the program.
    pub fn wrapper(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .env("DOCKER_HOST", self.docker_host());
        c
    }

    /// An HTTP GET from inside the namespace: the body, or the error when nothing answered with a 2xx.
    pub fn get(&self, port: u16, path: &str) -> Result<String, String> {
        // Python's urllib: Debian's static busybox wget dies of SIGSEGV on these machines.
        let script = "import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=2).read().decode())";
        let o = self
            .command("python3")
            .args(["-c", script])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
        }
    }

    /// `docker inspect -f FORMAT NAME` against it; None when there is no such object.
    pub fn inspect(&self, name: &str, format: &str) -> Option<String> {
        let o = self.docker(&["inspect", "-f", format, name]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// `unix://…` of its socket.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The docker CLI against it.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(self.docker_host())
            .args(args)
            .output()
            .expect("docker runs")
    }

    fn launch(&mut self) {
        let d = self.dir.path();
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(d.join("dockerd.log"))
            .expect("log");
        let child = self
            .command("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("-H")
            .arg(self.docker_host())
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        self.child = Some(child);
        let t = Instant::now();
        loop {
            if self.docker(&["version"]).status.success() {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the private dockerd did not answer in 60 s:\n{}",
                std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the daemon (SIGTERM to the process this harness started; dockerd stops the containers, as on a
    /// host's restart) and waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops it, then starts it again on the same data root: the containers it had died with it.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

fn machine_storage_driver() -> String {
    let o = run("docker", &["info", "--format", "{{.Driver}}"]);
    let d = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if d.is_empty() { "overlay2".into() } else { d }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        // Its containers go with their daemon: remove them first, so nothing of them is left mounted.
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.docker(&["rm", "-f", "-v", id]);
        }
        self.stop();
        let _ = run("ip", &["netns", "del", &self.netns]);
    }
}
