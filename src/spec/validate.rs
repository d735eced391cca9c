//! Second stage: raw TOML values → a [`Spec`] that cannot be invalid. Every check that can fail points at the
//! value that caused it. All errors are collected, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::NamedSource;
use toml::Spanned;

use super::raw::{RawProbe, RawService, RawSpec, StrOrNum};
use super::units::{self, MountSource, PortMapping};
use super::{
    Backoff, Build, Check, HostCommand, ImageSource, InitAction, InitStep, LiveUpdate, Probe,
    Resources, RestartPolicy, Service, Spec, SpecError, SpecErrors, Watch,
};
use crate::redact;

const KUBO_UID: u32 = 1000;
const KUBO_GID: u32 = 100;
const DEFAULT_IPFS_PATH: &str = "/data/ipfs";

struct Ctx {
    file: String,
    text: Arc<String>,
    source: Arc<NamedSource<String>>,
    errors: Vec<SpecError>,
    /// The home directory and engine sockets bind mounts are checked against.
    host: host_mounts::Host,
}

impl Ctx {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<&str>) {
        let e = SpecError::new(
            &self.file,
            &self.text,
            &self.source,
            message.into(),
            span,
            help.map(str::to_string),
        );
        self.errors.push(e);
    }
}

/// Why `name` cannot name a service or project (it becomes part of Docker names and a DNS alias), and a
/// corrected name when one can be made; `None` when it is fine.
fn name_problem(name: &str) -> Option<(String, Option<String>)> {
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
fn name_help(fixed: Option<&String>) -> String {
    let rule = "use lowercase letters, digits, `-` and `_`, starting with a letter or digit";
    match fixed {
        Some(f) => format!("{rule}, e.g. `{f}`"),
        None => rule.to_string(),
    }
}

fn default_project_name(dir: &Path) -> String {
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

pub(super) fn validate(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    let file = path.display().to_string();
    let text_arc = Arc::new(text.to_string());
    let source = Arc::new(NamedSource::new(file.clone(), text.to_string()));
    let mut cx = Ctx {
        file,
        text: text_arc,
        source,
        errors: Vec::new(),
        host: host_mounts::Host::from_env(),
    };

    let raw: RawSpec = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (span, msg, help) = toml_error::describe(&e, text);
            cx.err(span, msg, Some(&help));
            let mut errors = SpecErrors { errors: cx.errors };
            let secrets = secrets_in_text(text);
            errors.redact(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
            return Err(errors);
        }
    };

    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let abs_dir = std::path::absolute(&dir).unwrap_or(dir);

    let project = match raw.project.as_ref().and_then(|p| p.name.as_ref()) {
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
        None => default_project_name(&abs_dir),
    };

    if raw.services.is_empty() {
        cx.err(
            0..0,
            "the spec defines no services",
            Some("add a `[services.NAME]` table with `image` or `build`"),
        );
    }

    let names: BTreeSet<String> = raw.services.keys().map(|k| k.get_ref().clone()).collect();
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
            &mut cx,
            &project,
            &abs_dir,
            &name,
            key.span(),
            svc,
            &names,
            &mut published,
        ) {
            services.insert(name, s);
        }
    }

    let order = dependency_order(&mut cx, &raw);
    let (render, problems) = super::render::validate(raw.render.as_ref(), &services, &names);
    for (span, message, help) in problems {
        cx.err(span, message, help.as_deref());
    }

    if cx.errors.is_empty() {
        Ok(Spec {
            project,
            file: path.to_path_buf(),
            dir: abs_dir,
            services,
            order,
            render,
        })
    } else {
        cx.errors.sort_by_key(|e| e.span.start);
        let mut errors = SpecErrors { errors: cx.errors };
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
        Err(errors)
    }
}

