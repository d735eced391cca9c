//! What must change, as pure functions of the spec and what Docker shows: no I/O here, so every rule is tested
//! without an engine. [`plan`] decides for `up`, a spec reload and a rebuild; [`plan_down`] for `down` and the
//! end of `up`; [`plan_restart`] for a supervisor's restart. All of them answer in [`Action`]s, which
//! [`super::apply`] carries out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::engine::Role;
use crate::spec::{DEFAULT_STOP_GRACE, InitAction, Service, Spec};

use super::action::{Action, InitStep, Reason, RestartMark};

/// How long a container whose service is no longer in the spec gets between SIGTERM and SIGKILL: the spec's
/// default `stop_grace`, since its own setting went with it.
pub const REMOVED_SERVICE_GRACE: Duration = DEFAULT_STOP_GRACE;

/// A container as observed, reduced to what decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
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

/// What a service's container should be made from: its resolved image and the config hash that follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Image id.
    pub image: String,
    /// Hash of the build context (built images only).
    pub context_hash: Option<String>,
    /// Config hash ([`config_hash`]).
    pub hash: String,
}

/// What asks for the plan; it decides what happens to containers no service owns, and the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// `up` starting: containers of services not in the spec are left running (`down` removes them).
    Up,
    /// A spec edit while `up` runs: containers of services the edit removed are stopped and removed.
    SpecEdit,
    /// A rebuild of one service.
    Rebuild,
}

/// What the engine shows of the project, and what the services to plan for should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The project's containers (by label).
    pub containers: Vec<Seen>,
    /// The services to plan for, each with what its container should be made from; others are left alone.
    pub desired: BTreeMap<String, Desired>,
    /// Who asks.
    pub occasion: Occasion,
}

impl Observed {
    /// One service and its own container only (no other container is looked at): for callers that bring
    /// services up one at a time, as their images become ready.
    pub fn one(
        spec: &Spec,
        containers: &[Seen],
        service: &str,
        desired: Desired,
        occasion: Occasion,
    ) -> Self {
        let name = spec.container_name(service);
        Observed {
            containers: containers
                .iter()
                .filter(|c| c.name == name)
                .cloned()
                .collect(),
            desired: BTreeMap::from([(service.to_string(), desired)]),
            occasion,
        }
    }
}

/// Decides for one service from its desired config hash and its observed container.
pub fn decide(desired_hash: &str, observed: Option<&Seen>) -> Decision {
    match observed {
        None => Decision::Create,
        Some(o) if o.hash != desired_hash => Decision::Recreate(Reason::Changed),
        Some(o) if !o.running => Decision::Recreate(Reason::NotRunning),
        Some(_) => Decision::Keep,
    }
}

/// What to do with one service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Running with the desired configuration: leave it alone.
    Keep,
    /// No container: create one.
    Create,
    /// Replace the container, for the given reason.
    Recreate(Reason),
}

/// Containers of the project that no service of the spec owns: leftover init steps and removed services. A
/// `run`'s one-off is its own `run`'s to remove (or `down`'s), never the start-up's or a reload's.
pub fn orphans<'a>(spec: &Spec, observed: &'a [Seen]) -> Vec<&'a Seen> {
    observed
        .iter()
        .filter(|o| o.role != Some(Role::OneOff))
        .filter(|o| {
            o.role != Some(Role::Service)
                || !spec.services.contains_key(&o.service)
                || o.name != spec.container_name(&o.service)
        })
        .collect()
}

/// The steps that make a service's container anew: the old one away (if any), its init steps, create, start.
fn replacement(
    spec: &Spec,
    svc: &Service,
    desired: &Desired,
    old: Option<Reason>,
    reason: &Reason,
) -> Vec<Action> {
    let service = svc.name.clone();
    let container = spec.container_name(&svc.name);
    let mut actions = Vec::new();
    if let Some(why) = old {
        actions.push(Action::Recreate {
            service: service.clone(),
            container: container.clone(),
            grace: svc.stop_grace,
            reason: why,
        });
    }
    // kubo's repo: the image's entrypoint chowns an unwritable one, the container's preparation the rest.
    if svc.fix_ownership && crate::init::kubo::of(svc).is_none() {
        actions.push(Action::RunInit {
            service: service.clone(),
            step: InitStep::Ownership,
            image: desired.image.clone(),
            reason: reason.clone(),
        });
    }
    if svc
        .init
        .iter()
        .any(|s| matches!(s.action, InitAction::Command(_)))
    {
        actions.push(Action::RunInit {
            service: service.clone(),
            step: InitStep::Commands,
            image: desired.image.clone(),
            reason: reason.clone(),
        });
    }
    actions.push(Action::Create {
        service: service.clone(),
        container: container.clone(),
        hash: desired.hash.clone(),
        context_hash: desired.context_hash.clone(),
        restart: None,
        reason: reason.clone(),
    });
    actions.push(Action::Start {
        service,
        container,
        reason: reason.clone(),
    });
    actions
}

