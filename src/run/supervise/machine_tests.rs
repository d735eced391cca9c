//! The supervisor's machine without an engine: each branch of its behaviour as inputs in, effects out, in
//! virtual time (plain `Instant`s a test moves forward by hand).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::io::{Effect, Env, Input, Mark, Timer};
use super::look::Look;
use super::machine::{Phase, Sup};
use crate::engine::{Container, State};
use crate::labels;
use crate::spec::{Backoff, RestartPolicy};

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn env(restart: RestartPolicy) -> Env {
    Env {
        restart,
        backoff: Backoff {
            first: ms(100),
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
            reset_after: Duration::from_secs(60),
        },
        held: false,
        readiness: false,
        dependents: Vec::new(),
    }
}

pub(super) fn on_failure() -> Env {
    env(RestartPolicy::OnFailure)
}

pub(super) fn container(id: &str, state: State, restarts: u32) -> Box<Container> {
    Box::new(Container {
        id: id.to_string(),
        name: "p-web".to_string(),
        image: "sha256:web".to_string(),
        labels: HashMap::from([(labels::RESTARTS.to_string(), restarts.to_string())]),
        state,
        started_at: None,
        finished_at: None,
        restart_count: 0,
        networks: HashMap::new(),
        ports: Vec::new(),
    })
}

pub(super) fn exited(id: &str, code: i64, restarts: u32) -> Option<Box<Container>> {
    Some(container(id, State::Exited { code, oom: false }, restarts))
}

pub(super) fn running(id: &str) -> Option<Box<Container>> {
    Some(container(id, State::Running, 0))
}

/// A machine and its clock.
pub(super) struct M {
    pub(super) sup: Sup,
    pub(super) env: Env,
    pub(super) now: Instant,
}

impl M {
    /// Following container `a`, which started at the machine's time zero.
    pub(super) fn watching(env: Env) -> M {
        let (sup, first) = Sup::new();
        assert_eq!(first, [Effect::Look(0)]);
        let mut m = M {
            sup,
            env,
            now: Instant::now(),
        };
        let fx = m.input(Input::Looked {
            epoch: 0,
            look: Look::Running("a".into()),
        });
        assert_eq!(fx, [Effect::Probe(Some(1))]);
        m
    }

    pub(super) fn input(&mut self, input: Input) -> Vec<Effect> {
        self.sup.step(input, &self.env, self.now)
    }

    pub(super) fn later(&mut self, d: Duration) -> &mut Self {
        self.now += d;
        self
    }

