//! Kubernetes Services: one ClusterIP Service per service with exposed ports, and which ports those are (kubo's
//! only when `[render.k8s] expose` lists them).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service as KService, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::{dns_label, kubo};
use crate::spec::{Protocol, Service, Spec};

/// Container ports (and protocols) that get a Service: `[render.k8s] expose` when the service is listed there,
/// else every published port of a service that is not kubo, and none of kubo's.
pub(super) fn exposed_ports(spec: &Spec, svc: &Service) -> Vec<(u16, Protocol)> {
    let chosen = spec.render.k8s.expose.get(&svc.name);
    let mut ports: Vec<(u16, Protocol)> = svc
        .ports
        .iter()
        .filter(|p| match chosen {
            Some(list) => list.contains(&p.container_port),
            None => kubo(svc).is_none(),
        })
        .map(|p| (p.container_port, p.protocol))
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

pub(super) fn protocol(p: Protocol) -> String {
    match p {
        Protocol::Tcp => "TCP".into(),
        Protocol::Udp => "UDP".into(),
    }
}

pub(super) fn service(
    svc: &Service,
    ports: &[(u16, Protocol)],
    labels: &BTreeMap<String, String>,
) -> KService {
    let mut meta_labels = labels.clone();
    meta_labels.insert("app.kubernetes.io/component".into(), dns_label(&svc.name));
    KService {
        metadata: ObjectMeta {
            name: Some(dns_label(&svc.name)),
            labels: Some(meta_labels),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels.clone()),
            ports: Some(
                ports
                    .iter()
                    .map(|(port, proto)| ServicePort {
                        name: Some(format!("{}-{port}", proto.as_str())),
                        port: i32::from(*port),
                        target_port: Some(IntOrString::Int(i32::from(*port))),
                        protocol: Some(protocol(*proto)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}
