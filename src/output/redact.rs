//! Secrets: which environment variables are secret, and taking their values out of any text the tool prints
//! (`ps`, `--json`, events, errors, rendered manifests).
//!
//! A key is secret when the service lists it in `secrets = [...]`, or by its name: its uppercase form ends with
//! `_SECRET`, `_TOKEN` or `_KEY`, or contains `PASSWORD`. Values shorter than [`MIN_LEN`] characters are never
//! replaced: redacting every `1` or `on` in the output would hide more than it protects.

use std::ops::Range;

/// What a secret value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shortest value that is redacted, in characters.
pub const MIN_LEN: usize = 4;

/// Whether an environment variable is secret by its name alone: `API_KEY`, `GITHUB_TOKEN`, `DB_PASSWORD`,
/// `PASSWORD`, `MY_SECRET` are; `KEYBOARD`, `IPFS_API`, `TOKENIZER` are not.
pub fn is_secret_name(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    k.ends_with("_SECRET") || k.ends_with("_TOKEN") || k.ends_with("_KEY") || k.contains("PASSWORD")
}

/// The secret values of the spec a command works with: everything it prints (its printers, its error) goes
/// through [`Secrets::outgoing`]. Set when the spec is loaded and again when a reload is applied; the clones
/// share one set, so the printers of a command, which carry it in their settings, all hide what was set last.
#[derive(Debug, Clone, Default)]
pub struct Secrets(std::sync::Arc<std::sync::RwLock<Vec<String>>>);

impl Secrets {
    /// Registers the secret values that [`Secrets::outgoing`] removes from now on.
    pub fn set(&self, values: &[&str]) {
        if let Ok(mut g) = self.0.write() {
            *g = values.iter().map(|v| (*v).to_string()).collect();
        }
    }

    /// `text` without the registered secret values.
    pub fn outgoing<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        // Every printed line comes through here: without secrets (or without a match) nothing is copied.
        let Ok(g) = self.0.read() else {
            return text.into();
        };
        if !g
            .iter()
            .any(|v| v.len() >= MIN_LEN && text.contains(v.as_str()))
        {
            return text.into();
        }
        let values: Vec<&str> = g.iter().map(String::as_str).collect();
        self::text(text, &values).into()
    }
}

/// `text` with every occurrence of every secret value replaced by [`REDACTED`]. Empty values and values shorter
/// than [`MIN_LEN`] are left alone; where two values overlap, the longer one wins.
pub fn text(text: &str, secrets: &[&str]) -> String {
    redact(text, secrets).text
}

/// Redacted text, with the means to move a byte range of the original onto it.
#[derive(Debug, Clone)]
pub struct Redacted {
    /// The text with the secrets replaced.
    pub text: String,
    /// (range in the original, range in `text`) of each replacement, in order.
    edits: Vec<(Range<usize>, Range<usize>)>,
}

impl Redacted {
    /// The range of `text` that shows what `span` covered in the original. A bound inside a secret moves to the
    /// edge of its `[redacted]`, so a caret never points into the middle of it.
    pub fn map_span(&self, span: Range<usize>) -> Range<usize> {
        let start = self.map(span.start, false);
        let end = self.map(span.end, true).max(start);
        start..end
    }

    fn map(&self, offset: usize, is_end: bool) -> usize {
        let mut shift: isize = 0;
        for (from, to) in &self.edits {
            if offset < from.start || (offset == from.start && !is_end) {
                break;
            }
            if offset < from.end || (offset == from.end && is_end) {
                return if is_end && offset > from.start {
                    to.end
                } else {
                    to.start
                };
            }
            shift = isize::try_from(to.end).unwrap_or(isize::MAX)
                - isize::try_from(from.end).unwrap_or(isize::MAX);
        }
        offset.saturating_add_signed(shift)
    }
}

/// Replaces every occurrence of the secret values (see [`text`]) and records where.
pub fn redact(text: &str, secrets: &[&str]) -> Redacted {
    let mut needles: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| s.chars().count() >= MIN_LEN)
        .collect();
    // Longest first, so that a value containing another is replaced whole.
    needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    needles.dedup();
    if needles.is_empty() {
        return Redacted {
            text: text.to_string(),
            edits: Vec::new(),
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut edits = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(n) = needles.iter().find(|n| rest.starts_with(**n)) {
            let to = out.len()..out.len() + REDACTED.len();
            out.push_str(REDACTED);
            edits.push((i..i + n.len(), to));
            i += n.len();
        } else {
            let c = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..c]);
            i += c;
        }
    }
    Redacted { text: out, edits }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_end_in_secret_token_or_key_or_contain_password() {
        for k in [
            "API_KEY",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "PASSWORD",
            "MY_SECRET",
            "api_token",
            "SMTP_PASSWORD_FILE",
        ] {
            assert!(is_secret_name(k), "{k} should be secret");
        }
        for k in [
            "KEYBOARD",
            "IPFS_API",
            "TOKENIZER",
            "KEY",
            "SECRET_SAUCE_ENABLED",
            "IPFS_PROFILE",
        ] {
            assert!(!is_secret_name(k), "{k} should not be secret");
        }
    }

    #[test]
    fn every_occurrence_of_a_secret_value_is_replaced() {
        assert_eq!(
            text("token=s3cr3t; again s3cr3t.", &["s3cr3t"]),
            "token=[redacted]; again [redacted]."
        );
        assert_eq!(text("nothing here", &["s3cr3t"]), "nothing here");
    }

    #[test]
    fn short_and_empty_values_are_left_alone() {
        assert_eq!(
            text("retries 1 of 3, on", &["1", "", "on"]),
            "retries 1 of 3, on"
        );
        assert_eq!(text("abcd", &["abcd"]), REDACTED);
    }

    #[test]
    fn the_longer_of_two_overlapping_values_wins() {
        assert_eq!(
            text("x=hunter22!", &["hunter2", "hunter22!"]),
            "x=[redacted]"
        );
        // A value that is a piece of `[redacted]` does not eat the replacement.
        assert_eq!(text("dact dact", &["dact"]), "[redacted] [redacted]");
    }

    #[test]
    fn multibyte_text_around_secrets_survives() {
        assert_eq!(text("« pässwörd »", &["pässwörd"]), "« [redacted] »");
    }

    #[test]
    fn spans_move_onto_the_redacted_text() {
        let original = "a = \"s3cr3t-value\"\nb = 5\n";
        let r = redact(original, &["s3cr3t-value"]);
        assert_eq!(r.text, "a = \"[redacted]\"\nb = 5\n");
        // `5` after the secret keeps pointing at `5`.
        let five = original.find('5').expect("5");
        let mapped = r.map_span(five..five + 1);
        assert_eq!(&r.text[mapped], "5");
        // Before the secret: unchanged.
        assert_eq!(r.map_span(0..1), 0..1);
        // The whole quoted value maps onto the quoted `[redacted]`.
        let q = original.find('"').expect("quote");
        let mapped = r.map_span(q..q + "\"s3cr3t-value\"".len());
        assert_eq!(&r.text[mapped], "\"[redacted]\"");
        // Inside the secret: the whole replacement.
        let mapped = r.map_span(q + 3..q + 5);
        assert_eq!(&r.text[mapped], REDACTED);
    }
}
