//! `render k8s`: one Deployment whose pod holds every service — kubo (and anything else the app depends on) as a
//! native sidecar (an init container with `restartPolicy: Always` whose startup probe gates the app, Kubernetes
//! ≥ 1.29) or, with `--classic-sidecar`, as a second ordinary container — plus a ClusterIP Service per service
//! with exposed ports and a PersistentVolumeClaim per named volume.
//!
//! Kubo's repo is prepared by an init container running as kubo's uid/gid (1000:100), never root: `ipfs init`
//! when there is no config, then `ipfs config --json KEY VALUE` for each `kubo_config` key (the same values the
//! local run writes). The pod's `fsGroup` makes the volume group-owned and group-writable for that gid, which
//! also makes a repo left root-owned by an old image usable again (the seed's `permission denied`: kubelet
//! rewrites the group and mode whenever the volume root does not match). Services reach each other
//! by name as locally (`http://ipfs:5001`) through `hostAliases` to the pod's loopback, and kubo's RPC API and
//! gateway listen on that loopback unless `[render.k8s] expose` lists their port.
//!
//! This file makes the objects and their YAML; each object, and each part of the pod with a concept of its own,
//! is made in the file named after it: `pod.rs`, `service.rs`, `volumes.rs`, `probes.rs`, `env.rs`, `kubo.rs`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service as KService};

use super::{K8sOptions, dns_label, header, yaml};
use crate::spec::Spec;
use env::secret_note;
use pod::deployment;
use service::{exposed_ports, service};
use volumes::claim;

mod env;
mod kubo;
mod pod;
mod probes;
mod service;
mod volumes;

/// All manifests as one multi-document YAML stream (for stdout or `kubectl apply -f -`).
pub(crate) fn k8s(spec: &Spec, opts: &K8sOptions) -> String {
    let files = k8s_files(spec, opts);
    let mut out = String::new();
    for (i, (_, text)) in files.iter().enumerate() {
        if i == 0 {
            out.push_str(text);
        } else {
            // Every file starts with the same header; keep it once.
            out.push_str("---\n");
            out.push_str(
                text.strip_prefix(&header(spec, "render k8s"))
                    .unwrap_or(text),
            );
        }
    }
    out
}

/// The manifests as files: (file name, YAML). The Deployment comes first and carries the notes.
pub(crate) fn k8s_files(spec: &Spec, opts: &K8sOptions) -> Vec<(String, String)> {
    let o = objects(spec, opts);
    let head = header(spec, "render k8s");
    let mut text = head.clone();
    for n in &o.notes {
        text.push_str(&format!("# {n}\n"));
    }
    text.push_str(&yaml(&o.deployment));
    let mut files = vec![(
        format!("deployment-{}.yaml", dns_label(&spec.project)),
        text,
    )];
    for s in &o.services {
        let name = s.metadata.name.clone().unwrap_or_default();
        files.push((format!("service-{name}.yaml"), format!("{head}{}", yaml(s))));
    }
    for c in &o.claims {
        let name = c.metadata.name.clone().unwrap_or_default();
        files.push((format!("pvc-{name}.yaml"), format!("{head}{}", yaml(c))));
    }
    files
}

/// The Kubernetes objects, before YAML.
pub(super) struct Objects {
    /// The one Deployment.
    pub deployment: Deployment,
    /// A Service per service with exposed ports, in start order.
    pub services: Vec<KService>,
    /// A PersistentVolumeClaim per named volume, by name.
    pub claims: Vec<PersistentVolumeClaim>,
    /// What did not translate one to one, for the header.
    pub notes: Vec<String>,
}

pub(super) fn objects(spec: &Spec, opts: &K8sOptions) -> Objects {
    let mut notes = Vec::new();
    let labels = pod_labels(spec);
    let deployment = deployment(spec, opts, &labels, &mut notes);
    let services = spec
        .order
        .iter()
        .map(|n| &spec.services[n])
        .filter_map(|svc| {
            let ports = exposed_ports(spec, svc);
            (!ports.is_empty()).then(|| service(svc, &ports, &labels))
        })
        .collect();
    let claims = spec
        .named_volumes()
        .iter()
        .map(|v| claim(spec, v))
        .collect();
    if let Some(n) = secret_note(spec) {
        notes.insert(0, n);
    }
    let mut seen = BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    Objects {
        deployment,
        services,
        claims,
        notes,
    }
}

fn pod_labels(spec: &Spec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/instance".into(),
            dns_label(&spec.project),
        ),
        ("app.kubernetes.io/name".into(), dns_label(&spec.project)),
    ])
}
