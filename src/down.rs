//! `down`: remove the project's containers (reverse dependency order, graceful) and network, found by label.
//! Volumes only with `--volumes`. Nothing without our project label is touched.

use std::time::Duration;

use crate::engine::Engine;
use crate::error::Result;
use crate::labels;
use crate::spec::Spec;

/// Runs `down`.
pub async fn down(spec: &Spec, volumes: bool) -> Result<()> {
    let engine = Engine::connect().await?;
    let mut containers = engine.project_containers(&spec.project).await?;
    let order = spec.stop_order();
    // Services no longer in the spec stop first: nothing of ours depends on them any more.
    containers.sort_by_key(|c| {
        order
            .iter()
            .position(|o| *o == c.service)
            .map_or(0, |p| p + 1)
    });
    for c in &containers {
        let grace = spec
            .services
            .get(&c.service)
            .map_or(Duration::from_secs(10), |s| s.stop_grace);
        if c.is_running() {
            println!("stopping {}", c.name);
            engine.stop_container(&c.name, grace).await?;
        }
        engine.remove_container(&c.name).await?;
        println!("removed container {}", c.name);
    }
    let net = spec.network_name();
    if let Some(l) = engine.network_labels(&net).await?
        && l.get(labels::PROJECT) == Some(&spec.project)
    {
        engine.remove_network(&net).await?;
        println!("removed network {net}");
    }
    let kept = engine.project_volumes(&spec.project).await?;
    if volumes {
        for v in &kept {
            engine.remove_volume(v).await?;
            println!("removed volume {v}");
        }
    } else if !kept.is_empty() {
        println!(
            "kept volume(s) {} (down --volumes removes them)",
            kept.join(", ")
        );
    }
    if containers.is_empty() {
        println!("no containers of project {} were running", spec.project);
    }
    Ok(())
}
