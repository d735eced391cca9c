//! Between the events, on the fake engine in virtual time (issue 19, item 7): a stop at every engine call of a
//! live update and of a stop-first rebuild, an engine loss (the connection, or a daemon restart) at every engine
//! call of start-up, of a rebuild and of a live update, and a save at every engine call of a rebuild. Each
//! injection is a hook on the n-th call ([`Fake::on_call`]); the reference run of each test says how many calls
//! there are.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::loop_tests::{Run, spec_text};
use crate::engine::Engine;
use crate::engine::fake::Fake;
use crate::error::EXIT_INTERRUPTED;
use crate::output::event::{Build, Event, Watch};

/// `app` is synced into, not rebuilt, when `main.go` changes: copied in, a command run, restarted.
fn live_spec() -> String {
    spec_text("a").replace(
        "readiness = { exec = [\"true\"] }\n",
        "readiness = { exec = [\"true\"] }\nlive_update = { sync = [{ from = \"main.go\", to = \"/main.go\" }], run = [{ command = [\"reload\"] }], restart = true }\n",
    )
}

/// `app` publishes a host port (and the run does not forward it): a rebuild replaces it stop-first.
fn port_spec() -> String {
    spec_text("a").replace(
        "readiness = { exec = [\"true\"] }\n",
        "readiness = { exec = [\"true\"] }\nports = [\"18080:80\"]\n",
    )
}

/// A run of `text`, once it says everything is ready.
async fn start_with(text: &str) -> Run {
    let r = Run::launch_with(text, |_, _, _| {});
    r.said_n("watching", 1, |_, e| {
        matches!(e, Event::Watch(Watch::ReadyWatching { .. }))
    })
    .await;
    r
}

/// The run ends interrupted and leaves what a normal stop leaves: no container (running or not, `…-next` and
/// `…-replaced` included), no network, and the stop's last line once.
async fn ends_leaving_nothing(r: Run, what: &str) {
    let code = tokio::time::timeout(Duration::from_secs(600), r.task)
        .await
        .unwrap_or_else(|_| panic!("{what}: the run never ended: {:#?}", r.fake.call_lines()))
        .expect("joined");
    assert_eq!(code.ok(), Some(EXIT_INTERRUPTED), "{what}");
    super::loop_tests::left_nothing(&r.fake, what);
    let lines = r.lines.lock().expect("lines").clone();
    let last = lines
        .iter()
        .filter(|l| l.contains("stopped; volumes kept") || l.contains("interrupted during"))
        .count();
    assert_eq!(last, 1, "{what}: {lines:#?}");
}

/// Stops a settled run of `text` at each engine call (1-based) that `act` and what it sets off make until
/// `done` is printed, and checks that each stop ends the run leaving nothing. Returns the number of calls.
async fn stop_at_every_call(text: &str, act: impl Fn(&Run), done: &str) -> usize {
    let r = start_with(text).await;
    let c0 = r.fake.calls().len();
    act(&r);
    r.printed(done, 1).await;
    let m = r.fake.calls().len() - c0;
    r.stop().await;
    for k in 1..=m {
        let r = start_with(text).await;
        let stop = r.signals.stop.clone();
        r.fake
            .on_call(r.fake.calls().len() + k, move || stop.cancel());
        act(&r);
        ends_leaving_nothing(r, &format!("stop at call {k} of {m} after `{done}`")).await;
    }
    m
}

#[tokio::test(start_paused = true)]
async fn a_stop_at_every_engine_call_of_a_live_update_leaves_nothing() {
    let m = stop_at_every_call(&live_spec(), |r| r.edit_source(2), "live-updated in").await;
    assert!(m >= 5, "upload, exec, restart, probe: {m}");
}

#[tokio::test(start_paused = true)]
async fn a_stop_at_every_engine_call_of_a_stop_first_rebuild_leaves_nothing() {
    let m = stop_at_every_call(&port_spec(), |r| r.edit_source(2), "rebuilt in").await;
    assert!(m > 8, "build, stop, remove, create, start, probe: {m}");
}

/// How the engine goes away.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// The connection: the containers go on running.
    Connection,
    /// The daemon restarts: every container stops with it (exit 0) and no event of it is kept.
    DaemonRestart,
}

/// How long the engine stays away.
const OUTAGE: Duration = Duration::from_secs(3);

/// The engine goes away now as `how` says, and is back after [`OUTAGE`].
fn lose(fake: &Fake, how: Loss) {
    match how {
        Loss::Connection => fake.lose_engine(),
        Loss::DaemonRestart => fake.restart_daemon(&[]),
    }
    let fake = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(OUTAGE).await;
        fake.restore_engine();
    });
}

/// The context hash of `app`'s source as it is now.
async fn source_hash(r: &Run) -> String {
    let spec = crate::spec::load(&r.dir.path().join("pinshare.toml")).expect("spec");
    let crate::spec::ImageSource::Build(b) = &spec.services["app"].image else {
        panic!("app is built")
    };
    crate::image::pack_context(&spec.services["app"], b)
        .await
        .expect("pack")
        .hash
}

