//! `build`: the build context and Dockerfile (they must exist, the Dockerfile inside the context) and the
//! optional `host_command` that builds on the host first.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::super::raw::RawBuild;
use super::super::{Build, HostCommand};
use super::{Ctx, resolve};

pub(super) fn build(cx: &mut Ctx, dir: &Path, b: &Spanned<RawBuild>, tag: String) -> Option<Build> {
    let raw = b.get_ref();
    let context = build_context(cx, dir, b)?;
    let dockerfile = dockerfile_in_context(cx, &context, b)?;
    let host_command = host_command(cx, dir, raw);
    Some(Build {
        tag,
        context,
        dockerfile,
        args: raw.args.clone(),
        target: raw.target.clone(),
        host_command,
    })
}

/// The build context directory (`.` when not given), resolved against the spec directory; `None` (with the
/// error in `cx`) when it is not a directory.
fn build_context(cx: &mut Ctx, dir: &Path, b: &Spanned<RawBuild>) -> Option<PathBuf> {
    let (ctx_text, ctx_span) = b
        .get_ref()
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
    Some(context)
}

/// The Dockerfile's path relative to `context` (`Dockerfile` when not given), with `/` separators; `None`
/// (with the error in `cx`) when it lies outside the context or is not a file.
fn dockerfile_in_context(cx: &mut Ctx, context: &Path, b: &Spanned<RawBuild>) -> Option<String> {
    let raw = b.get_ref();
    let dockerfile = raw
        .dockerfile
        .as_ref()
        .map_or_else(|| "Dockerfile".to_string(), |d| d.get_ref().clone());
    let df_span = raw
        .dockerfile
        .as_ref()
        .map_or_else(|| b.span(), Spanned::span);
    let df_path = resolve(context, &dockerfile);
    if !df_path.starts_with(context) {
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
    Some(
        df_path
            .strip_prefix(context)
            .unwrap_or(&df_path)
            .to_string_lossy()
            .replace('\\', "/"),
    )
}

/// The command to run on the host before the build, if any. An empty argv is an error (and no command); a
/// `host_workdir` that is not a directory is an error but the command is still returned.
fn host_command(cx: &mut Ctx, dir: &Path, raw: &RawBuild) -> Option<HostCommand> {
    let hc = raw.host_command.as_ref()?;
    if hc.get_ref().is_empty() {
        cx.err(
            hc.span(),
            "`host_command` is empty",
            Some("give the argv, e.g. [\"go\", \"build\", \"-o\", \"bin/pinshare\", \".\"]"),
        );
        return None;
    }
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
