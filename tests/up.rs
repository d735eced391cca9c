//! `up`, `logs`, `ps`, `down` against the real engine with the offline stand-in images.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Project, docker, docker_ok, http, poll};

const ORIGINS: &str =
    r#"["http://localhost:5173","http://localhost:5174","http://localhost:3000"]"#;

fn kubo_config(p: &Project, key: &str) -> serde_json::Value {
    let out = docker_ok(&["exec", &p.container("ipfs"), "ipfs", "config", key]);
    serde_json::from_str(&out).unwrap_or(serde_json::Value::String(out))
}

#[test]
fn up_detach_runs_two_containers_on_one_network_and_the_app_reaches_kubo_by_name() {
    let p = Project::offline("two-containers");
    let out = p.run_ok(&["up", "--detach"]);
    assert!(out.contains("ipfs     » ready in"), "{out}");
    assert!(out.contains("pinshare » ready in"), "{out}");

    // Two separate containers, one network, each reachable by its service name.
    let net = format!("{}_net", p.name);
    for svc in ["ipfs", "pinshare"] {
        let nets = p.inspect(
            svc,
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{join $v.Aliases \",\"}}{{end}}",
        );
        assert!(
            nets.starts_with(&net) && nets.contains(svc),
            "{svc}: {nets}"
        );
        assert_eq!(p.inspect(svc, "{{.HostConfig.Init}}"), "true");
    }
    assert_ne!(
        p.inspect("ipfs", "{{.Id}}"),
        p.inspect("pinshare", "{{.Id}}")
    );

    // /health is 200 only while the app reaches http://ipfs:5001.
    let health = http("GET", p.app_port, "/health", &[], b"").expect("app answers");
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(
        p.inspect("pinshare", "{{range .Config.Env}}{{println .}}{{end}}")
            .lines()
            .find(|l| l.starts_with("IPFS_API=")),
        Some("IPFS_API=http://ipfs:5001")
    );

    // Every published port binds loopback.
    for svc in ["ipfs", "pinshare"] {
        let ips = p.inspect(
            svc,
            "{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}} {{end}}{{end}}",
        );
        assert!(!ips.is_empty());
        assert!(
            ips.split_whitespace().all(|ip| ip == "127.0.0.1"),
            "{svc}: {ips}"
        );
    }

    // Limits and reservations from the spec.
    assert_eq!(
        p.inspect(
            "ipfs",
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}}"
        ),
        format!("{} {} 1000000000", 2u64 << 30, 512u64 << 20)
    );
    assert_eq!(
        p.inspect(
            "pinshare",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}"
        ),
        format!("{} 500000000", 1u64 << 30)
    );

    // ps shows both ready.
    let ps = p.run_ok(&["ps"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("ipfs") && l.contains("running") && l.contains("ready")),
        "{ps}"
    );
    let json: serde_json::Value = serde_json::from_str(&p.run_ok(&["ps", "--json"])).expect("json");
    assert_eq!(json[1]["service"], "pinshare");
    assert_eq!(json[1]["readiness"], "ready");
}

#[test]
fn cors_is_applied_before_the_daemon_starts_and_up_twice_changes_nothing() {
    let p = Project::offline("cors");
    p.private_tags();
    let first = p.run_ok(&["up", "--detach"]);
    // The two host builds share one cargo workspace: one after the other, not side by side. (cargo's own
    // `Blocking waiting for file lock` may still show when another test's `up` builds in the same workspace.)
    let lines: Vec<&str> = first.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|i| {
            lines[*i].contains("» host build: cargo")
                || lines[*i].contains("» host build: sh kubo/build.sh")
        })
        .collect();
    let done = lines.iter().position(|l| l.contains("» host build done"));
    assert_eq!(starts.len(), 2, "{first}");
    assert!(
        done.is_some_and(|d| d < starts[1]),
        "side by side:\n{first}"
    );
    common::assert_cors(p.kubo_api);
    // The RPC API is POST-only, like Kubo's.
    assert_eq!(
        http("GET", p.kubo_api, "/api/v0/id", &[], b"")
            .expect("kubo answers")
            .status,
        405
    );

    let ids = (
        p.inspect("ipfs", "{{.Id}}"),
        p.inspect("pinshare", "{{.Id}}"),
    );
    let again = p.run_ok(&["up", "--detach"]);
    assert!(again.contains("kept"), "{again}");
    // Nothing the host builds read changed: they do not run again.
    assert!(!again.contains("host build"), "{again}");
    // A kept container started long ago: no "ready in 1 ms after start".
    for svc in ["ipfs     »", "pinshare »"] {
        assert!(
            again.contains(&format!("{svc} already running, ready (")),
            "{again}"
        );
    }
    assert!(!again.contains("after start"), "{again}");
    assert_eq!(
        (
            p.inspect("ipfs", "{{.Id}}"),
            p.inspect("pinshare", "{{.Id}}")
        ),
        ids,
        "an unchanged spec recreates nothing"
    );
    let origins = kubo_config(&p, "API.HTTPHeaders.Access-Control-Allow-Origin");
    assert_eq!(
        origins,
        serde_json::from_str::<serde_json::Value>(ORIGINS).expect("json"),
        "each origin once"
    );
}