/// What is wrong with the project, if anything: one running container per service under its own name and no
/// other, `app` running the newest image built from the source as it is now (or the source synced into it, when
/// it is live-updated).
async fn divergence(r: &Run) -> Option<String> {
    let names = r.fake.container_names();
    if names != ["d-app", "d-kv", "d-side"] {
        return Some(format!("containers {names:?}"));
    }
    for n in &names {
        if !r.fake.container(n).is_some_and(|c| c.is_running()) {
            return Some(format!("{n} is not running"));
        }
    }
    if r.said(|_, e| matches!(e, Event::Build(Build::LiveUpdated { .. }))) > 0 {
        return None;
    }
    let app = r.fake.container("d-app").expect("app");
    let want = source_hash(r).await;
    if app.label(crate::labels::CONTEXT_HASH) != Some(want.as_str()) {
        return Some("app does not run the newest source".into());
    }
    match r.fake.inspect_image("d-app:dev").await {
        Ok(Some(i)) if i.id == app.image => None,
        other => Some(format!(
            "app runs {}, the newest build is {other:?}",
            app.image
        )),
    }
}

/// Waits (ten virtual minutes at most) until the project converged, then checks it stays so for a minute.
async fn converges(r: &Run, what: &str) {
    let t = tokio::time::Instant::now();
    while let Some(wrong) = divergence(r).await {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "{what}: never converged: {wrong}: {:#?}\n{:#?}",
            r.lines.lock().expect("lines"),
            r.fake.call_lines()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        divergence(r).await,
        None,
        "{what}: {:#?}",
        r.lines.lock().expect("lines")
    );
}

/// What a loss left to be told: the number of lines printed before it, and the services whose containers it
/// stopped (a daemon restart stops every running one).
type Noted = Arc<Mutex<Option<(usize, Vec<String>)>>>;

/// Installs the loss at call `n` on a run: the engine goes away as `how` says, and what it stopped is noted.
fn lose_at(r: &Run, n: usize, how: Loss) -> Noted {
    let (noted, fake, lines) = (Noted::default(), r.fake.clone(), Arc::clone(&r.lines));
    let note = Arc::clone(&noted);
    r.fake.on_call(n, move || {
        let running: Vec<String> = fake
            .container_names()
            .iter()
            .filter(|n| fake.container(n).is_some_and(|c| c.is_running()))
            .filter_map(|n| n.strip_prefix("d-").map(str::to_string))
            .filter(|s| ["kv", "app", "side"].contains(&s.as_str()))
            .collect();
        let stopped = match how {
            Loss::Connection => Vec::new(),
            Loss::DaemonRestart => running,
        };
        *note.lock().expect("note") = Some((lines.lock().expect("lines").len(), stopped));
        lose(&fake, how);
    });
    noted
}

/// The run said the engine was back, and, for each service whose container the loss stopped, that it was
/// brought back (restored by its supervisor, or started again by start-up or a rebuild).
fn told_what_was_restored(r: &Run, loss: &Noted, what: &str) {
    let lines = r.lines.lock().expect("lines").clone();
    let (from, stopped) = loss
        .lock()
        .expect("loss")
        .clone()
        .expect("the loss happened");
    let back = lines[from..]
        .iter()
        .any(|l| l.contains("engine connection back after") || l.contains("engine back after"));
    assert!(back, "{what}: {lines:#?}");
    for svc in &stopped {
        let told = lines[from..].iter().any(|l| {
            l.starts_with(svc.as_str())
                && l.contains(" » ")
                && (l.contains("restored after the engine came back")
                    || l.contains(&format!("started d-{svc}")))
        });
        assert!(told, "{what}: {svc} was stopped by the loss: {lines:#?}");
    }
}

