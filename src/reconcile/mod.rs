//! Reconciling the project with the spec: [`plan`] decides, as a pure function of the spec and what the engine
//! shows, what to create, recreate, start, stop, remove or keep and which init steps to run — each with its
//! reason; [`apply`] carries the actions out. Start-up, a spec reload, a rebuild, a supervisor's restart, the end
//! of `up` and `down` all go through both.

mod action;
mod apply;
#[cfg(test)]
mod apply_tests;
mod plan;
#[cfg(test)]
mod tests;

pub use action::{Action, Reason, RestartMark};
pub use apply::apply;
pub use plan::{
    Desired, Observed, Occasion, Seen, Teardown, config_hash, plan, plan_down, plan_restart,
    selection,
};

use crate::engine::Engine;
use crate::error::Result;
use crate::spec::Spec;

/// The project's containers as the engine lists them (by label), reduced for planning.
pub async fn observe(engine: &dyn Engine, spec: &Spec) -> Result<Vec<Seen>> {
    Ok(engine
        .project_containers(&spec.project)
        .await?
        .into_iter()
        .map(|c| Seen {
            running: c.is_running(),
            // A container made for a foreground run's forwarder (left by one that was killed) publishes no host
            // port: unless this process forwards the service too, it is not what the spec asks for.
            hash: if c.ports_forwarded && !spec.run.forwarded.contains_key(&c.service) {
                String::new()
            } else {
                c.config_hash
            },
            name: c.name,
            service: c.service,
            role: c.role,
        })
        .collect())
}
