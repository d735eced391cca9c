//! `ports`: each mapping parsed, and no host port published twice — by this service or by another one, on the
//! same address or on one that includes it (`0.0.0.0`).

use std::ops::Range;

use super::super::raw::RawService;
use super::super::units::{self, PortMapping};
use super::{Ctx, safety};

/// The service's port mappings; `published` holds those of the services before it, for the clash check.
pub(super) fn ports(
    cx: &mut Ctx,
    name: &str,
    raw: &RawService,
    published: &mut Vec<(PortMapping, String, Range<usize>)>,
) -> Vec<PortMapping> {
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
                    // `line N` in the same file, `FILE:LINE:COL` when an overlay published it first.
                    let there = cx.error(span.clone(), String::new(), None);
                    let here = cx.error(p.span(), String::new(), None);
                    let (line, _) = there.line_col();
                    let same_file = there.location().rsplitn(3, ':').nth(2)
                        == here.location().rsplitn(3, ':').nth(2);
                    let line = if same_file {
                        format!("line {line}")
                    } else {
                        there.location()
                    };
                    let here = (same_file, here.line_col().0);
                    if other == name {
                        let also = if here == (true, there.line_col().0) {
                            String::new()
                        } else {
                            format!(" (also on {line})")
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
                                "host port {} is already published by service `{other}` ({line})",
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
    ports
}
