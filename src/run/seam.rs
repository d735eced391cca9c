//! Where a container's history meets its live output. The history comes from the logs API, each line stamped
//! by the engine; the live output comes from an attach, which has no stamps. The attach is made first, at a
//! moment between `t1` and `t2`, and the history read after it, so the history's last lines are in the live
//! stream too. A history line stamped after `t2` was written after the attach and is certainly in the live
//! stream; one stamped between `t1` and `t2` may or may not be. The [`Seam`] of each stream (stdout, stderr:
//! each keeps its own order) drops from the live stream exactly the lines the history already printed, and
//! holds back only the few it cannot decide yet.

/// The lines of one container's history, from the logs API's frames: one frame is one message,
/// `TIMESTAMP text`, and a line the engine split (over 16 KiB) comes as several messages, all but the last
/// without a newline. Each stream's parts are joined back into one line, stamped with its first part's time.
#[derive(Debug, Default)]
pub struct HistoryLines {
    /// The unfinished line of stdout and of stderr: its stamp and its bytes so far.
    partial: [Option<(String, Vec<u8>)>; 2],
}

/// One line of history: which stream, the engine's stamp, the text (newline and `\r` trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// From stderr.
    pub stderr: bool,
    /// The engine's RFC 3339 timestamp.
    pub ts: String,
    /// The line.
    pub text: String,
}

