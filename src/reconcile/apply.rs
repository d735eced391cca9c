//! Carrying out a plan against the engine: each [`Action`] is one or two engine calls, announced through the
//! printer in the words its reason gives. Every caller (start-up, a spec reload, a rebuild, a supervisor's
//! restart, the end of `up`, `down`) goes through here.

use std::time::Instant;

use crate::container::container_body;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::labels;
use crate::output::event::{Init, Reconcile};
use crate::output::printer::Printer;
use crate::spec::Spec;
use crate::{init::kubo, init::oneshot};

use super::action::{Action, InitStep, Line, Reason};

/// What carrying out a plan made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Ids of the containers created, in order.
    pub created: Vec<String>,
}

fn say(printer: &Printer, line: Option<Line>) {
    match line {
        Some(Line::Event(name, event)) => printer.say(&name, event),
        Some(Line::Plain(text)) => printer.raw(&text),
        None => {}
    }
}

/// Carries out `actions` in order. The end of `up` goes on past a failed step (one container that cannot be
/// stopped must not leave the others behind), says each failure and returns the first; every other plan stops
/// at its first failure.
pub async fn apply(
    engine: &dyn Engine,
    spec: &Spec,
    actions: &[Action],
    printer: &Printer,
) -> Result<Applied> {
    let mut applied = Applied::default();
    let mut first_error = None;
    for a in actions {
        say(printer, a.announcement());
        match step(engine, spec, a, printer, &mut applied).await {
            Ok(()) => say(printer, a.done()),
            Err(e) if *a.reason() == Reason::Shutdown => {
                printer.say(a.service(), Reconcile::Failed(e.to_string()));
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(applied),
    }
}

/// Stops a container; one already gone is what was wanted.
async fn stop(
    engine: &dyn Engine,
    container: &str,
    grace: std::time::Duration,
    paused: bool,
) -> Result<()> {
    let gone = |r: crate::engine::R<()>| match r {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    };
    if paused {
        gone(engine.unpause_container(container).await)?;
    }
    gone(engine.stop_container(container, grace).await)?;
    Ok(())
}

async fn step(
    engine: &dyn Engine,
    spec: &Spec,
    action: &Action,
    printer: &Printer,
    applied: &mut Applied,
) -> Result<()> {
    match action {
        Action::Keep { .. } => {}
        Action::Recreate {
            container, grace, ..
        } => {
            // Looked at again: what was observed may be gone by now.
            if engine.inspect_container(container).await?.is_some() {
                engine.stop_container(container, *grace).await?;
                engine.remove_container(container).await?;
            }
        }
        Action::Stop {
            container,
            grace,
            paused,
            ..
        } => stop(engine, container, *grace, *paused).await?,
        Action::Remove { container, .. } => engine.remove_container(container).await?,
        Action::Start { container, .. } => engine.start_container(container).await?,
        Action::RunInit {
            service,
            step,
            image,
            ..
        } => {
            let svc = service_of(spec, service)?;
            match step {
                InitStep::Ownership => {
                    oneshot::fix_ownership(engine, spec, svc, image, printer).await?;
                }
                InitStep::Commands => {
                    let t = Instant::now();
                    oneshot::run_all(engine, spec, svc, image, printer).await?;
                    printer.say(service, Init::StepsDone(t.elapsed()));
                }
            }
        }
        Action::Create {
            service,
            container,
            hash,
            context_hash,
            restart,
            ..
        } => {
            let svc = service_of(spec, service)?;
            let mut body = container_body(spec, svc, hash, context_hash.as_deref());
            if let Some(m) = restart {
                body.labels
                    .insert(labels::RESTARTS.to_string(), m.n.to_string());
                body.labels.insert(
                    labels::NEXT_START.to_string(),
                    m.start_at_unix_ms.to_string(),
                );
            }
            let id = engine.create_container(container, body).await?;
            // A restart's container has the configuration kubo's repo was prepared for already.
            if restart.is_none()
                && let Some(k) = kubo::of(svc)
                && let Err(e) = kubo::prepare(engine, container, svc, k, printer).await
            {
                // Never leave a created container that was not prepared: the next start would skip the keys.
                let _ = engine.remove_container(container).await;
                return Err(e);
            }
            applied.created.push(id);
        }
    }
    Ok(())
}

fn service_of<'a>(spec: &'a Spec, service: &str) -> Result<&'a crate::spec::Service> {
    spec.services
        .get(service)
        .ok_or_else(|| Error::Runtime(format!("no service `{service}` in the spec")))
}
