//! A browser for the dashboard's tests: headless Chromium driven over WebDriver (chromedriver, from Debian's
//! `chromium` and `chromium-driver`, which `.ci/run` installs), and the helpers the tests share.

#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fantoccini::{Client, ClientBuilder};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::common::{self, Running, free_port};

/// How long the run and the page may take to get somewhere.
pub const LONG: Duration = Duration::from_secs(180);

/// A chromedriver on a free port, killed on drop.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> Driver {
        let port = free_port();
        // In a process group of its own, so the browser it starts ends with it (killing chromedriver alone left
        // chromium's processes behind: 155 after one CI run).
        let child = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
        let d = Driver { child, port };
        common::poll("chromedriver to listen", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        d
    }

    pub async fn browser(&self) -> Client {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }

    /// The browser's console messages of level SEVERE (errors) so far.
    pub async fn console_errors(&self, browser: &Client) -> Vec<String> {
        let (status, v) = self
            .post(browser, "se/log", &json!({"type": "browser"}))
            .await;
        assert_eq!(status, 200, "reading the console: {v}");
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Lets the page show desktop notifications, as a user who allowed them (WebDriver's Set Permission).
    pub async fn allow_notifications(&self, browser: &Client) {
        let grant = json!({ "descriptor": { "name": "notifications" }, "state": "granted" });
        let (status, v) = self.post(browser, "permissions", &grant).await;
        assert_eq!(status, 200, "allowing notifications: {v}");
    }

    /// A WebDriver command of the session that fantoccini does not have: `POST /session/{id}/{path}`.
    async fn post(&self, browser: &Client, path: &str, body: &Value) -> (u16, Value) {
        let session = browser.session_id().await.unwrap().unwrap();
        let url = format!("http://127.0.0.1:{}/session/{session}/{path}", self.port);
        // chromedriver keeps connections open: a real client, not the read-to-close `http` helper.
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dashboard's URL as `up` printed it.
pub fn dashboard_url(up: &Running) -> String {
    up.wait_for("dashboard: http://127.0.0.1:", 1, LONG);
    let text = up.text();
    let at = text.find("dashboard: ").unwrap() + "dashboard: ".len();
    text[at..].lines().next().unwrap().trim().to_string()
}

pub fn port_of(url: &str) -> u16 {
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    rest.trim_end_matches('/').parse().unwrap()
}

/// Polls `f` (an async check) until it gives a value.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn strings(browser: &Client, script: &str) -> Vec<String> {
    let v = browser.execute(script, vec![]).await.unwrap();
    serde_json::from_value(v).unwrap()
}

/// The page as the test saw it, for a person to look at (not compared with anything).
pub async fn shot(browser: &Client) {
    shot_named(browser, "pinshare-dev-dashboard.png").await;
}

/// [`shot`] into the temporary directory's file `name`.
pub async fn shot_named(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// A raw request with the given `Host` (the `http` helper always names 127.0.0.1).
pub fn get_with_host(port: u16, host: &str) -> String {
    get_with_host_path(port, host, "/")
}

/// [`get_with_host`] of `path`.
pub fn get_with_host_path(port: u16, host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
