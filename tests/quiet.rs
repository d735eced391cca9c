//! A quiet foreground `up`: the doubles log what the real programs log, not each request. Kubo's daemon prints its
//! start-up lines and `Daemon is ready`, and logs no RPC request at its default log level (the image sets an empty
//! `GOLOG_LOG_LEVEL`); PinShare's API has no request logging (the app double's `api.rs`). Every probe here is a
//! request to a double: the readiness probes of
//! both (HTTP, every 10 ms until ready), kubo's exec liveness (`ipfs diag healthy`, an RPC call) and the app's
//! (`pinshare health`, a GET of /health), each every second.

mod common;

use std::time::Duration;

use common::{Project, http};

#[test]
fn a_foreground_up_prints_no_line_per_probe_request() {
    let p = Project::offline_copy("quiet");
    p.edit_spec(|s| s.replace("period = \"10s\" }", "period = \"1s\" }"));
    let up = p.spawn(&["up", "--no-watch"]);
    up.wait_for("all services ready", 1, Duration::from_secs(180));
    // Requests of our own on top of the probes', answered while the output is watched.
    for _ in 0..20 {
        let r = http("POST", p.kubo_api, "/api/v0/id", &[], b"").expect("kubo answers");
        assert_eq!(r.status, 200);
        let r = http("GET", p.app_port, "/health", &[], b"").expect("the app answers");
        assert_eq!(r.status, 200);
    }
    // `ps` probes both readiness endpoints again, from the tool, as the run's probes do.
    let ps = p.run_ok(&["ps"]);
    // The READY cells (the PHASE column of a foreground `up` says `ready 3 s`).
    let ready = ps
        .lines()
        .filter(|l| l.split("  ").any(|c| c.trim() == "ready"));
    assert_eq!(ready.count(), 2, "{ps}");
    // An absence is only seen over a window: five liveness periods, in which a request line of any of the
    // requests above (or of five rounds of both liveness probes) would have reached the output.
    std::thread::sleep(Duration::from_secs(5));
    let text = up.text();
    let request_lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            let Some((_, out)) = l.split_once(" | ") else {
                return false;
            };
            ["GET ", "POST ", "PUT ", "HEAD ", "OPTIONS "]
                .iter()
                .any(|m| out.trim_start().starts_with(m))
                || out.contains("/api/v0/")
                || out.contains("/health")
        })
        .collect();
    assert!(
        request_lines.is_empty(),
        "request lines: {request_lines:?}\n{text}"
    );
    // The probes ran and passed: nothing was restarted.
    assert_eq!(up.count("liveness failed"), 0, "{text}");
    assert_eq!(up.interrupt(), Some(130));
}
