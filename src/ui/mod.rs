//! The dashboard: a web page served by the foreground `up`, on 127.0.0.1 only, showing the run's state and its
//! output through one live stream (server-sent events), with buttons that steer the run.
//!
//! **Port.** One per project: [`DEFAULT_PORT`] (7730), or the next free one when another project's `up` (or
//! anything else) has it, so two projects run side by side without a flag; `--ui-port N` asks for exactly `N`,
//! `--no-ui` serves nothing. 7730 and not Tilt's 10350, so Tilt and pinshare-dev run side by side; none of kubo's
//! ports (4001, 5001, 8080, 8081) nor the usual development servers' (3000, 5173, 8000, 8080, 9090); below the
//! ephemeral range (32768 and up on Linux), so the kernel never hands it to an outgoing connection; and not in
//! `/etc/services`. The URL is written next to the project's lock file ([`link`]), for `pinshare-dev ui`.
//!
//! **Security** ([`guard`]): bound to loopback only; a request whose `Host` is not this port on 127.0.0.1 or
//! localhost is refused (DNS rebinding); a request that changes anything (any method but GET and HEAD) needs the
//! run's random token, which only the page itself carries, and a same-origin `Origin`. Nothing secret is served:
//! the state carries no environment, and log lines are the printer's, redacted as printed.

pub(crate) mod guard;
pub(crate) mod kubo;
pub(crate) mod link;
pub(crate) mod panels;
pub(crate) mod serve;
pub(crate) mod stream;
pub(crate) mod usage;

pub use serve::{Dashboard, start};

use crate::output::printer::Printer;
use crate::run::control::Handle;

/// The dashboard's port when none is asked for (see the module's notes for why this one).
pub const DEFAULT_PORT: u16 = 7730;
/// Ports tried from the default on when it is taken.
pub const TRIES: u16 = 20;

/// Where the dashboard listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// [`DEFAULT_PORT`] or the next free one.
    Default,
    /// Exactly this one (`--ui-port`).
    Exact(u16),
}

/// What the dashboard shows and drives.
#[derive(Clone)]
pub struct Feed {
    /// The project.
    pub project: String,
    /// The run's state and steering, as the control endpoint has them.
    pub control: Handle,
    /// The ports each service publishes on the host, as the spec says, for links.
    pub ports: serde_json::Value,
    /// The printer, whose lines the log pane shows.
    pub printer: Printer,
    /// The spec the run started with, for the panels (kubo, usage, doctor).
    pub spec: std::sync::Arc<crate::spec::Spec>,
}

/// The host ports of each service of `spec` (TCP ones, which a browser can open).
pub fn ports(spec: &crate::spec::Spec) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = spec
        .services
        .iter()
        .map(|(name, s)| {
            let ports: Vec<u16> = s
                .ports
                .iter()
                .filter(|p| matches!(p.protocol, crate::spec::units::Protocol::Tcp))
                .map(|p| p.host_port)
                .collect();
            (name.clone(), serde_json::json!(ports))
        })
        .collect();
    serde_json::Value::Object(map)
}

/// A `<a href>`-like hyperlink for a terminal (OSC 8) where stdout is one, else the bare URL.
pub fn hyperlink(url: &str, terminal: bool) -> String {
    if terminal {
        format!("\x1b]8;;{url}\x1b\\{url}\x1b]8;;\x1b\\")
    } else {
        url.to_string()
    }
}
