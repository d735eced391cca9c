//! `test` against the offline demo on the real engine: a throwaway copy of the project (its own name, network and
//! volumes, no host ports) started as `up` starts it, the `[test]` steps run in order, and everything the copy
//! made removed afterwards — also what a killed `test` left, by the next one.

mod common;

use std::time::Duration;

use common::{Project, docker, docker_ok, poll};

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The demo with its own images, its steps' script taken from the project's own copy of the example.
fn demo(test: &str) -> Project {
    let p = Project::offline_copy(test);
    let script = p.ctx().join("tests/steps.py");
    p.edit_spec(|s| s.replace("\"tests/steps.py\"", &format!("\"{}\"", script.display())));
    p
}

/// Everything (containers, networks, volumes) labelled as a test copy of `p`'s project.
fn test_objects(p: &Project) -> Vec<String> {
    let label = format!("label=dev.pinshare.test-of={}", p.name);
    let mut all = Vec::new();
    for args in [
        vec!["ps", "-aq", "--filter", &label],
        vec!["network", "ls", "-q", "--filter", &label],
        vec!["volume", "ls", "-q", "--filter", &label],
    ] {
        all.extend(docker_ok(&args).lines().map(str::to_string));
    }
    all
}

/// Removes what a failed assertion may have left of `p`'s test copies (the project's own `cleanup` does not
/// know their names).
struct Sweep<'a>(&'a Project);

impl Drop for Sweep<'_> {
    fn drop(&mut self) {
        let label = format!("label=dev.pinshare.test-of={}", self.0.name);
        for id in docker_ok(&["ps", "-aq", "--filter", &label]).lines() {
            docker(&["rm", "-f", "-v", id]);
        }
        for kind in ["network", "volume"] {
            for id in docker_ok(&[kind, "ls", "-q", "--filter", &label]).lines() {
                docker(&[kind, "rm", id]);
            }
        }
    }
}

