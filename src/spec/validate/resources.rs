//! `resources`: CPU and memory requests and limits, parsed with their units and checked against each other and
//! against the least Docker accepts.

use std::ops::Range;

use toml::Spanned;

use super::super::Resources;
use super::super::raw::{RawResources, StrOrNum};
use super::super::units;
use super::Ctx;

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

pub(super) fn resources(cx: &mut Ctx, r: &Spanned<RawResources>) -> Resources {
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
