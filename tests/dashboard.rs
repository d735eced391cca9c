//! The dashboard of a foreground `up`, in a real browser ([`browser`]), and its security checks over plain HTTP.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and the Docker engine.

#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use browser::{Driver, LONG, dashboard_url, get_with_host, port_of, shot, strings, until};
use common::{Project, docker_ok, free_port, http};
use fantoccini::Locator;

/// Security without a browser: a foreign `Host` (DNS rebinding), a POST without the token or from another
/// origin are refused; with both, the request is taken.
#[test]
fn foreign_hosts_and_cross_origin_posts_are_refused() {
    let p = Project::offline_copy("ui_guard");
    let asked = free_port();
    // The port from the spec's `[ui]` (the other test takes the default).
    p.edit_spec(|s| format!("{s}\n[ui]\nport = {asked}\n"));
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    let port = port_of(&url);
    assert_eq!(port, asked);
    let page = http("GET", port, "/", &[], b"").unwrap();
    assert_eq!(page.status, 200);
    let token = page
        .body
        .split("name=\"pinshare-token\" content=\"")
        .nth(1)
        .unwrap();
    let token = &token[..token.find('"').unwrap()];
    assert!(!page.body.contains("{{"), "every placeholder filled");

    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1:{}", port + 1),
    ] {
        let answer = get_with_host(port, &host);
        assert!(answer.starts_with("HTTP/1.1 421"), "{host}: {answer}");
        assert!(!answer.contains(token), "the token is not handed out");
    }
    assert!(get_with_host(port, &format!("localhost:{port}")).starts_with("HTTP/1.1 200"));

    let origin = format!("http://127.0.0.1:{port}");
    let body = br#"{"op":"restart","service":"nope"}"#;
    let post = |headers: &[(&str, &str)]| http("POST", port, "/api/steer", headers, body).unwrap();
    let no_token = post(&[("Origin", &origin)]);
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    let wrong = post(&[("Origin", &origin), ("X-Pinshare-Token", "0123")]);
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    let foreign = post(&[
        ("Origin", "http://evil.example"),
        ("X-Pinshare-Token", token),
    ]);
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let no_origin = post(&[("X-Pinshare-Token", token)]);
    assert_eq!(no_origin.status, 403, "{}", no_origin.body);
    // Both right: the request reaches the run, which says what it thinks of the service's name.
    let taken = post(&[("Origin", &origin), ("X-Pinshare-Token", token)]);
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken.body.contains("\"ok\":false"), "{}", taken.body);

    // `ui` finds the same URL through the run's file; `--open` hands it to xdg-open (a stand-in here that
    // writes down what it was given).
    let ui = p.run_ok(&["ui"]);
    assert_eq!(ui.trim(), url);
    let bin = p.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let opened = p.dir.path().join("opened");
    let script = format!("#!/bin/sh\necho \"$1\" > {}\n", opened.display());
    std::fs::write(bin.join("xdg-open"), script).unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(bin.join("xdg-open"))
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let o = p.cmd(&["ui", "--open"]).env("PATH", path).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    // The stand-in's `>` makes the file before `echo` writes to it: a read in between finds it empty.
    let read = || {
        std::fs::read_to_string(&opened)
            .ok()
            .filter(|s| s.ends_with('\n'))
    };
    let given = common::poll("xdg-open to be run", Duration::from_secs(10), read);
    assert_eq!(given.trim(), url);
    drop(up);
    let after = p.run(&["ui"]);
    assert!(!after.status.success(), "no up, no dashboard");

    // `--no-ui`: nothing listens, and `ui` says there is no dashboard.
    let up = p.spawn(&["up", "--no-ui"]);
    up.wait_for("all services ready", 1, LONG);
    assert_eq!(up.count("dashboard:"), 0, "{}", up.text());
    assert!(
        TcpStream::connect(("127.0.0.1", asked)).is_err(),
        "nothing on the spec's port"
    );
    let none = p.run(&["ui"]);
    let said = String::from_utf8_lossy(&none.stderr);
    assert!(
        !none.status.success() && said.contains("serves a dashboard"),
        "{said}"
    );
}