/// The JUnit report read by python3's xml.etree: (tests, failures, skipped, testcase names with their failure
/// message or "ok"/"skipped").
fn junit(file: &std::path::Path) -> String {
    let script = "import sys, xml.etree.ElementTree as ET\n\
        s = ET.parse(sys.argv[1]).getroot().find('testsuite')\n\
        print(s.get('tests'), s.get('failures'), s.get('skipped'))\n\
        for c in s.iter('testcase'):\n\
        \x20   f = c.find('failure')\n\
        \x20   print(c.get('name'), '=>', f.get('message') if f is not None else ('skipped' if c.find('skipped') is not None else 'ok'))\n";
    let o = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "the report does not parse: {}",
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn test_on_the_demo_passes_writes_junit_measures_both_services_and_leaves_nothing() {
    let p = demo("test_pass");
    let _sweep = Sweep(&p);
    let report = p.dir.path().join("report.xml");
    let o = p.run(&[
        "test",
        "--junit",
        report.to_str().expect("a UTF-8 path"),
        "--stats",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The run's own lines on stderr, the figures alone on stdout.
    let out = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(out.contains("5 test step(s) passed"), "{out}");
    assert!(
        out.contains(&format!("test project {}-test-", p.name)),
        "{out}"
    );
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is the JSON report ({e}): {}", text(&o)));
    let services = stats["services"].as_array().expect("services");
    assert_eq!(
        services
            .iter()
            .map(|s| s["service"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["ipfs", "pinshare"],
        "{stats:#}"
    );
    for s in services {
        // Sampled while the steps ran (the load step alone takes seconds), with figures and a suggestion.
        assert!(s["samples"].as_u64() >= Some(1), "{stats:#}");
        assert!(s["memory_bytes"]["peak"].as_f64() > Some(0.0), "{stats:#}");
        assert!(s["cpu_percent"]["peak"].as_f64() > Some(0.0), "{stats:#}");
        assert!(
            s["suggested_line"]
                .as_str()
                .is_some_and(|l| l.starts_with("resources = { cpu = \"")),
            "{stats:#}"
        );
        assert!(
            !s["hits"]
                .as_array()
                .expect("hits")
                .iter()
                .any(|h| h["kind"] == "oom-killed"),
            "{stats:#}"
        );
    }
    assert_eq!(services[1]["spec"]["memory_limit_bytes"], 1 << 30);
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
    // Nothing of the project itself was made either: the copy had its own name.
    assert!(p.labelled_containers().is_empty(), "{out}");
    assert_eq!(
        junit(&report),
        "5 0 0\n\
         upload through PinShare => ok\n\
         kubo pins the upload => ok\n\
         kubo's gateway serves it byte for byte => ok\n\
         CORS: the UI's preflight allowed, another origin refused => ok\n\
         many uploads at once => ok\n"
    );
}

#[test]
fn stats_mark_a_service_that_a_step_drives_over_its_memory_limit_as_oom_killed() {
    let p = demo("test_oom");
    let _sweep = Sweep(&p);
    // The app holds an upload's body in memory: a 96 MiB upload through a 48Mi limit.
    p.edit_spec(|s| {
        s.replace(
            "resources = { cpu = \"100m\", memory = \"256Mi\", cpu_limit = \"500m\", memory_limit = \"1Gi\" }",
            "resources = { cpu = \"100m\", memory = \"32Mi\", cpu_limit = \"500m\", memory_limit = \"48Mi\" }",
        )
    });
    p.edit_spec(|s| {
        s.replace(
            "[[test.steps]]\nname = \"kubo pins the upload\"",
            "[[test.steps]]\nname = \"a big upload\"\nhost = [\"python3\", \"-c\", \"import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:' + os.environ['PINSHARE_DEV_PORT_PINSHARE_9090'] + '/files?name=big.bin', data=b'x' * (96 << 20), method='POST'), timeout=60)\"]\n\n[[test.steps]]\nname = \"kubo pins the upload\"",
        )
    });
    let o = p.run(&["test", "--stats"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "the big upload fails: {out}");
    assert!(out.contains("step a big upload failed"), "{out}");
    let row = |service: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{service} ")) && l.contains(" / "))
            .unwrap_or_else(|| panic!("a row for {service}: {out}"))
            .to_string()
    };
    assert!(row("pinshare").contains("OOM-killed (exit 137)"), "{out}");
    assert!(row("pinshare").contains("32Mi / 48Mi"), "{out}");
    assert!(!row("ipfs").contains("OOM"), "{out}");
    // The suggestion raises the limit it was killed at.
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("[services.pinshare]"))
        .unwrap_or_else(|| panic!("a suggestion: {out}"));
    // The request: 48Mi + 100Mi; the limit keeps the spec's ratio of 1.5.
    assert!(
        line.contains("memory = \"148Mi\"") && line.contains("memory_limit = \"222Mi\""),
        "{out}"
    );
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
}

#[test]
fn a_failing_step_gives_its_code_output_and_the_services_last_lines_and_leaves_nothing() {
    let p = demo("test_fail");
    let _sweep = Sweep(&p);
    p.edit_spec(|s| {
        s.replace(
            "[[test.steps]]\nname = \"kubo pins the upload\"",
            "[[test.steps]]\nname = \"kubo answers on the copy's network\"\nservice = \"ipfs\"\ncommand = [\"--api=/dns4/ipfs/tcp/5001\", \"id\"]\n\n[[test.steps]]\nname = \"broken <step>\"\nhost = [\"sh\", \"-c\", \"echo 'it broke & said <why>'; exit 3\"]\n\n[[test.steps]]\nname = \"kubo pins the upload\"",
        )
    });
    // A one-off of a service and a container of an image (the copy's own kubo image, built by then) pass first.
    let image_step = format!(
        "[[test.steps]]\nname = \"an image on the copy's network\"\nimage = \"pinshare-test/{}-kubo:dev\"\ncommand = [\"--api=/dns4/ipfs/tcp/5001\", \"id\"]\n\n",
        p.name
    );
    p.edit_spec(|s| {
        s.replace(
            "[[test.steps]]\nname = \"broken <step>\"",
            &format!("{image_step}[[test.steps]]\nname = \"broken <step>\""),
        )
    });
    let report = p.dir.path().join("report.xml");
    let o = p.run(&["test", "--junit", report.to_str().expect("a UTF-8 path")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("step broken <step> failed with exit code 3"),
        "{out}"
    );
    assert!(out.contains("it broke & said <why>"), "{out}");
    // The services' last lines: kubo's daemon says it is ready, the app its port.
    assert!(out.contains("lines of ipfs:"), "{out}");
    assert!(out.contains("lines of pinshare:"), "{out}");
    assert!(out.contains("Daemon is ready"), "{out}");
    assert!(
        !out.contains("step 5/"),
        "no step runs after a failure: {out}"
    );
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
    let r = junit(&report);
    assert_eq!(
        r,
        "8 1 4\n\
         upload through PinShare => ok\n\
         kubo answers on the copy's network => ok\n\
         an image on the copy's network => ok\n\
         broken <step> => exit code 3\n\
         kubo pins the upload => skipped\n\
         kubo's gateway serves it byte for byte => skipped\n\
         CORS: the UI's preflight allowed, another origin refused => skipped\n\
         many uploads at once => skipped\n"
    );
}

/// Starts `test` with a last step that hangs, SIGKILLs it there, and checks it left its copy.
fn kill_a_test_midway(p: &Project) {
    p.edit_spec(|s| format!("{s}\n[[test.steps]]\nname = \"hang\"\nhost = [\"sleep\", \"300\"]\n"));
    let mut running = p.spawn(&["test"]);
    running.wait_for("step 6/6: hang", 1, Duration::from_secs(240));
    running.child.kill().expect("SIGKILL the test");
    running.child.wait().expect("the killed test is reaped");
    assert!(!test_objects(p).is_empty(), "a SIGKILL leaves the copy");
    p.edit_spec(|s| s.replace("host = [\"sleep\", \"300\"]", "host = [\"true\"]"));
}

#[test]
fn a_killed_test_is_removed_by_the_next() {
    let p = demo("test_killed");
    let _sweep = Sweep(&p);
    kill_a_test_midway(&p);
    let o = p.run(&["test"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("that no longer runs"), "{out}");
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
}

#[test]
fn a_killed_test_is_removed_by_down_of_its_project() {
    let p = demo("test_killed_down");
    let _sweep = Sweep(&p);
    kill_a_test_midway(&p);
    let out = p.run_ok(&["down"]);
    assert!(out.contains("that no longer runs"), "{out}");
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
}

#[test]
fn two_tests_at_once_beside_a_foreground_up_of_the_same_spec_pass_and_leave_it_alone() {
    let p = demo("test_beside_up");
    let _sweep = Sweep(&p);
    let up = p.spawn(&["up", "--no-watch"]);
    up.wait_for("all services ready", 1, Duration::from_secs(240));
    let ids = |svc: &str| p.inspect(svc, "{{.Id}}");
    let before = (ids("ipfs"), ids("pinshare"));
    // Two at once, each its own throwaway copy: same spec, same images, no host port of their own.
    let tests: Vec<std::process::Child> = (0..2)
        .map(|_| {
            p.cmd(&["test"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("test starts")
        })
        .collect();
    let outs: Vec<std::process::Output> = tests
        .into_iter()
        .map(|c| c.wait_with_output().expect("test ends"))
        .collect();
    let mut copies = Vec::new();
    for o in &outs {
        let out = text(o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert!(out.contains("5 test step(s) passed"), "{out}");
        copies.push(
            out.lines()
                .find_map(|l| l.split("test project ").nth(1))
                .and_then(|l| l.split(' ').next())
                .unwrap_or_else(|| panic!("names its copy: {out}"))
                .to_string(),
        );
    }
    assert_ne!(copies[0], copies[1], "each test has a copy of its own");
    assert_eq!((ids("ipfs"), ids("pinshare")), before);
    // The up still serves on its own host port.
    poll("the up's app answers", Duration::from_secs(10), || {
        common::http("GET", p.app_port, "/health", &[], b"")
            .ok()
            .filter(|r| r.status == 200)
    });
    assert_eq!(test_objects(&p), Vec::<String>::new());
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn ctrl_c_during_a_step_removes_the_copy_and_exits_130() {
    let p = demo("test_ctrl_c");
    let _sweep = Sweep(&p);
    p.edit_spec(|s| format!("{s}\n[[test.steps]]\nname = \"hang\"\nhost = [\"sleep\", \"300\"]\n"));
    let running = p.spawn(&["test"]);
    running.wait_for("step 6/6: hang", 1, Duration::from_secs(240));
    assert_eq!(running.interrupt(), Some(130));
    assert_eq!(test_objects(&p), Vec::<String>::new());
}

#[test]
fn a_kept_copy_stays_reachable_and_only_down_project_removes_it() {
    let p = demo("test_keep");
    let _sweep = Sweep(&p);
    let out = p.run_ok(&["test", "--keep"]);
    let copy = out
        .lines()
        .find_map(|l| l.strip_prefix("kept test project "))
        .and_then(|l| l.split(';').next())
        .unwrap_or_else(|| panic!("names the kept copy: {out}"))
        .to_string();
    assert!(
        out.contains(&format!("pinshare-dev down --project {copy} --volumes")),
        "{out}"
    );
    let port: u16 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("PINSHARE_DEV_PORT_PINSHARE_9090="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("prints the app's port: {out}"));
    let health = common::http("GET", port, "/health", &[], b"").expect("the kept app answers");
    assert_eq!(health.status, 200);
    // Its owner has ended, but a kept copy names no pid: the next `test` leaves it.
    p.run_ok(&["test"]);
    assert!(!test_objects(&p).is_empty(), "the kept copy is still there");
    p.run_ok(&["down", "--project", &copy, "--volumes"]);
    assert_eq!(test_objects(&p), Vec::<String>::new());
}

/// `examples/offline/pinshare.mock.toml` laid on `p`'s spec: the same keys, with `p`'s private context and image
/// tag, and no host build (the binaries are in that context already).
fn mock_overlay(p: &Project) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(common::offline_dir().join("pinshare.mock.toml"))
        .expect("the shipped overlay");
    let host = shipped
        .find(", host_command")
        .expect("the overlay builds on the host");
    let end = host + shipped[host..].find('\n').expect("a line end");
    let mut text = shipped.clone();
    text.replace_range(host..end, " }");
    let text = text
        .replace(
            "context = \".\"",
            &format!("context = \"{}\"", p.ctx().display()),
        )
        .replace(
            "pinshare-offline/kubo:dev",
            &format!("pinshare-test/{}-kubo:dev", p.name),
        );
    let file = p.dir.path().join("pinshare.mock.toml");
    std::fs::write(&file, text).expect("write the overlay");
    file
}

#[test]
fn the_shipped_mock_overlay_checks_and_the_demo_passes_against_the_mock() {
    let repo = common::repo();
    let shipped = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .args(args)
            .current_dir(&repo)
            .env("NO_COLOR", "1")
            .output()
            .expect("the binary runs");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        text(&o)
    };
    let both = [
        "-f",
        "examples/offline/pinshare.toml",
        "-f",
        "examples/offline/pinshare.mock.toml",
    ];
    let out = shipped(&[&both[..], &["check"]].concat());
    assert!(out.contains("ok (2 services: ipfs, pinshare"), "{out}");
    // The mock keeps no repo between runs and joins no swarm; the base alone has both.
    let base = shipped(&["-f", "examples/offline/pinshare.toml", "render", "compose"]);
    assert!(base.contains("ipfs-data:/data/ipfs") && base.contains(":4001:4001"));
    let mocked = shipped(&[&both[..], &["render", "compose"]].concat());
    assert!(
        !mocked.contains("ipfs-data") && !mocked.contains(":4001"),
        "{mocked}"
    );

    // The demo's steps pass against PinShare and the mock (the overlay after the subcommand, as a user may write).
    let p = demo("test_mock");
    let _sweep = Sweep(&p);
    let overlay = mock_overlay(&p);
    let o = p.run(&["test", "-f", overlay.to_str().expect("a UTF-8 path")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("5 test step(s) passed"), "{out}");
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
}

#[test]
fn a_start_up_that_fails_is_a_failing_testcase_in_the_junit_report() {
    let p = demo("test_startup_fails");
    let _sweep = Sweep(&p);
    // PinShare checks kubo's API at start and exits 1 when it cannot reach it: it never becomes ready.
    p.edit_spec(|s| {
        s.replace(
            "env = { IPFS_API = \"http://ipfs:5001\" }",
            "env = { IPFS_API = \"http://nowhere:5001\" }",
        )
    });
    let report = p.dir.path().join("report.xml");
    let o = p.run(&["test", "--junit", report.to_str().expect("a UTF-8 path")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(!out.contains("step 1/"), "no step runs: {out}");
    assert_eq!(
        junit(&report),
        "6 1 5\n\
         start-up => the services did not start\n\
         upload through PinShare => skipped\n\
         kubo pins the upload => skipped\n\
         kubo's gateway serves it byte for byte => skipped\n\
         CORS: the UI's preflight allowed, another origin refused => skipped\n\
         many uploads at once => skipped\n"
    );
    // The reason, as the run said it, and the services' last lines.
    let xml = std::fs::read_to_string(&report).expect("the report");
    assert!(
        xml.contains("pinshare: exited with code 1 before it was ready"),
        "{xml}"
    );
    assert!(xml.contains("lines of pinshare:"), "{xml}");
    assert!(xml.contains("lines of ipfs:"), "{xml}");
    assert_eq!(test_objects(&p), Vec::<String>::new(), "{out}");
}
