//! The plan's rules, without an engine: every action and reason, the stop order and the grace periods.

use super::action::Line;
use super::plan::{Decision, REMOVED_SERVICE_GRACE, decide, orphans};
use super::*;
use crate::engine::Role;
use crate::output::event::Reconcile;
use std::path::Path;
use std::time::Duration;

const SPEC: &str = r#"
[project]
name = "demo"
[services.ipfs]
image = "ipfs/kubo:v0.39.0"
ports = ["5001:5001"]
[services.app]
image = "app:1"
depends_on = ["ipfs"]
stop_grace = "3s"
[services.web]
image = "web:1"
depends_on = ["app"]
[services.extra]
image = "x:1"
volumes = ["data:/data"]
fix_ownership = true
init = [{ command = ["migrate"] }]
"#;

fn spec() -> Spec {
    crate::spec::parse(Path::new("pinshare.toml"), SPEC).expect("valid spec")
}

fn obs(service: &str, hash: &str, running: bool) -> Seen {
    Seen {
        name: format!("demo-{service}"),
        service: service.into(),
        role: Some(Role::Service),
        hash: hash.into(),
        running,
    }
}

#[test]
fn missing_container_is_created() {
    assert_eq!(decide("h1", None), Decision::Create);
}

#[test]
fn unchanged_running_container_is_kept() {
    assert_eq!(decide("h1", Some(&obs("ipfs", "h1", true))), Decision::Keep);
}

#[test]
fn changed_hash_recreates() {
    assert!(matches!(
        decide("h2", Some(&obs("ipfs", "h1", true))),
        Decision::Recreate(_)
    ));
}

#[test]
fn stopped_container_is_recreated() {
    assert!(
        matches!(decide("h1", Some(&obs("ipfs", "h1", false))), Decision::Recreate(r) if r.to_string().contains("not running"))
    );
}

#[test]
fn dependency_order_puts_dependencies_first() {
    assert_eq!(spec().order, vec!["extra", "ipfs", "app", "web"]);
    assert_eq!(spec().stop_order(), vec!["web", "app", "ipfs", "extra"]);
}

#[test]
fn selecting_a_service_brings_its_dependencies() {
    assert_eq!(
        selection(&spec(), &["web".into()]),
        Ok(vec!["ipfs".into(), "app".into(), "web".into()])
    );
    assert_eq!(
        selection(&spec(), &["ipfs".into()]),
        Ok(vec!["ipfs".into()])
    );
    assert_eq!(selection(&spec(), &[]).expect("all").len(), 4);
}

#[test]
fn selecting_an_unknown_service_lists_the_known_ones() {
    let e = selection(&spec(), &["ipfss".into()]).expect_err("unknown");
    assert!(
        e.contains("`ipfss`") && e.contains("app, extra, ipfs, web"),
        "{e}"
    );
}

#[test]
fn leftover_init_steps_and_removed_services_are_orphans() {
    let mut init = obs("ipfs", "h", false);
    init.role = Some(Role::Init);
    init.name = "demo-ipfs-init".into();
    let gone = obs("old", "h", true);
    // A `run` in progress: not the start-up's to keep, mention or remove.
    let mut one_off = obs("ipfs", "", true);
    one_off.role = Some(Role::OneOff);
    one_off.name = "demo-ipfs-run-42".into();
    let observed = vec![
        obs("ipfs", "h", true),
        init.clone(),
        gone.clone(),
        one_off.clone(),
    ];
    let s = spec();
    let o = orphans(&s, &observed);
    assert_eq!(o, vec![&init, &gone]);
    // `down` removes it with the rest.
    let down = plan_down(&s, &observed, Teardown::Down);
    assert!(
        down.iter()
            .any(|a| matches!(a, Action::Remove { container, .. } if container == &one_off.name)),
        "{down:?}"
    );
}

