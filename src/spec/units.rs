//! Parsers for the small languages inside string values: CPU and memory quantities (Kubernetes units),
//! durations, port mappings and volume mounts. Each returns a message fit for a diagnostic.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

/// CPU in millicores (`"250m"` = 250, `"1"` = 1000, `0.5` = 500).
pub(crate) fn parse_cpu(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("`{text}`: CPU cannot be negative"));
    }
    let millis = if let Some(m) = t.strip_suffix('m') {
        m.parse::<u64>()
            .map_err(|_| format!("`{text}` is not a CPU quantity"))?
    } else {
        let cores: f64 = t
            .parse()
            .map_err(|_| format!("`{text}` is not a CPU quantity"))?;
        if !cores.is_finite() || cores < 0.0 {
            return Err(format!("`{text}` is not a CPU quantity"));
        }
        // Rounding to whole millicores is what Kubernetes does too.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let m = (cores * 1000.0).round() as u64;
        m
    };
    if millis == 0 {
        return Err(format!("CPU quantity `{text}` must be more than zero"));
    }
    Ok(millis)
}

/// Memory in bytes: plain bytes, decimal `k M G T`, binary `Ki Mi Gi Ti`.
pub(crate) fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("`{text}`: memory cannot be negative"));
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, spaced_unit) = t.split_at(split);
    let unit = spaced_unit.trim_start();
    let mult = match (memory_unit(unit), unit) {
        (Some(m), _) => m,
        (None, "m") => {
            return Err(format!(
                "`{text}`: lowercase `m` means milli-bytes in Kubernetes units; write `{num}Mi` or `{num}M`"
            ));
        }
        (None, _) => {
            // `2GB`, `512MiB`: the byte suffix other tools write.
            let bare = unit.strip_suffix(['B', 'b']).unwrap_or(unit);
            let fix = match bare {
                "k" | "K" | "M" | "G" | "T" => format!(
                    "; write `{num}{}i` (1024-based) or `{num}{bare}` (1000-based)",
                    bare.to_ascii_uppercase()
                ),
                "Ki" | "Mi" | "Gi" | "Ti" | "" => format!("; write `{num}{bare}`"),
                _ => String::new(),
            };
            return Err(format!("`{text}`: unknown memory unit `{unit}`{fix}"));
        }
    };
    if unit.len() != spaced_unit.len() {
        return Err(format!(
            "`{text}`: no space between the number and the unit; write `{num}{unit}`"
        ));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a memory quantity"))?;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let bytes = (value * mult as f64).round() as u64;
    if bytes == 0 {
        return Err(format!("memory quantity `{text}` must be more than zero"));
    }
    Ok(bytes)
}

/// Bytes per memory unit (`Mi` → 2^20), `None` for an unknown unit.
fn memory_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "" => 1,
        "k" | "K" => 1000,
        "M" => 1000_u64.pow(2),
        "G" => 1000_u64.pow(3),
        "T" => 1000_u64.pow(4),
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return None,
    })
}

