//! Tests of start-up on the fake engine, in virtual time.

use std::sync::Arc;
use std::time::Duration;

use super::bring_up;
use super::startup::last_lines_heading;
use crate::engine::fake::{Behaviour, Fake};
use crate::engine::{Engine, State};
use crate::output::printer::Printer;

/// The spec of these tests and of `stop_tests.rs`: `db` is probed by exec; `app` and `web` wait for it, `web`
/// also for `app`.
pub(super) const SPEC: &str = r#"
[project]
name = "p"

[services.db]
image = "db:1"
readiness = { exec = ["db-ready"], period = "1s", timeout = "1s", start_timeout = "60s" }

[services.app]
image = "app:1"
depends_on = ["db"]

[services.web]
image = "web:1"
depends_on = ["app", "db"]
"#;

fn spec() -> crate::spec::Spec {
    crate::spec::parse(std::path::Path::new("pinshare.toml"), SPEC).expect("valid spec")
}

/// A fake with the images of [`SPEC`].
pub(super) fn fake() -> Fake {
    let fake = Fake::new();
    for (r, id) in [
        ("db:1", "sha256:db"),
        ("app:1", "sha256:app"),
        ("web:1", "sha256:web"),
    ] {
        fake.add_image(r, id);
    }
    fake
}

async fn up(fake: &Fake) -> crate::error::Result<()> {
    let spec = spec();
    let engine: Arc<dyn Engine> = Arc::new(fake.clone());
    let printer = Printer::quiet(["db", "app", "web"]);
    let selected = spec.order.clone();
    bring_up(
        &engine,
        &spec,
        &selected,
        &printer,
        (
            std::time::Instant::now(),
            &tokio_util::sync::CancellationToken::new(),
            &Default::default(),
        ),
        &mut crate::run::startup::Made::default(),
    )
    .await
}

fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no `{call}` in {calls:#?}"))
}

#[tokio::test(start_paused = true)]
async fn dependents_start_only_once_their_dependency_is_ready_in_dependency_order() {
    let fake = fake();
    // Not ready for the first three probes, then ready.
    fake.exec_results(
        "p-db",
        &[(1, "starting"), (1, "starting"), (1, "starting"), (0, "")],
    );
    let t = tokio::time::Instant::now();
    up(&fake).await.expect("all ready");
    // The first probes are 10 ms apart: ready at the fourth, 30 ms after the start, in virtual time.
    assert_eq!(t.elapsed(), Duration::from_millis(30));
    let calls = fake.call_lines();
    let db_started = position(&calls, "start_container p-db");
    let app_created = position(&calls, "create_container p-app");
    let web_created = position(&calls, "create_container p-web");
    let last_probe = calls
        .iter()
        .rposition(|c| c == "exec p-db")
        .expect("probed");
    assert!(
        db_started < last_probe && last_probe < app_created,
        "{calls:#?}"
    );
    assert!(app_created < web_created, "{calls:#?}");
    for name in ["p-db", "p-app", "p-web"] {
        assert_eq!(fake.container(name).map(|c| c.state), Some(State::Running));
    }
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_exits_before_it_is_ready_fails_up_and_its_dependents_are_never_created()
{
    let fake = fake();
    fake.exec_results("p-db", &[(1, "starting")]);
    fake.behave("p-db", &[Behaviour::Exit(Duration::from_secs(2), 3)]);
    let t = tokio::time::Instant::now();
    let err = up(&fake).await.expect_err("db never gets ready");
    assert_eq!(
        err.to_string(),
        "db: exited with code 3 before it was ready"
    );
    assert_eq!(
        t.elapsed(),
        Duration::from_secs(2),
        "failed as soon as it exited"
    );
    let calls = fake.call_lines();
    for never in ["create_container p-app", "create_container p-web"] {
        assert!(!calls.iter().any(|c| c == never), "{calls:#?}");
    }
    assert!(fake.container("p-app").is_none() && fake.container("p-web").is_none());
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_in_reverse_dependency_order_and_one_failure_does_not_leave_the_rest() {
    let fake = fake();
    up(&fake).await.expect("all ready");
    fake.fail("stop_container", "p-app", crate::engine::ErrorKind::Failed);
    let before = fake.calls().len();
    let err = super::remove_project_containers(&fake, &spec(), &Printer::quiet(["db"]), true)
        .await
        .expect_err("app could not be stopped");
    assert_eq!(err.to_string(), "stop_container p-app: scripted failure");
    let teardown: Vec<String> = fake.call_lines()[before..]
        .iter()
        .filter(|c| c.starts_with("stop_") || c.starts_with("remove_"))
        .cloned()
        .collect();
    assert_eq!(
        teardown,
        [
            "stop_container p-web",
            "remove_container p-web",
            "stop_container p-app",
            "remove_container p-app",
            "stop_container p-db",
            "remove_container p-db",
        ]
    );
    for name in ["p-db", "p-app", "p-web"] {
        assert!(fake.container(name).is_none(), "{name} removed");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_create_is_reported_with_the_operation_and_the_dependents_wait_for_nothing() {
    let fake = fake();
    fake.fail(
        "create_container",
        "p-app",
        crate::engine::ErrorKind::Conflict,
    );
    let err = up(&fake).await.expect_err("app cannot be created");
    assert_eq!(err.to_string(), "create_container p-app: scripted failure");
    assert_eq!(
        fake.container("p-db").map(|c| c.state),
        Some(State::Running)
    );
    assert!(
        fake.container("p-web").is_none(),
        "{:#?}",
        fake.call_lines()
    );
}

#[test]
fn one_last_line_is_not_called_lines() {
    assert_eq!(
        last_lines_heading(1, "p-ipfs").to_string(),
        "last line of p-ipfs:"
    );
    assert_eq!(
        last_lines_heading(20, "p-ipfs").to_string(),
        "last 20 lines of p-ipfs:"
    );
}