/// The page lists both services and turns them ready; a container's line shows in the log pane and the filter
/// narrows it; the restart button gives the app a new container and keeps kubo's; `stop` and `start` on the
/// command line show; a secret's value never shows; no console error.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_the_run_and_steers_it() {
    let p = Project::offline_copy("ui_page");
    // The app prints IPFS_API at start: as a secret, its value must reach the page redacted.
    p.edit_spec(|s| {
        let env = "env = { IPFS_API = \"http://ipfs:5001\" }";
        s.replace(env, &format!("{env}\nsecrets = [\"IPFS_API\"]"))
    });
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();

    up.wait_for("all services ready", 1, LONG);
    let mut last = String::new();
    let start = Instant::now();
    let title = loop {
        let t = browser.title().await.unwrap();
        if t.starts_with("✔ 2 ready") {
            break t;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let page = browser
                .find(Locator::Css("body"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            panic!(
                "the page never said both are ready: {last:?}; page:\n{page}\noutput:\n{}",
                up.text()
            );
        }
        last = t;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(title.ends_with(&p.name), "{title}");
    let rows = strings(
        &browser,
        "return [...document.querySelectorAll('#services tbody tr')].map(r => `${r.dataset.service} ${r.cells[1].dataset.phase}`)",
    )
    .await;
    assert_eq!(rows, ["ipfs ready", "pinshare ready"]);

    // Two lines from kubo's container, through the run's attach to the page.
    let kubo = p.container("ipfs");
    for word in ["alpha", "beta"] {
        let line = format!("echo {word}-marker-{} > /proc/1/fd/1", std::process::id());
        docker_ok(&["exec", &kubo, "sh", "-c", &line]);
    }
    let lines_js = "return [...document.querySelectorAll('#log .line')].map(n => n.textContent)";
    until("both lines in the log pane", LONG, || async {
        let shown = strings(&browser, lines_js).await;
        let has = |w: &str| {
            shown
                .iter()
                .any(|l| l.contains(&format!("{w}-marker")) && l.contains("ipfs"))
        };
        (has("alpha") && has("beta")).then_some(())
    })
    .await;
    browser
        .find(Locator::Id("log-filter"))
        .await
        .unwrap()
        .send_keys("alpha-marker")
        .await
        .unwrap();
    let shown = strings(&browser, lines_js).await;
    assert!(
        !shown.is_empty() && shown.iter().all(|l| l.contains("alpha-marker")),
        "{shown:?}"
    );

    shot(&browser).await;
    let clear = "const f = document.getElementById('log-filter'); f.value = ''; f.dispatchEvent(new Event('input'));";
    browser.execute(clear, vec![]).await.unwrap();

    let (app_before, kubo_before) = (
        p.inspect("pinshare", "{{.Id}}"),
        p.inspect("ipfs", "{{.Id}}"),
    );
    let restart = "#services tr[data-service='pinshare'] button[data-op='restart']";
    browser
        .find(Locator::Css(restart))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until("the restart to be answered", LONG, || async {
        let said = browser
            .find(Locator::Id("steer-result"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !said.contains("restart pinshare:"),
            "the restart failed: {said}"
        );
        (!said.is_empty() && !said.ends_with('…')).then_some(said)
    })
    .await;
    assert_ne!(
        p.inspect("pinshare", "{{.Id}}"),
        app_before,
        "a new app container"
    );
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), kubo_before, "kubo's is kept");
    until("the app ready again", LONG, || async {
        browser
            .title()
            .await
            .unwrap()
            .starts_with("✔ 2 ready")
            .then_some(())
    })
    .await;

    // Stop and start from the command line show in the page.
    let phase_js = "return [document.querySelector(\"#services tr[data-service='pinshare'] td.phase\").dataset.phase]";
    for (command, phase) in [("stop", "stopped"), ("start", "ready")] {
        p.run_ok(&[command, "pinshare"]);
        until(&format!("pinshare {phase} in the page"), LONG, || async {
            (strings(&browser, phase_js).await == [phase]).then_some(())
        })
        .await;
    }

    // The new container's start lines: the secret's value redacted, nowhere in the page.
    let line = until("the app's start line", LONG, || async {
        let shown = strings(&browser, lines_js).await;
        shown
            .into_iter()
            .find(|l| l.contains("Using external IPFS API"))
    })
    .await;
    assert!(line.contains("[redacted]"), "{line}");
    let html = browser.source().await.unwrap();
    assert!(!html.contains("ipfs:5001"), "a secret value in the page");

    // A save shows as a build with what triggered it and a bar per stage of its timing line.
    std::fs::write(p.ctx().join("app/VERSION"), "ui-build\n").expect("write");
    let newest = "const b = document.querySelector(\"#builds ol[data-service='pinshare'] li\"); \
                  return b ? [b.className, b.querySelector('p').textContent, \
                  ...[...b.querySelectorAll('.stage')].map(s => s.dataset.stage)] : []";
    let shown = until("the save's build in the page", LONG, || async {
        let b = strings(&browser, newest).await;
        (b.first().is_some_and(|c| c == "build served") && b[1].contains("VERSION")).then_some(b)
    })
    .await;
    assert!(
        shown[1].starts_with("save: ") && shown[1].contains("serves "),
        "{shown:?}"
    );
    assert_eq!(
        shown[2..],
        ["detect", "build", "start", "ready", "swap"],
        "{shown:?}"
    );
    up.wait_for("pinshare » rebuilt in", 1, LONG);

    let errors = driver.console_errors(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await.unwrap();
}
