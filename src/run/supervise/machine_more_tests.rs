//! The supervisor's machine without an engine, continued: failed restarts, outages, the first look, resync,
//! cancel and readiness.

use std::time::Duration;

use tokio::time::Instant;

use super::Trouble;
use super::io::{Effect, Env, Input, Mark, Timer};
use super::look::Look;
use super::machine::{Phase, Sup};
use super::machine_tests::{M, container, ms, on_failure, running};
use crate::engine::State;

#[test]
fn a_failed_create_is_tried_again_at_the_next_backoff_step() {
    let mut m = M::watching(on_failure());
    m.dies(1, ms(50), 0);
    m.input(Input::OomChecked(false));
    let fx = m.input(Input::Created(Err("port is already allocated".into())));
    assert_eq!(fx, [Effect::Inspect], "who has the name now?");
    let fx = m.input(Input::Inspected(None));
    assert_eq!(
        M::said(&fx),
        ["restart failed: port is already allocated; trying again in 1 s (restart 2)"]
    );
    assert!(fx.contains(&Effect::Mark(Mark::Restarting(
        2,
        m.now + Duration::from_secs(1)
    ))));
    let fx = m.retried(fx, None);
    let fx = m.created_and_started(fx);
    assert_eq!(M::said(&fx), ["restarted (restart 2)"]);
}

/// Before, a failed create was created again at once, under the lock: with the engine away, every try failed at
/// once and the next came at once, a new "restart failed" line and restart number each time, for ever.
#[test]
fn a_create_failed_while_the_engine_is_away_waits_for_it_and_is_said_once() {
    let mut m = M::watching(on_failure());
    m.dies(1, ms(50), 0);
    m.input(Input::OomChecked(false));
    assert_eq!(m.input(Input::EngineLost), []);
    m.input(Input::Created(Err("connection refused".into())));
    let fx = m.input(Input::Inspected(None));
    assert_eq!(M::said(&fx).len(), 1, "{fx:?}");
    assert_eq!(fx.last(), Some(&Effect::Unlock), "nothing tried at once");
    let Some((Timer::StartAt, at)) = m.sup.deadline() else {
        panic!("no timer: {:?}", m.sup.deadline())
    };
    m.now = at;
    assert_eq!(
        m.input(Input::Timer(Timer::StartAt)),
        [],
        "the engine is away"
    );
    assert_eq!(m.sup.deadline(), None, "waits for the engine, not a timer");
    m.later(Duration::from_secs(7));
    assert_eq!(m.input(Input::EngineBack), [Effect::Lock]);
    assert_eq!(
        m.sup.deadline(),
        None,
        "no timer while the lock is waited for"
    );
    assert_eq!(m.input(Input::Locked), [Effect::Inspect]);
    let fx = m.input(Input::Inspected(None));
    assert!(
        matches!(fx.last(), Some(Effect::Recreate { n: 2, .. })),
        "{fx:?}"
    );
}

#[test]
fn a_failed_create_is_not_tried_again_when_another_container_took_the_name() {
    let mut m = M::watching(on_failure());
    m.dies(1, ms(50), 0);
    m.input(Input::OomChecked(false));
    m.input(Input::Created(Err("name in use".into())));
    let fx = m.input(Input::Inspected(running("c")));
    assert_eq!(fx[0], Effect::Unlock);
    assert!(M::said(&fx).is_empty());
    assert_eq!(m.followed(), "c");
}

#[test]
fn a_failed_start_is_tried_again_in_a_new_container() {
    let mut m = M::watching(on_failure());
    m.at_the_start();
    m.input(Input::Inspected(Some(container("b", State::Created, 1))));
    let fx = m.input(Input::StartDone(Err("port taken".into())));
    assert_eq!(
        M::said(&fx),
        ["restart failed: port taken; trying again in 1 s (restart 2)"]
    );
    let fx = m.retried(fx, Some(container("b", State::Created, 1)));
    // The created container that failed to start holds the name: it is the one replaced (replacing the crashed
    // one, gone already, left the create to fail on the name for ever).
    let Some(Effect::Recreate { n: 2, old, .. }) = fx.last() else {
        panic!("a recreate: {fx:?}")
    };
    assert_eq!(old.id, "b");
}

