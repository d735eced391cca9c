//! The `[render]` table: settings read only by `pinshare-dev render k8s|compose`. Its serde mirror and its
//! validation live together here because nothing else in the spec uses them.
//!
//! ```toml
//! [render.k8s]
//! expose = { ipfs = [8080] }          # container ports that get a Kubernetes Service, per service
//! storage = { ipfs-data = "50Gi" }    # PersistentVolumeClaim size per named volume (default 10Gi)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Service;
use super::units::{self, MountSource};

/// Default size of a rendered PersistentVolumeClaim (kubo's default `Datastore.StorageMax` is 10GB).
pub const DEFAULT_STORAGE_BYTES: u64 = 10 << 30;

/// `[render]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRender {
    /// Settings for `pinshare-dev render k8s`.
    pub k8s: Option<RawK8s>,
}

/// `[render.k8s]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawK8s {
    /// Container ports that get a Kubernetes Service, per service: `{ ipfs = [8080] }`. A service listed here gets
    /// exactly these. Default: every published port of a service without `kubo_config`, and none of kubo's (its
    /// RPC API, 5001, is admin-level and stays inside the pod unless listed here).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<u16>>")]
    pub expose: BTreeMap<Spanned<String>, Vec<Spanned<i64>>>,
    /// Size of the PersistentVolumeClaim of a named volume, Kubernetes units: `{ ipfs-data = "50Gi" }`.
    /// Default `"10Gi"`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub storage: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Validated `[render]` settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RenderSettings {
    /// `[render.k8s]`
    pub k8s: K8sSettings,
}

/// Validated `[render.k8s]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct K8sSettings {
    /// Services whose Service ports were chosen explicitly (container ports); the others follow the default.
    pub expose: BTreeMap<String, Vec<u16>>,
    /// PersistentVolumeClaim size in bytes, by named volume; missing means [`DEFAULT_STORAGE_BYTES`].
    pub storage: BTreeMap<String, u64>,
}

/// A problem found while validating `[render]`: span, message, hint.
pub(super) type Problem = (Range<usize>, String, Option<String>);

/// Validates `[render]` against the validated services (`names` holds every service name, valid or not, so that
/// a service with its own errors is not reported again as unknown).
pub(super) fn validate(
    raw: Option<&RawRender>,
    services: &BTreeMap<String, Service>,
    names: &BTreeSet<String>,
) -> (RenderSettings, Vec<Problem>) {
    let Some(k8s) = raw.and_then(|r| r.k8s.as_ref()) else {
        return (RenderSettings::default(), Vec::new());
    };
    let mut problems = Vec::new();
    let settings = K8sSettings {
        expose: exposed_ports(k8s, services, names, &mut problems),
        storage: storage_sizes(k8s, services, &mut problems),
    };
    (RenderSettings { k8s: settings }, problems)
}

