//! `ps`: each service's container state, readiness (probed now), ports, image, restarts and uptime.

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;
use crate::run::control::Request;
use crate::run::state::Snapshot;
use crate::spec::{Service, Spec};
use crate::{probe, probe::ready};

/// One row of `ps`.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Service.
    pub service: String,
    /// Container name.
    pub container: Option<String>,
    /// `running`, `exited`, `absent`, ...
    pub state: String,
    /// `ready`, `not ready: <reason>`, `-`.
    pub readiness: String,
    /// Published ports.
    pub ports: Vec<String>,
    /// Image reference.
    pub image: String,
    /// The build that serves: the id of the image its container runs (a rebuild's swap changes it).
    pub build: Option<String>,
    /// Its host ports are a foreground `up`'s own forwarder's (they move to a rebuild's new container).
    pub ports_forwarded: bool,
    /// Restarts by a foreground `up`'s supervisor plus those counted by the engine.
    pub restarts: i64,
    /// Docker's status text (`Up 3 minutes`).
    pub status: String,
    /// Start time (RFC 3339).
    pub started_at: Option<String>,
}

/// Collects the rows.
pub async fn rows(engine: &dyn Engine, spec: &Spec) -> Result<Vec<Row>> {
    let containers = engine.project_containers(&spec.project).await?;
    let mut rows = Vec::new();
    for name in &spec.order {
        let svc = &spec.services[name];
        let cname = spec.container_name(name);
        let ports = published_ports(svc);
        let Some(c) = containers.iter().find(|c| c.name == cname) else {
            rows.push(Row {
                service: name.clone(),
                container: None,
                state: "absent".into(),
                readiness: "-".into(),
                ports,
                image: svc.image.reference().into(),
                build: None,
                ports_forwarded: false,
                restarts: 0,
                status: String::new(),
                started_at: None,
            });
            continue;
        };
        let inspect = engine.inspect_container(&cname).await?;
        let container_labels = inspect
            .as_ref()
            .map(|i| i.labels.clone())
            .unwrap_or_default();
        // Restarts by a foreground `up` (a fresh container each, like the kubelet's) plus the engine's own.
        let restarts = inspect.as_ref().map_or(0, |i| i.restart_count)
            + i64::from(crate::labels::restarts_of(&container_labels));
        let state = crate::run::supervise::crash_loop_state(
            c.state,
            &container_labels,
            std::time::SystemTime::now(),
        )
        .unwrap_or_else(|| c.state.as_str().to_string());
        let started_at = inspect.as_ref().and_then(|i| i.started_at.clone());
        let readiness = if c.is_running() {
            readiness_now(engine, spec, svc, &cname).await?
        } else {
            "-".to_string()
        };
        rows.push(Row {
            service: name.clone(),
            container: Some(cname),
            state,
            readiness,
            ports,
            image: c.image.clone(),
            build: inspect.as_ref().map(|i| i.image.clone()),
            ports_forwarded: inspect.as_ref().is_some_and(crate::container::is_forwarded),
            restarts,
            status: c.status.clone(),
            started_at,
        });
    }
    redact_secrets(&mut rows, spec);
    Ok(rows)
}

/// A service's published ports as `ps` shows them: `host_ip:host_port->container_port/protocol`.
fn published_ports(svc: &Service) -> Vec<String> {
    svc.ports
        .iter()
        .map(|p| {
            format!(
                "{}:{}->{}/{}",
                p.host_ip,
                p.host_port,
                p.container_port,
                p.protocol.as_str()
            )
        })
        .collect()
}

/// The readiness of a running container, probed once now: `ready`, `not ready: <reason>`, or
/// `running (no probe)` when the service has no readiness check.
async fn readiness_now(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    container: &str,
) -> Result<String> {
    let Some(p) = &svc.readiness else {
        return Ok("running (no probe)".into());
    };
    let resolve = ready::port_resolver(engine, spec, svc).await?;
    let checked = probe::check_once(engine, container, &p.check, &resolve, p.timeout).await;
    Ok(match checked {
        Ok(()) => "ready".into(),
        Err(e) => format!("not ready: {e}"),
    })
}

