//! The dev loop's rebuild worker on the fake engine.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};

use crate::engine::fake::Fake;
use crate::engine::{Engine, ErrorKind};
use crate::output::printer::Printer;
use crate::watch::Changes;

/// A built `app` in a real (temporary) build context.
fn spec(dir: &std::path::Path) -> crate::spec::Spec {
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").expect("write Dockerfile");
    std::fs::write(dir.join("main.go"), "package main\n").expect("write main.go");
    let text = format!(
        "[project]\nname = \"p\"\n[services.app]\nbuild = {{ context = \"{}\" }}\nwatch = {{ paths = [\"{}\"] }}\n",
        dir.display(),
        dir.join("main.go").display()
    );
    crate::spec::parse(&dir.join("pinshare.toml"), &text).expect("valid spec")
}

#[tokio::test(start_paused = true)]
async fn a_failed_build_is_reported_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path());
    let fake = Fake::new();
    fake.fail("build", "", ErrorKind::Failed);
    let engine: Arc<dyn Engine> = Arc::new(fake.clone());
    let (printer, lines) = Printer::capturing(["app"]);
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(std::sync::RwLock::new(Arc::new(spec)));
    let fg = crate::run::swap::Foreground {
        engine: Arc::clone(&engine),
        feeds: crate::run::attach::Feeds::default(),
        forwarder: crate::run::forward::Forwarder::default(),
        state: Default::default(),
        retiring: Default::default(),
        tracker: Default::default(),
        stopping: Default::default(),
    };
    let worker = tokio::spawn(super::worker(
        engine,
        "app".into(),
        shared,
        rx,
        printer.clone(),
        Arc::new(Mutex::new(())),
        fg,
    ));
    tx.send(Changes {
        service: "app".into(),
        paths: BTreeSet::from([dir.path().join("main.go")]),
        first_seen: std::time::Instant::now(),
    })
    .expect("worker listens");
    // Until the build was reported failed, then as long again for a second report, then closing the channel ends
    // the worker.
    let reported = || {
        lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains("build failed"))
    };
    let mut waited = Duration::ZERO;
    while !reported() && waited < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        printer.flush().await;
        waited += Duration::from_millis(10);
    }
    tokio::time::sleep(waited + Duration::from_secs(1)).await;
    drop(tx);
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("worker ends")
        .expect("worker did not panic");
    printer.flush().await;
    let lines = lines.lock().expect("lines").clone();
    assert!(fake.call_lines().iter().any(|c| c.starts_with("build ")));
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("failed") && l.contains("scripted failure"))
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "the failed build is reported once: {lines:#?}"
    );
    assert!(
        failures[0].contains("build failed, the running container was left serving"),
        "{lines:#?}"
    );
}
