//! Issue 8's acceptance, against the doubles that keep the real images' contracts, once with the kubo double built
//! as v0.39.0 and once as v0.42.0: `up --detach` gets ready, the app's /health answers through kubo, CORS from the
//! host gives 200/403, the liveness probe never fails for 60 s, and the app's peer id survives a rebuild and a
//! `down` + `up`. And a repo left root-owned — the directory, or a 0600 config in a writable directory (the seed's
//! bug) — ends ready with no `permission denied`, without a container per config key.

mod common;

use std::time::Duration;

use common::{Project, docker, docker_ok, http, poll};

/// The empty directory's CID: `dag stat` of it is what kubo's image checked up to v0.41 (kubo v0.39.0
/// `Dockerfile` HEALTHCHECK).
const EMPTY_DIR: &str = "/ipfs/QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

/// The offline project with the kubo double built as `version`, its liveness the one that exists there, checked
/// every 100 ms and failing at the first miss.
fn project_as(test: &str, version: &str) -> Project {
    let p = Project::offline_copy(test);
    p.edit_spec(|s| {
        let s = s.replace(
            "dockerfile = \"kubo/Dockerfile\" }",
            &format!("dockerfile = \"kubo/Dockerfile\", args = {{ KUBO_VERSION = \"{version}\" }} }}"),
        );
        let liveness = if version.starts_with("0.39") {
            format!(
                "liveness = {{ exec = [\"ipfs\", \"--api=/ip4/127.0.0.1/tcp/5001\", \"dag\", \"stat\", \"{EMPTY_DIR}\"], period = \"100ms\", failure_threshold = 1 }}"
            )
        } else {
            "liveness = { exec = [\"ipfs\", \"--api=/ip4/127.0.0.1/tcp/5001\", \"diag\", \"healthy\"], period = \"100ms\", failure_threshold = 1 }".to_string()
        };
        s.replace(
            "liveness = { exec = [\"ipfs\", \"--api=/ip4/127.0.0.1/tcp/5001\", \"diag\", \"healthy\"], period = \"10s\" }",
            &liveness,
        )
    });
    p
}

fn kubo_version(p: &Project) -> String {
    let r = http("POST", p.kubo_api, "/api/v0/version", &[], b"").expect("kubo answers");
    assert_eq!(r.status, 200, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    v["Version"].as_str().unwrap_or_default().to_string()
}

fn peer_id(p: &Project) -> String {
    let r = http("GET", p.app_port, "/p2p/status", &[], b"").expect("app answers");
    assert_eq!(r.status, 200, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    let id = v["id"].as_str().unwrap_or_default().to_string();
    assert!(!id.is_empty(), "{r:?}");
    id
}

fn health(p: &Project) -> u16 {
    http("GET", p.app_port, "/health", &[], b"")
        .map(|r| r.status)
        .unwrap_or(0)
}

/// The whole acceptance list for one kubo version.
fn the_offline_spec_comes_up_and_stays_up(test: &str, version: &str) {
    let p = project_as(test, version);
    let out = p.run_ok(&["up", "--detach"]);
    assert!(out.contains("ipfs     » ready in"), "{out}");
    assert!(out.contains("pinshare » ready in"), "{out}");
    // The image's entrypoint did the init, so kubo listens on 0.0.0.0 and the published port reaches it.
    assert!(
        out.contains("no repo yet: the image's entrypoint runs `ipfs init`"),
        "{out}"
    );
    assert_eq!(kubo_version(&p), version);
    assert_eq!(health(&p), 200, "the app's /health through kubo");
    common::assert_cors(p.kubo_api);
    // Only kubo's and the app's own containers were ever made: none per config key.
    let made = docker_ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=dev.pinshare.project={}", p.name),
    ]);
    let mut made: Vec<&str> = made.lines().collect();
    made.sort_unstable();
    assert_eq!(made, vec![p.container("ipfs"), p.container("pinshare")]);

    // The peer id lives in identity.key in the working directory, the data volume.
    let id = peer_id(&p);
    let app = p.inspect("pinshare", "{{.Id}}");
    std::fs::write(p.ctx().join("app/VERSION"), "v2\n").expect("write");
    let out = p.run_ok(&["rebuild", "pinshare"]);
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), app, "rebuilt: {out}");
    poll("the rebuilt app's /health", Duration::from_secs(60), || {
        (health(&p) == 200).then_some(())
    });
    assert_eq!(peer_id(&p), id, "the peer id after a rebuild");
    p.run_ok(&["down"]);
    let again = p.run_ok(&["up", "--detach"]);
    assert!(again.contains("kubo config up to date"), "{again}");
    assert_eq!(peer_id(&p), id, "the peer id after down + up");

    // Liveness every 100 ms, failing at the first miss: 60 runs in a row, each seen by the engine to exit 0 (a
    // watch of 60 s at a 1 s period saw at most 60), and kubo is never replaced.
    let ipfs = p.inspect("ipfs", "{{.Id}}");
    let events = common::exec_events(&ipfs);
    let fg = p.spawn(&["up", "--no-watch"]);
    fg.wait_for("all services ready", 1, Duration::from_secs(60));
    let command = if version.starts_with("0.39") {
        format!("ipfs --api=/ip4/127.0.0.1/tcp/5001 dag stat {EMPTY_DIR}")
    } else {
        "ipfs --api=/ip4/127.0.0.1/tcp/5001 diag healthy".to_string()
    };
    poll("60 liveness runs of kubo", Duration::from_secs(180), || {
        let runs = common::exec_runs(&events, &command);
        assert!(
            runs.iter().flatten().all(|code| *code == 0) && fg.count("liveness failed") == 0,
            "a liveness failure on kubo {version}: exit codes {runs:?}\n{}",
            fg.text()
        );
        (runs.iter().flatten().count() >= 60).then_some(())
    });
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), ipfs, "{}", fg.text());
    assert_eq!(p.inspect("ipfs", "{{.RestartCount}}"), "0");
    assert_eq!(fg.interrupt(), Some(130));
}