#[test]
fn hash_changes_with_settings_and_image_but_not_watch_rules() {
    let s = spec();
    let ipfs = &s.services["ipfs"];
    let a = config_hash("demo", ipfs, "sha256:1");
    assert_eq!(a, config_hash("demo", ipfs, "sha256:1"));
    assert_ne!(a, config_hash("demo", ipfs, "sha256:2"));
    let mut changed = ipfs.clone();
    changed.env.insert("X".into(), "1".into());
    assert_ne!(a, config_hash("demo", &changed, "sha256:1"));
    let mut watched = ipfs.clone();
    watched.watch.ignore.push("*.tmp".into());
    assert_eq!(a, config_hash("demo", &watched, "sha256:1"));
}

fn desired(hash: &str) -> Desired {
    Desired {
        image: format!("sha256:{hash}"),
        context_hash: None,
        hash: hash.into(),
    }
}

/// The actions as `kind container reason` lines, for asserting a sequence.
fn lines(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Create { container, .. } => format!("create {container} ({})", a.reason()),
            Action::Recreate {
                container, grace, ..
            } => format!("recreate {container} {grace:?} ({})", a.reason()),
            Action::Start { container, .. } => format!("start {container} ({})", a.reason()),
            Action::Stop {
                container, grace, ..
            } => format!("stop {container} {grace:?} ({})", a.reason()),
            Action::Remove { container, .. } => format!("remove {container} ({})", a.reason()),
            Action::Keep { container, .. } => format!("keep {container} ({})", a.reason()),
            Action::RunInit { service, step, .. } => {
                format!("init {service} {step:?} ({})", a.reason())
            }
        })
        .collect()
}

fn observed(containers: Vec<Seen>, want: &[(&str, &str)], occasion: Occasion) -> Observed {
    Observed {
        containers,
        desired: want
            .iter()
            .map(|(s, h)| ((*s).to_string(), desired(h)))
            .collect(),
        occasion,
    }
}

#[test]
fn up_creates_what_is_missing_recreates_what_changed_or_stopped_and_keeps_the_rest_in_dependency_order()
 {
    let s = spec();
    let o = observed(
        vec![
            obs("ipfs", "h1", true),
            obs("app", "old", true),
            obs("web", "h3", false),
        ],
        &[
            ("ipfs", "h1"),
            ("app", "h2"),
            ("web", "h3"),
            ("extra", "h4"),
        ],
        Occasion::Up,
    );
    assert_eq!(
        lines(&plan(&s, &o)),
        [
            "init extra Ownership (no container)",
            "init extra Commands (no container)",
            "create demo-extra (no container)",
            "start demo-extra (no container)",
            "keep demo-ipfs (up to date)",
            "recreate demo-app 3s (configuration or image changed)",
            "create demo-app (configuration or image changed)",
            "start demo-app (configuration or image changed)",
            "recreate demo-web 10s (container was not running)",
            "create demo-web (container was not running)",
            "start demo-web (container was not running)",
        ]
    );
}

#[test]
fn a_create_carries_the_desired_hash_and_the_init_steps_the_resolved_image() {
    let s = spec();
    let mut o = observed(vec![], &[("extra", "h4")], Occasion::Up);
    o.desired.get_mut("extra").expect("extra").context_hash = Some("ctx".into());
    let actions = plan(&s, &o);
    assert!(actions.contains(&Action::Create {
        service: "extra".into(),
        container: "demo-extra".into(),
        hash: "h4".into(),
        context_hash: Some("ctx".into()),
        restart: None,
        reason: Reason::Missing,
    }));
    assert!(actions.iter().all(|a| match a {
        Action::RunInit { image, .. } => image == "sha256:h4",
        _ => true,
    }));
}

#[test]
fn services_not_desired_are_left_alone() {
    let s = spec();
    let o = observed(
        vec![obs("ipfs", "h1", false)],
        &[("app", "h2")],
        Occasion::Up,
    );
    assert_eq!(
        lines(&plan(&s, &o)),
        [
            "create demo-app (no container)",
            "start demo-app (no container)"
        ]
    );
}

