//! `pinshare-dev render k8s|compose`: the same spec as Kubernetes manifests (`k8s/`: one Deployment whose pod
//! holds the app and kubo as a sidecar) or a docker-compose.yml (`compose.rs`). Both are pure functions of the
//! [`Spec`]: deterministic YAML (stable order, no timestamps), reviewed as snapshots.
//!
//! What both share lives here: how a probe becomes something the target can run, kubo detection, image names,
//! and quantities.

mod compose;
mod k8s;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use compose::compose;
use k8s::{k8s, k8s_files};

use crate::error::{Error, Result};
use crate::spec::{Check, ImageSource, InitAction, InitStep, Service, Spec};

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Kubernetes manifests: Deployment (app + kubo sidecar), Services, PersistentVolumeClaims.
    K8s,
    /// A docker-compose.yml equivalent to `pinshare-dev up`.
    Compose,
}

/// Options of `render k8s` (and the image tag of `render compose`).
#[derive(Debug, Clone, Default)]
pub struct K8sOptions {
    /// Kubo as a classic second container instead of a native sidecar (an init container with
    /// `restartPolicy: Always`, Kubernetes ≥ 1.29).
    pub classic_sidecar: bool,
    /// Tag for the images of built services (default: the tag the local build uses).
    pub image_tag: Option<String>,
}

/// Renders `target` and writes it to `output` (a directory for k8s, a file for compose) or returns it for stdout.
/// Returns what to print.
pub(crate) fn render(
    spec: &Spec,
    target: Target,
    opts: &K8sOptions,
    output: Option<&Path>,
) -> Result<String> {
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| Error::Runtime(format!("writing {}: {e}", path.display())))
    };
    match (target, output) {
        (Target::K8s, None) => Ok(k8s(spec, opts)),
        (Target::K8s, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Runtime(format!("creating {}: {e}", dir.display())))?;
            let mut out = String::new();
            for (name, text) in k8s_files(spec, opts) {
                let path = dir.join(name);
                write(&path, &text)?;
                out.push_str(&format!("wrote {}\n", path.display()));
            }
            out.push_str(&format!("next: kubectl apply -f {}\n", dir.display()));
            Ok(out)
        }
        (Target::Compose, None) => Ok(compose(spec, opts.image_tag.as_deref())),
        (Target::Compose, Some(file)) => {
            write(file, &compose(spec, opts.image_tag.as_deref()))?;
            Ok(format!(
                "wrote {}\nnext: docker-compose -f {} up -d\n",
                file.display(),
                file.display()
            ))
        }
    }
}

/// The first lines of every rendered file.
fn header(spec: &Spec, command: &str) -> String {
    let file = spec
        .file
        .file_name()
        .map_or_else(|| "pinshare.toml".into(), |f| f.to_string_lossy());
    format!(
        "# Rendered by `pinshare-dev {command}` from {file} (project {}).\n# Edit the spec and render again rather than editing this file.\n",
        spec.project
    )
}

/// A path of the spec as written relative to the spec's directory (`./app`), absolute when outside it.
fn relative(spec: &Spec, path: &str) -> String {
    match Path::new(path).strip_prefix(&spec.dir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => format!("./{}", rel.display()),
        Err(_) => path.to_string(),
    }
}

/// Serializes one YAML document.
fn yaml<T: serde::Serialize>(value: &T) -> String {
    // Our own plain data types cannot fail to serialize; an empty document would fail validation loudly.
    serde_saphyr::to_string(value).unwrap_or_default()
}

/// The `kubo_config` step of a service: it is kubo, whose repo is prepared before the daemon starts.
struct Kubo<'a> {
    step: &'a InitStep,
    repo: &'a str,
    uid: u32,
    gid: u32,
    keys: &'a [(String, serde_json::Value)],
}

fn kubo(svc: &Service) -> Option<Kubo<'_>> {
    svc.init.iter().find_map(|step| match &step.action {
        InitAction::KuboConfig {
            repo,
            uid,
            gid,
            keys,
        } => Some(Kubo {
            step,
            repo,
            uid: *uid,
            gid: *gid,
            keys,
        }),
        InitAction::Command(_) => None,
    })
}

/// The image a service runs: built services get `tag` (when given) on their image name.
fn image(svc: &Service, tag: Option<&str>) -> String {
    match (&svc.image, tag) {
        (ImageSource::Build(b), Some(tag)) => with_tag(&b.tag, tag),
        (source, _) => source.reference().to_string(),
    }
}

