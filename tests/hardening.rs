//! Least privilege by default, against the doubles that keep the real images' needs: every container runs with
//! `no-new-privileges`; the app drops every capability; kubo keeps only CHOWN, DAC_OVERRIDE, KILL, SETGID and
//! SETUID, which its image's entrypoint uses as root (`chown -R` of a repo ipfs cannot write, then `gosu ipfs`),
//! which a root-run exec probe needs to read the 0600 config, and which tini needs to pass SIGTERM on. `security` relaxes it for one service.
//! The entrypoint's steps are kubo's own, ipfs/kubo v0.42.0 `bin/container_daemon` lines 7-12: as uid 0,
//! `gosu "$user" test -w "$repo" || chown -R -- "$user" "$repo"`, then `exec gosu "$user" "$0" "$@"`
//! (`Dockerfile`: `ENTRYPOINT ["/sbin/tini", "--", "/usr/local/bin/start_ipfs"]`, no `USER`).
//!
//! What the kernel applies is read from the host's `/proc` of the container's processes (the app's image has no
//! shell): `NoNewPrivs`, the uid, the bounding and effective capability sets.

mod common;

use common::{Project, docker_ok, http};

/// CHOWN (0), DAC_OVERRIDE (1), KILL (5), SETGID (6), SETUID (7) as a capability mask.
const KUBO_CAPS: &str = "00000000000000e3";
const NO_CAPS: &str = "0000000000000000";

/// `/proc/PID/status` fields and the command line of one process.
struct Proc {
    cmdline: String,
    status: String,
}

impl Proc {
    fn read(pid: &str) -> Proc {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        Proc { cmdline, status }
    }

    fn field(&self, name: &str) -> String {
        self.status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no {name} in {}", self.status))
    }
}

/// The container's processes from its init (docker-init, `init: true`) down its first children.
fn process_chain(p: &Project, service: &str) -> Vec<Proc> {
    let mut pid = p.inspect(service, "{{.State.Pid}}").trim().to_string();
    let mut chain = Vec::new();
    loop {
        chain.push(Proc::read(&pid));
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        match children.split_whitespace().next() {
            Some(c) => pid = c.to_string(),
            None => return chain,
        }
    }
}

/// The process whose command line starts with `needle` (docker-init's own names its child's).
fn find<'a>(chain: &'a [Proc], needle: &str) -> &'a Proc {
    chain
        .iter()
        .find(|p| p.cmdline.starts_with(needle))
        .unwrap_or_else(|| {
            panic!(
                "no process `{needle}` in {:?}",
                chain.iter().map(|p| &p.cmdline).collect::<Vec<_>>()
            )
        })
}

fn assert_serving(p: &Project) {
    let r = http("GET", p.app_port, "/health", &[], b"").expect("the app answers");
    assert_eq!(r.status, 200, "{r:?}");
    let r = http("POST", p.kubo_api, "/api/v0/id", &[], b"").expect("kubo answers");
    assert_eq!(r.status, 200, "{r:?}");
    common::assert_cors(p.kubo_api);
}

