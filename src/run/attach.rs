//! Every line of what the foreground run starts. The engine of a foreground `up` is wrapped in [`Attaching`]:
//! each long-running container of a followed service is attached before it is started (and before it is
//! started again in place), and the live stream is left in [`Feeds`] under the container's id, where the
//! service's follower takes it when it sees the start. The attach stream is the container's own stdout and
//! stderr, as `docker run` gets them: unlike the logs API's live follow, it drops nothing under a flood, and
//! made before the start it holds the very first line.
//!
//! A stream left in the feeds is never read, and a container whose output is not read stops at its next write
//! once the pipe is full: only services that have a follower are attached, and [`Feeds::close`] drops whatever
//! is left when the followers end.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::stream::BoxStream;

use crate::engine::{
    Container, ContainerEvent, ContainerInfo, ContainerSpec, Engine, ExecOutput, ExecRequest,
    ExecSession, ImageInfo, LogChunk, LogOptions, PullProgress, R, Role, RunningContainer,
    StatsSample, SystemInfo,
};
use crate::labels;

/// A live output stream.
pub type Live = BoxStream<'static, R<LogChunk>>;

#[derive(Default)]
struct Inner {
    /// Services whose containers are attached before they start.
    followed: HashSet<String>,
    /// Streams waiting for their follower, by container id.
    waiting: HashMap<String, Live>,
    /// Containers whose output is printed from their start, alongside another container of their service
    /// (a zero-downtime swap's new one): the task printing it, by container id, until the follower takes it.
    alongside: HashMap<String, tokio::task::JoinHandle<Option<String>>>,
    /// Set once the followers are done: nothing is attached any more.
    closed: bool,
}

/// The live streams of the containers the run started, waiting for their followers.
#[derive(Clone, Default)]
pub struct Feeds {
    inner: Arc<Mutex<Inner>>,
}

impl Feeds {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// From now on the containers of `service` are attached before they start.
    pub fn follow(&self, service: &str) {
        self.with(|i| i.followed.insert(service.to_string()));
    }

    /// The live stream of container `id`, if it was attached before its start.
    pub fn take(&self, id: &str) -> Option<Live> {
        self.with(|i| i.waiting.remove(id))
    }

    /// Drops every waiting stream and attaches nothing more.
    pub fn close(&self) {
        self.with(|i| {
            i.closed = true;
            i.waiting.clear();
            for (_, t) in i.alongside.drain() {
                t.abort();
            }
        });
    }

    /// Leaves `task`, which prints container `id`'s output from its start on, for the service's follower: a
    /// zero-downtime swap's new container runs while the follower still reads the old one, and a stream left
    /// waiting that long would fill the container's pipe and stop it at its next write. The follower takes the
    /// task over when it gets there ([`Feeds::take_alongside`]).
    pub fn put_alongside(&self, id: &str, task: tokio::task::JoinHandle<Option<String>>) {
        self.with(|i| {
            if i.closed {
                task.abort();
            } else {
                i.alongside.insert(id.to_string(), task);
            }
        });
    }

    /// The task printing container `id`'s output since its start, if [`Feeds::print_alongside`] made one.
    pub fn take_alongside(&self, id: &str) -> Option<tokio::task::JoinHandle<Option<String>>> {
        self.with(|i| i.alongside.remove(id))
    }

    #[cfg(test)]
    fn waiting(&self, id: &str) -> bool {
        self.with(|i| i.waiting.contains_key(id))
    }

    fn wants(&self, service: Option<&String>) -> bool {
        self.with(|i| !i.closed && service.is_some_and(|s| i.followed.contains(s)))
    }

    fn put(&self, id: String, live: Live) {
        self.with(|i| {
            if !i.closed {
                i.waiting.insert(id, live);
            }
        });
    }
}

/// An engine that attaches to the followed services' containers before it starts them.
pub struct Attaching {
    inner: Arc<dyn Engine>,
    feeds: Feeds,
    /// Container name → id and service, for the containers created through it that are to be attached.
    created: Mutex<HashMap<String, String>>,
}

