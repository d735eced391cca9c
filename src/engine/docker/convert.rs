//! Docker's types into ours and back: inspections, summaries and images become our domain types, a
//! `ContainerSpec` becomes bollard's create body. Pure data, so it is tested against the engine's own JSON.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, EndpointSettings, HostConfig, ImageInspect, MountType,
    NetworkingConfig, PortBinding, PortSummaryTypeEnum,
};

use super::super::stats::memory_in_use;
use super::super::{
    Container, ContainerInfo, ContainerSpec, CpuPeriod, EngineError, ErrorKind, ImageInfo,
    LogChunk, MountKind, PublishedPort, Role, RunningContainer, State, StatsSample, SystemInfo,
    Throttling,
};
use crate::labels;

pub(super) fn error(op: impl Into<String>, e: &BollardError) -> EngineError {
    let (message, kind) = match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => (
            message.clone(),
            match status_code {
                404 => ErrorKind::NotFound,
                409 => ErrorKind::Conflict,
                _ => ErrorKind::Failed,
            },
        ),
        BollardError::DockerContainerWaitError { error, code } => {
            (format!("exit code {code}: {error}"), ErrorKind::Failed)
        }
        BollardError::HyperResponseError { .. }
        | BollardError::HyperLegacyError { .. }
        | BollardError::IOError { .. }
        | BollardError::RequestTimeoutError
        | BollardError::SocketNotFoundError(_) => (e.to_string(), ErrorKind::Unavailable),
        other => (other.to_string(), ErrorKind::Failed),
    };
    EngineError::new(op, kind, message)
}

pub(super) fn container_info(s: ContainerSummary) -> ContainerInfo {
    let labels = s.labels.unwrap_or_default();
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    ContainerInfo {
        name: s
            .names
            .and_then(|n| n.into_iter().next())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: get(labels::SERVICE),
        role: Role::parse(&get(labels::ROLE)),
        config_hash: get(labels::CONFIG_HASH),
        state: listed_state(s.state, s.status.as_deref().unwrap_or_default()),
        status: s.status.unwrap_or_default(),
        image: s.image.unwrap_or_default(),
        ports_forwarded: labels::is_forwarded(Some(&get(labels::PORTS))),
    }
}

/// A listed container's state. The list gives no exit code but its status text does (`Exited (3) 2 minutes
/// ago`); -1 when it does not say.
fn listed_state(state: Option<ContainerSummaryStateEnum>, status: &str) -> State {
    match state {
        Some(ContainerSummaryStateEnum::CREATED) => State::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => State::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => State::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => State::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => State::Removing,
        Some(ContainerSummaryStateEnum::STOPPING) => State::Stopping,
        Some(ContainerSummaryStateEnum::EXITED) => State::Exited {
            code: status
                .strip_prefix("Exited (")
                .and_then(|r| r.split_once(')'))
                .and_then(|(c, _)| c.parse().ok())
                .unwrap_or(-1),
            oom: false,
        },
        Some(ContainerSummaryStateEnum::DEAD | ContainerSummaryStateEnum::EMPTY) | None => {
            State::Dead
        }
    }
}

pub(super) fn running_container(c: ContainerSummary) -> RunningContainer {
    let ports = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            Some(PublishedPort {
                ip: p.ip,
                port: p.public_port?,
                udp: p.typ == Some(PortSummaryTypeEnum::UDP),
            })
        })
        .collect();
    RunningContainer {
        name: c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .or(c.id)
            .unwrap_or_default(),
        labels: c.labels.unwrap_or_default(),
        ports,
    }
}

