//! `run` against the offline demo on the real engine: a one-off container from a service's image, with the
//! service's environment and volumes, its dependencies started first unless `--no-deps`, its exit code passed
//! through, and removed afterwards — by `down` when the tool was killed mid-run.

mod common;

use std::time::Duration;

use common::{Project, docker_ok, poll};

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn one_offs(p: &Project) -> Vec<String> {
    docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.pinshare.project={}", p.name),
        "--filter",
        "label=dev.pinshare.oneoff=true",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn run_passes_the_exit_code_sees_env_and_volumes_and_leaves_nothing() {
    let p = Project::offline_copy("run_oneoff");
    // --no-deps: kubo has none anyway; the env of the spec and of -e, and the named volume, are there.
    let o = p.run(&[
        "run",
        "--no-deps",
        "-e",
        "EXTRA=given",
        "--entrypoint",
        "sh",
        "ipfs",
        "--",
        "-c",
        "echo \"$IPFS_PROFILE|$EXTRA\"; echo kept > /data/ipfs/marker; echo oops >&2; exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "server|given\n",
        "{}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("oops"),
        "{}",
        text(&o)
    );
    assert!(one_offs(&p).is_empty(), "the one-off is removed afterwards");
    // The file went to the project's named volume: the next one-off reads it.
    let o = p.run(&[
        "run",
        "--entrypoint",
        "cat",
        "ipfs",
        "--",
        "/data/ipfs/marker",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "kept\n");
    assert!(p.labelled_containers().is_empty(), "nothing is left");
}

#[test]
fn run_starts_the_dependencies_first_unless_no_deps() {
    let p = Project::offline_copy("run_deps");
    // The app double's `crash N` exits N; with --no-deps nothing else is started.
    let o = p.run(&["run", "--no-deps", "pinshare", "--", "crash", "5"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(
        p.labelled_containers().is_empty(),
        "--no-deps started something: {}",
        text(&o)
    );

    let o = p.run(&["run", "pinshare", "--", "crash", "4"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    // kubo was started and waited for: it runs now, as the service's container.
    assert_eq!(p.inspect("ipfs", "{{.State.Running}}"), "true");
    assert!(text(&o).contains("ready in"), "{}", text(&o));
    assert!(one_offs(&p).is_empty());
}

#[test]
fn a_one_off_left_by_a_killed_run_is_not_the_service_and_down_removes_it() {
    let p = Project::offline_copy("run_killed");
    let mut running = p.spawn(&[
        "run",
        "--no-deps",
        "--entrypoint",
        "sh",
        "ipfs",
        "--",
        "-c",
        "echo started; sleep 300",
    ]);
    running.wait_for("started", 1, Duration::from_secs(120));
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    assert_eq!(
        one_offs(&p).len(),
        1,
        "the SIGKILLed run left its container"
    );

    // `ps` does not take it for the service's container.
    let ps = p.run_ok(&["ps", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(ps.trim()).expect("json");
    let ipfs = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "ipfs")
        .unwrap();
    assert_eq!(ipfs["state"], "absent", "{ps}");

    p.run_ok(&["down"]);
    poll("the one-off removed", Duration::from_secs(30), || {
        one_offs(&p).is_empty().then_some(())
    });
}

#[test]
fn ctrl_c_stops_and_removes_the_one_off() {
    let p = Project::offline_copy("run_ctrl_c");
    let running = p.spawn(&[
        "run",
        "--no-deps",
        "--entrypoint",
        "sh",
        "ipfs",
        "--",
        "-c",
        "echo started; sleep 300",
    ]);
    running.wait_for("started", 1, Duration::from_secs(120));
    assert_eq!(one_offs(&p).len(), 1);
    assert_eq!(running.interrupt(), Some(130));
    assert!(one_offs(&p).is_empty(), "Ctrl-C removed the one-off");
}

#[test]
fn run_forwards_stdin_and_gives_a_tty_when_stdin_and_stdout_are_terminals() {
    use std::io::Write;
    let p = Project::offline_copy("run_stdin");
    // Piped: our stdin is the command's, closed at its end (so `cat` finishes), and no TTY.
    let mut child = p
        .cmd(&[
            "run",
            "--no-deps",
            "--entrypoint",
            "sh",
            "ipfs",
            "--",
            "-c",
            "cat; test -t 0 || echo no-tty; exit 5",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"from the host\n").expect("written");
    drop(stdin);
    let o = child.wait_with_output().expect("run ends");
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "from the host\nno-tty\n",
        "{}",
        text(&o)
    );
    // A TTY when stdin and stdout are terminals: `script` gives the tool a pseudo-terminal on both.
    let inner = format!(
        "{} -f {} run --no-deps --entrypoint sh ipfs -- -c 'test -t 0 && test -t 1 && echo tty-yes; exit 3'",
        env!("CARGO_BIN_EXE_pinshare-dev"),
        p.spec.display()
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("tty-yes"), "no TTY inside: {}", text(&o));
    // `script -e` exits with the child's code, which is the command's.
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        one_offs(&p).is_empty(),
        "the one-offs are removed afterwards"
    );
}
