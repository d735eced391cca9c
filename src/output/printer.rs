//! The one writer that owns the terminal. Every container line and every tool event goes through one channel
//! to one task, so lines never interleave mid-line. Container lines get `name | `, tool events `name » `,
//! the name padded to a fixed width and coloured by a stable hash of the name.

use std::io::Write;

use console::{Color, Style};
use tokio::sync::{mpsc, oneshot};

/// Name on the tool's own project-wide events.
pub const TOOL: &str = "pinshare-dev";

/// Separator of container output.
pub const LOG_SEP: &str = "|";
/// Separator of the tool's own events.
pub const EVENT_SEP: &str = "»";

enum Msg {
    Line(String),
    Flush(oneshot::Sender<()>),
}

/// Where the printer task writes.
enum Sink {
    Stdout,
    #[cfg(test)]
    Discard,
    #[cfg(test)]
    Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>),
}

/// Handle to the printer task; cheap to clone.
#[derive(Clone)]
pub struct Printer {
    tx: mpsc::UnboundedSender<Msg>,
    width: usize,
    color: bool,
    /// When the current engine outage began: however many subscriptions notice it, one run says so once.
    outage: Outage,
}

/// When the current engine outage began, if one is under way.
pub type Outage = std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>;

const PALETTE: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Red,
];

/// Stable colour of a name: the same name gets the same colour in every run and terminal.
pub fn color_of(name: &str) -> Color {
    // FNV-1a: tiny, stable across releases (unlike std's hasher).
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    PALETTE[(h as usize) % PALETTE.len()]
}

/// `name | text` with the name padded to `width`.
pub fn format_line(name: &str, width: usize, sep: &str, text: &str, color: bool) -> String {
    let prefix = format!("{name:<width$} {sep}");
    if color {
        let style = Style::new().fg(color_of(name)).force_styling(true);
        let style = if sep == EVENT_SEP {
            style.bold()
        } else {
            style
        };
        format!("{} {text}", style.apply_to(prefix))
    } else {
        format!("{prefix} {text}")
    }
}

impl Printer {
    /// Starts the printer task writing to stdout. `names` fixes the prefix width.
    pub fn spawn<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::spawn_writing(names, Sink::Stdout)
    }

    /// A printer that formats every line and writes none, for tests of what drives it.
    #[cfg(test)]
    pub(crate) fn quiet<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::spawn_writing(names, Sink::Discard)
    }

    /// A printer that keeps every line (uncoloured, without its newline) for a test to read back.
    #[cfg(test)]
    pub(crate) fn capturing<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> (Self, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let lines = std::sync::Arc::default();
        let mut p = Self::spawn_writing(names, Sink::Capture(std::sync::Arc::clone(&lines)));
        p.color = false;
        (p, lines)
    }

    fn spawn_writing<'a>(names: impl IntoIterator<Item = &'a str>, sink: Sink) -> Self {
        let width = names.into_iter().map(str::len).max().unwrap_or(4).max(4);
        let color = console::colors_enabled();
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match (msg, &sink) {
                    (Msg::Line(l), Sink::Stdout) => {
                        let mut out = std::io::stdout().lock();
                        // A closed stdout (e.g. `| head`) is not worth crashing over.
                        let _ = out.write_all(l.as_bytes());
                        let _ = out.flush();
                    }
                    #[cfg(test)]
                    (Msg::Line(_), Sink::Discard) => {}
                    #[cfg(test)]
                    (Msg::Line(l), Sink::Capture(lines)) => {
                        if let Ok(mut v) = lines.lock() {
                            v.push(l.trim_end_matches('\n').to_string());
                        }
                    }
                    (Msg::Flush(done), _) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Printer {
            tx,
            width,
            color,
            outage: Outage::default(),
        }
    }

    /// The run's engine-outage state, shared by its clones.
    pub fn outage(&self) -> &Outage {
        &self.outage
    }

    /// A container output line.
    pub fn log(&self, service: &str, text: &str) {
        let text = crate::output::redact::outgoing(text);
        let mut l = format_line(service, self.width, LOG_SEP, &text, self.color);
        l.push('\n');
        let _ = self.tx.send(Msg::Line(l));
    }

    /// A tool event about a service (or the project).
    pub fn event(&self, name: &str, text: &str) {
        let text = crate::output::redact::outgoing(text);
        let mut l = format_line(name, self.width, EVENT_SEP, &text, self.color);
        l.push('\n');
        let _ = self.tx.send(Msg::Line(l));
    }

    /// A line printed as is.
    pub fn raw(&self, text: &str) {
        let text = crate::output::redact::outgoing(text);
        let _ = self.tx.send(Msg::Line(format!("{text}\n")));
    }

    /// A printer for a command's plain output (no prefixes): `ps`, `doctor`, `down`, `check` and the like.
    pub fn plain() -> Self {
        Self::spawn(std::iter::empty())
    }

    /// Text printed as is, one or more lines; a missing last newline is added, empty text prints nothing.
    pub fn block(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = crate::output::redact::outgoing(text);
        let mut l = text.into_owned();
        if !l.ends_with('\n') {
            l.push('\n');
        }
        let _ = self.tx.send(Msg::Line(l));
    }

    /// Waits until everything sent so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Reassembles whole lines from chunks that may split or join them.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds a chunk; returns the lines it completed (without the newline, `\r` trimmed).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                let mut l = std::mem::take(&mut self.partial);
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                lines.push(String::from_utf8_lossy(&l).into_owned());
            } else {
                self.partial.push(b);
            }
        }
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
    fn prefixes_are_padded_to_a_fixed_width() {
        assert_eq!(
            format_line("ipfs", 8, LOG_SEP, "Daemon is ready", false),
            "ipfs     | Daemon is ready"
        );
        assert_eq!(
            format_line("pinshare", 8, LOG_SEP, "GET /health 200", false),
            "pinshare | GET /health 200"
        );
        assert_eq!(
            format_line("ipfs", 8, EVENT_SEP, "ready in 80 ms", false),
            "ipfs     » ready in 80 ms"
        );
    }

    #[test]
    fn colours_are_stable_per_name() {
        assert_eq!(color_of("ipfs"), color_of("ipfs"));
        let s = format_line("ipfs", 4, LOG_SEP, "x", true);
        assert!(s.contains("\u{1b}["), "{s:?}");
        assert!(s.ends_with(" x"));
    }

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