/// `registry:5000/name:old` + `new` → `registry:5000/name:new`.
fn with_tag(reference: &str, tag: &str) -> String {
    let name = reference.split('@').next().unwrap_or(reference);
    let after_slash = name.rfind('/').map_or(0, |i| i + 1);
    let base = name[after_slash..]
        .rfind(':')
        .map_or(name, |i| &name[..after_slash + i]);
    format!("{base}:{tag}")
}

/// A probe as the targets can run it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// GET request (Kubernetes `httpGet`).
    HttpGet {
        port: u16,
        path: String,
        headers: BTreeMap<String, String>,
    },
    /// A command in the container.
    Exec(Vec<String>),
    /// TCP connect.
    Tcp(u16),
}

/// Translates a probe. A request to kubo's RPC API (`/api/v0/…`, POST only — GET gets 405) becomes the same
/// call through the kubo image's `ipfs` CLI (`/api/v0/dag/stat?arg=X` → `ipfs --api=… dag stat X`), so no pod
/// ever has an `httpGet` against it. Kubernetes' `httpGet` only sends GET, so any other non-GET request becomes a
/// TCP check of its port. Returns the action and, when it changed kind, a note; `None` for a log-line probe,
/// which neither target can run.
fn translate(check: &Check) -> Option<(Action, Option<String>)> {
    Some(match check {
        Check::Http {
            port, path, method, ..
        } if path.starts_with("/api/v0/") => {
            // Kubo's RPC API, whatever the method written: GET would get 405.
            let rest = path["/api/v0/".len()..]
                .split('#')
                .next()
                .unwrap_or_default();
            let (command, query) = rest.split_once('?').unwrap_or((rest, ""));
            let mut argv = vec![
                "ipfs".to_string(),
                format!("--api=/ip4/127.0.0.1/tcp/{port}"),
            ];
            argv.extend(
                command
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
            if argv.len() == 2 {
                argv.push("id".into());
            }
            // `?arg=X&k=v` is how the CLI's positional arguments and options travel over RPC.
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("arg", v)) => argv.push(v.to_string()),
                    Some((k, v)) => argv.push(format!("--{k}={v}")),
                    None => argv.push(format!("--{pair}")),
                }
            }
            let note = format!(
                "{method} {path} → exec `{}` (kubo's RPC API answers POST only)",
                argv.join(" ")
            );
            (Action::Exec(argv), Some(note))
        }
        Check::Http {
            port,
            path,
            method,
            headers,
        } if method.eq_ignore_ascii_case("GET") => (
            Action::HttpGet {
                port: *port,
                path: path.clone(),
                headers: headers.clone(),
            },
            None,
        ),
        Check::Http {
            port, path, method, ..
        } => {
            let note = format!(
                "{method} {path} → TCP check of port {port} (an HTTP probe here can only GET)"
            );
            (Action::Tcp(*port), Some(note))
        }
        Check::Tcp { port } => (Action::Tcp(*port), None),
        Check::Exec { argv } => (Action::Exec(argv.clone()), None),
        Check::Log { .. } => return None,
    })
}

/// Whole seconds, rounded up, at least 1 (Kubernetes probe fields).
fn seconds(d: Duration) -> i32 {
    let s = d.as_millis().div_ceil(1000).max(1);
    i32::try_from(s).unwrap_or(i32::MAX)
}

/// CPU millicores in Kubernetes units: `250m`, `1`.
fn cpu_quantity(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes in Kubernetes units, exact: `512Mi`, `2Gi`, `500M`, or plain bytes.
fn memory_quantity(bytes: u64) -> String {
    const UNITS: [(u64, &str); 8] = [
        (1 << 40, "Ti"),
        (1 << 30, "Gi"),
        (1 << 20, "Mi"),
        (1 << 10, "Ki"),
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    UNITS
        .iter()
        .find(|(n, _)| bytes.is_multiple_of(*n))
        .map_or_else(|| bytes.to_string(), |(n, u)| format!("{}{u}", bytes / n))
}

/// A Kubernetes object name (DNS-1123 label): lowercase letters, digits and `-`, at most 63.
fn dns_label(name: &str) -> String {
    let cleaned: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    trimmed[..trimmed.len().min(63)]
        .trim_end_matches('-')
        .to_string()
}
