//! Settings refused because they would make a developer's machine less safe than it was before `up`: Docker
//! options that hand the container the host (`privileged`, `cap_add`, `network_mode`, `pid`), a `*` CORS
//! origin on kubo's admin-level RPC API, and that API published beyond loopback. The last two have an explicit
//! opt-in; the Docker options have none, because nothing in this setup needs them.

use toml::Spanned;

use super::super::raw::RawService;
use super::super::units::PortMapping;
use super::Ctx;

/// Kubo's RPC API port in the container.
const KUBO_RPC_PORT: u16 = 5001;

/// Refuses the Docker options that widen what a container may do to the host, each with why and what instead.
pub(super) fn refused_settings(cx: &mut Ctx, raw: &RawService) {
    if let Some(v) = &raw.privileged
        && v.get_ref().as_bool() != Some(false)
    {
        cx.err(
            v.span(),
            "privileged containers are not supported: `privileged` gives the container every capability and the host's devices",
            Some("remove it; kubo and PinShare run unprivileged, and `kubo_config` repairs the ownership of kubo's repo before the daemon starts"),
        );
    }
    if let Some(v) = &raw.cap_add
        && v.get_ref().as_array().is_none_or(|a| !a.is_empty())
    {
        cx.err(
            v.span(),
            "added capabilities are not supported: `cap_add` lets the container do more to the host than a normal one",
            Some("remove it; a step that needs root, such as a `chown` of a volume, can be an `init` step with `user = \"0\"`"),
        );
    }
    if let Some(v) = &raw.network_mode {
        let message = if v.get_ref().as_str() == Some("host") {
            "host networking is not supported: the container would share the host's network instead of the project network"
        } else {
            "`network_mode` is not supported: every service joins the project network and reaches the others by name"
        };
        cx.err(
            v.span(),
            message,
            Some("remove it; publish what the host needs with `ports = [\"9090:9090\"]` (127.0.0.1 by default)"),
        );
    }
    if let Some(v) = &raw.pid {
        cx.err(
            v.span(),
            "`pid` is not supported: a shared PID namespace lets the container see and signal processes outside it",
            Some("remove it; `pinshare-dev ps` and `pinshare-dev logs` show what the services do"),
        );
    }
}

/// A `*` in `API.HTTPHeaders.Access-Control-Allow-Origin` without `allow_any_origin = true`. Points at the
/// `"*"` itself when it is written plainly, else at the whole value.
pub(super) fn any_origin(
    cx: &mut Ctx,
    service: &str,
    raw: &RawService,
    value: &Spanned<toml::Value>,
) {
    if raw.allow_any_origin == Some(true) {
        return;
    }
    let any = value
        .get_ref()
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("*")));
    if !any {
        return;
    }
    let span = value.span();
    let written = cx.text.get(span.clone()).unwrap_or_default();
    let star = ["\"*\"", "'*'"]
        .iter()
        .find_map(|lit| written.find(lit))
        .map_or(span.clone(), |i| span.start + i..span.start + i + 3);
    cx.err(
        star,
        "`*` lets every web origin call kubo's RPC API",
        Some(&format!(
            "any web page could call kubo's admin API; list the origins, or set allow_any_origin = true in [services.{service}]"
        )),
    );
}

/// Whether a service runs kubo: it prepares a kubo repo, or its image is named after kubo.
pub(super) fn is_kubo(raw: &RawService) -> bool {
    raw.kubo_config.is_some()
        || raw
            .image
            .as_ref()
            .is_some_and(|i| i.get_ref().to_ascii_lowercase().contains("kubo"))
}

/// Kubo's RPC API published on a host address other than loopback, without `expose_rpc_api = true`.
pub(super) fn rpc_api_port(
    cx: &mut Ctx,
    service: &str,
    raw: &RawService,
    entry: &Spanned<String>,
    m: &PortMapping,
) {
    if m.container_port != KUBO_RPC_PORT
        || m.host_ip.is_loopback()
        || raw.expose_rpc_api == Some(true)
        || !is_kubo(raw)
    {
        return;
    }
    let reach = if m.host_ip.is_unspecified() {
        format!("every address of this machine ({})", m.host_ip)
    } else {
        m.host_ip.to_string()
    };
    cx.err(
        entry.span(),
        format!("kubo's RPC API would be published on {reach}"),
        Some(&format!(
            "the RPC API is admin-level: whoever reaches it controls the node; write \"{}:{}\" to bind 127.0.0.1, or set expose_rpc_api = true in [services.{service}]",
            m.host_port, m.container_port
        )),
    );
}