    pub(super) fn said(fx: &[Effect]) -> Vec<String> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Say(s) => Some(s.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Dies with `code` after `ran`, and is found exited (with `restarts` before) under the lock: the effects of
    /// the look under the lock.
    pub(super) fn dies(&mut self, code: i64, ran: Duration, restarts: u32) -> Vec<Effect> {
        self.later(ran);
        let id = self.followed();
        let fx = self.input(Input::Died {
            id: id.clone(),
            code,
        });
        assert_eq!(fx, [Effect::Probe(None), Effect::Lock]);
        assert_eq!(self.input(Input::Locked), [Effect::Inspect]);
        self.input(Input::Inspected(exited(&id, code, restarts)))
    }

    /// Exits with code 1 after 50 ms under `on-failure`, not OOM-killed, and its replacement `b` is created: the
    /// time the replacement is to start.
    pub(super) fn backing_off(&mut self) -> Instant {
        self.dies(1, ms(50), 0);
        let fx = self.input(Input::OomChecked(false));
        let Some(Effect::Recreate { start_at, .. }) = fx.last().cloned() else {
            panic!("a recreate: {fx:?}")
        };
        self.input(Input::Created(Ok("b".into())));
        start_at
    }

    /// Backs off and, at the start time, holds the lock for the start: the look under it comes next.
    pub(super) fn at_the_start(&mut self) {
        let start_at = self.backing_off();
        self.now = start_at;
        self.input(Input::Timer(Timer::StartAt));
        self.input(Input::Locked);
    }

    pub(super) fn followed(&self) -> String {
        match &self.sup.phase {
            Phase::Watching { id, .. } => id.clone(),
            other => panic!("not watching: {other:?}"),
        }
    }

    /// After the OOM check, the replacement `b` is created, waits out its backoff and starts: the effects of
    /// its start.
    pub(super) fn replaced(&mut self, oom: bool) -> Vec<Effect> {
        let fx = self.input(Input::OomChecked(oom));
        assert!(matches!(fx.last(), Some(Effect::Recreate { .. })), "{fx:?}");
        self.created_and_started(fx)
    }

    /// After a failed create or start (`fx`): the lock let go, nothing tried until the backoff's next step;
    /// then, under the lock, `found` holds the name and the replacement is created. The create's effects.
    pub(super) fn retried(
        &mut self,
        fx: Vec<Effect>,
        found: Option<Box<Container>>,
    ) -> Vec<Effect> {
        assert_eq!(fx.last(), Some(&Effect::Unlock), "let go: {fx:?}");
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::Recreate { .. })),
            "{fx:?}"
        );
        let Some((Timer::StartAt, at)) = self.sup.deadline() else {
            panic!("no timer for the next try: {:?}", self.sup.deadline())
        };
        assert!(at > self.now, "the next try waits");
        self.now = at;
        assert_eq!(self.input(Input::Timer(Timer::StartAt)), [Effect::Lock]);
        assert_eq!(
            self.sup.deadline(),
            None,
            "no timer while the lock is waited for"
        );
        assert_eq!(self.input(Input::Locked), [Effect::Inspect]);
        self.input(Input::Inspected(found))
    }

    pub(super) fn created_and_started(&mut self, fx: Vec<Effect>) -> Vec<Effect> {
        let Some(Effect::Recreate { n, start_at, .. }) = fx.last().cloned() else {
            panic!("no recreate: {fx:?}");
        };
        assert_eq!(self.input(Input::Created(Ok("b".into()))), [Effect::Unlock]);
        assert_eq!(self.sup.deadline(), Some((Timer::StartAt, start_at)));
        self.now = start_at;
        assert_eq!(self.input(Input::Timer(Timer::StartAt)), [Effect::Lock]);
        assert_eq!(self.input(Input::Locked), [Effect::Inspect]);
        let created = Some(container("b", State::Created, n));
        let start = Effect::Start { id: "b".into(), n };
        assert_eq!(self.input(Input::Inspected(created)), [start]);
        self.input(Input::StartDone(Ok(())))
    }
}

#[test]
fn a_crash_is_restarted_after_the_first_delay_in_a_fresh_container_that_is_then_followed() {
    let mut m = M::watching(on_failure());
    let at = m.now + ms(50);
    let fx = m.dies(1, ms(50), 0);
    let deadline = Some(at + ms(100));
    assert_eq!(
        fx,
        [Effect::CheckOom {
            id: "a".into(),
            code: 1,
            deadline
        }]
    );
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 1; restarting in 100 ms (restart 1)"]
    );
    assert!(fx.contains(&Effect::Mark(Mark::Restarting(1, at + ms(100)))));
    let fx = m.created_and_started(fx);
    assert_eq!(fx[0], Effect::Unlock);
    assert_eq!(M::said(&fx), ["restarted (restart 1)"]);
    assert!(fx.contains(&Effect::Mark(Mark::Ready)));
    assert!(matches!(fx.last(), Some(Effect::Probe(Some(_)))));
    assert_eq!(m.followed(), "b");
    assert!(!m.sup.locked);
}

#[test]
fn restarts_within_reset_after_back_off_to_the_cap_and_a_calm_run_starts_the_count_over() {
    let mut m = M::watching(on_failure());
    m.dies(1, Duration::from_secs(5), 4);
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 1; restarting in 8 s (restart 5)"]
    );

    let mut m = M::watching(on_failure());
    m.dies(1, Duration::from_secs(61), 4);
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 1; restarting in 100 ms (restart 1)"]
    );
}

