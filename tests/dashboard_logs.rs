//! The dashboard's log pane, keyboard and tab, in a real browser ([`browser`]) against a foreground `up` of the
//! offline project: each line's stream and time, the tool's events apart, a /regex/ filter kept per service and
//! through a reload, follow and pause, the first error, the shortcuts and their `?` help; the tab's title and
//! icon, the desktop notification when a service breaks and when it is back, and a spec error's FILE:LINE:COL.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and the Docker engine.

#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Driver, LONG, dashboard_url, strings, until};
use common::{Project, docker_ok};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

/// Types `keys` as a user does, into whatever has the focus.
async fn press(browser: &Client, keys: &str) {
    let mut actions = KeyActions::new("keyboard".into());
    for value in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
    }
    browser.perform_actions(actions).await.unwrap();
}

/// Writes `line` to the stream (1 stdout, 2 stderr) of `container`'s main process.
fn write_line(container: &str, fd: u8, line: &str) {
    let script = format!("echo '{line}' > /proc/1/fd/{fd}");
    docker_ok(&["exec", container, "sh", "-c", &script]);
}

/// `[time, name, source, text]` of each line the pane shows.
async fn shown(browser: &Client) -> Vec<[String; 4]> {
    let js = "return [...document.querySelectorAll('#log .line')].map(n => \
              [...n.children].map(c => c.textContent))";
    let v = browser.execute(js, vec![]).await.unwrap();
    serde_json::from_value(v).unwrap()
}

async fn text_of(browser: &Client, id: &str) -> String {
    let e = browser.find(Locator::Id(id)).await.unwrap();
    e.text().await.unwrap()
}

async fn all_ready(browser: &Client, what: &str) {
    until(what, LONG, || async {
        let t = browser.title().await.unwrap();
        t.starts_with("✔ 2 ready").then_some(())
    })
    .await;
}