#[test]
fn a_changed_service_is_recreated_and_the_other_kept() {
    let p = Project::offline("changed");
    // Its own image tags: two BuildKit builds of the shared tag that run at once (tests alongside) make two
    // image ids, and the tag moving under this project would rightly make its second `up` recreate the app.
    p.private_tags();
    p.run_ok(&["up", "--detach"]);
    let (ipfs, app) = (
        p.inspect("ipfs", "{{.Id}}"),
        p.inspect("pinshare", "{{.Id}}"),
    );
    let text = std::fs::read_to_string(&p.spec).expect("spec").replace(
        "IPFS_API = \"http://ipfs:5001\"",
        "IPFS_API = \"http://ipfs:5001\", EXTRA = \"1\"",
    );
    std::fs::write(&p.spec, text).expect("write");
    let out = p.run_ok(&["up", "--detach"]);
    assert!(out.contains("pinshare » recreating"), "{out}");
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), ipfs);
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), app);
}

#[test]
fn an_app_only_edit_leaves_kubo_image_and_container_alone_though_they_share_a_context() {
    // Issue 23 item 1: kubo's and the app's images are built from the same context (`.`), whose .dockerignore
    // lets app/VERSION through for the app; an app edit made kubo's image stale for every later look.
    let p = Project::offline_copy("app-edit-kubo");
    p.run_ok(&["up", "--detach"]);
    let ipfs = p.inspect("ipfs", "{{.Id}}");
    std::fs::write(p.ctx().join("app/VERSION"), "v2\n").expect("write");
    let out = p.run_ok(&["rebuild", "pinshare"]);
    assert!(out.contains("building"), "the app rebuilds: {out}");
    let out = p.run_ok(&["rebuild", "ipfs"]);
    assert!(out.contains("image unchanged"), "{out}");
    assert!(!out.contains("building"), "{out}");
    let out = p.run_ok(&["up", "--detach"]);
    assert!(!out.contains("ipfs » recreating"), "{out}");
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), ipfs, "kubo's container stays");
}

