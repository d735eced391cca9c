//! The JUnit XML report of `test --junit FILE`: one testsuite (the project), one testcase per step that ran, its
//! output in `system-out`, a failure with the exit code; the steps after a failure are `skipped`. When the
//! services did not start, a first testcase, `start-up`, fails with the reason and every step is skipped. Written by hand:
//! the format is small, and text is escaped for XML 1.0 (control characters it cannot carry are dropped).

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use super::StepResult;
use crate::error::{Error, Result};
use crate::spec::Spec;

/// Writes the report of `results` (the steps that ran, in order) to `file`.
/// `startup` is why the services did not start, when they did not.
pub(super) fn write(
    file: &Path,
    copy: &Spec,
    (results, startup): (&[StepResult], Option<&str>),
    elapsed: Duration,
) -> Result<()> {
    std::fs::write(file, report(copy, results, startup, elapsed))
        .map_err(|e| Error::Runtime(format!("writing the JUnit report {}: {e}", file.display())))
}

fn report(copy: &Spec, results: &[StepResult], startup: Option<&str>, elapsed: Duration) -> String {
    let failures =
        results.iter().filter(|r| r.failed().is_some()).count() + usize::from(startup.is_some());
    let skipped = copy.test.len() - results.len();
    let tests = copy.test.len() + usize::from(startup.is_some());
    let why_skipped = if startup.is_some() {
        "the services did not start"
    } else {
        "an earlier step failed"
    };
    let suite = escape(
        copy.labels
            .get(crate::labels::TEST_OF)
            .unwrap_or(&copy.project),
    );
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"pinshare-dev test\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        elapsed.as_secs_f64()
    );
    if let Some(why) = startup {
        let _ = writeln!(
            x,
            "    <testcase name=\"start-up\" classname=\"{suite}\" time=\"{:.3}\">\n      <failure message=\"the services did not start\" type=\"start-up\">{}</failure>\n      <system-out>{}</system-out>\n    </testcase>",
            elapsed.as_secs_f64(),
            escape(why),
            escape(why)
        );
    }
    for (i, step) in copy.test.iter().enumerate() {
        let name = escape(&step.name);
        let Some(r) = results.get(i) else {
            let _ = writeln!(
                x,
                "    <testcase name=\"{name}\" classname=\"{suite}\" time=\"0\">\n      <skipped message=\"{why_skipped}\"/>\n    </testcase>"
            );
            continue;
        };
        let _ = writeln!(
            x,
            "    <testcase name=\"{name}\" classname=\"{suite}\" time=\"{:.3}\">",
            r.time.as_secs_f64()
        );
        if let Some(code) = r.failed() {
            let _ = writeln!(
                x,
                "      <failure message=\"exit code {code}\" type=\"exit-code\">{}</failure>",
                escape(&r.output)
            );
        }
        let _ = writeln!(
            x,
            "      <system-out>{}</system-out>\n    </testcase>",
            escape(&r.output)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// `s` as XML 1.0 text or attribute value: the five special characters as entities, the control characters
/// XML 1.0 cannot carry (an ANSI escape's ESC) dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_escaped_and_what_xml_cannot_carry_is_dropped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("\u{1b}[31mred\u{1b}[0m\n"), "[31mred[0m\n");
    }
}
