//! Whole lines in one write each.

use std::io::Write;

/// Writes one whole line (text + '\n') to stdout with a single write.
pub fn out(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    let mut lock = std::io::stdout().lock();
    let _ = lock.write_all(s.as_bytes());
    let _ = lock.flush();
}

/// Writes one whole line to stderr with a single write.
pub fn err(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}
