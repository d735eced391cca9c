//! Renderer tests: reviewed snapshots of both shipped specs, plus the acceptance properties asserted directly
//! (what a spec change changes, no httpGet against kubo's RPC API, kubo's init never root, 5001 not exposed).
//!
//! This file holds the helpers every test uses, the snapshot tests (their module path names the `.snap` files
//! in `snapshots/`, so they stay here) and the tests of what both renderers share. The properties are next to
//! it, one file per concern: `changes.rs`, `k8s.rs`, `compose.rs`, `secrets.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::k8s::objects;
use super::*;
use crate::spec::{self, Spec};

mod changes;
mod compose;
mod k8s;
mod secrets;

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

// ------------------------------------------------------------------ what both renderers share

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
