//! A real daemon restart under a foreground `up`: a private `dockerd` of the test's own (its own network
//! namespace, data root and socket; the machine's engine is never touched) is stopped and started again. The
//! containers die with it — the app exits 0 on the daemon's SIGTERM, kubo as kubo does — and a restarted daemon
//! keeps no event history, so nothing replays those deaths: the run must look again and converge.

mod common;

use std::time::Duration;

use common::private_engine::PrivateEngine;
use common::{Project, Running, poll};

const LONG: Duration = Duration::from_secs(180);

#[test]
fn after_a_real_daemon_restart_the_dead_pair_is_replaced_and_the_run_says_what_it_restored() {
    let mut engine = PrivateEngine::start("restart");
    let p = Project::offline_copy("dmnrestart");
    let up = Running::spawn(p.cmd_in(engine.wrapper(), &["up"]));
    up.wait_for("all services ready", 1, LONG);
    let (ipfs, app) = (p.container("ipfs"), p.container("pinshare"));
    let before = (
        engine.inspect(&ipfs, "{{.Id}}").expect("ipfs"),
        engine.inspect(&app, "{{.Id}}").expect("app"),
    );
    if let Err(e) = engine.get(p.app_port, "/health") {
        panic!("the app answers before the restart: {e}\n{}", up.text());
    }

    engine.restart();
    up.wait_for("engine connection back", 1, LONG);
    // Both run again, one container each, and the app answers through the run's own port.
    let running = |n: &str| engine.inspect(n, "{{.State.Running}}").as_deref() == Some("true");
    let t = std::time::Instant::now();
    while !(running(&ipfs) && running(&app)) {
        assert!(
            t.elapsed() < LONG,
            "both services still down {LONG:?} after the engine came back:\n{}",
            up.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    poll("the app answering again", LONG, || {
        engine.get(p.app_port, "/health").ok()
    });
    let all = engine.docker(&["ps", "-aq"]);
    assert_eq!(
        String::from_utf8_lossy(&all.stdout).lines().count(),
        2,
        "one container per service:\n{}",
        up.text()
    );
    assert_ne!(
        engine.inspect(&app, "{{.Id}}").expect("app"),
        before.1,
        "the dead app container was replaced"
    );
    let _ = before.0;
    up.wait_for("restored after the engine came back", 1, LONG);
    // The run's own words (README's "The engine goes away" sample), for `--nocapture`.
    eprintln!("{}", up.text());
    assert_eq!(up.interrupt(), Some(130));
    let left = engine.docker(&["ps", "-aq"]);
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty());
}