#[test]
fn up_removes_leftover_init_steps_and_leaves_removed_services_running() {
    let s = spec();
    let mut init = obs("ipfs", "h", false);
    init.role = Some(Role::Init);
    init.name = "demo-ipfs-init".into();
    let o = observed(vec![init, obs("old", "h", true)], &[], Occasion::Up);
    let actions = plan(&s, &o);
    assert_eq!(
        lines(&actions),
        [
            "remove demo-ipfs-init (left over by an init step)",
            "keep demo-old (belongs to no service of the spec)",
        ]
    );
    assert_eq!(
        actions[1].announcement(),
        Some(Line::Event(
            crate::output::printer::TOOL.into(),
            Reconcile::LeftRunning("demo-old".into())
        ))
    );
}

#[test]
fn up_removes_the_second_container_a_cut_swap_left_so_each_service_has_one() {
    let s = spec();
    let mut next = obs("app", "new", true);
    next.name = "demo-app-next".into();
    let mut replaced = obs("app", "old", false);
    replaced.name = "demo-app-replaced".into();
    let o = observed(
        vec![next, replaced, obs("app", "old", true)],
        &[],
        Occasion::Up,
    );
    let actions = plan(&s, &o);
    let grace = s.services["app"].stop_grace;
    assert_eq!(
        lines(&actions),
        [
            format!("stop demo-app-next {grace:?} (left by a swap that was cut short)"),
            "remove demo-app-next (left by a swap that was cut short)".to_string(),
            "remove demo-app-replaced (left by a swap that was cut short)".to_string(),
        ]
    );
    assert_eq!(
        actions[1].announcement(),
        Some(Line::Event(
            "app".into(),
            Reconcile::RemovingLeftover("demo-app-next".into())
        ))
    );
}

#[test]
fn a_spec_edit_stops_removed_services_first_with_the_default_grace_then_replaces_what_changed() {
    let s = spec();
    let mut init = obs("ipfs", "h", false);
    init.role = Some(Role::Init);
    let o = observed(
        vec![
            obs("ipfs", "h1", true),
            obs("app", "old", true),
            obs("gone", "h", true),
            init,
        ],
        &[("ipfs", "h1"), ("app", "h2"), ("web", "h3")],
        Occasion::SpecEdit,
    );
    let actions = plan(&s, &o);
    assert_eq!(
        lines(&actions),
        [
            "stop demo-gone 10s (removed from the spec)",
            "remove demo-gone (removed from the spec)",
            "keep demo-ipfs (configuration unchanged)",
            "recreate demo-app 3s (configuration changed)",
            "create demo-app (configuration changed)",
            "start demo-app (configuration changed)",
            "create demo-web (added to the spec)",
            "start demo-web (added to the spec)",
        ]
    );
    assert_eq!(REMOVED_SERVICE_GRACE, crate::spec::DEFAULT_STOP_GRACE);
    let said: Vec<Line> = actions.iter().filter_map(Action::announcement).collect();
    let event = |n: &str, e: Reconcile| Line::Event(n.into(), e);
    assert_eq!(
        said,
        [
            event("gone", Reconcile::RemovedFromSpec),
            event("app", Reconcile::SpecEdited),
            event("web", Reconcile::SpecEdited),
        ]
    );
}

