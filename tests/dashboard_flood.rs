//! The dashboard's log pane under a flood, in a real browser ([`browser`]) against a foreground `up` of the
//! offline project: kubo's container prints 150,000 numbered lines in 30 bursts of 5,000, and the page keeps
//! answering between them, never holds more than `KEEP` rows, and ends with the newest `KEEP` lines in order;
//! paused, a second flood, all at once, builds no row at all (before the fix the page built one per line: 150,001).
//! The first flood comes in bursts because on an idle machine all 150,000 lines can reach the page between two of
//! the test's looks, and the look "a part of the flood shown" would then find nothing to see (CI did, once).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and the Docker engine.

#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use browser::{Driver, LONG, dashboard_url, until};
use common::Project;
use fantoccini::{Client, Locator};

/// src/ui/page/logs.js's `KEEP`: the lines the page keeps.
const KEEP: usize = 5000;
/// The flood: 30 times what the page keeps.
const LINES: usize = 150_000;
/// The first flood's bursts, a tenth of a second apart: it lasts at least three seconds however fast the machine.
const BURSTS: usize = 30;

/// The number of rows in the pane and the text of ipfs's newest (the app prints a status every 30 s).
const ROWS: &str = "const rows = document.getElementById('log').children; \
                    const ipfs = document.querySelectorAll('#log .line[data-service=ipfs] .text'); \
                    return [rows.length, ipfs.length ? ipfs[ipfs.length - 1].textContent : ''];";

/// Counts the rows the page builds from now on (each row is a `div`), in `window.rowsBuilt`.
const COUNT_ROWS: &str = "window.rowsBuilt = 0; const make = document.createElement.bind(document); \
                          document.createElement = (tag, o) => { \
                            if (tag === 'div') window.rowsBuilt += 1; return make(tag, o); };";

/// A flood of numbered lines leaves the page answering a script while it arrives, the pane never holds more
/// than KEEP rows, and at the end it shows the newest KEEP lines, in order, the last one written last; paused,
/// a flood builds no row (rows are built only for lines shown) and following again shows its newest lines.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_leaves_the_page_answering_with_the_newest_lines_in_order_and_costs_nothing_paused()
{
    let p = Project::offline("ui_flood");
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();
    until("both services ready", LONG, || async {
        let t = browser.title().await.unwrap();
        t.starts_with("✔ 2 ready").then_some(())
    })
    .await;

    // Following: the page answers while the flood comes and shows its end.
    let done = format!("flood-done-{}", std::process::id());
    let mut writer = flood(&p, 1, BURSTS, &done);
    let samples = follow_until(&browser, &done).await;
    assert!(writer.wait().unwrap().success(), "docker exec of the flood");
    // It answered while the lines still came: a part of the flood shown, not yet its end.
    let midway = samples
        .iter()
        .filter(|(_, n)| n.parse::<usize>().is_ok_and(|n| n < LINES))
        .count();
    // Twice at least: with all of it built in one frame, the page answered once in 4 s of flood (no more on an idle
    // machine); with CHUNK rows a frame, about once a second.
    assert!(
        midway >= 2,
        "the page hardly answered while the flood came: {samples:?}"
    );
    let most = samples.iter().map(|(rows, _)| *rows).max().unwrap();
    assert!(most <= KEEP, "{most} rows in the pane at once");
    assert_newest(&browser, LINES, &done).await;

    // Paused (a click on "follow"), a second flood builds no row at all: the pane stays as it was, the
    // count says what waits and what went past; following again shows the newest KEEP of it.
    browser.execute(COUNT_ROWS, vec![]).await.unwrap();
    let follow = browser.find(Locator::Id("log-follow")).await.unwrap();
    follow.click().await.unwrap();
    let before = dropped(&browser).await;
    let done2 = format!("{done}-paused");
    let mut writer = flood(&p, LINES + 1, 1, &done2);
    until("the paused flood counted", LONG, || async {
        let count = follow_count(&browser).await;
        let all = dropped(&browser).await >= before + LINES + 1 - KEEP;
        (all && count.contains(&format!("paused with {KEEP} new"))).then_some(())
    })
    .await;
    assert!(writer.wait().unwrap().success(), "docker exec of the flood");
    let built = browser
        .execute("return window.rowsBuilt", vec![])
        .await
        .unwrap();
    assert_eq!(built, 0, "rows built while paused");
    assert_newest(&browser, LINES, &done).await;
    follow.click().await.unwrap();
    assert_newest(&browser, 2 * LINES, &done2).await;
}

