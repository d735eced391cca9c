//! Shutdown: the project's containers stopped in reverse dependency order and removed, then its network.

use crate::engine::Engine;
use crate::error::Result;
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
    let seen = reconcile::observe(engine, spec).await?;
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
    .await?;
    Ok(())
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