/// What becomes of a container no service owns, on `occasion`.
fn orphan_actions(spec: &Spec, o: &Seen, occasion: Occasion, actions: &mut Vec<Action>) {
    let service = o.service.clone();
    let container = o.name.clone();
    let removed = o.role == Some(Role::Service) && !spec.services.contains_key(&o.service);
    let cut_swap = o.role == Some(Role::Service) && spec.services.contains_key(&o.service);
    match occasion {
        // A killed run's swap left a second container of a service: two of them would share its volumes
        // (PinShare's one SQLite database and identity key). The service's own container is then planned
        // from the newest build like any other.
        Occasion::Up if cut_swap => {
            if o.running {
                actions.push(Action::Stop {
                    service: service.clone(),
                    container: container.clone(),
                    grace: spec.services[&o.service].stop_grace,
                    paused: false,
                    reason: Reason::CutSwap,
                });
            }
            actions.push(Action::Remove {
                service,
                container,
                reason: Reason::CutSwap,
            });
        }
        // Start-up clears what an init step left and leaves the rest to `down`.
        Occasion::Up if o.role == Some(Role::Init) => actions.push(Action::Remove {
            service,
            container,
            reason: Reason::LeftoverInit,
        }),
        Occasion::Up => actions.push(Action::Keep {
            service,
            container,
            reason: Reason::NotInSpec,
        }),
        Occasion::SpecEdit if removed => {
            actions.push(Action::Stop {
                service: service.clone(),
                container: container.clone(),
                grace: REMOVED_SERVICE_GRACE,
                paused: false,
                reason: Reason::RemovedFromSpec,
            });
            actions.push(Action::Remove {
                service,
                container,
                reason: Reason::RemovedFromSpec,
            });
        }
        Occasion::SpecEdit | Occasion::Rebuild => {}
    }
}

/// What to do: first with the containers no service owns (a removed service's stops first: nothing of ours
/// depends on it any more), then with each service of `observed.desired`, in dependency order.
pub fn plan(spec: &Spec, observed: &Observed) -> Vec<Action> {
    let mut actions = Vec::new();
    for o in orphans(spec, &observed.containers) {
        orphan_actions(spec, o, observed.occasion, &mut actions);
    }
    for name in &spec.order {
        let (Some(desired), Some(svc)) = (observed.desired.get(name), spec.services.get(name))
        else {
            continue;
        };
        let container = spec.container_name(name);
        let seen = observed.containers.iter().find(|c| c.name == container);
        let decision = decide(&desired.hash, seen);
        let (new, kept) = match observed.occasion {
            Occasion::Up => (Reason::Missing, Reason::UpToDate),
            Occasion::SpecEdit => (Reason::Added, Reason::SpecUnchanged),
            Occasion::Rebuild => (Reason::Rebuilt, Reason::ImageUnchanged),
        };
        match decision {
            Decision::Keep => actions.push(Action::Keep {
                service: name.clone(),
                container,
                reason: kept,
            }),
            Decision::Create => actions.extend(replacement(spec, svc, desired, None, &new)),
            Decision::Recreate(why) => {
                // At start-up the line says why; a reload and a rebuild say it their own way.
                let why = match observed.occasion {
                    Occasion::Up => why,
                    Occasion::SpecEdit => Reason::SpecEdited,
                    Occasion::Rebuild => Reason::Rebuilt,
                };
                actions.extend(replacement(spec, svc, desired, Some(why.clone()), &why));
            }
        }
    }
    actions
}

/// How the project's containers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Teardown {
    /// The end of a foreground `up`: each running container stopped with its grace, then removed.
    Graceful,
    /// A second Ctrl-C, or an interrupted or failed start-up: removed at once.
    Kill,
    /// `pinshare-dev down`: as graceful, in plain lines.
    Down,
}

/// Every container of the project stopped (running ones, unless killed) and removed: containers of services
/// no longer in the spec first, then the services in reverse dependency order, each with its own grace.
pub fn plan_down(spec: &Spec, containers: &[Seen], how: Teardown) -> Vec<Action> {
    let order = spec.stop_order();
    let mut sorted: Vec<&Seen> = containers.iter().collect();
    sorted.sort_by_key(|c| {
        order
            .iter()
            .position(|o| *o == c.service)
            .map_or(0, |p| p + 1)
    });
    let reason = if how == Teardown::Down {
        Reason::Down
    } else {
        Reason::Shutdown
    };
    let mut actions = Vec::new();
    for c in sorted {
        if how != Teardown::Kill && c.running {
            actions.push(Action::Stop {
                service: c.service.clone(),
                container: c.name.clone(),
                grace: spec
                    .services
                    .get(&c.service)
                    .map_or(REMOVED_SERVICE_GRACE, |s| s.stop_grace),
                paused: false,
                reason: reason.clone(),
            });
        }
        actions.push(Action::Remove {
            service: c.service.clone(),
            container: c.name.clone(),
            reason: reason.clone(),
        });
    }
    actions
}

/// A supervisor's restart of `svc`: the troubled container (by id, so a container someone else put under the
/// name meanwhile is left alone) stopped with the service's grace and removed, and a new one created from the
/// same configuration (`hash`, `context_hash` of the old one), not started: it starts after the backoff.
pub fn plan_restart(
    spec: &Spec,
    svc: &Service,
    old_id: &str,
    paused: bool,
    hash: &str,
    context_hash: Option<&str>,
    mark: RestartMark,
) -> Vec<Action> {
    let reason = Reason::Restart(mark.n);
    let service = svc.name.clone();
    vec![
        Action::Stop {
            service: service.clone(),
            container: old_id.to_string(),
            grace: svc.stop_grace,
            paused,
            reason: reason.clone(),
        },
        Action::Remove {
            service: service.clone(),
            container: old_id.to_string(),
            reason: reason.clone(),
        },
        Action::Create {
            service,
            container: spec.container_name(&svc.name),
            hash: hash.to_string(),
            context_hash: context_hash.map(str::to_string),
            restart: Some(mark),
            reason,
        },
    ]
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
            return Err(spec.no_service(r));
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