#[test]
fn logs_of_one_service_show_only_its_lines_and_unknown_names_list_the_known_ones() {
    let p = Project::offline("logs");
    p.run_ok(&["up", "--detach"]);
    http("GET", p.app_port, "/health", &[], b"").expect("app");
    let out = p.run_ok(&["logs", "ipfs"]);
    assert!(out.contains("Daemon is ready"), "{out}");
    assert!(out.lines().all(|l| l.starts_with("ipfs ")), "{out}");
    let both = p.run_ok(&["logs"]);
    assert!(both.lines().any(|l| l.starts_with("pinshare |")), "{both}");
    assert!(both.lines().any(|l| l.starts_with("ipfs     |")), "{both}");
    let tail = p.run_ok(&["logs", "--tail", "1", "ipfs"]);
    assert_eq!(tail.lines().count(), 1, "{tail}");
    let ts = p.run_ok(&["logs", "-t", "--tail", "1", "ipfs"]);
    assert!(ts.contains("T") && ts.contains("Z "), "{ts}");
    // --since takes a time as compose does (RFC 3339), and still a duration.
    for since in ["2000-01-01T00:00:00Z", "2000-01-01T01:00:00+01:00", "24h"] {
        let out = p.run_ok(&["logs", "--since", since, "ipfs"]);
        assert!(out.contains("Daemon is ready"), "--since {since}: {out}");
    }
    let later = p.run_ok(&["logs", "--since", "2999-01-01T00:00:00Z", "ipfs"]);
    assert_eq!(later, "", "nothing was written since 2999");
    let bad = p.run(&["logs", "--since", "2026-12-07T01:00:00", "ipfs"]);
    assert_eq!(bad.status.code(), Some(2));

    let bad = p.run(&["logs", "ipfss"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("no service `ipfss`") && err.contains("known services: ipfs, pinshare"),
        "{err}"
    );
}

#[test]
fn pins_survive_down_and_up_and_down_volumes_removes_them() {
    let p = Project::offline("pins");
    p.run_ok(&["up", "--detach"]);
    let added = http("POST", p.app_port, "/files", &[], b"hello world\n").expect("app");
    assert_eq!(added.status, 200, "{added:?}");
    let cid = added.body.trim().to_string();
    assert_eq!(
        cid,
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    );

    let down = p.run_ok(&["down"]);
    assert!(down.contains("kept volume"), "{down}");
    assert!(p.labelled_containers().is_empty());
    assert_eq!(p.labelled_volumes().len(), 2);

    p.run_ok(&["up", "--detach"]);
    common::assert_pinned(p.kubo_api, &cid);

    p.run_ok(&["down", "--volumes"]);
    assert!(p.labelled_containers().is_empty());
    assert!(p.labelled_volumes().is_empty());
}

#[test]
fn sigint_to_foreground_up_stops_everything_and_exits_130() {
    let p = Project::offline("sigint");
    let mut child = p
        .cmd(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    poll("all services ready", Duration::from_secs(180), || {
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        lines
            .iter()
            .any(|l| l.contains("all services ready"))
            .then_some(())
    });
    // Some traffic so the app logs while running.
    assert_eq!(
        http("GET", p.app_port, "/health", &[], b"")
            .expect("app")
            .status,
        200
    );
    // The app's own start line reached the prefixed log (PinShare logs no line per request).
    poll("the app's start line", Duration::from_secs(10), || {
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        lines
            .iter()
            .any(|l| l.starts_with("pinshare |") && l.contains("Starting API server on"))
            .then_some(())
    });
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("wait");
    reader.join().expect("reader");
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    assert_eq!(status.code(), Some(130), "{lines:#?}");
    assert!(
        p.labelled_containers().is_empty(),
        "containers left: {:?}",
        p.labelled_containers()
    );
    assert_eq!(p.labelled_volumes().len(), 2, "volumes are kept");

    // Both prefixes, fixed width, no line mixed from two sources.
    assert!(
        lines.iter().any(|l| l.starts_with("ipfs     | ")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("pinshare | ")),
        "{lines:#?}"
    );
    for l in &lines {
        let prefixed = ["ipfs     | ", "ipfs     » ", "pinshare | ", "pinshare » "]
            .iter()
            .any(|p| l.starts_with(p))
            || l.starts_with("pinshare-dev » ");
        assert!(prefixed, "unprefixed or mixed line: {l:?}");
        // A line mixed from two sources would carry a second prefix after the first.
        let rest = &l[11..];
        assert!(
            !rest.contains("ipfs     | ") && !rest.contains("pinshare | "),
            "mixed line: {l:?}"
        );
    }
    // Reverse dependency order: the app stops before kubo.
    let app_stop = lines
        .iter()
        .position(|l| l.contains("stopping") && l.starts_with("pinshare"));
    let ipfs_stop = lines
        .iter()
        .position(|l| l.contains("stopping") && l.starts_with("ipfs"));
    assert!(app_stop < ipfs_stop && app_stop.is_some(), "{lines:#?}");
}

#[test]
fn a_foreign_container_with_our_name_is_refused_and_left_alone() {
    let p = Project::offline("foreign");
    let name = p.container("ipfs");
    docker_ok(&["create", "--name", &name, "pinshare-offline/kubo:dev"]);
    let out = p.run(&["up", "--detach"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "container {name} exists but was not created by pinshare-dev"
        )),
        "{err}"
    );
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Status}}", &name]),
        "created"
    );
    p.run_ok(&["down"]);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Status}}", &name]),
        "created",
        "down leaves it too"
    );
    docker_ok(&["rm", "-f", "-v", &name]);
}

