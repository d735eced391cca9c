//! Build contexts: the context directory as an uncompressed tar, honouring `<Dockerfile>.dockerignore` or
//! `.dockerignore`, with a content hash so an unchanged context skips the build.

use std::io;
use std::path::{Path, PathBuf};

use crate::image::dockerignore::DockerIgnore;

/// A context ready to send.
#[derive(Debug)]
pub struct Context {
    /// The tar.
    pub tar: Vec<u8>,
    /// Hash of paths, modes and contents (not times), hex.
    pub hash: String,
    /// Number of files sent.
    pub files: usize,
}

/// Reads the ignore file for a Dockerfile: `<dockerfile>.dockerignore` next to it wins over the context's
/// `.dockerignore`. Returns the rules and the context-relative path of the file used.
pub fn ignore_rules(
    context: &Path,
    dockerfile: &str,
) -> io::Result<(DockerIgnore, Option<String>)> {
    let specific = format!("{dockerfile}.dockerignore");
    for rel in [specific.as_str(), ".dockerignore"] {
        let p = context.join(rel);
        if p.is_file() {
            let text = std::fs::read_to_string(&p)?;
            let rules = DockerIgnore::parse(&text).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", p.display()))
            })?;
            return Ok((rules, Some(rel.to_string())));
        }
    }
    Ok((DockerIgnore::default(), None))
}

fn walk(
    dir: &Path,
    rel: &str,
    ignore: &DockerIgnore,
    out: &mut Vec<(String, PathBuf, bool)>,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type()?;
        let excluded = ignore.is_excluded(&child_rel);
        if ft.is_dir() {
            if !excluded {
                out.push((child_rel.clone(), e.path(), true));
                walk(&e.path(), &child_rel, ignore, out)?;
            } else if ignore.may_reinclude_below(&child_rel) {
                walk(&e.path(), &child_rel, ignore, out)?;
            }
        } else if !excluded && (ft.is_file() || ft.is_symlink()) {
            out.push((child_rel, e.path(), false));
        }
    }
    Ok(())
}

/// Tars the context. The Dockerfile and the ignore file are always sent, as the Docker CLI does. The hash is
/// over what the Dockerfile's build can reach of it (`reach`), salted with `salt`.
pub fn pack(context: &Path, dockerfile: &str, salt: &str) -> io::Result<Context> {
    let (ignore, ignore_file) = ignore_rules(context, dockerfile)?;
    let mut entries = Vec::new();
    walk(context, "", &ignore, &mut entries)?;
    for always in std::iter::once(dockerfile.to_string()).chain(ignore_file.clone()) {
        if !entries.iter().any(|(r, _, _)| *r == always) {
            entries.push((always.clone(), context.join(&always), false));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    // The hash covers what the build can reach: a file of the context that no COPY or ADD reads (another
    // service's, in a shared context) cannot make this image stale.
    let reached = std::fs::read_to_string(context.join(dockerfile))
        .ok()
        .and_then(|text| super::reach::reached_prefixes(&text));
    let hashed = |rel: &str| {
        rel == dockerfile
            || ignore_file.as_deref() == Some(rel)
            || reached
                .as_deref()
                .is_none_or(|p| super::reach::reaches(p, rel))
    };

    let mut hasher = blake3::Hasher::new();
    hasher.update(salt.as_bytes());
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    let mut files = 0;
    for (rel, path, is_dir) in entries {
        let meta = std::fs::symlink_metadata(&path)?;
        // Everything sent is still packed; what is left out of the hash goes to a throwaway hasher.
        let mut unhashed = blake3::Hasher::new();
        let hasher = if hashed(&rel) {
            &mut hasher
        } else {
            &mut unhashed
        };
        hasher.update(rel.as_bytes());
        hasher.update(&[0]);
        if is_dir {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            builder.append_data(&mut h, format!("{rel}/"), io::empty())?;
            continue;
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            hasher.update(target.to_string_lossy().as_bytes());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            builder.append_link(&mut h, &rel, &target)?;
            continue;
        }
        let data = std::fs::read(&path)?;
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o7777
        };
        #[cfg(not(unix))]
        let mode = 0o644;
        hasher.update(&mode.to_le_bytes());
        hasher.update(&data);
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        builder.append_data(&mut h, &rel, data.as_slice())?;
        files += 1;
    }
    let tar = builder.into_inner()?;
    Ok(Context {
        tar,
        hash: hasher.finalize().to_hex().to_string(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::pack;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .expect("tar")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn context_honours_the_dockerfile_specific_ignore_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path();
        std::fs::create_dir_all(p.join("app")).expect("mkdir");
        std::fs::create_dir_all(p.join("target/release")).expect("mkdir");
        std::fs::write(p.join("app/Dockerfile"), "FROM scratch\n").expect("write");
        std::fs::write(
            p.join("app/Dockerfile.dockerignore"),
            "**\n!target/release/app\n",
        )
        .expect("write");
        std::fs::write(p.join(".dockerignore"), "nothing\n").expect("write");
        std::fs::write(p.join("target/release/app"), "bin").expect("write");
        std::fs::write(p.join("target/release/other"), "bin").expect("write");
        std::fs::write(p.join("notes.txt"), "x").expect("write");
        let c = pack(p, "app/Dockerfile", "").expect("pack");
        let n = names(&c.tar);
        assert!(n.contains(&"target/release/app".to_string()), "{n:?}");
        assert!(n.contains(&"app/Dockerfile".to_string()), "{n:?}");
        assert!(
            n.contains(&"app/Dockerfile.dockerignore".to_string()),
            "{n:?}"
        );
        assert!(
            !n.iter().any(|x| x.contains("other") || x.contains("notes")),
            "{n:?}"
        );
    }

    #[test]
    fn hash_changes_with_content_only() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path();
        std::fs::write(p.join("Dockerfile"), "FROM scratch\nCOPY VERSION /\n").expect("write");
        std::fs::write(p.join("VERSION"), "v1").expect("write");
        let a = pack(p, "Dockerfile", "").expect("pack").hash;
        let b = pack(p, "Dockerfile", "").expect("pack").hash;
        assert_eq!(a, b);
        std::fs::write(p.join("VERSION"), "v2").expect("write");
        assert_ne!(a, pack(p, "Dockerfile", "").expect("pack").hash);
    }

    #[test]
    fn a_file_no_copy_reads_is_sent_but_does_not_change_the_hash() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path();
        std::fs::write(p.join("Dockerfile"), "FROM scratch\nCOPY VERSION /\n").expect("write");
        std::fs::write(p.join("VERSION"), "v1").expect("write");
        std::fs::write(p.join("OTHER"), "1").expect("write");
        let a = pack(p, "Dockerfile", "").expect("pack");
        assert!(names(&a.tar).contains(&"OTHER".to_string()), "still sent");
        std::fs::write(p.join("OTHER"), "2").expect("write");
        assert_eq!(a.hash, pack(p, "Dockerfile", "").expect("pack").hash);
        std::fs::write(p.join("Dockerfile"), "FROM scratch\nCOPY . /\n").expect("write");
        let whole = pack(p, "Dockerfile", "").expect("pack").hash;
        std::fs::write(p.join("OTHER"), "3").expect("write");
        assert_ne!(
            whole,
            pack(p, "Dockerfile", "").expect("pack").hash,
            "COPY . reads it"
        );
    }
}
