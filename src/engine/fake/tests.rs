//! The fake itself: scripted exits and OOM kills in virtual time, failures and latency per operation, the call
//! record.

use super::*;

fn spec(image: &str) -> ContainerSpec {
    ContainerSpec {
        image: image.into(),
        labels: labels::container("p", "web", Role::Service, "h1"),
        ..ContainerSpec::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_scripted_exit_happens_in_virtual_time_and_is_told_as_a_die_event() {
    let fake = Fake::new();
    fake.add_image("web:1", "sha256:web");
    fake.behave("p-web", &[Behaviour::Exit(Duration::from_secs(30), 3)]);
    let mut events = fake.container_events("p", None);
    let id = fake
        .create_container("p-web", spec("web:1"))
        .await
        .expect("create");
    let t = tokio::time::Instant::now();
    fake.start_container("p-web").await.expect("start");
    assert_eq!(fake.wait_container("p-web").await.expect("wait"), 3);
    assert_eq!(t.elapsed(), Duration::from_secs(30));
    let start = events.next().await.expect("event").expect("ok");
    let die = events.next().await.expect("event").expect("ok");
    assert_eq!(
        (start.action, start.id.as_str()),
        (EventAction::Start, id.as_str())
    );
    assert_eq!((die.action, die.exit_code), (EventAction::Die, Some(3)));
    let c = fake.container("p-web").expect("still there");
    assert_eq!(
        c.state,
        State::Exited {
            code: 3,
            oom: false
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_oom_kill_is_exit_137_with_the_flag_set() {
    let fake = Fake::new();
    fake.add_image("web:1", "sha256:web");
    fake.behave("p-web", &[Behaviour::Oom(Duration::from_millis(5))]);
    fake.create_container("p-web", spec("web:1"))
        .await
        .expect("create");
    fake.start_container("p-web").await.expect("start");
    assert_eq!(fake.wait_container("p-web").await.expect("wait"), 137);
    assert!(fake.container("p-web").expect("there").oom_killed());
}

#[tokio::test(start_paused = true)]
async fn failures_and_latency_are_scripted_per_operation_and_every_call_is_recorded() {
    let fake = Fake::new();
    fake.add_image("web:1", "sha256:web");
    fake.fail("start_container", "p-web", ErrorKind::Conflict);
    fake.latency("create_container", Duration::from_millis(250));
    let t = tokio::time::Instant::now();
    fake.create_container("p-web", spec("web:1"))
        .await
        .expect("create");
    assert_eq!(t.elapsed(), Duration::from_millis(250));
    let e = fake.start_container("p-web").await.expect_err("scripted");
    assert_eq!(e.kind, ErrorKind::Conflict);
    fake.start_container("p-web").await.expect("only once");
    let e = fake
        .create_container("p-web", spec("web:1"))
        .await
        .expect_err("taken");
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(
        fake.inspect_container("nothing")
            .await
            .expect("inspect")
            .is_none()
    );
    assert_eq!(
        fake.call_lines(),
        [
            "create_container p-web",
            "start_container p-web",
            "start_container p-web",
            "create_container p-web",
            "inspect_container nothing",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_hook_runs_when_its_call_is_made_before_the_call_goes_on() {
    let fake = Fake::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (f, s) = (fake.clone(), Arc::clone(&seen));
    // The 2nd call: the hook sees it recorded, and scripts a failure that call itself then meets.
    fake.on_call(2, move || {
        s.lock().expect("seen").extend(f.call_lines());
        f.fail("volume_labels", "", ErrorKind::Failed);
    });
    fake.network_labels("n").await.expect("first call");
    let err = fake
        .volume_labels("v")
        .await
        .expect_err("failed by the hook");
    assert_eq!(err.to_string(), "volume_labels v: scripted failure");
    assert_eq!(
        *seen.lock().expect("seen"),
        ["network_labels n", "volume_labels v"]
    );
    fake.volume_labels("v").await.expect("a hook runs once");
}

#[tokio::test(start_paused = true)]
async fn a_lost_engine_ends_event_streams_fails_calls_and_replays_what_happened_once_back() {
    let fake = Fake::new();
    fake.add_image("web:1", "sha256:web");
    let since = fake.now_unix();
    fake.create_container("p-web", spec("web:1"))
        .await
        .expect("create");
    fake.start_container("p-web").await.expect("start");
    let mut live = fake.container_events("p", Some(since));
    let start = live.next().await.expect("event").expect("ok");
    assert_eq!(start.action, EventAction::Start);

    fake.lose_engine();
    assert!(live.next().await.is_none(), "the live stream ended");
    let err = fake
        .inspect_container("p-web")
        .await
        .expect_err("unreachable");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    let mut refused = fake.container_events("p", Some(since));
    assert!(matches!(refused.next().await, Some(Err(_))));
    // It dies while nobody can see it.
    fake.exit("p-web", 137, false);

    fake.restore_engine();
    let mut again = fake.container_events("p", Some(since));
    let replayed: Vec<(EventAction, Option<i64>)> = [
        again.next().await.expect("event").expect("ok"),
        again.next().await.expect("event").expect("ok"),
    ]
    .into_iter()
    .map(|e| (e.action, e.exit_code))
    .collect();
    assert_eq!(
        replayed,
        [(EventAction::Start, None), (EventAction::Die, Some(137))]
    );
    assert!(
        fake.inspect_container("p-web")
            .await
            .expect("back")
            .is_some()
    );
}
