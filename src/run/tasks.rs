//! What a foreground `up` runs besides itself: one cancellation tree and one task tracker. The root token is the
//! request to stop (the first Ctrl-C or SIGTERM); start-up, the log followers, the supervisors, the watch
//! workers and the memory watch each observe a child of it, and every task they spawn is tracked, so "all
//! stopped" is one wait.
//!
//! Changes to containers after start-up happen under one lock ([`Tasks::lock`]); the shutdown takes it before it
//! looks at what to remove, so a supervisor in the middle of a replacement finishes it and the shutdown sees the
//! container it made.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The cancellation tree and the task tracker of one foreground run.
#[derive(Clone)]
pub struct Tasks {
    /// The request to stop: cancelling it cancels every child below.
    pub root: CancellationToken,
    /// Start-up: its per-service tasks end when it is cancelled.
    pub startup: CancellationToken,
    /// Log followers: once cancelled they take no new container, and end when the current one's output does.
    pub followers: CancellationToken,
    /// Supervisors: they observe it outside the container lock only, so a replacement under way completes.
    pub supervisors: CancellationToken,
    /// Watch workers (rebuilds, live updates): cancelled anywhere, a build under way is dropped.
    pub workers: CancellationToken,
    /// Resource watches (the memory warning): they only look and print.
    pub monitors: CancellationToken,
    /// Every task the run spawns.
    pub tracker: TaskTracker,
    /// Held while containers are changed (rebuilds, reloads, restarts, the shutdown).
    pub lock: Arc<Mutex<()>>,
    /// The run's observable state and the steering commands it takes.
    pub control: crate::run::control::Handle,
    /// Old containers that swaps are stopping in the background.
    pub retiring: Retiring,
}

impl Tasks {
    /// The tasks of a run of `services` under `root`, keeping its state in `control`.
    pub fn for_run(
        root: &CancellationToken,
        control: &crate::run::control::Handle,
        services: &[String],
    ) -> Self {
        let control = control.clone();
        control.state.begin(services);
        Tasks {
            control,
            ..Self::new(root.clone())
        }
    }

    /// A tree under `root`.
    pub fn new(root: CancellationToken) -> Self {
        Tasks {
            control: crate::run::control::Handle::default(),
            startup: root.child_token(),
            followers: root.child_token(),
            supervisors: root.child_token(),
            workers: root.child_token(),
            monitors: root.child_token(),
            root,
            tracker: TaskTracker::new(),
            lock: Arc::new(Mutex::new(())),
            retiring: Retiring::default(),
        }
    }

    /// Spawns `task`, tracked, ending at its next await once `token` is cancelled.
    pub fn spawn_until<F>(&self, token: &CancellationToken, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = token.clone();
        self.tracker.spawn(async move {
            unless_cancelled(&token, task).await;
        });
    }

    /// Waits until nothing changes containers any more and returns the lock, to be held while the shutdown
    /// removes them: the watch workers end first (a build holding the lock is dropped), then the supervisors,
    /// which finish a replacement under way before they see their token, and the old containers of swaps finish
    /// their stop.
    pub async fn quiesce(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.workers.cancel();
        self.supervisors.cancel();
        self.monitors.cancel();
        // A swap's old container is stopped with its grace, as the shutdown would stop it.
        self.retiring.wait_all().await;
        Arc::clone(&self.lock).lock_owned().await
    }

    /// Ends the followers and waits for every tracked task.
    pub async fn finish(&self) {
        self.followers.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The old containers that swaps are stopping in the background, one slot per service: the stop holds its
/// service's slot, so the next change of the service's containers (the next swap) and the shutdown wait for it,
/// while the next build does not.
#[derive(Clone, Default)]
pub struct Retiring(Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl Retiring {
    fn slot(&self, service: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut slots = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(slots.entry(service.to_string()).or_default())
    }

    /// Waits until no old container of `service` is being stopped.
    pub async fn wait(&self, service: &str) {
        let slot = self.slot(service);
        let _done = slot.lock().await;
    }

    /// Waits until no old container of any service is being stopped.
    pub async fn wait_all(&self) {
        let slots: Vec<_> = {
            let slots = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slots.values().cloned().collect()
        };
        for slot in slots {
            let _done = slot.lock().await;
        }
    }

    /// Runs `stop` on `tracker`, holding `service`'s slot until it ends.
    pub async fn spawn<F>(&self, service: &str, tracker: &TaskTracker, stop: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let held = self.slot(service).lock_owned().await;
        tracker.spawn(async move {
            stop.await;
            drop(held);
        });
    }
}

/// Waits, with backoff, until the engine answers.
pub async fn engine_back(engine: &dyn crate::engine::Engine) {
    let mut delay = std::time::Duration::from_millis(100);
    while engine.version().await.is_err() {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(2));
    }
}

/// Runs `f` unless `token` is cancelled first; the token is looked at before `f` on every wake-up, so a task
/// woken by both (a lock that became free, a stop) stops rather than goes on (tokio-util's `run_until_cancelled`
/// polls the future first).
pub async fn unless_cancelled<F: Future>(token: &CancellationToken, f: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        () = token.cancelled() => None,
        v = f => Some(v),
    }
}
