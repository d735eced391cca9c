//! The dashboard's panels beside the live stream, each a JSON answer to a GET that only reads: kubo as its RPC
//! API says ([`kubo`](crate::ui::kubo)), each service's CPU and memory ([`usage`](crate::ui::usage)),
//! `doctor`'s findings, and a failed build's output. The page polls them; the engine is connected on the
//! first request. Every text served goes through the printer's redaction.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::doctor::{Finding, check_all, summary};
use crate::engine::Engine;
use crate::output::printer::Printer;
use crate::run::control::Handle;
use crate::spec::Spec;
use crate::ui::usage::Sampler;

/// `doctor` runs at most once in this long; pages asking in between get its last findings.
const DOCTOR_FRESH: Duration = Duration::from_secs(10);

/// What the panels read from, shared by every request of one dashboard.
#[derive(Clone)]
pub struct Panels {
    spec: Arc<Spec>,
    control: Handle,
    /// Its secrets are taken out of every answer.
    printer: Printer,
    engine: Arc<OnceCell<Arc<dyn Engine>>>,
    usage: Sampler,
    doctor: Arc<tokio::sync::Mutex<Option<(Instant, Value)>>>,
}

impl Panels {
    /// The panels of a run of `spec` whose state `control` keeps; `printer`'s secrets are redacted.
    pub fn new(spec: Arc<Spec>, control: Handle, printer: Printer) -> Self {
        Panels {
            spec,
            control,
            printer,
            engine: Arc::new(OnceCell::new()),
            usage: Sampler::default(),
            doctor: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    async fn engine(&self) -> Result<Arc<dyn Engine>, Response> {
        self.engine
            .get_or_try_init(crate::engine::connect)
            .await
            .cloned()
            .map_err(|e| {
                let why = format!("the dashboard cannot reach the engine: {e}");
                reply(
                    &self.printer,
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({ "error": why }),
                )
            })
    }
}

/// The answer, with the run's secret values taken out of every string in it.
fn reply(printer: &Printer, status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        redacted(printer, v).to_string(),
    )
        .into_response()
}

fn redacted(printer: &Printer, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(printer.redact(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(|x| redacted(printer, x)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), redacted(printer, x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `GET /api/kubo`: `{"kubo": [...]}`, one entry per kubo service (see [`crate::ui::kubo::Kubo`]).
pub async fn kubo(State(p): State<Panels>) -> Response {
    let engine = match p.engine().await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let all = crate::ui::kubo::read_all(&*engine, &p.spec).await;
    reply(&p.printer, StatusCode::OK, &json!({ "kubo": all }))
}

/// `GET /api/usage`: `{"services": {NAME: {state, resources, marks, points: [{cpu, memory}]}}}`; the first
/// request starts the sampling, so the first answer may have no points yet.
pub async fn usage(State(p): State<Panels>) -> Response {
    let engine = match p.engine().await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let series = p.usage.read(engine, p.spec.clone());
    reply(&p.printer, StatusCode::OK, &json!({ "services": series }))
}

fn finding(f: &Finding) -> Value {
    json!({
        "status": f.status.mark(),
        "check": f.check,
        "text": f.text,
        "fix": f.fix,
    })
}

/// `GET /api/doctor`: `{"findings": [{status, check, text, fix}], "summary": ...}`, as `doctor` prints them.
pub async fn doctor(State(p): State<Panels>) -> Response {
    let mut cached = p.doctor.lock().await;
    if let Some((at, v)) = cached.as_ref()
        && at.elapsed() < DOCTOR_FRESH
    {
        return reply(&p.printer, StatusCode::OK, v);
    }
    let mut all = Vec::new();
    check_all(&p.spec, &mut |found: Vec<Finding>| all.extend(found)).await;
    let v = json!({
        "findings": all.iter().map(finding).collect::<Vec<_>>(),
        "summary": summary(&all),
    });
    *cached = Some((Instant::now(), v.clone()));
    reply(&p.printer, StatusCode::OK, &v)
}

/// `GET /api/builds/SERVICE/ID/output`: `{"lines": [...]}`, the last lines a failed build printed.
pub async fn build_output(
    State(p): State<Panels>,
    Path((service, id)): Path<(String, u64)>,
) -> Response {
    match p.control.state.output_of(&service, id) {
        Some(lines) => reply(&p.printer, StatusCode::OK, &json!({ "lines": lines })),
        None => reply(
            &p.printer,
            StatusCode::NOT_FOUND,
            &json!({ "error": format!("no build {id} of {service} in the run's history (it keeps the last {})", crate::run::state::HISTORY) }),
        ),
    }
}
