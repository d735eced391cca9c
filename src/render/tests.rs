//! Renderer tests: reviewed snapshots of both shipped specs, plus the acceptance properties asserted directly
//! (what a spec change changes, no httpGet against kubo's RPC API, kubo's init never root, 5001 not exposed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::k8s::objects;
use super::*;
use crate::spec::{self, Spec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> String {
    std::fs::read_to_string(root().join("pinshare.toml")).unwrap()
}

/// Parses spec text as if it were the top-level pinshare.toml (so its build context resolves).
fn parse(text: &str) -> Spec {
    spec::parse(&root().join("pinshare.toml"), text).expect("valid spec")
}

fn offline() -> Spec {
    spec::load(&root().join("examples/offline/pinshare.toml")).expect("valid offline spec")
}

fn native() -> K8sOptions {
    K8sOptions::default()
}

fn classic() -> K8sOptions {
    K8sOptions {
        classic_sidecar: true,
        image_tag: None,
    }
}

// ------------------------------------------------------------------ snapshots (reviewed YAML)

#[test]
fn k8s_of_the_shipped_spec() {
    insta::assert_snapshot!(k8s(&parse(&shipped()), &native()));
}

#[test]
fn k8s_of_the_shipped_spec_with_a_classic_sidecar() {
    insta::assert_snapshot!(k8s(&parse(&shipped()), &classic()));
}

#[test]
fn k8s_of_the_offline_example() {
    insta::assert_snapshot!(k8s(&offline(), &native()));
}

#[test]
fn compose_of_the_shipped_spec() {
    insta::assert_snapshot!(compose(&parse(&shipped()), None));
}

#[test]
fn compose_of_the_offline_example() {
    insta::assert_snapshot!(compose(&offline(), None));
}

// ------------------------------------------------------------------ one spec change, one place

/// The key path of a line of block YAML (`spec.template.spec.containers.resources.limits.memory`), found from
/// the keys of the less indented lines above it.
fn key_path(lines: &[&str], i: usize) -> String {
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '-']).len();
    fn key(l: &str) -> Option<&str> {
        let t = l.trim_start_matches([' ', '-']);
        t.split_once(':')
            .map(|(k, _)| k)
            .filter(|k| !k.is_empty() && !k.contains([' ', '"', '\'']))
    }
    let mut parts = vec![key(lines[i]).unwrap_or("-")];
    let mut cur = indent(lines[i]);
    for l in lines[..i].iter().rev() {
        if *l == "---" {
            break;
        }
        if l.starts_with('#') || indent(l) >= cur {
            continue;
        }
        if let Some(k) = key(l) {
            parts.push(k);
            cur = indent(l);
        }
    }
    parts.reverse();
    parts.join(".")
}

/// The lines that differ between two renderings of the same length: (key path, old, new).
fn changes(before: &str, after: &str) -> Vec<(String, String, String)> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    assert_eq!(a.len(), b.len(), "line count changed:\n{after}");
    (0..a.len())
        .filter(|&i| a[i] != b[i])
        .map(|i| (key_path(&a, i), a[i].trim().into(), b[i].trim().into()))
        .collect()
}

fn change(path: &str, old: &str, new: &str) -> (String, String, String) {
    (path.into(), old.into(), new.into())
}

fn both(text: &str) -> (String, String) {
    let s = parse(text);
    (k8s(&s, &native()), compose(&s, None))
}

#[test]
fn a_new_cors_origin_changes_only_that_config_value() {
    let (k_before, c_before) = both(&shipped());
    let edited = shipped().replace("\"http://localhost:5174\"", "\"http://localhost:5175\"");
    let (k_after, c_after) = both(&edited);
    let old =
        r#"- "[\"http://localhost:5173\",\"http://localhost:5174\",\"http://localhost:3000\"]""#;
    let new =
        r#"- "[\"http://localhost:5173\",\"http://localhost:5175\",\"http://localhost:3000\"]""#;
    assert_eq!(
        changes(&k_before, &k_after),
        vec![change("spec.template.spec.initContainers.args.-", old, new)]
    );
    assert_eq!(
        changes(&c_before, &c_after),
        vec![change("services.ipfs-kubo-config-4.command.-", old, new)]
    );
}

