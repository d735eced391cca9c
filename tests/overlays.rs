//! `-f` after the subcommand, and `-f base -f overlay`: later files override earlier ones key by key, and an
//! error points into the file that has it. `ps` talks to the real engine (nothing of the project runs).

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn bin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const BASE: &str = "[project]\nname = \"ovl\"\n\n[services.ipfs]\nimage = \"kubo:1\"\n\n[services.app]\nimage = \"app:1\"\ndepends_on = [\"ipfs\"]\n";

#[test]
fn check_lays_the_overlay_on_the_base_and_errors_point_into_the_file_that_has_them() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("base.toml"), BASE).unwrap();
    // The overlay adds a service the app now depends on (the array replaces the base's).
    std::fs::write(
        d.path().join("mock.toml"),
        "[services.mock]\nimage = \"mock:1\"\n\n[services.app]\ndepends_on = [\"mock\", \"ipfs\"]\n",
    )
    .unwrap();
    let o = bin(d.path(), &["check", "-f", "base.toml", "-f", "mock.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("3 services: app, ipfs, mock; start order ipfs → mock → app"),
        "{}",
        text(&o)
    );
    // Before the subcommand too, and mixed.
    let o = bin(d.path(), &["-f", "base.toml", "check", "-f", "mock.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("3 services"), "{}", text(&o));

    std::fs::write(
        d.path().join("bad.toml"),
        "# a bad overlay\n[services.app]\ndepends_on = [\"ipfss\"]\n",
    )
    .unwrap();
    let o = bin(d.path(), &["check", "-f", "base.toml", "-f", "bad.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("error: bad.toml:3:15: unknown service `ipfss` in depends_on"),
        "{}",
        text(&o)
    );
    std::fs::write(
        d.path().join("badbase.toml"),
        BASE.replace(
            "image = \"app:1\"",
            "image = \"app:1\"\nstop_grace = \"soon\"",
        ),
    )
    .unwrap();
    let o = bin(
        d.path(),
        &["check", "-f", "badbase.toml", "-f", "mock.toml"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("error: badbase.toml:9:"), "{}", text(&o));
}

#[test]
fn ps_takes_the_spec_after_the_subcommand() {
    common::require_docker();
    let d = tempfile::tempdir().unwrap();
    let name = format!("t-ovl-ps-{}", std::process::id());
    std::fs::write(
        d.path().join("spec.toml"),
        BASE.replace("name = \"ovl\"", &format!("name = \"{name}\"")),
    )
    .unwrap();
    let o = bin(d.path(), &["ps", "-f", "spec.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let services: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["service"].as_str())
        .collect();
    assert_eq!(services, ["ipfs", "app"]);
    // `logs -f` stays --follow (`nosuch` is a service, not a file); there the spec is `--file`.
    let o = bin(d.path(), &["logs", "--file", "spec.toml", "-f", "nosuch"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no service `nosuch`"), "{}", text(&o));
}
