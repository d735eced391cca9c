//! BuildKit's progress as plain lines, the way `docker build --progress=plain` prints it: each step (a vertex
//! of the build graph) gets a number when it first shows up, `#3 [2/5] RUN go build`, then its log lines
//! (`#3 …`), transfers that finished, warnings, and how it ended (`#3 DONE 1.2s`, `#3 CACHED`, `#3 ERROR: …`).
//! The engine sends the same vertex again each time something of it changes; every line is printed once.

use std::collections::{HashMap, HashSet};

use bollard::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog};

/// What has been printed of one build's progress so far.
#[derive(Debug, Default)]
pub(super) struct Trace {
    /// Vertex digest → its number, in the order vertices first appeared.
    numbers: HashMap<String, usize>,
    /// Vertices whose name line was printed.
    named: HashSet<String>,
    /// Vertices whose end (DONE, CACHED, ERROR) was printed.
    ended: HashSet<String>,
    /// Transfers (vertex, status id) whose `done` line was printed.
    transfers: HashSet<(String, String)>,
    /// The part of a vertex's log after its last newline, until the rest of the line comes.
    partial: HashMap<String, String>,
    /// Vertex names, for the error.
    names: HashMap<String, String>,
    /// The first failed step: its name and BuildKit's error. Steps cancelled because another failed come later
    /// and say `context canceled`; the cause is the first error that says something else.
    failure: Option<(String, String)>,
}

impl Trace {
    /// The lines one progress record adds.
    pub(super) fn lines(&mut self, s: &StatusResponse) -> Vec<String> {
        let mut out = Vec::new();
        // Names first, then what happened in them, then how they ended: a record that names a step and ends
        // it reads in that order.
        for v in &s.vertexes {
            let n = self.number(&v.digest);
            if !v.name.is_empty() {
                self.names.insert(v.digest.clone(), v.name.clone());
                if self.named.insert(v.digest.clone()) {
                    out.push(format!("#{n} {}", v.name));
                }
            }
        }
        for st in &s.statuses {
            if st.completed.is_none() || !self.transfers.insert((st.vertex.clone(), st.id.clone()))
            {
                continue;
            }
            let n = self.number(&st.vertex);
            let what = format!("{} {}", st.id, st.name);
            let size = if st.total > 0 || st.current > 0 {
                format!(" {}", bytes(st.current.max(st.total)))
            } else {
                String::new()
            };
            out.push(format!("#{n} {}{size} done", what.trim()));
        }
        for l in &s.logs {
            self.log(l, &mut out);
        }
        for v in &s.vertexes {
            if !self.ended.contains(&v.digest) {
                self.end(v, &mut out);
            }
        }
        for w in &s.warnings {
            let n = self.number(&w.vertex);
            out.push(format!(
                "#{n} WARNING: {}",
                String::from_utf8_lossy(&w.short).trim()
            ));
        }
        out
    }

    /// The complete lines of a step's log record, each with the step's number; the text after the last newline
    /// waits for the rest of its line.
    fn log(&mut self, l: &VertexLog, out: &mut Vec<String>) {
        let n = self.number(&l.vertex);
        let mut text = self.partial.remove(&l.vertex).unwrap_or_default();
        text.push_str(&String::from_utf8_lossy(&l.msg));
        let (complete, rest) = match text.rfind('\n') {
            Some(i) => (&text[..i], &text[i + 1..]),
            None => ("", text.as_str()),
        };
        for line in complete.split('\n') {
            let line = line.trim_end_matches('\r');
            if !line.trim().is_empty() {
                out.push(format!("#{n} {line}"));
            }
        }
        if !rest.is_empty() {
            self.partial.insert(l.vertex.clone(), rest.to_string());
        }
    }

    /// How a step not yet ended ended, if it did: `CACHED`, `ERROR: …` (remembering the first real failure) or
    /// `DONE 1.2s`, after what is left of its log.
    fn end(&mut self, v: &Vertex, out: &mut Vec<String>) {
        let n = self.number(&v.digest);
        if v.cached {
            self.ended.insert(v.digest.clone());
            out.push(format!("#{n} CACHED"));
        } else if !v.error.is_empty() {
            self.ended.insert(v.digest.clone());
            out.extend(self.flush(&v.digest));
            out.push(format!("#{n} ERROR: {}", v.error));
            let cancelled = v.error.contains("context canceled");
            if self
                .failure
                .as_ref()
                .is_none_or(|(_, e)| e.contains("context canceled") && !cancelled)
            {
                self.failure = Some((v.name.clone(), v.error.clone()));
            }
        } else if let Some(done) = &v.completed {
            self.ended.insert(v.digest.clone());
            out.extend(self.flush(&v.digest));
            let secs = v.started.as_ref().map_or(0.0, |start| {
                (done.seconds - start.seconds) as f64 + f64::from(done.nanos - start.nanos) / 1e9
            });
            out.push(format!("#{n} DONE {:.1}s", secs.max(0.0)));
        }
    }

    /// The first failed step as `NAME: ERROR`, once the build has failed.
    pub(super) fn failure(&self) -> Option<String> {
        self.failure.as_ref().map(|(name, e)| {
            if name.is_empty() {
                e.clone()
            } else {
                format!("{name}: {e}")
            }
        })
    }

    /// Whether any step was reported: the engine took the build as a BuildKit build.
    pub(super) fn started(&self) -> bool {
        !self.numbers.is_empty()
    }

    /// Log text still waiting for its newline, at the end of the build.
    pub(super) fn finish(&mut self) -> Vec<String> {
        let mut digests: Vec<String> = self.partial.keys().cloned().collect();
        digests.sort_by_key(|d| self.numbers.get(d).copied().unwrap_or(0));
        digests.iter().flat_map(|d| self.flush(d)).collect()
    }

    fn flush(&mut self, digest: &str) -> Vec<String> {
        match self.partial.remove(digest) {
            Some(rest) if !rest.trim().is_empty() => {
                vec![format!("#{} {}", self.number(digest), rest.trim_end())]
            }
            _ => Vec::new(),
        }
    }

    fn number(&mut self, digest: &str) -> usize {
        let next = self.numbers.len() + 1;
        *self.numbers.entry(digest.to_string()).or_insert(next)
    }
}

/// `2.3MB`, `340B`: the sizes BuildKit's plain output shows.
fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1e3 {
        format!("{n}B")
    } else if n < 1e6 {
        format!("{:.2}kB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.2}MB", n / 1e6)
    } else {
        format!("{:.2}GB", n / 1e9)
    }
}
