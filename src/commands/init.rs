//! The real PinShare setup, embedded in the binary: `pinshare-dev init` writes these files into a PinShare
//! checkout. PinShare has a Dockerfile of its own (kubo inside): init keeps it, byte for byte, as
//! `Dockerfile-legacy` (the migration's rollback) and never overwrites a Dockerfile that is not its own.

use std::path::{Path, PathBuf};

/// The top-level `pinshare.toml`.
pub const PINSHARE_TOML: &str = include_str!("../../pinshare.toml");
/// PinShare's Dockerfile for the sidecar setup (the `ipfs` CLI inside, no daemon).
pub const DOCKERFILE: &str = include_str!("../../Dockerfile");
/// The `.dockerignore` that sends the build only what the Dockerfile copies.
pub const DOCKERIGNORE: &str = include_str!("../../.dockerignore");

/// Where a replaced Dockerfile is kept.
pub const LEGACY_DOCKERFILE: &str = "Dockerfile-legacy";

/// The line that marks a Dockerfile as written by init (also after the user edits it).
const DOCKERFILE_MARK: &str = "Written by `pinshare-dev init`";

/// The files init writes, in order.
const OUTPUTS: [(&str, &str); 3] = [
    ("pinshare.toml", PINSHARE_TOML),
    ("Dockerfile", DOCKERFILE),
    (".dockerignore", DOCKERIGNORE),
];

/// One thing init did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The existing (not ours) Dockerfile was renamed, unchanged.
    KeptLegacy { from: PathBuf, to: PathBuf },
    /// A file was created.
    Wrote(PathBuf),
    /// One of init's own files was replaced (`--force`).
    Overwrote(PathBuf),
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Done::KeptLegacy { from, to } => write!(
                f,
                "kept your {} as {} (unchanged; to roll back: docker build -f {} .)",
                from.display(),
                to.display(),
                LEGACY_DOCKERFILE
            ),
            Done::Wrote(p) => write!(f, "wrote {}", p.display()),
            Done::Overwrote(p) => write!(f, "overwrote {}", p.display()),
        }
    }
}

/// What the files init writes assume of the directory, checked there: PinShare's Go module (`module pinshare`
/// in go.mod, package main at the root). One line per thing the user must check; none in a PinShare checkout.
pub fn checkout_notes(dir: &Path) -> Vec<String> {
    let assumed = "the Dockerfile copies go.mod, go.sum, main.go and internal/ and builds package main at the \
                   root, and pinshare.toml watches those paths";
    let go_mod = dir.join("go.mod");
    let text = match std::fs::read_to_string(&go_mod) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return vec![format!(
                "note: no go.mod in {}: this does not look like a PinShare checkout (Go module `pinshare`); {assumed}: \
                 run init in PinShare's root instead, or adapt the Dockerfile and pinshare.toml's `build` and \
                 `watch.paths` to this project",
                dir.display()
            )];
        }
        Err(e) => return vec![format!("note: reading {}: {e}", go_mod.display())],
    };
    let module = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("module")?;
        let rest = rest.split("//").next().unwrap_or_default().trim();
        (rest.len() < l.trim().len()).then(|| rest.trim_matches('"').to_string())
    });
    match module {
        Some(m) if m == "pinshare" => Vec::new(),
        Some(m) => vec![format!(
            "note: {} declares module `{m}`, not PinShare's `pinshare`; {assumed}: check that they fit this \
             module (its main package, its directories) before `pinshare-dev up`",
            go_mod.display()
        )],
        None => vec![format!(
            "note: {} has no `module` line, so it is not PinShare's (module `pinshare`); {assumed}: check that \
             they fit this project before `pinshare-dev up`",
            go_mod.display()
        )],
    }
}

/// Whether an existing Dockerfile is one init wrote (identical, or still carrying init's mark).
fn dockerfile_is_ours(text: &[u8]) -> bool {
    text == DOCKERFILE.as_bytes() || String::from_utf8_lossy(text).contains(DOCKERFILE_MARK)
}

