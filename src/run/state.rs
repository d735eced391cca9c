//! The observable state of a foreground run: per service a typed [`Phase`], the build that serves, the restart
//! count, changes waiting for a `trigger` and the build history. The actors of the run (start-up, the watch
//! workers, the swap, the supervisors, the steering commands) write it where they print their events; readers
//! (the control endpoint and `ps`, the dashboard to come) take a [`Snapshot`] or follow [`RunState::changes`].
//!
//! Inside the run, times are [`Instant`]s; a snapshot turns them into durations counted from the moment it is
//! taken (`elapsed_ms`, `in_ms`), which mean the same thing in another process.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

/// Builds kept per service.
pub const HISTORY: usize = 20;
/// Lines of a failed build's output kept (its last ones).
pub const OUTPUT_TAIL: usize = 200;

/// Where a service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for these dependencies to be ready.
    Waiting {
        /// Not ready yet.
        deps: Vec<String>,
    },
    /// Its image is being built (or pulled), triggered by these paths (none: start-up or a command).
    Building {
        /// Since when.
        since: Instant,
        /// What triggered it.
        paths: Vec<PathBuf>,
    },
    /// Its container is starting and waits for its readiness probe.
    Starting {
        /// Since when.
        since: Instant,
    },
    /// Ready (or running, without a probe).
    Ready {
        /// Since when.
        since: Instant,
    },
    /// A new build's container is taking over from the old one.
    Swapping {
        /// Since when.
        since: Instant,
    },
    /// The supervisor restarts it at `at`.
    Restarting {
        /// Restart number.
        attempt: u32,
        /// When the new container starts.
        at: Instant,
    },
    /// Restarted again soon after its last restart: backing off.
    CrashLoop {
        /// Restart number.
        attempt: u32,
        /// When the next try starts.
        next_try_at: Instant,
    },
    /// Not running and not restarted, and why.
    Failed {
        /// Why.
        reason: String,
    },
    /// Stopped: by `pinshare-dev stop` (it stays stopped until `start`), or by the run.
    Stopped {
        /// By the user.
        by_user: bool,
    },
}

/// How a build ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum BuildResult {
    /// Still going.
    Running,
    /// Serves now.
    Served {
        /// The image id.
        image: String,
    },
    /// Same image and configuration: the container was kept.
    Unchanged,
    /// Failed; the old build kept serving.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// One build of a service.
#[derive(Debug, Clone)]
pub struct Build {
    /// Its number in the service's run (1 for the first).
    pub id: u64,
    /// What triggered it: the changed paths; none for start-up and commands.
    pub paths: Vec<PathBuf>,
    /// `up`, `save`, `trigger`.
    pub cause: &'static str,
    /// When it began (the first file event for a save).
    pub began: Instant,
    /// Each stage and how long it took, in order (detect, build, start, ready, swap).
    pub stages: Vec<(String, Duration)>,
    /// How it ended.
    pub result: BuildResult,
    /// A failed build's last [`OUTPUT_TAIL`] lines as printed (redacted); empty otherwise.
    pub output: Vec<String>,
}

/// One service's state.
#[derive(Debug, Clone)]
pub struct Service {
    /// Where it is.
    pub phase: Phase,
    /// The image id of the build that serves.
    pub build: Option<String>,
    /// Restarts by the run's supervisor.
    pub restarts: u32,
    /// Stopped by `pinshare-dev stop`: saves and spec edits leave it alone until `start`.
    pub held: bool,
    /// Saved paths not built yet (manual mode, or while stopped).
    pub pending: Vec<PathBuf>,
    /// The last builds, oldest first.
    pub history: VecDeque<Build>,
    /// Builds begun so far.
    pub builds: u64,
}

impl Service {
    fn new() -> Self {
        Service {
            phase: Phase::Waiting { deps: Vec::new() },
            build: None,
            restarts: 0,
            held: false,
            pending: Vec::new(),
            history: VecDeque::new(),
            builds: 0,
        }
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct State {
    /// The project.
    pub project: String,
    /// When the run began.
    pub began: Instant,
    /// Start-up is over: steering commands are taken.
    pub steerable: bool,
    /// `up --manual`: saves wait for `trigger`.
    pub manual: bool,
    /// Why the last save of the spec was not applied (`FILE:LINE:COL: message` and the source line, as the run
    /// printed it); cleared by the next save that loads.
    pub spec_error: Option<String>,
    /// Per service, in the spec's order of names.
    pub services: BTreeMap<String, Service>,
}

/// The shared, observable state: cheap to clone, written through its methods, read by snapshot or stream.
#[derive(Clone)]
pub struct RunState {
    tx: Arc<watch::Sender<State>>,
    phases: broadcast::Sender<Transition>,
}

/// A service entering a phase (the stream of [`RunState::transitions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The service.
    pub service: String,
    /// Its new phase, seen as it was entered.
    pub phase: PhaseView,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunState")
    }
}