/// Durations such as `"500ms"`, `"10s"`, `"2m"`, `"1h"`, or combined `"1m30s"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let compact: String = text.split_whitespace().collect();
    if compact != text.trim() && parse_duration(&compact).is_ok() {
        return Err(format!(
            "`{text}`: no spaces in a duration; write `{compact}`"
        ));
    }
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{text}` is not a duration"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "" => return Err(format!("`{text}`: a duration needs a unit (ms, s, m, h)")),
            _ => {
                return Err(format!(
                    "`{text}`: unknown duration unit `{unit}` (use ms, s, m or h)"
                ));
            }
        };
    }
    Ok(total)
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`, as Docker writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PortMapping {
    /// Host address; 127.0.0.1 unless the spec names one.
    pub host_ip: IpAddr,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

fn parse_port_number(s: &str, what: &str, whole: &str) -> Result<u16, String> {
    if let Some((a, b)) = s.split_once('-')
        && a.parse::<u16>().is_ok()
        && b.parse::<u16>().is_ok()
    {
        return Err(format!(
            "`{whole}`: port ranges are not supported; publish each port as its own entry"
        ));
    }
    match s.parse::<u32>() {
        Ok(0) | Err(_) => Err(format!(
            "`{whole}`: {what} `{s}` is not a port number (1-65535)"
        )),
        Ok(n) if n > 65535 => Err(format!("`{whole}`: {what} {n} is above 65535")),
        Ok(n) => Ok(u16::try_from(n).unwrap_or(u16::MAX)),
    }
}

/// `"5001"`, `"5001:5001"`, `"0.0.0.0:8080:8080"`, `"[::1]:4001:4001/udp"`.
pub(crate) fn parse_port(text: &str) -> Result<PortMapping, String> {
    let (body, protocol) = match text.rsplit_once('/') {
        Some((b, "tcp")) => (b, Protocol::Tcp),
        Some((b, "udp")) => (b, Protocol::Udp),
        Some((_, p)) => return Err(format!("`{text}`: unknown protocol `{p}` (tcp or udp)")),
        None => (text, Protocol::Tcp),
    };
    let localhost: IpAddr = IpAddr::from([127, 0, 0, 1]);
    // An IPv6 host address is written in brackets.
    let (ip, rest) = if let Some(stripped) = body.strip_prefix('[') {
        let (addr, after) = stripped
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: unclosed `[` in the host address"))?;
        let ip = addr
            .parse()
            .map_err(|_| format!("`{text}`: `{addr}` is not an IP address"))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("`{text}`: expected `:HOST:CONTAINER` after the address"))?;
        (Some(ip), after)
    } else {
        (None, body)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (localhost, *c, *c),
        (None, [h, c]) => (localhost, *h, *c),
        (None, [addr, h, c]) => {
            let ip = addr.parse().map_err(|_| {
                if addr.eq_ignore_ascii_case("localhost") {
                    format!("`{text}`: the host address must be an IP; write `127.0.0.1:{h}:{c}`")
                } else {
                    format!("`{text}`: `{addr}` is not an IP address")
                }
            })?;
            (ip, *h, *c)
        }
        (Some(ip), [h, c]) => (ip, *h, *c),
        _ => return Err(format!("`{text}` is not a port mapping")),
    };
    Ok(PortMapping {
        host_ip: ip,
        host_port: parse_port_number(host, "host port", text)?,
        container_port: parse_port_number(container, "container port", text)?,
        protocol,
    })
}

/// What a volume entry mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum MountSource {
    /// A named volume of the project (`NAME:/path`); the Docker name gets the project prefix.
    Volume {
        /// Name as written in the spec.
        name: String,
    },
    /// A host path, relative paths resolved against the spec file's directory.
    Bind {
        /// The path as written.
        path: String,
    },
}

/// A mount of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// Source.
    pub source: MountSource,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// `"ipfs-data:/data/ipfs"`, `"./data:/data:ro"`.