/// `render.k8s.expose` checked: each entry names a service and container ports it publishes. The chosen ports
/// (sorted, each once) by service; every problem is pushed onto `problems`.
fn exposed_ports(
    k8s: &RawK8s,
    services: &BTreeMap<String, Service>,
    names: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Vec<u16>> {
    let mut expose = BTreeMap::new();
    let known = names.iter().cloned().collect::<Vec<_>>().join(", ");
    for (name, ports) in &k8s.expose {
        if !names.contains(name.get_ref()) {
            problems.push((
                name.span(),
                format!("unknown service `{}` in render.k8s.expose", name.get_ref()),
                Some(format!("known services: {known}")),
            ));
            continue;
        }
        let Some(svc) = services.get(name.get_ref()) else {
            continue;
        };
        let published: BTreeSet<u16> = svc.ports.iter().map(|p| p.container_port).collect();
        let list = published
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let mut chosen = Vec::new();
        for p in ports {
            match u16::try_from(*p.get_ref()) {
                Ok(port) if published.contains(&port) => chosen.push(port),
                _ => problems.push((
                    p.span(),
                    format!(
                        "service `{}` publishes no container port {}",
                        name.get_ref(),
                        p.get_ref()
                    ),
                    Some(if list.is_empty() {
                        format!("`{}` has no `ports`", name.get_ref())
                    } else {
                        format!("its container ports: {list}")
                    }),
                )),
            }
        }
        chosen.sort_unstable();
        chosen.dedup();
        expose.insert(name.get_ref().clone(), chosen);
    }
    expose
}

/// `render.k8s.storage` checked: each entry names a named volume of some service and a size in Kubernetes
/// units. The sizes in bytes by volume; every problem is pushed onto `problems`.
fn storage_sizes(
    k8s: &RawK8s,
    services: &BTreeMap<String, Service>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, u64> {
    let mut storage = BTreeMap::new();
    let volumes: BTreeSet<&str> = services
        .values()
        .flat_map(|s| &s.volumes)
        .filter_map(|v| match &v.source {
            MountSource::Volume { name } => Some(name.as_str()),
            MountSource::Bind { .. } => None,
        })
        .collect();
    for (name, size) in &k8s.storage {
        if !volumes.contains(name.get_ref().as_str()) {
            let list = volumes.iter().copied().collect::<Vec<_>>().join(", ");
            problems.push((
                name.span(),
                format!(
                    "`{}` in render.k8s.storage is not a named volume of any service",
                    name.get_ref()
                ),
                Some(format!("named volumes: {list}")),
            ));
            continue;
        }
        match units::parse_memory(size.get_ref()) {
            Ok(bytes) => {
                storage.insert(name.get_ref().clone(), bytes);
            }
            Err(e) => problems.push((
                size.span(),
                format!("bad storage size: {e}"),
                Some("Kubernetes units, e.g. \"10Gi\"".to_string()),
            )),
        }
    }
    storage
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    const BASE: &str = "[services.ipfs]\nimage = \"ipfs/kubo:v0.39.0\"\nports = [\"5001:5001\", \"8080:8080\"]\nvolumes = [\"ipfs-data:/data/ipfs\"]\n";

    fn errors(extra: &str) -> Vec<(String, String, Option<String>)> {
        let text = format!("{BASE}{extra}");
        match crate::spec::parse(Path::new("pinshare.toml"), &text) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => e
                .errors
                .iter()
                .map(|e| (e.location(), e.message.clone(), e.help.clone()))
                .collect(),
        }
    }

    #[test]
    fn expose_and_storage_are_validated_into_the_spec() {
        let text = format!(
            "{BASE}[render.k8s]\nexpose = {{ ipfs = [8080, 8080] }}\nstorage = {{ ipfs-data = \"50Gi\" }}\n"
        );
        let s = crate::spec::parse(Path::new("pinshare.toml"), &text).unwrap();
        assert_eq!(s.render.k8s.expose["ipfs"], [8080]);
        assert_eq!(s.render.k8s.storage["ipfs-data"], 50 << 30);
    }

    #[test]
    fn expose_names_a_known_service_and_its_published_ports() {
        assert_eq!(
            errors("[render.k8s]\nexpose = { ipfss = [8080] }\n"),
            [(
                "pinshare.toml:6:12".to_string(),
                "unknown service `ipfss` in render.k8s.expose".to_string(),
                Some("known services: ipfs".to_string())
            )]
        );
        assert_eq!(
            errors("[render.k8s]\nexpose = { ipfs = [4001] }\n"),
            [(
                "pinshare.toml:6:20".to_string(),
                "service `ipfs` publishes no container port 4001".to_string(),
                Some("its container ports: 5001, 8080".to_string())
            )]
        );
    }

    #[test]
    fn storage_names_a_named_volume_and_a_size() {
        let e = errors("[render.k8s]\nstorage = { data = \"1Gi\", ipfs-data = \"10Gb\" }\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(
            e[0].1,
            "`data` in render.k8s.storage is not a named volume of any service"
        );
        assert_eq!(e[0].2.as_deref(), Some("named volumes: ipfs-data"));
        assert!(e[1].1.starts_with("bad storage size:"), "{e:?}");
        assert_eq!(e[1].0, "pinshare.toml:6:39");
    }

    #[test]
    fn unknown_render_keys_are_rejected() {
        let e = errors("[render.k8s]\nexpse = { ipfs = [8080] }\n");
        assert_eq!(e[0].0, "pinshare.toml:6:1");
        assert!(e[0].1.contains("unknown field `expse`"), "{e:?}");
        let e = errors("[render.helm]\n");
        assert!(e[0].1.contains("unknown field `helm`"), "{e:?}");
    }
}
