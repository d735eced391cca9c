//! Tests of the port check: holders, verdicts and bind probes, without an engine.

use super::*;

fn tcp(ip: [u8; 4], port: u16) -> PortMapping {
    PortMapping {
        host_ip: IpAddr::from(ip),
        host_port: port,
        container_port: port,
        protocol: Protocol::Tcp,
    }
}

fn holder(
    container: &str,
    project: Option<&str>,
    service: Option<&str>,
    ports: &[(IpAddr, u16, Protocol)],
) -> Holder {
    Holder {
        container: container.into(),
        project: project.map(str::to_string),
        service: service.map(str::to_string),
        ports: ports
            .iter()
            .map(|&(ip, port, protocol)| Published { ip, port, protocol })
            .collect(),
    }
}

fn wild() -> IpAddr {
    IpAddr::from([0, 0, 0, 0])
}

fn verdicts(ports: &[(String, PortMapping)], holders: &[Holder], bind: Bind) -> Vec<Verdict> {
    check_ports("pinshare", ports, holders, |_| bind.clone())
        .into_iter()
        .map(|c| c.verdict)
        .collect()
}

#[test]
fn a_port_held_by_the_services_own_container_is_fine() {
    let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
    let h = [holder(
        "pinshare-ipfs",
        Some("pinshare"),
        Some("ipfs"),
        &[(IpAddr::from([127, 0, 0, 1]), 5001, Protocol::Tcp)],
    )];
    let checks = check_ports("pinshare", &ports, &h, |_| {
        panic!("no bind when a container holds it")
    });
    assert_eq!(
        checks[0].verdict,
        Verdict::Ours {
            container: "pinshare-ipfs".into()
        }
    );
    assert!(!checks[0].blocks_up());
    let f = checks[0].finding("pinshare.toml");
    assert_eq!(f.status, Status::Ok);
    assert_eq!(
        f.text,
        "127.0.0.1:5001 (ipfs): held by our container pinshare-ipfs (up keeps or recreates it)"
    );
    assert_eq!(checks[0].error_message("pinshare.toml"), None);
}

#[test]
fn holders_are_named_by_project_or_as_foreign() {
    let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
    let on = |project: Option<&str>, service: Option<&str>| {
        [holder(
            "x",
            project,
            service,
            &[(wild(), 5001, Protocol::Tcp)],
        )]
    };
    assert_eq!(
        verdicts(&ports, &on(Some("other"), Some("ipfs")), Bind::Free),
        vec![Verdict::OtherProject {
            container: "x".into(),
            project: "other".into(),
        }]
    );
    // The project is named by its label: the spec its `up` ran from may name another project since a rename.
    let c = check_ports("pinshare", &ports, &on(Some("other"), Some("ipfs")), |_| {
        Bind::Free
    });
    assert_eq!(
        c[0].finding("pinshare.toml").fix,
        vec!["stop project other (`pinshare-dev down --project other`, or docker stop x), or change the port in pinshare.toml".to_string()]
    );
    assert!(
        c[0].error_message("pinshare.toml")
            .is_some_and(|m| m.contains("(`pinshare-dev down --project other`, or docker stop x)")),
        "{:?}",
        c[0].error_message("pinshare.toml")
    );
    assert_eq!(
        verdicts(&ports, &on(Some("pinshare"), Some("pinshare")), Bind::Free),
        vec![Verdict::OurOtherService {
            container: "x".into(),
            service: "pinshare".into()
        }]
    );
    assert_eq!(
        verdicts(&ports, &on(None, None), Bind::Free),
        vec![Verdict::Foreign {
            container: "x".into()
        }]
    );
}

#[test]
fn a_busy_port_without_a_container_is_another_program() {
    let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
    let checks = check_ports("pinshare", &ports, &[], |_| Bind::InUse(None));
    assert!(checks[0].blocks_up());
    assert_eq!(
        checks[0].error_message("pinshare.toml").as_deref(),
        Some(
            "port 127.0.0.1:5001 of service ipfs is already in use by another program; free it or change the port in pinshare.toml (ss -ltnp 'sport = :5001' shows who holds it)"
        )
    );
    let f = checks[0].finding("pinshare.toml");
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.text,
        "127.0.0.1:5001 (ipfs): in use by another program (try: ss -ltnp 'sport = :5001')"
    );
}

#[test]
fn a_busy_port_whose_program_is_known_names_it_instead_of_suggesting_ss() {
    let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
    let checks = check_ports("pinshare", &ports, &[], |_| {
        Bind::InUse(Some("python3 (pid 30122)".into()))
    });
    assert!(checks[0].blocks_up());
    assert_eq!(
        checks[0].error_message("pinshare.toml").as_deref(),
        Some(
            "port 127.0.0.1:5001 of service ipfs is already in use by python3 (pid 30122); stop it or change the port in pinshare.toml"
        )
    );
    let f = checks[0].finding("pinshare.toml");
    assert_eq!(
        f.text,
        "127.0.0.1:5001 (ipfs): in use by python3 (pid 30122)"
    );
    assert_eq!(
        f.fix,
        vec!["stop python3 (pid 30122), or change the port in pinshare.toml".to_string()]
    );
}

