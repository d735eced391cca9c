//! The fake's scripting side: what a test tells it (images, failures, latency, how each container behaves, exec
//! results, log lines, exits) and what it reads back (the recorded calls, the containers as created), plus the
//! bookkeeping every operation shares.

use super::*;

impl Fake {
    /// An empty engine.
    pub fn new() -> Self {
        Fake(Arc::new(Inner {
            world: Mutex::new(World::default()),
            events: broadcast::channel(1024).0,
            changed: watch::channel(0).0,
            lost: watch::channel(false).0,
            epoch: (std::time::SystemTime::now(), tokio::time::Instant::now()),
        }))
    }

    pub(super) fn world(&self) -> MutexGuard<'_, World> {
        self.0
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Unix seconds on the virtual clock.
    pub(super) fn now_unix(&self) -> i64 {
        let (wall, start) = self.0.epoch;
        let t = wall + start.elapsed();
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    // ---- scripting ----

    /// A local image under `reference`, with its id.
    pub fn add_image(&self, reference: &str, id: &str) {
        self.world().images.insert(
            reference.to_string(),
            ImageInfo {
                id: id.to_string(),
                ..ImageInfo::default()
            },
        );
    }

    /// Every service of `spec` as `up` leaves it: its image present, its container created and started.
    pub async fn start_spec(&self, spec: &crate::spec::Spec) {
        for s in &spec.order {
            let name = spec.container_name(s);
            self.add_image(spec.services[s].image.reference(), &format!("sha256:{s}"));
            let body = crate::container::container_body(spec, &spec.services[s], "h", None);
            self.create_container(&name, body).await.expect("create");
            self.start_container(&name).await.expect("start");
        }
    }

    /// A local image built for `service` of `project` (labelled as a build labels it), under `reference`.
    pub fn add_service_image(&self, reference: &str, id: &str, project: &str, service: &str) {
        let labels = [(labels::PROJECT, project), (labels::SERVICE, service)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.world().images.insert(
            reference.to_string(),
            ImageInfo {
                id: id.to_string(),
                labels,
                ..ImageInfo::default()
            },
        );
    }

    /// The next call of `op` on `object` (empty = any object) fails with `kind`; repeatable.
    pub fn fail(&self, op: &'static str, object: &str, kind: ErrorKind) {
        self.world()
            .failures
            .entry((op, object.to_string()))
            .or_default()
            .push_back(kind);
    }

    /// Every call of `op` takes `delay` (on tokio's clock).
    pub fn latency(&self, op: &'static str, delay: Duration) {
        self.world().latency.insert(op, delay);
    }

    /// What the container named `name` does on each start, in order; the last one repeats.
    pub fn behave(&self, name: &str, behaviours: &[Behaviour]) {
        self.world()
            .behaviour
            .insert(name.to_string(), behaviours.iter().copied().collect());
    }

    /// Results of `exec` in the container named `name`, in order; the last one repeats. Default: exit 0.
    pub fn exec_results(&self, name: &str, results: &[(i64, &str)]) {
        self.world().exec.insert(
            name.to_string(),
            results
                .iter()
                .map(|(code, out)| ExecOutput {
                    code: *code,
                    output: (*out).to_string(),
                })
                .collect(),
        );
    }

    /// What `stats` of container `name` answers, one sample per call; the last repeats.
    pub fn stats_samples(&self, name: &str, samples: &[StatsSample]) {
        self.world()
            .stats
            .insert(name.to_string(), samples.iter().cloned().collect());
    }

    /// The container named `name` exits now with `code` (`oom`: killed for memory).
    pub fn exit(&self, name: &str, code: i64, oom: bool) {
        let run = self.world().containers.get(name).map(|c| c.run);
        if let Some(run) = run {
            self.end_run(name, run, code, oom);
        }
    }

    /// `f` runs when the `n`-th call (1-based, every operation counted, streams included) is made, before the
    /// call goes on: a test can act at any await point of what it drives.
    pub fn on_call(&self, n: usize, f: impl FnOnce() + Send + 'static) {
        self.world().hooks.push((n, Box::new(f)));
    }

    /// The engine goes away: every event stream ends and every call fails (as `Unavailable`) until
    /// [`Fake::restore_engine`]. Containers go on running and dying meanwhile; their events are kept, so a
    /// subscription made after the return replays them.
    pub fn lose_engine(&self) {
        self.world().lost = true;
        self.0.lost.send_replace(true);
    }

    /// The daemon restarts, as a real one does: the connection goes, every running container stops with it
    /// (`exit_code` of each by name, 0 for those not named; the daemon sends SIGTERM), and the new daemon keeps no
    /// event history: a subscription made after the return replays none of those deaths. The engine stays away
    /// until [`Fake::restore_engine`].
    pub fn restart_daemon(&self, exit_code: &[(&str, i64)]) {
        self.lose_engine();
        let running: Vec<(String, u64)> = self
            .world()
            .containers
            .values()
            .filter(|c| c.state.is_running())
            .map(|c| (c.name.clone(), c.run))
            .collect();
        for (name, run) in running {
            let code = exit_code
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, c)| *c);
            self.end_run(&name, run, code, false);
        }
        self.world().history.clear();
    }

