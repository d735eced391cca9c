//! Shutdown: the project's containers stopped in reverse dependency order and removed, then its network.

use crate::engine::{Engine, ErrorKind};
use crate::error::{Error, Result};
use crate::labels;
use crate::output::printer::Printer;
use crate::reconcile::{self, Teardown};
use crate::spec::Spec;

/// Stops (gracefully, reverse dependency order, each with its grace) and removes every container of the project;
/// one that cannot be stopped does not leave the others behind.
pub async fn remove_project_containers(
    engine: &dyn Engine,
    spec: &Spec,
    printer: &Printer,
    graceful: bool,
) -> Result<()> {
    let seen = reconcile::observe(engine, spec)
        .await
        .map_err(|e| left_as_they_are(e, spec))?;
    let how = if graceful {
        Teardown::Graceful
    } else {
        Teardown::Kill
    };
    reconcile::apply(
        engine,
        spec,
        &reconcile::plan_down(spec, &seen, how),
        printer,
    )
    .await
    .map_err(|e| left_as_they_are(e, spec))?;
    Ok(())
}

/// An engine that cannot be reached cannot remove anything: say what is left and how to clean it up.
fn left_as_they_are(e: Error, spec: &Spec) -> Error {
    match e {
        Error::Engine(ee) if ee.kind == ErrorKind::Unavailable => Error::Runtime(format!(
            "{ee}; the containers of project {} were left as they are: run `{}` once the engine is back",
            spec.project,
            spec.command("down")
        )),
        other => other,
    }
}

/// Removes the project network if it is ours.
pub async fn remove_network(engine: &dyn Engine, spec: &Spec) {
    let net = spec.network_name();
    if let Ok(Some(l)) = engine.network_labels(&net).await
        && l.get(labels::PROJECT) == Some(&spec.project)
    {
        let _ = engine.remove_network(&net).await;
    }
}

/// After a failed start-up: removes the network and volumes it made, once no container of the project is left
/// (a container a failed `up --detach` leaves for `logs` still uses them). What was there before stays.
pub async fn remove_made(
    engine: &dyn Engine,
    spec: &Spec,
    made: &crate::run::startup::Made,
    printer: &Printer,
) {
    let left = engine.project_containers(&spec.project).await;
    if !left.is_ok_and(|c| c.is_empty()) {
        return;
    }
    let mut removed = Vec::new();
    if let Some(net) = &made.network
        && engine.network_labels(net).await.is_ok_and(|l| l.is_some())
        && engine.remove_network(net).await.is_ok()
    {
        removed.push(format!("network {net}"));
    }
    for v in &made.volumes {
        if engine.remove_volume(v).await.is_ok() {
            removed.push(format!("volume {v}"));
        }
    }
    if !removed.is_empty() {
        let removed = crate::output::event::Life::RemovedMade(removed);
        printer.say(crate::output::printer::TOOL, removed);
    }
}
