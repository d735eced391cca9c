//! The foreground run's dev loop and supervision on the fake engine, in virtual time: source changes and spec
//! edits come in through [`dev::Sources`]' channels, the spec from a real file in a temporary directory.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::engine::Engine;
use crate::engine::fake::Fake;
use crate::error::{EXIT_INTERRUPTED, Result};
use crate::output::event::{Build, Event, Watch};
use crate::output::printer::Printer;
use crate::run::dev_loop::Sources;
use crate::run::loop_said::{Events, collect_events};
use crate::run::{StopSignals, UpOptions, run};
use crate::watch::Changes;

pub(super) type Lines = Arc<Mutex<Vec<String>>>;
/// The fake holds no container (`…-next` and `…-replaced` included) and no network.
pub(super) fn left_nothing(fake: &Fake, what: &str) {
    assert_eq!(
        fake.container_names(),
        Vec::<String>::new(),
        "{what}: {:#?}",
        fake.call_lines()
    );
    assert_eq!(
        fake.networks_and_volumes().0,
        Vec::<String>::new(),
        "{what}"
    );
}

/// `kv` runs an image, `app` is built from the directory and watched, `side` runs an image and never changes.
pub(super) fn spec_text(kv_mode: &str) -> String {
    format!(
        r#"
[project]
name = "d"

[services.kv]
image = "kv:1"
env = {{ MODE = "{kv_mode}" }}

[services.app]
build = {{ context = ".", dockerfile = "Dockerfile" }}
depends_on = ["kv"]
watch = {{ paths = ["main.go"], debounce = "200ms" }}
readiness = {{ exec = ["true"] }}

[services.side]
image = "side:1"
"#
    )
}

/// A foreground run on the fake, driven by the tests (here and in `await_tests.rs`).
pub(super) struct Run {
    pub(super) fake: Fake,
    pub(super) dir: tempfile::TempDir,
    pub(super) signals: StopSignals,
    pub(super) lines: Lines,
    pub(super) events: Events,
    pub(super) task: tokio::task::JoinHandle<Result<u8>>,
    pub(super) changes: UnboundedSender<Changes>,
    pub(super) edits: UnboundedSender<()>,
}

impl Run {
    /// A foreground `up` (watching through channels), once it says everything is ready.
    pub(super) async fn start() -> Self {
        let r = Self::launch(|_, _, _| {});
        r.said_n("watching", 1, |_, e| {
            matches!(e, Event::Watch(Watch::ReadyWatching { .. }))
        })
        .await;
        r
    }

    /// A foreground `up`, launched at once; `before` gets the fake, the change channel and the project's
    /// directory before the run's first call (to install hooks into start-up).
    fn launch(before: impl FnOnce(&Fake, &UnboundedSender<Changes>, &Path)) -> Self {
        Self::launch_with(&spec_text("a"), before)
    }

