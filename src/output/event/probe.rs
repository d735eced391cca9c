//! A readiness wait that failed: the probes before it gave up.

use std::fmt;
use std::time::Duration;

use super::{Event, ms};

/// A failed readiness wait's last probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A probe, so long after the wait began, did not pass: why.
    Missed {
        /// Since the wait began.
        after: Duration,
        /// What the probe found.
        why: String,
    },
}

impl From<Probe> for Event {
    fn from(e: Probe) -> Self {
        Event::Probe(e)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Missed { after, why } => write!(f, "probe at {} ms: {why}", ms(*after)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_probe_reads_as_it_always_did() {
        let missed = Probe::Missed {
            after: Duration::from_millis(1500),
            why: "connection refused".into(),
        };
        assert_eq!(
            Event::from(missed).to_string(),
            "probe at 1500 ms: connection refused"
        );
    }
}
