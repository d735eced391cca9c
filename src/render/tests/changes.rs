//! One spec change, one place: an edit of the spec changes exactly the rendered lines that carry it, in both
//! renderings. Its own file for the small YAML differ the tests share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

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
        vec![change("services.ipfs-kubo-config.command.-", old, new)]
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
