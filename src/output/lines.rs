//! Whole lines out of a stream's chunks, which may split a line or hold several.

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
