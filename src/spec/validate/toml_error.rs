//! A TOML or serde error as a diagnostic people can act on: the message cut to what is wrong, and a hint that
//! says what would do (the key meant, the quotes to add or remove) instead of pointing at the schema.

use std::ops::Range;

use super::super::raw::REFUSED_KEYS;

/// Span, message and hint of a spec error.
type Described = (Range<usize>, String, String);

/// Span, message and hint for an error of `toml::from_str(text)`.
pub(super) fn describe(e: &toml::de::Error, text: &str) -> Described {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().trim().to_string();
    let written = text.get(span.clone()).unwrap_or("").trim();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        return unknown_field(span, rest);
    }
    if msg.starts_with("invalid type") {
        return invalid_type(span, &msg, written);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let help = missing_field_help(field);
        return (span, msg, help);
    }
    if msg.starts_with("duplicate key") {
        return duplicate_key(span, text, written);
    }
    if let Some(described) = unquoted_string(span.start, text) {
        return described;
    }
    syntax_error(span, &msg)
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (`rest` is what follows the first backquote): the
/// field alone, with what was most likely meant among the accepted keys (the refused ones left out).
fn unknown_field(span: Range<usize>, rest: &str) -> Described {
    let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
    let expected: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| !REFUSED_KEYS.contains(k))
        .collect();
    (
        span,
        format!("unknown field `{field}`"),
        unknown_field_help(field, &expected),
    )
}

/// serde's "invalid type" in TOML's words, with how to write the value instead.
fn invalid_type(span: Range<usize>, msg: &str, written: &str) -> Described {
    // serde's words for TOML's: a map is a table, a sequence a list, i64 a whole number.
    let msg = msg
        .replace("invalid type: map", "invalid type: table")
        .replace("expected a map", "expected a table")
        .replace("expected a sequence", "expected a list")
        .replace("invalid type: sequence", "invalid type: list");
    let msg = ["i64", "u64", "u32", "u16"].iter().fold(msg, |m, t| {
        m.replace(&format!("expected {t}"), "expected a whole number")
    });
    let help = type_help(&msg, written);
    (span, msg, help)
}

/// How to add a required `field` that is missing, with an example for the common ones.
fn missing_field_help(field: &str) -> String {
    match field {
        "port" => "add the container port, e.g. `port = 9090`".to_string(),
        "command" => {
            "add the argv, e.g. `command = [\"/usr/local/bin/pinshare\", \"migrate\"]`".into()
        }
        "to" => "add the absolute container path, e.g. `to = \"/opt/pinshare/static\"`".into(),
        "from" => {
            "add the host path, relative to the spec file, e.g. `from = \"web/static\"`".into()
        }
        _ => format!("add `{field} = ...`; `pinshare-dev schema` describes it"),
    }
}

/// A key or a table header written twice: which of the two, read from the line the error points at.
fn duplicate_key(span: Range<usize>, text: &str, written: &str) -> Described {
    let line_start = text
        .get(..span.start)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .and_then(|t| t.lines().next())
        .unwrap_or("")
        .trim();
    if line.starts_with('[') {
        (
            span,
            format!("table {line} is defined twice"),
            "merge the two tables into one".into(),
        )
    } else {
        (
            span,
            format!("key `{written}` is set twice in this table"),
            "a key may appear once per table; remove one of them".into(),
        )
    }
}

/// An unquoted string (`image = ipfs/kubo:v0.39.0`) at `start`: the parser guesses a number or a date and says
/// so. The bare word with the quotes to add; `None` when what is at `start` is not a bare word after `=`.
fn unquoted_string(start: usize, text: &str) -> Option<Described> {
    let line_before = text
        .get(..start)
        .unwrap_or("")
        .rsplit('\n')
        .next()
        .unwrap_or("");
    let bare: String = text
        .get(start..)
        .unwrap_or("")
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '}' | ']' | '#'))
        .collect();
    if line_before.trim_end().ends_with('=')
        && bare.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(bare.as_str(), "true" | "false" | "inf" | "nan")
    {
        let end = start + bare.len();
        return Some((
            start..end,
            "a string value needs quotes".into(),
            format!("write \"{bare}\""),
        ));
    }
    None
}

