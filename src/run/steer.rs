//! The steering commands of a foreground run (`restart`, `stop`, `start`, `trigger`), carried out under the
//! run's container lock like its own rebuilds and restarts, and written into its state. The control endpoint
//! ([`crate::run::control`]) hands them here once start-up is over.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::labels;
use crate::output::event::Steer;
use crate::output::printer::Printer;
use crate::probe::ready;
use crate::reconcile::{self, Action, Reason, RestartMark};
use crate::run::control::{Request, Steering};
use crate::run::state::{BuildResult, Phase};
use crate::run::supervise::SharedSpec;
use crate::run::swap::Foreground;
use crate::run::tasks::Tasks;
use crate::run::trigger::{Trigger, build_now};
use crate::spec::{ImageSource, Service, Spec};

type Steered = std::result::Result<String, String>;

/// What steering needs from the run.
pub struct Steerer {
    engine: Arc<dyn Engine>,
    spec: SharedSpec,
    printer: Printer,
    tasks: Tasks,
    fg: Foreground,
}

impl std::fmt::Debug for Steerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Steerer")
    }
}

impl Steerer {
    /// Steering of a run on `engine` whose spec in force is `spec`.
    pub(crate) fn new(
        engine: &Arc<dyn Engine>,
        spec: &SharedSpec,
        printer: &Printer,
        tasks: &Tasks,
        fg: Foreground,
    ) -> Self {
        Steerer {
            engine: Arc::clone(engine),
            spec: Arc::clone(spec),
            printer: printer.clone(),
            tasks: tasks.clone(),
            fg,
        }
    }

    fn state(&self) -> &crate::run::state::RunState {
        &self.tasks.control.state
    }
}

#[async_trait::async_trait]
impl Steering for Steerer {
    async fn apply(&self, request: &Request) -> Steered {
        let spec = self
            .spec
            .read()
            .map(|g| Arc::clone(&g))
            .map_err(|_| "the run's spec is unreadable".to_string())?;
        let name = request.service().unwrap_or_default();
        let svc = spec
            .services
            .get(name)
            .ok_or_else(|| spec.no_service(name))?;
        let stopping = || "the run is stopping".to_string();
        let _guard = tokio::select! {
            g = self.tasks.lock.lock() => g,
            () = self.tasks.root.cancelled() => return Err(stopping()),
        };
        if self.tasks.root.is_cancelled() {
            return Err(stopping());
        }
        match request {
            Request::Snapshot | Request::Watch => Ok(String::new()),
            Request::Restart { .. } => self.restart(&spec, svc).await,
            Request::Stop { .. } => self.stop(&spec, svc).await,
            Request::Start { .. } => self.start(&spec, svc).await,
            Request::Trigger { .. } => self.trigger(&spec, svc).await,
        }
    }
}

impl Steerer {
    /// A new container with the same image and configuration; the supervisor follows it.
    async fn restart(&self, spec: &Spec, svc: &Service) -> Steered {
        let name = &svc.name;
        if self.state().held(name) {
            return Err(stopped_by_stop(spec, name));
        }
        let container = spec.container_name(name);
        let old = self.look(&container).await?;
        let hash = old.config_hash().unwrap_or_default().to_string();
        let mark = RestartMark {
            n: labels::restarts_of(&old.labels),
            start_at_unix_ms: 0,
        };
        let ctx = old.label(labels::CONTEXT_HASH);
        let mut actions =
            reconcile::plan_restart(spec, svc, &old.id, old.is_paused(), &hash, ctx, mark);
        self.printer.say(name, Steer::Restarting);
        let applied = reconcile::apply(&*self.engine, spec, &actions, &self.printer)
            .await
            .map_err(|e| format!("restart failed: {e}"))?;
        let id = applied.created.last().cloned().unwrap_or(container);
        actions = vec![Action::Start {
            service: name.clone(),
            container: id.clone(),
            reason: Reason::Restart(mark.n),
        }];
        reconcile::apply(&*self.engine, spec, &actions, &self.printer)
            .await
            .map_err(|e| format!("restart failed: {e}"))?;
        let text = self.until_ready(spec, svc, "restarted on request").await?;
        Ok(format!("{text} (container {})", short(&id)))
    }

