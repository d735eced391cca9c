//! `doctor`: what would stop `up` on this machine, found before anything runs — the engine and its API version,
//! every published host port (and who holds a busy one), every image (present, or to pull or build), the
//! inotify limits against what watching this spec needs, bind-mount ownership against the container's user, and the free space of the Docker root. Every
//! problem comes with the command that fixes it. `preflight` is the cheap subset `up` runs before it creates
//! anything: the published ports.
//!
//! The decisions are pure functions ([`check_ports`], [`inotify_finding`], [`mount_finding`],
//! [`disk_finding`]) tested without an engine; [`doctor`] and [`preflight`] only gather the facts.

pub(crate) mod port_owner;

mod disk;
mod engine;
mod images;
mod inotify;
mod mounts;
mod ports;

pub use mounts::{RunAs, host_mount_findings, id_remapping, parse_user};
pub use ports::{check_ports, holders, preflight};

use disk::disk_check;
use engine::engine_check;
use images::image_checks;
use inotify::inotify_check;
use mounts::mount_checks;
use ports::{bind_probe, engine_is_local, published};

use console::Style;

use crate::error::{EXIT_OK, EXIT_RUNTIME, Result};
use crate::spec::Spec;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Not checked, and why.
    Skip,
    /// `up` works, but something is likely to bite.
    Warn,
    /// `up` would fail.
    Fail,
}

impl Status {
    /// As `doctor` prints it: `ok`, `skip`, `warn`, `FAIL`.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }

    fn style(self) -> Style {
        let s = Style::new().force_styling(true);
        match self {
            Status::Ok => s.green(),
            Status::Skip => s.dim(),
            Status::Warn => s.yellow(),
            Status::Fail => s.red().bold(),
        }
    }
}

/// One line of `doctor`: a check's outcome and, when it is not ok, the commands that fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Outcome.
    pub status: Status,
    /// Which check: `engine`, `port`, `inotify`, `mount`, `disk`.
    pub check: &'static str,
    /// What was found.
    pub text: String,
    /// What to run or change, one action per entry.
    pub fix: Vec<String>,
}

impl Finding {
    fn new(status: Status, check: &'static str, text: impl Into<String>) -> Self {
        Finding {
            status,
            check,
            text: text.into(),
            fix: Vec::new(),
        }
    }

    fn fix(mut self, action: impl Into<String>) -> Self {
        self.fix.push(action.into());
        self
    }
}

/// Width of the mark and check columns, so fix lines line up under the text.
const MARK_WIDTH: usize = 4;
const CHECK_WIDTH: usize = 7;

/// `ok   port    127.0.0.1:5001 (ipfs): free`, then one indented `fix:` line per action.
pub fn render(f: &Finding, color: bool) -> String {
    let mark = format!("{:<MARK_WIDTH$}", f.status.mark());
    let mark = if color {
        f.status.style().apply_to(mark).to_string()
    } else {
        mark
    };
    let mut out = format!("{mark} {:<CHECK_WIDTH$} {}\n", f.check, f.text);
    for action in &f.fix {
        out.push_str(&format!(
            "{:indent$}fix: {action}\n",
            "",
            indent = MARK_WIDTH + CHECK_WIDTH + 2
        ));
    }
    out
}

/// The last line: counts of failures and warnings.
pub fn summary(findings: &[Finding]) -> String {
    let fails = findings.iter().filter(|f| f.status == Status::Fail).count();
    let warns = findings.iter().filter(|f| f.status == Status::Warn).count();
    match (fails, warns) {
        (0, 0) => "doctor: no problems found".to_string(),
        (0, w) => format!("doctor: no failures, {w} warning(s)"),
        (f, w) => format!(
            "doctor: {f} failure(s), {w} warning(s); `up` would fail until the FAIL lines are fixed"
        ),
    }
}

/// Runs every check, printing one line per finding as it comes; returns 0 when nothing fails, 1 otherwise.
pub async fn doctor(spec: &Spec, out: &crate::output::printer::Printer) -> Result<u8> {
    let color = console::colors_enabled();
    let mut all = Vec::new();
    check_all(spec, &mut |found: Vec<Finding>| {
        for f in &found {
            out.block(&render(f, color));
        }
        all.extend(found);
    })
    .await;
    out.block(&summary(&all));
    Ok(if all.iter().any(|f| f.status == Status::Fail) {
        EXIT_RUNTIME
    } else {
        EXIT_OK
    })
}

/// Every check's findings, handed to `emit` as they come (`doctor` prints them, the dashboard collects them).
pub async fn check_all(spec: &Spec, emit: &mut (dyn FnMut(Vec<Finding>) + Send)) {
    let (engine_finding, engine) = engine_check().await;
    emit(vec![engine_finding]);
    if engine.is_none() {
        emit(vec![Finding::new(
            Status::Skip,
            "engine",
            "without an engine: port holders are not named, image users and the Docker root's disk space are not checked",
        )]);
    }

    let ports = published(spec, &spec.order);
    let holders = match &engine {
        Some(e) => match e.running_containers().await {
            Ok(list) => holders(list),
            Err(err) => {
                emit(vec![Finding::new(Status::Warn, "port", err.to_string())]);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let file = spec.file.display().to_string();
    let port_findings: Vec<Finding> = if ports.is_empty() {
        vec![Finding::new(Status::Ok, "port", "no published ports")]
    } else {
        check_ports(
            &spec.project,
            &ports,
            &holders,
            bind_probe(
                engine_is_local(),
                crate::run::lock::holder(&spec.project).filter(|pid| *pid != 0),
            ),
        )
        .iter()
        .map(|c| c.finding(&file))
        .collect()
    };
    emit(port_findings);
    emit(image_checks(engine.as_deref(), spec).await);

    emit(vec![inotify_check(spec)]);
    let info = match &engine {
        Some(e) => match e.info().await {
            Ok(i) => Some(i),
            Err(err) => {
                emit(vec![Finding::new(Status::Warn, "disk", err.to_string())]);
                None
            }
        },
        None => None,
    };
    let remapped = info
        .as_ref()
        .and_then(|i| id_remapping(&i.security_options));
    emit(mount_checks(engine.as_deref(), remapped.as_deref(), spec).await);
    emit(host_mount_findings(spec));
    if let Some(i) = &info {
        emit(vec![disk_check(i)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_render_with_aligned_fix_lines_and_a_summary() {
        let f = Finding::new(Status::Fail, "port", "127.0.0.1:5001 (ipfs): in use").fix("stop it");
        assert_eq!(
            render(&f, false),
            "FAIL port    127.0.0.1:5001 (ipfs): in use\n             fix: stop it\n"
        );
        assert_eq!(
            render(&Finding::new(Status::Ok, "engine", "x"), false),
            "ok   engine  x\n"
        );
        assert_eq!(
            summary(&[f, Finding::new(Status::Warn, "disk", "y")]),
            "doctor: 1 failure(s), 1 warning(s); `up` would fail until the FAIL lines are fixed"
        );
    }
}
