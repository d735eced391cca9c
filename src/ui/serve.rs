//! The dashboard's HTTP server: the page (embedded in the binary), its live stream and the steering requests,
//! every request through the [`Guard`].

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response, Sse, sse::KeepAlive};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::run::control::Request as Steering;
use crate::ui::guard::{Guard, new_token};
use crate::ui::panels::{self, Panels};
use crate::ui::{DEFAULT_PORT, Feed, Port, TRIES, link};

const INDEX: &str = include_str!("page/index.html");
const STYLE: &str = include_str!("page/style.css");
const APP: &str = include_str!("page/app.js");
const STATE: &str = include_str!("page/state.js");
const LOGS: &str = include_str!("page/logs.js");
const BUILDS: &str = include_str!("page/builds.js");
const GLANCE: &str = include_str!("page/glance.js");
const KEYS: &str = include_str!("page/keys.js");
const KUBO: &str = include_str!("page/kubo.js");
const CHARTS: &str = include_str!("page/charts.js");
const DOCTOR: &str = include_str!("page/doctor.js");

/// Who may load what into the page: only the page's own files and its stream.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct App {
    feed: Feed,
    guard: Guard,
}

/// A running dashboard; stops (and its URL file goes) when dropped.
pub struct Dashboard {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    stop: CancellationToken,
    _file: link::UrlFile,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Binds the port (see [`Port`]) and serves `feed` until the returned handle is dropped.
pub async fn start(port: Port, feed: Feed) -> Result<Dashboard> {
    let listener = bind(port).await?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| Error::Runtime(format!("the dashboard's address: {e}")))?;
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let token = new_token().map_err(|e| Error::Runtime(format!("the dashboard's token: {e}")))?;
    let file = link::write(&feed.project, &url)?;
    let app = App {
        feed,
        guard: Guard::new(addr.port(), token),
    };
    let router = Router::new()
        .route("/", get(index))
        .route("/style.css", get(|| async { asset("text/css", STYLE) }))
        .route("/app.js", get(|| async { asset("text/javascript", APP) }))
        .route(
            "/state.js",
            get(|| async { asset("text/javascript", STATE) }),
        )
        .route("/logs.js", get(|| async { asset("text/javascript", LOGS) }))
        .route(
            "/builds.js",
            get(|| async { asset("text/javascript", BUILDS) }),
        )
        .route(
            "/glance.js",
            get(|| async { asset("text/javascript", GLANCE) }),
        )
        .route("/keys.js", get(|| async { asset("text/javascript", KEYS) }))
        .route("/kubo.js", get(|| async { asset("text/javascript", KUBO) }))
        .route(
            "/charts.js",
            get(|| async { asset("text/javascript", CHARTS) }),
        )
        .route(
            "/doctor.js",
            get(|| async { asset("text/javascript", DOCTOR) }),
        )
        .route("/events", get(events))
        .route("/api/steer", post(steer))
        .with_state(app.clone())
        .merge(panel_routes(&app))
        .layer(middleware::from_fn_with_state(app, guard));
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    tokio::spawn(async move {
        let serve =
            axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::warn!("the dashboard stopped: {e}");
        }
    });
    Ok(Dashboard {
        url,
        stop,
        _file: file,
    })
}

/// The panels' JSON answers (GETs that only read).
fn panel_routes(app: &App) -> Router {
    let p = Panels::new(
        app.feed.spec.clone(),
        app.feed.control.clone(),
        app.feed.printer.clone(),
    );
    Router::new()
        .route("/api/kubo", get(panels::kubo))
        .route("/api/usage", get(panels::usage))
        .route("/api/doctor", get(panels::doctor))
        .route(
            "/api/builds/{service}/{id}/output",
            get(panels::build_output),
        )
        .with_state(p)
}

/// The listener on 127.0.0.1: the asked port, or the default or the next free one after it.
async fn bind(port: Port) -> Result<TcpListener> {
    let ports = match port {
        Port::Exact(p) => p..=p,
        Port::Default => DEFAULT_PORT..=DEFAULT_PORT + TRIES - 1,
    };
    let mut last = None;
    for p in ports.clone() {
        match TcpListener::bind(("127.0.0.1", p)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(String::new, |e| e.to_string());
    Err(Error::Runtime(match port {
        Port::Exact(p) => format!(
            "the dashboard cannot listen on 127.0.0.1:{p} (--ui-port {p}): {why}; pick another port, or --no-ui"
        ),
        Port::Default => format!(
            "the dashboard found no free port in 127.0.0.1:{}-{}: {why}; pick one with --ui-port, or --no-ui",
            ports.start(),
            ports.end()
        ),
    }))
}

async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    if let Err(refusal) = app.guard.check(request.method(), request.headers()) {
        return refusal.into_response();
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// The page, with the project's name and the run's token (only a same-origin reader can see it).
async fn index(State(app): State<App>) -> Response {
    let page = INDEX
        .replace("{{PROJECT}}", &escape(&app.feed.project))
        .replace("{{TOKEN}}", app.guard.token());
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn events(State(app): State<App>) -> impl IntoResponse {
    let f = &app.feed;
    let stream = crate::ui::stream::events(f.control.clone(), f.printer.tap(), f.ports.clone());
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `POST /api/steer` with `{"op": "restart", "service": "app"}` (`restart`, `stop`, `start`, `trigger`), carried
/// out as the control endpoint does and answered once done: `{"ok": true, "message": ...}` or `{"ok": false,
/// "error": ...}` (409).
async fn steer(State(app): State<App>, body: Bytes) -> Response {
    let request = match serde_json::from_slice::<Steering>(&body) {
        Ok(r) if r.service().is_some() => r,
        _ => {
            let why =
                "expected {\"op\": \"restart\"|\"stop\"|\"start\"|\"trigger\", \"service\": ...}\n";
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    let reply = app.feed.control.answer(request).await;
    let status = if reply.ok {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    let json =
        serde_json::json!({ "ok": reply.ok, "message": reply.message, "error": reply.error });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_default_port_moves_to_the_next_free_one() {
        let first = bind(Port::Default).await.expect("a port");
        let taken = first.local_addr().expect("address").port();
        assert!((DEFAULT_PORT..DEFAULT_PORT + TRIES).contains(&taken));
        let second = bind(Port::Default).await.expect("another port");
        let next = second.local_addr().expect("address").port();
        assert!(
            next > taken && next < DEFAULT_PORT + TRIES,
            "{taken} then {next}"
        );
    }

    #[tokio::test]
    async fn a_taken_port_asked_for_is_an_error_that_names_it() {
        let held = TcpListener::bind(("127.0.0.1", 0)).await.expect("a port");
        let port = held.local_addr().expect("address").port();
        let Err(e) = bind(Port::Exact(port)).await else {
            panic!("bound a taken port");
        };
        let text = e.to_string();
        assert!(
            text.contains(&format!("127.0.0.1:{port}")) && text.contains("--ui-port"),
            "{text}"
        );
        let loopback_only = bind(Port::Exact(0)).await.expect("a free port");
        assert!(
            loopback_only
                .local_addr()
                .expect("address")
                .ip()
                .is_loopback()
        );
    }
}