impl Attaching {
    /// Wraps `inner`; the streams go to `feeds`.
    pub fn new(inner: Arc<dyn Engine>, feeds: Feeds) -> Self {
        Attaching {
            inner,
            feeds,
            created: Mutex::default(),
        }
    }

    fn created(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.created.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The id of container `name` if it is to be attached: created here, or found with its labels.
    async fn to_attach(&self, name: &str) -> Option<String> {
        let known = self.created().get(name).cloned();
        if known.is_some() {
            return known;
        }
        let c = self.inner.inspect_container(name).await.ok()??;
        let service_role = labels::role_of(&c.labels) == Some(Role::Service);
        (service_role && self.feeds.wants(c.labels.get(labels::SERVICE))).then_some(c.id)
    }

    /// Attaches to `id` and leaves the stream for the follower, then runs `start`. The stream is in place
    /// before the start, so the follower, woken by the start's event, finds it (a stream put after the start
    /// could come too late: the follower then attaches itself, and a stream nobody reads holds the
    /// container's exit, and with it every stop); a failed start takes it back.
    async fn attached_start(&self, id: String, start: impl Future<Output = R<()>> + Send) -> R<()> {
        // A container that cannot be attached is still started: its follower reads the logs API instead.
        match self.inner.attach(&id).await {
            Ok(live) => self.feeds.put(id.clone(), live),
            Err(e) => {
                tracing::debug!(container = %id, error = %e, "attach before the start failed");
            }
        }
        let started = start.await;
        if started.is_err() {
            drop(self.feeds.take(&id));
        }
        started
    }
}

#[async_trait::async_trait]
impl Engine for Attaching {
    async fn create_container(&self, name: &str, spec: ContainerSpec) -> R<String> {
        let attach = labels::role_of(&spec.labels) == Some(Role::Service)
            && self.feeds.wants(spec.labels.get(labels::SERVICE));
        let id = self.inner.create_container(name, spec).await?;
        if attach {
            self.created().insert(name.to_string(), id.clone());
        } else {
            self.created().remove(name);
        }
        Ok(id)
    }

    async fn start_container(&self, name: &str) -> R<()> {
        match self.to_attach(name).await {
            Some(id) => {
                self.attached_start(id, self.inner.start_container(name))
                    .await
            }
            None => self.inner.start_container(name).await,
        }
    }

    async fn restart_container(&self, name: &str, grace: Duration) -> R<()> {
        // A restart is a stop and a start; attached in between, the stream holds the new start's first line.
        match self.to_attach(name).await {
            Some(id) => {
                self.inner.stop_container(name, grace).await?;
                self.attached_start(id, self.inner.start_container(name))
                    .await
            }
            None => self.inner.restart_container(name, grace).await,
        }
    }

    async fn remove_container(&self, name: &str) -> R<()> {
        if let Some(id) = self.created().remove(name) {
            drop(self.feeds.take(&id));
        }
        self.inner.remove_container(name).await
    }

    async fn rename_container(&self, name: &str, new_name: &str) -> R<()> {
        self.inner.rename_container(name, new_name).await?;
        let mut created = self.created();
        if let Some(id) = created.remove(name) {
            created.insert(new_name.to_string(), id);
        }
        Ok(())
    }

    async fn rejoin_network(&self, network: &str, name: &str, aliases: &[String]) -> R<()> {
        self.inner.rejoin_network(network, name, aliases).await
    }

    async fn stop_creating(&self) {
        self.inner.stop_creating().await;
    }

    async fn settle(&self) {
        self.inner.settle().await;
    }

    async fn network_labels(&self, name: &str) -> R<Option<HashMap<String, String>>> {
        self.inner.network_labels(name).await
    }

    async fn network_gateways(&self, name: &str) -> R<Vec<std::net::IpAddr>> {
        self.inner.network_gateways(name).await
    }

    async fn create_network(&self, name: &str, labels: HashMap<String, String>) -> R<()> {
        self.inner.create_network(name, labels).await
    }

