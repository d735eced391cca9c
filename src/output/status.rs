//! Live lines at the bottom of a terminal: one per piece of long work under way (a build, a pull, a readiness
//! wait), with its elapsed time, while log lines keep flowing above them. The printer's task owns the one
//! [`Area`]: every piece it writes first moves the cursor back over the live lines it drew, erases them, writes
//! the new lines, and draws the live lines again. A live line is cut to the terminal's width so it never wraps,
//! and the count of lines to move back over stays exact.

use std::time::{Duration, Instant};

struct Entry {
    id: u64,
    /// The line's prefix as the printer writes it (`ipfs     » `, coloured or not).
    prefix: String,
    text: String,
    started: Instant,
}

/// The live lines and what of them is on the screen.
pub struct Area {
    entries: Vec<Entry>,
    /// Live lines on the screen; the cursor sits at the start of the line after them.
    drawn: usize,
    /// The visible width of the prefixes.
    width: usize,
    /// Terminal columns.
    cols: usize,
}

/// `12.3s`, `2m05s`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

impl Area {
    /// An empty area for prefixes `width` wide (what the printer puts before a name's lines), on a terminal
    /// `cols` wide.
    pub fn new(width: usize, cols: usize) -> Self {
        Area {
            entries: Vec::new(),
            drawn: 0,
            width,
            cols: cols.max(20),
        }
    }

    /// Sets live line `id` (added at the bottom if new; its elapsed time counts from its first setting).
    pub fn set(&mut self, id: u64, prefix: &str, text: &str, now: Instant) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.text = text.to_string();
        } else {
            self.entries.push(Entry {
                id,
                prefix: prefix.to_string(),
                text: text.to_string(),
                started: now,
            });
        }
    }

    /// Removes live line `id`.
    pub fn remove(&mut self, id: u64) {
        self.entries.retain(|e| e.id != id);
    }

    /// Whether anything is live or still drawn.
    pub fn busy(&self) -> bool {
        !self.entries.is_empty() || self.drawn > 0
    }

    /// The bytes that print `lines` (whole lines) above the live lines and draw those again.
    pub fn frame(&mut self, lines: &[u8], now: Instant) -> Vec<u8> {
        if !self.busy() {
            return lines.to_vec();
        }
        let mut out = Vec::with_capacity(lines.len() + 256);
        if self.drawn > 0 {
            // To the start of the first live line, then erase to the end of the screen.
            out.extend_from_slice(format!("\x1b[{}F\x1b[J", self.drawn).as_bytes());
        }
        out.extend_from_slice(lines);
        for e in &self.entries {
            // The text is cut, never the elapsed time: `name » text… · 1.2s` fits in one line.
            let tail = format!(" · {}", elapsed(now.saturating_duration_since(e.started)));
            let room =
                (self.cols - 1).saturating_sub(self.width + console::measure_text_width(&tail));
            let text = console::truncate_str(&e.text, room, "…");
            out.extend_from_slice(format!("{}{text}{tail}", e.prefix).as_bytes());
            out.push(b'\n');
        }
        self.drawn = self.entries.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn log_lines_go_above_the_live_lines_which_are_drawn_again() {
        let t0 = Instant::now();
        let mut a = Area::new(11, 80);
        assert_eq!(
            text(&a.frame(b"plain\n", t0)),
            "plain\n",
            "nothing live: lines as they are"
        );
        a.set(
            1,
            "pinshare » ",
            "building app:dev: step 6/13 COPY . /src",
            t0,
        );
        a.set(2, "ipfs     » ", "waiting for readiness", t0);
        let f = text(&a.frame(b"", t0 + Duration::from_millis(1500)));
        assert_eq!(
            f,
            "pinshare » building app:dev: step 6/13 COPY . /src · 1.5s\nipfs     » waiting for readiness · 1.5s\n"
        );
        a.set(1, "pinshare » ", "building app:dev: step 7/13 RUN make", t0);
        let f = text(&a.frame(b"ipfs     | Daemon is ready\n", t0 + Duration::from_secs(2)));
        assert_eq!(
            f,
            "\x1b[2F\x1b[Jipfs     | Daemon is ready\npinshare » building app:dev: step 7/13 RUN make · 2.0s\nipfs     » waiting for readiness · 2.0s\n"
        );
        a.remove(1);
        a.remove(2);
        assert!(a.busy(), "still drawn");
        assert_eq!(
            text(&a.frame("pinshare » built in 2 s\n".as_bytes(), t0)),
            "\x1b[2F\x1b[Jpinshare » built in 2 s\n"
        );
        assert!(!a.busy());
        assert_eq!(text(&a.frame(b"x\n", t0)), "x\n");
    }

    #[test]
    fn a_live_line_is_cut_to_the_terminal_so_it_never_wraps() {
        let t0 = Instant::now();
        let mut a = Area::new(7, 30);
        a.set(1, "ipfs » ", &"x".repeat(100), t0);
        let f = text(&a.frame(b"", t0));
        let line = f.trim_end_matches('\n');
        assert_eq!(console::measure_text_width(line), 29, "{line:?}");
        assert!(
            line.ends_with("… · 0.0s"),
            "the elapsed time stays: {line:?}"
        );
    }

    #[test]
    fn elapsed_times_read_well() {
        assert_eq!(elapsed(Duration::from_millis(1234)), "1.2s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2m05s");
    }
}
