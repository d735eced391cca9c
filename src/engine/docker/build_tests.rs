//! The builder decision with scripted engine answers, and BuildKit's progress records as lines.

use std::sync::Mutex;

use bollard::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog, VertexStatus};

use super::super::{EngineError, ErrorKind, R};
use super::build::{self, Attempt, Builders, Missing, Preference, preference, session_id, too_old};
use super::progress::Trace;

/// Answers scripted per builder; records which builder each build asked.
struct Scripted {
    buildkit: fn() -> Result<String, Attempt>,
    calls: Mutex<Vec<&'static str>>,
}

#[async_trait::async_trait]
impl Builders for Scripted {
    async fn buildkit(&self, output: &mut (dyn FnMut(String) + Send)) -> Result<String, Attempt> {
        self.calls.lock().expect("lock").push("buildkit");
        output("#1 [1/1] FROM base".into());
        (self.buildkit)()
    }
    async fn classic(&self, output: &mut (dyn FnMut(String) + Send)) -> R<String> {
        self.calls.lock().expect("lock").push("classic");
        output("Step 1/1 : FROM base".into());
        Ok("sha256:classic".into())
    }
}

fn refused() -> Result<String, Attempt> {
    Err(Attempt::Refused(
        "the engine answered 400: buildkit not supported by daemon".into(),
    ))
}

async fn run(
    pref: Result<Preference, String>,
    missing: &Missing,
    old: Option<String>,
    s: &Scripted,
) -> (R<String>, Vec<String>) {
    let mut lines = Vec::new();
    let r = build::build("building image t", &pref, missing, old, s, &mut |l| {
        lines.push(l);
    })
    .await;
    (r, lines)
}

fn scripted(buildkit: fn() -> Result<String, Attempt>) -> Scripted {
    Scripted {
        buildkit,
        calls: Mutex::new(Vec::new()),
    }
}

#[tokio::test]
async fn an_engine_that_refuses_buildkit_gets_the_classic_build_and_the_output_says_why() {
    let s = scripted(refused);
    let missing = Missing::default();
    let (r, lines) = run(Ok(Preference::Auto), &missing, None, &s).await;
    assert_eq!(r.expect("built"), "sha256:classic");
    assert_eq!(
        lines,
        [
            "#1 [1/1] FROM base",
            "BuildKit unavailable (the engine answered 400: buildkit not supported by daemon); using the classic builder",
            "Step 1/1 : FROM base",
        ]
    );
    // The next build does not ask again, and still says which builder it uses.
    let (r, lines) = run(Ok(Preference::Auto), &missing, None, &s).await;
    assert_eq!(r.expect("built"), "sha256:classic");
    assert_eq!(
        lines[0],
        "BuildKit unavailable (the engine answered 400: buildkit not supported by daemon); using the classic builder"
    );
    assert_eq!(
        *s.calls.lock().expect("lock"),
        ["buildkit", "classic", "classic"]
    );
}

#[tokio::test]
async fn an_engine_with_buildkit_builds_with_it_and_nothing_is_said_about_the_classic_builder() {
    let s = scripted(|| Ok("sha256:bk".into()));
    let (r, lines) = run(Ok(Preference::Auto), &Missing::default(), None, &s).await;
    assert_eq!(r.expect("built"), "sha256:bk");
    assert_eq!(lines, ["#1 [1/1] FROM base"]);
    assert_eq!(*s.calls.lock().expect("lock"), ["buildkit"]);
}

#[tokio::test]
async fn a_failed_step_is_the_build_error_not_a_reason_to_try_the_classic_builder() {
    let s = scripted(|| {
        Err(Attempt::Failed(EngineError::new(
            "building image t",
            ErrorKind::Failed,
            "[2/2] RUN false: exit code: 1",
        )))
    });
    let missing = Missing::default();
    let (r, _) = run(Ok(Preference::Auto), &missing, None, &s).await;
    assert_eq!(
        r.expect_err("fails").message,
        "[2/2] RUN false: exit code: 1"
    );
    assert_eq!(*s.calls.lock().expect("lock"), ["buildkit"]);
    assert_eq!(
        *missing.lock().expect("lock"),
        None,
        "BuildKit is still there"
    );
}

