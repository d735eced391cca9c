//! The phases a run goes through, read from its observable state ([`crate::run::state`]), on the fake engine in
//! virtual time: start-up, a save's rebuild and swap, a crash and its restarts.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::Engine;
use crate::engine::fake::Fake;
use crate::output::event::{Event, Watch};
use crate::output::printer::Printer;
use crate::run::control::{Handle, Reply, Request};
use crate::run::dev_loop::Sources;
use crate::run::loop_said::{Events, collect_events};
use crate::run::state::{BuildResult, PhaseView, Transition};
use crate::run::{StopSignals, UpOptions, run};
use crate::watch::Changes;

const SPEC: &str = r#"
[project]
name = "st"

[services.kv]
image = "kv:1"
restart = "always"
backoff = { first = "100ms", base = "2s" }

[services.app]
build = { context = ".", dockerfile = "Dockerfile" }
depends_on = ["kv"]
watch = { paths = ["main.go"], debounce = "200ms" }
readiness = { exec = ["true"] }
"#;

struct Up {
    fake: Fake,
    dir: tempfile::TempDir,
    signals: StopSignals,
    lines: Arc<Mutex<Vec<String>>>,
    events: Events,
    seen: Arc<Mutex<Vec<Transition>>>,
    changes: tokio::sync::mpsc::UnboundedSender<Changes>,
    edits: tokio::sync::mpsc::UnboundedSender<()>,
    task: tokio::task::JoinHandle<crate::error::Result<u8>>,
}

/// A foreground `up` of [`SPEC`] whose every phase transition is recorded.
fn launch() -> Up {
    launch_with(false)
}

/// [`launch`], in manual mode when `manual`.
fn launch_with(manual: bool) -> Up {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY main.go /\n",
    )
    .expect("w");
    std::fs::write(dir.path().join("main.go"), "package main // v1\n").expect("w");
    std::fs::write(dir.path().join(".dockerignore"), "pinshare.toml\n").expect("w");
    std::fs::write(dir.path().join("pinshare.toml"), SPEC).expect("w");
    let spec = crate::spec::load(&dir.path().join("pinshare.toml")).expect("valid spec");
    let fake = Fake::new();
    fake.add_image("kv:1", "sha256:kv");
    let engine: Arc<dyn Engine> = Arc::new(fake.clone());
    let (printer, lines) = Printer::capturing(["kv", "app"]);
    let events = collect_events(&printer);
    let (sources, changes, edits) = Sources::channels();
    let signals = StopSignals {
        control: Handle::new("st", manual),
        ..StopSignals::default()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rx = signals.control.state.transitions();
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok(t) = rx.recv().await {
            record.lock().expect("seen").push(t);
        }
    });
    let opts = UpOptions {
        watch: true,
        ..UpOptions::default()
    };
    let task = tokio::spawn(run(
        engine,
        spec,
        opts,
        printer,
        signals.clone(),
        Some(sources),
    ));
    Up {
        fake,
        dir,
        signals,
        lines,
        events,
        seen,
        changes,
        edits,
        task,
    }
}

