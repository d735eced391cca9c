//! Container operations of the Docker engine that are more than one call: running a command in a container,
//! and what a zero-downtime swap needs (a rename, a network re-joined with other aliases).

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest, NetworkInspect,
};
use bollard::query_parameters::RenameContainerOptionsBuilder;
use futures_util::stream::StreamExt;

use super::super::{EngineError, ErrorKind, ExecOutput, ExecRequest, ExecSession, R, StatsSample};
use super::DockerEngine;
use super::convert::{chunk, error};

impl DockerEngine {
    pub(super) async fn stats_of(&self, name: &str, period: bool) -> R<Option<StatsSample>> {
        // `stream=false` alone makes the engine read twice (precpu, then cpu, ~1 s apart); `one-shot` (API 1.41)
        // answers at once with an empty precpu.
        let options = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: !period,
        };
        match self.docker.stats(name, Some(options)).next().await {
            Some(Ok(s)) => Ok(Some(super::convert::stats_sample(s))),
            Some(Err(e)) => {
                let e = error(
                    format!("reading the resource usage of container {name}"),
                    &e,
                );
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
            None => Ok(None),
        }
    }

    /// Attaches to the container's output from now on (no logs before), with its stdin when `stdin`.
    pub(super) async fn attach_session(&self, name: &str, stdin: bool) -> R<ExecSession> {
        let op = format!("attaching to container {name}");
        let opts = bollard::query_parameters::AttachContainerOptionsBuilder::default()
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .logs(false)
            .build();
        let attached = self
            .docker
            .attach_container(name, Some(opts))
            .await
            .map_err(|e| error(op.clone(), &e))?;
        Ok(ExecSession {
            id: name.to_string(),
            output: attached
                .output
                .map(move |item| chunk(item).map_err(|e| error(op.clone(), &e)))
                .boxed(),
            input: attached.input,
        })
    }

    pub(super) async fn resize_tty(&self, name: &str, rows: u16, cols: u16) -> R<()> {
        let size = bollard::query_parameters::ResizeContainerTTYOptionsBuilder::default()
            .h(i32::from(rows))
            .w(i32::from(cols))
            .build();
        self.docker
            .resize_container_tty(name, size)
            .await
            .map_err(|e| error(format!("resizing the TTY of container {name}"), &e))
    }

    pub(super) async fn exec_in(&self, name: &str, argv: &[String]) -> R<ExecOutput> {
        let op = format!("running {:?} in container {name}", argv.join(" "));
        let create = CreateExecOptions {
            cmd: Some(argv.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self
            .docker
            .create_exec(name, create)
            .await
            .map_err(|e| error(op.clone(), &e))?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut out, ..
        } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| error(op.clone(), &e))?
        {
            while let Some(chunk) = out.next().await {
                let chunk = chunk.map_err(|e| error(op.clone(), &e))?;
                output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| error(op.clone(), &e))?;
        Ok(ExecOutput {
            code: inspect.exit_code.unwrap_or(-1),
            output,
        })
    }

    pub(super) async fn exec_session(&self, name: &str, req: &ExecRequest) -> R<ExecSession> {
        let op = format!("running {:?} in container {name}", req.argv.join(" "));
        let create = CreateExecOptions {
            cmd: Some(req.argv.clone()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(req.tty),
            env: (!req.env.is_empty()).then(|| req.env.clone()),
            user: req.user.clone(),
            working_dir: req.workdir.clone(),
            ..Default::default()
        };
        let exec = self
            .docker
            .create_exec(name, create)
            .await
            .map_err(|e| error(op.clone(), &e))?;
        let start = StartExecOptions {
            detach: false,
            tty: req.tty,
            output_capacity: None,
        };
        match self
            .docker
            .start_exec(&exec.id, Some(start))
            .await
            .map_err(|e| error(op.clone(), &e))?
        {
            StartExecResults::Attached { output, input } => Ok(ExecSession {
                id: exec.id,
                output: output
                    .map(move |item| chunk(item).map_err(|e| error(op.clone(), &e)))
                    .boxed(),
                input,
            }),
            StartExecResults::Detached => Err(EngineError::new(
                op,
                ErrorKind::Failed,
                "the engine started it detached: no streams to attach",
            )),
        }
    }

    pub(super) async fn resize_exec(&self, id: &str, rows: u16, cols: u16) -> R<()> {
        let size = ResizeExecOptions {
            height: rows,
            width: cols,
        };
        self.docker
            .resize_exec(id, size)
            .await
            .map_err(|e| error(format!("resizing the terminal of exec {id}"), &e))
    }

    pub(super) async fn exec_code(&self, id: &str) -> R<Option<i64>> {
        let inspect = self
            .docker
            .inspect_exec(id)
            .await
            .map_err(|e| error(format!("inspecting exec {id}"), &e))?;
        if inspect.running == Some(true) {
            return Ok(None);
        }
        Ok(inspect.exit_code)
    }

    pub(super) async fn rename(&self, name: &str, new_name: &str) -> R<()> {
        let opts = RenameContainerOptionsBuilder::default()
            .name(new_name)
            .build();
        self.docker
            .rename_container(name, opts)
            .await
            .map_err(|e| error(format!("renaming container {name} to {new_name}"), &e))
    }

    pub(super) async fn rejoin(&self, network: &str, name: &str, aliases: &[String]) -> R<()> {
        let op = format!("re-joining container {name} to network {network}");
        self.docker
            .disconnect_network(
                network,
                NetworkDisconnectRequest {
                    container: name.to_string(),
                    force: Some(false),
                },
            )
            .await
            .map_err(|e| error(op.clone(), &e))?;
        self.docker
            .connect_network(
                network,
                NetworkConnectRequest {
                    container: name.to_string(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(aliases.to_vec()),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| error(op, &e))
    }

    /// A network as the engine describes it, `None` when it does not exist.
    pub(super) async fn network(&self, name: &str) -> R<Option<NetworkInspect>> {
        match self
            .docker
            .inspect_network(
                name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(n) => Ok(Some(n)),
            Err(e) => {
                let e = error(format!("inspecting network {name}"), &e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    pub(super) async fn gateways(&self, name: &str) -> R<Vec<std::net::IpAddr>> {
        Ok(self
            .network(name)
            .await?
            .and_then(|n| n.ipam?.config)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| match c.gateway.as_deref() {
                Some(g) => g.parse().ok(),
                None => first_address(c.subnet.as_deref()?),
            })
            .collect())
    }
}

/// The first address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`), where the engine puts a bridge whose
/// IPAM names only the subnet (the default bridge's). A guess: the caller checks it is this host's.
fn first_address(subnet: &str) -> Option<std::net::IpAddr> {
    let (net, _) = subnet.split_once('/')?;
    let net: std::net::Ipv4Addr = net.parse().ok()?;
    Some(std::net::Ipv4Addr::from(u32::from(net).checked_add(1)?).into())
}
