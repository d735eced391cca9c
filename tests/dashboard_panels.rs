//! The dashboard's panels in a real browser (headless Chromium over WebDriver): kubo as its RPC API says,
//! each service's CPU and memory against its spec, `doctor`'s findings, and a failed build's output from the
//! build history. The panels are GETs behind the same guard as the page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and the Docker engine.

#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{
    Driver, LONG, dashboard_url, get_with_host_path, port_of, shot_named, strings, until,
};
use common::{Project, http};
use fantoccini::{Client, Locator};
use serde_json::Value;

/// The host port the spec publishes kubo's gateway (container port 8080) on.
fn gateway_port(p: &Project) -> u16 {
    let spec = std::fs::read_to_string(&p.spec).unwrap();
    let at = spec.find(":8080\"").unwrap();
    let start = spec[..at].rfind('"').unwrap() + 1;
    spec[start..at].parse().unwrap()
}

/// kubo's own answer to `POST /api/v0/PATH` on the published RPC port.
fn kubo(p: &Project, path: &str) -> Value {
    let r = http("POST", p.kubo_api, &format!("/api/v0/{path}"), &[], b"").unwrap();
    assert_eq!(r.status, 200, "{path}: {r:?}");
    serde_json::from_str(&r.body).unwrap()
}

/// The text of the kubo panel's field `field` of service `service`, once it has one.
async fn kubo_field(browser: &Client, service: &str, field: &str) -> String {
    let js = format!(
        "const d = document.querySelector(\"#kubo article[data-service='{service}'] dd[data-field='{field}']\"); \
         return d ? [d.textContent] : []"
    );
    until(&format!("kubo's {field} in the page"), LONG, || async {
        strings(browser, &js)
            .await
            .pop()
            .filter(|t| !t.is_empty() && t != "—")
    })
    .await
}

