//! When the engine connection drops (a daemon restart, a lost socket), a foreground `up` says so, reconnects with
//! backoff, re-observes the project by its labels and resumes supervision and log following — without
//! duplicating a container — and Ctrl-C still works. The engine is reached through a proxy the test cuts.

mod common;

use std::time::Duration;

use common::proxy::EngineProxy;
use common::{Project, docker_ok, http, poll};

const LONG: Duration = Duration::from_secs(120);

/// A foreground `up --no-watch` of a project of its own, reaching the engine through a proxy the test can cut.
/// Waits until the app answers `/health` with 200.
fn app_answers(p: &Project) {
    poll("the app's /health", LONG, || {
        (http("GET", p.app_port, "/health", &[], b"")
            .map(|r| r.status)
            .ok()
            == Some(200))
        .then_some(())
    });
}

fn up_behind_proxy(test: &str) -> (Project, EngineProxy, common::Running) {
    let p = Project::offline(test);
    p.private_tags();
    let proxy = EngineProxy::start(p.dir.path());
    let host = proxy.docker_host();
    let up = p.spawn_env(&["up", "--no-watch"], &[("DOCKER_HOST", host.as_str())]);
    (p, proxy, up)
}

#[test]
fn after_losing_the_engine_for_three_seconds_a_killed_kubo_is_restarted_and_sigint_leaves_nothing()
{
    let (p, proxy, up) = up_behind_proxy("engineloss");
    up.wait_for("all services ready", 1, LONG);
    let ipfs = p.inspect("ipfs", "{{.Id}}");

    proxy.cut(Duration::from_secs(3));
    up.wait_for("engine connection lost", 1, Duration::from_secs(30));
    up.wait_for("engine connection back", 1, Duration::from_secs(60));
    // Both followers marked the gap, and resumed.
    up.wait_for(
        "— engine connection back: output of the gap follows —",
        2,
        Duration::from_secs(30),
    );
    // Nothing was replaced while the engine was away.
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), ipfs, "{}", up.text());

    // Supervision resumed: a kill is noticed and kubo comes back, the app still answers.
    docker_ok(&["kill", &p.container("ipfs")]);
    up.wait_for("ipfs     » restarted (restart 1); ready in", 1, LONG);
    app_answers(&p);
    // One kubo, never two.
    let kubos = docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.pinshare.project={}", p.name),
        "--filter",
        "label=dev.pinshare.service=ipfs",
    ]);
    assert_eq!(kubos.lines().count(), 1, "{kubos}\n{}", up.text());

    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty());
}

#[test]
fn a_kubo_killed_while_the_engine_was_away_is_restarted_once_it_is_back() {
    let (p, proxy, up) = up_behind_proxy("engineloss-kill");
    up.wait_for("all services ready", 1, LONG);

    proxy.cut(Duration::from_secs(3));
    up.wait_for("engine connection lost", 1, Duration::from_secs(30));
    // The test's own CLI reaches the engine directly: kubo dies while the tool cannot see it.
    docker_ok(&["kill", &p.container("ipfs")]);
    up.wait_for("engine connection back", 1, Duration::from_secs(60));
    up.wait_for("ipfs     » restarted (restart 1); ready in", 1, LONG);
    assert_eq!(
        up.count("ipfs     » restarted (restart"),
        1,
        "{}",
        up.text()
    );
    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty());
}

#[test]
fn an_engine_lost_during_start_up_is_waited_for_and_start_up_goes_on() {
    let (p, proxy, up) = up_behind_proxy("startloss");
    // kubo is up; the app is created, started and probed while the engine is away.
    up.wait_for(
        &format!("ipfs     » started {}", p.container("ipfs")),
        1,
        LONG,
    );
    proxy.cut(Duration::from_secs(3));
    up.wait_for(
        "the engine went away during start-up; waiting for it",
        1,
        LONG,
    );
    up.wait_for("start-up goes on from what is there", 1, LONG);
    up.wait_for("all services ready", 1, LONG);
    app_answers(&p);
    assert_eq!(
        p.labelled_names(),
        [p.container("ipfs"), p.container("pinshare")],
        "one container per service:\n{}",
        up.text()
    );
    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty());
}