impl Default for RunState {
    fn default() -> Self {
        Self::new("", &[], false)
    }
}

impl RunState {
    /// The state of a run of `project` starting `services`, each waiting for nothing yet.
    pub fn new(project: &str, services: &[String], manual: bool) -> Self {
        let now = Instant::now();
        let services = services
            .iter()
            .map(|s| (s.clone(), Service::new()))
            .collect();
        let state = State {
            project: project.to_string(),
            began: now,
            steerable: false,
            manual,
            spec_error: None,
            services,
        };
        RunState {
            tx: Arc::new(watch::channel(state).0),
            phases: broadcast::channel(256).0,
        }
    }

    /// The run begins, starting `services`.
    pub fn begin(&self, services: &[String]) {
        self.tx.send_modify(|s| {
            s.began = Instant::now();
            for name in services {
                s.services.entry(name.clone()).or_insert_with(Service::new);
            }
        });
    }

    /// Every change, as it happens (the receiver sees the newest state).
    pub fn changes(&self) -> watch::Receiver<State> {
        self.tx.subscribe()
    }

    /// Every phase each service enters, in order (a watch of the state may skip the short ones): for the
    /// dashboard's event list to come, and the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn transitions(&self) -> broadcast::Receiver<Transition> {
        self.phases.subscribe()
    }

    /// The state now, as another process reads it.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.tx.borrow(), Instant::now())
    }

    /// Changes `service`'s state (added if the run did not know it: a spec edit added it).
    fn with(&self, service: &str, f: impl FnOnce(&mut Service)) {
        let mut entered = None;
        self.tx.send_modify(|s| {
            let svc = s
                .services
                .entry(service.to_string())
                .or_insert_with(Service::new);
            let before = svc.phase.clone();
            f(svc);
            if svc.phase != before {
                entered = Some(PhaseView::of(&svc.phase, Instant::now()));
            }
        });
        if let Some(phase) = entered {
            let service = service.to_string();
            let _ = self.phases.send(Transition { service, phase });
        }
    }

    /// Sets `service`'s phase.
    pub fn set(&self, service: &str, phase: Phase) {
        self.with(service, |s| s.phase = phase);
    }

    /// The service is ready; `build` is the image that serves, when known.
    pub fn ready(&self, service: &str, build: Option<&str>) {
        self.with(service, |s| {
            s.phase = Phase::Ready {
                since: Instant::now(),
            };
            if let Some(b) = build {
                s.build = Some(b.to_string());
            }
        });
    }

    /// Start-up is over: steering commands are taken from now on.
    pub fn steerable(&self) {
        self.tx.send_modify(|s| s.steerable = true);
    }

    /// The last save of the spec did not load, for this reason (redacted as printed), or did (`None`).
    pub fn spec_error(&self, error: Option<String>) {
        self.tx.send_if_modified(|s| {
            let changed = s.spec_error != error;
            s.spec_error = error;
            changed
        });
    }

    /// Whether the run is manual (`up --manual`).
    pub fn manual(&self) -> bool {
        self.tx.borrow().manual
    }

    /// Whether `service` was stopped by the user.
    pub fn held(&self, service: &str) -> bool {
        self.tx
            .borrow()
            .services
            .get(service)
            .is_some_and(|s| s.held)
    }

    /// Holds (`pinshare-dev stop`) or releases (`start`) `service`.
    pub fn hold(&self, service: &str, held: bool) {
        self.with(service, |s| {
            s.held = held;
            if held {
                s.phase = Phase::Stopped { by_user: true };
            }
        });
    }

    /// A save of `paths` for `service`: true when it is to wait (the run is manual, or the service stopped by
    /// the user), the paths then noted as pending.
    pub fn defer(&self, service: &str, paths: &[PathBuf]) -> bool {
        let manual = self.manual();
        let mut deferred = false;
        self.with(service, |s| {
            if manual || s.held {
                deferred = true;
                for p in paths {
                    if !s.pending.contains(p) {
                        s.pending.push(p.clone());
                    }
                }
            }
        });
        deferred
    }

    /// Takes the pending paths of `service` (a build of them begins).
    pub fn take_pending(&self, service: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        self.with(service, |s| out = std::mem::take(&mut s.pending));
        out
    }

    /// The supervisor restarts `service` (restart `attempt`) at `at`; a second restart in a row is a crash loop.
    pub fn restarting(&self, service: &str, attempt: u32, at: Instant) {
        self.with(service, |s| {
            s.restarts = s.restarts.max(attempt);
            s.phase = if attempt >= 2 && at > Instant::now() {
                Phase::CrashLoop {
                    attempt,
                    next_try_at: at,
                }
            } else {
                Phase::Restarting { attempt, at }
            };
        });
    }

    /// A build of `service` begins.
    pub fn build_began(
        &self,
        service: &str,
        cause: &'static str,
        paths: &[PathBuf],
        began: Instant,
    ) {
        self.with(service, |s| {
            s.phase = Phase::Building {
                since: began,
                paths: paths.to_vec(),
            };
            s.builds += 1;
            s.history.push_back(Build {
                id: s.builds,
                output: Vec::new(),
                paths: paths.to_vec(),
                cause,
                began,
                stages: Vec::new(),
                result: BuildResult::Running,
            });
            while s.history.len() > HISTORY {
                s.history.pop_front();
            }
        });
    }

    /// The output of `service`'s last build (a failed one's, before [`RunState::build_ended`]): its last
    /// [`OUTPUT_TAIL`] lines are kept.
    pub fn build_output(&self, service: &str, mut lines: Vec<String>) {
        lines.drain(..lines.len().saturating_sub(OUTPUT_TAIL));
        self.with(service, |s| {
            if let Some(b) = s.history.back_mut() {
                b.output = lines;
            }
        });
    }

    /// The output kept of build `id` of `service`, if that build is still in its history.
    pub fn output_of(&self, service: &str, id: u64) -> Option<Vec<String>> {
        let state = self.tx.borrow();
        let build = state
            .services
            .get(service)?
            .history
            .iter()
            .find(|b| b.id == id)?;
        Some(build.output.clone())
    }

    /// The last build of `service` ended with `result` after `stages`; the service is ready again (a failed
    /// build leaves the old one serving) unless the build left it otherwise.
    pub fn build_ended(&self, service: &str, stages: &[(&str, Duration)], result: BuildResult) {
        self.build_ended_at(service, None, stages, result);
    }

    /// When the last build of `service` began: what names it for [`RunState::build_ended_at`].
    pub fn last_began(&self, service: &str) -> Option<Instant> {
        let state = self.tx.borrow();
        state.services.get(service)?.history.back().map(|b| b.began)
    }

    /// The build of `service` that began at `began` (the last one: `None`) ended. A swap's build ends once its old
    /// container has stopped, and the next build may have begun meanwhile: that one's phase is left as it is.
    pub fn build_ended_at(
        &self,
        service: &str,
        began: Option<Instant>,
        stages: &[(&str, Duration)],
        result: BuildResult,
    ) {
        self.with(service, |s| {
            if let BuildResult::Served { image } = &result {
                s.build = Some(image.clone());
            }
            let last = s.history.back().map(|b| b.began);
            let which = began.or(last);
            if let Some(b) = s.history.iter_mut().rev().find(|b| Some(b.began) == which) {
                b.stages = stages.iter().map(|(n, d)| ((*n).to_string(), *d)).collect();
                b.result = result;
            }
            if which == last
                && matches!(
                    s.phase,
                    Phase::Building { .. } | Phase::Starting { .. } | Phase::Swapping { .. }
                )
            {
                s.phase = Phase::Ready {
                    since: Instant::now(),
                };
            }
        });
    }
}

