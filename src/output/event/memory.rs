//! The foreground `up`'s memory watch: a container near its memory limit.

use std::fmt;

use super::Event;
use crate::usage::{bytes, quantity};

/// A container's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Memory {
    /// The container uses `percent` (whole, as shown) of its `limit`: `in_use` bytes; the kernel OOM-kills it
    /// at the limit.
    NearLimit {
        /// Percent of the limit in use, rounded as the line shows it.
        percent: u32,
        /// The limit, in bytes.
        limit: u64,
        /// Bytes in use.
        in_use: u64,
    },
}

impl From<Memory> for Event {
    fn from(e: Memory) -> Self {
        Event::Memory(e)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Memory::NearLimit {
                percent,
                limit,
                in_use,
            } => write!(
                f,
                "warning: memory at {percent}% of its {} limit ({} in use); at the limit the kernel OOM-kills it — raise resources.memory_limit in the spec (`pinshare-dev stats` shows the figures)",
                quantity(*limit),
                bytes(*in_use)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_warning_reads_as_it_always_did() {
        const MI: u64 = 1 << 20;
        let near = Memory::NearLimit {
            percent: 93,
            limit: 1024 * MI,
            in_use: 950 * MI,
        };
        assert_eq!(
            Event::from(near).to_string(),
            "warning: memory at 93% of its 1Gi limit (950.0MiB in use); at the limit the kernel OOM-kills it — raise resources.memory_limit in the spec (`pinshare-dev stats` shows the figures)"
        );
    }
}