#[test]
fn the_offline_spec_comes_up_and_stays_up_with_kubo_0_39() {
    the_offline_spec_comes_up_and_stays_up("kubo039", "0.39.0");
}

#[test]
fn the_offline_spec_comes_up_and_stays_up_with_kubo_0_42() {
    the_offline_spec_comes_up_and_stays_up("kubo042", "0.42.0");
}

/// Runs `program ARGS` as root in a throwaway container of the kubo double with the repo volume mounted.
fn as_root(p: &Project, vol: &str, program: &str, args: &[&str]) -> String {
    let image = format!("pinshare-test/{}-kubo:dev", p.name);
    let mount = format!("{vol}:/data/ipfs");
    let mut argv = vec![
        "run",
        "--rm",
        "--user",
        "0",
        "--entrypoint",
        program,
        "-v",
        &mount,
        &image,
    ];
    argv.extend(args);
    docker_ok(&argv)
}

/// The images built once, then the repo volume replaced by one a root `ipfs init` wrote — the seed's
/// one-container entrypoint did exactly this — its directory given to `dir_owner`.
fn root_initialised_repo(p: &Project, dir_owner: &str) -> String {
    p.run_ok(&["up", "--detach", "ipfs"]);
    p.run_ok(&["down", "--volumes"]);
    let vol = p.volume("ipfs-data");
    docker_ok(&[
        "volume",
        "create",
        "--label",
        &format!("dev.pinshare.project={}", p.name),
        &vol,
    ]);
    as_root(p, &vol, "/usr/local/bin/ipfs", &["init"]);
    as_root(p, &vol, "/bin/chown", &[dir_owner, "/data/ipfs"]);
    vol
}

/// Mode and owner of a path in the volume.
fn stat(p: &Project, vol: &str, path: &str) -> String {
    as_root(p, vol, "/bin/stat", &["-c", "%a %u:%g", path])
}