impl HistoryLines {
    /// Feeds one frame; returns the line it completed, if any.
    pub fn push(&mut self, stderr: bool, frame: &[u8]) -> Option<Stamped> {
        let slot = &mut self.partial[usize::from(stderr)];
        let (ts, rest) = match frame.iter().position(|&b| b == b' ') {
            Some(i) => (&frame[..i], &frame[i + 1..]),
            None => (frame, &b""[..]),
        };
        let (ts, mut bytes) = match slot.take() {
            // A continuation: its own stamp goes, the first part's stays.
            Some((first, mut so_far)) => {
                so_far.extend_from_slice(rest);
                (first, so_far)
            }
            None => (String::from_utf8_lossy(ts).into_owned(), rest.to_vec()),
        };
        if bytes.last() != Some(&b'\n') {
            *slot = Some((ts, bytes));
            return None;
        }
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        Some(Stamped {
            stderr,
            ts,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// What is left unfinished at the end of the history (a last line without a newline), stdout first.
    pub fn finish(&mut self) -> Vec<Stamped> {
        let mut out = Vec::new();
        for (i, slot) in self.partial.iter_mut().enumerate() {
            if let Some((ts, bytes)) = slot.take() {
                out.push(Stamped {
                    stderr: i == 1,
                    ts,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
        }
        out
    }
}

/// Drops from one live stream the lines its history printed already.
#[derive(Debug)]
pub struct Seam {
    /// The history lines of this stream stamped after `t1`, in order: the live stream starts with the last
    /// `tail.len() - i` of them, for one `i` in `candidates`.
    tail: Vec<String>,
    /// The values of `i` the live lines so far agree with. Only the first lines of `tail` stamped at or before
    /// `t2` can be missing from the live stream, so `i` is at most their number.
    candidates: Vec<usize>,
    /// Live lines seen.
    seen: usize,
    /// Live lines held back while undecided.
    held: Vec<String>,
    /// Decided: every further line is new.
    done: bool,
}

impl Seam {
    /// A seam for one stream: `tail` holds the history lines stamped after `t1`, and the first `undecided` of
    /// them were stamped at or before `t2`.
    pub fn new(tail: Vec<String>, undecided: usize) -> Self {
        let undecided = undecided.min(tail.len());
        Seam {
            done: tail.is_empty(),
            candidates: (0..=undecided).collect(),
            tail,
            seen: 0,
            held: Vec::new(),
        }
    }

    /// A seam with no history to meet: every line is new.
    pub fn open() -> Self {
        Self::new(Vec::new(), 0)
    }

    /// Whether it is decided: every further line is new.
    pub fn decided(&self) -> bool {
        self.done
    }

    /// Whether live lines are held back.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Feeds the next live line; returns the lines that may be printed now.
    pub fn push(&mut self, line: String) -> Vec<String> {
        if self.done {
            return vec![line];
        }
        let (n, k) = (self.tail.len(), self.seen);
        let tail = &self.tail;
        // An attach made while a line was being written starts with the rest of that line.
        let same = |h: &String| {
            if k == 0 {
                h.ends_with(line.as_str())
            } else {
                *h == line
            }
        };
        self.candidates
            .retain(|&i| i + k >= n || same(&tail[i + k]));
        self.seen += 1;
        self.held.push(line);
        if self.candidates.is_empty() {
            // The history and the live stream disagree (a clock far off): print rather than lose a line.
            self.done = true;
            return std::mem::take(&mut self.held);
        }
        if self.candidates.iter().all(|&i| i + self.seen >= n) {
            return self.decide();
        }
        Vec::new()
    }

    /// The live stream went quiet (or ended) while lines are held: take the longest overlap the lines agree
    /// with, and print what is beyond it.
    pub fn settle(&mut self) -> Vec<String> {
        if self.done || self.held.is_empty() {
            return std::mem::take(&mut self.held);
        }
        self.decide()
    }

    fn decide(&mut self) -> Vec<String> {
        self.done = true;
        let i = self
            .candidates
            .iter()
            .copied()
            .min()
            .unwrap_or(self.tail.len());
        let repeated = (self.tail.len() - i).min(self.held.len());
        let new = self.held.split_off(repeated);
        self.held.clear();
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| (*l).to_string()).collect()
    }

    fn feed(seam: &mut Seam, live: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for l in live {
            out.extend(seam.push((*l).to_string()));
        }
        out.extend(seam.settle());
        out
    }

    #[test]
    fn lines_written_after_the_attach_are_printed_once() {
        // History: 1..5 (4 and 5 stamped after t2, so surely live too); live: 4 5 6 7.
        let mut s = Seam::new(lines(&["4", "5"]), 0);
        assert_eq!(feed(&mut s, &["4", "5", "6", "7"]), lines(&["6", "7"]));
    }

    #[test]
    fn a_line_stamped_during_the_attach_is_printed_once_whether_or_not_live_has_it() {
        // "3" was stamped between t1 and t2: the live stream may or may not start with it.
        let mut with = Seam::new(lines(&["3", "4"]), 1);
        assert_eq!(feed(&mut with, &["3", "4", "5"]), lines(&["5"]));
        let mut without = Seam::new(lines(&["3", "4"]), 1);
        assert_eq!(feed(&mut without, &["4", "5"]), lines(&["5"]));
    }

    #[test]
    fn with_no_overlap_every_live_line_is_new() {
        let mut s = Seam::new(lines(&["3"]), 1);
        assert_eq!(feed(&mut s, &["4", "5"]), lines(&["4", "5"]));
        let mut open = Seam::open();
        assert_eq!(open.push("x".into()), lines(&["x"]));
    }

    #[test]
    fn repeated_lines_are_not_taken_for_the_overlap_beyond_what_the_stamps_allow() {
        // "tick" stamped after t2 twice: exactly two live ticks are repeats, the third is new.
        let mut s = Seam::new(lines(&["tick", "tick"]), 0);
        assert_eq!(
            feed(&mut s, &["tick", "tick", "tick", "tock"]),
            lines(&["tick", "tock"])
        );
    }

    #[test]
    fn lines_are_held_only_while_undecided_and_released_when_the_stream_goes_quiet() {
        let mut s = Seam::new(lines(&["3", "4"]), 1);
        // "4" agrees with "3 was missing" (i = 1, overlap done) but not with i = 0: decided at once.
        assert!(s.push("4".into()).is_empty());
        assert!(!s.holding());
        assert_eq!(s.push("5".into()), lines(&["5"]));
        // Undecided: the live stream so far agrees with both readings, then goes quiet.
        let mut s = Seam::new(lines(&["a", "a"]), 1);
        assert!(s.push("a".into()).is_empty());
        assert!(s.holding());
        assert!(
            s.settle().is_empty(),
            "the longest overlap: both a's repeat"
        );
        assert_eq!(s.push("b".into()), lines(&["b"]));
    }

    #[test]
    fn an_attach_made_mid_line_starts_with_the_rest_of_a_line_the_history_has_whole() {
        let mut s = Seam::new(lines(&["38773", "38774"]), 0);
        assert_eq!(feed(&mut s, &["73", "38774", "38775"]), lines(&["38775"]));
    }

    #[test]
    fn a_live_stream_that_disagrees_with_the_history_is_printed_whole() {
        let mut s = Seam::new(lines(&["x", "y"]), 0);
        assert_eq!(feed(&mut s, &["p", "q"]), lines(&["p", "q"]));
    }

    #[test]
    fn split_messages_are_joined_with_the_first_parts_stamp_per_stream() {
        let mut h = HistoryLines::default();
        assert_eq!(h.push(false, b"2026-11-25T05:41:00.1Z aaaa"), None);
        // stderr in between keeps its own line.
        let e = h
            .push(true, b"2026-11-25T05:41:00.2Z oops\r\n")
            .expect("a line");
        assert_eq!(
            (e.stderr, e.ts.as_str(), e.text.as_str()),
            (true, "2026-11-25T05:41:00.2Z", "oops")
        );
        assert_eq!(h.push(false, b"2026-11-25T05:41:00.3Z bbbb"), None);
        let o = h
            .push(false, b"2026-11-25T05:41:00.4Z cc\n")
            .expect("a line");
        assert_eq!(
            (o.stderr, o.ts.as_str(), o.text.as_str()),
            (false, "2026-11-25T05:41:00.1Z", "aaaabbbbcc")
        );
        assert_eq!(h.push(false, b"2026-11-25T05:41:00.5Z \xff\xfeend"), None);
        let rest = h.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text, "\u{fffd}\u{fffd}end");
        assert!(h.finish().is_empty());
    }
}