#[test]
fn a_new_memory_limit_changes_only_that_limit() {
    let (k_before, c_before) = both(&shipped());
    let edited = shipped().replace("memory_limit = \"3Gi\"", "memory_limit = \"1536Mi\"");
    let (k_after, c_after) = both(&edited);
    assert_eq!(
        changes(&k_before, &k_after),
        vec![change(
            "spec.template.spec.containers.resources.limits.memory",
            "memory: 3Gi",
            "memory: 1536Mi"
        )]
    );
    assert_eq!(
        changes(&c_before, &c_after),
        vec![change(
            "services.pinshare.mem_limit",
            "mem_limit: 3g",
            "mem_limit: 1536m"
        )]
    );
}

#[test]
fn a_new_probe_timeout_changes_the_probe_and_the_startup_probe_made_from_it() {
    let (k_before, c_before) = both(&shipped());
    let edited = shipped().replace(
        "method = \"POST\" } }",
        "method = \"POST\" }, timeout = \"3s\" }",
    );
    let (k_after, c_after) = both(&edited);
    assert_eq!(
        changes(&k_before, &k_after),
        vec![
            change(
                "spec.template.spec.initContainers.readinessProbe.timeoutSeconds",
                "timeoutSeconds: 2",
                "timeoutSeconds: 3"
            ),
            change(
                "spec.template.spec.initContainers.startupProbe.timeoutSeconds",
                "timeoutSeconds: 2",
                "timeoutSeconds: 3"
            ),
        ]
    );
    assert_eq!(
        changes(&c_before, &c_after),
        vec![change(
            "services.ipfs.healthcheck.timeout",
            "timeout: 2s",
            "timeout: 3s"
        )]
    );
}

#[test]
fn a_new_liveness_period_changes_only_that_probe() {
    let (k_before, _) = both(&shipped());
    let edited = shipped().replace(
        "liveness = { http = { port = 9090, path = \"/health\" }, period = \"30s\"",
        "liveness = { http = { port = 9090, path = \"/health\" }, period = \"15s\"",
    );
    let (k_after, _) = both(&edited);
    assert_eq!(
        changes(&k_before, &k_after),
        vec![change(
            "spec.template.spec.containers.livenessProbe.periodSeconds",
            "periodSeconds: 30",
            "periodSeconds: 15"
        )]
    );
}

// ------------------------------------------------------------------ acceptance properties

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

fn pod_container<'a>(
    pod: &'a k8s_openapi::api::core::v1::PodSpec,
    name: &str,
) -> &'a k8s_openapi::api::core::v1::Container {
    pod.init_containers
        .iter()
        .flatten()
        .chain(pod.containers.iter())
        .find(|c| c.name == name)
        .unwrap()
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
fn image_tag_changes_built_images_only() {
    let s = parse(&shipped());
    let opts = K8sOptions {
        classic_sidecar: false,
        image_tag: Some("v1.2.3".into()),
    };
    let before = k8s(&s, &native());
    let after = k8s(&s, &opts);
    assert_eq!(
        changes(&before, &after),
        vec![change(
            "spec.template.spec.containers.image",
            "image: pinshare-pinshare:dev",
            "image: pinshare-pinshare:v1.2.3"
        )]
    );
    assert!(compose(&s, Some("v1.2.3")).contains("image: pinshare-pinshare:v1.2.3"));
}

