//! Probes as Kubernetes probes: the shared translation (`translate`) made into `httpGet`, `exec` or
//! `tcpSocket`, with the spec's timing in whole seconds, and the startup probe's attempts.

use k8s_openapi::api::core::v1::{
    ExecAction, HTTPGetAction, HTTPHeader, Probe as KProbe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::{Action, seconds, translate};
use crate::spec::Probe;

/// A spec probe as a Kubernetes probe (timing carried over), and a note when its kind changed.
pub(super) fn probe(p: &Probe) -> Option<(KProbe, Option<String>)> {
    let (action, note) = translate(&p.check)?;
    let mut k = KProbe {
        period_seconds: Some(seconds(p.period)),
        timeout_seconds: Some(seconds(p.timeout)),
        failure_threshold: Some(i32::try_from(p.failure_threshold).unwrap_or(i32::MAX)),
        initial_delay_seconds: (!p.start_grace.is_zero()).then(|| seconds(p.start_grace)),
        ..Default::default()
    };
    match action {
        Action::HttpGet {
            port,
            path,
            headers,
        } => {
            k.http_get = Some(HTTPGetAction {
                port: IntOrString::Int(i32::from(port)),
                path: Some(path),
                http_headers: (!headers.is_empty()).then(|| {
                    headers
                        .into_iter()
                        .map(|(name, value)| HTTPHeader { name, value })
                        .collect()
                }),
                ..Default::default()
            });
        }
        Action::Exec(argv) => {
            k.exec = Some(ExecAction {
                command: Some(argv),
            });
        }
        Action::Tcp(port) => {
            k.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::Int(i32::from(port)),
                host: None,
            });
        }
    }
    Some((k, note))
}

/// Attempts that fit in the readiness start timeout at the probe's period.
pub(super) fn start_attempts(p: &Probe) -> i32 {
    let period = p.period.as_millis().max(1);
    let n = p.start_timeout.as_millis().div_ceil(period).max(1);
    i32::try_from(n).unwrap_or(i32::MAX)
}