pub(crate) fn parse_volume(text: &str) -> Result<VolumeMount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (src, target, read_only) = match parts.as_slice() {
        [s, t] => (*s, *t, false),
        [s, t, "ro"] => (*s, *t, true),
        [s, t, "rw"] => (*s, *t, false),
        [_, _, o] => return Err(format!("`{text}`: unknown mount option `{o}` (ro or rw)")),
        _ => return Err(format!("`{text}` is not `SOURCE:/container/path[:ro]`")),
    };
    if !target.starts_with('/') {
        return Err(format!(
            "`{text}`: the container path `{target}` must be absolute"
        ));
    }
    if src.is_empty() {
        return Err(format!("`{text}`: the source is empty"));
    }
    let source = if src.starts_with('.') || src.starts_with('/') || src.starts_with('~') {
        MountSource::Bind {
            path: src.to_string(),
        }
    } else if src
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        MountSource::Volume {
            name: src.to_string(),
        }
    } else {
        return Err(format!(
            "`{text}`: `{src}` is neither a volume name (letters, digits, - _ .) nor a path (start it with ./ or /)"
        ));
    };
    Ok(VolumeMount {
        source,
        target: target.to_string(),
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities_follow_kubernetes_units() {
        assert_eq!(parse_cpu("250m"), Ok(250));
        assert_eq!(parse_cpu("1"), Ok(1000));
        assert_eq!(parse_cpu("0.5"), Ok(500));
        assert!(parse_cpu("1 core").is_err());
        assert!(parse_cpu("0").is_err());
        assert!(parse_cpu("-1").is_err());
    }

    #[test]
    fn memory_quantities_follow_kubernetes_units() {
        assert_eq!(parse_memory("512Mi"), Ok(512 << 20));
        assert_eq!(parse_memory("2Gi"), Ok(2 << 30));
        assert_eq!(parse_memory("1G"), Ok(1_000_000_000));
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert!(parse_memory("512m").unwrap_err().contains("512Mi"));
        assert!(parse_memory("12XB").is_err());
        assert!(parse_memory("Mi").is_err());
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn ports_without_host_ip_bind_loopback() {
        let p = parse_port("5001:5001").expect("valid");
        assert_eq!(p.host_ip.to_string(), "127.0.0.1");
        assert_eq!(
            (p.host_port, p.container_port, p.protocol),
            (5001, 5001, Protocol::Tcp)
        );
        let p = parse_port("0.0.0.0:8080:80/udp").expect("valid");
        assert_eq!(p.host_ip.to_string(), "0.0.0.0");
        assert_eq!(
            (p.host_port, p.container_port, p.protocol),
            (8080, 80, Protocol::Udp)
        );
        let p = parse_port("[::1]:4001:4001").expect("valid");
        assert_eq!(p.host_ip.to_string(), "::1");
        assert_eq!(parse_port("9090").expect("valid").host_port, 9090);
    }

    #[test]
    fn malformed_ports_are_rejected_with_the_reason() {
        assert!(parse_port("70000:1").unwrap_err().contains("above 65535"));
        assert!(parse_port("abc").unwrap_err().contains("not a port number"));
        assert!(parse_port("1:2:3:4").is_err());
        assert!(parse_port("1:2/sctp").unwrap_err().contains("protocol"));
        assert!(
            parse_port("999.1.1.1:1:2")
                .unwrap_err()
                .contains("IP address")
        );
        assert!(parse_port("0:80").is_err());
    }

    #[test]
    fn volumes_are_named_or_bound() {
        let v = parse_volume("ipfs-data:/data/ipfs").expect("valid");
        assert_eq!(
            v.source,
            MountSource::Volume {
                name: "ipfs-data".into()
            }
        );
        let v = parse_volume("./data:/data:ro").expect("valid");
        assert_eq!(
            v.source,
            MountSource::Bind {
                path: "./data".into()
            }
        );
        assert!(v.read_only);
        assert!(parse_volume("data:relative").is_err());
        assert!(parse_volume("data").is_err());
        assert!(parse_volume("da ta:/x").is_err());
    }

    #[test]
    fn memory_mistakes_get_the_fix() {
        assert_eq!(
            parse_memory("2GB").unwrap_err(),
            "`2GB`: unknown memory unit `GB`; write `2Gi` (1024-based) or `2G` (1000-based)"
        );
        assert!(
            parse_memory("512 MiB")
                .unwrap_err()
                .ends_with("write `512Mi`")
        );
        assert!(parse_memory("512 Mi").unwrap_err().contains("no space"));
        assert!(
            parse_memory("-1Gi")
                .unwrap_err()
                .contains("cannot be negative")
        );
        assert!(parse_cpu("-1").unwrap_err().contains("cannot be negative"));
    }

    #[test]
    fn durations_with_spaces_say_how_to_write_them() {
        assert_eq!(
            parse_duration("10 s").unwrap_err(),
            "`10 s`: no spaces in a duration; write `10s`"
        );
        assert_eq!(parse_duration(" 10s "), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn port_ranges_and_host_names_are_explained() {
        assert!(parse_port("9090-9091").unwrap_err().contains("port ranges"));
        assert!(
            parse_port("localhost:80:80")
                .unwrap_err()
                .contains("write `127.0.0.1:80:80`")
        );
    }
}
