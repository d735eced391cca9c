//! `watch` and `live_update`: which paths are watched for rebuilds (the build context unless listed), and the
//! files synced into a running container instead; their globs must compile and their paths must exist.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use super::super::raw::{RawLiveUpdate, RawService};
use super::super::{ImageSource, LiveUpdate, Watch};
use super::durations::duration;
use super::{Ctx, resolve};

/// What to watch: `watch.paths` when given, else a built service's context; `watch.ignore` globs must compile.
pub(super) fn watch(
    cx: &mut Ctx,
    dir: &Path,
    key_span: &Range<usize>,
    raw: &RawService,
    image: Option<&ImageSource>,
) -> Watch {
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
    } else if let Some(ImageSource::Build(b)) = image {
        watch.paths = vec![b.context.clone()];
    }
    watch
}

pub(super) fn live_update(cx: &mut Ctx, dir: &Path, raw: &RawLiveUpdate) -> LiveUpdate {
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