#[tokio::test]
async fn an_engine_too_old_for_buildkit_is_not_asked() {
    let s = scripted(|| Ok("sha256:bk".into()));
    let old = too_old(1, 38);
    let (r, lines) = run(Ok(Preference::Auto), &Missing::default(), old, &s).await;
    assert_eq!(r.expect("built"), "sha256:classic");
    assert_eq!(
        lines[0],
        "BuildKit unavailable (the engine speaks API 1.38; BuildKit needs 1.39 (Engine 18.09)); using the classic builder"
    );
    assert_eq!(*s.calls.lock().expect("lock"), ["classic"]);
    assert_eq!(too_old(1, 41), None, "Engine 20.10");
    assert_eq!(too_old(1, 39), None);
}

#[tokio::test]
async fn the_classic_builder_is_used_when_asked_for_and_says_so() {
    let s = scripted(|| Ok("sha256:bk".into()));
    let (r, lines) = run(Ok(Preference::Classic), &Missing::default(), None, &s).await;
    assert_eq!(r.expect("built"), "sha256:classic");
    assert_eq!(
        lines[0],
        "using the classic builder (PINSHARE_DEV_BUILDER=classic)"
    );
    assert_eq!(*s.calls.lock().expect("lock"), ["classic"]);
}

#[tokio::test]
async fn buildkit_asked_for_on_an_engine_that_refuses_it_is_an_error_that_says_what_to_do() {
    let s = scripted(refused);
    let (r, _) = run(Ok(Preference::BuildKit), &Missing::default(), None, &s).await;
    let e = r.expect_err("no fallback");
    assert_eq!(
        e.message,
        "BuildKit unavailable (the engine answered 400: buildkit not supported by daemon); PINSHARE_DEV_BUILDER=buildkit allows no fallback: unset it to use the classic builder"
    );
    assert_eq!(*s.calls.lock().expect("lock"), ["buildkit"]);
}

#[tokio::test]
async fn a_bad_builder_value_fails_the_build_with_the_values_there_are() {
    let pref = preference(Some("clasic"));
    let s = scripted(|| Ok("sha256:bk".into()));
    let (r, _) = run(pref, &Missing::default(), None, &s).await;
    assert_eq!(
        r.expect_err("bad value").message,
        "PINSHARE_DEV_BUILDER=\"clasic\" is not a builder: use buildkit, classic or auto (unset: auto)"
    );
    assert!(s.calls.lock().expect("lock").is_empty());
    assert_eq!(preference(None), Ok(Preference::Auto));
    assert_eq!(preference(Some("auto")), Ok(Preference::Auto));
    assert_eq!(preference(Some("buildkit")), Ok(Preference::BuildKit));
    assert_eq!(preference(Some(" classic ")), Ok(Preference::Classic));
}

fn vertex(digest: &str, name: &str) -> Vertex {
    Vertex {
        digest: digest.into(),
        name: name.into(),
        ..Vertex::default()
    }
}

/// `v` started at 10 s and completed `ms` later.
fn completed(mut v: Vertex, ms: i32) -> Vertex {
    let mut start = v.started.take().unwrap_or_default();
    start.seconds = 10;
    let mut end = start;
    end.seconds = 10 + i64::from(ms / 1000);
    end.nanos = (ms % 1000) * 1_000_000;
    v.started = Some(start);
    v.completed = Some(end);
    v
}

fn log(digest: &str, text: &str) -> VertexLog {
    VertexLog {
        vertex: digest.into(),
        msg: text.as_bytes().to_vec(),
        ..VertexLog::default()
    }
}

