//! `doctor` and the `up` preflight against the real engine: a taken port is named with its service and holder,
//! an unreachable engine says how to fix it, and `up` stops before it creates anything; an image that is not
//! present is asked of its registry (one of the test's own on loopback, or one that does not answer). No image is
//! needed: the specs build an image that is never built, or name one that is not there; doctor pulls nothing, the
//! preflight does not look.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::{docker, free_port, require_docker};

/// A spec of its own in a temporary directory; everything labelled with its project is removed on drop.
struct Case {
    project: String,
    _dir: tempfile::TempDir,
    spec: PathBuf,
}

impl Case {
    /// A one-service project `t-doctor-NAME-PID` publishing `port` (on 127.0.0.1) and using a named volume; its
    /// image is built from the spec's directory (doctor: `up` would build it).
    fn new(name: &str, port: u16) -> Self {
        let case = Self::with_image(name, port, "t-doctor/never-built:none");
        std::fs::write(case.spec.with_file_name("Dockerfile"), "FROM scratch\n").unwrap();
        let text = std::fs::read_to_string(&case.spec).unwrap().replace(
            "image = \"t-doctor/never-built:none\"\n",
            "image = \"t-doctor/never-built:none\"\nbuild = { context = \".\" }\n",
        );
        std::fs::write(&case.spec, text).unwrap();
        case
    }

    /// As [`Case::new`], with the service's image to pull.
    fn with_image(name: &str, port: u16, image: &str) -> Self {
        let project = format!("t-doctor-{name}-{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("pinshare.toml");
        std::fs::write(
            &spec,
            format!(
                "[project]\nname = \"{project}\"\n\n[services.web]\nimage = \"{image}\"\nports = [\"{port}:8080\"]\nvolumes = [\"data:/data\"]\n"
            ),
        )
        .unwrap();
        let case = Case {
            project,
            _dir: dir,
            spec,
        };
        case.cleanup();
        case
    }

    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> (Output, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .arg("-f")
            .arg(&self.spec)
            .args(args)
            .env("NO_COLOR", "1")
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o, text)
    }

    /// IDs of the containers, networks and volumes carrying this project's label.
    fn labelled(&self) -> Vec<String> {
        let label = format!("label=dev.pinshare.project={}", self.project);
        let mut found = Vec::new();
        for args in [
            vec!["ps", "-aq", "--filter", &label],
            vec!["network", "ls", "-q", "--filter", &label],
            vec!["volume", "ls", "-q", "--filter", &label],
        ] {
            let o = docker(&args);
            assert!(o.status.success(), "docker {args:?} failed");
            found.extend(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(|l| format!("{} {l}", args[0])),
            );
        }
        found
    }