#[test]
fn every_container_gets_no_new_privileges_and_only_the_capabilities_its_image_needs() {
    let p = Project::offline_copy("hardening");
    let out = p.run_ok(&["up", "--detach"]);
    assert!(!out.contains("permission denied"), "{out}");
    assert_serving(&p);

    // What the engine was asked for.
    for service in ["ipfs", "pinshare"] {
        assert_eq!(
            p.inspect(service, "{{.HostConfig.SecurityOpt}}").trim(),
            "[no-new-privileges:true]",
            "{service}"
        );
        assert_eq!(
            p.inspect(service, "{{.HostConfig.CapDrop}}").trim(),
            "[ALL]",
            "{service}"
        );
    }
    assert_eq!(
        p.inspect("ipfs", "{{.HostConfig.CapAdd}}").trim(),
        "[CHOWN DAC_OVERRIDE KILL SETGID SETUID]"
    );
    assert_eq!(p.inspect("pinshare", "{{.HostConfig.CapAdd}}").trim(), "[]");

    // What the kernel applies. kubo: the entrypoint still switched to uid 1000 under no-new-privileges (a root
    // process's setuid() is not an exec of a setuid binary), and the daemon has no capability left.
    let kubo = process_chain(&p, "ipfs");
    let entrypoint = find(&kubo, "/usr/local/bin/start_ipfs");
    assert_eq!(entrypoint.field("Uid"), "0 0 0 0");
    assert_eq!(entrypoint.field("CapBnd"), KUBO_CAPS);
    let daemon = find(&kubo, "ipfs daemon --migrate=true");
    assert_eq!(daemon.field("Uid"), "1000 1000 1000 1000");
    assert_eq!(daemon.field("Gid"), "100 100 100 100");
    assert_eq!(daemon.field("CapEff"), NO_CAPS);
    assert_eq!(daemon.field("NoNewPrivs"), "1");
    let logs = p.run_ok(&["logs", "ipfs"]);
    assert!(logs.contains("Changing user to ipfs"), "{logs}");

    let app = process_chain(&p, "pinshare");
    let app = find(&app, "/opt/pinshare/pinshare");
    assert_eq!(app.field("Uid"), "1000 1000 1000 1000");
    assert_eq!(app.field("CapBnd"), NO_CAPS);
    assert_eq!(app.field("NoNewPrivs"), "1");

    // The liveness probe is an exec as root (kubo's image has no USER): with DAC_OVERRIDE it reads the 0600
    // config; without, it would fail like the seed: `error loading plugins: open /data/ipfs/config: permission
    // denied`.
    let c = p.container("ipfs");
    let health = docker_ok(&[
        "exec",
        &c,
        "ipfs",
        "--api=/ip4/127.0.0.1/tcp/5001",
        "diag",
        "healthy",
    ]);
    assert!(!health.contains("Error"), "{health}");
    let ps = p.run_ok(&["ps"]);
    assert_eq!(ps.matches(" ready ").count(), 2, "{ps}");

    // A stop reaches the daemon: kubo's tini (root) passes SIGTERM on to the uid-1000 daemon, which needs KILL
    // (kill(2) across uids). The daemon then shuts down and exits 0 (kubo v0.42.0 cmd/ipfs/util/signal.go,
    // cmd/ipfs/kubo/daemon.go); without KILL the signal is lost and the stop ends in SIGKILL, exit 137.
    docker_ok(&["stop", "-t", "20", &c]);
    assert_eq!(p.inspect("ipfs", "{{.State.ExitCode}}").trim(), "0");
    let logs = p.run_ok(&["logs", "ipfs"]);
    assert!(
        logs.contains("Received interrupt signal, shutting down..."),
        "{logs}"
    );
    p.run_ok(&["down", "--volumes"]);
}

#[test]
fn security_relaxes_the_defaults_for_one_service_only() {
    let p = Project::offline_copy("hardening-relax");
    p.edit_spec(|s| {
        s.replace(
            "[services.pinshare]\n",
            "[services.pinshare]\nsecurity = { no_new_privileges = false, capabilities = \"docker-default\" }\n",
        )
        .replace(
            "[services.ipfs]\n",
            "[services.ipfs]\nsecurity = { capabilities = [\"CHOWN\", \"DAC_OVERRIDE\", \"SETGID\", \"SETUID\", \"KILL\", \"NET_BIND_SERVICE\"] }\n",
        )
    });
    p.run_ok(&["up", "--detach"]);
    assert_serving(&p);
    assert_eq!(
        p.inspect("pinshare", "{{.HostConfig.SecurityOpt}}").trim(),
        "[]"
    );
    assert_eq!(
        p.inspect("pinshare", "{{.HostConfig.CapDrop}}").trim(),
        "[]"
    );
    let app = process_chain(&p, "pinshare");
    let app = find(&app, "/opt/pinshare/pinshare");
    assert_eq!(app.field("NoNewPrivs"), "0");
    // Docker's default set, not nothing.
    assert_ne!(app.field("CapBnd"), NO_CAPS);
    // kubo keeps no-new-privileges and gets exactly the list written.
    assert_eq!(
        p.inspect("ipfs", "{{.HostConfig.SecurityOpt}}").trim(),
        "[no-new-privileges:true]"
    );
    assert_eq!(
        p.inspect("ipfs", "{{.HostConfig.CapAdd}}").trim(),
        "[CHOWN DAC_OVERRIDE KILL NET_BIND_SERVICE SETGID SETUID]"
    );
    p.run_ok(&["down", "--volumes"]);
}
