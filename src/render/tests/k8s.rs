//! Properties of `render k8s` asserted on the objects rather than the YAML: no httpGet against kubo's RPC API,
//! kubo's repo preparation never root, kubo as a native sidecar, which ports get a Service, storage sizes and
//! the order of init containers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn all_renderings() -> Vec<(String, Spec)> {
    let get_rpc = shipped().replace(
        "readiness = { http = { port = 5001, path = \"/api/v0/id\", method = \"POST\" } }",
        "readiness = { http = { port = 5001, path = \"/api/v0/id\" } }",
    );
    vec![
        ("shipped".into(), parse(&shipped())),
        ("offline".into(), offline()),
        ("GET against the RPC API".into(), parse(&get_rpc)),
    ]
}

#[test]
fn no_pod_probes_kubo_rpc_api_with_http_get() {
    for (what, spec) in all_renderings() {
        for opts in [native(), classic()] {
            let o = objects(&spec, &opts);
            let pod = o.deployment.spec.unwrap().template.spec.unwrap();
            let all = pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten());
            for c in all {
                for p in [&c.startup_probe, &c.readiness_probe, &c.liveness_probe]
                    .into_iter()
                    .flatten()
                {
                    if let Some(h) = &p.http_get {
                        let path = h.path.as_deref().unwrap_or("/");
                        assert!(!path.starts_with("/api/v0"), "{what}: {} {path}", c.name);
                    }
                }
            }
            let ipfs = pod
                .init_containers
                .iter()
                .flatten()
                .chain(pod.containers.iter())
                .find(|c| c.name == "ipfs")
                .unwrap();
            let exec = ipfs
                .readiness_probe
                .as_ref()
                .unwrap()
                .exec
                .as_ref()
                .unwrap();
            assert_eq!(
                exec.command.as_deref().unwrap(),
                ["ipfs", "--api=/ip4/127.0.0.1/tcp/5001", "id"],
                "{what}"
            );
        }
    }
}

#[test]
fn kubo_repo_preparation_runs_as_uid_1000_on_a_volume_fixed_by_fs_group() {
    for (what, spec) in all_renderings() {
        for opts in [native(), classic()] {
            let o = objects(&spec, &opts);
            let pod = o.deployment.spec.unwrap().template.spec.unwrap();
            let prep = pod
                .init_containers
                .iter()
                .flatten()
                .find(|c| c.name == "ipfs-kubo-config")
                .unwrap_or_else(|| panic!("{what}: no kubo-config init container"));
            let sc = prep.security_context.as_ref().unwrap();
            assert_eq!(sc.run_as_user, Some(1000), "{what}");
            assert_eq!(sc.run_as_group, Some(100), "{what}");
            assert_eq!(sc.run_as_non_root, Some(true), "{what}");
            // fsGroup: the volume is group-owned by 100 and group-writable, whoever wrote it before.
            let psc = pod.security_context.as_ref().unwrap();
            assert_eq!(psc.fs_group, Some(100), "{what}");
            // It prepares the volume kubo runs on, before kubo starts.
            assert_eq!(
                prep.volume_mounts,
                pod_container(&pod, "ipfs").volume_mounts
            );
            let inits: Vec<&str> = pod
                .init_containers
                .iter()
                .flatten()
                .map(|c| c.name.as_str())
                .collect();
            let prep_at = inits.iter().position(|n| *n == "ipfs-kubo-config").unwrap();
            if let Some(kubo_at) = inits.iter().position(|n| *n == "ipfs") {
                assert!(prep_at < kubo_at, "{what}: {inits:?}");
            }
        }
    }
}

#[test]
fn kubo_is_a_native_sidecar_by_default_and_a_second_container_with_classic() {
    let spec = parse(&shipped());
    let pod = objects(&spec, &native())
        .deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let ipfs = pod_container(&pod, "ipfs");
    assert_eq!(ipfs.restart_policy.as_deref(), Some("Always"));
    assert!(ipfs.startup_probe.is_some());
    assert_eq!(
        pod.containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["pinshare"]
    );

    let pod = objects(&spec, &classic())
        .deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    assert_eq!(
        pod.containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["ipfs", "pinshare"]
    );
    assert!(pod.containers.iter().all(|c| c.restart_policy.is_none()));
}

