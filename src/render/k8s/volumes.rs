//! Volumes: a PersistentVolumeClaim per named volume (its size from `[render.k8s] storage`), mounts of named
//! volumes only, and a note for each bind mount, which is a development mount and never a hostPath.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::super::{dns_label, memory_quantity, relative};
use super::pod_labels;
use crate::spec::{DEFAULT_STORAGE_BYTES, MountSource, Service, Spec};

pub(super) fn claim_name(spec: &Spec, volume: &str) -> String {
    dns_label(&format!("{}-{volume}", spec.project))
}

pub(super) fn volume_mounts(
    spec: &Spec,
    svc: &Service,
    notes: &mut Vec<String>,
) -> Option<Vec<VolumeMount>> {
    let mounts: Vec<VolumeMount> = svc
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            MountSource::Volume { name } => Some(VolumeMount {
                name: dns_label(name),
                mount_path: v.target.clone(),
                read_only: v.read_only.then_some(true),
                ..Default::default()
            }),
            MountSource::Bind { path } => {
                let host = svc
                    .host_mounts
                    .iter()
                    .find(|m| &m.source == path && m.target == v.target);
                notes.push(match host {
                    // Allowed for a local run, never for a cluster: a hostPath would hand over a node.
                    Some(m) => format!(
                        "{}: host mount {}:{}{} (allowed by allow_host_mounts) is never rendered as a hostPath volume",
                        svc.name,
                        m.source,
                        m.target,
                        if m.read_only { ":ro" } else { "" }
                    ),
                    None => format!(
                        "{}: bind mount {}:{} is a development mount; not rendered",
                        svc.name,
                        relative(spec, path),
                        v.target
                    ),
                });
                None
            }
        })
        .collect();
    (!mounts.is_empty()).then_some(mounts)
}

pub(super) fn claim(spec: &Spec, volume: &str) -> PersistentVolumeClaim {
    let size = spec
        .render
        .k8s
        .storage
        .get(volume)
        .copied()
        .unwrap_or(DEFAULT_STORAGE_BYTES);
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(spec, volume)),
            labels: Some(pod_labels(spec)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(memory_quantity(size)),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}