#[test]
fn rendering_is_deterministic() {
    let s = offline();
    assert_eq!(k8s(&s, &native()), k8s(&offline(), &native()));
    assert_eq!(compose(&s, None), compose(&offline(), None));
    let files = k8s_files(&s, &native());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "deployment-pinshare-offline.yaml",
            "service-pinshare.yaml",
            "pvc-pinshare-offline-backend-data.yaml",
            "pvc-pinshare-offline-ipfs-data.yaml"
        ]
    );
}

#[test]
fn compose_waits_for_kubo_health_and_its_repo_preparation() {
    let text = compose(&offline(), None);
    assert!(text.contains(
        "    depends_on:\n      ipfs:\n        condition: service_healthy\n    init: true"
    ));
    assert!(text.contains(
        "    depends_on:\n      ipfs-kubo-config-5:\n        condition: service_completed_successfully"
    ));
    // Every preparation step runs as kubo's uid:gid, never root.
    assert_eq!(text.matches("user: 1000:100").count(), 5, "{text}");
    assert!(!text.contains("\nname:") && !text.contains("\nversion:"));
    // The app's healthcheck is its exec liveness probe (its HTTP readiness cannot run inside a scratch image).
    assert!(
        text.contains("      - /opt/pinshare/pinshare\n      - health\n"),
        "{text}"
    );
}

#[test]
fn compose_quotes_values_yaml_1_1_would_read_as_numbers() {
    let s = parse(&shipped().replace(
        "[services.pinshare]\n",
        "[services.pinshare]\nuser = \"1000:10\"\n",
    ));
    let text = compose(&s, None);
    // PyYAML (docker-compose 1.29) reads a plain 1000:10 as the base-60 integer 60010.
    let line = text
        .lines()
        .find(|l| l.contains("1000:10'") || l.contains("1000:10\"") || l.ends_with("1000:10"));
    assert_eq!(line.map(str::trim), Some("user: \"1000:10\""), "{text}");
}

#[test]
fn quantities_and_tags() {
    assert_eq!(cpu_quantity(250), "250m");
    assert_eq!(cpu_quantity(1000), "1");
    assert_eq!(memory_quantity(512 << 20), "512Mi");
    assert_eq!(memory_quantity(2 << 30), "2Gi");
    assert_eq!(memory_quantity(500_000_000), "500M");
    assert_eq!(memory_quantity(1001), "1001");
    assert_eq!(
        with_tag("pinshare-pinshare:dev", "v1"),
        "pinshare-pinshare:v1"
    );
    assert_eq!(with_tag("registry:5000/app", "v1"), "registry:5000/app:v1");
    assert_eq!(with_tag("app:1@sha256:abc", "v2"), "app:v2");
    assert_eq!(dns_label("My_Project"), "my-project");
}