    async fn networks_labelled(&self, key: &str, value: &str) -> R<Vec<HashMap<String, String>>> {
        self.inner.networks_labelled(key, value).await
    }

    async fn remove_network(&self, name: &str) -> R<()> {
        self.inner.remove_network(name).await
    }

    async fn volume_labels(&self, name: &str) -> R<Option<HashMap<String, String>>> {
        self.inner.volume_labels(name).await
    }

    async fn create_volume(&self, name: &str, labels: HashMap<String, String>) -> R<()> {
        self.inner.create_volume(name, labels).await
    }

    async fn registry_has(&self, reference: &str) -> R<()> {
        self.inner.registry_has(reference).await
    }

    async fn service_images(&self, project: &str, service: &str) -> R<Vec<String>> {
        self.inner.service_images(project, service).await
    }

    async fn remove_image(&self, id: &str) -> R<()> {
        self.inner.remove_image(id).await
    }

    async fn project_volumes(&self, project: &str) -> R<Vec<String>> {
        self.inner.project_volumes(project).await
    }

    async fn remove_volume(&self, name: &str) -> R<()> {
        self.inner.remove_volume(name).await
    }

    async fn project_containers(&self, project: &str) -> R<Vec<ContainerInfo>> {
        self.inner.project_containers(project).await
    }

    async fn inspect_container(&self, name: &str) -> R<Option<Container>> {
        self.inner.inspect_container(name).await
    }

    async fn stop_container(&self, name: &str, grace: Duration) -> R<()> {
        // A stream still waiting would never be read now, and the engine holds a container's exit until its
        // attached streams are read out: let it go first.
        let id = self.created().get(name).cloned();
        if let Some(id) = id {
            drop(self.feeds.take(&id));
        }
        self.inner.stop_container(name, grace).await
    }

    async fn unpause_container(&self, name: &str) -> R<()> {
        self.inner.unpause_container(name).await
    }

    fn container_events(
        &self,
        project: &str,
        since: Option<i64>,
    ) -> BoxStream<'static, R<ContainerEvent>> {
        self.inner.container_events(project, since)
    }

    async fn wait_container(&self, name: &str) -> R<i64> {
        self.inner.wait_container(name).await
    }

