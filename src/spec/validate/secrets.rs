//! Secrets in the spec: which env keys of a service are secret (`secrets` and secret-looking names), and the
//! secret values found in the raw text so an error excerpt never shows one, even when the file does not parse.

use std::collections::BTreeSet;

use super::super::raw::RawService;
use super::Ctx;
use crate::output::redact;

/// Values given to secret-named keys (`API_TOKEN = "…"`), found in the text itself, so that an error excerpt
/// never shows one even when the file does not parse. Strings and bare words after `KEY =` count.
pub(super) fn secrets_in_text(text: &str) -> Vec<String> {
    enum Tok<'a> {
        Word(&'a str),
        Str(&'a str),
        Eq,
        Other,
    }
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if c == b'#' {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if c == b'"' || c == b'\'' {
            let quote = if text[i..].starts_with("\"\"\"") || text[i..].starts_with("'''") {
                &text[i..i + 3]
            } else {
                &text[i..=i]
            };
            let body = i + quote.len();
            let mut j = body;
            let end = loop {
                match text[j..].find(quote) {
                    // A basic string's `\"` is not its end.
                    Some(n)
                        if c == b'"' && text[body..j + n].ends_with('\\') && quote.len() == 1 =>
                    {
                        j += n + 1;
                    }
                    Some(n) => break j + n,
                    None => break bytes.len(),
                }
            };
            toks.push(Tok::Str(&text[body..end]));
            i = (end + quote.len()).min(bytes.len());
        } else if word(c) {
            let n = bytes[i..].iter().take_while(|b| word(**b)).count();
            toks.push(Tok::Word(&text[i..i + n]));
            i += n;
        } else {
            if c == b'=' {
                toks.push(Tok::Eq);
            } else if !c.is_ascii_whitespace() {
                toks.push(Tok::Other);
            }
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    toks.windows(3)
        .filter_map(|w| match w {
            [
                Tok::Word(k) | Tok::Str(k),
                Tok::Eq,
                Tok::Word(v) | Tok::Str(v),
            ] if redact::is_secret_name(k) => Some((*v).to_string()),
            _ => None,
        })
        .collect()
}

/// The env keys whose values are secret: listed in `secrets` (each must be a key of `env`), or secret by name.
pub(super) fn secret_env(cx: &mut Ctx, name: &str, raw: &RawService) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = raw
        .env
        .keys()
        .filter(|k| redact::is_secret_name(k))
        .cloned()
        .collect();
    for s in &raw.secrets {
        let key = s.get_ref();
        if raw.env.contains_key(key) {
            out.insert(key.clone());
            continue;
        }
        let help = if raw.env.is_empty() {
            format!(
                "`secrets` names keys of `env`; add `env = {{ {key} = \"...\" }}` to [services.{name}]"
            )
        } else {
            format!(
                "`secrets` names keys of `env`; the env keys of `{name}` are {}",
                raw.env
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        cx.err(
            s.span(),
            format!("secret `{key}` is not set in this service's env"),
            Some(&help),
        );
    }
    out
}
