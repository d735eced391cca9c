//! Second stage: raw TOML values → a [`Spec`] that cannot be invalid. Every check that can fail points at the
//! value that caused it. All errors are collected, not just the first.
//!
//! This file is the driver: parse the text, make the [`Ctx`] that collects errors, check the project and each
//! service (`service.rs`), then the dependency order and `[render]`, and build the [`Spec`]. Each check lives in
//! the file named after the part of the spec it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

use super::raw::RawSpec;
use super::units::PortMapping;
use super::{Service, Spec, SpecError, SpecErrors};
use crate::output::redact;
use depends::dependency_order;
use names::{default_project_name, name_help, name_problem};
use secrets::secrets_in_text;
use service::service;

mod build;
mod depends;
mod durations;
mod host_mounts;
mod kubo_config;
mod kubo_version;
mod names;
mod overlay;
mod ports;
mod probes;
mod resources;
mod restart;
mod safety;
mod secrets;
mod security;
mod service;
mod toml_error;
mod volumes;
mod watch;

#[cfg(test)]
mod tests;

const KUBO_UID: u32 = 1000;
const KUBO_GID: u32 = 100;
const DEFAULT_IPFS_PATH: &str = "/data/ipfs";

/// One spec file: its name, its text, and where its text starts in the files laid end to end.
struct Part {
    file: String,
    offset: usize,
    text: Arc<String>,
    source: Arc<NamedSource<String>>,
}

/// What every check shares: the files the errors point into (the base and its overlays, laid end to end in
/// `text`: every span of the merged document is a range of it), the errors found so far, and the host mounts
/// are compared with.
struct Ctx {
    parts: Vec<Part>,
    text: Arc<String>,
    errors: Vec<SpecError>,
    /// The home directory and engine sockets bind mounts are checked against.
    host: host_mounts::Host,
}

impl Ctx {
    /// A context for the spec files given (the base first, then its overlays), with no errors yet and the host
    /// as the environment describes it.
    fn for_files(files: &[(&Path, &str)]) -> Self {
        let mut parts = Vec::new();
        let mut offset = 0;
        for (p, t) in files {
            let file = p.display().to_string();
            parts.push(Part {
                source: Arc::new(NamedSource::new(file.clone(), t.to_string())),
                file,
                offset,
                text: Arc::new(t.to_string()),
            });
            offset += t.len();
        }
        let text: String = files.iter().map(|(_, t)| *t).collect();
        Ctx {
            parts,
            text: Arc::new(text),
            errors: Vec::new(),
            host: host_mounts::Host::from_env(),
        }
    }

    fn err(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<&str>) {
        let e = self.error(span, message.into(), help);
        self.errors.push(e);
    }

    /// The problems a check of its own found, each as [`Ctx::err`] records one.
    fn errs(&mut self, problems: Vec<(Range<usize>, String, Option<String>)>) {
        for (span, message, help) in problems {
            self.err(span, message, help.as_deref());
        }
    }

    /// An error at `span` of the files laid end to end, located in the file it falls in.
    fn error(&self, span: Range<usize>, message: String, help: Option<&str>) -> SpecError {
        let part = self
            .parts
            .iter()
            .rev()
            .find(|p| p.offset <= span.start)
            .unwrap_or(&self.parts[0]);
        let local = span.start - part.offset..span.end.saturating_sub(part.offset);
        SpecError::new(
            &part.file,
            &part.text,
            &part.source,
            message,
            local,
            help.map(str::to_string),
        )
    }
}

/// Parses each file, lays each on the ones before it and reads the result as a [`RawSpec`]; `None` when a
/// file is not TOML or the result does not fit the schema (the errors are in `cx`).
fn raw_spec(cx: &mut Ctx, files: &[(&Path, &str)]) -> Option<RawSpec> {
    let mut merged: Option<toml::Spanned<toml::de::DeTable<'_>>> = None;
    for (k, (_, t)) in files.iter().enumerate() {
        let offset = cx.parts[k].offset;
        match toml::de::DeTable::parse(t) {
            Ok(table) => {
                let span = table.span();
                let table = overlay::shift(table.into_inner(), offset);
                merged = Some(match merged.take() {
                    None => toml::Spanned::new(span, table),
                    Some(base) => {
                        let base_span = base.span();
                        toml::Spanned::new(base_span, overlay::merge(base.into_inner(), table))
                    }
                });
            }
            Err(e) => {
                let (span, msg, help) = toml_error::describe(&e, t);
                cx.err(span.start + offset..span.end + offset, msg, Some(&help));
            }
        }
    }
    if !cx.errors.is_empty() {
        return None;
    }
    let de = toml::de::Deserializer::from(merged?);
    match <RawSpec as serde::Deserialize>::deserialize(de) {
        Ok(r) => Some(r),
        Err(e) => {
            let text = Arc::clone(&cx.text);
            let (span, msg, help) = toml_error::describe(&e, &text);
            cx.err(span, msg, Some(&help));
            None
        }
    }
}