    /// The engine is reachable again.
    pub fn restore_engine(&self) {
        self.world().lost = false;
        self.0.lost.send_replace(false);
    }

    // ---- looking ----

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    /// Every call so far as `op object` lines, for asserting a sequence.
    pub fn call_lines(&self) -> Vec<String> {
        self.world()
            .calls
            .iter()
            .map(|c| format!("{} {}", c.op, c.object).trim_end().to_string())
            .collect()
    }

    /// Every stop asked for so far (failed ones too): the container and the grace it was given.
    pub fn stop_graces(&self) -> Vec<(String, Duration)> {
        self.world().graces.clone()
    }

    /// The container named `name`, as inspected.
    pub fn container(&self, name: &str) -> Option<Container> {
        self.world().containers.get(name).map(FakeContainer::view)
    }

    /// The names of every container there is, whatever its state.
    pub fn container_names(&self) -> Vec<String> {
        self.world().containers.keys().cloned().collect()
    }

    /// The names of every network and every volume there is.
    pub fn networks_and_volumes(&self) -> (Vec<String>, Vec<String>) {
        let w = self.world();
        (
            w.networks.keys().cloned().collect(),
            w.volumes.keys().cloned().collect(),
        )
    }

    /// What the container named `name` was created with.
    pub fn created_with(&self, name: &str) -> Option<ContainerSpec> {
        self.world().containers.get(name).map(|c| c.spec.clone())
    }

    // ---- machinery ----

    /// Records a call and runs its hook if any; alone, for calls that return a stream (no latency, no scripted
    /// failure).
    pub(super) fn record(&self, op: &'static str, object: &str) {
        let hook = {
            let mut w = self.world();
            w.calls.push(Call {
                op,
                object: object.to_string(),
                at: tokio::time::Instant::now(),
            });
            Self::take_hook(&mut w)
        };
        if let Some(f) = hook {
            f();
        }
    }

    fn take_hook(w: &mut World) -> Option<Box<dyn FnOnce() + Send>> {
        let n = w.calls.len();
        let i = w.hooks.iter().position(|(at, _)| *at == n)?;
        Some(w.hooks.swap_remove(i).1)
    }

    /// Records the call, waits its latency, and fails it when scripted to.
    pub(super) async fn call(&self, op: &'static str, object: &str) -> R<()> {
        // The hook runs first: what it scripts (a failure, a lost engine) applies to this very call.
        self.record(op, object);
        let (delay, failure) = {
            let mut w = self.world();
            if w.lost {
                return Err(EngineError::new(
                    format!("{op} {object}"),
                    ErrorKind::Unavailable,
                    "the engine is unreachable",
                ));
            }
            let mut failure = None;
            for key in [(op, object.to_string()), (op, String::new())] {
                if let Some(q) = w.failures.get_mut(&key)
                    && let Some(kind) = q.pop_front()
                {
                    failure = Some(kind);
                    break;
                }
            }
            (w.latency.get(op).copied(), failure)
        };
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        match failure {
            Some(kind) => Err(EngineError::new(
                format!("{op} {object}"),
                kind,
                "scripted failure",
            )),
            None => Ok(()),
        }
    }