/// The kubo panel shows what kubo's RPC API says (peer id, peers, repo size against `Datastore.StorageMax`,
/// the CORS origins from the spec's `kubo_config`) and links the published gateway; the charts draw each
/// service's CPU and memory against its request and limit; `doctor`'s findings are those of `pinshare-dev
/// doctor`; the panels refuse a foreign Host; no console error.
#[tokio::test(flavor = "multi_thread")]
async fn the_panels_show_kubo_usage_and_doctor_as_the_tool_reads_them() {
    let p = Project::offline_copy("ui_panels");
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    let port = port_of(&url);
    up.wait_for("all services ready", 1, LONG);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();

    // kubo, as its own RPC API answers.
    let id = kubo(&p, "id");
    let peer = kubo_field(&browser, "ipfs", "peer id").await;
    assert_eq!(peer, id["ID"].as_str().unwrap());
    assert!(peer.starts_with("12D3KooW"), "{peer}");
    // kubo v0.42.0 core/commands/swarm.go: `{"Peers":null}` for a node connected to no one.
    assert_eq!(kubo(&p, "swarm/peers")["Peers"], Value::Null);
    assert_eq!(kubo_field(&browser, "ipfs", "connected peers").await, "0");
    // `Datastore.StorageMax` 10GB (kubo config/init.go) through go-humanize: 10^10 bytes.
    let repo = kubo_field(&browser, "ipfs", "repo size").await;
    assert!(
        repo.ends_with(" of 9.31 GiB (Datastore.StorageMax)") && repo.contains(" B"),
        "{repo}"
    );
    let origins_js = "return [...document.querySelectorAll(\"#kubo article[data-service='ipfs'] \
                      dd[data-field='CORS origins'] li\")].map(l => l.textContent)";
    assert_eq!(
        strings(&browser, origins_js).await,
        [
            "http://localhost:5173",
            "http://localhost:5174",
            "http://localhost:3000"
        ]
    );
    let gateway_js = "return [...document.querySelectorAll(\"#kubo article[data-service='ipfs'] \
                      dd[data-field='gateway'] a\")].map(a => a.href)";
    assert_eq!(
        strings(&browser, gateway_js).await,
        [format!("http://127.0.0.1:{}/", gateway_port(&p))]
    );
    let apps = "return [...document.querySelectorAll('#kubo article')].map(a => a.dataset.service)";
    assert_eq!(
        strings(&browser, apps).await,
        ["ipfs"],
        "the app is no kubo"
    );

    // CPU and memory: a few samples each, against the spec's request and limit.
    let usage_js = "return [...document.querySelectorAll('#usage tbody tr')].map(r => [r.dataset.service, \
                    ...[...r.querySelectorAll('svg')].map(s => `${s.getAttribute('aria-label')} \
                    ${s.dataset.points} ${[...s.querySelectorAll('line')].map(l => l.getAttribute('class')).join('+')}`), \
                    ...[...r.querySelectorAll('.figure')].map(f => f.textContent)].join(' | '))";
    let rows = until("three samples of each service", LONG, || async {
        let rows = strings(&browser, usage_js).await;
        let sampled = |r: &String| {
            r.split(" | ")
                .filter(|c| c.starts_with("CPU ") || c.starts_with("memory "))
                .filter(|c| c.split(' ').nth(1).and_then(|n| n.parse::<u32>().ok()) >= Some(3))
                .count()
                == 2
        };
        (rows.len() == 2 && rows.iter().all(sampled)).then_some(rows)
    })
    .await;
    let (ipfs, app) = (&rows[0], &rows[1]);
    assert!(ipfs.starts_with("ipfs | CPU "), "{rows:?}");
    assert!(app.starts_with("pinshare | CPU "), "{rows:?}");
    // Idle services, far below their request: the request line is drawn, the limit is off the chart's scale.
    for row in [ipfs, app] {
        let charts: Vec<&str> = row
            .split(" | ")
            .filter(|c| c.starts_with("CPU ") || c.starts_with("memory "))
            .collect();
        assert_eq!(charts.len(), 2, "{row}");
        assert!(charts.iter().all(|c| c.ends_with(" request")), "{row}");
    }
    for (row, request, limit, cpu_request, cpu_limit) in [
        (ipfs, "512.0 MiB", "2.00 GiB", "0.25 cores", "1 core"),
        (app, "256.0 MiB", "1.00 GiB", "0.1 cores", "0.5 cores"),
    ] {
        for want in [
            format!("of {request} request"),
            format!("of {limit} limit"),
            format!("of {cpu_request} request"),
            format!("of {cpu_limit} limit"),
        ] {
            assert!(row.contains(&want), "{want} in {row}");
        }
    }

    // doctor: the same findings as the command's.
    let summary = until("doctor's summary", LONG, || async {
        let s = browser
            .find(Locator::Id("doctor-summary"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        s.starts_with("doctor: ").then_some(s)
    })
    .await;
    let cli = p.cmd(&["doctor"]).output().unwrap();
    let printed = String::from_utf8_lossy(&cli.stdout).to_string();
    assert_eq!(
        printed.trim_end().lines().last().unwrap(),
        summary,
        "{printed}"
    );
    let checks_js = "return [...document.querySelectorAll('#doctor > li')].map(l => `${l.dataset.status} ${l.dataset.check}`)";
    let mut page_checks = strings(&browser, checks_js).await;
    let mut cli_checks: Vec<String> = printed
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("doctor:"))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    page_checks.sort();
    cli_checks.sort();
    assert_eq!(page_checks, cli_checks);
    assert!(
        page_checks.contains(&"ok engine".to_string()),
        "{page_checks:?}"
    );
    shot_named(&browser, "pinshare-dev-dashboard-panels.png").await;

    // The panels are behind the page's guard: a foreign Host is refused, a POST is not a read.
    for path in [
        "/api/kubo",
        "/api/usage",
        "/api/doctor",
        "/api/builds/pinshare/1/output",
    ] {
        let answer = get_with_host_path(port, &format!("evil.example:{port}"), path);
        assert!(answer.starts_with("HTTP/1.1 421"), "{path}: {answer}");
        let post = http("POST", port, path, &[], b"").unwrap();
        assert_eq!(post.status, 403, "{path}: {post:?}");
    }

    let errors = driver.console_errors(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await.unwrap();
}

/// A save whose image build fails shows in the build history as failed, and its output (the builder's step
/// that failed, as the terminal printed it) opens from there; the old build keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_builds_output_opens_from_the_build_history() {
    let p = Project::offline_copy("ui_failed_build");
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    up.wait_for("all services ready", 1, LONG);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();

    let dockerfile = p.ctx().join("app/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(
        &dockerfile,
        format!("{text}COPY app/MISSING /opt/pinshare/MISSING\n"),
    )
    .unwrap();
    std::fs::write(p.ctx().join("app/VERSION"), "broken-build\n").unwrap();
    up.wait_for("build failed", 1, LONG);

    let failed = "const b = document.querySelector(\"#builds ol[data-service='pinshare'] li\"); \
                  return b && b.classList.contains('failed') && b.querySelector('details.output summary') \
                  ? [b.querySelector('p').textContent, b.querySelector('details.output summary').textContent] : []";
    let start = std::time::Instant::now();
    let shown = loop {
        let b = strings(&browser, failed).await;
        if !b.is_empty() {
            break b;
        }
        if start.elapsed() > LONG {
            let builds = strings(
                &browser,
                "return [document.getElementById('builds').innerHTML]",
            )
            .await;
            panic!(
                "no failed build with its output in the page: {builds:?}\noutput:\n{}",
                up.text()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        shown[0].starts_with("save: ") && shown[0].contains("failed: "),
        "{shown:?}"
    );
    assert!(shown[1].starts_with("output (last "), "{shown:?}");
    browser
        .find(Locator::Css(
            "#builds ol[data-service='pinshare'] li details.output summary",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let pre = "const p = document.querySelector(\"#builds ol[data-service='pinshare'] li details.output pre\"); \
               return p && p.textContent ? [p.textContent] : []";
    let output = until("the build's output", LONG, || async {
        strings(&browser, pre).await.pop()
    })
    .await;
    // The builder's own step line: in the output, not in the error's text.
    assert!(output.contains("COPY app/MISSING"), "{output}");
    // More than the error says: the builder's steps before the one that failed.
    assert!(
        output.contains("COPY app/VERSION /opt/pinshare/VERSION"),
        "{output}"
    );
    assert!(!shown[0].contains("COPY app/VERSION"), "{shown:?}");
    assert!(
        output
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("build failed, the running container was left serving")),
        "{output}"
    );
    let health = http("GET", p.app_port, "/health", &[], b"").unwrap();
    assert_eq!(health.status, 200, "the old build serves");

    let errors = driver.console_errors(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await.unwrap();
}
