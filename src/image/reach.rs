//! What a Dockerfile's build can reach of its context: the sources of its `COPY` and `ADD` instructions. Two
//! services that share a context (the offline demo builds kubo and the app from `.`) must not go stale on each
//! other's files, so an image's context hash covers only these (plus the Dockerfile and the ignore file).
//! Whatever cannot be told for sure (a `COPY .`, a source that is only a variable) reaches the whole context.

/// Context-relative path prefixes the build reads (`kubo/rootfs`, `target/release/ipfs`), or `None` when it may
/// read anything of the context.
pub fn reached_prefixes(dockerfile: &str) -> Option<Vec<String>> {
    let mut prefixes = Vec::new();
    for instruction in instructions(dockerfile) {
        let mut words = instruction.split_whitespace();
        let Some(op) = words.next() else { continue };
        if !op.eq_ignore_ascii_case("COPY") && !op.eq_ignore_ascii_case("ADD") {
            continue;
        }
        let rest = words.collect::<Vec<_>>().join(" ");
        let args = arguments(&rest)?;
        // `--from=stage` copies from another stage or image, not from the context.
        if args.iter().any(|a| a.starts_with("--from")) {
            continue;
        }
        let args: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
        let Some((_, sources)) = args.split_last() else {
            continue;
        };
        for s in sources {
            if s.contains("://") || s.starts_with("git@") {
                continue;
            }
            prefixes.push(prefix_of(s)?);
        }
    }
    Some(prefixes)
}

/// Whether a context-relative path is read by a build reaching `prefixes`.
pub fn reaches(prefixes: &[String], rel: &str) -> bool {
    prefixes
        .iter()
        .any(|p| rel == p || rel.starts_with(&format!("{p}/")) || p.starts_with(&format!("{rel}/")))
}

/// The instructions, continuation lines joined and comments left out.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') && current.is_empty() || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The arguments of a `COPY`/`ADD`: the JSON form, or words. `None` for a heredoc (its sources are inline).
fn arguments(rest: &str) -> Option<Vec<String>> {
    if rest.contains("<<") {
        return None;
    }
    let flags: Vec<String> = rest
        .split_whitespace()
        .take_while(|w| w.starts_with("--"))
        .map(str::to_string)
        .collect();
    let tail = rest
        .split_whitespace()
        .skip(flags.len())
        .collect::<Vec<_>>()
        .join(" ");
    if tail.starts_with('[') {
        let json: Vec<String> = serde_json::from_str(&tail).ok()?;
        return Some(flags.into_iter().chain(json).collect());
    }
    Some(
        flags
            .into_iter()
            .chain(tail.split_whitespace().map(str::to_string))
            .collect(),
    )
}

/// The part of a source before its first variable or wildcard, as a context-relative path; `None` when that
/// is the whole context.
fn prefix_of(source: &str) -> Option<String> {
    let parts: Vec<&str> = source
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .take_while(|c| !c.contains(['$', '*', '?', '[']))
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offline_kubo_dockerfile_reaches_its_own_files_and_the_binaries_it_copies() {
        let df = include_str!("../../examples/offline/kubo/Dockerfile");
        let p = reached_prefixes(df).expect("all sources known");
        for rel in [
            "kubo/rootfs/etc/passwd",
            "kubo/owned",
            "kubo/versions/0.42.0",
            "target/x86_64-unknown-linux-gnu/release/ipfs",
            "target",
        ] {
            assert!(reaches(&p, rel), "{rel} in {p:?}");
        }
        for rel in [
            "app/VERSION",
            "app/rootfs/opt/pinshare/x",
            "target/x86_64-unknown-linux-gnu/release/pinshare",
        ] {
            assert!(!reaches(&p, rel), "{rel} in {p:?}");
        }
    }

    #[test]
    fn copy_of_the_whole_context_or_a_bare_variable_reaches_everything() {
        assert_eq!(reached_prefixes("FROM x\nCOPY . /src\n"), None);
        assert_eq!(reached_prefixes("FROM x\nCOPY ./ /src\n"), None);
        assert_eq!(reached_prefixes("FROM x\nCOPY $DIR /src\n"), None);
        assert_eq!(reached_prefixes("FROM x\nCOPY *.go /src/\n"), None);
    }

    #[test]
    fn flags_json_form_continuations_and_other_stages_are_understood() {
        let df = "FROM golang AS b\nCOPY go.mod go.sum ./\nCOPY --chown=1:1 \\\n  internal /src/internal\nCOPY [\"main.go\", \"/src/\"]\nFROM scratch\nCOPY --from=b /out/app /app\nADD https://example.com/x /x\n";
        assert_eq!(
            reached_prefixes(df),
            Some(vec![
                "go.mod".to_string(),
                "go.sum".to_string(),
                "internal".to_string(),
                "main.go".to_string()
            ])
        );
    }
}
