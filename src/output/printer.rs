//! The one writer that owns the terminal. Every container line and every tool event goes through it, so lines
//! never interleave mid-line. Container lines get `name | `, tool events `name » `, the name padded to a fixed
//! width and coloured (`colours.rs`: different colours within a project, the same in every run).
//!
//! Container lines go through a bounded channel: a container that floods the terminal slows its reader (and
//! through the attach stream, its own writes) instead of growing memory. Tool events go through their own
//! channel and are taken first, so "ready" or "exited" appear promptly under a flood. Whatever is queued is
//! written in one piece, up to [`BATCH`] bytes, when the channels run dry: one write per burst, not per line.
//! The writes themselves happen on a thread of their own, so a stdout that blocks (a paused pager) blocks only
//! that thread; [`Printer::abandon`] then lets the rest of the run finish without it.
//!
//! A stdout whose reader went away (`up | head -5`) is found out on the next write (EPIPE) or, for a pipe or
//! a socket, as soon as the reader closes it: the output is given up and [`Printer::output_closed`] fires, so
//! a command stops as it would on Ctrl-C instead of running on for nobody.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use console::{Color, Style};

use crate::output::colours::Colours;
use crate::output::event::Event;
use crate::output::status;
use crate::output::tap::{Source, Tap, Tapped};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Name on the tool's own project-wide events.
pub const TOOL: &str = "pinshare-dev";

/// Separator of container output.
pub const LOG_SEP: &str = "|";
/// Separator of the tool's own events.
pub const EVENT_SEP: &str = "»";

/// Container lines queued at most before their readers wait.
const QUEUED_LINES: usize = 1024;
/// Bytes written at most in one piece.
const BATCH: usize = 64 * 1024;

enum Msg {
    Line(String),
    Flush(oneshot::Sender<()>),
    /// Set (or, with no text, remove) a live line.
    Status {
        id: u64,
        name: String,
        text: Option<String>,
    },
}

/// What every printer of one command agrees on, from its command line: the command's first printer
/// ([`Printer::plain`]) is given it, and every printer made from that one ([`Printer::spawn`]) carries it on.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--progress plain`: no live lines, every builder and probe line as it comes, even on a terminal.
    pub progress_plain: bool,
    /// The secret values taken out of every line (shared: set on one printer, they hold for all).
    pub secrets: crate::output::redact::Secrets,
}

/// What the writer thread is handed.
enum Out {
    Bytes(Vec<u8>),
    Written(oneshot::Sender<()>),
}

/// What a sink is, once it is handed to the writer.
enum SinkKind {
    Stdout,
    Stderr,
    #[cfg(test)]
    Test,
}

/// Where the writer thread writes.
enum Sink {
    Stdout,
    Stderr,
    #[cfg(test)]
    Discard,
    #[cfg(test)]
    Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>),
    /// A stdout that blocks until its gate opens (a paused pager), on the writer thread like stdout.
    #[cfg(test)]
    Gated(Gate, std::sync::Arc<std::sync::Mutex<Vec<String>>>),
}

/// The gate of a [`Sink::Gated`]: writes wait while it is closed.
#[cfg(test)]
pub(crate) type Gate = std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>;

impl Sink {
    /// Writes `bytes`; `false` once the reader has gone (a closed pipe).
    fn write(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let gone = |r: std::io::Result<()>| {
                    r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                };
                // Any other error (a full disk under a redirect) is not worth stopping the run over.
                !(gone(out.write_all(bytes)) || gone(out.flush()))
            }
            Sink::Stderr => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(bytes);
                let _ = err.flush();
                true
            }
            #[cfg(test)]
            Sink::Discard => true,
            #[cfg(test)]
            Sink::Capture(lines) => {
                if let Ok(mut v) = lines.lock() {
                    let text = String::from_utf8_lossy(bytes);
                    v.extend(text.lines().map(str::to_string));
                }
                true
            }
            #[cfg(test)]
            Sink::Gated(gate, lines) => {
                let (open, cv) = &**gate;
                let mut o = open
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                while !*o {
                    o = cv
                        .wait(o)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                drop(o);
                Sink::Capture(std::sync::Arc::clone(lines)).write(bytes)
            }
        }
    }
}

