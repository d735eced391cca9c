//! What `up` and `test` say of themselves, beside their services' lines.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::Event;

/// What `up` and `test` say of themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A mount hands the container part of the host (as described), as `allow_host_mounts` allows.
    HostMount(String),
    /// Manual mode: a save marks its service as pending; this command (as the project spells it) builds it.
    ManualMode(String),
    /// The previous `up` of the project (its pid) ended without cleaning up; what it left is adopted.
    Adopting(u32),
    /// The dashboard is here (its address, a terminal hyperlink on a terminal).
    Dashboard(String),
    /// No dashboard: no port could be had (the error).
    NoDashboard(String),
    /// `test` runs on a throwaway copy of the project.
    TestProject {
        /// The copy's project name.
        copy: String,
        /// The project's.
        of: String,
    },
    /// A test step starts: its number (from 1), of how many, and its name.
    TestStep {
        /// From 1.
        n: usize,
        /// Steps in all.
        of: usize,
        /// The step's name.
        name: String,
    },
    /// A test step passed, in so long.
    StepPassed {
        /// The step's name.
        name: String,
        /// Its time.
        took: Duration,
    },
    /// The JUnit report was written to this file.
    JunitWritten(PathBuf),
}

impl From<Command> for Event {
    fn from(e: Command) -> Self {
        Event::Command(e)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::HostMount(m) => write!(f, "warning: {m} (allowed by allow_host_mounts)"),
            Command::ManualMode(trigger) => write!(
                f,
                "manual mode: a save marks its service as pending; `{trigger}` builds it"
            ),
            Command::Adopting(pid) => write!(
                f,
                "the previous `up` of this project (pid {pid}) ended without cleaning up; adopting what it left running"
            ),
            Command::Dashboard(link) => write!(f, "dashboard: {link}"),
            Command::NoDashboard(e) => write!(f, "warning: no dashboard: {e}"),
            Command::TestProject { copy, of } => {
                write!(f, "test project {copy} (a throwaway copy of {of})")
            }
            Command::TestStep { n, of, name } => write!(f, "step {n}/{of}: {name}"),
            Command::StepPassed { name, took } => {
                write!(f, "step {name} passed ({:.1} s)", took.as_secs_f64())
            }
            Command::JunitWritten(file) => write!(f, "wrote JUnit report {}", file.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::event::tests::reads;

    #[test]
    fn what_up_and_test_say_reads_as_it_always_did() {
        reads(
            Command::HostMount("/var/run/docker.sock:/var/run/docker.sock (a socket)".into()),
            "warning: /var/run/docker.sock:/var/run/docker.sock (a socket) (allowed by allow_host_mounts)",
        );
        reads(
            Command::ManualMode("pinshare-dev trigger SERVICE".into()),
            "manual mode: a save marks its service as pending; `pinshare-dev trigger SERVICE` builds it",
        );
        reads(
            Command::Adopting(4242),
            "the previous `up` of this project (pid 4242) ended without cleaning up; adopting what it left running",
        );
        reads(
            Command::Dashboard("http://127.0.0.1:10350/".into()),
            "dashboard: http://127.0.0.1:10350/",
        );
        reads(
            Command::NoDashboard("ports 10350-10359 are taken".into()),
            "warning: no dashboard: ports 10350-10359 are taken",
        );
        reads(
            Command::TestProject {
                copy: "demo-test-1a2b".into(),
                of: "demo".into(),
            },
            "test project demo-test-1a2b (a throwaway copy of demo)",
        );
        reads(
            Command::TestStep {
                n: 2,
                of: 3,
                name: "api".into(),
            },
            "step 2/3: api",
        );
        reads(
            Command::StepPassed {
                name: "api".into(),
                took: Duration::from_millis(1260),
            },
            "step api passed (1.3 s)",
        );
        reads(
            Command::JunitWritten("out/junit.xml".into()),
            "wrote JUnit report out/junit.xml",
        );
    }
}