    fn logs(&self, name: &str, opts: &LogOptions) -> BoxStream<'static, R<LogChunk>> {
        self.inner.logs(name, opts)
    }

    async fn attach(&self, name: &str) -> R<BoxStream<'static, R<LogChunk>>> {
        self.inner.attach(name).await
    }

    async fn attach_stdin(&self, name: &str) -> R<ExecSession> {
        self.inner.attach_stdin(name).await
    }

    async fn resize_container(&self, name: &str, rows: u16, cols: u16) -> R<()> {
        self.inner.resize_container(name, rows, cols).await
    }

    async fn stats(&self, name: &str, period: bool) -> R<Option<StatsSample>> {
        self.inner.stats(name, period).await
    }

    async fn exec(&self, name: &str, argv: &[String]) -> R<ExecOutput> {
        self.inner.exec(name, argv).await
    }

    async fn exec_attached(&self, name: &str, req: &ExecRequest) -> R<ExecSession> {
        self.inner.exec_attached(name, req).await
    }

    async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> R<()> {
        self.inner.exec_resize(id, rows, cols).await
    }

    async fn exec_exit_code(&self, id: &str) -> R<Option<i64>> {
        self.inner.exec_exit_code(id).await
    }

    async fn download(&self, name: &str, path: &str) -> R<Option<Vec<u8>>> {
        self.inner.download(name, path).await
    }

    async fn download_prefix(&self, name: &str, path: &str, max: usize) -> R<Option<Vec<u8>>> {
        self.inner.download_prefix(name, path, max).await
    }

    async fn upload(&self, name: &str, dir: &str, tar: Vec<u8>) -> R<()> {
        self.inner.upload(name, dir, tar).await
    }

    async fn inspect_image(&self, reference: &str) -> R<Option<ImageInfo>> {
        self.inner.inspect_image(reference).await
    }

    async fn pull(
        &self,
        reference: &str,
        progress: &mut (dyn FnMut(PullProgress) + Send),
    ) -> R<()> {
        self.inner.pull(reference, progress).await
    }

    async fn build(
        &self,
        tag: &str,
        dockerfile: &str,
        context_tar: Vec<u8>,
        args: &HashMap<String, String>,
        target: Option<&str>,
        image_labels: &HashMap<String, String>,
        output: &mut (dyn FnMut(String) + Send),
    ) -> R<String> {
        self.inner
            .build(
                tag,
                dockerfile,
                context_tar,
                args,
                target,
                image_labels,
                output,
            )
            .await
    }

    async fn running_containers(&self) -> R<Vec<RunningContainer>> {
        self.inner.running_containers().await
    }

    async fn info(&self) -> R<SystemInfo> {
        self.inner.info().await
    }

    async fn version(&self) -> R<(String, String)> {
        self.inner.version().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Attaching, Feeds};
    use crate::engine::fake::Fake;
    use crate::engine::{ContainerSpec, Engine, ErrorKind, Role};
    use crate::labels;

    fn service(name: &str) -> ContainerSpec {
        ContainerSpec {
            image: "img".into(),
            labels: labels::container("p", name, Role::Service, "h"),
            ..ContainerSpec::default()
        }
    }

    /// The fake behind an attaching engine whose feeds follow `web`.
    fn following_web() -> (Arc<Fake>, Feeds, Attaching) {
        let fake = Arc::new(Fake::new());
        fake.add_image("img", "sha256:img");
        let feeds = Feeds::default();
        feeds.follow("web");
        let engine = Attaching::new(Arc::clone(&fake) as Arc<dyn Engine>, feeds.clone());
        (fake, feeds, engine)
    }

    #[tokio::test(start_paused = true)]
    async fn a_followed_service_is_attached_before_its_start_and_the_stream_waits_for_its_follower()
    {
        let (fake, feeds, engine) = following_web();
        let web = engine
            .create_container("p-web", service("web"))
            .await
            .expect("create");
        let side = engine
            .create_container("p-side", service("side"))
            .await
            .expect("create");
        // When the start is asked for, the stream is already there for the follower the start's event wakes.
        let waiting_at_start = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, f, id) = (Arc::clone(&waiting_at_start), feeds.clone(), web.clone());
        fake.on_call(fake.calls().len() + 2, move || {
            seen.store(f.waiting(&id), std::sync::atomic::Ordering::SeqCst);
        });
        engine.start_container("p-web").await.expect("start");
        engine.start_container("p-side").await.expect("start");
        let calls = fake.call_lines();
        let at = |c: &str| calls.iter().position(|l| l == c);
        let attach = at(&format!("attach {web}"));
        assert!(
            attach.is_some() && attach < at("start_container p-web"),
            "attached before the start: {calls:#?}"
        );
        assert!(
            waiting_at_start.load(std::sync::atomic::Ordering::SeqCst),
            "the stream was in the feeds when the start was made: {calls:#?}"
        );
        assert_eq!(
            at(&format!("attach {side}")),
            None,
            "a service nobody follows is not attached"
        );
        assert!(
            feeds.take(&web).is_some(),
            "the stream waits for the follower"
        );
        assert!(feeds.take(&web).is_none(), "taken once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_start_or_a_stop_lets_the_waiting_stream_go() {
        let (fake, feeds, engine) = following_web();
        let web = engine
            .create_container("p-web", service("web"))
            .await
            .expect("create");
        fake.fail("start_container", "p-web", ErrorKind::Failed);
        assert!(engine.start_container("p-web").await.is_err());
        assert!(
            feeds.take(&web).is_none(),
            "a failed start takes the stream back"
        );
        engine.start_container("p-web").await.expect("start");
        // Never taken, a stream would hold the container's exit: a stop lets it go first.
        engine
            .stop_container("p-web", std::time::Duration::from_secs(1))
            .await
            .expect("stop");
        assert!(feeds.take(&web).is_none());
    }
}
