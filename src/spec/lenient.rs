//! A tolerant read of a spec that does not parse or validate, for the commands that need no more than the
//! project's name and its services (`down`, `ps`, `logs`): a project must be possible to look at and tear down
//! while its spec is half edited. Line by line, no TOML parser: the `[project]` name, the `[services.NAME]`
//! tables and their one-line `depends_on`, whatever else the file holds.

use std::path::Path;

use super::{Spec, SpecErrors};

/// What a tolerant read of a broken spec finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    /// `[project] name`, when a line says it.
    pub project: Option<String>,
    /// Services in file order, each with the `depends_on` its table names.
    pub services: Vec<(String, Vec<String>)>,
}

/// The quoted strings of a line's value, in order (`["ipfs", 'x']` → `ipfs`, `x`).
fn strings(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = &rest[start..=start];
        let Some(len) = rest[start + 1..].find(quote) else {
            break;
        };
        out.push(rest[start + 1..start + 1 + len].to_string());
        rest = &rest[start + 2 + len..];
    }
    out
}

/// A name as the spec allows it for services and projects: lowercase letters, digits and dashes.
fn plausible(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Reads what it can: lines it cannot make sense of are passed over.
pub fn sketch(text: &str) -> Sketch {
    let mut out = Sketch::default();
    let mut table: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').filter(|l| !l.starts_with('[')) {
            let header = header.split(']').next().unwrap_or(header).trim();
            let parts: Vec<String> = header
                .split('.')
                .map(|p| p.trim().trim_matches(['"', '\'']).to_string())
                .collect();
            if let [s, name, ..] = parts.as_slice()
                && s == "services"
                && plausible(name)
                && !out.services.iter().any(|(n, _)| n == name)
            {
                out.services.push((name.clone(), Vec::new()));
            }
            table = Some(header.replace(['"', '\'', ' '], ""));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        match (table.as_deref(), key) {
            (Some("project"), "name") | (None, "project.name") => {
                out.project = strings(value).into_iter().next().filter(|n| plausible(n));
            }
            (Some(t), "depends_on") => {
                if let Some((_, deps)) = out
                    .services
                    .iter_mut()
                    .find(|(n, _)| t.strip_prefix("services.") == Some(n.as_str()))
                {
                    *deps = strings(value);
                }
            }
            _ => {}
        }
    }
    out
}

/// A stand-in spec for project `project` with `services` (and their dependencies, when they make an order):
/// enough for `down`, `ps` and `logs`, which use the names, the order and the defaults. Never for `up`.
pub fn stand_in(
    path: &Path,
    project: &str,
    services: &[(String, Vec<String>)],
) -> Result<Spec, SpecErrors> {
    let text = |with_deps: bool| {
        let mut t = format!("[project]\nname = \"{project}\"\n");
        for (name, deps) in services.iter().filter(|(n, _)| plausible(n)) {
            t.push_str(&format!(
                "\n[services.{name}]\nimage = \"pinshare-dev/stand-in\"\n"
            ));
            let deps: Vec<String> = deps
                .iter()
                .filter(|d| services.iter().any(|(n, _)| n == *d) && *d != name)
                .map(|d| format!("\"{d}\""))
                .collect();
            if with_deps && !deps.is_empty() {
                t.push_str(&format!("depends_on = [{}]\n", deps.join(", ")));
            }
        }
        t
    };
    // A dependency cycle mid-edit must not stand in the way of a teardown: without the order, then.
    super::parse(path, &text(true)).or_else(|_| super::parse(path, &text(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_with_a_syntax_error_still_gives_its_project_and_services() {
        let text = r#"# mid-edit
[project]
name = "pinshare"   # the project

[services.ipfs]
image = "ipfs/kubo:v0.42.0"
ports = ["5001:5001"

[services.pinshare]
depends_on = ["ipfs"]
env = { IPFS_API = "http://ipfs:5001"

[services.ipfs.kubo_config]
"#;
        let s = sketch(text);
        assert_eq!(s.project.as_deref(), Some("pinshare"));
        assert_eq!(
            s.services,
            vec![
                ("ipfs".to_string(), vec![]),
                ("pinshare".to_string(), vec!["ipfs".to_string()])
            ]
        );
        let spec = stand_in(Path::new("pinshare.toml"), "pinshare", &s.services).expect("valid");
        assert_eq!(spec.order, ["ipfs", "pinshare"], "dependencies first");
        assert_eq!(spec.container_name("ipfs"), "pinshare-ipfs");
    }

    #[test]
    fn a_name_outside_its_table_or_not_a_name_is_not_taken() {
        assert_eq!(sketch("[services.web]\nname = \"x\"\n").project, None);
        assert_eq!(sketch("[project]\nname = \"Bad Name\"\n").project, None);
        assert_eq!(
            sketch("project.name = 'dotted'\n").project.as_deref(),
            Some("dotted")
        );
    }

    #[test]
    fn a_dependency_cycle_mid_edit_gives_a_stand_in_without_the_order() {
        let services = vec![
            ("a".to_string(), vec!["b".to_string()]),
            ("b".to_string(), vec!["a".to_string()]),
        ];
        let spec = stand_in(Path::new("p.toml"), "p", &services).expect("valid");
        assert_eq!(spec.order, ["a", "b"]);
    }
}
