//! Steering a run from another terminal, on the real engine: `restart`, `stop`, `start`, `trigger` and
//! `up --manual` through the control endpoint of a foreground `up`, `ps` showing each service's phase, and each
//! command with no foreground `up` (on the engine directly, or saying why not).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Project, http};

const LONG: Duration = Duration::from_secs(180);

fn version(p: &Project) -> Option<String> {
    http("GET", p.app_port, "/version", &[], b"")
        .ok()
        .filter(|r| r.status == 200)
        .map(|r| r.body.trim().to_string())
}

fn running(p: &Project, service: &str) -> bool {
    p.inspect(service, "{{.State.Running}}").trim() == "true"
}

/// The `ps` row of `service`.
fn ps_row(p: &Project, service: &str) -> String {
    let ps = p.run_ok(&["ps"]);
    let row = ps.lines().find(|l| l.starts_with(service));
    row.unwrap_or_else(|| panic!("no row for {service}: {ps}"))
        .to_string()
}

/// Whether a `ps` row's PHASE cell says the service is ready, with its time (`ready 12 s`): the READY column
/// says `ready` alone.
fn phase_ready(row: &str) -> bool {
    row.split("  ").map(str::trim).any(|cell| {
        cell.strip_prefix("ready ")
            .and_then(|rest| rest.strip_suffix(" s"))
            .is_some_and(|n| n.parse::<u64>().is_ok())
    })
}

fn save_version(p: &Project, v: &str) {
    std::fs::write(p.ctx().join("app/VERSION"), format!("{v}\n")).unwrap();
}

#[test]
fn restart_stop_and_start_steer_a_foreground_up_and_ps_shows_the_phases() {
    let p = Project::offline_copy("steer-fg");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let ps = p.run_ok(&["ps"]);
    assert!(ps.lines().next().unwrap().contains("PHASE"), "{ps}");
    assert!(phase_ready(&ps_row(&p, "pinshare")), "{ps}");

    // restart: a new app container of the same build; kubo's is kept.
    let (app, kubo, image) = (
        p.inspect("pinshare", "{{.Id}}"),
        p.inspect("ipfs", "{{.Id}}"),
        p.inspect("pinshare", "{{.Image}}"),
    );
    let out = p.run_ok(&["restart", "pinshare"]);
    assert!(out.contains("restarted on request; ready in"), "{out}");
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), app, "a new container");
    assert_eq!(p.inspect("pinshare", "{{.Image}}"), image, "no rebuild");
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), kubo, "kubo kept");
    assert_eq!(version(&p).as_deref(), Some("v1"));
    assert_eq!(up.count("rebuilt in"), 0, "{}", up.text());

    // stop: it stays stopped across a save, and ps says so.
    let out = p.run_ok(&["stop", "pinshare"]);
    assert!(out.contains("stopped on request"), "{out}");
    assert!(!running(&p, "pinshare"));
    save_version(&p, "v2");
    up.wait_for("pinshare » not rebuilt: stopped by `stop`", 1, LONG);
    std::thread::sleep(Duration::from_secs(5));
    assert!(!running(&p, "pinshare"), "{}", up.text());
    assert_eq!(up.count("restarting in"), 0, "{}", up.text());
    assert_eq!(up.count("rebuilt in"), 0, "{}", up.text());
    let row = ps_row(&p, "pinshare");
    assert!(row.contains("stopped, 1 change pending"), "{row}");

    // start: back, serving, and the save made meanwhile is built.
    let out = p.run_ok(&["start", "pinshare"]);
    assert!(out.contains("started on request; ready in"), "{out}");
    assert!(out.contains("built;"), "{out}");
    assert_eq!(version(&p).as_deref(), Some("v2"));
    assert!(phase_ready(&ps_row(&p, "pinshare")));
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn up_manual_marks_saves_pending_and_trigger_builds_them() {
    let p = Project::offline_copy("steer-manual");
    let up = p.spawn(&["up", "--manual"]);
    up.wait_for("all services ready", 1, LONG);
    assert!(up.text().contains("manual mode"), "{}", up.text());
    let app = p.inspect("pinshare", "{{.Id}}");
    save_version(&p, "v2");
    up.wait_for("pinshare » pending (manual mode)", 1, LONG);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(up.count("rebuilt in"), 0, "{}", up.text());
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app);
    assert_eq!(version(&p).as_deref(), Some("v1"));
    let row = ps_row(&p, "pinshare");
    assert!(row.contains("1 change pending"), "{row}");
    let json = p.run_ok(&["ps", "--json"]);
    assert!(
        json.contains("\"pending\": [") && json.contains("VERSION"),
        "{json}"
    );

    let out = p.run_ok(&["trigger", "pinshare"]);
    assert!(out.contains("built;") && out.contains("serves"), "{out}");
    up.wait_for("pinshare » rebuilt in", 1, LONG);
    assert_eq!(version(&p).as_deref(), Some("v2"));
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), app);
    let row = ps_row(&p, "pinshare");
    assert!(!row.contains("pending") && phase_ready(&row), "{row}");
    // The build is in the run's history, with what triggered it and its stages.
    let json = p.run_ok(&["ps", "--json"]);
    assert!(json.contains("\"cause\": \"trigger\""), "{json}");
    assert!(json.contains("\"swap\""), "{json}");
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn with_no_foreground_up_the_commands_act_on_the_engine_and_say_so() {
    let p = Project::offline_copy("steer-none");
    // No project at all: said plainly.
    let o = p.run(&["restart", "pinshare"]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success());
    assert!(
        err.contains("no foreground `up`") && err.contains("not up"),
        "{err}"
    );

    p.run_ok(&["up", "--detach"]);
    // No PHASE column without a foreground `up`.
    assert!(!p.run_ok(&["ps"]).contains("PHASE"));
    let (app, started) = (
        p.inspect("pinshare", "{{.Id}}"),
        p.inspect("pinshare", "{{.State.StartedAt}}"),
    );
    let out = p.run_ok(&["restart", "pinshare"]);
    assert!(
        out.contains("no foreground `up`") && out.contains("restarted in place"),
        "{out}"
    );
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app);
    assert_ne!(p.inspect("pinshare", "{{.State.StartedAt}}"), started);

    let out = p.run_ok(&["stop", "pinshare"]);
    assert!(out.contains("stopped by the engine"), "{out}");
    assert!(!running(&p, "pinshare"));
    let out = p.run_ok(&["start", "pinshare"]);
    assert!(out.contains("started by the engine"), "{out}");
    assert!(running(&p, "pinshare"));

    save_version(&p, "v2");
    let out = p.run_ok(&["trigger", "pinshare"]);
    assert!(out.contains("rebuilding here, as `"), "{out}");
    assert!(out.contains("rebuilt in"), "{out}");
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), app);
    p.run_ok(&["down"]);
}