#[test]
fn a_root_owned_0600_config_in_a_writable_repo_is_repaired_and_kubo_comes_up() {
    let p = project_as("rootconfig", "0.42.0");
    // The directory stays writable by ipfs (as the image made it); the config is root's, 0600.
    let vol = root_initialised_repo(&p, "1000:100");
    assert_eq!(stat(&p, &vol, "/data/ipfs/config"), "600 0:0");
    assert_eq!(stat(&p, &vol, "/data/ipfs"), "755 1000:100");
    // The image's entrypoint leaves such a repo alone: unstarted by us, kubo fails exactly as in the seed.
    let broken = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data/ipfs"),
        &format!("pinshare-test/{}-kubo:dev", p.name),
    ]);
    let text = String::from_utf8_lossy(&broken.stderr);
    assert!(
        text.contains("Error: error loading plugins: open /data/ipfs/config: permission denied"),
        "{broken:?}"
    );

    let out = p.run_ok(&["up", "--detach"]);
    assert!(
        out.contains("/data/ipfs/config was owned by uid 0 (mode 600)"),
        "{out}"
    );
    assert_eq!(stat(&p, &vol, "/data/ipfs/config"), "600 1000:100");
    // A plain `ipfs init` listens on loopback: the addresses the entrypoint would have written are set too.
    assert!(
        out.contains("Addresses.API is \"/ip4/127.0.0.1/tcp/5001\""),
        "{out}"
    );
    assert_eq!(health(&p), 200);
    common::assert_cors(p.kubo_api);
    let logs = p.run_ok(&["logs", "ipfs"]);
    assert!(!logs.contains("permission denied"), "{logs}");
}

#[test]
fn a_root_owned_repo_directory_is_given_to_ipfs_by_the_entrypoint_and_kubo_comes_up() {
    let p = project_as("rootdir", "0.42.0");
    let vol = root_initialised_repo(&p, "0:0");
    assert_eq!(stat(&p, &vol, "/data/ipfs"), "755 0:0");

    let out = p.run_ok(&["up", "--detach"]);
    assert!(
        out.contains("/data/ipfs belongs to uid 0 and is not writable by 1000:100: the image's entrypoint gives it to ipfs"),
        "{out}"
    );
    assert_eq!(stat(&p, &vol, "/data/ipfs"), "755 1000:0");
    // `chown -R -- ipfs` (kubo bin/container_daemon) changes the owner only.
    assert!(stat(&p, &vol, "/data/ipfs/config").starts_with("600 1000:"));
    assert_eq!(health(&p), 200);
    common::assert_cors(p.kubo_api);
    let logs = p.run_ok(&["logs", "ipfs"]);
    assert!(logs.contains("Changing user to ipfs"), "{logs}");
    assert!(!logs.contains("permission denied"), "{logs}");
}

#[test]
fn ipfs_profile_and_the_swarm_key_work_as_with_docker_run_and_a_second_up_writes_nothing() {
    let p = project_as("profile", "0.42.0");
    let key = "/key/swarm/psk/1.0.0/\n/base16/\n5e0f1f3e4b8a9c2d7f6e5d4c3b2a19080706050403020100ffeeddccbbaa9988";
    p.edit_spec(|s| {
        s.replace(
            "env = { IPFS_PROFILE = \"server\" }",
            &format!(
                "env = {{ IPFS_PROFILE = \"server\", IPFS_SWARM_KEY = {} }}",
                serde_json::to_string(key).expect("json")
            ),
        )
    });
    p.run_ok(&["up", "--detach"]);
    let swarm_key = docker_ok(&["exec", &p.container("ipfs"), "cat", "/data/ipfs/swarm.key"]);
    assert_eq!(swarm_key, key.trim_end());
    // The server profile's address filters are in the config the entrypoint's `ipfs init` wrote.
    let filters = docker_ok(&[
        "exec",
        &p.container("ipfs"),
        "ipfs",
        "config",
        "Swarm.AddrFilters",
    ]);
    assert!(filters.contains("/ip4/10.0.0.0/ipcidr/8"), "{filters}");
    // Idempotent: recreated with an unchanged kubo_config, nothing is written again.
    p.edit_spec(|s| s.replace("stop_grace = \"5s\"", "stop_grace = \"6s\""));
    let again = p.run_ok(&["up", "--detach"]);
    assert!(again.contains("ipfs     » recreating"), "{again}");
    assert!(again.contains("kubo config up to date"), "{again}");
    common::assert_cors(p.kubo_api);
}