/// Any other parser error, on one line, with a hint for an unclosed string or a missing comma.
fn syntax_error(span: Range<usize>, msg: &str) -> Described {
    // The parser's messages span several lines ("invalid table header\nexpected `.`, `]`"); one line reads
    // better after `FILE:LINE:COL:`.
    let one_line = msg
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    if one_line.starts_with("invalid basic string") {
        return (
            span,
            "this string has no closing quote".into(),
            "add the closing `\"` before the end of the line".into(),
        );
    }
    let help = if one_line.contains("missing comma") {
        "separate the `key = value` pairs of an inline table with commas"
    } else {
        "see the TOML syntax at https://toml.io; strings need double quotes"
    };
    (span, one_line, help.into())
}

/// What the writer of an unknown key most likely meant.
fn unknown_field_help(field: &str, expected: &[&str]) -> String {
    // Names from docker-compose and Kubernetes, where people come from.
    let moved = match field {
        "version" => Some("pinshare.toml has no version; remove the line"),
        "environment" => Some("environment variables go in `env = { KEY = \"value\" }`"),
        "healthcheck" | "readiness_probe" | "readinessProbe" => Some(
            "a health check here is `readiness = { http = { port = 9090, path = \"/health\" } }`",
        ),
        "liveness_probe" | "livenessProbe" => Some("write `liveness = { ... }`"),
        "interval" | "period_seconds" | "periodSeconds" => {
            Some("the time between probe attempts is `period = \"1s\"`")
        }
        "mem_limit" | "memory" | "memory_limit" | "cpus" | "cpu" | "cpu_limit"
            if !expected.contains(&"memory") =>
        {
            Some("CPU and memory go in `resources = { cpu = \"250m\", memory_limit = \"1Gi\" }`")
        }
        "container_name" => {
            Some("containers are named PROJECT-SERVICE; set `[project] name` instead")
        }
        "url" if expected.contains(&"path") => Some("an HTTP probe takes `port` and `path`"),
        _ => None,
    };
    if let Some(m) = moved {
        return m.to_string();
    }
    let close = expected
        .iter()
        .map(|k| (distance(&field.to_ascii_lowercase(), k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min();
    match close {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None if expected.is_empty() => {
            "`pinshare-dev schema` prints every accepted key".to_string()
        }
        None => format!(
            "expected one of {}",
            expected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `invalid type: integer `9090`, expected a string` → how to write it instead.
fn type_help(msg: &str, written: &str) -> String {
    let found = msg
        .strip_prefix("invalid type: ")
        .and_then(|r| r.split([' ', ',']).next())
        .unwrap_or("");
    let expected = msg.split_once(", expected ").map_or("", |(_, e)| e);
    let scalar = matches!(found, "integer" | "floating" | "boolean");
    if expected.starts_with("a string") && scalar && !written.is_empty() {
        return format!("quote it: \"{written}\"");
    }
    if expected.starts_with("a list") && found == "string" && !written.is_empty() {
        return format!("write a list: [{written}]");
    }
    if expected.starts_with("a number or a quantity") {
        return "write a number (`1`, `0.5`) or a quoted quantity (`\"250m\"`, `\"512Mi\"`)".into();
    }
    if expected.starts_with("a whole number") && found == "string" {
        let unquoted = written.trim_matches(['"', '\'']);
        if unquoted.parse::<i64>().is_ok() {
            return format!("write the number without quotes: {unquoted}");
        }
    }
    if expected.starts_with("a string") && found == "table" {
        return "a string is expected here, not a table: write the whole value in quotes".into();
    }
    "`pinshare-dev schema` gives the expected type of each key".into()
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_keys_get_the_closest_accepted_one() {
        assert_eq!(
            unknown_field_help("imgae", &["image", "build", "env"]),
            "did you mean `image`?"
        );
        assert_eq!(
            unknown_field_help("depends-on", &["image", "depends_on"]),
            "did you mean `depends_on`?"
        );
        assert_eq!(
            unknown_field_help("frobnicate", &["image", "build"]),
            "expected one of `image`, `build`"
        );
    }

    #[test]
    fn compose_habits_are_translated() {
        assert!(unknown_field_help("environment", &["image", "env"]).contains("env = {"));
        assert!(unknown_field_help("interval", &["http", "period"]).contains("period"));
        assert!(unknown_field_help("version", &["project", "services"]).contains("no version"));
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("imgae", "image"), 2);
        assert_eq!(distance("port", "ports"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
