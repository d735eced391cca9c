//! Which program holds a host port, read from /proc as `ss -p` does: the listening socket's inode from
//! `/proc/net/{tcp,tcp6,udp,udp6}`, then the process whose `/proc/PID/fd` links to `socket:[INODE]`. Another user's
//! descriptors are readable only as root, so for those the answer is "unknown" and the caller falls back to
//! suggesting `ss`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::spec::{PortMapping, Protocol};

/// A bound socket from a `/proc/net` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// Local address.
    pub ip: IpAddr,
    /// Local port.
    pub port: u16,
    /// Socket inode (what `/proc/PID/fd/N` links to as `socket:[INODE]`).
    pub inode: u64,
}

/// TCP_LISTEN in the `st` column; an unconnected UDP socket is TCP_CLOSE (07).
const TCP_LISTEN: &str = "0A";
const UDP_UNCONNECTED: &str = "07";

/// An address as the kernel prints it: 32-bit words in hex, each in the host's byte order.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        hex.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_ne_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// The listening (TCP) or bound-unconnected (UDP) sockets of one `/proc/net/*` table.
pub fn bound_sockets(table: &str, protocol: Protocol) -> Vec<Socket> {
    let wanted = match protocol {
        Protocol::Tcp => TCP_LISTEN,
        Protocol::Udp => UDP_UNCONNECTED,
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (ip, port) = cols.get(1)?.split_once(':')?;
            if *cols.get(3)? != wanted {
                return None;
            }
            Some(Socket {
                ip: parse_ip(ip)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode: cols.get(9)?.parse().ok().filter(|i| *i != 0)?,
            })
        })
        .collect()
}

/// Whether a socket bound on `bound` keeps `wanted` from being bound (equal, or a wildcard of the family).
fn blocks(bound: IpAddr, wanted: IpAddr) -> bool {
    let wild_covers =
        |w: IpAddr, o: IpAddr| w.is_unspecified() && (w.is_ipv4() == o.is_ipv4() || w.is_ipv6());
    bound == wanted || wild_covers(bound, wanted) || wild_covers(wanted, bound)
}

/// The socket inodes in the way of `m`, from this machine's tables.
fn inodes_for(m: &PortMapping) -> Vec<u64> {
    let names: [&str; 2] = match m.protocol {
        Protocol::Tcp => ["/proc/net/tcp", "/proc/net/tcp6"],
        Protocol::Udp => ["/proc/net/udp", "/proc/net/udp6"],
    };
    names
        .iter()
        .filter_map(|n| std::fs::read_to_string(n).ok())
        .flat_map(|t| bound_sockets(&t, m.protocol))
        .filter(|s| s.port == m.host_port && blocks(s.ip, m.host_ip))
        .map(|s| s.inode)
        .collect()
}

/// The lowest pid with a descriptor on one of `inodes` (a forked server shares its socket with its children),
/// among the processes whose descriptors we may read.
fn pid_with_socket(inodes: &[u64]) -> Option<u32> {
    let links: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|l| links.iter().any(|s| l.as_os_str() == s.as_str()))
            })
        })
    })
}

/// The pid of the program holding `m`'s port, when this process may know it.
pub fn owner_pid(m: &PortMapping) -> Option<u32> {
    let inodes = inodes_for(m);
    if inodes.is_empty() {
        return None;
    }
    pid_with_socket(&inodes)
}

/// `python3 (pid 30122)`: a program as the port check names it.
pub fn describe(pid: u32) -> String {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "a program".into());
    format!("{name} (pid {pid})")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as Linux 6.x prints them (header, then one socket per line).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 30122 1 0000000000000000 100 0 0 10 0
   1: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1389 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 999 1 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0FA1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 555 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listening_sockets_are_read_with_their_address_port_and_inode() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(
            bound_sockets(TCP, Protocol::Tcp),
            vec![
                Socket {
                    ip: lo,
                    port: 5001,
                    inode: 30122
                },
                Socket {
                    ip: IpAddr::from([0, 0, 0, 0]),
                    port: 9090,
                    inode: 4711
                },
            ],
            "the established connection (st 01) is not a listener"
        );
        let v6 = bound_sockets(TCP6, Protocol::Tcp);
        assert_eq!(v6[0].ip, "::1".parse::<IpAddr>().expect("ip"));
        assert_eq!(v6[0].port, 4001);
    }

    #[test]
    fn a_wildcard_listener_blocks_every_address_of_its_family() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        assert!(blocks(IpAddr::from([0, 0, 0, 0]), lo));
        assert!(blocks("::".parse().expect("ip"), lo), "dual-stack");
        assert!(!blocks(IpAddr::from([127, 0, 0, 2]), lo));
    }

    #[test]
    fn a_port_this_process_listens_on_is_named_with_its_pid() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let m = PortMapping {
            host_ip: IpAddr::from([127, 0, 0, 1]),
            host_port: l.local_addr().expect("addr").port(),
            container_port: 1,
            protocol: Protocol::Tcp,
        };
        let comm = std::fs::read_to_string("/proc/self/comm").expect("comm");
        assert_eq!(
            owner_pid(&m).map(describe),
            Some(format!("{} (pid {})", comm.trim(), std::process::id()))
        );
        drop(l);
        assert_eq!(
            owner_pid(&m).map(describe),
            None,
            "nobody holds it any more"
        );
    }
}
