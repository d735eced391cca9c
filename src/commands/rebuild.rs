//! `pinshare-dev rebuild SERVICE` from any terminal: the same rebuild the dev loop runs on a save.

use std::time::Duration;

use crate::commands::logs::check_services;
use crate::error::{Error, Result};
use crate::output::printer::Printer;
use crate::run::rebuild::{not_up, rebuild};
use crate::spec::Spec;

/// Rebuilds `service` of a project that is up (`force`: swaps its container even when nothing changed), printing
/// through a printer made from `out`. Refuses before building when the project is not up.
pub async fn rebuild_command(spec: &Spec, service: &str, force: bool, out: &Printer) -> Result<()> {
    check_services(spec, &[service.to_string()])?;
    let engine = crate::engine::connect().await?;
    if let Some(why) = not_up(&*engine, spec).await? {
        return Err(Error::Runtime(format!("{why}; nothing was built")));
    }
    let printer = out.spawn(spec.services.keys().map(String::as_str));
    let r = rebuild(
        &*engine,
        spec,
        service,
        &printer,
        Duration::ZERO,
        None,
        force,
    )
    .await;
    printer.flush().await;
    r.map(|_| ())
}
