//! Project and service names: they become part of Docker names and a DNS alias, so the rule is checked once
//! here, with a corrected name in the hint, for both the `[project]` name and every `[services.NAME]` key.

use std::path::Path;

/// Why `name` cannot name a service or project (it becomes part of Docker names and a DNS alias), and a
/// corrected name when one can be made; `None` when it is fine.
pub(super) fn name_problem(name: &str) -> Option<(String, Option<String>)> {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if let Some(c) = name.chars().find(char::is_ascii_uppercase) {
        format!("`{c}` is uppercase")
    } else if let Some(c) = name.chars().find(|c| !ok(*c)) {
        if c.is_whitespace() {
            "it contains a space".into()
        } else {
            format!("it contains `{c}`")
        }
    } else if let Some(c) = name.chars().next().filter(|c| !c.is_ascii_alphanumeric()) {
        format!("it starts with `{c}`")
    } else if name.len() > 63 {
        "it is longer than 63 characters".into()
    } else {
        return None;
    };
    let fixed: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if ok(c) { c } else { '-' })
        .collect();
    let fixed = fixed.trim_matches(['-', '_']);
    let fixed = &fixed[..fixed.len().min(63)];
    Some((why, (!fixed.is_empty()).then(|| fixed.to_string())))
}

/// The hint for a bad name: the rule, and the corrected name when there is one.
pub(super) fn name_help(fixed: Option<&String>) -> String {
    let rule = "use lowercase letters, digits, `-` and `_`, starting with a letter or digit";
    match fixed {
        Some(f) => format!("{rule}, e.g. `{f}`"),
        None => rule.to_string(),
    }
}

pub(super) fn default_project_name(dir: &Path) -> String {
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "pinshare".into());
    let cleaned: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c| c == '-' || c == '_');
    if trimmed.is_empty() {
        "pinshare".into()
    } else {
        trimmed.to_string()
    }
}