#[test]
fn a_failing_dependency_reports_its_last_lines_and_the_dependent_never_starts() {
    let p = Project::offline("depfail");
    // Kubo's readiness probes a path that never answers 2xx; the app must not start.
    let text = std::fs::read_to_string(&p.spec).expect("spec").replace("path = \"/api/v0/id\", method = \"POST\"", "path = \"/api/v0/nope\", method = \"POST\" }, start_timeout = \"2s\", period = \"200ms\" } #");
    std::fs::write(&p.spec, text).expect("write");
    let out = p.run(&["up", "--detach"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("ipfs: not ready after"), "{all}");
    assert!(
        all.contains("last ") && all.contains("Daemon is ready"),
        "{all}"
    );
    assert!(
        all.contains("not started because its dependency ipfs failed"),
        "{all}"
    );
    assert!(
        docker(&["inspect", &p.container("pinshare")]).status.code() != Some(0),
        "the app container must not exist"
    );
}

#[test]
fn exec_and_tcp_probes_gate_start_up_too() {
    let p = Project::offline("probes");
    let text = std::fs::read_to_string(&p.spec)
        .expect("spec")
        .replace(
            "readiness = { http = { port = 5001, path = \"/api/v0/id\", method = \"POST\" } }",
            "readiness = { exec = [\"ipfs\", \"--api=/ip4/127.0.0.1/tcp/5001\", \"diag\", \"healthy\"] }",
        )
        .replace(
            "readiness = { http = { port = 9090, path = \"/health\" } }",
            "readiness = { tcp = { port = 9090 } }",
        );
    std::fs::write(&p.spec, text).expect("write");
    let out = p.run_ok(&["up", "--detach"]);
    assert!(out.contains("ipfs     » ready in"), "{out}");
    assert!(out.contains("pinshare » ready in"), "{out}");
    assert_eq!(
        http("GET", p.app_port, "/health", &[], b"")
            .expect("app")
            .status,
        200
    );
}

#[test]
fn a_log_line_probe_gates_start_up_on_the_daemons_own_words() {
    let p = Project::offline("logprobe");
    p.edit_spec(|s| {
        s.replace(
            "readiness = { http = { port = 5001, path = \"/api/v0/id\", method = \"POST\" } }",
            "readiness = { log = \"^Daemon is ready$\" }",
        )
    });
    let out = p.run_ok(&["up", "--detach"]);
    assert!(out.contains("ipfs     » ready in"), "{out}");
    assert!(out.contains("pinshare » ready in"), "{out}");
    let ps = p.run_ok(&["ps"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("ipfs ") && l.contains(" ready ")),
        "{ps}"
    );
    // A line that never comes: not ready, with the pattern named, and the app never starts.
    p.run_ok(&["down"]);
    p.edit_spec(|s| {
        s.replace(
            "readiness = { log = \"^Daemon is ready$\" }",
            "readiness = { log = \"^never printed$\", start_timeout = \"1s\" }",
        )
    });
    let out = p.run(&["up", "--detach"]);
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no output line matches `^never printed$` yet"),
        "{text}"
    );
    assert!(
        text.contains("not started because its dependency ipfs failed"),
        "{text}"
    );
}