#[test]
fn containers_on_other_ports_protocols_or_addresses_do_not_hold_the_port() {
    let ports = vec![("ipfs".to_string(), tcp([127, 0, 0, 1], 5001))];
    let other = |ip: IpAddr, port, proto| [holder("x", None, None, &[(ip, port, proto)])];
    let lo2 = IpAddr::from([127, 0, 0, 2]);
    let v6lo: IpAddr = "::1".parse().expect("ip");
    for h in [
        other(wild(), 5002, Protocol::Tcp),
        other(wild(), 5001, Protocol::Udp),
        other(lo2, 5001, Protocol::Tcp),
        other(v6lo, 5001, Protocol::Tcp),
    ] {
        assert_eq!(
            verdicts(&ports, &h, Bind::Free),
            vec![Verdict::Free],
            "{h:?}"
        );
    }
    // A dual-stack wildcard covers IPv4 too.
    let v6wild: IpAddr = "::".parse().expect("ip");
    assert!(matches!(
        verdicts(&ports, &other(v6wild, 5001, Protocol::Tcp), Bind::Free)[0],
        Verdict::Foreign { .. }
    ));
    // A mapping on the wildcard collides with a container on one address.
    let wild_mapping = vec![("ipfs".to_string(), tcp([0, 0, 0, 0], 5001))];
    assert!(matches!(
        verdicts(&wild_mapping, &other(lo2, 5001, Protocol::Tcp), Bind::Free)[0],
        Verdict::Foreign { .. }
    ));
}

#[test]
fn unchecked_ports_do_not_block_up_but_foreign_addresses_do() {
    let ports = vec![("web".to_string(), tcp([10, 9, 8, 7], 80))];
    let c = check_ports("p", &ports, &[], |_| {
        Bind::Unknown("permission denied".into())
    });
    assert!(!c[0].blocks_up());
    assert_eq!(c[0].finding("f").status, Status::Skip);
    let c = check_ports("p", &ports, &[], |_| Bind::NotLocal("cannot assign".into()));
    assert!(c[0].blocks_up());
    assert!(
        c[0].error_message("f")
            .is_some_and(|m| m.contains("10.9.8.7 is not an address of this machine")),
        "{:?}",
        c[0].error_message("f")
    );
}

#[test]
fn udp_ports_are_written_with_their_protocol() {
    let mut m = tcp([127, 0, 0, 1], 4001);
    m.protocol = Protocol::Udp;
    let c = check_ports("p", &[("ipfs".into(), m)], &[], |_| Bind::InUse(None));
    assert!(c[0].finding("f").text.starts_with(
        "127.0.0.1:4001/udp (ipfs): in use by another program (try: ss -lunp 'sport = :4001')"
    ));
}

#[test]
fn binding_a_held_port_says_in_use_and_a_released_one_free() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let m = tcp([127, 0, 0, 1], port);
    // This process holds it, and may read its own descriptors: the owner is named.
    let me = format!(
        "{} (pid {})",
        std::fs::read_to_string("/proc/self/comm")
            .expect("comm")
            .trim(),
        std::process::id()
    );
    assert_eq!(probe_bind(&m, None), Bind::InUse(Some(me.clone())));
    drop(l);
    assert_eq!(probe_bind(&m, None), Bind::Free);
    let u = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut m = tcp([127, 0, 0, 1], u.local_addr().expect("addr").port());
    m.protocol = Protocol::Udp;
    assert_eq!(probe_bind(&m, None), Bind::InUse(Some(me)));
}

#[test]
fn running_containers_become_holders() {
    use crate::engine::PublishedPort;
    let port = |ip: &str, port, udp| PublishedPort {
        ip: Some(ip.to_string()),
        port,
        udp,
    };
    let list = vec![
        RunningContainer {
            name: "pinshare-ipfs".into(),
            labels: std::collections::HashMap::from([
                ("dev.pinshare.project".into(), "pinshare".into()),
                ("dev.pinshare.service".into(), "ipfs".into()),
            ]),
            ports: vec![port("127.0.0.1", 5001, false), port("::", 4001, true)],
        },
        RunningContainer {
            name: "quiet".into(),
            labels: std::collections::HashMap::new(),
            ports: Vec::new(),
        },
    ];
    let h = holders(list);
    assert_eq!(h.len(), 1, "a container publishing nothing holds nothing");
    assert_eq!(h[0].container, "pinshare-ipfs");
    assert_eq!(h[0].project.as_deref(), Some("pinshare"));
    assert_eq!(h[0].service.as_deref(), Some("ipfs"));
    assert_eq!(
        h[0].ports,
        vec![
            Published {
                ip: IpAddr::from([127, 0, 0, 1]),
                port: 5001,
                protocol: Protocol::Tcp
            },
            Published {
                ip: "::".parse().expect("ip"),
                port: 4001,
                protocol: Protocol::Udp
            },
        ]
    );
}

#[test]
fn a_port_held_by_this_projects_running_up_is_ours() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let m = tcp([127, 0, 0, 1], l.local_addr().expect("addr").port());
    let me = std::process::id();
    assert_eq!(probe_bind(&m, Some(me)), Bind::OurRun(me));
    assert!(matches!(probe_bind(&m, Some(me + 1)), Bind::InUse(Some(_))));
    let c = check_ports("p", &[("app".into(), m)], &[], |_| Bind::OurRun(me));
    assert!(!c[0].blocks_up());
    assert_eq!(c[0].finding("pinshare.toml").status, Status::Ok);
    assert_eq!(c[0].error_message("pinshare.toml"), None);
}