#[test]
fn a_rebuild_replaces_quietly_or_keeps_an_unchanged_image() {
    let s = spec();
    let changed = plan(
        &s,
        &observed(
            vec![obs("app", "old", true)],
            &[("app", "h2")],
            Occasion::Rebuild,
        ),
    );
    assert_eq!(
        lines(&changed),
        [
            "recreate demo-app 3s (rebuilt)",
            "create demo-app (rebuilt)",
            "start demo-app (rebuilt)",
        ]
    );
    let said: Vec<Line> = changed.iter().filter_map(Action::announcement).collect();
    assert!(said.is_empty(), "{said:?}");
    assert_eq!(
        changed[2].done(),
        Some(Line::Event(
            "app".into(),
            Reconcile::Started("demo-app".into())
        ))
    );
    let same = plan(
        &s,
        &observed(
            vec![obs("app", "h2", true)],
            &[("app", "h2")],
            Occasion::Rebuild,
        ),
    );
    assert_eq!(lines(&same), ["keep demo-app (image unchanged)"]);
}

#[test]
fn one_service_is_planned_from_its_own_container_only() {
    let s = spec();
    let all = vec![obs("app", "h2", true), obs("old", "h", true)];
    let o = Observed::one(&s, &all, "app", desired("h2"), Occasion::Up);
    assert_eq!(o.containers, vec![obs("app", "h2", true)]);
    assert_eq!(lines(&plan(&s, &o)), ["keep demo-app (up to date)"]);
}

#[test]
fn teardown_stops_removed_services_first_then_reverse_dependency_order_each_with_its_grace() {
    let s = spec();
    let seen = vec![
        obs("ipfs", "h", true),
        obs("app", "h", true),
        obs("web", "h", false),
        obs("gone", "h", true),
        obs("extra", "h", true),
    ];
    assert_eq!(
        lines(&plan_down(&s, &seen, Teardown::Graceful)),
        [
            "stop demo-gone 10s (stopping)",
            "remove demo-gone (stopping)",
            "remove demo-web (stopping)",
            "stop demo-app 3s (stopping)",
            "remove demo-app (stopping)",
            "stop demo-ipfs 10s (stopping)",
            "remove demo-ipfs (stopping)",
            "stop demo-extra 10s (stopping)",
            "remove demo-extra (stopping)",
        ]
    );
    assert!(
        plan_down(&s, &seen, Teardown::Kill)
            .iter()
            .all(|a| matches!(a, Action::Remove { .. })),
        "a kill stops nothing"
    );
    let down = plan_down(&s, &seen[..1], Teardown::Down);
    assert_eq!(
        down.iter()
            .filter_map(Action::announcement)
            .collect::<Vec<_>>(),
        [Line::Plain("stopping demo-ipfs".into())]
    );
    assert_eq!(
        down.iter().filter_map(Action::done).collect::<Vec<_>>(),
        [Line::Plain("removed container demo-ipfs".into())]
    );
    let shutdown = plan_down(&s, &seen[..1], Teardown::Graceful);
    assert_eq!(
        shutdown[0].announcement(),
        Some(Line::Event(
            "ipfs".into(),
            Reconcile::Stopping("demo-ipfs".into())
        ))
    );
}

#[test]
fn a_restart_stops_and_removes_the_old_container_by_id_and_creates_a_marked_one_not_started() {
    let s = spec();
    let mark = RestartMark {
        n: 4,
        start_at_unix_ms: 1_000,
    };
    let actions = plan_restart(
        &s,
        &s.services["app"],
        "id123",
        true,
        "h2",
        Some("ctx"),
        mark,
    );
    assert_eq!(
        actions,
        [
            Action::Stop {
                service: "app".into(),
                container: "id123".into(),
                grace: Duration::from_secs(3),
                paused: true,
                reason: Reason::Restart(4),
            },
            Action::Remove {
                service: "app".into(),
                container: "id123".into(),
                reason: Reason::Restart(4),
            },
            Action::Create {
                service: "app".into(),
                container: "demo-app".into(),
                hash: "h2".into(),
                context_hash: Some("ctx".into()),
                restart: Some(mark),
                reason: Reason::Restart(4),
            },
        ]
    );
    assert!(actions.iter().all(|a| a.announcement().is_none()));
    let start = Action::Start {
        service: "app".into(),
        container: "id".into(),
        reason: Reason::Restart(4),
    };
    assert_eq!(start.done(), None, "the supervisor says `restarted` itself");
    assert_eq!(Reason::Restart(4).to_string(), "restart 4");
}