/// Docker derives its status from these flags (`container/state.go` `StateString`); so do we.
pub(super) fn container(c: ContainerInspectResponse) -> Container {
    let s = c.state.unwrap_or_default();
    let state = if s.running == Some(true) {
        if s.paused == Some(true) {
            State::Paused
        } else if s.restarting == Some(true) {
            State::Restarting
        } else {
            State::Running
        }
    } else {
        match s.status {
            Some(ContainerStateStatusEnum::CREATED) => State::Created,
            Some(ContainerStateStatusEnum::REMOVING) => State::Removing,
            Some(ContainerStateStatusEnum::DEAD) => State::Dead,
            Some(ContainerStateStatusEnum::EXITED) => State::Exited {
                code: s.exit_code.unwrap_or(-1),
                oom: s.oom_killed == Some(true),
            },
            // Not running but claimed running/paused/restarting (a race between flags), or unknown.
            _ if s.dead == Some(true) => State::Dead,
            _ => State::Exited {
                code: s.exit_code.unwrap_or(-1),
                oom: s.oom_killed == Some(true),
            },
        }
    };
    let settings = c.network_settings.unwrap_or_default();
    let networks = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, e)| (name, e.ip_address.and_then(|a| a.parse().ok())))
        .collect();
    let mut ports: Vec<(u16, PublishedPort)> = settings
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, bound)| {
            let (port, proto) = key.split_once('/')?;
            let port: u16 = port.parse().ok()?;
            let udp = proto == "udp";
            Some(bound.unwrap_or_default().into_iter().filter_map(move |b| {
                Some((
                    port,
                    PublishedPort {
                        ip: b.host_ip.filter(|i| !i.is_empty()),
                        port: b.host_port?.parse().ok()?,
                        udp,
                    },
                ))
            }))
        })
        .flatten()
        .collect();
    ports.sort_by_key(|(p, h)| (*p, h.udp, h.port));
    Container {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c.image.unwrap_or_default(),
        labels: c.config.and_then(|c| c.labels).unwrap_or_default(),
        state,
        started_at: s.started_at,
        finished_at: s.finished_at,
        restart_count: c.restart_count.unwrap_or(0),
        networks,
        ports,
    }
}

pub(super) fn image_info(i: ImageInspect) -> ImageInfo {
    let config = i.config.unwrap_or_default();
    ImageInfo {
        id: i.id.unwrap_or_default(),
        user: config.user.unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
    }
}

pub(super) fn system_info(i: bollard::models::SystemInfo) -> SystemInfo {
    SystemInfo {
        root_dir: i.docker_root_dir,
        images: i.images,
        containers: i.containers,
        containers_running: i.containers_running,
        security_options: i.security_options.unwrap_or_default(),
    }
}

pub(super) fn stats_sample(s: bollard::models::ContainerStatsResponse) -> StatsSample {
    let counters = |c: &Option<bollard::models::ContainerCpuStats>| {
        c.as_ref().map(|c| {
            (
                c.cpu_usage
                    .as_ref()
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0),
                c.system_cpu_usage.unwrap_or(0),
                c.online_cpus.unwrap_or(0),
            )
        })
    };
    let cpu = match (counters(&s.precpu_stats), counters(&s.cpu_stats)) {
        (Some((cb, sb, _)), Some((ca, sa, n))) => Some(CpuPeriod {
            container_before: cb,
            container_after: ca,
            system_before: sb,
            system_after: sa,
            // Engines before API 1.27 leave online_cpus out: the per-core list says it.
            online_cpus: if n > 0 {
                n
            } else {
                s.cpu_stats
                    .as_ref()
                    .and_then(|c| c.cpu_usage.as_ref())
                    .and_then(|u| u.percpu_usage.as_ref())
                    .map_or(1, |v| u32::try_from(v.len()).unwrap_or(1))
            },
        }),
        _ => None,
    };
    let (memory_used, memory_limit) = s.memory_stats.as_ref().map_or((0, 0), |m| {
        (
            memory_in_use(m.usage.unwrap_or(0), &m.stats.clone().unwrap_or_default()),
            m.limit.unwrap_or(0),
        )
    });
    let (net_rx, net_tx) = s.networks.as_ref().map_or((0, 0), |n| {
        n.values().fold((0, 0), |(rx, tx), v| {
            (rx + v.rx_bytes.unwrap_or(0), tx + v.tx_bytes.unwrap_or(0))
        })
    });
    let (block_read, block_write) = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .map_or((0, 0), |entries| {
            entries.iter().fold((0, 0), |(r, w), e| {
                match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("read") => (r + e.value.unwrap_or(0), w),
                    Some("write") => (r, w + e.value.unwrap_or(0)),
                    _ => (r, w),
                }
            })
        });
    let throttling = s
        .cpu_stats
        .as_ref()
        .and_then(|c| c.throttling_data.as_ref())
        .map_or_else(Throttling::default, |t| Throttling {
            periods: t.periods.unwrap_or(0),
            throttled_periods: t.throttled_periods.unwrap_or(0),
            throttled_ns: t.throttled_time.unwrap_or(0),
        });
    StatsSample {
        id: s.id.unwrap_or_default(),
        throttling,
        cpu,
        memory_used,
        memory_limit,
        net_rx,
        net_tx,
        block_read,
        block_write,
    }
}