#[test]
fn progress_records_become_numbered_plain_lines_each_printed_once() {
    let mut t = Trace::default();
    let ctx = vertex("sha256:a", "[internal] load remote build context");
    let run = vertex("sha256:b", "[2/3] RUN go build");
    let first = StatusResponse {
        vertexes: vec![ctx.clone(), run.clone()],
        ..StatusResponse::default()
    };
    assert_eq!(
        t.lines(&first),
        [
            "#1 [internal] load remote build context",
            "#2 [2/3] RUN go build"
        ]
    );
    assert!(t.started());
    // The same vertices again, one now cached, the other with log text cut mid-line.
    let second = StatusResponse {
        vertexes: vec![
            Vertex {
                cached: true,
                ..ctx.clone()
            },
            run.clone(),
        ],
        logs: vec![
            log("sha256:b", "compiling main\nlinking"),
            log("sha256:b", " pinshare\n"),
        ],
        statuses: vec![VertexStatus {
            id: "transferring context:".into(),
            vertex: "sha256:a".into(),
            current: 2300,
            completed: Some(Default::default()),
            ..VertexStatus::default()
        }],
        ..StatusResponse::default()
    };
    assert_eq!(
        t.lines(&second),
        [
            "#1 transferring context: 2.30kB done",
            "#2 compiling main",
            "#2 linking pinshare",
            "#1 CACHED",
        ]
    );
    let third = StatusResponse {
        vertexes: vec![completed(run.clone(), 1234), ctx],
        logs: vec![
            log("sha256:b", "no newline at the end"),
            log("sha256:a", "still open"),
        ],
        ..StatusResponse::default()
    };
    // A step's unfinished line is printed before its end; the build's end prints what is left.
    assert_eq!(
        t.lines(&third),
        ["#2 no newline at the end", "#2 DONE 1.2s"]
    );
    assert_eq!(t.finish(), ["#1 still open"]);
    // Sent again: nothing new.
    assert!(t.lines(&third).is_empty());
    assert_eq!(t.failure(), None);
}

#[test]
fn the_first_real_step_error_is_the_build_error_not_the_steps_it_cancelled() {
    let mut t = Trace::default();
    let failed = StatusResponse {
        vertexes: vec![
            Vertex {
                error: "context canceled".into(),
                ..vertex("sha256:c", "[kubo 1/1] FROM ipfs/kubo")
            },
            Vertex {
                error:
                    "process \"/bin/sh -c go build\" did not complete successfully: exit code: 1"
                        .into(),
                ..vertex("sha256:d", "[build 4/4] RUN go build")
            },
        ],
        logs: vec![log("sha256:d", "main.go:3:1: syntax error\n")],
        ..StatusResponse::default()
    };
    let lines = t.lines(&failed);
    assert_eq!(
        lines,
        [
            "#1 [kubo 1/1] FROM ipfs/kubo",
            "#2 [build 4/4] RUN go build",
            "#2 main.go:3:1: syntax error",
            "#1 ERROR: context canceled",
            "#2 ERROR: process \"/bin/sh -c go build\" did not complete successfully: exit code: 1",
        ]
    );
    assert_eq!(
        t.failure().as_deref(),
        Some(
            "[build 4/4] RUN go build: process \"/bin/sh -c go build\" did not complete successfully: exit code: 1"
        )
    );
}

#[test]
fn session_ids_differ_between_builds_of_one_tag_and_name_the_process() {
    let ids: std::collections::BTreeSet<String> =
        (0..1000).map(|_| session_id("demo/app:dev")).collect();
    assert_eq!(ids.len(), 1000, "two builds shared a session id");
    let prefix = format!("pinshare-dev-{}-", std::process::id());
    for id in &ids {
        assert!(id.starts_with(&prefix), "{id}");
        assert!(id.ends_with("-demo-app-dev"), "{id}");
    }
}