/// Joins a relative spec path onto the spec directory, without touching the filesystem.
fn resolve(dir: &Path, p: &str) -> PathBuf {
    let joined = if Path::new(p).is_absolute() {
        PathBuf::from(p)
    } else {
        dir.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // `..` of `/` is `/`, as for the kernel.
                if !out.pop() && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A bind mount source that does not exist (the engine would refuse it, or create a root-owned directory).
fn missing_bind_source(cx: &mut Ctx, span: Range<usize>, written: &str, abs: &Path) {
    cx.err(
        span,
        format!(
            "bind mount source `{written}` does not exist ({})",
            abs.display()
        ),
        Some(&format!("create it first: mkdir -p {}", abs.display())),
    );
}

/// Why `name` cannot be a project's name, with the rule (and a corrected name) to follow; `None` when it can.
pub(super) fn project_name_problem(name: &str) -> Option<String> {
    let (why, fixed) = names::name_problem(name)?;
    Some(format!(
        "`{name}` cannot be a project name: {why}; {}",
        names::name_help(fixed.as_ref())
    ))
}

/// The directory of the spec file, which anchors relative paths (`.` for a bare file name).
fn spec_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Validates a base file and its overlays (`files[1..]`, each laid on what came before); the base's
/// directory anchors relative paths, and every error names the file it was written in.
pub(super) fn validate_files(files: &[(&Path, &str)]) -> Result<Spec, SpecErrors> {
    let path = files[0].0;
    let mut cx = Ctx::for_files(files);
    let text = Arc::clone(&cx.text);
    let text = text.as_str();
    let Some(raw) = raw_spec(&mut cx, files) else {
        let mut errors = SpecErrors { errors: cx.errors };
        let secrets = secrets_in_text(text);
        errors.redact(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
        return Err(errors);
    };

    let dir = spec_dir(path);
    let abs_dir = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
    let project = project_name(&mut cx, &raw, &abs_dir);
    let names: BTreeSet<String> = raw.services.keys().map(|k| k.get_ref().clone()).collect();
    let services = validated_services(&mut cx, &raw, &project, &abs_dir, &names);

    let order = dependency_order(&mut cx, &raw);
    let (render, problems) = super::render::validate(raw.render.as_ref(), &services, &names);
    cx.errs(problems);
    let (test, problems) = super::steps::validate(raw.test.as_ref(), &names);
    cx.errs(problems);

    if cx.errors.is_empty() {
        Ok(Spec {
            project,
            file: path.to_path_buf(),
            overlays: files[1..].iter().map(|(p, _)| p.to_path_buf()).collect(),
            dir: abs_dir,
            services,
            order,
            render,
            test,
            ui_port: raw.ui.as_ref().and_then(|u| u.port),
            labels: BTreeMap::new(),
            run: super::context::RunContext::default(),
        })
    } else {
        Err(redacted_errors(cx.errors, &raw, text))
    }
}

/// The project's name: `[project] name` when given (an error when it is not a valid name), else one made from
/// the spec's directory.
fn project_name(cx: &mut Ctx, raw: &RawSpec, abs_dir: &Path) -> String {
    match raw.project.as_ref().and_then(|p| p.name.as_ref()) {
        Some(n) => {
            if let Some((why, fixed)) = name_problem(n.get_ref()) {
                cx.err(
                    n.span(),
                    format!("project name `{}` is not valid: {why}", n.get_ref()),
                    Some(&name_help(fixed.as_ref())),
                );
            }
            n.get_ref().clone()
        }
        None => default_project_name(abs_dir),
    }
}

/// Every service that validates, by name; a spec without services, an invalid service name and each
/// service's own problems are errors in `cx`. `names` holds every service name, valid or not.
fn validated_services(
    cx: &mut Ctx,
    raw: &RawSpec,
    project: &str,
    abs_dir: &Path,
    names: &BTreeSet<String>,
) -> BTreeMap<String, Service> {
    if raw.services.is_empty() {
        cx.err(
            0..0,
            "the spec defines no services",
            Some("add a `[services.NAME]` table with `image` or `build`"),
        );
    }

    let mut services = BTreeMap::new();
    // (host ip, port, protocol) -> (service, span) for duplicate detection.
    let mut published: Vec<(PortMapping, String, Range<usize>)> = Vec::new();

    for (key, svc) in &raw.services {
        let name = key.get_ref().clone();
        if let Some((why, fixed)) = name_problem(&name) {
            cx.err(
                key.span(),
                format!("service name `{name}` is not valid: {why}"),
                Some(&name_help(fixed.as_ref())),
            );
        }
        if let Some(s) = service(
            cx,
            project,
            abs_dir,
            &name,
            key.span(),
            svc,
            names,
            &mut published,
        ) {
            services.insert(name, s);
        }
    }
    services
}

/// The errors in order, with every secret value of the spec (by `secrets` or by name) taken out of them.
fn redacted_errors(mut found: Vec<SpecError>, raw: &RawSpec, text: &str) -> SpecErrors {
    found.sort_by_key(|e| e.span.start);
    let mut errors = SpecErrors { errors: found };
    let mut secrets = secrets_in_text(text);
    for svc in raw.services.values() {
        let svc = svc.get_ref();
        let listed: BTreeSet<&str> = svc.secrets.iter().map(|s| s.get_ref().as_str()).collect();
        secrets.extend(
            svc.env
                .iter()
                .filter(|(k, _)| listed.contains(k.as_str()) || redact::is_secret_name(k))
                .map(|(_, v)| v.clone()),
        );
    }
    errors.redact(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
    errors
}
