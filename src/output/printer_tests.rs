//! The printer: prefixes, colours, whole lines, a flood held back, a stuck stdout given up on.
use super::*;

#[test]
fn prefixes_are_padded_to_a_fixed_width() {
    assert_eq!(
        format_line("ipfs", 8, LOG_SEP, "Daemon is ready", None),
        "ipfs     | Daemon is ready"
    );
    assert_eq!(
        format_line("pinshare", 8, LOG_SEP, "GET /health 200", None),
        "pinshare | GET /health 200"
    );
    assert_eq!(
        format_line("ipfs", 8, EVENT_SEP, "ready in 80 ms", None),
        "ipfs     » ready in 80 ms"
    );
}

#[test]
fn a_coloured_prefix_keeps_the_text_after_it() {
    let s = format_line("ipfs", 4, LOG_SEP, "x", Some(Color::Red));
    assert!(s.contains("\u{1b}["), "{s:?}");
    assert!(s.ends_with(" x"));
}

fn open(gate: &Gate, to: bool) {
    let (o, cv) = &**gate;
    *o.lock().expect("gate") = to;
    cv.notify_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_waits_for_room_and_tool_events_go_ahead_of_it() {
    let gate = Gate::default();
    let (p, lines) = Printer::gated(["app"], Arc::clone(&gate));
    let sent = Arc::new(AtomicU64::new(0));
    let flood = {
        let (p, sent) = (p.clone(), Arc::clone(&sent));
        tokio::spawn(async move {
            let long = "x".repeat(1000);
            for i in 0..5000 {
                p.log("app", &format!("{i} {long}")).await;
                sent.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let queued = sent.load(Ordering::SeqCst);
    // The queue (1,024) plus what the gatherer and the writer hold (three pieces of 64 KiB).
    assert!(
        (1024..1400).contains(&queued),
        "a blocked stdout holds the flood back: {queued} lines taken"
    );
    assert!(!flood.is_finished());
    p.event("app", "ready in 5 ms");
    open(&gate, true);
    flood.await.expect("the flood ends once stdout moves");
    p.flush().await;
    let lines = lines.lock().expect("lines").clone();
    let ready = lines
        .iter()
        .position(|l| l.contains("ready in 5 ms"))
        .expect("ready printed");
    let last = lines
        .iter()
        .position(|l| l.starts_with("app  | 4999 "))
        .expect("the last line");
    assert!(
        ready < last,
        "the event went ahead of the queued flood ({ready} vs {last})"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("app  | ")).count(),
        5000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_that_never_moves_is_given_up_once_shutting_down() {
    let gate = Gate::default();
    let (p, _lines) = Printer::gated(["app"], Arc::clone(&gate));
    let flood = {
        let p = p.clone();
        tokio::spawn(async move {
            for i in 0..100_000 {
                p.log("app", &format!("line {i}")).await;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!flood.is_finished(), "held back by the blocked stdout");
    p.give_up_if_stuck(std::time::Duration::from_millis(300));
    tokio::time::timeout(std::time::Duration::from_secs(5), flood)
        .await
        .expect("given up on, the writers are let go")
        .expect("joined");
    tokio::time::timeout(std::time::Duration::from_secs(5), p.flush())
        .await
        .expect("a flush returns too");
    open(&gate, true);
}

#[tokio::test]
async fn lines_and_events_are_copied_while_someone_listens() {
    let (p, _printed) = Printer::capturing(["app"]);
    p.log("app", "before anyone listens").await;
    let mut rx = p.tap();
    p.log("app", "one").await;
    p.log_batch("app", false, &["two".into(), "three".into()])
        .await;
    p.log_batch("app", true, &["warned".into()]).await;
    p.output("app", true, "history warned").await;
    p.event("app", "ready");
    let got: Vec<Tapped> = (0..5).map(|_| rx.try_recv().expect("a piece")).collect();
    let piece = |source, lines: &[&str]| Tapped {
        name: "app".into(),
        source,
        lines: lines.iter().map(|l| (*l).to_string()).collect(),
        event: None,
    };
    assert_eq!(
        got,
        [
            piece(Source::Stdout, &["one"]),
            piece(Source::Stdout, &["two", "three"]),
            piece(Source::Stderr, &["warned"]),
            piece(Source::Stderr, &["history warned"]),
            piece(Source::Event, &["ready"])
        ]
    );
    assert!(rx.try_recv().is_err(), "nothing from before the tap");
}

/// A dev-loop event is printed as its line and handed to the tap's readers as the value it is; one whose line
/// held a secret is handed on as its redacted line only.
#[tokio::test]
async fn an_event_said_is_printed_as_its_line_and_tapped_as_itself_unless_it_held_a_secret() {
    use crate::output::event::{Build, Event};
    let (p, printed) = Printer::capturing(["app"]);
    p.set_secrets(&["s3cr3t-value"]);
    let mut rx = p.tap();
    let seven = std::time::Duration::from_millis(7);
    p.say("app", Build::ImageUnchanged(seven));
    p.say("app", Build::Failed("token s3cr3t-value refused".into()));
    let first = rx.try_recv().expect("a piece");
    assert_eq!(
        first.event,
        Some(Event::Build(Build::ImageUnchanged(seven)))
    );
    assert_eq!(first.lines, ["image unchanged after 7 ms; container kept"]);
    let second = rx.try_recv().expect("a piece");
    assert_eq!(second.event, None, "the value held the secret");
    assert!(!second.lines[0].contains("s3cr3t"), "{:?}", second.lines);
    p.flush().await;
    let printed = printed.lock().expect("printed").join("\n");
    assert!(
        printed.contains("image unchanged after 7 ms; container kept"),
        "{printed}"
    );
    assert!(!printed.contains("s3cr3t"), "{printed}");
}

#[tokio::test]
async fn secrets_hold_for_the_printers_of_one_command_and_no_other() {
    let (out, printed) = Printer::capturing(["app"]);
    let run = out.spawn_stderr(["app"]);
    // A reload sets them on the run's printer: the command's own printer hides them too (its error).
    run.set_secrets(&["s3cr3t-value"]);
    out.event("app", "token s3cr3t-value");
    out.flush().await;
    assert_eq!(*printed.lock().expect("lines"), ["app  » token [redacted]"]);
    assert_eq!(out.redact("error: s3cr3t-value"), "error: [redacted]");
    assert_eq!(run.redact("s3cr3t-value"), "[redacted]");
    // Another command's printers (another test in this process) do not know them.
    let other = Printer::quiet(["app"]);
    assert_eq!(other.redact("s3cr3t-value"), "s3cr3t-value");
}
