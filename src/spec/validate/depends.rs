//! `depends_on`: each entry must name another service, and together they must not form a cycle; the start
//! order is the topological order, ties broken by name.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::super::raw::{RawService, RawSpec};
use super::Ctx;

/// The services `name` depends on, each an existing other service.
pub(super) fn depends_on(
    cx: &mut Ctx,
    name: &str,
    raw: &RawService,
    names: &BTreeSet<String>,
) -> Vec<String> {
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
    depends_on
}

/// Topological order; a cycle is reported at the `depends_on` entry that closes it.
pub(super) fn dependency_order(cx: &mut Ctx, raw: &RawSpec) -> Vec<String> {
    let deps = known_dependencies(raw);
    if let Some((cycle, span)) = first_cycle(&deps) {
        cx.err(
            span,
            format!("dependency cycle: {}", cycle.join(" -> ")),
            Some(
                "a service cannot wait, directly or not, for itself; remove one `depends_on` entry",
            ),
        );
        return Vec::new();
    }
    start_order(&deps)
}

/// Each service's `depends_on` entries that name another existing service (the others are reported by
/// [`depends_on`]), keyed by service name.
fn known_dependencies(raw: &RawSpec) -> BTreeMap<String, Vec<&Spanned<String>>> {
    raw.services
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
        .collect()
}

/// The first dependency cycle met when walking the services by name, as the names along it (the first
/// repeated at the end) and the span of the `depends_on` entry that closes it; `None` when there is none.
fn first_cycle(
    deps: &BTreeMap<String, Vec<&Spanned<String>>>,
) -> Option<(Vec<String>, Range<usize>)> {
    // Cycle detection by DFS with colours.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on stack, 2 = done
    for n in deps.keys() {
        if state.contains_key(n.as_str()) {
            continue;
        }
        let mut found = None;
        dfs(n, deps, &mut state, &mut Vec::new(), &mut found);
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Depth-first walk from `n` along `deps`, marking services in `state` (1 = on the stack, 2 = done); the first
/// edge back into the stack is stored in `found` as the cycle and the span of that edge.
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

/// The start order of services without a cycle: Kahn's algorithm, ties broken by name so the order is stable.
fn start_order(deps: &BTreeMap<String, Vec<&Spanned<String>>>) -> Vec<String> {
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