#[test]
fn every_reason_reads_as_words() {
    for (r, words) in [
        (Reason::Missing, "no container"),
        (Reason::Changed, "configuration or image changed"),
        (Reason::NotRunning, "container was not running"),
        (Reason::UpToDate, "up to date"),
        (Reason::SpecEdited, "configuration changed"),
        (Reason::Added, "added to the spec"),
        (Reason::SpecUnchanged, "configuration unchanged"),
        (Reason::Rebuilt, "rebuilt"),
        (Reason::ImageUnchanged, "image unchanged"),
        (Reason::LeftoverInit, "left over by an init step"),
        (Reason::CutSwap, "left by a swap that was cut short"),
        (Reason::NotInSpec, "belongs to no service of the spec"),
        (Reason::RemovedFromSpec, "removed from the spec"),
        (Reason::Shutdown, "stopping"),
        (Reason::Down, "down"),
    ] {
        assert_eq!(r.to_string(), words);
    }
    let recreate = |reason| Action::Recreate {
        service: "app".into(),
        container: "demo-app".into(),
        grace: Duration::from_secs(1),
        reason,
    };
    assert_eq!(
        recreate(Reason::Changed).announcement(),
        Some(Line::Event(
            "app".into(),
            Reconcile::Recreating("configuration or image changed".into())
        ))
    );
    let keep = Action::Keep {
        service: "app".into(),
        container: "demo-app".into(),
        reason: Reason::UpToDate,
    };
    assert_eq!(
        keep.announcement(),
        Some(Line::Event("app".into(), Reconcile::UpToDate))
    );
    // The events say the reasons' words (output/event renders them).
    for (event, reason) in [
        (Reconcile::SpecEdited, Reason::SpecEdited),
        (Reconcile::RemovedFromSpec, Reason::RemovedFromSpec),
        (Reconcile::UpToDate, Reason::UpToDate),
    ] {
        assert!(event.to_string().starts_with(&reason.to_string()));
    }
    for (event, reason) in [
        (Reconcile::LeftRunning("c".into()), Reason::NotInSpec),
        (Reconcile::RemovingLeftover("c".into()), Reason::CutSwap),
    ] {
        assert!(
            event
                .to_string()
                .starts_with(&format!("container c {reason};"))
        );
    }
}

#[tokio::test]
async fn a_container_left_for_a_forwarder_is_changed_unless_this_process_forwards_its_service() {
    use crate::engine::{ContainerSpec, Engine};
    let mut s = spec();
    s.project = "fwd-observe".into();
    let fake = crate::engine::fake::Fake::new();
    fake.add_image("app:1", "sha256:app");
    let mut labels = crate::labels::container("fwd-observe", "app", Role::Service, "h");
    labels.insert(
        crate::labels::PORTS.to_string(),
        crate::labels::PORTS_FORWARDED.to_string(),
    );
    let body = ContainerSpec {
        image: "app:1".into(),
        labels,
        ..Default::default()
    };
    fake.create_container("fwd-observe-app", body)
        .await
        .expect("create");
    let hash = |seen: Vec<Seen>| {
        seen.into_iter()
            .find(|c| c.service == "app")
            .map(|c| c.hash)
    };
    // Left by a foreground run that was killed: its host ports are nobody's now.
    assert_eq!(
        hash(observe(&fake, &s).await.expect("observe")),
        Some(String::new())
    );
    // A foreground run that forwards `app` itself adopts it as it is.
    s.run
        .forwarded
        .insert("app".into(), crate::container::Reach::Published);
    assert_eq!(
        hash(observe(&fake, &s).await.expect("observe")),
        Some("h".into())
    );
}
