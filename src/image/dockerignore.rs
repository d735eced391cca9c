//! `.dockerignore` matching with Docker's rules, which differ from gitignore: patterns are anchored at the
//! context root, `*` does not cross `/`, `**` crosses any number of directories, a pattern that matches a
//! directory excludes everything below it, and the LAST matching pattern wins (`!` re-includes).

use globset::{GlobBuilder, GlobMatcher};

/// One compiled line of a `.dockerignore`.
#[derive(Debug, Clone)]
struct Rule {
    text: String,
    matcher: GlobMatcher,
    exception: bool,
}

/// A compiled `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in pattern.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

impl DockerIgnore {
    /// Parses `.dockerignore` text. Returns the line and reason of the first bad pattern.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pat) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pat = clean(pat);
            if pat.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pat)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("line {}: `{line}`: {e}", i + 1))?;
            rules.push(Rule {
                text: pat,
                matcher: glob.compile_matcher(),
                exception,
            });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether a context-relative path (with `/` separators) is excluded.
    pub fn is_excluded(&self, rel: &str) -> bool {
        let rel = clean(rel);
        let mut excluded = false;
        for rule in &self.rules {
            if Self::matches_or_parent(&rule.matcher, &rel) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// The last rule matching a path (the one that decides), with whether it excludes.
    pub fn deciding_rule(&self, rel: &str) -> Option<(&str, bool)> {
        let rel = clean(rel);
        self.rules
            .iter()
            .rev()
            .find(|r| Self::matches_or_parent(&r.matcher, &rel))
            .map(|r| (r.text.as_str(), !r.exception))
    }

    fn matches_or_parent(m: &GlobMatcher, rel: &str) -> bool {
        if m.is_match(rel) {
            return true;
        }
        let mut end = rel.len();
        while let Some(i) = rel[..end].rfind('/') {
            if m.is_match(&rel[..i]) {
                return true;
            }
            end = i;
        }
        false
    }

    /// Whether a walk must look inside an excluded directory because an exception could re-include something
    /// below it.
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let dir_parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        self.rules.iter().filter(|r| r.exception).any(|r| {
            let pat: Vec<&str> = r.text.split('/').collect();
            for (i, d) in dir_parts.iter().enumerate() {
                let Some(p) = pat.get(i) else { return true };
                if *p == "**" {
                    return true;
                }
                let ok = GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map(|g| g.compile_matcher().is_match(d))
                    .unwrap_or(true);
                if !ok {
                    return false;
                }
            }
            true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::DockerIgnore;

    fn ig(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).expect("valid patterns")
    }

    // Examples from Docker's documentation of .dockerignore.
    #[test]
    fn star_does_not_cross_directories() {
        let i = ig("*/temp*");
        assert!(i.is_excluded("somedir/temporary.txt"));
        assert!(i.is_excluded("somedir/temp"));
        assert!(!i.is_excluded("temp"));
        assert!(!i.is_excluded("a/b/temp.txt"));
        let i = ig("*/*/temp*");
        assert!(i.is_excluded("somedir/subdir/temporary.txt"));
        assert!(!i.is_excluded("somedir/temporary.txt"));
    }

    #[test]
    fn question_mark_is_one_character() {
        let i = ig("temp?");
        assert!(i.is_excluded("tempa"));
        assert!(i.is_excluded("tempb"));
        assert!(!i.is_excluded("temp"));
        assert!(!i.is_excluded("tempab"));
    }

    #[test]
    fn double_star_crosses_any_number_of_directories() {
        let i = ig("**/*.go");
        assert!(i.is_excluded("main.go"));
        assert!(i.is_excluded("internal/x/y.go"));
        assert!(!i.is_excluded("go.mod"));
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        let i = ig("target");
        assert!(i.is_excluded("target"));
        assert!(i.is_excluded("target/debug/app"));
        assert!(!i.is_excluded("sub/target"));
        assert!(ig("/target").is_excluded("target/x"));
    }

    #[test]
    fn last_match_wins_and_exceptions_reinclude() {
        let i = ig("*.md\n!README*.md\nREADME-secret.md");
        assert!(i.is_excluded("CHANGES.md"));
        assert!(!i.is_excluded("README.md"));
        assert!(i.is_excluded("README-secret.md"));
        let i = ig("*.md\nREADME-secret.md\n!README*.md");
        assert!(!i.is_excluded("README-secret.md"));
    }

    #[test]
    fn exclude_everything_then_reinclude_one_file() {
        let i = ig("**\n!target/x86_64-unknown-linux-gnu/release/ipfs\n!kubo/rootfs");
        assert!(i.is_excluded("Cargo.toml"));
        assert!(i.is_excluded("target/debug/ipfs"));
        assert!(!i.is_excluded("target/x86_64-unknown-linux-gnu/release/ipfs"));
        assert!(!i.is_excluded("kubo/rootfs/data/ipfs/.keep"));
        assert!(i.may_reinclude_below("target"));
        assert!(i.may_reinclude_below("target/x86_64-unknown-linux-gnu"));
        assert!(!i.may_reinclude_below("target/debug"));
        assert!(!i.may_reinclude_below("app"));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let i = ig("# a comment\n\n  node_modules  \n");
        assert!(i.is_excluded("node_modules/x"));
        assert!(!i.is_excluded("# a comment"));
    }
}
