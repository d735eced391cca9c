//! `render compose` output run by the machine's docker-compose (1.29, Python) against the offline stand-in images:
//! the same acceptance as `pinshare-dev up` — both services healthy, the app's /health 200, kubo's CORS check
//! 200 with the origin echoed / 403 — and again on a second start with the repo volume kept.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::{Project, docker_ok, http, offline_dir, poll};

/// A compose project on a test project's spec (own name and ports), removed with its volumes on drop; the test
/// project's own cleanup (by label) removes what `up` made to build the images.
struct ComposeRun {
    p: Project,
    file: PathBuf,
}

impl ComposeRun {
    fn new() -> Self {
        let p = Project::offline("render");
        let file = p.dir.path().join("docker-compose.yml");
        ComposeRun { p, file }
    }

    fn tool(&self, args: &[&str]) -> Output {
        self.p.run(args)
    }

    fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .arg("-f")
            .arg(&self.file)
            .arg("-p")
            .arg(&self.p.name)
            .args(args)
            .current_dir(self.p.dir.path())
            .output()
            .expect("docker-compose runs (Debian's docker-compose package)")
    }

    fn compose_ok(&self, args: &[&str]) -> String {
        let o = self.compose(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "docker-compose {args:?}:\n{text}");
        text
    }

    /// The container of a compose service (running or exited).
    fn container(&self, service: &str) -> String {
        let out = self.compose_ok(&["ps", "-a", "-q", service]);
        out.lines()
            .next()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| panic!("no container for {service}"))
            .to_string()
    }

    fn health(&self, service: &str) -> String {
        let id = self.container(service);
        docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", &id])
    }

    fn cleanup(&self) {
        if self.file.exists() {
            let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "2"]);
        }
    }
}

impl Drop for ComposeRun {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn offline_tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .arg("-f")
        .arg(offline_dir().join("pinshare.toml"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("pinshare-dev runs")
}

#[test]
fn render_k8s_writes_one_file_per_object_into_the_output_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("k8s");
    let o = offline_tool(&["render", "k8s", "-o", &out.display().to_string()]);
    assert!(o.status.success(), "{o:?}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "deployment-pinshare-offline.yaml",
            "pvc-pinshare-offline-backend-data.yaml",
            "pvc-pinshare-offline-ipfs-data.yaml",
            "service-pinshare.yaml"
        ]
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("next: kubectl apply -f"), "{stdout}");

    // Without -o: the same objects as one multi-document stream on stdout.
    let o = offline_tool(&["render", "k8s"]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.matches("\n---\n").count(), 3, "{text}");
}

#[test]
fn classic_sidecar_is_refused_for_compose() {
    let o = offline_tool(&["render", "compose", "--classic-sidecar"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--classic-sidecar applies to `render k8s` only")
    );
}

#[test]
fn rendered_compose_file_runs_with_docker_compose_like_up_does() {
    let run = ComposeRun::new();

    // `up` builds the stand-in images exactly as the spec says (host build first); then it is taken down.
    let built = run.tool(&["up", "--detach", "--no-watch"]);
    assert!(
        built.status.success(),
        "building the images with up: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let down = run.tool(&["down", "--volumes"]);
    assert!(down.status.success(), "{down:?}");

    let rendered = run.tool(&["render", "compose", "-o", &run.file.display().to_string()]);
    assert!(rendered.status.success(), "{rendered:?}");
    run.compose_ok(&["config", "-q"]);

    // `up -d` returns once kubo is healthy and its repo preparation completed (the app waits for both).
    run.compose_ok(&["up", "-d"]);
    let healthy = |svc: &str| {
        poll(&format!("{svc} healthy"), Duration::from_secs(90), || {
            let h = run.health(svc);
            assert_ne!(h, "unhealthy", "{svc} became unhealthy");
            (h == "healthy").then_some(())
        });
    };
    healthy("ipfs");
    healthy("pinshare");

    let health = http("GET", run.p.app_port, "/health", &[], b"").expect("app answers");
    assert_eq!(health.status, 200, "{health:?}");
    common::assert_cors(run.p.kubo_api);

    // The repo preparation ran in one container, as kubo's uid:gid, and exited 0.
    let id = run.container("ipfs-kubo-config");
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.Config.User}} {{.State.ExitCode}}", &id]),
        "1000:100 0"
    );

    // A second start with the volume kept: the repo exists, so kubo's entrypoint skips `ipfs init`.
    run.compose_ok(&["down"]);
    run.compose_ok(&["up", "-d"]);
    let logs = run.compose_ok(&["logs", "--no-color", "ipfs-kubo-config"]);
    assert!(logs.contains("Found IPFS fs-repo at /data/ipfs"), "{logs}");
    healthy("ipfs");
    common::assert_cors(run.p.kubo_api);
}