#[test]
fn a_failing_init_step_shows_its_output_and_the_service_never_starts() {
    let p = Project::offline("initfail");
    let text = std::fs::read_to_string(&p.spec).expect("spec").replace(
        "stop_grace = \"5s\"\n\n[services.ipfs.kubo_config]",
        "stop_grace = \"5s\"\ninit = [{ name = \"read-missing-key\", command = [\"ipfs\", \"config\", \"No.Such.Key\"], user = \"1000:100\" }]\n\n[services.ipfs.kubo_config]",
    );
    std::fs::write(&p.spec, text).expect("write");
    let out = p.run(&["up", "--detach"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("init step `read-missing-key` (`ipfs config No.Such.Key`) exited with code 1"),
        "{all}"
    );
    assert!(
        all.contains("ipfs     » read-missing-key: "),
        "the step's output is shown: {all}"
    );
    assert!(docker(&["inspect", &p.container("ipfs")]).status.code() != Some(0));
    assert!(docker(&["inspect", &p.container("pinshare")]).status.code() != Some(0));
    // No one-shot container is left behind.
    assert!(
        p.labelled_containers().is_empty(),
        "{:?}",
        p.labelled_containers()
    );
}

#[test]
fn a_failing_host_build_fails_the_service_with_its_output() {
    let p = Project::offline("hostfail");
    p.edit_spec(|s| {
        s.replace(
            "\"-p\", \"pinshare-standin\"",
            "\"-p\", \"no-such-package\"",
        )
    });
    let out = p.run(&["up", "--detach"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("pinshare: host build `cargo build"), "{all}");
    assert!(
        all.contains("no-such-package"),
        "cargo's own message is shown: {all}"
    );
    assert!(docker(&["inspect", &p.container("pinshare")]).status.code() != Some(0));
}

#[test]
fn a_missing_image_that_cannot_be_pulled_is_a_clear_error() {
    let p = Project::offline("nopull");
    // A registry on a closed loopback port: the pull fails at once and no traffic leaves the machine.
    let text = std::fs::read_to_string(&p.spec).expect("spec").replace(
        "[services.ipfs]\nimage = \"pinshare-offline/kubo:dev\"\nbuild = {",
        "[services.ipfs]\nimage = \"127.0.0.1:1/no/such-image:1\"\n#build = {",
    );
    std::fs::write(&p.spec, text).expect("write");
    let out = p.run(&["up", "--detach"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("pulling image 127.0.0.1:1/no/such-image:1"),
        "{all}"
    );
    assert!(all.contains("build or load it"), "{all}");
}

#[test]
fn a_new_cors_origin_recreates_kubo_only_and_is_allowed() {
    let p = Project::offline("neworigin");
    // Its own image tags: two BuildKit builds of the shared tag that run at once (tests alongside) make two
    // image ids, and the tag moving under this project would rightly make its second `up` recreate the app.
    p.private_tags();
    p.run_ok(&["up", "--detach"]);
    let app = p.inspect("pinshare", "{{.Id}}");
    let ipfs = p.inspect("ipfs", "{{.Id}}");
    assert_eq!(
        http(
            "POST",
            p.kubo_api,
            "/api/v0/id",
            &[("Origin", "http://localhost:4000")],
            b""
        )
        .expect("kubo")
        .status,
        403
    );
    let text = std::fs::read_to_string(&p.spec).expect("spec").replace(
        "\"http://localhost:3000\"]",
        "\"http://localhost:3000\", \"http://localhost:4000\"]",
    );
    std::fs::write(&p.spec, text).expect("write");
    let out = p.run_ok(&["up", "--detach"]);
    assert!(
        out.contains(
            "pinshare-dev-kubo-config.sh writes API.HTTPHeaders.Access-Control-Allow-Origin\n"
        ),
        "only the changed key is written: {out}"
    );
    assert_ne!(p.inspect("ipfs", "{{.Id}}"), ipfs);
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app, "the app is kept");
    let r = http(
        "POST",
        p.kubo_api,
        "/api/v0/id",
        &[("Origin", "http://localhost:4000")],
        b"",
    )
    .expect("kubo");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://localhost:4000")
    );
}

#[test]
fn down_from_another_terminal_stops_the_foreground_up_which_says_why_and_exits_0() {
    let p = Project::offline_copy("down-stops-up");
    let mut up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, Duration::from_secs(180));
    let down = p.run_ok(&["down"]);
    assert!(
        down.contains(&format!(
            "a foreground `up` (pid {}) runs project",
            up.child.id()
        )),
        "{down}"
    );
    let status = poll("the foreground up to exit", Duration::from_secs(60), || {
        up.child.try_wait().expect("try_wait")
    });
    let text = up.text();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("asked to stop by SIGTERM"), "{text}");
    assert!(text.contains("pinshare-dev » stopped"), "{text}");
    // Not the old symptom (every later step failing with `network … not found`); the app's own
    // `identity.key not found, generating` line is fine.
    assert!(
        !text
            .lines()
            .any(|l| l.contains("network") && l.contains("not found")),
        "{text}"
    );
    assert!(
        p.labelled_containers().is_empty(),
        "{:?}",
        p.labelled_containers()
    );
    assert!(
        !docker(&["network", "inspect", &format!("{}_net", p.name)])
            .status
            .success(),
        "the network is removed"
    );
}

