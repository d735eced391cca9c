//! Reconciling one service against the engine: what containers the project has, and replacing a service's
//! container (init steps and kubo's repo first). Every caller (start-up, rebuild, the dev loop) goes through here.

use std::time::Instant;

use crate::container::container_body;
use crate::engine::Engine;
use crate::error::Result;
use crate::image::Resolved;
use crate::plan::Observed;
use crate::printer::Printer;
use crate::spec::{InitAction, Service, Spec};
use crate::{init_step, kubo_prep};

/// The observed containers of the project, reduced for planning.
pub async fn observe(engine: &dyn Engine, spec: &Spec) -> Result<Vec<Observed>> {
    Ok(engine
        .project_containers(&spec.project)
        .await?
        .into_iter()
        .map(|c| Observed {
            name: c.name.clone(),
            service: c.service.clone(),
            role: c.role,
            hash: c.config_hash.clone(),
            running: c.is_running(),
        })
        .collect())
}

/// Stops and removes the service's current container (if any), runs its init steps, creates and starts the
/// new one. Returns when it is started (not yet ready).
pub async fn replace_container(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    image: &Resolved,
    hash: &str,
    printer: &Printer,
) -> Result<()> {
    let container = spec.container_name(&svc.name);
    if engine.inspect_container(&container).await?.is_some() {
        engine.stop_container(&container, svc.stop_grace).await?;
        engine.remove_container(&container).await?;
    }
    let kubo = kubo_prep::of(svc);
    // kubo's repo: the image's entrypoint chowns an unwritable one, `kubo_prep` the rest, on this container.
    if svc.fix_ownership && kubo.is_none() {
        init_step::fix_ownership(engine, spec, svc, &image.id, printer).await?;
    }
    if svc
        .init
        .iter()
        .any(|s| matches!(s.action, InitAction::Command(_)))
    {
        let t = Instant::now();
        init_step::run_all(engine, spec, svc, &image.id, printer).await?;
        printer.event(
            &svc.name,
            &format!("init steps done in {} ms", t.elapsed().as_millis()),
        );
    }
    engine
        .create_container(
            &container,
            container_body(spec, svc, hash, image.context_hash.as_deref()),
        )
        .await?;
    if let Some(k) = kubo
        && let Err(e) = kubo_prep::prepare(engine, &container, svc, k, printer).await
    {
        // Never leave a created container that was not prepared: the next start would skip the keys.
        let _ = engine.remove_container(&container).await;
        return Err(e);
    }
    engine.start_container(&container).await?;
    printer.event(&svc.name, &format!("started {container}"));
    Ok(())
}