/// Handle to the printer; cheap to clone.
#[derive(Clone)]
pub struct Printer {
    /// Everything, in order; container lines wait here when it is full.
    main: mpsc::Sender<Msg>,
    /// Tool events and flushes that found `main` full.
    urgent: mpsc::UnboundedSender<Msg>,
    /// Whether live lines are shown (a terminal, not `--progress plain`).
    live: bool,
    /// The id of the next live line.
    next_status: Arc<AtomicU64>,
    /// Set when the output is given up on: container lines are dropped from then on, and flushes return.
    abandoned: CancellationToken,
    /// Set when stdout's reader has gone (a closed pipe); the output is abandoned too.
    closed: CancellationToken,
    /// When the writer thread's current write began (stdout only).
    busy_since: Option<Arc<AtomicU64>>,
    width: usize,
    /// The prefixes' colours; `None` when the output is not coloured.
    colours: Option<Arc<Colours>>,
    /// When the current engine outage began: however many subscriptions notice it, one run says so once.
    outage: Outage,
    /// A copy of every line for readers other than the terminal (the dashboard).
    tap: Tap,
    /// What the printers made from this one are given.
    settings: Settings,
}

/// When the current engine outage began, if one is under way.
pub type Outage = std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>;

/// `name | text` with the name padded to `width`, the prefix in `colour` if one is given.
pub fn format_line(
    name: &str,
    width: usize,
    sep: &str,
    text: &str,
    colour: Option<Color>,
) -> String {
    let prefix = format!("{name:<width$} {sep}");
    if let Some(colour) = colour {
        let style = Style::new().fg(colour).force_styling(true);
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

/// The printer's two queues: everything in order through the bounded `main` one; a tool event that finds it
/// full (a flood) goes to `urgent`, which is taken first.
struct Queues {
    main: mpsc::Receiver<Msg>,
    urgent: mpsc::UnboundedReceiver<Msg>,
    urgent_open: bool,
}

impl Queues {
    async fn next(&mut self) -> Option<Msg> {
        while self.urgent_open {
            tokio::select! {
                biased;
                m = self.urgent.recv() => match m {
                    Some(m) => return Some(m),
                    None => self.urgent_open = false,
                },
                m = self.main.recv() => return m,
            }
        }
        self.main.recv().await
    }

    fn try_next(&mut self) -> Option<Msg> {
        self.urgent
            .try_recv()
            .or_else(|_| self.main.try_recv())
            .ok()
    }
}

/// Where gathered pieces go: the writer thread for stdout; in tests, the sink itself, inline, so a test under
/// tokio's paused clock never sees the runtime idle while a line is on its way.
enum Writer {
    Thread {
        out: mpsc::Sender<Out>,
        /// When the write under way began (milliseconds since the thread started; 0: none under way).
        busy_since: Arc<AtomicU64>,
    },
    #[cfg(test)]
    Inline(Sink),
}

impl Writer {
    async fn write(&self, bytes: Vec<u8>) -> bool {
        match self {
            Writer::Thread { out, .. } => out.send(Out::Bytes(bytes)).await.is_ok(),
            #[cfg(test)]
            Writer::Inline(sink) => {
                sink.write(&bytes);
                true
            }
        }
    }

    async fn written(&self, done: oneshot::Sender<()>) {
        match self {
            Writer::Thread { out, .. } => {
                let _ = out.send(Out::Written(done)).await;
            }
            #[cfg(test)]
            Writer::Inline(_) => {
                let _ = done.send(());
            }
        }
    }
}

/// The live lines, with the prefix width and colouring of the printer's names.
type LiveArea = (status::Area, usize, Option<Arc<Colours>>);

/// How often live lines are drawn again (their elapsed times move) while nothing else is written.
const TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// Gathers what is queued into one piece, until the queues are dry or the piece is full, and hands it to the
/// writer. A flush is answered once everything queued before it is written. With live lines (`area`), the
/// piece is framed by them, and they are drawn again every [`TICK`] while they are there. `false` once the
/// printer is gone.
async fn gather(q: &mut Queues, out: &Writer, area: &mut Option<LiveArea>) -> bool {
    let mut buf = Vec::new();
    let mut dirty = false;
    let frame = |area: &mut Option<LiveArea>, buf: Vec<u8>| match area {
        Some((a, ..)) => a.frame(&buf, std::time::Instant::now()),
        None => buf,
    };
    let mut next = if area.as_ref().is_some_and(|(a, ..)| a.busy()) {
        match tokio::time::timeout(TICK, q.next()).await {
            Ok(m) => m,
            Err(_) => return out.write(frame(area, Vec::new())).await,
        }
    } else {
        q.next().await
    };
    let open = loop {
        match next {
            None => break false,
            Some(Msg::Line(l)) => buf.extend_from_slice(l.as_bytes()),
            Some(Msg::Status { id, name, text }) => {
                if let Some((a, width, colours)) = area.as_mut() {
                    match text {
                        Some(t) => {
                            let colour = colours.as_ref().map(|c| c.of(&name));
                            let prefix = format_line(&name, *width, EVENT_SEP, "", colour);
                            a.set(id, &prefix, &t, std::time::Instant::now());
                        }
                        None => a.remove(id),
                    }
                    dirty = true;
                }
            }
            Some(Msg::Flush(done)) => {
                // A flush that overtook a full queue: what was queued before it goes first.
                while let Ok(Msg::Line(l)) = q.main.try_recv() {
                    buf.extend_from_slice(l.as_bytes());
                }
                let bytes = frame(area, std::mem::take(&mut buf));
                // Nothing to write is not a write: a stdout held by a blocked writer must not hold a flush.
                if !bytes.is_empty() {
                    out.write(bytes).await;
                }
                out.written(done).await;
                dirty = false;
            }
        }
        if buf.len() >= BATCH {
            break true;
        }
        next = q.try_next();
        if next.is_none() {
            break true;
        }
    };
    if (!buf.is_empty() || dirty) && !out.write(frame(area, buf)).await {
        return false;
    }
    open
}

impl Printer {
    /// Starts another printer writing to stdout, with this one's settings. `names` fixes the prefix width.
    pub fn spawn<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::spawn_writing(names, Sink::Stdout, self.settings.clone())
    }

    /// Starts another printer writing to stderr, every line as it comes, with this one's settings: the tool's
    /// own lines when stdout is a command's (`run`).
    pub fn spawn_stderr<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::spawn_writing(names, Sink::Stderr, self.settings.clone())
    }

    /// A printer that formats every line and writes none, for tests of what drives it.
    #[cfg(test)]
    pub(crate) fn quiet<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::spawn_writing(names, Sink::Discard, Settings::default())
    }

    /// A printer whose stdout blocks while `gate` is closed; it keeps every line written, as `capturing`.
    #[cfg(test)]
    pub(crate) fn gated<'a>(
        names: impl IntoIterator<Item = &'a str>,
        gate: Gate,
    ) -> (Self, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let lines = std::sync::Arc::default();
        let mut p = Self::spawn_writing(
            names,
            Sink::Gated(gate, std::sync::Arc::clone(&lines)),
            Settings::default(),
        );
        p.colours = None;
        (p, lines)
    }

    /// A printer that keeps every line (uncoloured, without its newline) for a test to read back.
    #[cfg(test)]
    pub(crate) fn capturing<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> (Self, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let lines = std::sync::Arc::default();
        let mut p = Self::spawn_writing(
            names,
            Sink::Capture(std::sync::Arc::clone(&lines)),
            Settings::default(),
        );
        p.colours = None;
        (p, lines)
    }

    fn spawn_writing<'a>(
        names: impl IntoIterator<Item = &'a str>,
        sink: Sink,
        settings: Settings,
    ) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(4);
        let colours = console::colors_enabled().then(|| Arc::new(Colours::for_names(names, TOOL)));
        let (urgent, urgent_rx) = mpsc::unbounded_channel::<Msg>();
        let (main, main_rx) = mpsc::channel::<Msg>(QUEUED_LINES);
        let sink_kind = match &sink {
            Sink::Stdout => SinkKind::Stdout,
            Sink::Stderr => SinkKind::Stderr,
            #[cfg(test)]
            _ => SinkKind::Test,
        };
        let abandoned = CancellationToken::new();
        let closed = CancellationToken::new();
        let tokens = (abandoned.clone(), closed.clone());
        let writer = match sink {
            Sink::Stdout | Sink::Stderr => Self::writer_thread(sink, tokens),
            #[cfg(test)]
            Sink::Gated(..) => Self::writer_thread(sink, tokens),
            #[cfg(test)]
            other => Writer::Inline(other),
        };
        let busy_since = match &writer {
            Writer::Thread { busy_since, .. } => Some(Arc::clone(busy_since)),
            #[cfg(test)]
            Writer::Inline(_) => None,
        };
        let mut queues = Queues {
            main: main_rx,
            urgent: urgent_rx,
            urgent_open: true,
        };
        // Live lines only where someone watches: a terminal, unless `--progress plain`.
        let live = matches!(sink_kind, SinkKind::Stdout)
            && !settings.progress_plain
            && console::Term::stdout().is_term();
        let mut area = live.then(|| {
            let cols = console::Term::stdout().size().1.into();
            // `name » `: the name padded to `width`, the separator, two spaces.
            (status::Area::new(width + 3, cols), width, colours.clone())
        });
        tokio::spawn(async move { while gather(&mut queues, &writer, &mut area).await {} });
        Printer {
            main,
            urgent,
            live,
            next_status: Arc::default(),
            abandoned,
            closed,
            busy_since,
            width,
            colours,
            outage: Outage::default(),
            tap: Tap::default(),
            settings,
        }
    }

    /// The writer: a thread, not a task, so a blocked stdout never holds a runtime worker; the process ends
    /// without waiting for it. A write that finds the reader gone cancels both `(abandoned, closed)`.
    fn writer_thread(
        sink: Sink,
        (abandoned, closed): (CancellationToken, CancellationToken),
    ) -> Writer {
        let (out, mut out_rx) = mpsc::channel::<Out>(2);
        let busy_since = Arc::new(AtomicU64::new(0));
        let epoch = std::time::Instant::now();
        let busy = Arc::clone(&busy_since);
        let gone = CancellationToken::new();
        if matches!(sink, Sink::Stdout) {
            crate::output::reader::watch_reader(abandoned.clone(), closed.clone(), gone.clone());
        }
        std::thread::Builder::new()
            .name("pinshare-dev-printer".into())
            .spawn(move || {
                let _gone = gone.drop_guard();
                while let Some(o) = out_rx.blocking_recv() {
                    match o {
                        Out::Bytes(b) => {
                            let now =
                                u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                            busy.store(now.max(1), Ordering::SeqCst);
                            if !sink.write(&b) {
                                closed.cancel();
                                abandoned.cancel();
                            }
                            busy.store(0, Ordering::SeqCst);
                        }
                        Out::Written(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .expect("the printer thread starts");
        Writer::Thread { out, busy_since }
    }

    /// From now on, a write to stdout that blocks longer than `limit` (a paused pager, a terminal nobody
    /// reads) gives the output up , so a shutdown that waits for its last lines still
    /// ends. Watched on a thread of its own, on the wall clock.
    pub fn give_up_if_stuck(&self, limit: std::time::Duration) {
        let Some(busy) = self.busy_since.clone() else {
            return;
        };
        let abandoned = self.abandoned.clone();
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let _ = std::thread::Builder::new()
            .name("pinshare-dev-stuck".into())
            .spawn(move || {
                let mut blocked_for = 0u64;
                let mut last_seen = 0u64;
                while !abandoned.is_cancelled() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    let b = busy.load(Ordering::SeqCst);
                    // The same write still under way: stuck a little longer.
                    if b != 0 && b == last_seen {
                        blocked_for += 100;
                    } else {
                        blocked_for = 0;
                    }
                    last_seen = b;
                    if blocked_for >= limit_ms {
                        abandoned.cancel();
                    }
                }
            });
    }

    /// The colour of `name`'s prefix, if the output is coloured.
    fn colour(&self, name: &str) -> Option<Color> {
        self.colours.as_ref().map(|c| c.of(name))
    }

    /// Cancelled once stdout's reader has gone (`| head` read its lines): the command should stop as on
    /// Ctrl-C; nothing it prints is shown any more.
    pub fn output_closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// The run's engine-outage state, shared by its clones.
    pub fn outage(&self) -> &Outage {
        &self.outage
    }

    /// A container output line (from stdout, or written by the tool in its place). It waits while the queue of
    /// lines is full, so a flood slows its reader; once the output is abandoned it drops the line.
    pub async fn log(&self, service: &str, text: &str) {
        self.output(service, false, text).await;
    }

    /// A container output line from its stdout or its `stderr`; waits and drops as [`Printer::log`] does.
    pub async fn output(&self, service: &str, stderr: bool, text: &str) {
        let text = self.settings.secrets.outgoing(text);
        let source = Source::output(stderr);
        self.tap.copy(service, source, || vec![text.to_string()]);
        let mut l = format_line(service, self.width, LOG_SEP, &text, self.colour(service));
        l.push('\n');
        tokio::select! {
            biased;
            () = self.abandoned.cancelled() => {}
            _ = self.main.send(Msg::Line(l)) => {}
        }
    }

    /// Several container lines of one service, all from its stdout or all from its `stderr`, queued as one
    /// piece: one channel message and one prefix for a whole chunk of a flood. Waits, and drops, as
    /// [`Printer::log`] does.
    pub async fn log_batch(&self, service: &str, stderr: bool, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let prefix = format_line(service, self.width, LOG_SEP, "", self.colour(service));
        let mut piece =
            String::with_capacity(lines.iter().map(|l| l.len() + prefix.len() + 1).sum());
        for l in lines {
            piece.push_str(&prefix);
            piece.push_str(&self.settings.secrets.outgoing(l));
            piece.push('\n');
        }
        let redacted = || {
            lines
                .iter()
                .map(|l| self.settings.secrets.outgoing(l).into_owned())
        };
        self.tap
            .copy(service, Source::output(stderr), || redacted().collect());
        tokio::select! {
            biased;
            () = self.abandoned.cancelled() => {}
            _ = self.main.send(Msg::Line(piece)) => {}
        }
    }

    /// Every line printed from now on, redacted, without prefix or colour (see [`Tap`]).
    pub fn tap(&self) -> broadcast::Receiver<Tapped> {
        self.tap.subscribe()
    }

    /// A line of free text about a service (or the project), as an event would print it: the tests' raw events
    /// (what the run says is typed: [`Printer::say`]).
    #[cfg(test)]
    pub fn event(&self, name: &str, text: &str) {
        self.event_line(name, text, None);
    }

    /// One of the dev loop's events about a service (or the project): its line, and the event itself to the
    /// readers of the tap — unless the line held a secret value, which only the redacted line may carry on.
    pub fn say(&self, name: &str, event: impl Into<Event>) {
        let event = event.into();
        self.event_line(name, &event.to_string(), Some(event));
    }

    fn event_line(&self, name: &str, text: &str, event: Option<Event>) {
        let text = self.settings.secrets.outgoing(text);
        let event = event.filter(|_| matches!(text, std::borrow::Cow::Borrowed(_)));
        self.tap
            .copy_event(name, Source::Event, || vec![text.to_string()], event);
        let mut l = format_line(name, self.width, EVENT_SEP, &text, self.colour(name));
        l.push('\n');
        self.send_now(Msg::Line(l));
    }

    /// From now on `values` are taken out of everything this printer, the printers made from it and the one it
    /// was made from print (the spec was loaded, or a reload applied).
    pub fn set_secrets(&self, values: &[&str]) {
        self.settings.secrets.set(values);
    }

    /// `text` without the secret values, for what is printed beside the printer (an error on stderr).
    pub fn redact<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        self.settings.secrets.outgoing(text)
    }

    /// A line printed as is.
    pub fn raw(&self, text: &str) {
        let text = self.settings.secrets.outgoing(text);
        self.send_now(Msg::Line(format!("{text}\n")));
    }

    /// A printer for a command's plain output (no prefixes): `ps`, `doctor`, `down`, `check` and the like. The
    /// command's first printer; those of its run are made from it, with its `settings`.
    pub fn plain(settings: Settings) -> Self {
        Self::spawn_writing(std::iter::empty(), Sink::Stdout, settings)
    }

    /// Text printed as is, one or more lines; a missing last newline is added, empty text prints nothing.
    pub fn block(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = self.settings.secrets.outgoing(text);
        let mut l = text.into_owned();
        if !l.ends_with('\n') {
            l.push('\n');
        }
        self.send_now(Msg::Line(l));
    }

    /// Waits until everything sent so far is written (or the output is abandoned).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.send_now(Msg::Flush(tx)) {
            tokio::select! {
                biased;
                () = self.abandoned.cancelled() => {}
                _ = rx => {}
            }
        }
    }

    /// A live line for `name` at the bottom of the terminal, with its elapsed time, until the handle is
    /// dropped; `None` when live lines are not shown (not a terminal, or `--progress plain`).
    pub fn status(&self, name: &str, text: &str) -> Option<Status> {
        if !self.live {
            return None;
        }
        let s = Status {
            printer: self.clone(),
            id: self.next_status.fetch_add(1, Ordering::SeqCst),
            name: name.to_string(),
        };
        s.set(text);
        Some(s)
    }

    /// Queues a tool event (or a flush) without waiting: in order when there is room, ahead of the queued
    /// container lines when a flood filled the queue.
    fn send_now(&self, m: Msg) -> bool {
        match self.main.try_send(m) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(m)) => self.urgent.send(m).is_ok(),
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[path = "printer_status.rs"]
mod live;
pub use live::Status;

#[cfg(test)]
#[path = "printer_tests.rs"]
mod tests;