async fn engine_loss_at_every_call_of_start_up(how: Loss) -> usize {
    let r = start_with(&spec_text("a")).await;
    let m = r.fake.calls().len();
    r.stop().await;
    for k in 1..=m {
        let what = format!("{how:?} at call {k} of start-up's {m}");
        // Installed before the run's task first runs: it makes no call until this test awaits.
        let r = Run::launch_with(&spec_text("a"), |_, _, _| {});
        let loss = lose_at(&r, k, how);
        r.said_n("watching", 1, |_, e| {
            matches!(e, Event::Watch(Watch::ReadyWatching { .. }))
        })
        .await;
        converges(&r, &what).await;
        told_what_was_restored(&r, &loss, &what);
        r.stop().await;
    }
    m
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_at_every_engine_call_of_start_up_converges() {
    let m = engine_loss_at_every_call_of_start_up(Loss::Connection).await;
    assert!(m > 15, "{m}");
}

#[tokio::test(start_paused = true)]
async fn a_daemon_restart_at_every_engine_call_of_start_up_converges() {
    let m = engine_loss_at_every_call_of_start_up(Loss::DaemonRestart).await;
    assert!(m > 15, "{m}");
}

async fn engine_loss_at_every_call_of_a_rebuild(how: Loss) -> usize {
    let r = start_with(&spec_text("a")).await;
    let c0 = r.fake.calls().len();
    r.edit_source(2);
    r.rebuilt_n(1).await;
    let m = r.fake.calls().len() - c0;
    r.stop().await;
    for k in 1..=m {
        let what = format!("{how:?} at call {k} of the rebuild's {m}");
        let r = start_with(&spec_text("a")).await;
        let loss = lose_at(&r, r.fake.calls().len() + k, how);
        r.edit_source(2);
        converges(&r, &what).await;
        told_what_was_restored(&r, &loss, &what);
        // The change was not lost, and the run said when the new build took over (the loss may have cut the
        // swap short after that, before its timing line).
        assert!(
            r.rebuilt() + r.said(|_, e| matches!(e, Event::Build(Build::SwapServes { .. }))) >= 1,
            "{what}: {:#?}",
            r.lines.lock().expect("lines")
        );
        r.stop().await;
    }
    m
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_at_every_engine_call_of_a_rebuild_converges() {
    let m = engine_loss_at_every_call_of_a_rebuild(Loss::Connection).await;
    assert!(m > 10, "{m}");
}

#[tokio::test(start_paused = true)]
async fn a_daemon_restart_at_every_engine_call_of_a_rebuild_converges() {
    let m = engine_loss_at_every_call_of_a_rebuild(Loss::DaemonRestart).await;
    assert!(m > 10, "{m}");
}

async fn engine_loss_at_every_call_of_a_live_update(how: Loss) -> usize {
    let r = start_with(&live_spec()).await;
    let c0 = r.fake.calls().len();
    r.edit_source(2);
    r.said_n("live-updated", 1, |_, e| {
        matches!(e, Event::Build(Build::LiveUpdated { .. }))
    })
    .await;
    let m = r.fake.calls().len() - c0;
    r.stop().await;
    for k in 1..=m {
        let what = format!("{how:?} at call {k} of the live update's {m}");
        let r = start_with(&live_spec()).await;
        let loss = lose_at(&r, r.fake.calls().len() + k, how);
        r.edit_source(2);
        // Synced once the engine is back, or rebuilt when the loss stopped the container.
        converges(&r, &what).await;
        told_what_was_restored(&r, &loss, &what);
        r.stop().await;
    }
    m
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_at_every_engine_call_of_a_live_update_converges() {
    let m = engine_loss_at_every_call_of_a_live_update(Loss::Connection).await;
    assert!(m >= 5, "{m}");
}

#[tokio::test(start_paused = true)]
async fn a_daemon_restart_at_every_engine_call_of_a_live_update_converges() {
    let m = engine_loss_at_every_call_of_a_live_update(Loss::DaemonRestart).await;
    assert!(m >= 5, "{m}");
}

/// A save at every engine call of a rebuild (its build, its swap, what follows) gets exactly one follow-up
/// build — none when the rebuild's build already read it — and the newest source is what serves.
#[tokio::test(start_paused = true)]
async fn a_save_at_every_engine_call_of_a_rebuild_gives_exactly_one_follow_up() {
    let r = start_with(&spec_text("a")).await;
    let c0 = r.fake.calls().len();
    r.edit_source(2);
    r.rebuilt_n(1).await;
    let m = r.fake.calls().len() - c0;
    // The rebuild's build call (1-based): a save from then on came after its context was read.
    let build_at = 1 + r.fake.call_lines()[c0..]
        .iter()
        .position(|c| c == "build d-app:dev")
        .expect("the rebuild built");
    r.stop().await;
    assert!(m > 10, "{m}");
    for k in 1..=m {
        let what = format!("save at call {k} of the rebuild's {m} (its build is call {build_at})");
        let r = start_with(&spec_text("a")).await;
        let (changes, path) = (r.changes.clone(), r.dir.path().join("main.go"));
        r.fake.on_call(r.fake.calls().len() + k, move || {
            std::fs::write(&path, "package main // v3\n").expect("w");
            let _ = changes.send(crate::watch::Changes {
                service: "app".into(),
                paths: std::collections::BTreeSet::from([path]),
                first_seen: std::time::Instant::now(),
            });
        });
        r.edit_source(2);
        converges(&r, &what).await;
        // Start-up's build, the rebuild's, and one follow-up unless the rebuild's build took the save.
        let builds = r.calls_of("build d-app:dev");
        assert!(
            (2..=3).contains(&builds) && r.rebuilt() == builds - 1,
            "{what}: {builds} builds, {} rebuilds: {:#?}",
            r.rebuilt(),
            r.lines.lock().expect("lines")
        );
        if k >= build_at {
            assert_eq!(builds, 3, "{what}: exactly one follow-up build");
        }
        // One batch for each save, or both in one when the second came while the first was being folded.
        assert!((1..=2).contains(&r.main_go_changed()), "{what}");
        r.stop().await;
    }
}
