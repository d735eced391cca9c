//! The project a broken spec belongs to, for `down`, `ps` and `logs`: its name read leniently from the file
//! (`spec::lenient`), else from the running containers whose `up` ran from this very file; its services from
//! the file's tables and the project's containers. A project stays possible to tear down mid-edit.

use std::path::Path;

use crate::engine::Engine;
use crate::error::Result;
use crate::labels;
use crate::labels::Role;
use crate::spec::Spec;
use crate::spec::lenient::{sketch, stand_in};

/// The project of the running containers whose `up` ran from `path` (the `dev.pinshare.spec-file` label).
async fn project_by_spec_file(engine: &dyn Engine, path: &Path) -> Result<Option<String>> {
    let Ok(abs) = std::path::absolute(path) else {
        return Ok(None);
    };
    let abs = abs.display().to_string();
    Ok(engine
        .running_containers()
        .await?
        .into_iter()
        .find(|c| c.labels.get(labels::SPEC_FILE) == Some(&abs))
        .and_then(|c| c.labels.get(labels::PROJECT).cloned()))
}

/// A stand-in spec for the project of the broken spec at `path`, or `None` when neither the file nor the engine
/// names one.
pub async fn for_broken_spec(path: &Path) -> Result<Option<Spec>> {
    let found = sketch(&std::fs::read_to_string(path).unwrap_or_default());
    let engine = crate::engine::connect().await?;
    let project = match found.project {
        Some(p) => p,
        None => match project_by_spec_file(&*engine, path).await? {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let mut services = found.services;
    for c in engine.project_containers(&project).await? {
        if c.role == Some(Role::Service) && !services.iter().any(|(n, _)| *n == c.service) {
            services.push((c.service, Vec::new()));
        }
    }
    Ok(stand_in(path, &project, &services).ok())
}
