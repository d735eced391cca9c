//! `pinshare-dev init` in a PinShare checkout: the old Dockerfile is kept as Dockerfile-legacy, byte for
//! byte, and init refuses only when its own outputs exist. Needs no Docker.

use std::process::{Command, Output};

fn init(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .arg("init")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn init_in_a_pinshare_checkout_keeps_its_dockerfile_as_dockerfile_legacy_and_says_so() {
    let d = tempfile::tempdir().expect("tempdir");
    // The seed's Dockerfile: kubo inside, daemon backgrounded, sleeps.
    let legacy = b"FROM golang:latest as builder\nRUN go build -o pinshare .\nCMD ipfs daemon & sleep 60; pinshare\n";
    std::fs::write(d.path().join("Dockerfile"), legacy).expect("write");
    std::fs::write(d.path().join("main.go"), "package main\n").expect("write");
    std::fs::write(d.path().join("go.mod"), "module pinshare\n\ngo 1.24\n").expect("write");

    let o = init(d.path(), &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        !out.contains("note:"),
        "PinShare's own module: nothing to check: {out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("kept your ") && lines[0].contains("Dockerfile as "),
        "{out}"
    );
    assert!(lines[0].contains("Dockerfile-legacy (unchanged"), "{out}");
    for f in ["pinshare.toml", "Dockerfile", ".dockerignore"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("wrote ") && l.ends_with(f)),
            "{f}: {out}"
        );
    }
    assert_eq!(
        std::fs::read(d.path().join("Dockerfile-legacy")).expect("read"),
        legacy
    );
    assert_eq!(
        std::fs::read(d.path().join("main.go")).expect("read"),
        b"package main\n"
    );

    // Again: init's own files are there now; it refuses (exit 2), names them, and changes nothing.
    let o = init(d.path(), &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("pinshare.toml, Dockerfile, .dockerignore already in"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(d.path().join("Dockerfile-legacy")).expect("read"),
        legacy
    );

    // --force rewrites init's own files only; the legacy Dockerfile stays.
    let o = init(d.path(), &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("overwrote "), "{}", text(&o));
    assert_eq!(
        std::fs::read(d.path().join("Dockerfile-legacy")).expect("read"),
        legacy
    );

    // The written spec is valid.
    let o = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .args(["check"])
        .current_dir(d.path())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn init_with_force_still_keeps_a_foreign_dockerfile_when_dockerfile_legacy_is_taken() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("Dockerfile"), "theirs\n").expect("write");
    std::fs::write(d.path().join("Dockerfile-legacy"), "older\n").expect("write");
    let o = init(d.path(), &["--force"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("Dockerfile-legacy exists too"), "{out}");
    assert_eq!(
        std::fs::read(d.path().join("Dockerfile")).expect("read"),
        b"theirs\n"
    );
    assert_eq!(
        std::fs::read(d.path().join("Dockerfile-legacy")).expect("read"),
        b"older\n"
    );
    assert!(!d.path().join("pinshare.toml").exists());
}

#[test]
fn init_outside_pinshare_says_what_it_found_and_what_to_check() {
    // An empty directory: no go.mod.
    let d = tempfile::tempdir().expect("tempdir");
    let o = init(d.path(), &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "note: no go.mod in {}: this does not look like a PinShare checkout (Go module `pinshare`)",
            d.path().display()
        )),
        "{out}"
    );
    assert!(
        out.contains("adapt the Dockerfile and pinshare.toml's `build` and `watch.paths`"),
        "{out}"
    );
    assert!(d.path().join("pinshare.toml").exists());

    // Another Go module.
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        d.path().join("go.mod"),
        "// a service of ours\nmodule \"example.com/shop\" // the shop\n\ngo 1.24\n",
    )
    .expect("write");
    let o = init(d.path(), &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("declares module `example.com/shop`, not PinShare's `pinshare`"),
        "{out}"
    );
    assert!(out.contains("check that they fit this module"), "{out}");
    let notes = out.lines().filter(|l| l.starts_with("note:")).count();
    assert_eq!(notes, 1, "{out}");
}

#[test]
fn the_spec_init_writes_watches_its_dockerfile_and_the_spec_reloads() {
    // Issue 23 item 8: `watch --explain` said the spec and the Dockerfile were not under any watched path.
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("main.go"), "package main\n").expect("write");
    std::fs::write(d.path().join("go.mod"), "module x\n").expect("write");
    std::fs::write(d.path().join("go.sum"), "").expect("write");
    std::fs::create_dir(d.path().join("internal")).expect("mkdir");
    let o = init(d.path(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .args([
            "watch",
            "--explain",
            "pinshare.toml",
            "Dockerfile",
            ".dockerignore",
            "README.md",
        ])
        .current_dir(d.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let dir = d.path().display();
    for line in [
        format!("{dir}/pinshare.toml: the spec: a change reloads it"),
        format!("{dir}/Dockerfile: triggers pinshare"),
        format!("{dir}/.dockerignore: triggers pinshare"),
        format!("{dir}/README.md: not under any watched path"),
    ] {
        assert!(out.contains(&line), "no `{line}` in:\n{out}");
    }
}