/// Service name and port, once per port number (50001 is published over tcp and udp).
fn service_ports(spec: &Spec) -> Vec<(String, i32)> {
    let mut ports: Vec<(String, i32)> = objects(spec, &native())
        .services
        .iter()
        .flat_map(|s| {
            let name = s.metadata.name.clone().unwrap();
            s.spec
                .as_ref()
                .unwrap()
                .ports
                .iter()
                .flatten()
                .map(move |p| (name.clone(), p.port))
        })
        .collect();
    ports.dedup();
    ports
}

#[test]
fn kubo_ports_get_no_service_by_default() {
    for (what, spec) in all_renderings() {
        let ports = service_ports(&spec);
        assert_eq!(
            ports,
            [
                ("pinshare".to_string(), 9090),
                ("pinshare".to_string(), 50001)
            ],
            "{what}"
        );
    }
    // And the RPC API listens on the pod's loopback only.
    let text = k8s(&parse(&shipped()), &native());
    assert!(
        text.contains("- Addresses.API\n        - \"\\\"/ip4/127.0.0.1/tcp/5001\\\"\""),
        "{text}"
    );
}

#[test]
fn kubo_ports_are_exposed_only_when_the_spec_lists_them() {
    let gateway = parse(&format!(
        "{}\n[render.k8s]\nexpose = {{ ipfs = [8080] }}\n",
        shipped()
    ));
    assert_eq!(
        service_ports(&gateway),
        [
            ("ipfs".to_string(), 8080),
            ("pinshare".to_string(), 9090),
            ("pinshare".to_string(), 50001)
        ]
    );
    let text = k8s(&gateway, &native());
    assert!(text.contains("\"\\\"/ip4/0.0.0.0/tcp/8080\\\"\""), "{text}");
    assert!(
        text.contains("\"\\\"/ip4/127.0.0.1/tcp/5001\\\"\""),
        "{text}"
    );

    let rpc = parse(&format!(
        "{}\n[render.k8s]\nexpose = {{ ipfs = [5001], pinshare = [9090] }}\n",
        shipped()
    ));
    assert_eq!(
        service_ports(&rpc),
        [("ipfs".to_string(), 5001), ("pinshare".to_string(), 9090)]
    );
    assert!(k8s(&rpc, &native()).contains("\"\\\"/ip4/0.0.0.0/tcp/5001\\\"\""));
}

#[test]
fn storage_sizes_come_from_the_spec() {
    let s = parse(&format!(
        "{}\n[render.k8s]\nstorage = {{ ipfs-data = \"50Gi\" }}\n",
        shipped()
    ));
    let sizes: Vec<(String, String)> = objects(&s, &native())
        .claims
        .iter()
        .map(|c| {
            let req = c.spec.as_ref().unwrap().resources.as_ref().unwrap();
            (
                c.metadata.name.clone().unwrap(),
                req.requests.as_ref().unwrap()["storage"].0.clone(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("pinshare-backend-data".to_string(), "10Gi".to_string()),
            ("pinshare-clamav-db".to_string(), "10Gi".to_string()),
            ("pinshare-ipfs-data".to_string(), "50Gi".to_string())
        ]
    );
}

#[test]
fn generic_init_steps_run_after_the_sidecar_and_before_the_app() {
    let s = parse(&shipped().replace(
        "[services.pinshare]\n",
        "[services.pinshare]\ninit = [{ command = [\"/usr/local/bin/pinshare\", \"migrate\"], user = \"1000\" }]\n",
    ));
    let pod = objects(&s, &native())
        .deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let inits: Vec<&str> = pod
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(inits, ["ipfs-kubo-config", "ipfs", "pinshare-init-1"]);
    let step = pod_container(&pod, "pinshare-init-1");
    assert_eq!(
        step.command.as_deref().unwrap(),
        ["/usr/local/bin/pinshare", "migrate"]
    );
    assert_eq!(step.image.as_deref(), Some("pinshare-pinshare:dev"));
    assert_eq!(
        step.security_context.as_ref().unwrap().run_as_user,
        Some(1000)
    );

    let text = compose(&s, None);
    assert!(text.contains(
        "  pinshare-init-1:\n    image: pinshare-pinshare:dev\n    entrypoint:\n    - /usr/local/bin/pinshare\n    command:\n    - migrate\n    user: '1000'\n"
    ) || text.contains(
        "  pinshare-init-1:\n    image: pinshare-pinshare:dev\n    entrypoint:\n    - /usr/local/bin/pinshare\n    command:\n    - migrate\n    user: \"1000\"\n"
    ), "{text}");
    assert!(text.contains(
        "    depends_on:\n      ipfs:\n        condition: service_healthy\n      pinshare-init-1:\n        condition: service_completed_successfully\n"
    ), "{text}");
}