#[test]
fn a_start_cut_short_by_the_engine_going_is_the_same_restart_tried_again_not_a_failed_one() {
    let mut m = M::watching(on_failure());
    m.at_the_start();
    m.input(Input::Inspected(Some(container("b", State::Created, 1))));
    let fx = m.input(Input::StartCut("connection refused".into()));
    assert!(M::said(&fx).is_empty(), "no failed restart said: {fx:?}");
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Mark(_))),
        "the restart count is not moved: {fx:?}"
    );
    // Tried again in a new container, as restart 1 still: the one that failed to start is replaced.
    let fx = m.retried(fx, Some(container("b", State::Created, 1)));
    let Some(Effect::Recreate { n: 1, old, .. }) = fx.last() else {
        panic!("restart 1 again: {fx:?}")
    };
    assert_eq!(old.id, "b");
}

#[test]
fn a_start_cut_short_waits_for_the_engine_once_its_loss_is_known() {
    let mut m = M::watching(on_failure());
    m.at_the_start();
    m.input(Input::Inspected(Some(container("b", State::Created, 1))));
    m.input(Input::StartCut("connection refused".into()));
    assert_eq!(m.input(Input::EngineLost), []);
    let Some((Timer::StartAt, at)) = m.sup.deadline() else {
        panic!("a next try: {:?}", m.sup.deadline())
    };
    m.now = at;
    assert_eq!(m.input(Input::Timer(Timer::StartAt)), [], "not while away");
    assert_eq!(
        m.sup.deadline(),
        None,
        "no timer left: waits for the engine"
    );
    assert_eq!(m.input(Input::EngineBack), [Effect::Lock]);
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(None));
    assert!(
        matches!(fx.last(), Some(Effect::Recreate { n: 1, .. })),
        "{fx:?}"
    );
}

#[test]
fn a_look_before_the_start_that_gets_no_answer_starts_the_same_replacement_later() {
    let mut m = M::watching(on_failure());
    m.at_the_start();
    // The engine went just before the look, and its loss is not known yet. Taken for "no container", this left
    // the created replacement never started: the service stayed down for good.
    let fx = m.input(Input::InspectFailed);
    assert_eq!(fx, [Effect::Unlock]);
    let Some((Timer::StartAt, at)) = m.sup.deadline() else {
        panic!("a next try: {:?}", m.sup.deadline())
    };
    m.now = at;
    assert_eq!(m.input(Input::Timer(Timer::StartAt)), [Effect::Lock]);
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(Some(container("b", State::Created, 1))));
    assert_eq!(
        fx,
        [Effect::Start {
            id: "b".into(),
            n: 1
        }]
    );
}

#[test]
fn a_look_after_a_failed_create_that_gets_no_answer_is_not_a_failed_restart() {
    let mut m = M::watching(on_failure());
    m.dies(1, ms(50), 0);
    m.input(Input::OomChecked(false));
    m.input(Input::Created(Err("connection refused".into())));
    let fx = m.input(Input::InspectFailed);
    assert!(M::said(&fx).is_empty(), "{fx:?}");
    let fx = m.retried(fx, None);
    assert!(
        matches!(fx.last(), Some(Effect::Recreate { n: 1, .. })),
        "restart 1 again: {fx:?}"
    );
}

#[test]
fn a_replacement_removed_during_its_backoff_leaves_it_to_what_is_there() {
    let mut m = M::watching(on_failure());
    m.at_the_start();
    let fx = m.input(Input::Inspected(running("c")));
    assert_eq!(fx[0], Effect::Unlock);
    assert_eq!(m.followed(), "c");
}

#[test]
fn an_engine_lost_during_the_backoff_is_waited_for_and_the_start_comes_when_it_is_back() {
    let mut m = M::watching(on_failure());
    let start_at = m.backing_off();
    assert_eq!(m.input(Input::EngineLost), []);
    m.now = start_at;
    assert_eq!(m.input(Input::Timer(Timer::StartAt)), []);
    assert_eq!(
        m.sup.deadline(),
        None,
        "no timer left: waits for the engine"
    );
    m.later(Duration::from_secs(3));
    assert_eq!(m.input(Input::EngineBack), [Effect::Lock]);
    m.input(Input::Locked);
    let fx = m.input(Input::Inspected(Some(container("b", State::Created, 1))));
    assert_eq!(
        fx,
        [Effect::Start {
            id: "b".into(),
            n: 1
        }]
    );
}

