//! One `[test]` step: a program on this host, or a one-off container on the copy's network; its output is
//! kept (shown when it fails, and in the JUnit report) and its exit code decides.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::commands::run::{RunOptions, one_off_body};
use crate::engine::{ContainerSpec, Engine, NetworkAttachment, Role};
use crate::error::{Error, Result};
use crate::labels;
use crate::output::printer::Printer;
use crate::spec::{Spec, StepRun, TestStep};

/// How a step ended.
#[derive(Debug, Clone)]
pub(crate) struct StepResult {
    /// The step's name.
    pub name: String,
    /// Its exit code (127: the program could not be started).
    pub code: u8,
    /// Its stdout and stderr.
    pub output: String,
    /// How long it ran.
    pub time: Duration,
}

impl StepResult {
    /// The exit code when the step failed.
    pub fn failed(&self) -> Option<u8> {
        (self.code != 0).then_some(self.code)
    }
}

/// `PINSHARE_DEV_PORT_<SERVICE>_<PORT>` = the loopback port the engine published container port PORT of SERVICE
/// on (TCP; `-` in a name is `_`), and `PINSHARE_DEV_PROJECT`, `PINSHARE_DEV_NETWORK`.
pub(crate) async fn port_env(engine: &dyn Engine, copy: &Spec) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::from([
        ("PINSHARE_DEV_PROJECT".to_string(), copy.project.clone()),
        ("PINSHARE_DEV_NETWORK".to_string(), copy.network_name()),
    ]);
    for name in &copy.order {
        let Some(c) = engine.inspect_container(&copy.container_name(name)).await? else {
            continue;
        };
        let key = name.to_uppercase().replace('-', "_");
        for (port, host) in c.ports.iter().filter(|(_, h)| !h.udp) {
            env.insert(
                format!("PINSHARE_DEV_PORT_{key}_{port}"),
                host.reach().port().to_string(),
            );
        }
    }
    Ok(env)
}

/// Runs step `i`; an error is the engine's or Ctrl-C's, not the step's failure.
pub(crate) async fn run_step(
    engine: &Arc<dyn Engine>,
    copy: &Spec,
    i: usize,
    step: &TestStep,
    ports: &BTreeMap<String, String>,
    printer: &Printer,
    cancel: &CancellationToken,
) -> Result<StepResult> {
    let started = Instant::now();
    let (code, output) = match &step.run {
        StepRun::Host(argv) => host_step(copy, argv, step, ports, cancel).await?,
        StepRun::Service(..) | StepRun::Image(..) => {
            let name = format!("{}-step-{}", copy.project, i + 1);
            let body = step_body(engine, copy, step, printer, cancel).await?;
            engine.create_container(&name, body).await?;
            let r = container_step(&**engine, &name, cancel).await;
            engine.remove_container(&name).await?;
            r?
        }
    };
    Ok(StepResult {
        name: step.name.clone(),
        code,
        output,
        time: started.elapsed(),
    })
}

/// A program on this host, from the spec's directory, with the port variables in its environment.
async fn host_step(
    copy: &Spec,
    argv: &[String],
    step: &TestStep,
    ports: &BTreeMap<String, String>,
    cancel: &CancellationToken,
) -> Result<(u8, String)> {
    let child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&copy.dir)
        .envs(ports)
        .envs(&step.env)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::select! {
        out = child => Ok(match out {
            Ok(o) => {
                let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&o.stderr));
                // A death by signal has no code; the shell's 128+N.
                let code = o.status.code().unwrap_or_else(|| {
                    128 + std::os::unix::process::ExitStatusExt::signal(&o.status).unwrap_or(0)
                });
                (u8::try_from(code).unwrap_or(1), text)
            }
            Err(e) => (127, format!("starting {}: {e}", argv[0])),
        }),
        () = cancel.cancelled() => Err(Error::Interrupted),
    }
}

/// The container of a `service` step (the service's one-off, as `run` makes it) or an `image` step (the image
/// on the copy's network).
async fn step_body(
    engine: &Arc<dyn Engine>,
    copy: &Spec,
    step: &TestStep,
    printer: &Printer,
    cancel: &CancellationToken,
) -> Result<ContainerSpec> {
    let env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    match &step.run {
        StepRun::Service(service, command) => {
            let svc = &copy.services[service];
            let image = crate::run::tasks::unless_cancelled(
                cancel,
                crate::image::resolve_image(&**engine, copy, svc, printer),
            )
            .await
            .ok_or(Error::Interrupted)??;
            let opts = RunOptions {
                service: service.clone(),
                argv: command.clone().unwrap_or_default(),
                entrypoint: None,
                env,
                no_deps: true,
            };
            Ok(one_off_body(copy, svc, &image.id, &opts))
        }
        StepRun::Image(image, command) => {
            if engine.inspect_image(image).await?.is_none() {
                engine.pull(image, &mut |_| {}).await?;
            }
            let mut labels = labels::container(&copy.project, "", Role::OneOff, "");
            labels.insert(labels::ONEOFF.to_string(), "true".to_string());
            labels.extend(copy.labels.clone());
            Ok(ContainerSpec {
                image: image.clone(),
                cmd: Some(command.clone()),
                env,
                labels,
                network: Some(NetworkAttachment {
                    name: copy.network_name(),
                    aliases: Vec::new(),
                }),
                init: true,
                ..ContainerSpec::default()
            })
        }
        StepRun::Host(_) => Err(Error::Runtime(format!(
            "test step {}: a host step has no container",
            step.name
        ))),
    }
}

/// Starts the step's container, keeps its output and waits for its end; Ctrl-C stops it.
async fn container_step(
    engine: &dyn Engine,
    name: &str,
    cancel: &CancellationToken,
) -> Result<(u8, String)> {
    let mut stream = engine.attach(name).await?;
    engine.start_container(name).await?;
    let mut output = Vec::new();
    let finished = async {
        let copy = async {
            while let Some(Ok(chunk)) = stream.next().await {
                output.extend_from_slice(&chunk.bytes);
            }
        };
        let ((), code) = tokio::join!(copy, engine.wait_container(name));
        code
    };
    let code = tokio::select! {
        code = finished => code?,
        () = cancel.cancelled() => {
            engine.stop_container(name, Duration::from_secs(2)).await?;
            return Err(Error::Interrupted);
        }
    };
    Ok((
        u8::try_from(code).unwrap_or(1),
        String::from_utf8_lossy(&output).into_owned(),
    ))
}
