//! What `up` must change, as pure functions of the spec and what Docker shows: no I/O here, so every rule is
//! tested without an engine.

use std::collections::BTreeSet;

use crate::engine::Role;
use crate::spec::{Service, Spec};

/// A container as observed, reduced to what decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Container name.
    pub name: String,
    /// Service label.
    pub service: String,
    /// Role label, when it is one of ours.
    pub role: Option<Role>,
    /// Config-hash label.
    pub hash: String,
    /// Whether it runs.
    pub running: bool,
}

/// What to do with one service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Running with the desired configuration: leave it alone.
    Keep,
    /// No container: create one.
    Create,
    /// Replace the container, for the given reason.
    Recreate(String),
}

/// Decides for one service from its desired config hash and its observed container.
pub fn decide(desired_hash: &str, observed: Option<&Observed>) -> Decision {
    match observed {
        None => Decision::Create,
        Some(o) if o.hash != desired_hash => {
            Decision::Recreate("configuration or image changed".into())
        }
        Some(o) if !o.running => Decision::Recreate("container was not running".into()),
        Some(_) => Decision::Keep,
    }
}

/// Containers of the project that no service of the spec owns: leftover init steps and removed services.
pub fn orphans<'a>(spec: &Spec, observed: &'a [Observed]) -> Vec<&'a Observed> {
    observed
        .iter()
        .filter(|o| {
            o.role != Some(Role::Service)
                || !spec.services.contains_key(&o.service)
                || o.name != spec.container_name(&o.service)
        })
        .collect()
}

/// The services to start for `up [SERVICE...]`: the named ones and everything they depend on, in dependency
/// order. `Err` names the unknown service and lists the known ones.
pub fn selection(spec: &Spec, requested: &[String]) -> Result<Vec<String>, String> {
    if requested.is_empty() {
        return Ok(spec.order.clone());
    }
    let mut wanted = BTreeSet::new();
    let mut stack: Vec<String> = Vec::new();
    for r in requested {
        if !spec.services.contains_key(r) {
            return Err(format!(
                "no service `{r}` in {}; known services: {}",
                spec.file.display(),
                spec.service_list()
            ));
        }
        stack.push(r.clone());
    }
    while let Some(s) = stack.pop() {
        if wanted.insert(s.clone()) {
            stack.extend(spec.services[&s].depends_on.iter().cloned());
        }
    }
    Ok(spec
        .order
        .iter()
        .filter(|s| wanted.contains(*s))
        .cloned()
        .collect())
}

/// Hash of everything that shapes a service's container: its settings (not its watch rules) and the image id.
pub fn config_hash(project: &str, service: &Service, image_id: &str) -> String {
    let mut v = serde_json::to_value(service).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("watch");
    }
    let mut h = blake3::Hasher::new();
    h.update(project.as_bytes());
    h.update(v.to_string().as_bytes());
    h.update(&service.stop_grace.as_millis().to_le_bytes());
    h.update(image_id.as_bytes());
    h.finalize().to_hex()[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SPEC: &str = r#"
[project]
name = "demo"
[services.ipfs]
image = "ipfs/kubo:v0.39.0"
ports = ["5001:5001"]
[services.app]
image = "app:1"
depends_on = ["ipfs"]
[services.web]
image = "web:1"
depends_on = ["app"]
[services.extra]
image = "x:1"
"#;

    fn spec() -> Spec {
        crate::spec::parse(Path::new("pinshare.toml"), SPEC).expect("valid spec")
    }

    fn obs(service: &str, hash: &str, running: bool) -> Observed {
        Observed {
            name: format!("demo-{service}"),
            service: service.into(),
            role: Some(Role::Service),
            hash: hash.into(),
            running,
        }
    }

    #[test]
    fn missing_container_is_created() {
        assert_eq!(decide("h1", None), Decision::Create);
    }

    #[test]
    fn unchanged_running_container_is_kept() {
        assert_eq!(decide("h1", Some(&obs("ipfs", "h1", true))), Decision::Keep);
    }

    #[test]
    fn changed_hash_recreates() {
        assert!(matches!(
            decide("h2", Some(&obs("ipfs", "h1", true))),
            Decision::Recreate(_)
        ));
    }

    #[test]
    fn stopped_container_is_recreated() {
        assert!(
            matches!(decide("h1", Some(&obs("ipfs", "h1", false))), Decision::Recreate(r) if r.contains("not running"))
        );
    }

    #[test]
    fn dependency_order_puts_dependencies_first() {
        assert_eq!(spec().order, vec!["extra", "ipfs", "app", "web"]);
        assert_eq!(spec().stop_order(), vec!["web", "app", "ipfs", "extra"]);
    }

    #[test]
    fn selecting_a_service_brings_its_dependencies() {
        assert_eq!(
            selection(&spec(), &["web".into()]),
            Ok(vec!["ipfs".into(), "app".into(), "web".into()])
        );
        assert_eq!(
            selection(&spec(), &["ipfs".into()]),
            Ok(vec!["ipfs".into()])
        );
        assert_eq!(selection(&spec(), &[]).expect("all").len(), 4);
    }

    #[test]
    fn selecting_an_unknown_service_lists_the_known_ones() {
        let e = selection(&spec(), &["ipfss".into()]).expect_err("unknown");
        assert!(
            e.contains("`ipfss`") && e.contains("app, extra, ipfs, web"),
            "{e}"
        );
    }

    #[test]
    fn leftover_init_steps_and_removed_services_are_orphans() {
        let mut init = obs("ipfs", "h", false);
        init.role = Some(Role::Init);
        init.name = "demo-ipfs-init".into();
        let gone = obs("old", "h", true);
        let observed = vec![obs("ipfs", "h", true), init.clone(), gone.clone()];
        let s = spec();
        let o = orphans(&s, &observed);
        assert_eq!(o, vec![&init, &gone]);
    }

    #[test]
    fn hash_changes_with_settings_and_image_but_not_watch_rules() {
        let s = spec();
        let ipfs = &s.services["ipfs"];
        let a = config_hash("demo", ipfs, "sha256:1");
        assert_eq!(a, config_hash("demo", ipfs, "sha256:1"));
        assert_ne!(a, config_hash("demo", ipfs, "sha256:2"));
        let mut changed = ipfs.clone();
        changed.env.insert("X".into(), "1".into());
        assert_ne!(a, config_hash("demo", &changed, "sha256:1"));
        let mut watched = ipfs.clone();
        watched.watch.ignore.push("*.tmp".into());
        assert_eq!(a, config_hash("demo", &watched, "sha256:1"));
    }
}