#[test]
fn rpc_paths_with_arguments_become_cli_arguments() {
    let check = crate::spec::Check::Http {
        port: 5001,
        path: "/api/v0/dag/stat?arg=QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn&progress=false"
            .into(),
        method: "POST".into(),
        headers: std::collections::BTreeMap::new(),
    };
    assert_eq!(
        translate(&check).map(|t| t.0),
        Some(Action::Exec(
            [
                "ipfs",
                "--api=/ip4/127.0.0.1/tcp/5001",
                "dag",
                "stat",
                "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
                "--progress=false"
            ]
            .map(String::from)
            .to_vec()
        ))
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

// ------------------------------------------------------------------ secrets

#[test]
fn secret_env_values_appear_in_no_rendering() {
    let s = parse(
        &shipped()
            .replace(
                "env = { IPFS_API = \"http://ipfs:5001\" }",
                "env = { IPFS_API = \"http://ipfs:5001\", API_TOKEN = \"s3cr3t-value\", SESSION = \"listed-s3cr3t\" }\nsecrets = [\"SESSION\"]",
            )
            .replace(
                "env = { IPFS_PROFILE = \"server\" }",
                "env = { IPFS_PROFILE = \"server\", SWARM_KEY = \"kubo-s3cr3t\" }",
            ),
    );
    let mut renderings = vec![k8s(&s, &native()), k8s(&s, &classic()), compose(&s, None)];
    renderings.extend(k8s_files(&s, &native()).into_iter().map(|(_, text)| text));
    for text in &renderings {
        for secret in ["s3cr3t-value", "listed-s3cr3t", "kubo-s3cr3t"] {
            assert!(!text.contains(secret), "{secret} rendered:\n{text}");
        }
    }

    // Kubernetes: a reference to one Secret per project, and the command that creates it in the header.
    let pod = objects(&s, &native())
        .deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let app = pod_container(&pod, "pinshare");
    let token = app
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "API_TOKEN")
        .unwrap();
    assert_eq!(token.value, None);
    let by_ref = token
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (by_ref.name.as_str(), by_ref.key.as_str()),
        ("pinshare-secrets", "API_TOKEN")
    );
    let plain = app
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "IPFS_API")
        .unwrap();
    assert_eq!(plain.value.as_deref(), Some("http://ipfs:5001"));
    // kubo's repo preparation gets kubo's environment, so the same reference.
    let prep = pod_container(&pod, "ipfs-kubo-config");
    assert!(
        prep.env
            .iter()
            .flatten()
            .any(|e| e.name == "SWARM_KEY" && e.value.is_none() && e.value_from.is_some())
    );
    assert!(k8s(&s, &native()).contains(
        "# secret env values are not rendered; create the Secret first: kubectl create secret generic pinshare-secrets --from-literal=API_TOKEN=... --from-literal=SESSION=... --from-literal=SWARM_KEY=...\n"
    ));

    // Compose: interpolation that refuses to start without the value.
    let text = compose(&s, None);
    assert!(
        text.contains("API_TOKEN: ${API_TOKEN:?set API_TOKEN in the environment or .env}"),
        "{text}"
    );
    assert!(
        text.contains("SESSION: ${SESSION:?set SESSION in the environment or .env}"),
        "{text}"
    );
    assert!(text.contains("IPFS_API: http://ipfs:5001"), "{text}");
    assert!(
        text.contains("# secret env values are not in this file; docker-compose takes API_TOKEN, SESSION, SWARM_KEY from the environment or a .env file here\n"),
        "{text}"
    );
}

#[test]
fn an_allowed_host_mount_stays_out_of_k8s_and_is_kept_in_compose_with_a_comment() {
    let mut text = shipped();
    let at = text.find("[services.pinshare]\n").unwrap() + "[services.pinshare]\n".len();
    text.insert_str(at, "allow_host_mounts = [\"/etc\"]\n");
    let before = text.clone();
    let text = text.replacen(
        "volumes = [\"backend-data:/opt/pinshare/data\",",
        "volumes = [\"/etc:/host/etc:ro\", \"backend-data:/opt/pinshare/data\",",
        1,
    );
    assert_ne!(
        text, before,
        "the shipped spec's app volumes line changed: update this edit"
    );
    let spec = parse(&text);
    assert_eq!(spec.services["pinshare"].host_mounts.len(), 1);
    let why = "/etc:/host/etc:ro is the host's /etc: its configuration, password hashes and keys";
    for o in [native(), classic()] {
        let k = k8s(&spec, &o);
        assert!(!k.contains("hostPath:"), "{k}");
        assert!(!k.contains("mountPath: /host/etc"), "{k}");
        assert!(
            k.contains("# pinshare: host mount /etc:/host/etc:ro (allowed by allow_host_mounts) is never rendered as a hostPath volume\n"),
            "{k}"
        );
    }
    let c = compose(&spec, None);
    assert!(c.contains("- /etc:/host/etc:ro\n"), "{c}");
    assert!(
        c.contains(&format!("# pinshare: host mount {why}; kept because allow_host_mounts lists it (docker-compose does not check it)\n")),
        "{c}"
    );
}