    /// Stops the container, holding it stopped; the services that depend on it are told.
    async fn stop(&self, spec: &Spec, svc: &Service) -> Steered {
        let name = &svc.name;
        let container = spec.container_name(name);
        let c = self.look(&container).await?;
        self.state().hold(name, true);
        if c.is_running() {
            self.engine
                .stop_container(&container, svc.stop_grace)
                .await
                .map_err(|e| format!("stopping {container} failed: {e}"))?;
        }
        let event = Steer::Stopped {
            start: spec.command(&format!("start {name}")),
        };
        let text = event.to_string();
        self.printer.say(name, event);
        for other in spec
            .order
            .iter()
            .filter(|o| spec.services[*o].depends_on.contains(name))
        {
            self.printer
                .say(other, Steer::DependencyStopped(name.to_string()));
        }
        Ok(text)
    }

    /// Starts a container `stop` stopped, then builds what was saved meanwhile (unless the run is manual).
    async fn start(&self, spec: &Spec, svc: &Service) -> Steered {
        let name = &svc.name;
        let container = spec.container_name(name);
        let c = self.look(&container).await?;
        self.state().hold(name, false);
        if c.is_running() {
            self.state().ready(name, None);
            return Ok(format!("{name} runs already"));
        }
        self.engine
            .start_container(&container)
            .await
            .map_err(|e| format!("starting {container} failed: {e}"))?;
        let mut text = self.until_ready(spec, svc, "started on request").await?;
        let snap = self.state().snapshot();
        if !self.state().manual()
            && snap
                .services
                .get(name)
                .is_some_and(|s| !s.pending.is_empty())
        {
            text.push_str("; ");
            text.push_str(&self.trigger(spec, svc).await?);
        }
        Ok(text)
    }

    /// Builds now, as a save would, what is pending (nothing pending: a rebuild all the same).
    async fn trigger(&self, spec: &Spec, svc: &Service) -> Steered {
        let name = &svc.name;
        if self.state().held(name) {
            return Err(stopped_by_stop(spec, name));
        }
        if !matches!(svc.image, ImageSource::Build(_)) {
            return Err(format!(
                "service `{name}` runs image {} and has no `build`: nothing to trigger",
                svc.image.reference()
            ));
        }
        let paths: BTreeSet<_> = self.state().take_pending(name).into_iter().collect();
        let t = Trigger {
            paths,
            detect: Duration::ZERO,
            cause: "trigger",
        };
        self.printer.say(name, Steer::Triggered);
        build_now(&*self.engine, spec, name, t, &self.printer, &self.fg).await;
        // A swap's build ends once its old container is gone.
        self.fg.retiring.wait(name).await;
        let snap = self.state().snapshot();
        let last = snap.services.get(name).and_then(|s| s.history.last());
        match last.map(|b| &b.result) {
            Some(BuildResult::Served { image }) => Ok(format!("built; {} serves", short(image))),
            Some(BuildResult::Unchanged) => Ok("built; image unchanged, container kept".into()),
            Some(BuildResult::Failed { error }) => Err(format!("build failed: {error}")),
            _ => Ok("done".into()),
        }
    }

    async fn look(&self, container: &str) -> std::result::Result<crate::engine::Container, String> {
        match self.engine.inspect_container(container).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(format!("there is no container {container}")),
            Err(e) => Err(format!("looking at {container}: {e}")),
        }
    }

    /// Waits for readiness and says `done` with the time it took.
    async fn until_ready(&self, spec: &Spec, svc: &Service, done: &'static str) -> Steered {
        let t = Instant::now();
        self.state()
            .set(&svc.name, Phase::Starting { since: t.into() });
        ready::wait_ready(&*self.engine, spec, svc)
            .await
            .map_err(|e| format!("{done}, but: {e}"))?;
        self.state().ready(&svc.name, None);
        let event = Steer::ReadyAfter {
            done,
            after: t.elapsed(),
        };
        let text = event.to_string();
        self.printer.say(&svc.name, event);
        Ok(text)
    }
}

fn stopped_by_stop(spec: &Spec, name: &str) -> String {
    format!(
        "{name} was stopped by `stop`; `{}` starts it",
        spec.command(&format!("start {name}"))
    )
}

fn short(id: &str) -> &str {
    let s = id.trim_start_matches("sha256:");
    &s[..s.len().min(12)]
}
