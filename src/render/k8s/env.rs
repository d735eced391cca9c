//! A container's environment, and the Secret its secret values come from: the manifests refer to the Secret
//! and the header says how to create it, so no secret value is ever rendered.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};

use super::super::dns_label;
use crate::spec::{Service, Spec};

/// The Secret that holds the values of secret env variables; the manifests only refer to it.
fn secret_name(spec: &Spec) -> String {
    dns_label(&format!("{}-secrets", spec.project))
}

/// A container's environment: values as written, except a secret's, which comes from [`secret_name`].
pub(super) fn env(
    spec: &Spec,
    svc: &Service,
    vars: &BTreeMap<String, String>,
) -> Option<Vec<EnvVar>> {
    (!vars.is_empty()).then(|| {
        vars.iter()
            .map(|(k, v)| {
                if svc.is_secret(k) {
                    EnvVar {
                        name: k.clone(),
                        value: None,
                        value_from: Some(EnvVarSource {
                            secret_key_ref: Some(SecretKeySelector {
                                name: secret_name(spec),
                                key: k.clone(),
                                optional: None,
                            }),
                            ..Default::default()
                        }),
                    }
                } else {
                    EnvVar {
                        name: k.clone(),
                        value: Some(v.clone()),
                        value_from: None,
                    }
                }
            })
            .collect()
    })
}

/// The note that says which Secret to create, and how, before applying; `None` without secrets.
pub(super) fn secret_note(spec: &Spec) -> Option<String> {
    let keys: BTreeSet<&str> = spec
        .services
        .values()
        .flat_map(|s| s.secret_env.iter().map(String::as_str))
        .collect();
    if keys.is_empty() {
        return None;
    }
    let literals: Vec<String> = keys
        .iter()
        .map(|k| format!("--from-literal={k}=..."))
        .collect();
    Some(format!(
        "secret env values are not rendered; create the Secret first: kubectl create secret generic {} {}",
        secret_name(spec),
        literals.join(" ")
    ))
}
