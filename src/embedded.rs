//! The real PinShare setup, embedded in the binary: `pinshare-dev init` writes these files.

/// The top-level `pinshare.toml`.
pub const PINSHARE_TOML: &str = include_str!("../pinshare.toml");
/// PinShare's Dockerfile (no IPFS inside).
pub const DOCKERFILE: &str = include_str!("../Dockerfile");

/// Writes both files into `dir`; refuses to overwrite without `force`. Returns the paths written.
pub fn write_into(dir: &std::path::Path, force: bool) -> Result<Vec<std::path::PathBuf>, String> {
    let files = [("pinshare.toml", PINSHARE_TOML), ("Dockerfile", DOCKERFILE)];
    if !force {
        let existing: Vec<&str> = files
            .iter()
            .filter(|(n, _)| dir.join(n).exists())
            .map(|(n, _)| *n)
            .collect();
        if !existing.is_empty() {
            return Err(format!(
                "{} already exist(s) in {}; nothing was written (use --force to overwrite)",
                existing.join(" and "),
                dir.display()
            ));
        }
    }
    let mut written = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_spec_parses_and_describes_the_sidecar_setup() {
        let d = tempfile::tempdir().expect("tempdir");
        write_into(d.path(), false).expect("write");
        let spec =
            crate::spec::load(&d.path().join("pinshare.toml")).expect("embedded spec is valid");
        assert_eq!(spec.order, vec!["ipfs", "pinshare"]);
        let app = &spec.services["pinshare"];
        assert_eq!(
            app.env.get("IPFS_API").map(String::as_str),
            Some("http://ipfs:5001")
        );
        assert_eq!(app.depends_on, vec!["ipfs"]);
        assert!(
            spec.services["ipfs"]
                .init
                .iter()
                .any(|s| matches!(s.action, crate::spec::InitAction::KuboConfig { .. }))
        );
        assert!(
            spec.services
                .values()
                .flat_map(|s| &s.ports)
                .all(|p| p.host_ip.is_loopback())
        );
    }

    #[test]
    fn init_refuses_to_overwrite_without_force() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("Dockerfile"), "mine").expect("write");
        let e = write_into(d.path(), false).expect_err("refused");
        assert!(e.contains("Dockerfile"), "{e}");
        assert_eq!(
            std::fs::read_to_string(d.path().join("Dockerfile")).expect("read"),
            "mine"
        );
        write_into(d.path(), true).expect("forced");
    }

    #[test]
    fn dockerfile_has_no_ipfs_inside() {
        for line in DOCKERFILE
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
        {
            let l = line.to_lowercase();
            assert!(
                !l.contains("kubo")
                    && !l.contains("dist.ipfs")
                    && !l.contains("ipfs init")
                    && !l.contains("ipfs daemon"),
                "{line}"
            );
        }
        assert!(
            DOCKERFILE.contains("chromium")
                && DOCKERFILE.contains("clamav")
                && DOCKERFILE.contains("ca-certificates")
        );
    }
}
