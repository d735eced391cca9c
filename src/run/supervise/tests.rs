//! The supervisor's pure parts (backoff schedule, crash-loop state, restart labels) and its restarts on the
//! fake engine, in virtual time.

use super::*;

fn b() -> Backoff {
    Backoff {
        first: Duration::from_millis(100),
        base: Duration::from_secs(1),
        max: Duration::from_secs(8),
        reset_after: Duration::from_secs(60),
    }
}

#[test]
fn backoff_retries_quickly_once_then_doubles_to_the_cap() {
    let delays: Vec<u128> = (1..=7).map(|n| b().delay(n).as_millis()).collect();
    assert_eq!(delays, [100, 1000, 2000, 4000, 8000, 8000, 8000]);
    assert_eq!(
        Backoff::default().delay(40),
        Duration::from_secs(30),
        "no overflow"
    );
}

#[test]
fn a_stable_run_starts_the_count_over() {
    assert_eq!(
        next_restart(4, Duration::from_secs(5), &b()),
        (5, Duration::from_secs(8))
    );
    assert_eq!(
        next_restart(4, Duration::from_secs(61), &b()),
        (1, Duration::from_millis(100))
    );
    assert_eq!(
        next_restart(0, Duration::ZERO, &b()),
        (1, Duration::from_millis(100))
    );
}

#[test]
fn ps_shows_a_backing_off_container_as_a_crash_loop() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000);
    let l = HashMap::from([
        (labels::RESTARTS.to_string(), "5".to_string()),
        (labels::NEXT_START.to_string(), "1007500".to_string()),
    ]);
    assert_eq!(
        crash_loop_state(State::Created, &l, now).as_deref(),
        Some("crash-loop (next try in 8 s, 5 restarts)")
    );
    assert_eq!(crash_loop_state(State::Running, &l, now), None);
    assert_eq!(crash_loop_state(State::Created, &HashMap::new(), now), None);
}

#[test]
fn delays_read_like_people_write_them() {
    let t = |ms| delay_text(Duration::from_millis(ms));
    assert_eq!(
        [t(100), t(1000), t(1600), t(30_000)],
        ["100 ms", "1 s", "1.6 s", "30 s"]
    );
}

#[test]
fn troubles_read_like_the_log_markers() {
    assert_eq!(
        Trouble::Exited {
            code: 137,
            oom: true
        }
        .to_string(),
        "exited with code 137 (OOM-killed)"
    );
    assert_eq!(
        Trouble::Unhealthy {
            failures: 3,
            last: "HTTP 503".into()
        }
        .to_string(),
        "liveness failed 3 times in a row (last: HTTP 503)"
    );
}

mod on_the_fake {
    use super::*;
    use crate::engine::fake::{Behaviour, Fake};
    use crate::output::printer::Printer;

    fn spec(restart: &str) -> Arc<Spec> {
        spec_with(restart, "")
    }

    fn spec_with(restart: &str, more: &str) -> Arc<Spec> {
        let text = format!(
            r#"
[project]
name = "p"

[services.web]
image = "web:1"
restart = "{restart}"
backoff = {{ first = "100ms", base = "1s", max = "4s", reset_after = "60s" }}
{more}
"#
        );
        Arc::new(crate::spec::parse(std::path::Path::new("pinshare.toml"), &text).expect("valid"))
    }

