//! The zero-downtime swap of the foreground dev loop against the real engine: the new container is started and
//! made ready while the old one serves, then the host port (the run's own forwarder) and the network name move
//! to it. A client polling every 10 ms sees no failed request through several rebuilds, and a broken build
//! leaves the old build serving.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Project, docker, http};

const LONG: Duration = Duration::from_secs(180);

fn write(p: &Project, rel: &str, text: &str) {
    std::fs::write(p.ctx().join(rel), text).expect("write");
}

/// What a client polling `GET /version` every 10 ms saw, in order.
#[derive(Default)]
struct Seen {
    answers: Vec<String>,
    failures: Vec<String>,
}

struct Poller {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: std::thread::JoinHandle<()>,
}

impl Poller {
    fn start(port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, v) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let t = Instant::now();
                // A new connection every time (Connection: close), as a browser reload makes.
                let r = http("GET", port, "/version", &[], b"");
                let mut seen = v.lock().unwrap();
                match r {
                    Ok(r) if r.status == 200 => seen.answers.push(r.body.trim().to_string()),
                    Ok(r) => seen.failures.push(format!("HTTP {}: {}", r.status, r.body)),
                    Err(e) => seen.failures.push(e.to_string()),
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(10).saturating_sub(t.elapsed()));
            }
        });
        Poller { stop, seen, thread }
    }

    fn last(&self) -> Option<String> {
        self.seen.lock().unwrap().answers.last().cloned()
    }

    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("poller");
        Arc::try_unwrap(self.seen)
            .ok()
            .expect("one owner")
            .into_inner()
            .unwrap()
    }
}

/// `GET http://pinshare:9090/version` from inside kubo's container: what the service's network name serves.
fn by_name(p: &Project) -> String {
    let o = docker(&[
        "exec",
        &p.container("ipfs"),
        "wget",
        "-qO-",
        "http://pinshare:9090/version",
    ]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// How the test's forwarder reaches the app's containers.
#[derive(Clone, Copy, PartialEq)]
enum Reach {
    /// As decided on this machine: a local Linux engine, whose bridge gateways are this host's addresses, so the
    /// forwarder goes to the container's address and the engine publishes nothing.
    Decided,
    /// `PINSHARE_DEV_FORWARD=published`, the way for an engine in a VM: ephemeral loopback ports.
    Published,
}

#[test]
fn a_client_polling_every_10_ms_sees_no_failed_request_through_rebuilds_and_a_broken_build() {
    swaps_with_no_failed_request("swap", Reach::Decided);
}

#[test]
fn the_same_through_ports_the_engine_publishes_on_loopback() {
    swaps_with_no_failed_request("swap-pub", Reach::Published);
}

/// The app container's published ports, as `docker port` lists them.
fn published(p: &Project) -> String {
    String::from_utf8_lossy(&docker(&["port", &p.container("pinshare")]).stdout)
        .trim()
        .to_string()
}

fn swaps_with_no_failed_request(test: &str, reach: Reach) {
    let p = Project::offline_copy(test);
    let up = match reach {
        Reach::Decided => p.spawn(&["up"]),
        Reach::Published => p.spawn_env(&["up"], &[("PINSHARE_DEV_FORWARD", "published")]),
    };
    up.wait_for("all services ready", 1, LONG);
    let ports = published(&p);
    match reach {
        Reach::Decided => assert_eq!(ports, "", "the forwarder goes to the address"),
        Reach::Published => assert!(ports.contains("9090/tcp -> 127.0.0.1:"), "{ports}"),
    }
    assert_eq!(
        http("GET", p.app_port, "/version", &[], b"")
            .unwrap()
            .body
            .trim(),
        "v1"
    );
    let kubo = p.inspect("ipfs", "{{.Id}}");
    let poller = Poller::start(p.app_port);

    for n in 2..=4 {
        let before = p.inspect("pinshare", "{{.Id}}");
        write(&p, "app/VERSION", &format!("v{n}\n"));
        up.wait_for("pinshare » rebuilt in", n - 1, LONG);
        // Traffic moved before the old container was stopped: the very next request is the new build's.
        assert_eq!(
            http("GET", p.app_port, "/version", &[], b"")
                .unwrap()
                .body
                .trim(),
            format!("v{n}")
        );
        // So did the name other containers use.
        assert_eq!(by_name(&p), format!("v{n}"));
        let after = p.inspect("pinshare", "{{.Id}}");
        assert_ne!(after, before, "a new container serves");
        assert_eq!(published(&p).is_empty(), reach == Reach::Decided);
        assert!(
            !docker(&["inspect", &format!("{}-replaced", p.container("pinshare"))])
                .status
                .success(),
            "the old container is gone"
        );
    }
    // `ps` names the build that serves, and says whose the host ports are.
    let ps = p.run_ok(&["ps"]);
    let image = p.inspect("pinshare", "{{.Image}}");
    let short = &image.trim_start_matches("sha256:")[..12];
    let row = ps.lines().find(|l| l.starts_with("pinshare")).expect("row");
    assert!(
        row.contains(short) && row.contains("(forwarded by up)"),
        "{ps}"
    );
    let text = up.text();
    assert_eq!(
        text.matches("starting alongside build").count(),
        3,
        "{text}"
    );
    assert_eq!(
        text.matches("serves now; stopping build").count(),
        3,
        "{text}"
    );
    // The new container's own output was printed while the old one still served.
    assert!(
        text.contains("pinshare | pinshare stand-in v4 listening"),
        "{text}"
    );

    // A broken build: the old one keeps serving, and the poller goes on seeing it.
    let dockerfile = std::fs::read_to_string(p.ctx().join("app/Dockerfile")).expect("read");
    std::fs::write(
        p.ctx().join("app/Dockerfile"),
        format!("{dockerfile}\nCOPY no/such/file /x\n"),
    )
    .expect("write");
    write(&p, "app/VERSION", "broken\n");
    up.wait_for(
        "build failed, the running container was left serving",
        1,
        LONG,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(poller.last().as_deref(), Some("v4"));
    assert_eq!(by_name(&p), "v4");

    let seen = poller.finish();
    assert!(
        seen.failures.is_empty(),
        "{} failed of {}: {:?}",
        seen.failures.len(),
        seen.failures.len() + seen.answers.len(),
        &seen.failures[..seen.failures.len().min(10)]
    );
    // It really polled through every swap, and saw the builds in order, never an old one after a new one.
    assert!(seen.answers.len() > 50, "{} answers", seen.answers.len());
    let mut order: Vec<&str> = seen.answers.iter().map(String::as_str).collect();
    order.dedup();
    assert_eq!(order, ["v1", "v2", "v3", "v4"]);
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), kubo, "kubo untouched");
    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty(), "nothing left behind");
}
