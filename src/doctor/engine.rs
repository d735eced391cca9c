//! The engine check: whether the engine answers, and its Docker and API version.

use crate::engine::{Engine, engine_address};

use super::{Finding, Status};

pub(super) async fn engine_check() -> (Finding, Option<std::sync::Arc<dyn Engine>>) {
    let addr = engine_address();
    let engine = match crate::engine::connect().await {
        Ok(e) => e,
        Err(e) => {
            // The connect error carries its own hint; the fix line says it as commands.
            let why = e
                .message
                .split(" — is Docker running?")
                .next()
                .unwrap_or_default()
                .to_string();
            return (
                Finding::new(Status::Fail, "engine", format!("{addr}: unreachable: {why}"))
                    .fix("start Docker (sudo systemctl start docker)")
                    .fix("or point DOCKER_HOST at a running engine, e.g. DOCKER_HOST=unix:///run/user/$(id -u)/docker.sock for a rootless one"),
                None,
            );
        }
    };
    match engine.version().await {
        Ok((version, api)) => (
            Finding::new(
                Status::Ok,
                "engine",
                format!("{addr}: Docker {version}, API {api}"),
            ),
            Some(engine),
        ),
        Err(e) => (
            Finding::new(Status::Fail, "engine", format!("{addr}: {e}"))
                .fix("check the engine's own log (journalctl -u docker)"),
            None,
        ),
    }
}