/// Starts `busybox seq FIRST FIRST+LINES-1` then `done` on the stdout of kubo's main process, as the container's
/// own output (the bench does the same, in one burst), in `bursts` equal bursts a tenth of a second apart.
fn flood(p: &Project, first: usize, bursts: usize, done: &str) -> Child {
    let size = LINES / bursts;
    assert_eq!(
        size * bursts,
        LINES,
        "{LINES} lines in {bursts} equal bursts"
    );
    let script = format!(
        "i=0; while [ $i -lt {bursts} ]; do \
           from=$(({first} + i * {size})); busybox seq $from $((from + {size} - 1)) > /proc/1/fd/1; \
           i=$((i + 1)); [ $i -lt {bursts} ] && busybox sleep 0.1; \
         done; echo {done} > /proc/1/fd/1"
    );
    Command::new("docker")
        .args(["exec", &p.container("ipfs"), "sh", "-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The pane's row count and newest line, sampled as fast as the page answers, until it shows `done`.
async fn follow_until(browser: &Client, done: &str) -> Vec<(usize, String)> {
    let start = Instant::now();
    let mut samples: Vec<(usize, String)> = Vec::new();
    loop {
        let v = browser.execute(ROWS, vec![]).await.unwrap();
        let (rows, newest): (usize, String) = serde_json::from_value(v).unwrap();
        samples.push((rows, newest.clone()));
        if newest == done {
            return samples;
        }
        assert!(
            start.elapsed() < LONG,
            "the flood's last line never showed; the page's rows and newest line: {:?}",
            &samples[samples.len().saturating_sub(20)..]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn follow_count(browser: &Client) -> String {
    let e = browser.find(Locator::Id("log-count")).await.unwrap();
    e.text().await.unwrap()
}

/// The "N older dropped" of the count, 0 when it says none.
async fn dropped(browser: &Client) -> usize {
    let count = follow_count(browser).await;
    let n = count
        .split(", ")
        .find_map(|p| p.strip_suffix(" older dropped"));
    n.map_or(0, |n| n.parse().unwrap())
}

/// The pane holds exactly KEEP rows: ipfs's numbered lines up to `last`, in order, then `done`; the only others
/// are the app's own output (its periodic status can come during a flood).
async fn assert_newest(browser: &Client, last: usize, done: &str) {
    let rows: Vec<[String; 2]> = until("the newest lines in the pane", LONG, || async {
        let js = "return [...document.getElementById('log').children].map(n => \
                  [n.dataset.service || '', (n.querySelector('.text') || n).textContent])";
        let v = browser.execute(js, vec![]).await.unwrap();
        let rows: Vec<[String; 2]> = serde_json::from_value(v).unwrap();
        rows.iter().any(|r| r[1] == done).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), KEEP, "rows in the pane");
    let (ipfs, others): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r[0] == "ipfs");
    assert!(others.iter().all(|r| r[0] == "pinshare"), "{others:?}");
    let (newest, ipfs) = ipfs.split_last().unwrap();
    assert_eq!(newest[1], done, "ipfs's newest line");
    let numbered: Vec<&str> = ipfs.iter().map(|r| r[1].as_str()).collect();
    let expected: Vec<String> = (last + 1 - numbered.len()..=last)
        .map(|n| n.to_string())
        .collect();
    assert!(
        numbered == expected,
        "not the newest lines in order; first and last: {:?} … {:?}",
        numbered.first(),
        numbered.last()
    );
}
