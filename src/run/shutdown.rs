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