#[test]
fn the_time_waiting_for_the_lock_does_not_count_as_calm() {
    // Died after 50 s; the lock (a long build) came 20 s later: it ran 50 s, not 70 s, so the count goes on.
    let mut m = M::watching(on_failure());
    m.later(Duration::from_secs(50));
    m.input(Input::Died {
        id: "a".into(),
        code: 1,
    });
    m.later(Duration::from_secs(20));
    m.input(Input::Locked);
    m.input(Input::Inspected(exited("a", 1, 2)));
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 1; restarting in 2 s (restart 3)"]
    );
}

#[test]
fn policy_no_keeps_it_stopped_says_why_and_leaves_it_settled() {
    let mut m = M::watching(env(RestartPolicy::No));
    let fx = m.dies(137, ms(50), 0);
    let check = Effect::CheckOom {
        id: "a".into(),
        code: 137,
        deadline: None,
    };
    assert_eq!(fx, [check], "no restart: the check need not hurry");
    let fx = m.input(Input::OomChecked(true));
    assert_eq!(
        M::said(&fx),
        ["exited with code 137 (OOM-killed); not restarted (restart = \"no\")"]
    );
    let reason = "exited with code 137 (OOM-killed)".to_string();
    assert!(fx.contains(&Effect::Mark(Mark::Failed(reason))));
    assert!(fx.contains(&Effect::Unlock));
    assert_eq!(m.sup.phase, Phase::Idle);
    // A later look finds it as it was left: nothing more is said or done.
    let epoch = m.sup.epoch;
    let found = Look::Exited {
        id: "a".into(),
        code: 137,
        oom: true,
    };
    let fx = m.input(Input::Looked { epoch, look: found });
    assert_eq!(fx, []);
    assert_eq!(m.sup.phase, Phase::Idle);
}

#[test]
fn on_failure_keeps_a_clean_exit_and_always_restarts_it() {
    let mut m = M::watching(on_failure());
    m.dies(0, ms(50), 0);
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 0; not restarted (restart = \"on-failure\")"]
    );

    let mut m = M::watching(env(RestartPolicy::Always));
    m.dies(0, ms(50), 0);
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 0; restarting in 100 ms (restart 1)"]
    );
}

#[test]
fn an_oom_kill_is_restarted_and_said_so() {
    let mut m = M::watching(on_failure());
    m.dies(137, ms(50), 0);
    let fx = m.replaced(true);
    assert_eq!(M::said(&fx), ["restarted (restart 1)"]);
}

#[test]
fn a_service_that_died_with_the_engine_is_restored_at_once_without_backoff() {
    let mut m = M::watching(on_failure());
    assert_eq!(m.input(Input::EngineLost), [Effect::Probe(None)]);
    assert_eq!(m.sup.deadline().map(|d| d.0), Some(Timer::Resync));
    m.later(Duration::from_secs(5));
    let fx = m.input(Input::EngineBack);
    let epoch = m.sup.epoch;
    assert_eq!(fx, [Effect::Probe(Some(epoch)), Effect::Look(epoch)]);
    let found = Look::Exited {
        id: "a".into(),
        code: 0,
        oom: false,
    };
    assert_eq!(
        m.input(Input::Looked { epoch, look: found }),
        [Effect::Probe(None), Effect::Lock]
    );
    m.input(Input::Locked);
    let at = m.now;
    let fx = m.input(Input::Inspected(exited("a", 0, 2)));
    assert_eq!(
        M::said(&fx),
        ["stopped with the engine (exit code 0); restoring it"]
    );
    let Some(Effect::Recreate { n, start_at, .. }) = fx.last().cloned() else {
        panic!("{fx:?}")
    };
    assert_eq!((n, start_at), (2, at), "same count, no delay");
    let fx = m.created_and_started(fx);
    assert_eq!(M::said(&fx), ["restored after the engine came back"]);
}

#[test]
fn a_failure_found_after_an_outage_is_the_services_and_backs_off() {
    let mut m = M::watching(on_failure());
    m.input(Input::EngineLost);
    m.input(Input::EngineBack);
    let epoch = m.sup.epoch;
    let found = Look::Exited {
        id: "a".into(),
        code: 137,
        oom: false,
    };
    m.input(Input::Looked { epoch, look: found });
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(exited("a", 137, 0)));
    assert!(matches!(fx[..], [Effect::CheckOom { .. }]), "{fx:?}");
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(
        M::said(&fx),
        ["exited with code 137; restarting in 100 ms (restart 1)"]
    );
}