/// What a snapshot says of a phase: its name and, where it has them, its times counted from the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum PhaseView {
    /// Waiting for dependencies.
    Waiting {
        /// Those not ready.
        deps: Vec<String>,
    },
    /// Building.
    Building {
        /// For how long.
        elapsed_ms: u64,
        /// What triggered it.
        paths: Vec<PathBuf>,
    },
    /// Starting.
    Starting {
        /// For how long.
        elapsed_ms: u64,
    },
    /// Ready.
    Ready {
        /// For how long.
        elapsed_ms: u64,
    },
    /// Swapping.
    Swapping {
        /// For how long.
        elapsed_ms: u64,
    },
    /// Restarting.
    Restarting {
        /// Restart number.
        attempt: u32,
        /// Starts in.
        in_ms: u64,
    },
    /// Crash loop.
    CrashLoop {
        /// Restart number.
        attempt: u32,
        /// Next try in.
        in_ms: u64,
    },
    /// Failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// Stopped.
    Stopped {
        /// By `pinshare-dev stop`.
        by_user: bool,
    },
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl PhaseView {
    /// `phase` as seen at `now`.
    pub fn of(phase: &Phase, now: Instant) -> Self {
        let ago = |t: &Instant| ms(now.saturating_duration_since(*t));
        let until = |t: &Instant| ms(t.saturating_duration_since(now));
        match phase {
            Phase::Waiting { deps } => PhaseView::Waiting { deps: deps.clone() },
            Phase::Building { since, paths } => PhaseView::Building {
                elapsed_ms: ago(since),
                paths: paths.clone(),
            },
            Phase::Starting { since } => PhaseView::Starting {
                elapsed_ms: ago(since),
            },
            Phase::Ready { since } => PhaseView::Ready {
                elapsed_ms: ago(since),
            },
            Phase::Swapping { since } => PhaseView::Swapping {
                elapsed_ms: ago(since),
            },
            Phase::Restarting { attempt, at } => PhaseView::Restarting {
                attempt: *attempt,
                in_ms: until(at),
            },
            Phase::CrashLoop {
                attempt,
                next_try_at,
            } => PhaseView::CrashLoop {
                attempt: *attempt,
                in_ms: until(next_try_at),
            },
            Phase::Failed { reason } => PhaseView::Failed {
                reason: reason.clone(),
            },
            Phase::Stopped { by_user } => PhaseView::Stopped { by_user: *by_user },
        }
    }

    /// As `ps` shows it: `building 12 s`, `swapping`, `crash-loop, next try in 4 s`, `stopped`.
    pub fn text(&self) -> String {
        let s = |ms: u64| ms / 1000;
        let up = |ms: u64| ms.div_ceil(1000);
        match self {
            PhaseView::Waiting { deps } if deps.is_empty() => "waiting".into(),
            PhaseView::Waiting { deps } => format!("waiting for {}", deps.join(", ")),
            PhaseView::Building { elapsed_ms, .. } => format!("building {} s", s(*elapsed_ms)),
            PhaseView::Starting { elapsed_ms } => format!("starting {} s", s(*elapsed_ms)),
            PhaseView::Ready { elapsed_ms } => format!("ready {} s", s(*elapsed_ms)),
            PhaseView::Swapping { .. } => "swapping".into(),
            PhaseView::Restarting { in_ms, .. } => format!("restarting in {} s", up(*in_ms)),
            PhaseView::CrashLoop { in_ms, .. } => {
                format!("crash-loop, next try in {} s", up(*in_ms))
            }
            PhaseView::Failed { reason } => format!("failed: {reason}"),
            PhaseView::Stopped { by_user: true } => "stopped".into(),
            PhaseView::Stopped { by_user: false } => "stopped by the run".into(),
        }
    }
}