impl Up {
    async fn printed(&self, text: &str, n: usize) {
        let t = tokio::time::Instant::now();
        let count = || {
            let lines = self.lines.lock().expect("lines");
            lines.iter().filter(|l| l.contains(text)).count()
        };
        while count() < n {
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "`{text}` never printed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Polls until `service` was said `event` once.
    async fn said(&self, service: &str, event: impl Fn(&Event) -> bool) {
        let t = tokio::time::Instant::now();
        let count = || {
            let events = self.events.lock().expect("events");
            events
                .iter()
                .filter(|(name, e)| name == service && event(e))
                .count()
        };
        while count() < 1 {
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "never said: {:#?}",
                self.events.lock().expect("events")
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The names of the phases `service` entered, in order.
    fn phases(&self, service: &str) -> Vec<String> {
        let seen = self.seen.lock().expect("seen");
        let names = seen.iter().filter(|t| t.service == service).map(|t| {
            let v = serde_json::to_value(&t.phase).expect("json");
            v["phase"].as_str().unwrap_or_default().to_string()
        });
        names.collect()
    }

    fn save(&self, version: u32) -> std::path::PathBuf {
        let path = self.dir.path().join("main.go");
        std::fs::write(&path, format!("package main // v{version}\n")).expect("w");
        let _ = self.changes.send(Changes {
            service: "app".into(),
            paths: BTreeSet::from([path.clone()]),
            first_seen: std::time::Instant::now(),
        });
        path
    }

    async fn ask(&self, request: Request) -> Reply {
        self.signals.control.answer(request).await
    }

    fn running(&self, container: &str) -> bool {
        self.fake
            .container(container)
            .is_some_and(|c| c.is_running())
    }

    fn clear(&self) {
        self.seen.lock().expect("seen").clear();
    }

    async fn stop(self) {
        self.signals.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(600), self.task).await;
    }
}

#[tokio::test(start_paused = true)]
async fn start_up_goes_through_building_waiting_starting_ready_and_keeps_the_build() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    assert_eq!(
        up.phases("app"),
        ["building", "waiting", "starting", "ready"]
    );
    // kv waits for nothing: it starts in the phase it is made with.
    assert_eq!(up.phases("kv"), ["starting", "ready"]);
    let snap = up.signals.control.state.snapshot();
    assert_eq!(snap.project, "st");
    assert!(snap.steerable, "steering is taken once start-up is over");
    let app = &snap.services["app"];
    assert!(matches!(app.phase, PhaseView::Ready { .. }), "{app:?}");
    let serving = up.fake.container("st-app").expect("app").image;
    assert_eq!(app.build.as_deref(), Some(serving.as_str()));
    assert_eq!(app.history.len(), 1);
    assert_eq!(app.history[0].cause, "up");
    assert_eq!(
        app.history[0].result,
        BuildResult::Served { image: serving }
    );
    let seen = up.seen.lock().expect("seen").clone();
    let waited = seen
        .iter()
        .find(|t| t.service == "app" && t.phase.text().starts_with("waiting"));
    assert_eq!(
        waited.map(|t| t.phase.clone()),
        Some(PhaseView::Waiting {
            deps: vec!["kv".into()]
        })
    );
    up.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_save_is_a_build_with_its_paths_and_every_stage_of_the_timing_line() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    up.clear();
    let path = up.dir.path().join("main.go");
    std::fs::write(&path, "package main // v2\n").expect("w");
    let _ = up.changes.send(Changes {
        service: "app".into(),
        paths: BTreeSet::from([path.clone()]),
        first_seen: std::time::Instant::now(),
    });
    up.printed("rebuilt in", 1).await;
    assert_eq!(
        up.phases("app"),
        ["building", "starting", "swapping", "ready"]
    );
    assert_eq!(up.phases("kv"), Vec::<String>::new(), "kv is left alone");
    let snap = up.signals.control.state.snapshot();
    let app = &snap.services["app"];
    let build = app.history.last().expect("a build");
    assert_eq!(build.cause, "save");
    assert_eq!(build.paths, vec![path]);
    let stages: Vec<&str> = build.stages.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(stages, ["detect", "build", "start", "ready", "swap"]);
    let serving = up.fake.container("st-app").expect("app").image;
    assert_eq!(
        build.result,
        BuildResult::Served {
            image: serving.clone()
        }
    );
    assert_eq!(app.build.as_deref(), Some(serving.as_str()));
    assert_ne!(app.history[0].result, build.result, "a new build serves");
    up.stop().await;
}

#[tokio::test(start_paused = true)]
async fn crashes_in_a_row_restart_then_crash_loop_and_count_the_restarts() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    up.clear();
    up.fake.exit("st-kv", 1, false);
    up.printed("kv   » restarted (restart 1)", 1).await;
    up.fake.exit("st-kv", 1, false);
    up.printed("restarting in 2 s (restart 2)", 1).await;
    let snap = up.signals.control.state.snapshot();
    match &snap.services["kv"].phase {
        PhaseView::CrashLoop { attempt, in_ms } => {
            assert_eq!(*attempt, 2);
            assert!(*in_ms > 1000 && *in_ms <= 2000, "{in_ms}");
            let text = snap.services["kv"].phase.text();
            assert_eq!(text, "crash-loop, next try in 2 s");
        }
        other => panic!("{other:?}"),
    }
    up.printed("kv   » restarted (restart 2)", 1).await;
    assert_eq!(
        up.phases("kv"),
        ["restarting", "ready", "crash_loop", "ready"]
    );
    assert_eq!(
        up.signals.control.state.snapshot().services["kv"].restarts,
        2
    );
    up.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_service_stays_stopped_through_saves_spec_edits_and_time_until_started() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    let r = up
        .ask(Request::Stop {
            service: "kv".into(),
        })
        .await;
    assert!(r.ok, "{r:?}");
    assert!(!up.running("st-kv"));
    up.printed("app  » kv, which it depends on, was stopped on request", 1)
        .await;
    let snap = up.signals.control.state.snapshot();
    assert_eq!(
        snap.services["kv"].phase,
        PhaseView::Stopped { by_user: true }
    );
    // A spec edit that changes kv's configuration leaves it stopped.
    let spec = up.dir.path().join("pinshare.toml");
    let text = std::fs::read_to_string(&spec).expect("r");
    std::fs::write(
        &spec,
        text.replace("image = \"kv:1\"", "image = \"kv:1\"\nenv = { A = \"1\" }"),
    )
    .expect("w");
    let _ = up.edits.send(());
    up.printed("no service's configuration changed", 1).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(!up.running("st-kv"), "the supervisor left it stopped");
    assert_eq!(
        up.signals.control.state.snapshot().services["kv"].restarts,
        0
    );
    // Other commands refuse a stopped service.
    let r = up
        .ask(Request::Restart {
            service: "kv".into(),
        })
        .await;
    assert!(
        !r.ok
            && r.error
                .as_deref()
                .is_some_and(|e| e.contains("stopped by `stop`")),
        "{r:?}"
    );
    let r = up
        .ask(Request::Start {
            service: "kv".into(),
        })
        .await;
    assert!(r.ok, "{r:?}");
    assert!(up.running("st-kv"));
    let snap = up.signals.control.state.snapshot();
    assert!(matches!(snap.services["kv"].phase, PhaseView::Ready { .. }));
    up.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_save_to_a_stopped_service_waits_for_its_start_which_builds_it() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    assert!(
        up.ask(Request::Stop {
            service: "app".into()
        })
        .await
        .ok
    );
    let path = up.save(2);
    up.said("app", |e| {
        matches!(e, Event::Watch(Watch::StoppedNotRebuilt { start }) if start.ends_with("start app"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!up.running("st-app"));
    let snap = up.signals.control.state.snapshot();
    assert_eq!(snap.services["app"].pending, vec![path]);
    let r = up
        .ask(Request::Start {
            service: "app".into(),
        })
        .await;
    assert!(
        r.ok && r.message.as_deref().is_some_and(|m| m.contains("built;")),
        "{r:?}"
    );
    let snap = up.signals.control.state.snapshot();
    assert!(snap.services["app"].pending.is_empty());
    assert_eq!(snap.services["app"].history.len(), 2);
    up.stop().await;
}

#[tokio::test(start_paused = true)]
async fn restart_makes_a_new_container_of_the_same_build_and_leaves_the_others() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    let (app, kv) = (
        up.fake.container("st-app").expect("app"),
        up.fake.container("st-kv").expect("kv"),
    );
    up.clear();
    let r = up
        .ask(Request::Restart {
            service: "app".into(),
        })
        .await;
    assert!(r.ok, "{r:?}");
    let now = up.fake.container("st-app").expect("app");
    assert_ne!(now.id, app.id);
    assert_eq!(now.image, app.image, "no rebuild");
    assert_eq!(up.fake.container("st-kv").expect("kv").id, kv.id);
    // The recorder takes what was sent.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(up.phases("app"), ["starting", "ready"]);
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The supervisor follows the new container: nothing restarts it again.
    assert_eq!(up.fake.container("st-app").expect("app").id, now.id);
    up.stop().await;
}

#[tokio::test(start_paused = true)]
async fn in_manual_mode_a_save_is_pending_until_trigger_builds_it() {
    let up = launch_with(true);
    up.printed("all services ready; watching app", 1).await;
    let app = up.fake.container("st-app").expect("app").id;
    let path = up.save(2);
    up.said("app", |e| {
        matches!(e, Event::Watch(Watch::Pending { trigger }) if trigger.ends_with("trigger app"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        up.fake.container("st-app").expect("app").id,
        app,
        "not rebuilt"
    );
    let snap = up.signals.control.state.snapshot();
    assert!(snap.manual);
    assert_eq!(snap.services["app"].pending, vec![path.clone()]);
    let r = up
        .ask(Request::Trigger {
            service: "app".into(),
        })
        .await;
    assert!(r.ok, "{r:?}");
    up.printed("rebuilt in", 1).await;
    assert_ne!(up.fake.container("st-app").expect("app").id, app);
    let snap = up.signals.control.state.snapshot();
    let app = &snap.services["app"];
    assert!(app.pending.is_empty());
    let last = app.history.last().expect("a build");
    assert_eq!((last.cause.as_str(), &last.paths), ("trigger", &vec![path]));
    up.stop().await;
}

/// A swap's build ends once its old container has stopped, and the next build of the service may have begun
/// by then: the end is written into the swap's own build, and the next one's phase is left as it is.
#[test]
fn a_build_that_ends_after_the_next_one_began_ends_itself_only() {
    let state = crate::run::state::RunState::new("p", &["app".to_string()], false);
    let first = tokio::time::Instant::now();
    state.build_began("app", "save", &[], first);
    let named = state.last_began("app");
    let second = first + Duration::from_millis(5);
    state.build_began("app", "save", &[], second);
    let served = BuildResult::Served {
        image: "sha256:v2".into(),
    };
    state.build_ended_at(
        "app",
        named,
        &[("swap", Duration::from_millis(7))],
        served.clone(),
    );
    let snap = state.snapshot();
    let app = &snap.services["app"];
    assert_eq!(app.history[0].result, served);
    assert_eq!(app.history[1].result, BuildResult::Running);
    assert!(
        matches!(app.phase, PhaseView::Building { .. }),
        "{:?}",
        app.phase
    );
    state.build_ended("app", &[], BuildResult::Unchanged);
    let snap = state.snapshot();
    assert_eq!(
        snap.services["app"].history[1].result,
        BuildResult::Unchanged
    );
    assert!(matches!(
        snap.services["app"].phase,
        PhaseView::Ready { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_spec_save_that_does_not_load_is_in_the_snapshot_until_a_save_that_does() {
    let up = launch();
    up.printed("all services ready; watching app", 1).await;
    assert_eq!(up.signals.control.state.snapshot().spec_error, None);
    let spec = up.dir.path().join("pinshare.toml");
    let good = std::fs::read_to_string(&spec).expect("r");
    std::fs::write(
        &spec,
        good.replace("depends_on = [\"kv\"]", "depends_on = [\"kv\""),
    )
    .expect("w");
    let _ = up.edits.send(());
    up.printed("the edit was not applied", 1).await;
    let error = up.signals.control.state.snapshot().spec_error;
    let at = format!("error: {}:", spec.display());
    assert!(
        error.as_deref().is_some_and(|e| e.starts_with(&at)),
        "{error:?}"
    );
    // FILE:LINE:COL: the line and column of the edit.
    let rest = &error.as_deref().unwrap_or_default()[at.len()..];
    let mut parts = rest.splitn(3, ':');
    let (line, col) = (parts.next(), parts.next());
    assert!(
        line.is_some_and(|l| l.parse::<u32>().is_ok())
            && col.is_some_and(|c| c.parse::<u32>().is_ok()),
        "{error:?}"
    );
    std::fs::write(&spec, good).expect("w");
    let _ = up.edits.send(());
    up.printed("no service's configuration changed", 1).await;
    assert_eq!(up.signals.control.state.snapshot().spec_error, None);
    up.stop().await;
}