/// A save whose rebuild the engine's loss cuts short is built and served once the engine is back. Before, the
/// batch failed with "the engine is unreachable" and was dropped: the old build served until the next save.
#[test]
fn a_rebuild_cut_short_by_an_engine_loss_is_applied_once_the_engine_is_back() {
    let p = Project::offline_copy("rebuildloss");
    let proxy = EngineProxy::start(p.dir.path());
    let host = proxy.docker_host();
    let up = p.spawn_env(&["up"], &[("DOCKER_HOST", host.as_str())]);
    up.wait_for("all services ready", 1, LONG);
    std::fs::write(p.ctx().join("app/VERSION"), "after-the-loss\n").expect("write");
    // The engine goes as the rebuild begins (its build, or its swap a moment later).
    up.wait_for("pinshare » ctx/app/VERSION changed", 1, LONG);
    proxy.cut(Duration::from_secs(3));
    up.wait_for("engine connection back", 1, LONG);
    poll("the saved version served", LONG, || {
        (http("GET", p.app_port, "/version", &[], b"")
            .is_ok_and(|r| r.body.trim() == "after-the-loss"))
        .then_some(())
    });
    // The timing line follows the old container's stop.
    up.wait_for("pinshare » rebuilt in", 1, LONG);
    assert_eq!(
        up.count("it is looked at again once the engine is back"),
        1,
        "the loss cut the rebuild short: {}",
        up.text()
    );
    assert_eq!(
        p.labelled_names(),
        [p.container("ipfs"), p.container("pinshare")],
        "one container per service:\n{}",
        up.text()
    );
    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty());
}

/// A restart whose backoff ends while the engine is away starts once the engine is back. (Before supervision was
/// a machine, the start met the lost engine, the created container was left as it was and the supervisor waited
/// for another: the app stayed down.)
#[test]
fn a_restart_whose_backoff_ends_during_an_outage_starts_once_the_engine_is_back() {
    let p = Project::offline("engineloss-backoff");
    p.private_tags();
    p.edit_spec(|s| {
        s.replace(
            "depends_on = [\"ipfs\"]",
            "depends_on = [\"ipfs\"]\nbackoff = { first = \"4s\", base = \"4s\", max = \"4s\" }",
        )
    });
    let proxy = EngineProxy::start(p.dir.path());
    let host = proxy.docker_host();
    let up = p.spawn_env(&["up", "--no-watch"], &[("DOCKER_HOST", host.as_str())]);
    up.wait_for("all services ready", 1, LONG);
    docker_ok(&["kill", "-s", "KILL", &p.container("pinshare")]);
    up.wait_for(
        "pinshare » exited with code 137; restarting in 4 s (restart 1)",
        1,
        LONG,
    );
    // The replacement is created and waits out its backoff; the engine goes away past its start time.
    poll("the replacement to be created", LONG, || {
        let o = common::docker(&[
            "inspect",
            "-f",
            "{{.State.Status}}",
            &p.container("pinshare"),
        ]);
        (String::from_utf8_lossy(&o.stdout).trim() == "created").then_some(())
    });
    proxy.cut(Duration::from_secs(8));
    up.wait_for("engine connection lost", 1, Duration::from_secs(30));
    up.wait_for("engine connection back", 1, Duration::from_secs(60));
    // Restart 1 even when the start was tried before the supervisor learnt the engine had gone (CI saw that
    // order once: the start failed, and was counted as a failed restart 2). A start or a look cut short by the
    // engine is tried again, as the same restart.
    up.wait_for("pinshare » restarted (restart 1)", 1, LONG);
    app_answers(&p);
    assert_eq!(
        up.count("pinshare » restarted (restart"),
        1,
        "{}",
        up.text()
    );
    assert_eq!(up.count("restart failed"), 0, "{}", up.text());
    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty());
}