pub(super) fn create_body(spec: ContainerSpec) -> ContainerCreateBody {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &spec.ports {
        bindings
            .entry(format!("{}/{}", p.container_port, p.protocol))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.to_string()),
                // 0: the engine picks a free port (a foreground run's forwarded ports).
                host_port: Some(if p.host_port == 0 {
                    String::new()
                } else {
                    p.host_port.to_string()
                }),
            });
    }
    let mut exposed: Vec<String> = bindings.keys().cloned().collect();
    exposed.sort();
    let mounts = spec
        .mounts
        .into_iter()
        .map(|m| bollard::models::Mount {
            typ: Some(match m.kind {
                MountKind::Volume => MountType::VOLUME,
                MountKind::Bind => MountType::BIND,
            }),
            source: Some(m.source),
            target: Some(m.target),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let r = spec.resources;
    ContainerCreateBody {
        image: Some(spec.image),
        hostname: spec.hostname,
        env: Some(spec.env),
        cmd: spec.cmd,
        entrypoint: spec.entrypoint,
        user: spec.user,
        labels: Some(spec.labels),
        exposed_ports: if exposed.is_empty() {
            None
        } else {
            Some(exposed)
        },
        stop_timeout: spec.stop_timeout,
        host_config: Some(HostConfig {
            port_bindings: if bindings.is_empty() {
                None
            } else {
                Some(bindings)
            },
            mounts: Some(mounts),
            cpu_shares: r.cpu_shares,
            nano_cpus: r.nano_cpus,
            memory: r.memory,
            memory_reservation: r.memory_reservation,
            init: spec.init.then_some(true),
            security_opt: spec
                .no_new_privileges
                .then(|| vec!["no-new-privileges:true".to_string()]),
            cap_drop: (!spec.cap_drop.is_empty()).then_some(spec.cap_drop),
            cap_add: (!spec.cap_add.is_empty()).then_some(spec.cap_add),
            network_mode: spec.network.as_ref().map(|n| n.name.clone()),
            ..Default::default()
        }),
        networking_config: spec.network.map(|n| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                n.name,
                EndpointSettings {
                    aliases: Some(n.aliases),
                    ..Default::default()
                },
            )])),
        }),
        ..interactive(spec.stdin, spec.tty)
    }
}

/// `docker run -i` (stdin open, closed when the attached writer closes it) and `-t`.
fn interactive(stdin: bool, tty: bool) -> ContainerCreateBody {
    ContainerCreateBody {
        open_stdin: stdin.then_some(true),
        stdin_once: stdin.then_some(true),
        attach_stdin: stdin.then_some(true),
        tty: tty.then_some(true),
        ..Default::default()
    }
}

