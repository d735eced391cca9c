//! `exec` against the offline demo on the real engine: the kubo double's busybox `sh` runs the commands. Piped,
//! stdout and stderr stay apart, stdin reaches the command and its exit code is the tool's; under util-linux
//! `script` (a pseudo-terminal on both ends) the command gets a TTY.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::Project;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn exec_runs_in_the_service_container_with_its_exit_code_streams_stdin_env_and_workdir() {
    let p = Project::offline_copy("exec");
    p.run_ok(&["up", "--detach"]);

    // The exit code passes through.
    let o = p.run(&["exec", "ipfs", "--", "sh", "-c", "exit 7"]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );

    // stdout and stderr are kept apart.
    let o = p.run(&[
        "exec",
        "ipfs",
        "--",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), "to-out\n");
    assert_eq!(text(&o.stderr), "to-err\n");

    // Piped stdin reaches the command, and its end ends `cat`. Not a TTY: stdin is a pipe.
    let mut child = p
        .cmd(&[
            "exec",
            "ipfs",
            "--",
            "sh",
            "-c",
            "test -t 0 || echo no-tty; cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "no-tty\nline one\nline two\n");

    // -e, -w and -u.
    let o = p.run(&[
        "exec",
        "-e",
        "GREETING=hello there",
        "-w",
        "/data/ipfs",
        "-u",
        "1000",
        "ipfs",
        "--",
        "sh",
        "-c",
        "echo \"$GREETING|$(pwd)|$(id -u)\"",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "hello there|/data/ipfs|1000\n");

    // A TTY when stdin and stdout are terminals: `script` gives the tool a pseudo-terminal on both.
    let bin = env!("CARGO_BIN_EXE_pinshare-dev");
    let inner = format!(
        "{bin} -f {} exec ipfs -- sh -c 'test -t 0 && test -t 1 && echo tty-yes; exit 3'",
        p.spec.display()
    );
    let o = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(
        out.contains("tty-yes"),
        "no TTY inside: {out}{}",
        text(&o.stderr)
    );
    // `script -e` exits with the child's code, which is the command's.
    assert_eq!(o.status.code(), Some(3), "{out}");
}

#[test]
fn exec_without_a_running_container_says_how_to_start_it_and_an_unknown_service_is_a_usage_error() {
    let p = Project::offline("exec_absent");
    let o = p.run(&["exec", "ipfs", "--", "true"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("service `ipfs`"), "{err}");
    assert!(
        err.contains("has no running container; start it with"),
        "{err}"
    );
    assert!(err.contains("up --detach ipfs"), "{err}");

    let o = p.run(&["exec", "ipfss", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no service `ipfss`"),
        "{}",
        text(&o.stderr)
    );
}
