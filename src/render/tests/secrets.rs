//! What must stay out of every rendering: secret env values (a reference to a Secret or the environment
//! instead), and host mounts (never a hostPath; kept in compose only with a comment).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

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
