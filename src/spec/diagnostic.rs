//! Spec errors that point into the file: message, `FILE:LINE:COL`, the source line with a caret, a hint.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
};

/// One problem in the spec, located by a byte range.
#[derive(Debug, Clone)]
pub struct SpecError {
    /// What is wrong.
    pub message: String,
    /// Byte range in the file.
    pub span: Range<usize>,
    /// What to do about it.
    pub help: Option<String>,
    /// The text shown in the excerpt: the file, with secret values redacted.
    source: Arc<NamedSource<String>>,
    /// `span` in `source`.
    label: Range<usize>,
    file: String,
    /// The file as written: line and column are counted here.
    text: Arc<String>,
}

impl SpecError {
    pub(crate) fn new(
        file: &str,
        text: &Arc<String>,
        source: &Arc<NamedSource<String>>,
        message: String,
        span: Range<usize>,
        help: Option<String>,
    ) -> Self {
        let end = span.end.min(text.len());
        let start = span.start.min(end);
        SpecError {
            message,
            span: start..end,
            help,
            source: Arc::clone(source),
            label: start..end,
            file: file.to_string(),
            text: Arc::clone(text),
        }
    }

    /// 1-based line and column of the start of the span.
    pub(crate) fn line_col(&self) -> (usize, usize) {
        let before = &self.text[..self.span.start];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// `FILE:LINE:COL`
    pub(crate) fn location(&self) -> String {
        let (l, c) = self.line_col();
        format!("{}:{l}:{c}", self.file)
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

impl Diagnostic for SpecError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        None
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source.as_ref())
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let shown = self.source.inner().len();
        let len = (self.label.end - self.label.start).max(usize::from(self.label.start < shown));
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some("here".into()),
            self.label.start,
            len,
        ))))
    }
}

/// miette's report without its `× message` lines (the `error:` line above says it), and with the location of
/// its `╭─[FILE:LINE:COL]` line counted in the file as written, not in the redacted text it shows.
fn excerpt_only(report: &str, location: &str) -> String {
    const FRAME: &str = "╭─[";
    let Some(start) = report.find(FRAME) else {
        return report.to_string();
    };
    let line_start = report[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut out = report[line_start..].to_string();
    let open = start - line_start + FRAME.len();
    if let Some(close) = out[open..].find(']') {
        out.replace_range(open..open + close, location);
    }
    out
}

/// Every problem found in one spec file.
#[derive(Debug, Clone)]
pub struct SpecErrors {
    /// The problems, in file order.
    pub errors: Vec<SpecError>,
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", e.location(), e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

impl SpecErrors {
    /// Takes the secret values out of what the errors show (the excerpt, messages, hints); locations keep
    /// pointing into the file as written.
    pub(crate) fn redact(&mut self, secrets: &[&str]) {
        let Some(first) = self.errors.first() else {
            return;
        };
        let r = crate::output::redact::redact(&first.text, secrets);
        if r.text == *first.text {
            return;
        }
        let source = Arc::new(NamedSource::new(first.file.clone(), r.text.clone()));
        for e in &mut self.errors {
            e.label = r.map_span(e.span.clone());
            e.source = Arc::clone(&source);
            e.message = crate::output::redact::text(&e.message, secrets);
            e.help = e
                .help
                .take()
                .map(|h| crate::output::redact::text(&h, secrets));
        }
    }

    /// Renders every error: a `error: FILE:LINE:COL: message` line, then the source excerpt with a caret and the
    /// hint. Colours only when `color` is set.
    pub(crate) fn render(&self, color: bool) -> String {
        format!(
            "{}{}; nothing was changed\n",
            self.render_errors(color),
            self.count()
        )
    }

    /// `1 error in the spec`, `3 errors in the spec`.
    pub(crate) fn count(&self) -> String {
        let n = self.errors.len();
        format!("{n} error{} in the spec", if n == 1 { "" } else { "s" })
    }

    /// The errors as [`SpecErrors::render`] shows them, without its closing line (for callers that say
    /// themselves what the errors change, such as a spec edit while `up` runs).
    pub(crate) fn render_errors(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_context_lines(1)
            .with_width(100);
        let mut out = String::new();
        for e in &self.errors {
            out.push_str(&format!("error: {}: {}\n", e.location(), e.message));
            let mut excerpt = String::new();
            if handler.render_report(&mut excerpt, e).is_ok() {
                out.push_str(&excerpt_only(&excerpt, &e.location()));
            }
        }
        out
    }
}