#[test]
fn a_container_found_stopped_after_an_outage_while_none_was_followed_is_dealt_with() {
    let (mut sup, _) = Sup::new();
    let (e, now) = (on_failure(), Instant::now());
    assert_eq!(
        sup.step(
            Input::Looked {
                epoch: 0,
                look: Look::Gone
            },
            &e,
            now
        ),
        []
    );
    assert_eq!(sup.phase, Phase::Idle);
    assert_eq!(sup.deadline().map(|d| d.0), Some(Timer::Resync));
    sup.step(Input::EngineLost, &e, now);
    let epoch = sup.epoch;
    assert_eq!(sup.step(Input::EngineBack, &e, now), [Effect::Look(epoch)]);
    let found = Look::Exited {
        id: "x".into(),
        code: 0,
        oom: false,
    };
    assert_eq!(
        sup.step(Input::Looked { epoch, look: found }, &e, now),
        [Effect::Lock]
    );
    let Phase::Troubled { trouble, .. } = &sup.phase else {
        panic!("{:?}", sup.phase)
    };
    assert_eq!(trouble, &Trouble::DiedWithEngine { code: 0 });
}

#[test]
fn a_container_that_starts_while_none_is_followed_is_looked_at_and_followed() {
    let (mut sup, _) = Sup::new();
    let (e, now) = (on_failure(), Instant::now());
    let gone = Input::Looked {
        epoch: 0,
        look: Look::Unknown,
    };
    sup.step(gone, &e, now);
    let epoch = sup.epoch;
    let fx = sup.step(Input::Started { id: "n".into() }, &e, now);
    assert_eq!(fx, [Effect::Look(epoch)]);
    let found = Input::Looked {
        epoch,
        look: Look::Running("n".into()),
    };
    assert_eq!(sup.step(found, &e, now), [Effect::Probe(Some(epoch + 1))]);
}

#[test]
fn a_container_already_exited_at_the_first_look_is_trouble_at_once() {
    let (mut sup, _) = Sup::new();
    let found = Input::Looked {
        epoch: 0,
        look: Look::Exited {
            id: "a".into(),
            code: 2,
            oom: false,
        },
    };
    assert_eq!(
        sup.step(found, &on_failure(), Instant::now()),
        [Effect::Lock]
    );
}

#[test]
fn a_look_of_a_container_no_longer_followed_is_ignored_and_resync_looks_again() {
    let mut m = M::watching(on_failure());
    let stale = Input::Looked {
        epoch: 0,
        look: Look::Gone,
    };
    assert_eq!(m.input(stale), []);
    assert_eq!(m.followed(), "a");
    let (t, at) = m.sup.deadline().expect("a resync");
    assert_eq!((t, at), (Timer::Resync, m.now + Duration::from_secs(5)));
    m.now = at;
    let epoch = m.sup.epoch;
    assert_eq!(m.input(Input::Timer(Timer::Resync)), [Effect::Look(epoch)]);
    assert_eq!(m.sup.deadline(), None, "one look at a time");
    let same = Input::Looked {
        epoch,
        look: Look::Running("a".into()),
    };
    assert_eq!(m.input(same), []);
    assert_eq!(
        m.sup.deadline(),
        Some((Timer::Resync, m.now + Duration::from_secs(5)))
    );
    let gone = Input::Looked {
        epoch,
        look: Look::Gone,
    };
    assert_eq!(m.input(gone), [Effect::Probe(None)]);
    assert_eq!(m.sup.phase, Phase::Idle);
}

#[test]
fn cancel_ends_at_once_unless_the_lock_is_held_then_once_the_engine_call_completes() {
    let mut m = M::watching(on_failure());
    assert_eq!(m.input(Input::Cancel), [Effect::Exit]);

    let mut m = M::watching(on_failure());
    m.dies(1, ms(50), 0);
    assert!(m.sup.locked);
    assert_eq!(m.input(Input::Cancel), []);
    assert_eq!(
        m.input(Input::OomChecked(false)),
        [Effect::Unlock, Effect::Exit]
    );

    let mut m = M::watching(on_failure());
    m.dies(1, ms(50), 0);
    m.input(Input::OomChecked(false));
    m.input(Input::Cancel);
    let fx = m.input(Input::Created(Ok("b".into())));
    assert_eq!(
        fx,
        [Effect::Unlock, Effect::Exit],
        "the made container stays for the shutdown"
    );
}

