//! Whole lines out of the chunks a stream delivers (container output, a build's, a probe command's).

/// Reassembles whole lines from chunks that may split or join them.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds a chunk; returns the lines it completed (without the newline, `\r` trimmed).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let mut l = std::mem::take(&mut self.partial);
            l.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            // Valid UTF-8 (nearly always) is taken as it is, without a copy.
            lines.push(
                String::from_utf8(l)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            );
        }
        self.partial.extend_from_slice(rest);
        lines
    }

    /// The unterminated rest, if any (at end of stream).
    pub fn finish(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_chunks_become_whole_lines() {
        let mut s = LineSplitter::default();
        assert!(s.push(b"Daemon is ").is_empty());
        assert_eq!(
            s.push(b"ready\nRPC API\r\nGate"),
            vec!["Daemon is ready".to_string(), "RPC API".to_string()]
        );
        assert_eq!(s.finish(), Some("Gate".to_string()));
        assert_eq!(s.finish(), None);
    }
}
