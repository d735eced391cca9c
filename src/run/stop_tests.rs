//! The foreground run on the fake engine, in virtual time: a stop request at every await point of start-up, and
//! the second Ctrl-C during the ordered stop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{StopSignals, UpOptions, run};
use crate::engine::Engine;
use crate::engine::fake::Fake;
use crate::error::EXIT_INTERRUPTED;
use crate::output::printer::Printer;

/// [`SPEC`](super::tests::SPEC), with a named volume on `db`.
fn spec() -> crate::spec::Spec {
    let text = super::tests::SPEC.replace(
        "image = \"db:1\"\n",
        "image = \"db:1\"\nvolumes = [\"data:/data\"]\n",
    );
    let spec =
        crate::spec::parse(std::path::Path::new("pinshare.toml"), &text).expect("valid spec");
    assert!(
        spec.named_volumes().iter().any(|v| v == "data"),
        "the volume was added"
    );
    spec
}

fn fake() -> Fake {
    let fake = super::tests::fake();
    // Two probes that fail first: start-up has awaits between the db's start and its readiness.
    fake.exec_results("p-db", &[(1, "starting"), (1, "starting"), (0, "")]);
    fake
}

type Lines = Arc<Mutex<Vec<String>>>;

/// A foreground `up --no-watch` of [`spec`] on `fake`, as a task.
fn spawn(
    fake: &Fake,
    signals: &StopSignals,
) -> (tokio::task::JoinHandle<crate::error::Result<u8>>, Lines) {
    let engine: Arc<dyn Engine> = Arc::new(fake.clone());
    let (printer, lines) = Printer::capturing(["db", "app", "web"]);
    let opts = UpOptions {
        services: Vec::new(),
        detach: false,
        watch: false,
        forward: false,
    };
    let task = tokio::spawn(run(engine, spec(), opts, printer, signals.clone(), None));
    (task, lines)
}

fn has(lines: &Lines, text: &str) -> bool {
    lines
        .lock()
        .expect("lines")
        .iter()
        .any(|l| l.contains(text))
}

/// Polls (in virtual time) until `text` was printed; panics after ten virtual minutes.
async fn printed(lines: &Lines, text: &str) {
    let t = tokio::time::Instant::now();
    while !has(lines, text) {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "never printed `{text}`: {:#?}",
            lines.lock().expect("lines")
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The run ends (within ten virtual minutes) with `code`; nothing of the project is left but its volume.
async fn ends_leaving_only_the_volume(
    task: tokio::task::JoinHandle<crate::error::Result<u8>>,
    fake: &Fake,
    code: u8,
    what: &str,
) {
    let r = tokio::time::timeout(Duration::from_secs(600), task)
        .await
        .unwrap_or_else(|_| panic!("{what}: the run never ended: {:#?}", fake.call_lines()))
        .expect("joined");
    assert_eq!(r.ok(), Some(code), "{what}: {:#?}", fake.call_lines());
    assert_eq!(
        fake.container_names(),
        Vec::<String>::new(),
        "{what}: {:#?}",
        fake.call_lines()
    );
    let (networks, volumes) = fake.networks_and_volumes();
    assert_eq!(networks, Vec::<String>::new(), "{what}");
    assert_eq!(volumes, ["p_data"], "{what}: volumes are kept");
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_at_every_engine_call_of_start_up_leaves_no_container_and_no_network() {
    // Reference run: how many engine calls a full start-up makes (up to the line that says it is done).
    let fake0 = fake();
    let signals = StopSignals::default();
    let (task, lines) = spawn(&fake0, &signals);
    printed(&lines, "all services ready; not watching").await;
    let reference = fake0.call_lines();
    let n = reference.len();
    // Start-up's last change: every call up to it (1-based) is made while start-up runs.
    let last_start = 1 + reference
        .iter()
        .position(|c| c == "start_container p-web")
        .expect("web started");
    assert!(n > 20, "a start-up of three services: {reference:#?}");
    signals.stop.cancel();
    ends_leaving_only_the_volume(task, &fake0, EXIT_INTERRUPTED, "after start-up").await;
    assert!(has(&lines, "stopped; volumes kept"));

    let mut during_start_up = 0;
    for k in 1..=n {
        let fake = fake();
        let signals = StopSignals::default();
        let stop = signals.stop.clone();
        fake.on_call(k, move || stop.cancel());
        let (task, lines) = spawn(&fake, &signals);
        let what = format!("stop at call {k} of {n}");
        ends_leaving_only_the_volume(task, &fake, EXIT_INTERRUPTED, &what).await;
        let calls = fake.call_lines();
        assert!(calls.len() >= k, "{what}: the hook's call was made");
        if has(
            &lines,
            "interrupted during start-up; removing the project's containers",
        ) {
            during_start_up += 1;
        } else {
            assert!(k > last_start, "{what}: seen by start-up");
            assert!(has(&lines, "stopped; volumes kept"), "{what}");
        }
    }
    assert!(during_start_up >= last_start, "{during_start_up} of {n}");
}

#[tokio::test(start_paused = true)]
async fn a_second_stop_during_the_ordered_stop_kills_and_removes_what_is_left() {
    let fake = fake();
    let signals = StopSignals::default();
    let (task, lines) = spawn(&fake, &signals);
    printed(&lines, "all services ready; not watching").await;
    // Each graceful stop takes 10 s; the second request comes during the first (web's, reverse order).
    fake.latency("stop_container", Duration::from_secs(10));
    let kill = signals.kill.clone();
    signals.stop.cancel();
    let t = tokio::time::Instant::now();
    printed(&lines, "stopping p-web").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    kill.cancel();
    ends_leaving_only_the_volume(task, &fake, EXIT_INTERRUPTED, "killed").await;
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(has(&lines, "killing"));
    let calls = fake.call_lines();
    assert!(calls.iter().any(|c| c == "stop_container p-web"));
    for never in ["stop_container p-app", "stop_container p-db"] {
        assert!(!calls.iter().any(|c| c == never), "{calls:#?}");
    }
}