/// The engine timestamp of a `-t` line (`svc | TS text`) as a sortable key (the engine trims trailing zeros).
fn ts_key(line: &str) -> (String, u32) {
    let ts = line
        .split_once(" | ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .unwrap_or_default()
        .trim_end_matches('Z');
    let (whole, frac) = ts.split_once('.').unwrap_or((ts, ""));
    (
        whole.to_string(),
        format!("{frac:0<9}").parse().unwrap_or(0),
    )
}

#[test]
fn logs_follow_with_tail_prints_its_opening_lines_in_time_order() {
    let p = Project::offline_copy("follow-order");
    p.run_ok(&["up", "--detach"]);
    // Requests to both, alternating, so the two services' last lines interleave in time.
    for _ in 0..6 {
        let _ = http("POST", p.kubo_api, "/api/v0/id", &[], b"");
        let _ = http("GET", p.app_port, "/health", &[], b"");
    }
    let plain = p.run_ok(&["logs", "-t", "--tail", "4", "ipfs", "pinshare"]);
    let follow = p.spawn(&["logs", "-f", "-t", "--tail", "4", "ipfs", "pinshare"]);
    follow.wait_for(" | ", 8, Duration::from_secs(30));
    let lines: Vec<String> = follow
        .text()
        .lines()
        .filter(|l| l.contains(" | "))
        .take(8)
        .map(str::to_string)
        .collect();
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| ts_key(l));
    assert_eq!(lines, sorted, "out of time order; without -f:\n{plain}");
    assert!(lines.iter().any(|l| l.starts_with("ipfs ")), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("pinshare ")),
        "{lines:#?}"
    );
    // The same lines as without -f: nothing lost, nothing twice.
    let plain: Vec<&str> = plain.lines().filter(|l| l.contains(" | ")).collect();
    assert_eq!(lines, plain);
    // Ctrl-C ends it as it ends `up`: 130, interrupted.
    assert_eq!(follow.interrupt(), Some(130));
}

#[test]
fn a_cold_up_after_down_with_nothing_changed_runs_no_build() {
    let p = Project::offline("cold-nobuild");
    p.private_tags();
    let first = p.run_ok(&["up", "--detach"]);
    assert!(first.contains("building pinshare-test/"), "{first}");
    p.run_ok(&["down"]);
    // No container remembers anything now: the images' own label says what they were made from.
    let cold = p.run_ok(&["up", "--detach"]);
    for svc in ["kubo", "app"] {
        assert!(
            cold.contains(&format!(
                "image pinshare-test/{}-{svc}:dev up to date",
                p.name
            )),
            "{cold}"
        );
    }
    assert!(!cold.contains("host build:"), "{cold}");
    assert!(!cold.contains("building "), "{cold}");
    assert_eq!(
        http("GET", p.app_port, "/health", &[], b"")
            .expect("app")
            .status,
        200
    );
    // A changed input is still seen after `down`: the app's VERSION is in its watched paths and its context.
    p.run_ok(&["down"]);
    // The shared example's sources are not edited here; the host build's command is one of its inputs too.
    p.edit_spec(|s| {
        s.replace(
            "\"--target-dir\", \"target\"]",
            "\"--target-dir\", \"target\", \"--quiet\"]",
        )
    });
    let changed = p.run_ok(&["up", "--detach"]);
    assert!(changed.contains("pinshare » host build:"), "{changed}");
    assert!(!changed.contains("ipfs     » host build:"), "{changed}");
}