/// One build, as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildView {
    /// Its number in the service's run.
    #[serde(default)]
    pub id: u64,
    /// Lines of output kept (a failed build's; the dashboard fetches them apart, to keep snapshots small).
    #[serde(default)]
    pub output_lines: usize,
    /// `up`, `save` or `trigger`.
    pub cause: String,
    /// The paths that triggered it.
    pub paths: Vec<PathBuf>,
    /// How long ago it began.
    pub began_ms_ago: u64,
    /// Each stage's name and duration in ms, in order.
    pub stages: Vec<(String, u64)>,
    /// How it ended.
    #[serde(flatten)]
    pub result: BuildResult,
}

/// One service, as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Where it is.
    #[serde(flatten)]
    pub phase: PhaseView,
    /// The image id of the build that serves.
    pub build: Option<String>,
    /// Restarts by the run's supervisor.
    pub restarts: u32,
    /// Saved paths waiting for `trigger`.
    pub pending: Vec<PathBuf>,
    /// The last builds, oldest first.
    pub history: Vec<BuildView>,
}

/// The run's state at one moment, serializable: what the control endpoint's `snapshot` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The project.
    pub project: String,
    /// The pid of the `up`.
    pub pid: u32,
    /// How long the run has been going.
    pub uptime_ms: u64,
    /// `up --manual`.
    pub manual: bool,
    /// Steering commands are taken (start-up is over).
    pub steerable: bool,
    /// Why the last save of the spec was not applied, while it is not fixed.
    #[serde(default)]
    pub spec_error: Option<String>,
    /// Per service.
    pub services: BTreeMap<String, ServiceView>,
}

impl Snapshot {
    /// `state` as seen at `now`.
    pub fn of(state: &State, now: Instant) -> Self {
        let services = state
            .services
            .iter()
            .map(|(name, s)| {
                let history = s
                    .history
                    .iter()
                    .map(|b| BuildView {
                        id: b.id,
                        output_lines: b.output.len(),
                        cause: b.cause.to_string(),
                        paths: b.paths.clone(),
                        began_ms_ago: ms(now.saturating_duration_since(b.began)),
                        stages: b.stages.iter().map(|(n, d)| (n.clone(), ms(*d))).collect(),
                        result: b.result.clone(),
                    })
                    .collect();
                let view = ServiceView {
                    phase: PhaseView::of(&s.phase, now),
                    build: s.build.clone(),
                    restarts: s.restarts,
                    pending: s.pending.clone(),
                    history,
                };
                (name.clone(), view)
            })
            .collect();
        Snapshot {
            project: state.project.clone(),
            pid: std::process::id(),
            uptime_ms: ms(now.saturating_duration_since(state.began)),
            manual: state.manual,
            steerable: state.steerable,
            spec_error: state.spec_error.clone(),
            services,
        }
    }
}