    /// Creates and starts `p-web` as `up` does, then supervises it until `starts` starts were made (or
    /// ten virtual minutes passed); returns the virtual times of every start.
    async fn supervise(fake: &Fake, spec: Arc<Spec>, starts: usize) -> Vec<Duration> {
        fake.add_image("web:1", "sha256:web");
        let svc = &spec.services["web"];
        fake.create_container(
            "p-web",
            crate::container::container_body(&spec, svc, "h1", None),
        )
        .await
        .expect("create");
        fake.start_container("p-web").await.expect("start");
        let sup = Supervisor {
            engine: Arc::new(fake.clone()),
            spec: Arc::new(std::sync::RwLock::new(Arc::clone(&spec))),
            printer: Printer::quiet(["web"]),
            lock: Arc::new(Mutex::new(())),
            state: Default::default(),
        };
        let task = tokio::spawn(sup.run("web".into(), tokio_util::sync::CancellationToken::new()));
        let start_times = || -> Vec<Instant> {
            fake.calls()
                .into_iter()
                .filter(|c| c.op == "start_container")
                .map(|c| c.at)
                .collect()
        };
        let _ = tokio::time::timeout(Duration::from_secs(600), async {
            while start_times().len() < starts {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        task.abort();
        let times = start_times();
        times.iter().map(|t| t.duration_since(times[0])).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_loop_restarts_after_the_backoff_schedule_and_a_calm_run_starts_it_over() {
        let fake = Fake::new();
        let crash = Behaviour::Exit(Duration::from_millis(50), 1);
        fake.behave(
            "p-web",
            &[
                crash,
                crash,
                crash,
                crash,
                Behaviour::Exit(Duration::from_secs(61), 1),
                Behaviour::Run,
            ],
        );
        let starts = supervise(&fake, spec("on-failure"), 6).await;
        // Each run lasts 50 ms, then the delay: 100 ms, 1 s, 2 s, 4 s (the cap); after a 61 s run the count
        // starts over at 100 ms.
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 150, 1_200, 3_250, 7_300, 68_400]);
        let last = fake.container("p-web").expect("the last container");
        assert!(last.is_running());
        assert_eq!(last.label(labels::RESTARTS), Some("1"));
        let creates = fake
            .calls()
            .iter()
            .filter(|c| c.op == "create_container")
            .count();
        assert_eq!(
            creates, 6,
            "a fresh container for every restart, like a kubelet's"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_announced_delay_counts_from_the_exit_and_the_replacement_happens_within_it() {
        // The removal and the create of the replacement take 400 ms each on this engine. They happen inside
        // the announced delay, not before it: restart 2 ("in 1 s") starts 1 s after its exit, not 1.8 s.
        let fake = Fake::new();
        fake.latency("remove_container", Duration::from_millis(400));
        fake.latency("create_container", Duration::from_millis(400));
        let crash = Behaviour::Exit(Duration::from_millis(50), 1);
        fake.behave("p-web", &[crash, crash, crash, Behaviour::Run]);
        let starts = supervise(&fake, spec("on-failure"), 4).await;
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        // Each run lasts 50 ms. Restart 1 ("in 100 ms") cannot be sooner than the 800 ms the swap takes;
        // restarts 2 and 3 wait exactly their 1 s and 2 s from the exit.
        let after_exit: Vec<u128> = ms.windows(2).map(|w| w[1] - w[0] - 50).collect();
        assert_eq!(after_exit, [800, 1_000, 2_000], "starts at {ms:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn liveness_restarts_after_threshold_failures_in_a_row_and_a_pass_resets_the_count() {
        let fake = Fake::new();
        // Probed every 10 s: pass, fail, fail, pass (the count starts over), fail, fail, fail.
        fake.exec_results(
            "p-web",
            &[
                (0, ""),
                (1, "x"),
                (1, "x"),
                (0, ""),
                (1, "x"),
                (1, "x"),
                (1, "503"),
            ],
        );
        let liveness = r#"liveness = { exec = ["alive"], period = "10s", failure_threshold = 3, start_grace = "0s" }"#;
        let starts = supervise(&fake, spec_with("on-failure", liveness), 2).await;
        // Unhealthy at the seventh probe (70 s); it ran longer than reset_after, so the first delay.
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 70_100]);
        let execs = fake.calls().iter().filter(|c| c.op == "exec").count();
        assert_eq!(execs, 7, "{:#?}", fake.call_lines());
    }

    #[tokio::test(start_paused = true)]
    async fn a_clean_exit_is_not_restarted_on_failure_only() {
        let fake = Fake::new();
        fake.behave("p-web", &[Behaviour::Exit(Duration::from_millis(50), 0)]);
        let starts = supervise(&fake, spec("on-failure"), 2).await;
        assert_eq!(starts.len(), 1, "{:#?}", fake.call_lines());
        assert_eq!(
            fake.container("p-web").map(|c| c.state),
            Some(State::Exited {
                code: 0,
                oom: false
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_oom_kill_is_restarted_and_the_first_delay_is_kept() {
        let fake = Fake::new();
        fake.behave(
            "p-web",
            &[Behaviour::Oom(Duration::from_millis(50)), Behaviour::Run],
        );
        let starts = supervise(&fake, spec("on-failure"), 2).await;
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 150]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_replacement_that_died_before_the_supervisor_could_look_is_restarted() {
        // A spec reload replaces the container under the lock, and the new one exits at once (a bad edit),
        // before the reload lets go: the supervisor, which saw only the old one stop, finds the new one exited
        // when it gets the lock, and restarts it as it restarts any crash.
        let fake = Fake::new();
        fake.add_image("web:1", "sha256:web");
        fake.behave(
            "p-web",
            &[
                Behaviour::Run,
                Behaviour::Exit(Duration::from_millis(50), 3),
                Behaviour::Run,
            ],
        );
        let spec = spec("on-failure");
        let svc = &spec.services["web"];
        let body = |hash| crate::container::container_body(&spec, svc, hash, None);
        fake.create_container("p-web", body("h1"))
            .await
            .expect("create");
        fake.start_container("p-web").await.expect("start");
        let lock = Arc::new(Mutex::new(()));
        let sup = Supervisor {
            engine: Arc::new(fake.clone()),
            spec: Arc::new(std::sync::RwLock::new(Arc::clone(&spec))),
            printer: Printer::quiet(["web"]),
            lock: Arc::clone(&lock),
            state: Default::default(),
        };
        let task = tokio::spawn(sup.run("web".into(), tokio_util::sync::CancellationToken::new()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        {
            let _reload = lock.lock().await;
            fake.stop_container("p-web", Duration::ZERO)
                .await
                .expect("stop");
            fake.remove_container("p-web").await.expect("remove");
            fake.create_container("p-web", body("h2"))
                .await
                .expect("create");
            fake.start_container("p-web").await.expect("start");
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(!fake.container("p-web").expect("new").is_running());
        }
        let starts = || {
            fake.calls()
                .iter()
                .filter(|c| c.op == "start_container")
                .count()
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), async {
            while starts() < 3 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        task.abort();
        assert_eq!(starts(), 3, "{:#?}", fake.call_lines());
        let last = fake.container("p-web").expect("the restarted container");
        assert!(last.is_running());
        assert_eq!(last.label(labels::RESTARTS), Some("1"));
    }
}
