//! Carrying out plans on the fake engine, in virtual time.

use std::time::Duration;

use super::*;
use crate::engine::fake::Fake;
use crate::engine::{ErrorKind, State};
use crate::output::printer::Printer;

/// `app` waits for `db` and stops within 3 s; `web` waits for `app` and takes the default grace.
fn spec() -> Spec {
    let text = r#"
[project]
name = "p"
[services.db]
image = "db:1"
stop_grace = "30s"
[services.app]
image = "app:1"
depends_on = ["db"]
stop_grace = "3s"
[services.web]
image = "web:1"
depends_on = ["app"]
"#;
    crate::spec::parse(std::path::Path::new("pinshare.toml"), text).expect("valid spec")
}

/// Every service brought up through plan and apply, as `up` does.
async fn all_up(fake: &Fake, spec: &Spec, printer: &Printer) {
    for (r, id) in [
        ("db:1", "sha256:db"),
        ("app:1", "sha256:app"),
        ("web:1", "sha256:web"),
    ] {
        fake.add_image(r, id);
    }
    let observed = Observed {
        containers: observe(fake, spec).await.expect("observe"),
        desired: spec
            .order
            .iter()
            .map(|s| {
                let d = Desired {
                    image: format!("sha256:{s}"),
                    context_hash: None,
                    hash: format!("h-{s}"),
                };
                (s.clone(), d)
            })
            .collect(),
        occasion: Occasion::Up,
    };
    let actions = plan(spec, &observed);
    let applied = apply(fake, spec, &actions, printer).await.expect("up");
    assert_eq!(applied.created.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_plan_applied_creates_and_starts_every_service_in_dependency_order() {
    let (fake, spec) = (Fake::new(), spec());
    let (printer, lines) = Printer::capturing(["db", "app", "web"]);
    all_up(&fake, &spec, &printer).await;
    let creates: Vec<String> = fake
        .call_lines()
        .into_iter()
        .filter(|c| c.starts_with("create_container") || c.starts_with("start_container"))
        .collect();
    assert_eq!(
        creates,
        [
            "create_container p-db",
            "start_container p-db",
            "create_container p-app",
            "start_container p-app",
            "create_container p-web",
            "start_container p-web",
        ]
    );
    for name in ["p-db", "p-app", "p-web"] {
        assert_eq!(fake.container(name).map(|c| c.state), Some(State::Running));
    }
    assert_eq!(
        fake.created_with("p-app")
            .and_then(|c| c.labels.get(crate::labels::CONFIG_HASH).cloned()),
        Some("h-app".to_string())
    );
    printer.flush().await;
    assert!(
        lines
            .lock()
            .expect("lines")
            .contains(&"app  » started p-app".to_string()),
        "{lines:?}"
    );
    // Applied again, the same plan's desire keeps everything.
    let again = Observed {
        containers: observe(&fake, &spec).await.expect("observe"),
        desired: [(
            "app".to_string(),
            Desired {
                image: "sha256:app".into(),
                context_hash: None,
                hash: "h-app".into(),
            },
        )]
        .into(),
        occasion: Occasion::Up,
    };
    let kept = plan(&spec, &again);
    assert!(
        matches!(
            kept.as_slice(),
            [Action::Keep {
                reason: Reason::UpToDate,
                ..
            }]
        ),
        "{kept:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn teardown_stops_each_container_with_its_own_grace_in_reverse_dependency_order() {
    let (fake, spec) = (Fake::new(), spec());
    let printer = Printer::quiet(["db", "app", "web"]);
    all_up(&fake, &spec, &printer).await;
    let seen = observe(&fake, &spec).await.expect("observe");
    apply(
        &fake,
        &spec,
        &plan_down(&spec, &seen, Teardown::Graceful),
        &printer,
    )
    .await
    .expect("down");
    assert_eq!(
        fake.stop_graces(),
        [
            ("p-web".to_string(), Duration::from_secs(10)),
            ("p-app".to_string(), Duration::from_secs(3)),
            ("p-db".to_string(), Duration::from_secs(30)),
        ]
    );
    assert!(observe(&fake, &spec).await.expect("observe").is_empty());
}

#[tokio::test(start_paused = true)]
async fn one_failing_stop_does_not_leave_the_rest_and_its_error_is_returned() {
    let (fake, spec) = (Fake::new(), spec());
    let (printer, lines) = Printer::capturing(["db", "app", "web"]);
    all_up(&fake, &spec, &printer).await;
    fake.fail("stop_container", "p-web", ErrorKind::Failed);
    fake.fail("remove_container", "p-app", ErrorKind::Failed);
    let seen = observe(&fake, &spec).await.expect("observe");
    let err = apply(
        &fake,
        &spec,
        &plan_down(&spec, &seen, Teardown::Graceful),
        &printer,
    )
    .await
    .expect_err("web could not be stopped");
    assert_eq!(err.to_string(), "stop_container p-web: scripted failure");
    // Everything else was still stopped and removed; app's failed removal left only app behind.
    let left: Vec<String> = observe(&fake, &spec)
        .await
        .expect("observe")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(left, ["p-app"]);
    assert_eq!(
        fake.stop_graces()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["p-web", "p-app", "p-db"]
    );
    printer.flush().await;
    let lines = lines.lock().expect("lines").clone();
    for said in [
        "web  » stop_container p-web: scripted failure",
        "app  » remove_container p-app: scripted failure",
    ] {
        assert!(lines.iter().any(|l| l == said), "{said}: {lines:#?}");
    }
}

#[tokio::test(start_paused = true)]
async fn down_stops_at_its_first_failure() {
    let (fake, spec) = (Fake::new(), spec());
    let printer = Printer::quiet(["db", "app", "web"]);
    all_up(&fake, &spec, &printer).await;
    fake.fail("stop_container", "p-app", ErrorKind::Failed);
    let seen = observe(&fake, &spec).await.expect("observe");
    let err = apply(
        &fake,
        &spec,
        &plan_down(&spec, &seen, Teardown::Down),
        &printer,
    )
    .await
    .expect_err("app could not be stopped");
    assert_eq!(err.to_string(), "stop_container p-app: scripted failure");
    assert!(fake.container("p-web").is_none());
    assert!(
        fake.container("p-db").is_some(),
        "db is left for the next `down`"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_replaces_by_id_with_a_marked_container_that_is_not_started() {
    let (fake, spec) = (Fake::new(), spec());
    let printer = Printer::quiet(["db", "app", "web"]);
    all_up(&fake, &spec, &printer).await;
    let old = fake.container("p-app").expect("app");
    let mark = RestartMark {
        n: 2,
        start_at_unix_ms: 42,
    };
    let actions = plan_restart(
        &spec,
        &spec.services["app"],
        &old.id,
        false,
        "h-app",
        None,
        mark,
    );
    let applied = apply(&fake, &spec, &actions, &printer)
        .await
        .expect("restart");
    let new = fake.container("p-app").expect("a new app");
    assert_eq!(applied.created, std::slice::from_ref(&new.id));
    assert_ne!(new.id, old.id);
    assert_eq!(new.state, State::Created);
    assert_eq!(new.label(crate::labels::RESTARTS), Some("2"));
    assert_eq!(new.label(crate::labels::NEXT_START), Some("42"));
    assert_eq!(
        fake.stop_graces().last(),
        Some(&(old.id, Duration::from_secs(3)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_of_a_container_already_gone_is_what_was_wanted() {
    let (fake, spec) = (Fake::new(), spec());
    let printer = Printer::quiet(["app"]);
    let stop = [Action::Stop {
        service: "app".into(),
        container: "p-app".into(),
        grace: Duration::from_secs(3),
        paused: true,
        reason: Reason::Restart(1),
    }];
    apply(&fake, &spec, &stop, &printer)
        .await
        .expect("nothing to stop");
    assert_eq!(
        fake.call_lines(),
        ["unpause_container p-app", "stop_container p-app"]
    );
}
