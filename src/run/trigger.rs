//! A build on demand, as a save makes it: a live update where the spec says how, otherwise a rebuild and swap,
//! written into the run's state. The watch workers (a save) and `trigger` (`run::steer`) call it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::engine::Engine;
use crate::output::event::Build;
use crate::output::printer::Printer;
use crate::run::rebuild::{self, Rebuilt};
use crate::run::state::BuildResult;
use crate::spec::{ImageSource, Spec};

/// What starts a build: the changed paths (none for a command), the time from the first file event to now,
/// and why (`save`, `trigger`).
pub(crate) struct Trigger {
    /// The paths.
    pub paths: BTreeSet<PathBuf>,
    /// Time to detect the change.
    pub detect: Duration,
    /// Why.
    pub cause: &'static str,
}

/// Builds `service` now, as a save does: a live update where the spec says how (not for a command with no
/// paths), otherwise a rebuild and swap; the build goes into the run's state with its stages and result. False when
/// it failed (the failure was printed).
pub(crate) async fn build_now(
    engine: &dyn Engine,
    spec: &Spec,
    service: &str,
    t: Trigger,
    printer: &Printer,
    fg: &crate::run::swap::Foreground,
) -> bool {
    let Some(svc) = spec.services.get(service) else {
        return true;
    };
    if let Some(lu) = svc.live_update.as_ref().filter(|_| !t.paths.is_empty()) {
        match rebuild::live_update(engine, spec, svc, lu, &t.paths, printer, t.detect).await {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) => {
                printer.say(service, Build::LiveUpdateFailed(e.to_string()));
                return false;
            }
        }
    }
    if !matches!(svc.image, ImageSource::Build(_)) {
        return true;
    }
    let paths: Vec<PathBuf> = t.paths.iter().cloned().collect();
    let now = std::time::Instant::now();
    let began = now.checked_sub(t.detect).unwrap_or(now);
    fg.state.build_began(service, t.cause, &paths, began.into());
    let tail = crate::run::output_tail::follow(printer, service);
    let r = rebuild::rebuild(engine, spec, service, printer, t.detect, Some(fg), false).await;
    let output = tail.finish().await;
    let result = match r {
        Ok(Rebuilt::Served { image, stages }) => {
            fg.state
                .build_ended(service, &stages, BuildResult::Served { image });
            return true;
        }
        // The swap's end writes the build into the state.
        Ok(Rebuilt::Retiring) => return true,
        Ok(Rebuilt::Unchanged) => BuildResult::Unchanged,
        Err(e) => {
            // A failed build said so already, with what it left serving.
            if !matches!(e, crate::error::Error::Build { .. }) {
                printer.say(service, Build::RebuildFailed(e.to_string()));
            }
            fg.state.build_output(service, output);
            BuildResult::Failed {
                error: e.to_string(),
            }
        }
    };
    let done = !matches!(result, BuildResult::Failed { .. });
    fg.state
        .build_ended(service, &[("detect", t.detect)], result);
    done
}
