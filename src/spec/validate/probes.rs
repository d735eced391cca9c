//! `readiness` and `liveness`: exactly one kind of check per probe (`http`, `tcp`, `exec`, `log`), its port,
//! method and pattern, timings that are more than zero, and what each of the two probes may not be.

use std::time::Duration;

use toml::Spanned;

use super::super::raw::{RawHttpProbe, RawProbe, RawService};
use super::super::{Check, Probe};
use super::Ctx;
use super::durations::{duration, positive_duration};

/// The service's readiness and liveness probes, each checked, then checked for what only the other may be.
pub(super) fn probes(cx: &mut Ctx, raw: &RawService) -> (Option<Probe>, Option<Probe>) {
    let readiness = raw.readiness.as_ref().and_then(|p| probe(cx, p));
    let liveness = raw.liveness.as_ref().and_then(|p| probe(cx, p));
    if let (Some(p), Some(l)) = (&raw.liveness, &liveness)
        && matches!(l.check, Check::Log { .. })
    {
        cx.err(
            p.span(),
            "a `log` probe can only say when a service is ready, not whether it is still alive",
            Some("use `http`, `tcp` or `exec` for liveness"),
        );
    }
    if let (Some(p), Some(r)) = (&raw.readiness, &readiness)
        && !r.start_grace.is_zero()
    {
        cx.err(
            p.span(),
            "`start_grace` applies to liveness probes only",
            Some("a readiness probe starts at once and waits up to `start_timeout`"),
        );
    }
    (readiness, liveness)
}

fn port(cx: &mut Ctx, p: &Spanned<i64>) -> Option<u16> {
    match u16::try_from(*p.get_ref()) {
        Ok(v) if v > 0 => Some(v),
        _ => {
            cx.err(
                p.span(),
                format!("probe port {} is not a port number", p.get_ref()),
                Some("use a container port between 1 and 65535"),
            );
            None
        }
    }
}

/// One probe: its check and its timings, with every problem in `cx`; `None` when its check is not usable.
fn probe(cx: &mut Ctx, p: &Spanned<RawProbe>) -> Option<Probe> {
    let raw = p.get_ref();
    let check = check(cx, p)?;
    Some(Probe {
        check,
        period: positive_duration(
            cx,
            raw.period.as_ref(),
            Duration::from_secs(1),
            "probe `period`",
            "a zero period would probe in a busy loop; write e.g. \"1s\"",
        ),
        timeout: positive_duration(
            cx,
            raw.timeout.as_ref(),
            Duration::from_secs(2),
            "probe `timeout`",
            "every attempt would time out before it began; write e.g. \"2s\"",
        ),
        start_timeout: positive_duration(
            cx,
            raw.start_timeout.as_ref(),
            Duration::from_secs(120),
            "`start_timeout`",
            "the service would get no time to become ready; write e.g. \"120s\"",
        ),
        failure_threshold: raw.failure_threshold.unwrap_or(3).max(1),
        start_grace: duration(cx, raw.start_grace.as_ref(), Duration::ZERO),
    })
}

/// The probe's check: it must name exactly one of `http`, `tcp`, `exec` and `log`, and that one must be
/// usable; `None` (with the error in `cx`) when not.
fn check(cx: &mut Ctx, p: &Spanned<RawProbe>) -> Option<Check> {
    let raw = p.get_ref();
    let kinds = usize::from(raw.http.is_some())
        + usize::from(raw.tcp.is_some())
        + usize::from(raw.exec.is_some())
        + usize::from(raw.log.is_some());
    if kinds != 1 {
        cx.err(
            p.span(),
            format!("a probe needs exactly one of `http`, `tcp`, `exec`, `log` (found {kinds})"),
            Some("for example `{ http = { port = 9090, path = \"/health\" } }`"),
        );
        return None;
    }
    if let Some(h) = &raw.http {
        http_check(cx, h)
    } else if let Some(t) = &raw.tcp {
        Some(Check::Tcp {
            port: port(cx, &t.port)?,
        })
    } else if let Some(l) = &raw.log {
        log_check(cx, l)
    } else {
        exec_check(cx, raw.exec.as_ref()?)
    }
}

/// An `http` check: its port, its method (`GET` by default, upper-cased, one of the known ones) and its path
/// (`/` by default, always starting with `/`). `None` only when the port is not a port; an unknown method is
/// an error but the check is still returned.
fn http_check(cx: &mut Ctx, h: &RawHttpProbe) -> Option<Check> {
    let port = port(cx, &h.port)?;
    let method = h
        .method
        .as_ref()
        .map_or_else(|| "GET".to_string(), |m| m.get_ref().to_ascii_uppercase());
    if let Some(m) = &h.method
        && !matches!(
            method.as_str(),
            "GET" | "POST" | "PUT" | "HEAD" | "OPTIONS" | "PATCH" | "DELETE"
        )
    {
        cx.err(
            m.span(),
            format!("unknown HTTP method `{}`", m.get_ref()),
            Some("use GET, POST, PUT, HEAD, OPTIONS, PATCH or DELETE"),
        );
    }
    let path = h.path.clone().unwrap_or_else(|| "/".into());
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    Some(Check::Http {
        port,
        path,
        method,
        headers: h.headers.clone(),
    })
}

/// A `log` check; `None` (with the error in `cx`) when its pattern is not a regular expression.
fn log_check(cx: &mut Ctx, l: &Spanned<String>) -> Option<Check> {
    if let Err(e) = regex::Regex::new(l.get_ref()) {
        cx.err(
            l.span(),
            format!(
                "bad `log` pattern: {}",
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid regular expression")
            ),
            Some("a regular expression matched against each output line, e.g. \"Daemon is ready\""),
        );
        return None;
    }
    Some(Check::Log {
        pattern: l.get_ref().clone(),
    })
}

/// An `exec` check; `None` (with the error in `cx`) when its argv is empty.
fn exec_check(cx: &mut Ctx, e: &Spanned<Vec<String>>) -> Option<Check> {
    if e.get_ref().is_empty() {
        cx.err(
            e.span(),
            "`exec` probe command is empty",
            Some("give the argv, e.g. [\"ipfs\", \"diag\", \"healthy\"]"),
        );
        return None;
    }
    Some(Check::Exec {
        argv: e.get_ref().clone(),
    })
}
