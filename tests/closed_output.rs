//! A reader that stops reading (`up | head -5`, `stats | head -1`): the command stops as on Ctrl-C and exits
//! quietly, instead of running on for nobody (issue 23 item 4). Real engine, real pipes.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Project, poll};

/// The command under test; interrupted, then killed, if a failed assertion leaves it running.
struct Cmd(Child);

impl Drop for Cmd {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &self.0.id().to_string()])
                .status();
            let gone = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(200));
                matches!(self.0.try_wait(), Ok(Some(_)))
            });
            if !gone {
                let _ = self.0.kill();
            }
            let _ = self.0.wait();
        }
    }
}

/// Reads the child's stdout up to the first line containing `last`, then closes the pipe as `head -n` does.
fn read_then_close(child: &mut Child, last: &str) {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(
            out.read_line(&mut l).unwrap() > 0,
            "stdout ended after {lines:#?}"
        );
        let done = l.contains(last);
        lines.push(l);
        if done {
            return;
        }
    }
}

/// Waits for the child to exit; returns its exit code and stderr.
fn exit_of(child: &mut Child, what: &str) -> (Option<i32>, String) {
    let status = poll(what, Duration::from_secs(60), || child.try_wait().unwrap());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// A foreground `up` piped into a reader that closes once it has read `until` (at once when empty): the run
/// exits 0, says no error and leaves no container.
fn up_into_a_reader_that_stops(test: &str, until: &str) -> Project {
    let p = Project::offline_copy(test);
    let child = p
        .cmd(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Cmd(child);
    let child = &mut child.0;
    read_then_close(child, until);
    let (code, err) = exit_of(child, "`up` to exit after its reader stopped");
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("rror"), "no error spew: {err}");
    assert!(
        p.labelled_containers().is_empty(),
        "containers left: {:?}",
        p.labelled_containers()
    );
    p
}

#[test]
fn up_piped_into_a_reader_that_stops_during_start_up_exits_and_removes_its_containers() {
    up_into_a_reader_that_stops("pipe-up-early", "");
}

#[test]
fn up_piped_into_a_reader_that_stops_exits_and_removes_its_containers() {
    // Closed once the run is up and quiet: nothing more is written that could fail with EPIPE, so only a
    // watch on the pipe itself finds the reader gone.
    let p = up_into_a_reader_that_stops("pipe-up", "all services ready");
    assert!(
        !common::docker(&["network", "inspect", &format!("{}_net", p.name)])
            .status
            .success(),
        "the network is removed"
    );
}

#[test]
fn stats_piped_into_a_reader_that_stops_exits() {
    let p = Project::offline("pipe-stats");
    let child = p
        .cmd(&["stats"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Cmd(child);
    let child = &mut child.0;
    read_then_close(child, "SERVICE");
    let (code, err) = exit_of(child, "`stats` to exit after its reader stopped");
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("rror"), "no error spew: {err}");
}