    /// [`Run::launch`] of the spec `text` (its services among `kv`, `app` and `side`).
    pub(super) fn launch_with(
        text: &str,
        before: impl FnOnce(&Fake, &UnboundedSender<Changes>, &Path),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY main.go /\n",
        )
        .expect("w");
        std::fs::write(dir.path().join("main.go"), "package main // v1\n").expect("w");
        // The spec is edited in these tests; as in a real project, it is not part of the image.
        std::fs::write(dir.path().join(".dockerignore"), "pinshare.toml\n").expect("w");
        std::fs::write(dir.path().join("pinshare.toml"), text).expect("w");
        let spec = crate::spec::load(&dir.path().join("pinshare.toml")).expect("valid spec");
        let fake = Fake::new();
        fake.add_image("kv:1", "sha256:kv");
        fake.add_image("side:1", "sha256:side");
        let engine: Arc<dyn Engine> = Arc::new(fake.clone());
        let (printer, lines) = Printer::capturing(["kv", "app", "side"]);
        let events = collect_events(&printer);
        let (sources, changes, edits) = Sources::channels();
        before(&fake, &changes, dir.path());
        let signals = StopSignals::default();
        let opts = UpOptions {
            services: Vec::new(),
            detach: false,
            watch: true,
            forward: false,
        };
        let task = tokio::spawn(run(
            engine,
            spec,
            opts,
            printer,
            signals.clone(),
            Some(sources),
        ));
        Run {
            fake,
            dir,
            signals,
            lines,
            events,
            task,
            changes,
            edits,
        }
    }

    pub(super) fn count(&self, text: &str) -> usize {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// Polls in virtual time until `text` was printed `n` times; panics after ten virtual minutes.
    pub(super) async fn printed(&self, text: &str, n: usize) {
        let t = tokio::time::Instant::now();
        while self.count(text) < n {
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "`{text}` not printed {n} times: {:#?}",
                self.lines.lock().expect("lines")
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub(super) fn calls_of(&self, call: &str) -> usize {
        self.fake.call_lines().iter().filter(|c| *c == call).count()
    }

    /// Edits main.go (so the build context changes) and sends the batch the watcher would.
    pub(super) fn edit_source(&self, version: u32) {
        let path = self.dir.path().join("main.go");
        std::fs::write(&path, format!("package main // v{version}\n")).expect("w");
        let _ = self.changes.send(Changes {
            service: "app".into(),
            paths: BTreeSet::from([path]),
            first_seen: std::time::Instant::now(),
        });
    }

    /// Stops the run and checks it ends interrupted, leaving nothing.
    pub(super) async fn stop(self) {
        self.signals.stop.cancel();
        let r = tokio::time::timeout(Duration::from_secs(600), self.task)
            .await
            .expect("the run ended")
            .expect("joined");
        assert_eq!(r.ok(), Some(EXIT_INTERRUPTED));
        assert_eq!(self.fake.container_names(), Vec::<String>::new());
    }
}

fn position_after(calls: &[String], from: usize, call: &str) -> usize {
    from + calls[from..]
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no `{call}` after {from} in {calls:#?}"))
}

#[tokio::test(start_paused = true)]
async fn a_start_first_swap_readies_the_new_container_before_the_old_one_stops() {
    let r = Run::start().await;
    let from = r.fake.call_lines().len();
    let old = r.fake.container("d-app").expect("app").id;
    r.edit_source(2);
    r.rebuilt_n(1).await;
    let calls = r.fake.call_lines();
    let created = position_after(&calls, from, "create_container d-app-next");
    let started = position_after(&calls, created, "start_container d-app-next");
    let rejoined = position_after(&calls, started, "rejoin_network d-app-next");
    let retired = position_after(&calls, rejoined, "rename_container d-app");
    let renamed = position_after(&calls, retired, "rename_container d-app-next");
    let stopped = position_after(&calls, renamed, "stop_container d-app-replaced");
    position_after(&calls, stopped, "remove_container d-app-replaced");
    // Nothing stopped the old container before the new one was in its place.
    assert!(
        !calls[from..stopped]
            .iter()
            .any(|c| c.starts_with("stop_container")),
        "{:#?}",
        &calls[from..]
    );
    let new = r.fake.container("d-app").expect("app");
    assert_ne!(new.id, old);
    assert!(r.fake.container("d-app-replaced").is_none());
    assert_eq!(
        r.said(|_, e| matches!(e, Event::Build(Build::SwapServes { .. }))),
        1
    );
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_new_container_that_never_gets_ready_is_removed_and_the_old_one_keeps_serving() {
    let r = Run::start().await;
    let old = r.fake.container("d-app").expect("app").id;
    // The new container fails its probe and exits soon after its start.
    r.fake.exec_results("d-app-next", &[(1, "not yet")]);
    r.fake.behave(
        "d-app-next",
        &[crate::engine::fake::Behaviour::Exit(
            Duration::from_millis(50),
            1,
        )],
    );
    r.edit_source(2);
    r.said_n("the swap abandoned", 1, |_, e| {
        matches!(e, Event::Build(Build::SwapAbandoned { .. }))
    })
    .await;
    assert_eq!(r.fake.container("d-app").expect("app").id, old);
    assert!(r.fake.container("d-app-next").is_none());
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn changes_during_a_build_give_exactly_one_follow_up_build_and_a_later_change_its_own() {
    let r = Run::start().await;
    assert_eq!(r.calls_of("build d-app:dev"), 1, "start-up built once");
    r.fake.latency("build", Duration::from_secs(5));
    r.edit_source(2);
    let t = tokio::time::Instant::now();
    while r.calls_of("build d-app:dev") < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Two more changes while that build runs (5 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.edit_source(3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.edit_source(4);
    r.rebuilt_n(2).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        r.calls_of("build d-app:dev"),
        3,
        "one follow-up build: {:#?}",
        r.fake.call_lines()
    );
    assert_eq!(r.rebuilt(), 2);
    // Both changes went into that one follow-up: two batches handled, not three (a third would find the image
    // up to date and say so).
    assert_eq!(r.main_go_changed(), 2);
    assert_eq!(r.count("up to date"), 0);
    // The follow-up began when the first build ended, not before: builds never overlap.
    let builds: Vec<_> = r
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.op == "build")
        .map(|c| c.at)
        .collect();
    assert!(builds[2] >= builds[1] + Duration::from_secs(5), "{:?}", t);

    // Settled: a change gets its own build.
    r.edit_source(5);
    r.rebuilt_n(3).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(r.calls_of("build d-app:dev"), 4);
    assert_eq!(r.main_go_changed(), 3);
    // Start-up made `d-app`; each swap (start-first: `app` publishes no port) makes `d-app-next`.
    assert_eq!(r.calls_of("create_container d-app"), 1);
    assert_eq!(
        r.calls_of("create_container d-app-next"),
        3,
        "one swap per build"
    );
    assert_eq!(r.calls_of("create_container d-kv"), 1, "kv untouched");
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_spec_reload_during_a_build_waits_for_it_and_both_changes_end_applied() {
    let r = Run::start().await;
    let image_before = r.fake.container("d-app").expect("app").image;
    r.fake.latency("build", Duration::from_secs(5));
    let from = r.fake.calls().len();
    r.edit_source(2);
    while r.calls_of("build d-app:dev") < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // While it builds: kv's environment changes in the file, and the watcher says so.
    tokio::time::sleep(Duration::from_secs(1)).await;
    std::fs::write(r.dir.path().join("pinshare.toml"), spec_text("b")).expect("w");
    r.edits.send(()).expect("loop listening");
    r.printed("kv   » ready", 1).await;
    r.rebuilt_n(1).await;

    let calls = r.fake.call_lines();
    let build = position_after(&calls, from, "build d-app:dev");
    // `app` publishes no port: it is swapped start-first, the old container removed last.
    let app_swapped = position_after(&calls, build, "create_container d-app-next");
    let app_started = position_after(&calls, app_swapped, "remove_container d-app-replaced");
    let kv_recreated = position_after(&calls, from, "create_container d-kv");
    assert!(
        build < app_swapped && app_started < kv_recreated,
        "{:#?}",
        &calls[from..]
    );
    // The reload's first look at the project came after the rebuild's swap: it waited for the lock.
    let reload_looked = position_after(&calls, from, "project_containers d");
    assert!(app_started < reload_looked, "{:#?}", &calls[from..]);
    // Both applied: the new image serves, kv runs with the new value, side was kept.
    let app = r.fake.container("d-app").expect("app");
    assert_ne!(app.image, image_before);
    let kv = r.fake.created_with("d-kv").expect("kv");
    assert!(kv.env.iter().any(|e| e == "MODE=b"), "{:?}", kv.env);
    assert_eq!(r.calls_of("create_container d-side"), 1, "side kept");
    assert_eq!(r.calls_of("build d-app:dev"), 2, "the reload built nothing");
    assert_eq!(r.count("configuration changed; recreating"), 1);
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_at_every_engine_call_of_a_rebuild_leaves_no_container() {
    // Reference: the calls one rebuild makes, swap and the supervisor's and follower's looks included.
    let r = Run::start().await;
    r.fake.latency("build", Duration::from_secs(60));
    let c0 = r.fake.calls().len();
    r.edit_source(2);
    r.rebuilt_n(1).await;
    let m = r.fake.calls().len() - c0;
    assert!(m > 10, "{:#?}", &r.fake.call_lines()[c0..]);
    r.stop().await;

    for k in 1..=m {
        let r = Run::start().await;
        // A minute-long build: a stop during it must not wait for it.
        r.fake.latency("build", Duration::from_secs(60));
        let (stop, stopped_at) = (r.signals.stop.clone(), Arc::new(Mutex::new(None)));
        let at = Arc::clone(&stopped_at);
        r.fake.on_call(r.fake.calls().len() + k, move || {
            *at.lock().expect("at") = Some(tokio::time::Instant::now());
            stop.cancel();
        });
        r.edit_source(2);
        let what = format!("stop at call {k} of the rebuild's {m}");
        let code = tokio::time::timeout(Duration::from_secs(600), r.task)
            .await
            .unwrap_or_else(|_| panic!("{what}: the run never ended"))
            .expect("joined");
        let stopped_at = stopped_at.lock().expect("at").expect("the hook ran");
        assert!(
            stopped_at.elapsed() < Duration::from_secs(1),
            "{what}: the stop took {:?}",
            stopped_at.elapsed()
        );
        assert_eq!(code.ok(), Some(EXIT_INTERRUPTED), "{what}");
        left_nothing(&r.fake, &what);
        assert_eq!(
            r.lines
                .lock()
                .expect("lines")
                .iter()
                .filter(|l| l.contains("stopped; volumes kept"))
                .count(),
            1,
            "{what}"
        );
    }
}

/// A save at any moment of start-up is served once start-up is over: with exactly one rebuild when the start-up
/// build had read the old source, none when it already took the save. Before, the watcher started once every
/// service was ready, and a save during start-up was never built.
#[tokio::test(start_paused = true)]
async fn a_save_at_every_engine_call_of_start_up_is_served_once_it_is_over() {
    // Reference: how many calls start-up makes.
    let r = Run::start().await;
    let m = r.fake.calls().len();
    r.stop().await;

    for k in 1..=m {
        let r = Run::launch(|fake, changes, dir| {
            let (changes, path) = (changes.clone(), dir.join("main.go"));
            fake.on_call(k, move || {
                std::fs::write(&path, "package main // saved during start-up\n").expect("w");
                let _ = changes.send(Changes {
                    service: "app".into(),
                    paths: BTreeSet::from([path]),
                    first_seen: std::time::Instant::now(),
                });
            });
        });
        let what = format!("save at call {k} of start-up's {m}");
        r.said_n("watching", 1, |_, e| {
            matches!(e, Event::Watch(Watch::ReadyWatching { .. }))
        })
        .await;
        // The change is looked at: rebuilt and swapped, or found already built.
        let t = tokio::time::Instant::now();
        while r.rebuilt() + r.said(|_, e| matches!(e, Event::Build(Build::ImageUnchanged(_)))) == 0
        {
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "{what}: never looked at: {:#?}",
                r.lines.lock().expect("lines")
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let builds = r.calls_of("build d-app:dev");
        assert!(
            (1..=2).contains(&builds) && r.rebuilt() == builds - 1,
            "{what}: {builds} builds, {} rebuilds",
            r.rebuilt()
        );
        // What runs was built from the saved source: its context hash is that of the directory now.
        let running = r.fake.container("d-app").expect("app");
        let spec = crate::spec::load(&r.dir.path().join("pinshare.toml")).expect("spec");
        let crate::spec::ImageSource::Build(b) = &spec.services["app"].image else {
            panic!("app is built")
        };
        let built = crate::image::pack_context(&spec.services["app"], b)
            .await
            .expect("pack")
            .hash;
        assert_eq!(
            running.label(crate::labels::CONTEXT_HASH),
            Some(built.as_str()),
            "{what}"
        );
        r.stop().await;
    }
}

/// A `--no-watch` foreground run of `db` and `app` (app depends on db); returns the run and its lines.
fn spawn_plain(fake: &Fake, signals: &StopSignals) -> (tokio::task::JoinHandle<Result<u8>>, Lines) {
    let text = r#"
[project]
name = "p"

[services.db]
image = "db:1"

[services.app]
image = "app:1"
depends_on = ["db"]
"#;
    let spec = crate::spec::parse(Path::new("pinshare.toml"), text).expect("valid spec");
    fake.add_image("db:1", "sha256:db");
    fake.add_image("app:1", "sha256:app");
    let engine: Arc<dyn Engine> = Arc::new(fake.clone());
    let (printer, lines) = Printer::capturing(["db", "app"]);
    let opts = UpOptions {
        services: Vec::new(),
        detach: false,
        watch: false,
        forward: false,
    };
    let task = tokio::spawn(run(engine, spec, opts, printer, signals.clone(), None));
    (task, lines)
}

async fn printed(lines: &Lines, text: &str) {
    let t = tokio::time::Instant::now();
    while !lines
        .lock()
        .expect("lines")
        .iter()
        .any(|l| l.contains(text))
    {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "never printed `{text}`: {:#?}",
            lines.lock().expect("lines")
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn count(lines: &Lines, text: &str) -> usize {
    lines
        .lock()
        .expect("lines")
        .iter()
        .filter(|l| l.contains(text))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_container_that_died_while_the_engine_was_away_is_restarted_once_it_is_back() {
    let fake = Fake::new();
    let signals = StopSignals::default();
    let (task, lines) = spawn_plain(&fake, &signals);
    printed(&lines, "all services ready; not watching").await;
    let db_before = fake.container("p-db").expect("db").id;

    fake.lose_engine();
    printed(&lines, "pinshare-dev » engine connection lost (").await;
    printed(
        &lines,
        "— engine connection lost: following resumes when it is back —",
    )
    .await;
    // The tool cannot see it: db dies during the outage.
    tokio::time::sleep(Duration::from_secs(1)).await;
    fake.exit("p-db", 137, false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(&lines, "db   » restarted (restart"),
        0,
        "nothing seen yet"
    );
    fake.restore_engine();
    printed(&lines, "pinshare-dev » engine connection back after").await;
    printed(
        &lines,
        "db   » exited with code 137; restarting in 100 ms (restart 1)",
    )
    .await;
    printed(&lines, "db   » restarted (restart 1)").await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(count(&lines, "engine connection lost ("), 1, "said once");
    assert_eq!(
        count(&lines, "db   » restarted (restart"),
        1,
        "{:#?}",
        lines.lock()
    );
    // One db, never two: created at start-up and once by the restart, the old one gone.
    let creates = fake
        .call_lines()
        .iter()
        .filter(|c| *c == "create_container p-db")
        .count();
    assert_eq!(creates, 2);
    let db = fake.container("p-db").expect("db");
    assert!(db.is_running() && db.id != db_before);
    assert_eq!(
        fake.container_names(),
        ["p-app", "p-db"],
        "app untouched, one db"
    );

    signals.stop.cancel();
    ended_interrupted(task).await;
    assert_eq!(fake.container_names(), Vec::<String>::new());
}

/// A daemon restart replays nothing (the engine keeps its events in memory): the deaths are found by a look, and
/// the run converges on its own — the clean exit the daemon's SIGTERM caused restored at once, the failure
/// restarted as any other, one container each. Before the supervisors looked again, both stayed dead.
#[tokio::test(start_paused = true)]
async fn after_a_daemon_restart_that_replays_no_event_both_dead_services_come_back() {
    let fake = Fake::new();
    let signals = StopSignals::default();
    let (task, lines) = spawn_plain(&fake, &signals);
    printed(&lines, "all services ready; not watching").await;
    let before = (
        fake.container("p-db").expect("db").id,
        fake.container("p-app").expect("app").id,
    );
    fake.restart_daemon(&[("p-db", 137)]);
    printed(&lines, "pinshare-dev » engine connection lost (").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    fake.restore_engine();
    printed(
        &lines,
        "app  » stopped with the engine (exit code 0); restoring it",
    )
    .await;
    printed(&lines, "app  » restored after the engine came back").await;
    printed(
        &lines,
        "db   » exited with code 137; restarting in 100 ms (restart 1)",
    )
    .await;
    printed(&lines, "db   » restarted (restart 1)").await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (db, app) = (
        fake.container("p-db").expect("db"),
        fake.container("p-app").expect("app"),
    );
    assert!(db.is_running() && db.id != before.0);
    assert!(app.is_running() && app.id != before.1);
    assert_eq!(fake.container_names(), ["p-app", "p-db"], "one of each");
    assert_eq!(count(&lines, "restored after the engine came back"), 1);
    signals.stop.cancel();
    ended_interrupted(task).await;
    assert_eq!(fake.container_names(), Vec::<String>::new());
}

/// Waits for a stopped run's end and checks it ended interrupted.
async fn ended_interrupted(task: tokio::task::JoinHandle<Result<u8>>) {
    let r = tokio::time::timeout(Duration::from_secs(600), task)
        .await
        .expect("the run ended")
        .expect("joined");
    assert_eq!(r.ok(), Some(EXIT_INTERRUPTED));
}

/// Ctrl-C during an outage waits a bounded time for the engine: back within it, the project is removed as on
/// any Ctrl-C (before, the run gave up at once and left the containers).
#[tokio::test(start_paused = true)]
async fn a_stop_request_during_a_short_outage_waits_for_the_engine_and_removes_the_project() {
    let fake = Fake::new();
    let signals = StopSignals::default();
    let (task, lines) = spawn_plain(&fake, &signals);
    printed(&lines, "all services ready; not watching").await;
    fake.lose_engine();
    printed(&lines, "engine connection lost (").await;
    signals.stop.cancel();
    printed(&lines, "the engine is away; waiting up to 10 s for it").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    fake.restore_engine();
    ended_interrupted(task).await;
    assert_eq!(count(&lines, "engine back; stopping the project"), 1);
    assert_eq!(fake.container_names(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_during_an_engine_outage_still_ends_the_run() {
    let fake = Fake::new();
    let signals = StopSignals::default();
    let (task, lines) = spawn_plain(&fake, &signals);
    printed(&lines, "all services ready; not watching").await;
    fake.lose_engine();
    printed(&lines, "engine connection lost (").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    signals.stop.cancel();
    let r = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the run ended although the engine is away")
        .expect("joined");
    // What cannot be reached cannot be removed: the run says which operation failed, what is left, and how
    // to clean it up.
    let e = r.expect_err("nothing could be removed");
    assert_eq!(
        e.to_string(),
        "project_containers p: the engine is unreachable; the containers of project p were left as they are: run `pinshare-dev down` once the engine is back"
    );
    assert_eq!(fake.container_names(), ["p-app", "p-db"]);
}