    fn cleanup(&self) {
        let label = format!("label=dev.pinshare.project={}", self.project);
        let ids = docker(&["ps", "-aq", "--filter", &label]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            docker(&["rm", "-f", "-v", id]);
        }
        for kind in ["network", "volume"] {
            let out = docker(&[kind, "ls", "-q", "--filter", &label]);
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                docker(&[kind, "rm", id]);
            }
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A port held by a plain listener of this test: "another program".
fn taken_port() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// This test process as the tool names a program: `comm (pid N)`.
fn this_program() -> String {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    format!("{} (pid {})", comm.trim(), std::process::id())
}

#[test]
fn doctor_names_a_taken_port_its_service_and_the_program_holding_it() {
    require_docker();
    let (_held, port) = taken_port();
    let case = Case::new("taken", port);
    let (o, text) = case.run(&["doctor"], &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    // The holder is this test's own process: the tool may read its descriptors, so it names it.
    let me = this_program();
    assert!(
        text.contains(&format!(
            "FAIL port    127.0.0.1:{port} (web): in use by {me}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("fix: stop {me}, or change the port in")),
        "{text}"
    );
    assert!(text.contains("doctor: 1 failure(s)"), "{text}");
    assert!(
        case.labelled().is_empty(),
        "doctor created {:?}",
        case.labelled()
    );
}

#[test]
fn doctor_passes_when_every_port_is_free() {
    require_docker();
    let case = Case::new("free", free_port());
    let (o, text) = case.run(&["doctor"], &[]);
    assert_eq!(o.status.code(), Some(0), "{text}");
    for line in [
        "ok   engine  unix://",
        "ok   port    127.0.0.1:",
        " (web): free",
        // The Dockerfile of its built image, in the spec's directory.
        "inotify 1 directories to watch",
        "ok   mount   no bind mounts",
        "disk    /",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
    assert!(text.contains(", API 1."), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        case.labelled().is_empty(),
        "doctor created {:?}",
        case.labelled()
    );
}

#[test]
fn doctor_without_an_engine_fails_with_the_hint() {
    let case = Case::new("noengine", free_port());
    let (o, text) = case.run(&["doctor"], &[("DOCKER_HOST", "unix:///nonexistent.sock")]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL engine  unix:///nonexistent.sock: unreachable"),
        "{text}"
    );
    assert!(text.contains("fix: start Docker"), "{text}");
    assert!(text.contains("DOCKER_HOST"), "{text}");
    assert!(
        text.contains("skip engine  without an engine"),
        "the engine checks are said to be skipped: {text}"
    );
    // The host-side checks still run.
    assert!(text.contains(" (web): free"), "{text}");
    assert!(text.contains("inotify "), "{text}");
}

#[test]
fn up_with_a_taken_port_fails_before_creating_anything() {
    require_docker();
    let (_held, port) = taken_port();
    let case = Case::new("up-taken", port);
    // The project lock's directory: only `up` makes a file there, and removes it when it ends.
    let runtime = tempfile::tempdir().unwrap();
    let xdg = runtime.path().to_str().unwrap();
    let (o, text) = case.run(&["up", "--detach"], &[("XDG_RUNTIME_DIR", xdg)]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    for args in [&["down"][..], &["ps"], &["stats", "--no-stream"]] {
        case.run(args, &[("XDG_RUNTIME_DIR", xdg)]);
    }
    let left: Vec<_> = std::fs::read_dir(runtime.path()).unwrap().collect();
    assert!(left.is_empty(), "lock files left behind: {left:?}");
    assert!(
        text.contains(&format!(
            "error: port 127.0.0.1:{port} of service web is already in use by {}; stop it or change the port in",
            this_program()
        )),
        "{text}"
    );
    assert!(
        !text.contains("pulling"),
        "the preflight runs before any image work: {text}"
    );
    assert!(
        case.labelled().is_empty(),
        "up created {:?} before failing",
        case.labelled()
    );
}

#[test]
fn a_port_held_by_a_renamed_project_names_the_down_of_its_label_which_removes_it_without_a_spec() {
    let other = common::Project::offline_copy("holds-port");
    other.run_ok(&["up", "--detach"]);
    // Renamed since: `-f ITS_SPEC down` would now name another project and stop nothing.
    other.edit_spec(|s| {
        s.replace(
            &format!("name = \"{}\"", other.name),
            &format!("name = \"{}-renamed\"", other.name),
        )
    });
    let case = Case::new("other-project", other.app_port);
    let down = format!("pinshare-dev down --project {}", other.name);
    let hint = format!("(`{down}`, or docker stop {})", other.container("pinshare"));
    let (o, text) = case.run(&["doctor"], &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains(&hint), "{text}");
    let (o, text) = case.run(&["up", "--detach"], &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains(&hint), "{text}");

    // The suggestion works from anywhere: no spec is read.
    let nowhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .args(args)
            .current_dir(nowhere.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code(), text)
    };
    let (code, text) = run(&["down", "--project", &other.name]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("removed network {}_net", other.name)),
        "{text}"
    );
    assert!(other.labelled_containers().is_empty(), "{text}");
    assert_eq!(
        other.labelled_volumes().len(),
        2,
        "kept without --volumes: {text}"
    );
    let (code, text) = run(&["down", "--project", &other.name, "--volumes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(other.labelled_volumes().is_empty(), "{text}");
    let (code, text) = run(&["down", "--project", "Not A Name"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("`Not A Name` cannot be a project name: `N` is uppercase"),
        "{text}"
    );
}

#[test]
fn doctor_beside_a_running_foreground_up_calls_its_forwarded_ports_ours() {
    // Issue 23 item 3: the run's own port forwarder was a FAIL, "in use by pinshare-dev (pid N)".
    let p = common::Project::offline_copy("doctor-beside-up");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, std::time::Duration::from_secs(180));
    let o = p.run(&["doctor"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!text.contains("FAIL port"), "{text}");
    let pid = up.child.id();
    assert!(
        text.contains(&format!(
            "ok   port    127.0.0.1:{} (pinshare): served by this project's running `up` (pid {pid})",
            p.app_port
        )),
        "{text}"
    );
    assert!(!text.contains("`up` would fail"), "{text}");
    assert_eq!(o.status.code(), Some(0), "{text}");
}

/// A registry on a closed loopback port: a pull fails at once and no traffic leaves the machine.
const UNPULLABLE: &str = "127.0.0.1:1/t-doctor/no-such-image:1";

/// `tests/fixtures/registry.py`: a registry of this test's own on loopback with tag `1` of `t-doctor/pullable`;
/// killed on drop.
struct Registry {
    child: std::process::Child,
    port: u16,
}

impl Registry {
    fn start() -> Self {
        use std::io::BufRead;
        let mut child = Command::new("python3")
            .arg(common::repo().join("tests/fixtures/registry.py"))
            .args(["t-doctor/pullable", "1"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
        Registry { child, port }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn doctor_asks_the_registry_of_an_image_that_is_not_present_whether_up_could_pull_it() {
    require_docker();
    let registry = Registry::start();
    let pullable = format!("127.0.0.1:{}/t-doctor/pullable:1", registry.port);
    let case = Case::with_image("pullable", free_port(), &pullable);
    let (o, text) = case.run(&["doctor"], &[]);
    assert!(
        text.contains(&format!(
            "ok   image   web: {pullable}: not present locally; its registry has it (`up` pulls it)\n"
        )),
        "{text}"
    );
    assert_eq!(o.status.code(), Some(0), "{text}");

    // A tag the registry does not have, and a registry that does not answer: `up` would fail.
    let unknown_tag = format!("127.0.0.1:{}/t-doctor/pullable:2", registry.port);
    for (image, why) in [
        (unknown_tag.as_str(), "manifest unknown"),
        (UNPULLABLE, "connection refused"),
    ] {
        let case = Case::with_image("unpullable", free_port(), image);
        let (o, text) = case.run(&["doctor"], &[]);
        let fail = format!(
            "FAIL image   web: {image}: not present locally, and `up` could not pull it: asking the registry for {image}: "
        );
        assert!(text.contains(&fail), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&fail) && l.contains(why)),
            "{text}"
        );
        assert!(
            text.contains(&format!("fix: docker pull {image}")),
            "{text}"
        );
        assert!(
            text.contains("fix: or load it: docker load -i image.tar"),
            "{text}"
        );
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(!text.contains("pulling"), "{text}");
    }
    assert!(
        !common::docker(&["image", "inspect", &pullable])
            .status
            .success(),
        "doctor pulled nothing"
    );
}

#[test]
fn a_failed_up_detach_leaves_no_network_or_volume_it_created_and_keeps_what_was_there() {
    require_docker();
    let case = Case::with_image("failed-up", free_port(), UNPULLABLE);
    let (o, text) = case.run(&["up", "--detach"], &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("the pull failed"), "{text}");
    assert!(
        case.labelled().is_empty(),
        "the failed up left {:?}:\n{text}",
        case.labelled()
    );
    assert!(
        text.contains(&format!(
            "removed what this failed start-up created: network {p}_net, volume {p}_data",
            p = case.project
        )),
        "{text}"
    );

    // A volume of the project from before (its data) stays; the network this start-up made goes.
    let volume = format!("{}_data", case.project);
    let label = format!("dev.pinshare.project={}", case.project);
    assert!(
        docker(&["volume", "create", "--label", &label, &volume])
            .status
            .success()
    );
    let (o, text) = case.run(&["up", "--detach"], &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert_eq!(
        case.labelled(),
        vec![format!("volume {volume}")],
        "only the volume from before: {text}"
    );
}