/// One frame of a multiplexed output stream (the logs API's or an attach's) as our chunk.
pub fn chunk(item: Result<LogOutput, BollardError>) -> Result<LogChunk, BollardError> {
    Ok(match item? {
        LogOutput::StdErr { message } => LogChunk {
            stderr: true,
            bytes: message,
        },
        LogOutput::StdOut { message }
        | LogOutput::Console { message }
        | LogOutput::StdIn { message } => LogChunk {
            stderr: false,
            bytes: message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::split_reference;
    use super::{Throttling, container, listed_state, running_container, stats_sample};
    use crate::engine::{PublishedPort, RunningContainer, State};
    use bollard::models::ContainerSummaryStateEnum;

    fn inspected(state: &str) -> crate::engine::Container {
        let json = format!(
            r#"{{"Id": "abc", "Name": "/p-web", "Image": "sha256:web", "RestartCount": 2,
                "State": {state},
                "Config": {{"Labels": {{"dev.pinshare.config-hash": "h1"}}}},
                "NetworkSettings": {{"Networks": {{"p_net": {{"IPAddress": "172.18.0.5"}}, "none": {{"IPAddress": ""}}}}}}}}"#
        );
        container(serde_json::from_str(&json).expect("json"))
    }

    #[test]
    fn inspections_become_containers_whose_state_reads_as_docker_derives_it() {
        let running = inspected(r#"{"Status": "running", "Running": true}"#);
        assert_eq!(running.state, State::Running);
        assert_eq!(
            (running.id.as_str(), running.name.as_str()),
            ("abc", "p-web")
        );
        assert_eq!(running.config_hash(), Some("h1"));
        assert_eq!(running.restart_count, 2);
        assert_eq!(running.ip_on("p_net"), "172.18.0.5".parse().ok());
        assert_eq!(running.ip_on("none"), None);
        // A paused container still runs, as Docker's State.Running says.
        let paused = inspected(r#"{"Status": "paused", "Running": true, "Paused": true}"#);
        assert!(paused.is_running() && paused.is_paused());
        let oom = inspected(
            r#"{"Status": "exited", "Running": false, "ExitCode": 137, "OOMKilled": true}"#,
        );
        assert_eq!(
            oom.state,
            State::Exited {
                code: 137,
                oom: true
            }
        );
        assert!(!oom.is_running() && oom.oom_killed());
        let created = inspected(r#"{"Status": "created", "Running": false, "ExitCode": 0}"#);
        assert_eq!(created.state, State::Created);
    }

    #[test]
    fn summaries_become_running_containers_with_their_published_ports() {
        let json = r#"[
            {"Id": "abc", "Names": ["/pinshare-ipfs"], "Labels": {"dev.pinshare.project": "pinshare"},
             "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5001, "PublicPort": 5001, "Type": "tcp"},
                       {"PrivatePort": 8080, "Type": "tcp"},
                       {"IP": "::", "PrivatePort": 4001, "PublicPort": 4001, "Type": "udp"}]},
            {"Id": "def", "Ports": [{"PrivatePort": 80, "Type": "tcp"}]}
        ]"#;
        let list: Vec<bollard::models::ContainerSummary> =
            serde_json::from_str(json).expect("json");
        let list: Vec<RunningContainer> = list.into_iter().map(running_container).collect();
        assert_eq!(list[0].name, "pinshare-ipfs");
        assert_eq!(list[0].labels["dev.pinshare.project"], "pinshare");
        assert_eq!(
            list[0].ports,
            vec![
                PublishedPort {
                    ip: Some("127.0.0.1".into()),
                    port: 5001,
                    udp: false
                },
                PublishedPort {
                    ip: Some("::".into()),
                    port: 4001,
                    udp: true
                },
            ]
        );
        assert_eq!(
            list[1].name, "def",
            "a container without a name is named by its id"
        );
        assert!(list[1].ports.is_empty());
    }

    #[test]
    fn references_split_into_repo_and_tag() {
        assert_eq!(
            split_reference("ipfs/kubo:v0.39.0"),
            ("ipfs/kubo".into(), "v0.39.0".into())
        );
        assert_eq!(
            split_reference("ipfs/kubo"),
            ("ipfs/kubo".into(), "latest".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app:1"),
            ("localhost:5000/app".into(), "1".into())
        );
    }

    #[test]
    fn listed_states_become_typed_states_with_the_exit_code_of_the_status_text() {
        assert_eq!(
            listed_state(Some(ContainerSummaryStateEnum::RUNNING), "Up 3 minutes"),
            State::Running
        );
        assert_eq!(
            listed_state(
                Some(ContainerSummaryStateEnum::EXITED),
                "Exited (3) 2 minutes ago"
            ),
            State::Exited {
                code: 3,
                oom: false
            }
        );
        assert_eq!(
            listed_state(Some(ContainerSummaryStateEnum::EXITED), "odd"),
            State::Exited {
                code: -1,
                oom: false
            }
        );
        assert_eq!(
            listed_state(Some(ContainerSummaryStateEnum::CREATED), "Created"),
            State::Created
        );
        assert_eq!(listed_state(None, ""), State::Dead);
    }

    #[test]
    fn a_stats_answer_keeps_the_cfs_throttling_counters() {
        let s: bollard::models::ContainerStatsResponse = serde_json::from_str(
            r#"{"id": "c1", "memory_stats": {"usage": 100, "limit": 200, "stats": {"inactive_file": 10}},
                "cpu_stats": {"cpu_usage": {"total_usage": 5}, "system_cpu_usage": 9, "online_cpus": 2,
                  "throttling_data": {"periods": 40, "throttled_periods": 12, "throttled_time": 830000000}}}"#,
        )
        .expect("a stats answer");
        let sample = stats_sample(s);
        assert_eq!(
            sample.throttling,
            Throttling {
                periods: 40,
                throttled_periods: 12,
                throttled_ns: 830_000_000
            }
        );
        assert_eq!((sample.memory_used, sample.memory_limit), (90, 200));
    }
}
