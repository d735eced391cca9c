//! The bad-input suite: every `tests/bad_specs/*.toml` is a realistic spec with one defect. Each must exit 2 with
//! `error: FILE:LINE:COL: …` first and exactly the reviewed text of its snapshot
//! (`tests/bad_specs/snapshots/NAME.snap`), before any Docker call: DOCKER_HOST points at nothing, so a Docker call
//! would end in exit 1 and an engine error instead. HOME is the checkout and XDG_RUNTIME_DIR is unset, so the
//! host-mount specs (`~`, the home directory, the engine's sockets) read the same on every machine.
//!
//! New snapshots: `INSTA_UPDATE=always cargo test --test bad_specs`, then read every new `.snap` like code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DIR: &str = "tests/bad_specs";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every bad spec, by file name (`07-image-is-a-number.toml`), sorted.
fn bad_specs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(DIR))
        .expect("tests/bad_specs exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Runs the binary from the repository root on `tests/bad_specs/FILE`, so that errors name it as typed.
fn run(file: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .current_dir(repo())
        .arg("-f")
        .arg(format!("{DIR}/{file}"))
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .env("HOME", repo())
        .env_remove("XDG_RUNTIME_DIR")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("the binary runs")
}

/// stderr, with the absolute path of the checkout (in messages about missing paths) made stable.
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).replace(&repo().display().to_string(), "[REPO]")
}

#[test]
fn there_are_at_least_forty_bad_specs() {
    let n = bad_specs().len();
    assert!(n >= 40, "only {n} files in {DIR}");
}

#[test]
fn every_bad_spec_exits_2_with_its_location_and_the_reviewed_text() {
    let mut failures = Vec::new();
    for path in bad_specs() {
        let file = file_name(&path);
        let out = run(&file, &["check"]);
        let text = stderr(&out);
        let first = text.lines().next().unwrap_or_default();
        let location = format!("{DIR}/{file}:");
        if out.status.code() != Some(2) {
            failures.push(format!("{file}: exit {:?}\n{text}", out.status.code()));
        } else if !first.starts_with("error: ") || !first.contains(&location) {
            failures.push(format!("{file}: first line {first:?}"));
        } else if first
            .split(&location)
            .nth(1)
            .and_then(|rest| rest.split(": ").next())
            .is_none_or(|lc| {
                let mut parts = lc.split(':');
                !(parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
                    && parts.next().is_some_and(|c| c.parse::<u32>().is_ok()))
            })
        {
            failures.push(format!("{file}: no LINE:COL in {first:?}"));
        } else if !text.ends_with("in the spec; nothing was changed\n") {
            failures.push(format!("{file}: no summary line\n{text}"));
        }
        let name = file.trim_end_matches(".toml").to_string();
        insta::with_settings!({
            snapshot_path => "bad_specs/snapshots",
            prepend_module_to_snapshot => false,
            input_file => &path,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn up_refuses_a_bad_spec_before_any_docker_call() {
    // One of each family: syntax, type, unit, name, cycle, port, path, unknown key, unsafe setting, secret,
    // host mount.
    let chosen = [
        "unclosed-table-header",
        "env-value-is-a-number",
        "memory-2gb",
        "service-name-uppercase",
        "dependency-cycle-of-three",
        "host-port-used-by-two-services",
        "build-context-missing",
        "unknown-service-key",
        "cors-any-origin",
        "privileged",
        "rpc-api-on-every-interface",
        "secret-value-beside-an-error",
        "docker-socket",
        "host-root-relative",
        "home-directory",
    ];
    let files = bad_specs();
    for wanted in chosen {
        let path = files
            .iter()
            .find(|p| file_name(p).ends_with(&format!("-{wanted}.toml")))
            .unwrap_or_else(|| panic!("no bad spec named {wanted}"));
        let file = file_name(path);
        let check = stderr(&run(&file, &["check"]));
        let out = run(&file, &["up", "--detach"]);
        let up = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {up}");
        assert_eq!(up, check, "{file}: `up` says something else than `check`");
        assert!(
            !up.contains("connecting to the Docker engine"),
            "{file} touched Docker: {up}"
        );
    }
}

#[test]
fn no_secret_value_is_ever_shown() {
    for path in bad_specs() {
        let file = file_name(&path);
        let text = stderr(&run(&file, &["check"]));
        for secret in ["s3cr3t-pinshare-token", "ghp_s3cr3tvalue"] {
            assert!(!text.contains(secret), "{file} shows {secret}:\n{text}");
        }
    }
}

#[test]
fn the_socket_docker_host_names_and_its_directory_are_refused_without_a_connection_to_it() {
    // A listening socket that records every connection: DOCKER_HOST points at it, the spec mounts it (and the
    // directory holding it). A Docker call would leave a connection in its queue.
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("engine.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind the socket");
    listener.set_nonblocking(true).expect("non-blocking");
    let spec = dir.path().join("pinshare.toml");
    std::fs::write(
        &spec,
        format!(
            "[services.app]\nimage = \"app:1\"\nvolumes = [\"{}:/var/run/docker.sock\"]\n\n[services.tools]\nimage = \"tools:1\"\nvolumes = [\"{}:/engine:ro\"]\n",
            socket.display(),
            dir.path().display()
        ),
    )
    .expect("write the spec");
    for args in [&["check"][..], &["up", "--detach"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .arg("-f")
            .arg(&spec)
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", socket.display()))
            .env("NO_COLOR", "1")
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        let file = spec.display();
        assert!(
            text.contains(&format!("error: {file}:3:12: bind mount `{}` is the Docker engine's socket (DOCKER_HOST names it)", socket.display())),
            "{args:?}: {text}"
        );
        assert!(
            text.contains(&format!("error: {file}:7:12: bind mount `{}` contains the Docker engine's socket (DOCKER_HOST names it) ({})", dir.path().display(), socket.display())),
            "{args:?}: {text}"
        );
        assert!(
            text.ends_with("2 errors in the spec; nothing was changed\n"),
            "{text}"
        );
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{args:?} connected to DOCKER_HOST: {other:?}"),
        }
    }
}