#[test]
fn a_restart_with_a_readiness_probe_says_when_it_is_ready() {
    let mut m = M::watching(Env {
        readiness: true,
        ..on_failure()
    });
    m.dies(1, ms(50), 0);
    let fx = m.replaced(false);
    assert_eq!(
        fx,
        [
            Effect::Unlock,
            Effect::Mark(Mark::Starting(m.now)),
            Effect::WaitReady
        ]
    );
    let fx = m.input(Input::ReadyDone(Ok(ms(250))));
    assert_eq!(M::said(&fx), ["restarted (restart 1); ready in 250 ms"]);
    assert!(fx.contains(&Effect::Mark(Mark::Ready)));
    assert_eq!(m.followed(), "b");
}

#[test]
fn a_restart_that_dies_before_it_is_ready_says_so_then_is_restarted_again() {
    let mut m = M::watching(Env {
        readiness: true,
        ..on_failure()
    });
    m.dies(1, ms(50), 0);
    m.replaced(false);
    let died = Input::Died {
        id: "b".into(),
        code: 1,
    };
    assert_eq!(m.input(died), [], "dealt with once the wait is over");
    let fx = m.input(Input::ReadyDone(Err(
        "exited with code 1 while starting".into()
    )));
    assert_eq!(
        M::said(&fx),
        ["restarted (restart 1); exited with code 1 while starting"]
    );
    assert!(!fx.contains(&Effect::Mark(Mark::Ready)));
    assert_eq!(fx.last(), Some(&Effect::Lock));
}

#[test]
fn readiness_changes_are_said_with_the_dependents_that_keep_running() {
    let mut m = M::watching(Env {
        dependents: vec!["pinshare".into()],
        ..on_failure()
    });
    let epoch = m.sup.epoch;
    let fx = m.input(Input::NotReady {
        epoch,
        error: "HTTP 503".into(),
    });
    assert_eq!(M::said(&fx), ["not ready: HTTP 503; pinshare keep running"]);
    assert_eq!(
        M::said(&m.input(Input::ReadyAgain { epoch })),
        ["ready again"]
    );
    assert_eq!(
        m.input(Input::ReadyAgain { epoch: epoch - 1 }),
        [],
        "of an earlier container"
    );
    m.env.dependents.clear();
    let fx = m.input(Input::NotReady {
        epoch,
        error: "HTTP 503".into(),
    });
    assert_eq!(M::said(&fx), ["not ready: HTTP 503"]);
}

#[test]
fn a_death_of_another_container_is_not_the_followed_ones() {
    let mut m = M::watching(on_failure());
    let other = Input::Died {
        id: "old".into(),
        code: 1,
    };
    assert_eq!(m.input(other), []);
    assert_eq!(m.followed(), "a");
}

#[test]
fn once_the_engine_is_back_its_look_reports_a_death_of_the_outage_not_a_replayed_die_event() {
    // A proxy cut replays the outage's events after the engine is back: the look, not the replayed die, says
    // the clean exit was the engine's (as when the supervisor looked inline before reading further events).
    let mut m = M::watching(on_failure());
    m.input(Input::EngineLost);
    m.input(Input::EngineBack);
    let replayed = Input::Died {
        id: "a".into(),
        code: 0,
    };
    assert_eq!(m.input(replayed), [], "the look under way reports it");
    let epoch = m.sup.epoch;
    let found = Look::Exited {
        id: "a".into(),
        code: 0,
        oom: false,
    };
    assert_eq!(
        m.input(Input::Looked { epoch, look: found }),
        [Effect::Probe(None), Effect::Lock]
    );
    let Phase::Troubled { trouble, .. } = &m.sup.phase else {
        panic!("{:?}", m.sup.phase)
    };
    assert_eq!(trouble, &Trouble::DiedWithEngine { code: 0 });

    // Once the look is in, die events count again.
    let mut m = M::watching(on_failure());
    m.input(Input::EngineLost);
    m.input(Input::EngineBack);
    let epoch = m.sup.epoch;
    let same = Input::Looked {
        epoch,
        look: Look::Running("a".into()),
    };
    assert_eq!(m.input(same), []);
    let died = Input::Died {
        id: "a".into(),
        code: 0,
    };
    assert_eq!(m.input(died), [Effect::Probe(None), Effect::Lock]);
}