/// Each line says its stream and time; the tool's events show apart; a /regex/ filter narrows the lines, is kept
/// per service (picked with 1..9) and in the URL through a reload; `f` pauses and follows; `e` goes to the first
/// error; `?` lists the keys and Esc closes it; no console error.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_pane_filters_pauses_finds_errors_and_keeps_its_view_through_a_reload() {
    let p = Project::offline("ui_logs");
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();
    all_ready(&browser, "both services ready").await;

    // One line on stdout, one on stderr, from kubo's container.
    let kubo = p.container("ipfs");
    let m = format!("m{}", std::process::id());
    write_line(&kubo, 1, &format!("out-{m} all good"));
    write_line(&kubo, 2, &format!("err-{m} error: disk on fire"));
    let lines = until("both lines in the pane", LONG, || async {
        let l = shown(&browser).await;
        let mine: Vec<_> = l.into_iter().filter(|l| l[3].contains(&m)).collect();
        (mine.len() == 2).then_some(mine)
    })
    .await;
    let time = regex_like_clock(&lines[0][0]);
    assert!(time, "a time of day with ms: {lines:?}");
    assert_eq!(
        lines
            .iter()
            .map(|l| [l[1].as_str(), l[2].as_str()])
            .collect::<Vec<_>>(),
        [["ipfs", "stdout"], ["ipfs", "stderr"]],
        "{lines:?}"
    );

    // The tool's events apart from the containers' output, and back together.
    let show = browser.find(Locator::Id("log-show")).await.unwrap();
    show.select_by_value("events").await.unwrap();
    let events = shown(&browser).await;
    assert!(
        !events.is_empty() && events.iter().all(|l| l[2] == "event"),
        "{events:?}"
    );
    assert!(events.iter().any(|l| l[3].contains("ready")), "{events:?}");
    show.select_by_value("output").await.unwrap();
    let output = shown(&browser).await;
    assert!(
        output.iter().all(|l| l[2] != "event") && output.iter().any(|l| l[3].contains(&m)),
        "{output:?}"
    );
    show.select_by_value("all").await.unwrap();

    // Esc leaves the menu; `1` picks ipfs (the first service), `/` the filter; a /regex/ keeps only its lines.
    let esc: char = Key::Escape.into();
    let regex = format!("/(out|err)-{m} (all|error)/");
    press(&browser, &format!("{esc}1/{regex}")).await;
    let narrowed = shown(&browser).await;
    assert_eq!(narrowed.len(), 2, "{narrowed:?}");
    let hash = browser.current_url().await.unwrap();
    assert!(
        hash.fragment()
            .is_some_and(|f| f.contains("service=ipfs") && f.contains("filter.ipfs=")),
        "{hash}"
    );
    // Another service has its own filter (none); back on ipfs, its filter is there again.
    press(&browser, &format!("{esc}2")).await;
    let filter = browser.find(Locator::Id("log-filter")).await.unwrap();
    assert_eq!(filter.prop("value").await.unwrap().as_deref(), Some(""));
    press(&browser, "1").await;
    assert_eq!(filter.prop("value").await.unwrap(), Some(regex.clone()));
    // An invalid one says why (`/` selects the filter's text: what is typed replaces it).
    press(&browser, &format!("{esc}/")).await;
    press(&browser, "/(/").await;
    let said = text_of(&browser, "log-problem").await;
    assert!(said.starts_with("not a regular expression"), "{said}");
    press(&browser, &format!("{esc}/{regex}")).await;

    // A reload keeps the service and its filter (from the URL); new lines are filtered by it.
    browser.refresh().await.unwrap();
    let kept = browser
        .find(Locator::Id("log-filter"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept, Some(regex.clone()));
    let service = browser.find(Locator::Id("log-service")).await.unwrap();
    assert_eq!(
        service.prop("value").await.unwrap().as_deref(),
        Some("ipfs")
    );
    write_line(&kubo, 1, &format!("noise-{m}"));
    write_line(&kubo, 1, &format!("out-{m} all good again"));
    until("the filtered line after the reload", LONG, || async {
        let l = shown(&browser).await;
        l.iter()
            .any(|l| l[3].ends_with("all good again"))
            .then_some(())
    })
    .await;
    let after = shown(&browser).await;
    assert!(after.iter().all(|l| !l[3].contains("noise")), "{after:?}");

    // `f` pauses: new lines wait, the pane says how many; `f` again lets them in.
    let follow_js = "return [String(document.getElementById('log-follow').checked)]";
    press(&browser, "f").await;
    assert_eq!(strings(&browser, follow_js).await, ["false"]);
    write_line(&kubo, 2, &format!("err-{m} error: while paused"));
    until("the pane to say a line waits", LONG, || async {
        let c = text_of(&browser, "log-count").await;
        c.contains("paused with").then_some(())
    })
    .await;
    let paused = shown(&browser).await;
    assert!(
        paused.iter().all(|l| !l[3].contains("while paused")),
        "{paused:?}"
    );
    press(&browser, "f").await;
    until("the waiting line in", LONG, || async {
        let l = shown(&browser).await;
        l.iter()
            .any(|l| l[3].contains("while paused"))
            .then_some(())
    })
    .await;

    // `e`: the first error among the lines shown (since the reload), marked and in view; following stops.
    press(&browser, &format!("/{m}{esc}e")).await;
    let current = strings(
        &browser,
        "const c = document.querySelector('#log .line.current'); if (!c) return []; \
         const r = c.getBoundingClientRect(), p = document.getElementById('log').getBoundingClientRect(); \
         return [c.querySelector('.text').textContent, String(r.top >= p.top && r.bottom <= p.bottom), \
         String(document.getElementById('log-follow').checked)]",
    )
    .await;
    assert_eq!(
        current,
        [
            format!("err-{m} error: while paused"),
            "true".into(),
            "false".into()
        ]
    );
    let status = text_of(&browser, "log-status").await;
    assert!(status.starts_with("first error: ipfs at "), "{status}");

    // `?` opens the list of keys; Esc closes it.
    press(&browser, "?").await;
    let open_js = "const d = document.getElementById('help'); \
                   return [String(d.open), ...[...d.querySelectorAll('kbd')].map(k => k.textContent)]";
    let help = strings(&browser, open_js).await;
    assert_eq!(help[0], "true", "{help:?}");
    for key in ["/", "f", "e", "1…9", "?", "Esc"] {
        assert!(help.iter().any(|k| k == key), "{key} in {help:?}");
    }
    press(&browser, &esc.to_string()).await;
    assert_eq!(strings(&browser, open_js).await[0], "false");

    let errors = driver.console_errors(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await.unwrap();
}

/// `12:04:05.123`.
fn regex_like_clock(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() == 12
        && [2, 5].iter().all(|&i| b[i] == b':')
        && b[8] == b'.'
        && t.chars()
            .enumerate()
            .all(|(i, c)| [2, 5, 8].contains(&i) || c.is_ascii_digit())
}

/// The tab's icon and title, as they went: `[icon state, title]` at each change of the icon.
const RECORD: &str = "window.seen = []; const link = document.querySelector('link[rel=icon]'); \
    const note = () => window.seen.push([link.dataset.state || '', link.href, document.title]); note(); \
    new MutationObserver(note).observe(link, { attributes: true, attributeFilter: ['href'] });";

async fn icon_states(browser: &Client) -> Vec<(String, String, String)> {
    let v = browser.execute("return window.seen", vec![]).await.unwrap();
    serde_json::from_value(v).unwrap()
}

/// The tab's title and icon change with the run (building, all ready, failing); with notifications asked for, a
/// service that breaks and comes back is told on the desktop; a spec save that does not load shows its
/// FILE:LINE:COL error until a save that does.
#[tokio::test(flavor = "multi_thread")]
async fn the_tab_tells_the_state_notifies_breaks_and_shows_a_spec_error() {
    let p = Project::offline("ui_glance");
    let good = std::fs::read_to_string(&p.spec).unwrap();
    let up = p.spawn(&["up"]);
    let url = dashboard_url(&up);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();
    all_ready(&browser, "both services ready").await;

    // Notifications allowed for the page (the permission a user grants), and each one shown written down.
    driver.allow_notifications(&browser).await;
    browser
        .execute(
            "window.told = []; const Real = window.Notification; \
             window.Notification = class extends Real { \
               constructor(t, o) { super(t, o); window.told.push(t + ': ' + o.body); } };",
            vec![],
        )
        .await
        .unwrap();
    let notify = browser.find(Locator::Id("notify")).await.unwrap();
    assert_eq!(notify.text().await.unwrap(), "notify me");
    notify.click().await.unwrap();
    until("notifications on", LONG, || async {
        let t = text_of(&browser, "notify").await;
        (t == "notifications: on").then_some(())
    })
    .await;

    browser.execute(RECORD, vec![]).await.unwrap();
    // A build: the icon goes amber while it runs, green once ready.
    p.run_ok(&["trigger", "pinshare"]);
    until("the build to show and end", LONG, || async {
        let s = icon_states(&browser).await;
        let states: Vec<&str> = s.iter().map(|(k, _, _)| k.as_str()).collect();
        let busy = states.iter().position(|k| *k == "busy")?;
        states[busy..].contains(&"ok").then_some(())
    })
    .await;
    let seen = icon_states(&browser).await;
    let (_, busy_icon, busy_title) = seen.iter().find(|(k, _, _)| k == "busy").unwrap();
    assert!(
        busy_icon.starts_with("data:image/svg+xml,") && busy_icon.contains("%23b7791f"),
        "{busy_icon}"
    );
    assert!(busy_title.starts_with("… 1/2 ready"), "{busy_title}");
    let (_, ok_icon, ok_title) = seen.last().unwrap();
    assert!(ok_icon.contains("%232a8a3a"), "{ok_icon}");
    assert!(ok_title.starts_with("✔ 2 ready"), "{ok_title}");

    // The app crashes in a loop: the tab says it is failing, in red, and the desktop is told.
    p.edit_spec(|s| {
        s.replace(
            "readiness = { http = { port = 9090, path = \"/health\" } }",
            "readiness = { http = { port = 9090, path = \"/health\" } }\ncommand = [\"crash\", \"3\"]\n\
             backoff = { first = \"3s\", base = \"3s\", max = \"3s\" }",
        )
    });
    let failing = until("the tab to say pinshare fails", LONG, || async {
        let t = browser.title().await.unwrap();
        t.starts_with("✖ pinshare is failing").then_some(t)
    })
    .await;
    assert!(failing.ends_with(&p.name), "{failing}");
    let (state, icon, _) = icon_states(&browser).await.pop().unwrap();
    assert_eq!(state, "bad");
    assert!(icon.contains("%23c0392b"), "{icon}");
    let told_js = "return window.told";
    until("the desktop told it fails", LONG, || async {
        let told = strings(&browser, told_js).await;
        told.iter()
            .any(|t| t.starts_with(&format!("pinshare is failing — {}: ", p.name)))
            .then_some(())
    })
    .await;

    // A save that does not load: its FILE:LINE:COL error in the page, until the next save loads.
    let broken = good.replace("depends_on = [\"ipfs\"]", "depends_on = [\"ipfs\"");
    std::fs::write(&p.spec, &broken).unwrap();
    let error_js = "const s = document.getElementById('spec-error'); \
                    return [String(s.hidden), s.querySelector('pre').textContent]";
    let error = until("the spec error in the page", LONG, || async {
        let e = strings(&browser, error_js).await;
        (e[0] == "false").then_some(e[1].clone())
    })
    .await;
    let at = format!("error: {}:", p.spec.display());
    assert!(error.starts_with(&at), "{error}");
    let mut place = error[at.len()..].splitn(3, ':');
    let line = place.next().unwrap().parse::<usize>().unwrap();
    let column = place.next().unwrap().parse::<usize>().unwrap();
    assert!(
        (1..=broken.lines().count()).contains(&line) && column >= 1,
        "{error}"
    );
    // With the source line, as the terminal shows it.
    assert!(error.contains("depends_on = [\"ipfs\""), "{error}");
    let told = strings(&browser, told_js).await;
    assert!(told.iter().all(|t| !t.contains(" is back")), "{told:?}");

    // The spec as it was: the error goes, the app is back, and the desktop is told.
    browser.execute("window.told = []", vec![]).await.unwrap();
    std::fs::write(&p.spec, &good).unwrap();
    until("the error gone and the app back", LONG, || async {
        let e = strings(&browser, error_js).await;
        let t = browser.title().await.unwrap();
        (e[0] == "true" && t.starts_with("✔ 2 ready")).then_some(())
    })
    .await;
    until("the desktop told it is back", LONG, || async {
        let told = strings(&browser, told_js).await;
        told.iter()
            .any(|t| t.starts_with(&format!("pinshare is back — {}: ready", p.name)))
            .then_some(())
    })
    .await;

    let errors = driver.console_errors(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await.unwrap();
}