#[test]
fn policy_no_keeps_what_died_with_the_engine_too() {
    let mut m = M::watching(env(RestartPolicy::No));
    m.input(Input::EngineLost);
    m.input(Input::EngineBack);
    let epoch = m.sup.epoch;
    let found = Look::Exited {
        id: "a".into(),
        code: 0,
        oom: false,
    };
    m.input(Input::Looked { epoch, look: found });
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(exited("a", 0, 0)));
    assert_eq!(
        M::said(&fx),
        ["stopped with the engine (exit code 0); not restarted (restart = \"no\")"]
    );
}

#[test]
fn a_failed_liveness_probe_restarts_it_and_a_stale_probe_is_ignored() {
    let mut m = M::watching(on_failure());
    let stale = Input::Unhealthy {
        epoch: 0,
        failures: 3,
        last: "HTTP 503".into(),
    };
    assert_eq!(m.input(stale), []);
    m.later(Duration::from_secs(70));
    let epoch = m.sup.epoch;
    let fx = m.input(Input::Unhealthy {
        epoch,
        failures: 3,
        last: "HTTP 503".into(),
    });
    assert_eq!(fx, [Effect::Probe(None), Effect::Lock]);
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(running("a")));
    assert_eq!(
        M::said(&fx),
        ["liveness failed 3 times in a row (last: HTTP 503); restarting in 100 ms (restart 1)"],
        "ran longer than reset_after: the first delay, and no OOM check for a probe"
    );
}

#[test]
fn a_container_replaced_by_someone_else_is_followed_instead() {
    // Seen by its start event and a look by name.
    let mut m = M::watching(on_failure());
    let epoch = m.sup.epoch;
    assert_eq!(
        m.input(Input::Started { id: "c".into() }),
        [Effect::Look(epoch)]
    );
    assert_eq!(
        m.input(Input::Started { id: "a".into() }),
        [],
        "its own start"
    );
    let fx = m.input(Input::Looked {
        epoch,
        look: Look::Running("c".into()),
    });
    assert_eq!(fx, [Effect::Probe(Some(epoch + 1))]);
    assert_eq!(m.followed(), "c");

    // Found under the lock after its death: nothing said, the new one followed.
    let mut m = M::watching(on_failure());
    m.input(Input::Died {
        id: "a".into(),
        code: 1,
    });
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(running("c")));
    assert_eq!(fx[0], Effect::Unlock);
    assert!(M::said(&fx).is_empty());
    assert_eq!(m.followed(), "c");
}

#[test]
fn a_replacement_that_already_exited_is_the_services_trouble_now() {
    let mut m = M::watching(on_failure());
    m.input(Input::Died {
        id: "a".into(),
        code: 1,
    });
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(exited("c", 3, 0)));
    assert_eq!(fx, [Effect::Unlock, Effect::Lock]);
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(exited("c", 3, 0)));
    let check = Effect::CheckOom {
        id: "c".into(),
        code: 3,
        deadline: Some(m.now + ms(100)),
    };
    assert_eq!(fx, [check]);
}

#[test]
fn a_container_restarted_in_place_by_a_live_update_is_not_a_crash() {
    let mut m = M::watching(on_failure());
    m.input(Input::Died {
        id: "a".into(),
        code: 137,
    });
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(running("a")));
    assert_eq!(fx[0], Effect::Unlock);
    assert!(M::said(&fx).is_empty(), "{fx:?}");
    assert_eq!(m.followed(), "a");
}

#[test]
fn a_service_held_by_stop_stays_stopped_and_nothing_is_said() {
    let mut m = M::watching(on_failure());
    m.env.held = true;
    m.dies(137, ms(50), 0);
    let fx = m.input(Input::OomChecked(false));
    assert_eq!(fx, [Effect::Mark(Mark::Held), Effect::Unlock]);
    assert_eq!(m.sup.phase, Phase::Idle);
}
