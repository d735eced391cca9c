//! Durations written as text (`"500ms"`, `"10s"`): shared by probes, restart backoff, `stop_grace` and watch
//! debounce, so the error and hint read the same wherever a duration is bad.

use std::time::Duration;

use toml::Spanned;

use super::super::units;
use super::Ctx;

pub(super) fn duration(cx: &mut Ctx, d: Option<&Spanned<String>>, default: Duration) -> Duration {
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
pub(super) fn positive_duration(
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
