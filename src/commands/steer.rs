//! `restart`, `stop`, `start` and `trigger SERVICE` from any terminal: through the control endpoint of the
//! project's foreground `up` when one runs (which carries them out under its lock and keeps them: a stopped
//! service stays stopped through saves), otherwise on the engine directly, saying so.

use crate::commands::logs::check_services;
use crate::error::{EXIT_OK, Error, Result};
use crate::output::printer::Printer;
use crate::run::control::{Request, ask};
use crate::spec::Spec;

/// Carries out `request` (a steering one) for the project of `spec`.
pub async fn steer(spec: &Spec, request: &Request, out: &Printer) -> Result<u8> {
    let service = request.service().unwrap_or_default().to_string();
    check_services(spec, std::slice::from_ref(&service))?;
    match ask(&spec.project, request).await? {
        Some(reply) if reply.ok => {
            out.block(&format!("{service}: {}", reply.message.unwrap_or_default()));
            Ok(EXIT_OK)
        }
        Some(reply) => Err(Error::Runtime(format!(
            "{service}: {}",
            reply.error.unwrap_or_default()
        ))),
        None => without_up(spec, request, &service, out).await,
    }
}

/// No foreground `up` runs: the engine does what it can, and the user is told that nothing keeps it so.
async fn without_up(spec: &Spec, request: &Request, service: &str, out: &Printer) -> Result<u8> {
    let none = format!("no foreground `up` of project {}", spec.project);
    if let Request::Trigger { .. } = request {
        // What a user who asks for a build expects: the build. `rebuild` is that build, from any terminal.
        out.block(&format!(
            "{none}: rebuilding here, as `{}` does",
            spec.command(&format!("rebuild {service}"))
        ));
        crate::commands::rebuild::rebuild_command(spec, service, false, out).await?;
        return Ok(EXIT_OK);
    }
    let engine = crate::engine::connect().await?;
    let container = spec.container_name(service);
    let Some(c) = engine.inspect_container(&container).await? else {
        return Err(Error::Runtime(format!(
            "{none}, and no container {container}: the project is not up (`{}` starts it)",
            spec.command("up")
        )));
    };
    let grace = spec.services[service].stop_grace;
    let done = match request {
        Request::Restart { .. } => {
            engine.restart_container(&container, grace).await?;
            "restarted in place by the engine (same container; under a foreground `up`, `restart` makes a new one)"
        }
        Request::Stop { .. } if !c.is_running() => "not running",
        Request::Stop { .. } => {
            engine.stop_container(&container, grace).await?;
            "stopped by the engine; nothing keeps it stopped: the next `up` starts it again"
        }
        Request::Start { .. } if c.is_running() => "runs already",
        Request::Start { .. } => {
            engine.start_container(&container).await?;
            "started by the engine"
        }
        Request::Snapshot | Request::Watch | Request::Trigger { .. } => "",
    };
    out.block(&format!("{service}: {none}: {container} {done}"));
    Ok(EXIT_OK)
}