/// Values given to secret-named keys (`API_TOKEN = "…"`), found in the text itself, so that an error excerpt
/// never shows one even when the file does not parse. Strings and bare words after `KEY =` count.
fn secrets_in_text(text: &str) -> Vec<String> {
    enum Tok<'a> {
        Word(&'a str),
        Str(&'a str),
        Eq,
        Other,
    }
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if c == b'#' {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if c == b'"' || c == b'\'' {
            let quote = if text[i..].starts_with("\"\"\"") || text[i..].starts_with("'''") {
                &text[i..i + 3]
            } else {
                &text[i..=i]
            };
            let body = i + quote.len();
            let mut j = body;
            let end = loop {
                match text[j..].find(quote) {
                    // A basic string's `\"` is not its end.
                    Some(n)
                        if c == b'"' && text[body..j + n].ends_with('\\') && quote.len() == 1 =>
                    {
                        j += n + 1;
                    }
                    Some(n) => break j + n,
                    None => break bytes.len(),
                }
            };
            toks.push(Tok::Str(&text[body..end]));
            i = (end + quote.len()).min(bytes.len());
        } else if word(c) {
            let n = bytes[i..].iter().take_while(|b| word(**b)).count();
            toks.push(Tok::Word(&text[i..i + n]));
            i += n;
        } else {
            if c == b'=' {
                toks.push(Tok::Eq);
            } else if !c.is_ascii_whitespace() {
                toks.push(Tok::Other);
            }
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    toks.windows(3)
        .filter_map(|w| match w {
            [
                Tok::Word(k) | Tok::Str(k),
                Tok::Eq,
                Tok::Word(v) | Tok::Str(v),
            ] if redact::is_secret_name(k) => Some((*v).to_string()),
            _ => None,
        })
        .collect()
}

#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn service(
    cx: &mut Ctx,
    project: &str,
    dir: &Path,
    name: &str,
    key_span: Range<usize>,
    svc: &Spanned<RawService>,
    names: &BTreeSet<String>,
    published: &mut Vec<(PortMapping, String, Range<usize>)>,
) -> Option<Service> {
    let raw = svc.get_ref();
    let before = cx.errors.len();
    safety::refused_settings(cx, raw);
    kubo_version::check(cx, raw);

    let image = match (&raw.image, &raw.build) {
        (None, None) => {
            cx.err(key_span.clone(), format!("service `{name}` has neither `image` nor `build`"), Some("add `image = \"ipfs/kubo:v0.39.0\"` to run an image, or `build = { context = \".\" }` to build one"));
            None
        }
        (image, None) => {
            let image = image.as_ref()?;
            if image.get_ref().trim().is_empty() || image.get_ref().contains(char::is_whitespace) {
                cx.err(
                    image.span(),
                    format!("`{}` is not an image reference", image.get_ref()),
                    Some("for example `ipfs/kubo:v0.39.0`"),
                );
            }
            Some(ImageSource::Pull {
                reference: image.get_ref().clone(),
            })
        }
        (image, Some(b)) => {
            let tag = image
                .as_ref()
                .map_or_else(|| format!("{project}-{name}:dev"), |i| i.get_ref().clone());
            build(cx, dir, b, tag).map(ImageSource::Build)
        }
    };

    let mut depends_on = Vec::new();
    for d in &raw.depends_on {
        let dep = d.get_ref();
        if dep == name {
            cx.err(
                d.span(),
                format!("service `{name}` depends on itself"),
                Some("remove it from `depends_on`"),
            );
        } else if !names.contains(dep) {
            // A service cannot depend on itself: offering it would be a hint into the next error.
            let others: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| *n != name)
                .collect();
            let hint = if others.is_empty() {
                format!("`{name}` is the only service")
            } else {
                format!("other services: {}", others.join(", "))
            };
            cx.err(
                d.span(),
                format!("unknown service `{dep}` in depends_on"),
                Some(&hint),
            );
        } else {
            depends_on.push(dep.clone());
        }
    }

    let mut ports = Vec::new();
    for p in &raw.ports {
        match units::parse_port(p.get_ref()) {
            Ok(m) => {
                let clash = published.iter().find(|(o, _, _)| {
                    o.host_port == m.host_port
                        && o.protocol == m.protocol
                        && (o.host_ip == m.host_ip
                            || o.host_ip.is_unspecified()
                            || m.host_ip.is_unspecified())
                });
                if let Some((_, other, span)) = clash {
                    let (line, _) = SpecError::new(
                        &cx.file,
                        &cx.text,
                        &cx.source,
                        String::new(),
                        span.clone(),
                        None,
                    )
                    .line_col();
                    let here = cx.text[..p.span().start].matches('\n').count() + 1;
                    if other == name {
                        let also = if here == line {
                            String::new()
                        } else {
                            format!(" (also on line {line})")
                        };
                        cx.err(
                            p.span(),
                            format!(
                                "host port {} is published twice by this service{also}",
                                m.host_port
                            ),
                            Some("remove the duplicate entry, or give it another host port"),
                        );
                    } else {
                        let free = if m.host_port <= 55535 {
                            m.host_port + 10000
                        } else {
                            m.host_port - 10000
                        };
                        cx.err(
                            p.span(),
                            format!(
                                "host port {} is already published by service `{other}` (line {line})",
                                m.host_port
                            ),
                            Some(&format!(
                                "give one of them another host port, e.g. \"{free}:{}\"",
                                m.container_port
                            )),
                        );
                    }
                } else {
                    published.push((m.clone(), name.to_string(), p.span()));
                }
                safety::rpc_api_port(cx, name, raw, p, &m);
                ports.push(m);
            }
            Err(e) => cx.err(
                p.span(),
                format!("bad port mapping: {e}"),
                Some("write `\"HOST:CONTAINER\"`, `\"IP:HOST:CONTAINER\"`, optionally with `/udp`"),
            ),
        }
    }

    let mut volumes = Vec::new();
    let mut dangerous = Vec::new();
    for v in &raw.volumes {
        match units::parse_volume(v.get_ref()) {
            Ok(mut m) => {
                if let MountSource::Bind { path } = &m.source {
                    let abs = resolve(dir, &cx.host.expand_home(path));
                    if let Some(danger) = cx.host.danger(&abs) {
                        dangerous.push(host_mounts::Found {
                            span: v.span(),
                            written: path.clone(),
                            source: abs.clone(),
                            target: m.target.clone(),
                            read_only: m.read_only,
                            danger,
                        });
                    } else if !abs.exists() {
                        missing_bind_source(cx, v.span(), path, &abs);
                    }
                    m.source = MountSource::Bind {
                        path: abs.display().to_string(),
                    };
                }
                volumes.push(m);
            }
            Err(e) => cx.err(
                v.span(),
                format!("bad volume: {e}"),
                Some("write `\"NAME:/container/path\"` or `\"./host/path:/container/path[:ro]\"`"),
            ),
        }
    }
    let host_mounts = host_mounts::settle(cx, name, dir, raw, dangerous);

    let resources = raw
        .resources
        .as_ref()
        .map(|r| resources(cx, r))
        .unwrap_or_default();
    let readiness = raw.readiness.as_ref().and_then(|p| probe(cx, p));
    let liveness = raw.liveness.as_ref().and_then(|p| probe(cx, p));
    if let (Some(p), Some(l)) = (&raw.liveness, &liveness)
        && matches!(l.check, Check::Log { .. })
    {
        cx.err(
            p.span(),
            "a `log` probe can only say when a service is ready, not whether it is still alive",
            Some("use `http`, `tcp` or `exec` for liveness"),
        );
    }
    if let (Some(p), Some(r)) = (&raw.readiness, &readiness)
        && !r.start_grace.is_zero()
    {
        cx.err(
            p.span(),
            "`start_grace` applies to liveness probes only",
            Some("a readiness probe starts at once and waits up to `start_timeout`"),
        );
    }
    let restart = restart_policy(cx, raw.restart.as_ref());
    let backoff = backoff(cx, raw.backoff.as_ref());

    let mut init: Vec<InitStep> = kubo_config::step(cx, name, raw).into_iter().collect();
    for (i, step) in raw.init.iter().enumerate() {
        let s = step.get_ref();
        if s.command.get_ref().is_empty() {
            cx.err(
                s.command.span(),
                "an init step's `command` is empty",
                Some("give the argv, e.g. [\"chown\", \"-R\", \"1000\", \"/data\"]"),
            );
        }
        init.push(InitStep {
            name: s.name.clone().unwrap_or_else(|| format!("init-{}", i + 1)),
            image: s.image.clone(),
            user: s.user.clone().or_else(|| raw.user.clone()),
            action: InitAction::Command(s.command.get_ref().clone()),
        });
    }

    let stop_grace = duration(cx, raw.stop_grace.as_ref(), Duration::from_secs(10));

    let mut watch = Watch {
        debounce: Duration::from_millis(100),
        ..Watch::default()
    };
    if let Some(w) = &raw.watch {
        watch.paths = w.paths.iter().map(|p| resolve(dir, p)).collect();
        watch.ignore.clone_from(&w.ignore);
        watch.debounce = duration(cx, w.debounce.as_ref(), Duration::from_millis(100));
        for g in &w.ignore {
            if let Err(e) = globset::Glob::new(g) {
                cx.err(
                    key_span.clone(),
                    format!("bad watch.ignore glob `{g}`: {e}"),
                    None,
                );
            }
        }
    } else if let Some(ImageSource::Build(b)) = &image {
        watch.paths = vec![b.context.clone()];
    }
    let live_update = raw.live_update.as_ref().map(|lu| live_update(cx, dir, lu));
    let secret_env = secret_env(cx, name, raw);

    if cx.errors.len() > before {
        return None;
    }
    Some(Service {
        name: name.to_string(),
        image: image?,
        depends_on,
        env: raw.env.clone(),
        secret_env,
        ports,
        volumes,
        host_mounts,
        resources,
        readiness,
        liveness,
        init,
        command: raw.command.clone(),
        entrypoint: raw.entrypoint.clone(),
        user: raw.user.clone(),
        stop_grace,
        watch,
        live_update,
        restart,
        backoff,
        fix_ownership: raw.fix_ownership.unwrap_or(false),
    })
}

/// The env keys whose values are secret: listed in `secrets` (each must be a key of `env`), or secret by name.
fn secret_env(cx: &mut Ctx, name: &str, raw: &RawService) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = raw
        .env
        .keys()
        .filter(|k| redact::is_secret_name(k))
        .cloned()
        .collect();
    for s in &raw.secrets {
        let key = s.get_ref();
        if raw.env.contains_key(key) {
            out.insert(key.clone());
            continue;
        }
        let help = if raw.env.is_empty() {
            format!(
                "`secrets` names keys of `env`; add `env = {{ {key} = \"...\" }}` to [services.{name}]"
            )
        } else {
            format!(
                "`secrets` names keys of `env`; the env keys of `{name}` are {}",
                raw.env
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        cx.err(
            s.span(),
            format!("secret `{key}` is not set in this service's env"),
            Some(&help),
        );
    }
    out
}

fn live_update(cx: &mut Ctx, dir: &Path, raw: &super::raw::RawLiveUpdate) -> LiveUpdate {
    let mut sync = Vec::new();
    for s in &raw.sync {
        let from = resolve(dir, s.from.get_ref());
        if !from.exists() {
            cx.err(
                s.from.span(),
                format!(
                    "live_update sync source `{}` does not exist ({})",
                    s.from.get_ref(),
                    from.display()
                ),
                Some("`from` is relative to the spec file"),
            );
        }
        if !s.to.get_ref().starts_with('/') {
            cx.err(
                s.to.span(),
                format!(
                    "live_update sync target `{}` must be an absolute container path",
                    s.to.get_ref()
                ),
                None,
            );
        }
        sync.push((from, s.to.get_ref().clone()));
    }
    let globs_ok = |cx: &mut Ctx, globs: &[String], span: Range<usize>| {
        for g in globs {
            if let Err(e) = globset::Glob::new(g) {
                cx.err(span.clone(), format!("bad glob `{g}`: {e}"), None);
            }
        }
    };
    let mut run = Vec::new();
    for r in &raw.run {
        if r.command.get_ref().is_empty() {
            cx.err(r.command.span(), "live_update run `command` is empty", None);
        }
        globs_ok(cx, &r.trigger, r.command.span());
        run.push((r.command.get_ref().clone(), r.trigger.clone()));
    }
    let span = raw.sync.first().map_or(0..0, |s| s.from.span());
    globs_ok(cx, &raw.fall_back_on, span);
    LiveUpdate {
        sync,
        run,
        restart: raw.restart.unwrap_or(true),
        fall_back_on: raw.fall_back_on.clone(),
    }
}

fn build(
    cx: &mut Ctx,
    dir: &Path,
    b: &Spanned<super::raw::RawBuild>,
    tag: String,
) -> Option<Build> {
    let raw = b.get_ref();
    let (ctx_text, ctx_span) = raw
        .context
        .as_ref()
        .map_or((".".to_string(), b.span()), |c| {
            (c.get_ref().clone(), c.span())
        });
    let context = resolve(dir, &ctx_text);
    if !context.is_dir() {
        cx.err(
            ctx_span,
            format!(
                "build context `{ctx_text}` does not exist ({})",
                context.display()
            ),
            Some("the context is relative to the spec file's directory"),
        );
        return None;
    }
    let dockerfile = raw
        .dockerfile
        .as_ref()
        .map_or_else(|| "Dockerfile".to_string(), |d| d.get_ref().clone());
    let df_span = raw
        .dockerfile
        .as_ref()
        .map_or_else(|| b.span(), Spanned::span);
    let df_path = resolve(&context, &dockerfile);
    if !df_path.starts_with(&context) {
        cx.err(
            df_span,
            format!("dockerfile `{dockerfile}` is outside the build context"),
            Some("give its path relative to the context, inside it"),
        );
        return None;
    }
    if !df_path.is_file() {
        cx.err(
            df_span,
            format!(
                "dockerfile `{dockerfile}` not found in the build context ({})",
                df_path.display()
            ),
            Some("`dockerfile` is relative to the build context"),
        );
        return None;
    }
    let dockerfile = df_path
        .strip_prefix(&context)
        .unwrap_or(&df_path)
        .to_string_lossy()
        .replace('\\', "/");
    let host_command = match &raw.host_command {
        None => None,
        Some(hc) if hc.get_ref().is_empty() => {
            cx.err(
                hc.span(),
                "`host_command` is empty",
                Some("give the argv, e.g. [\"go\", \"build\", \"-o\", \"bin/pinshare\", \".\"]"),
            );
            None
        }
        Some(hc) => {
            let workdir = raw
                .host_workdir
                .as_ref()
                .map_or_else(|| dir.to_path_buf(), |w| resolve(dir, w.get_ref()));
            if !workdir.is_dir() {
                let span = raw
                    .host_workdir
                    .as_ref()
                    .map_or_else(|| hc.span(), Spanned::span);
                cx.err(
                    span,
                    format!("host_workdir `{}` does not exist", workdir.display()),
                    None,
                );
            }
            Some(HostCommand {
                argv: hc.get_ref().clone(),
                env: raw.host_env.clone(),
                workdir,
            })
        }
    };
    Some(Build {
        tag,
        context,
        dockerfile,
        args: raw.args.clone(),
        target: raw.target.clone(),
        host_command,
    })
}

fn quantity(
    cx: &mut Ctx,
    q: Option<&Spanned<StrOrNum>>,
    parse: fn(&str) -> Result<u64, String>,
    what: &str,
    help: &str,
) -> Option<(u64, Range<usize>)> {
    let q = q?;
    match parse(&q.get_ref().to_string()) {
        Ok(v) => Some((v, q.span())),
        Err(e) => {
            cx.err(q.span(), format!("bad {what}: {e}"), Some(help));
            None
        }
    }
}

fn resources(cx: &mut Ctx, r: &Spanned<super::raw::RawResources>) -> Resources {
    const CPU_HELP: &str = "CPU is cores (`1`, `0.5`) or millicores (`250m`)";
    const MEM_HELP: &str = "memory is bytes with a unit: `512Mi`, `2Gi`, `1G`";
    let raw = r.get_ref();
    let cpu = quantity(cx, raw.cpu.as_ref(), units::parse_cpu, "cpu", CPU_HELP);
    let cpu_limit = quantity(
        cx,
        raw.cpu_limit.as_ref(),
        units::parse_cpu,
        "cpu_limit",
        CPU_HELP,
    );
    let mem = quantity(
        cx,
        raw.memory.as_ref(),
        units::parse_memory,
        "memory",
        MEM_HELP,
    );
    let mem_limit = quantity(
        cx,
        raw.memory_limit.as_ref(),
        units::parse_memory,
        "memory_limit",
        MEM_HELP,
    );
    if let (Some((req, span)), Some((lim, _))) = (&cpu, &cpu_limit)
        && req > lim
    {
        cx.err(
            span.clone(),
            "cpu request is above cpu_limit",
            Some("the request must be at most the limit"),
        );
    }
    if let (Some((req, span)), Some((lim, _))) = (&mem, &mem_limit)
        && req > lim
    {
        cx.err(
            span.clone(),
            "memory request is above memory_limit",
            Some("the request must be at most the limit"),
        );
    }
    if let Some((lim, span)) = &mem_limit
        && *lim < 6 << 20
    {
        cx.err(
            span.clone(),
            "memory_limit is below 6Mi, the least Docker accepts",
            Some("raise it to at least `6Mi`"),
        );
    }
    Resources {
        cpu_millis: cpu.map(|c| c.0),
        memory_bytes: mem.map(|m| m.0),
        cpu_limit_millis: cpu_limit.map(|c| c.0),
        memory_limit_bytes: mem_limit.map(|m| m.0),
    }
}

fn duration(cx: &mut Ctx, d: Option<&Spanned<String>>, default: Duration) -> Duration {
    match d {
        None => default,
        Some(d) => match units::parse_duration(d.get_ref()) {
            Ok(v) => v,
            Err(e) => {
                cx.err(
                    d.span(),
                    format!("bad duration: {e}"),
                    Some("write e.g. `\"500ms\"`, `\"10s\"`, `\"2m\"`"),
                );
                default
            }
        },
    }
}

/// A duration that must be more than zero, such as a probe's period.
fn positive_duration(
    cx: &mut Ctx,
    d: Option<&Spanned<String>>,
    default: Duration,
    what: &str,
    why: &str,
) -> Duration {
    let value = duration(cx, d, default);
    if let Some(d) = d
        && value.is_zero()
    {
        cx.err(d.span(), format!("{what} must be more than 0"), Some(why));
        return default;
    }
    value
}

fn port(cx: &mut Ctx, p: &Spanned<i64>) -> Option<u16> {
    match u16::try_from(*p.get_ref()) {
        Ok(v) if v > 0 => Some(v),
        _ => {
            cx.err(
                p.span(),
                format!("probe port {} is not a port number", p.get_ref()),
                Some("use a container port between 1 and 65535"),
            );
            None
        }
    }
}

fn probe(cx: &mut Ctx, p: &Spanned<RawProbe>) -> Option<Probe> {
    let raw = p.get_ref();
    let kinds = usize::from(raw.http.is_some())
        + usize::from(raw.tcp.is_some())
        + usize::from(raw.exec.is_some())
        + usize::from(raw.log.is_some());
    if kinds != 1 {
        cx.err(
            p.span(),
            format!("a probe needs exactly one of `http`, `tcp`, `exec`, `log` (found {kinds})"),
            Some("for example `{ http = { port = 9090, path = \"/health\" } }`"),
        );
        return None;
    }
    let check = if let Some(h) = &raw.http {
        let port = port(cx, &h.port)?;
        let method = h
            .method
            .as_ref()
            .map_or_else(|| "GET".to_string(), |m| m.get_ref().to_ascii_uppercase());
        if let Some(m) = &h.method
            && !matches!(
                method.as_str(),
                "GET" | "POST" | "PUT" | "HEAD" | "OPTIONS" | "PATCH" | "DELETE"
            )
        {
            cx.err(
                m.span(),
                format!("unknown HTTP method `{}`", m.get_ref()),
                Some("use GET, POST, PUT, HEAD, OPTIONS, PATCH or DELETE"),
            );
        }
        let path = h.path.clone().unwrap_or_else(|| "/".into());
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        Check::Http {
            port,
            path,
            method,
            headers: h.headers.clone(),
        }
    } else if let Some(t) = &raw.tcp {
        Check::Tcp {
            port: port(cx, &t.port)?,
        }
    } else if let Some(l) = &raw.log {
        if let Err(e) = regex::Regex::new(l.get_ref()) {
            cx.err(
                l.span(),
                format!("bad `log` pattern: {}", e.to_string().lines().last().unwrap_or("invalid regular expression")),
                Some("a regular expression matched against each output line, e.g. \"Daemon is ready\""),
            );
            return None;
        }
        Check::Log {
            pattern: l.get_ref().clone(),
        }
    } else {
        let e = raw.exec.as_ref()?;
        if e.get_ref().is_empty() {
            cx.err(
                e.span(),
                "`exec` probe command is empty",
                Some("give the argv, e.g. [\"ipfs\", \"diag\", \"healthy\"]"),
            );
            return None;
        }
        Check::Exec {
            argv: e.get_ref().clone(),
        }
    };
    Some(Probe {
        check,
        period: positive_duration(
            cx,
            raw.period.as_ref(),
            Duration::from_secs(1),
            "probe `period`",
            "a zero period would probe in a busy loop; write e.g. \"1s\"",
        ),
        timeout: positive_duration(
            cx,
            raw.timeout.as_ref(),
            Duration::from_secs(2),
            "probe `timeout`",
            "every attempt would time out before it began; write e.g. \"2s\"",
        ),
        start_timeout: positive_duration(
            cx,
            raw.start_timeout.as_ref(),
            Duration::from_secs(120),
            "`start_timeout`",
            "the service would get no time to become ready; write e.g. \"120s\"",
        ),
        failure_threshold: raw.failure_threshold.unwrap_or(3).max(1),
        start_grace: duration(cx, raw.start_grace.as_ref(), Duration::ZERO),
    })
}

fn restart_policy(cx: &mut Ctx, r: Option<&Spanned<String>>) -> RestartPolicy {
    match r.map(|r| (r, r.get_ref().as_str())) {
        None | Some((_, "on-failure")) => RestartPolicy::OnFailure,
        Some((_, "always")) => RestartPolicy::Always,
        Some((_, "no")) => RestartPolicy::No,
        Some((r, other)) => {
            cx.err(
                r.span(),
                format!("unknown restart policy `{other}`"),
                Some("use \"on-failure\" (the default), \"always\" or \"no\""),
            );
            RestartPolicy::OnFailure
        }
    }
}

fn backoff(cx: &mut Ctx, raw: Option<&super::raw::RawBackoff>) -> Backoff {
    let d = Backoff::default();
    let Some(raw) = raw else { return d };
    let b = Backoff {
        first: duration(cx, raw.first.as_ref(), d.first),
        base: duration(cx, raw.base.as_ref(), d.base),
        max: duration(cx, raw.max.as_ref(), d.max),
        reset_after: duration(cx, raw.reset_after.as_ref(), d.reset_after),
    };
    if b.base.is_zero()
        && let Some(s) = &raw.base
    {
        cx.err(
            s.span(),
            "backoff `base` must be more than 0",
            Some("a zero delay would restart a crashing container in a hot loop"),
        );
    }
    b
}

/// Topological order; a cycle is reported at the `depends_on` entry that closes it.
fn dependency_order(cx: &mut Ctx, raw: &RawSpec) -> Vec<String> {
    let deps: BTreeMap<String, Vec<&Spanned<String>>> = raw
        .services
        .iter()
        .map(|(k, s)| {
            (
                k.get_ref().clone(),
                s.get_ref()
                    .depends_on
                    .iter()
                    .filter(|d| {
                        raw.services.keys().any(|k2| k2.get_ref() == d.get_ref())
                            && d.get_ref() != k.get_ref()
                    })
                    .collect(),
            )
        })
        .collect();

    // Cycle detection by DFS with colours.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on stack, 2 = done
    let mut reported = false;
    fn dfs<'a>(
        n: &'a str,
        deps: &'a BTreeMap<String, Vec<&Spanned<String>>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        found: &mut Option<(Vec<String>, Range<usize>)>,
    ) {
        if found.is_some() {
            return;
        }
        state.insert(n, 1);
        stack.push(n);
        for d in deps.get(n).into_iter().flatten() {
            let dn = d.get_ref().as_str();
            match state.get(dn) {
                Some(1) => {
                    let start = stack.iter().position(|s| *s == dn).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[start..].iter().map(|s| (*s).to_string()).collect();
                    cycle.push(dn.to_string());
                    *found = Some((cycle, d.span()));
                    return;
                }
                Some(_) => {}
                None => dfs(dn, deps, state, stack, found),
            }
            if found.is_some() {
                return;
            }
        }
        stack.pop();
        state.insert(n, 2);
    }
    for n in deps.keys() {
        if state.contains_key(n.as_str()) {
            continue;
        }
        let mut found = None;
        dfs(n, &deps, &mut state, &mut Vec::new(), &mut found);
        if let Some((cycle, span)) = found {
            cx.err(span, format!("dependency cycle: {}", cycle.join(" -> ")), Some("a service cannot wait, directly or not, for itself; remove one `depends_on` entry"));
            reported = true;
            break;
        }
    }
    if reported {
        return Vec::new();
    }

    // Kahn's algorithm, ties broken by name so the order is stable.
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = deps
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(|d| d.get_ref().as_str()).collect()))
        .collect();
    let mut order = Vec::new();
    while !remaining.is_empty() {
        let Some(next) = remaining
            .iter()
            .find(|(_, d)| d.is_empty())
            .map(|(k, _)| *k)
        else {
            break;
        };
        remaining.remove(next);
        for d in remaining.values_mut() {
            d.remove(next);
        }
        order.push(next.to_string());
    }
    order
}

mod host_mounts;
mod kubo_config;
pub(crate) mod kubo_version;
mod safety;
mod toml_error;

#[cfg(test)]
mod tests;