/// Writes pinshare.toml, Dockerfile and .dockerignore into `dir`.
///
/// - A Dockerfile that is not init's own is renamed to `Dockerfile-legacy` first (a rename: same bytes,
///   same mode). When `Dockerfile-legacy` exists too, nothing is done: no file is ever lost.
/// - When init's own outputs already exist (pinshare.toml, .dockerignore, or a Dockerfile init wrote),
///   nothing is done unless `force`, which overwrites those and only those.
///
/// Checks everything before touching anything. Returns what was done, in order.
pub fn write_into(dir: &Path, force: bool) -> Result<Vec<Done>, String> {
    let read = |name: &str| match std::fs::read(dir.join(name)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", dir.join(name).display())),
    };
    let mut ours_existing = Vec::new();
    let mut keep_legacy = false;
    for (name, _) in OUTPUTS {
        let Some(existing) = read(name)? else {
            continue;
        };
        if name == "Dockerfile" && !dockerfile_is_ours(&existing) {
            keep_legacy = true;
        } else {
            ours_existing.push(name);
        }
    }
    let legacy = dir.join(LEGACY_DOCKERFILE);
    if keep_legacy && std::fs::symlink_metadata(&legacy).is_ok() {
        return Err(format!(
            "{} has a Dockerfile that pinshare-dev did not write, and {LEGACY_DOCKERFILE} exists too: \
             init keeps the old Dockerfile as {LEGACY_DOCKERFILE} and will not replace either; move one of \
             them away first. Nothing was written.",
            dir.display()
        ));
    }
    if !ours_existing.is_empty() && !force {
        return Err(format!(
            "{} already in {}: nothing was written (use --force to overwrite {}; --force never replaces a \
             Dockerfile that pinshare-dev did not write)",
            ours_existing.join(", "),
            dir.display(),
            if ours_existing.len() == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }

    let mut done = Vec::new();
    if keep_legacy {
        let from = dir.join("Dockerfile");
        std::fs::rename(&from, &legacy).map_err(|e| {
            format!(
                "renaming {} to {}: {e}; nothing was written",
                from.display(),
                legacy.display()
            )
        })?;
        done.push(Done::KeptLegacy { from, to: legacy });
    }
    for (name, text) in OUTPUTS {
        let p = dir.join(name);
        let existed = ours_existing.contains(&name);
        std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        done.push(if existed {
            Done::Overwrote(p)
        } else {
            Done::Wrote(p)
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).expect("read")
    }

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
    fn embedded_spec_fits_the_real_images() {
        // kubo: `diag healthy` (the liveness) exists from v0.42.0 only.
        assert!(PINSHARE_TOML.contains("image = \"ipfs/kubo:v0.42.0\""));
        assert!(PINSHARE_TOML.contains("\"diag\", \"healthy\""));
        // PinShare: libp2p over tcp and udp, the working directory on a volume, a start of minutes.
        assert!(PINSHARE_TOML.contains("\"50001:50001\", \"50001:50001/udp\""));
        assert!(PINSHARE_TOML.contains("\"backend-data:/opt/pinshare/data\""));
        assert!(PINSHARE_TOML.contains("start_timeout = \"600s\""));
        // The Dockerfile's CLI comes from the same kubo the spec runs.
        assert!(DOCKERFILE.contains("FROM ipfs/kubo:v0.42.0 AS kubo"));
    }

    #[test]
    fn init_keeps_a_foreign_dockerfile_as_dockerfile_legacy_byte_for_byte() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tempdir");
        let theirs: &[u8] = b"FROM golang:latest as builder\n# kubo inside\r\n\xff\n";
        std::fs::write(d.path().join("Dockerfile"), theirs).expect("write");
        std::fs::set_permissions(
            d.path().join("Dockerfile"),
            std::fs::Permissions::from_mode(0o640),
        )
        .expect("chmod");
        let done = write_into(d.path(), false).expect("init");
        assert_eq!(
            done[0],
            Done::KeptLegacy {
                from: d.path().join("Dockerfile"),
                to: d.path().join("Dockerfile-legacy")
            }
        );
        assert!(
            done[0].to_string().starts_with("kept your ")
                && done[0].to_string().contains("Dockerfile-legacy (unchanged"),
            "{}",
            done[0]
        );
        assert_eq!(read(&d.path().join("Dockerfile-legacy")), theirs);
        let mode = std::fs::metadata(d.path().join("Dockerfile-legacy"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "a rename keeps the mode too");
        assert_eq!(read(&d.path().join("Dockerfile")), DOCKERFILE.as_bytes());
        assert_eq!(
            read(&d.path().join(".dockerignore")),
            DOCKERIGNORE.as_bytes()
        );
        assert_eq!(
            read(&d.path().join("pinshare.toml")),
            PINSHARE_TOML.as_bytes()
        );
    }

    #[test]
    fn init_refuses_when_its_own_outputs_exist_and_force_overwrites_only_those() {
        let d = tempfile::tempdir().expect("tempdir");
        write_into(d.path(), false).expect("first init");
        std::fs::write(d.path().join("pinshare.toml"), "# mine\n").expect("write");
        let e = write_into(d.path(), false).expect_err("refused");
        assert!(
            e.contains("pinshare.toml, Dockerfile, .dockerignore already in")
                && e.contains("nothing was written")
                && e.contains("--force"),
            "{e}"
        );
        assert_eq!(read(&d.path().join("pinshare.toml")), b"# mine\n");
        let done = write_into(d.path(), true).expect("forced");
        assert!(
            done.iter().all(|x| matches!(x, Done::Overwrote(_))),
            "{done:?}"
        );
        assert_eq!(
            read(&d.path().join("pinshare.toml")),
            PINSHARE_TOML.as_bytes()
        );
        assert!(!d.path().join("Dockerfile-legacy").exists());
    }

    #[test]
    fn an_edited_dockerfile_from_init_is_still_init_s_own() {
        let d = tempfile::tempdir().expect("tempdir");
        let edited = DOCKERFILE.replace("EXPOSE 9090", "EXPOSE 9091");
        std::fs::write(d.path().join("Dockerfile"), &edited).expect("write");
        let e = write_into(d.path(), false).expect_err("refused");
        assert!(e.starts_with("Dockerfile already in"), "{e}");
        write_into(d.path(), true).expect("forced");
        assert!(!d.path().join("Dockerfile-legacy").exists());
    }

    #[test]
    fn init_never_loses_a_dockerfile_when_dockerfile_legacy_exists() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("Dockerfile"), "theirs\n").expect("write");
        std::fs::write(d.path().join("Dockerfile-legacy"), "older\n").expect("write");
        for force in [false, true] {
            let e = write_into(d.path(), force).expect_err("refused");
            assert!(
                e.contains("Dockerfile-legacy exists too") && e.contains("Nothing was written"),
                "{e}"
            );
            assert_eq!(read(&d.path().join("Dockerfile")), b"theirs\n");
            assert_eq!(read(&d.path().join("Dockerfile-legacy")), b"older\n");
            assert!(!d.path().join("pinshare.toml").exists());
        }
    }

    #[test]
    fn dockerfile_has_the_ipfs_cli_but_no_daemon() {
        let code: Vec<String> = DOCKERFILE
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(str::to_lowercase)
            .collect();
        for l in &code {
            assert!(
                !l.contains("dist.ipfs")
                    && !l.contains("ipfs init")
                    && !l.contains("ipfs daemon")
                    && !l.contains("sleep"),
                "{l}"
            );
        }
        let has = |s: &str| code.iter().any(|l| l.contains(s));
        // The CLI copied from the kubo image, with the api file it needs.
        assert!(has(
            "copy --from=kubo /usr/local/bin/ipfs /usr/local/bin/ipfs"
        ));
        assert!(has("echo /dns4/ipfs/tcp/5001 > /opt/pinshare/ipfs/api"));
        assert!(has("ipfs_path=/opt/pinshare/ipfs"));
        // cgo for go-sqlite3; the working directory on the data volume; libp2p over udp too.
        assert!(has("cgo_enabled=1 go build"));
        // Go's module and build caches outlive each build (BuildKit cache mounts), in the paths the golang
        // image's root uses: one edited file recompiles incrementally.
        let joined = DOCKERFILE.replace("\\\n", " ");
        let run_with = |mounts: &[&str], cmd: &str| {
            joined.lines().any(|l| {
                l.starts_with("RUN ")
                    && l.contains(cmd)
                    && mounts
                        .iter()
                        .all(|m| l.contains(&format!("--mount=type=cache,target={m} ")))
            })
        };
        assert!(run_with(&["/go/pkg/mod"], "go mod download"));
        assert!(run_with(
            &["/go/pkg/mod", "/root/.cache/go-build"],
            "CGO_ENABLED=1 go build"
        ));
        assert!(has("workdir /opt/pinshare/data"));
        assert!(has("expose 9090 50001 50001/udp"));
        // clamav writable by the user the app runs as.
        assert!(has("user 1000:100"));
        assert!(has("chown -r 1000:100 /var/lib/clamav /var/log/clamav"));
        assert!(has("clamav-freshclam") && has("ca-certificates"));
        assert!(DOCKERFILE.contains(DOCKERFILE_MARK));
    }

    #[test]
    fn the_dockerignore_sends_only_what_the_build_copies() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path();
        for f in [
            "go.mod",
            "go.sum",
            "main.go",
            "internal/app/app.go",
            "internal/psfs/ipfs_cmd.go",
            "cmd/pinsharesvc/main.go",
            "pinshare-ui/node_modules/x/index.js",
            "pinshare-ui/src/App.jsx",
            ".git/HEAD",
            "identity.key",
            "pinshare.db",
            "metadata.json",
            "data/identity.key",
            "upload/a.pdf",
            ".env",
        ] {
            std::fs::create_dir_all(p.join(f).parent().expect("parent")).expect("mkdir");
            std::fs::write(p.join(f), "x").expect("write");
        }
        std::fs::write(p.join("Dockerfile-legacy"), "old").expect("write");
        std::fs::write(p.join("Dockerfile"), DOCKERFILE).expect("write");
        std::fs::write(p.join(".dockerignore"), DOCKERIGNORE).expect("write");
        let c = crate::image::context::pack(p, "Dockerfile", "").expect("pack");
        let mut names: Vec<String> = tar::Archive::new(&c.tar[..])
            .entries()
            .expect("tar")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .filter(|n| !n.ends_with('/'))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "Dockerfile",
                "go.mod",
                "go.sum",
                "internal/app/app.go",
                "internal/psfs/ipfs_cmd.go",
                "main.go"
            ]
        );
    }
}
