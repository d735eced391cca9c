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
    Build, Check, HostCommand, ImageSource, InitAction, InitStep, LiveUpdate, Probe, Resources,
    Service, Spec, SpecError, SpecErrors, Watch,
};

const KUBO_UID: u32 = 1000;
const KUBO_GID: u32 = 100;
const DEFAULT_IPFS_PATH: &str = "/data/ipfs";

struct Ctx {
    file: String,
    text: Arc<String>,
    source: Arc<NamedSource<String>>,
    errors: Vec<SpecError>,
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

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 63
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
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
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
    };

    let raw: RawSpec = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            let help = if msg.contains("unknown field") {
                "check the spelling; `pinshare-dev schema` prints every accepted key"
            } else if msg.contains("invalid type") {
                "see `pinshare-dev schema` for the expected type of each key"
            } else {
                "see the TOML syntax at https://toml.io; strings need double quotes"
            };
            cx.err(span, msg, Some(help));
            return Err(SpecErrors { errors: cx.errors });
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
            if !valid_name(n.get_ref()) {
                cx.err(n.span(), format!("project name `{}` is not valid", n.get_ref()), Some("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"));
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
    let known = names.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut services = BTreeMap::new();
    // (host ip, port, protocol) -> (service, span) for duplicate detection.
    let mut published: Vec<(PortMapping, String, Range<usize>)> = Vec::new();

    for (key, svc) in &raw.services {
        let name = key.get_ref().clone();
        if !valid_name(&name) {
            cx.err(
                key.span(),
                format!("service name `{name}` is not valid"),
                Some("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
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
            &known,
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
        Err(SpecErrors { errors: cx.errors })
    }
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
    known: &str,
    published: &mut Vec<(PortMapping, String, Range<usize>)>,
) -> Option<Service> {
    let raw = svc.get_ref();
    let before = cx.errors.len();

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
            cx.err(
                d.span(),
                format!("unknown service `{dep}` in depends_on"),
                Some(&format!("known services: {known}")),
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
                    cx.err(
                        p.span(),
                        format!(
                            "host port {} is already published by service `{other}` (line {line})",
                            m.host_port
                        ),
                        Some("give one of them another host port, e.g. `\"15001:5001\"`"),
                    );
                } else {
                    published.push((m.clone(), name.to_string(), p.span()));
                }
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
    for v in &raw.volumes {
        match units::parse_volume(v.get_ref()) {
            Ok(mut m) => {
                if let MountSource::Bind { path } = &m.source {
                    let abs = resolve(dir, path);
                    if !abs.exists() {
                        cx.err(
                            v.span(),
                            format!(
                                "bind mount source `{path}` does not exist ({})",
                                abs.display()
                            ),
                            Some(&format!("create it first: mkdir -p {}", abs.display())),
                        );
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

    let resources = raw
        .resources
        .as_ref()
        .map(|r| resources(cx, r))
        .unwrap_or_default();
    let readiness = raw.readiness.as_ref().and_then(|p| probe(cx, p));
    let liveness = raw.liveness.as_ref().and_then(|p| probe(cx, p));

    let mut init = Vec::new();
    if let Some(kc) = &raw.kubo_config {
        let mut keys = Vec::new();
        for (k, v) in kc.get_ref() {
            if k.is_empty() || k.split('.').any(str::is_empty) {
                cx.err(
                    kc.span(),
                    format!("kubo_config key `{k}` is not a dotted config path"),
                    Some("for example \"API.HTTPHeaders.Access-Control-Allow-Origin\""),
                );
                continue;
            }
            match serde_json::to_value(v) {
                Ok(j) => keys.push((k.clone(), j)),
                Err(e) => cx.err(kc.span(), format!("kubo_config `{k}`: {e}"), None),
            }
        }
        let repo = raw
            .env
            .get("IPFS_PATH")
            .cloned()
            .unwrap_or_else(|| DEFAULT_IPFS_PATH.to_string());
        init.push(InitStep {
            name: "kubo-config".into(),
            image: None,
            user: Some(format!("{KUBO_UID}:{KUBO_GID}")),
            action: InitAction::KuboConfig {
                repo,
                uid: KUBO_UID,
                gid: KUBO_GID,
                keys,
            },
        });
    }
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

    if cx.errors.len() > before {
        return None;
    }
    Some(Service {
        name: name.to_string(),
        image: image?,
        depends_on,
        env: raw.env.clone(),
        ports,
        volumes,
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
    })
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
        + usize::from(raw.exec.is_some());
    if kinds != 1 {
        cx.err(
            p.span(),
            format!("a probe needs exactly one of `http`, `tcp`, `exec` (found {kinds})"),
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
        period: duration(cx, raw.period.as_ref(), Duration::from_secs(1)),
        timeout: duration(cx, raw.timeout.as_ref(), Duration::from_secs(2)),
        start_timeout: duration(cx, raw.start_timeout.as_ref(), Duration::from_secs(120)),
        failure_threshold: raw.failure_threshold.unwrap_or(3).max(1),
    })
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

#[cfg(test)]
mod tests;
