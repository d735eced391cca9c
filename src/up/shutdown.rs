//! Shutdown: the project's containers stopped in reverse dependency order and removed, then its network.

use std::time::Duration;

use crate::engine::Engine;
use crate::error::Result;
use crate::labels;
use crate::printer::Printer;
use crate::spec::Spec;

/// Stops (gracefully, reverse dependency order) and removes every container of the project.
pub async fn remove_project_containers(
    engine: &dyn Engine,
    spec: &Spec,
    printer: &Printer,
    graceful: bool,
) -> Result<()> {
    let mut all = engine.project_containers(&spec.project).await?;
    let order = spec.stop_order();
    // Containers of services no longer in the spec stop first: nothing of ours depends on them.
    all.sort_by_key(|c| {
        order
            .iter()
            .position(|o| *o == c.service)
            .map_or(0, |p| p + 1)
    });
    // One container that cannot be stopped must not leave the others behind: go on, report the first error.
    let mut first_error = None;
    for c in &all {
        if graceful && c.is_running() {
            let grace = spec
                .services
                .get(&c.service)
                .map_or(Duration::from_secs(10), |s| s.stop_grace);
            printer.event(&c.service, &format!("stopping {}", c.name));
            if let Err(e) = engine.stop_container(&c.name, grace).await {
                printer.event(&c.service, &e.to_string());
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = engine.remove_container(&c.name).await {
            printer.event(&c.service, &e.to_string());
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
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
