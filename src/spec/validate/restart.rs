//! `restart` and `backoff`: when a stopped container is started again, and how long to wait before it is.

use toml::Spanned;

use super::super::raw::RawBackoff;
use super::super::{Backoff, RestartPolicy};
use super::Ctx;
use super::durations::duration;

pub(super) fn restart_policy(cx: &mut Ctx, r: Option<&Spanned<String>>) -> RestartPolicy {
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

pub(super) fn backoff(cx: &mut Ctx, raw: Option<&RawBackoff>) -> Backoff {
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