/// Blanks the spec's secret values out of the texts of each row.
fn redact_secrets(rows: &mut [Row], spec: &Spec) {
    // A failed probe's reason can quote what the container printed; neither the table nor --json shows a secret.
    let secrets = spec.secret_values();
    for r in rows {
        for text in [&mut r.readiness, &mut r.status, &mut r.state] {
            *text = crate::output::redact::text(text, &secrets);
        }
    }
}

/// What a foreground `up` says of `service`: its phase with its elapsed time, and what waits for `trigger`.
pub fn phase_of(live: &Snapshot, service: &str) -> String {
    let Some(s) = live.services.get(service) else {
        return "-".into();
    };
    let mut text = s.phase.text();
    match s.pending.len() {
        0 => {}
        1 => text.push_str(", 1 change pending"),
        n => text.push_str(&format!(", {n} changes pending")),
    }
    text
}

/// Formats rows as an aligned table; with the state of a foreground `up`, each service's phase too.
pub fn table(rows: &[Row], live: Option<&Snapshot>) -> String {
    let header = [
        "SERVICE", "STATE", "PHASE", "READY", "PORTS", "IMAGE", "BUILD", "RESTARTS", "UPTIME",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.service.clone(),
                r.state.clone(),
                live.map_or_else(String::new, |l| phase_of(l, &r.service)),
                r.readiness.clone(),
                if r.ports_forwarded && !r.ports.is_empty() {
                    format!("{} (forwarded by up)", r.ports.join(", "))
                } else {
                    r.ports.join(", ")
                },
                r.image.clone(),
                r.build.as_deref().map_or_else(
                    || "-".to_string(),
                    |b| {
                        let b = b.trim_start_matches("sha256:");
                        b[..b.len().min(12)].to_string()
                    },
                ),
                r.restarts.to_string(),
                r.status.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c.iter()) {
            *w = (*w).max(v.chars().count());
        }
    }
    let mut out = String::new();
    let line = |vals: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = vals
            .iter()
            .zip(widths.iter())
            .enumerate()
            // No PHASE column without a foreground `up`: `ps` prints what it always did.
            .filter(|(i, _)| *i != 2 || live.is_some())
            .map(|(_, (v, w))| format!("{v:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for c in &cells {
        line(c.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The rows as JSON; under a foreground `up`, each with `phase` (as the table shows it) and `run` (the
/// service in the run's snapshot: phase, pending changes, build history).
fn json_rows(rows: &[Row], live: Option<&Snapshot>) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if let (Some(l), Some(obj)) = (live, v.as_object_mut()) {
                let svc = l.services.get(&r.service);
                let phase = svc
                    .map(serde_json::to_value)
                    .and_then(std::result::Result::ok);
                obj.insert("run".into(), phase.unwrap_or_default());
                obj.insert("phase".into(), phase_of(l, &r.service).into());
            }
            v
        })
        .collect()
}

/// Runs `ps`.
pub async fn ps(spec: &Spec, json: bool, out: &crate::output::printer::Printer) -> Result<()> {
    let engine = crate::engine::connect().await?;
    let rows = rows(&*engine, spec).await?;
    let asked = crate::run::control::ask(&spec.project, &Request::Snapshot).await;
    let live = asked.ok().flatten().and_then(|r| r.snapshot);
    let text = if json {
        serde_json::to_string_pretty(&json_rows(&rows, live.as_ref())).unwrap_or_default()
    } else {
        table(&rows, live.as_ref())
    };
    // The run's state can quote what a container said (a failed probe's reason): no secret in either form.
    out.block(&crate::output::redact::text(&text, &spec.secret_values()));
    Ok(())
}