    /// After `stop_creating`, as the Docker engine: no network, volume or container is created or started.
    pub(super) fn refuse_when_stopping(&self, op: String) -> R<()> {
        if self.world().stopping {
            return Err(EngineError::new(
                op,
                ErrorKind::Stopping,
                "stopping: nothing more is created",
            ));
        }
        Ok(())
    }

    pub(super) fn bump(&self) {
        self.0.changed.send_modify(|v| *v += 1);
    }

    pub(super) fn emit(&self, c: &FakeContainer, action: EventAction, exit_code: Option<i64>) {
        let ev = ContainerEvent {
            action,
            id: c.id.clone(),
            service: c
                .spec
                .labels
                .get(labels::SERVICE)
                .cloned()
                .unwrap_or_default(),
            role: c.spec.labels.get(labels::ROLE).and_then(|r| Role::parse(r)),
            exit_code,
            time: self.now_unix(),
        };
        let project = c
            .spec
            .labels
            .get(labels::PROJECT)
            .cloned()
            .unwrap_or_default();
        self.world().history.push((project.clone(), ev.clone()));
        let _ = self.0.events.send((project, ev));
    }

    pub(super) fn end_run(&self, name: &str, run: u64, code: i64, oom: bool) {
        let ended = {
            let mut w = self.world();
            match w.containers.get_mut(name) {
                Some(c) if c.run == run && c.state.is_running() => {
                    c.state = State::Exited { code, oom };
                    Some(c.clone())
                }
                _ => None,
            }
        };
        if let Some(c) = ended {
            self.emit(&c, EventAction::Die, Some(code));
            self.bump();
        }
    }

    pub(super) fn find(w: &World, name_or_id: &str) -> Option<String> {
        if w.containers.contains_key(name_or_id) {
            return Some(name_or_id.to_string());
        }
        w.containers
            .values()
            .find(|c| c.id == name_or_id)
            .map(|c| c.name.clone())
    }

    pub(super) fn not_found(op: &str, what: &str, name: &str) -> EngineError {
        EngineError::new(
            format!("{op} {what} {name}"),
            ErrorKind::NotFound,
            format!("No such {what}: {name}"),
        )
    }

    pub(super) fn start(&self, name: &str) -> R<()> {
        let (c, behaviour) = {
            let mut w = self.world();
            let Some(key) = Self::find(&w, name) else {
                return Err(Self::not_found("starting", "container", name));
            };
            let behaviour = match w.behaviour.get_mut(&key) {
                Some(q) if q.len() > 1 => q.pop_front(),
                Some(q) => q.front().copied(),
                None => None,
            }
            .unwrap_or(Behaviour::Run);
            let Some(c) = w.containers.get_mut(&key) else {
                return Err(Self::not_found("starting", "container", name));
            };
            if c.state.is_running() {
                return Ok(());
            }
            c.run += 1;
            c.state = State::Running;
            c.started_at = Some(format!("{}", c.run));
            (c.clone(), behaviour)
        };
        self.emit(&c, EventAction::Start, None);
        self.bump();
        let (after, code, oom) = match behaviour {
            Behaviour::Run => return Ok(()),
            Behaviour::Exit(after, code) => (after, code, false),
            Behaviour::Oom(after) => (after, 137, true),
        };
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            me.end_run(&c.name, c.run, code, oom);
        });
        Ok(())
    }

    pub(super) fn stop(&self, name: &str) -> R<()> {
        let stopped = {
            let mut w = self.world();
            let Some(key) = Self::find(&w, name) else {
                return Err(Self::not_found("stopping", "container", name));
            };
            match w.containers.get_mut(&key) {
                Some(c) if c.state.is_running() => {
                    // SIGTERM to an init process: a clean exit.
                    c.state = State::Exited {
                        code: 0,
                        oom: false,
                    };
                    Some(c.clone())
                }
                _ => None,
            }
        };
        if let Some(c) = stopped {
            self.emit(&c, EventAction::Die, Some(0));
            self.bump();
        }
        Ok(())
    }
}
