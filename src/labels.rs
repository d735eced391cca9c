//! The labels that mark Docker objects as ours. Docker is the source of truth: no state file.

use std::collections::HashMap;

/// Project name.
pub const PROJECT: &str = "dev.pinshare.project";
/// Service name.
pub const SERVICE: &str = "dev.pinshare.service";
/// Hash of the container's desired configuration.
pub const CONFIG_HASH: &str = "dev.pinshare.config-hash";
/// `service` for a long-running container, `init` for a one-shot step.
pub const ROLE: &str = "dev.pinshare.role";
/// Hash of a built image's context, on images we build.
pub const CONTEXT_HASH: &str = "dev.pinshare.context-hash";
/// How many times in a row a foreground `up` restarted the service (on a container it recreated).
pub const RESTARTS: &str = "dev.pinshare.restarts";
/// The absolute path of the spec file `up` ran from (for `docker inspect`; it may name another project after a
/// rename, so `down` hints use the project label: `down --project`).
pub const SPEC_FILE: &str = "dev.pinshare.spec-file";
/// Unix milliseconds at which a backing-off container (created, not yet started) will be started.
pub const NEXT_START: &str = "dev.pinshare.next-start";

/// `true` on a one-off container of `run` (role [`Role::OneOff`]): not the service's, removed by `down`.
pub const ONEOFF: &str = "dev.pinshare.oneoff";

/// `true` on every object of a `test` project (a throwaway copy of a project).
pub const TEST: &str = "dev.pinshare.test";
/// On a `test` project's objects: the project it is a copy of.
pub const TEST_OF: &str = "dev.pinshare.test-of";
/// On a `test` project's objects: the pid of the `test` that made it (gone: a leftover the next removes).
pub const OWNER_PID: &str = "dev.pinshare.owner-pid";

/// How a container publishes its ports: absent, on the spec's host ports. When a foreground run's forwarder owns
/// the host ports, [`PORTS_FORWARDED`] (the engine publishes the container's on ephemeral loopback ports) or
/// [`PORTS_FORWARDED_DIRECT`] (published nowhere: the forwarder reaches the container's address).
pub const PORTS: &str = "dev.pinshare.ports";
/// The value of [`PORTS`] for ports forwarded through ephemeral loopback ports.
pub const PORTS_FORWARDED: &str = "forwarded";
/// The value of [`PORTS`] for ports forwarded to the container's address on the project network.
pub const PORTS_FORWARDED_DIRECT: &str = "forwarded-direct";

/// Whether a [`PORTS`] value says a forwarder owns the host ports.
pub fn is_forwarded(value: Option<&str>) -> bool {
    matches!(value, Some(PORTS_FORWARDED | PORTS_FORWARDED_DIRECT))
}

/// Labels for a project-wide object (network, volume).
pub fn project(project: &str) -> HashMap<String, String> {
    HashMap::from([(PROJECT.to_string(), project.to_string())])
}

/// Labels for a container of a service.
pub fn container(project: &str, service: &str, role: Role, hash: &str) -> HashMap<String, String> {
    HashMap::from([
        (PROJECT.to_string(), project.to_string()),
        (SERVICE.to_string(), service.to_string()),
        (ROLE.to_string(), role.as_str().to_string()),
        (CONFIG_HASH.to_string(), hash.to_string()),
    ])
}

/// Docker filter selecting objects of one project.
pub fn project_filter(project: &str) -> String {
    format!("{PROJECT}={project}")
}

/// What a container of ours is for (`dev.pinshare.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The long-running container of a service.
    Service,
    /// A one-shot step run before a service starts.
    Init,
    /// A one-off command of `run` in a container of its own, from the service's image.
    OneOff,
}

impl Role {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Init => "init",
            Role::OneOff => "oneoff",
        }
    }

    /// From the label value; `None` for anything else (a foreign or damaged label).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "service" => Some(Role::Service),
            "init" => Some(Role::Init),
            "oneoff" => Some(Role::OneOff),
            _ => None,
        }
    }
}

/// The role a container's labels give it, if any.
pub fn role_of(container_labels: &HashMap<String, String>) -> Option<Role> {
    container_labels.get(ROLE).and_then(|r| Role::parse(r))
}

/// The restart count a container carries.
pub fn restarts_of(container_labels: &HashMap<String, String>) -> u32 {
    container_labels
        .get(RESTARTS)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}
