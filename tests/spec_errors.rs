//! Bad specs exit 2 with FILE:LINE:COL before any Docker call. DOCKER_HOST points at nothing, so a Docker call
//! would fail with exit 1 and an engine error instead.

use std::process::Command;

struct Case {
    name: &'static str,
    spec: &'static str,
    location: &'static str,
    message: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "toml syntax",
        spec: "[services.ipfs\nimage = \"x\"\n",
        location: "pinshare.toml:1:15",
        message: "",
    },
    Case {
        name: "wrong type",
        spec: "[services.ipfs]\nimage = 5\n",
        location: "pinshare.toml:2:9",
        message: "invalid type",
    },
    Case {
        name: "unknown key",
        spec: "[services.ipfs]\nimage = \"x\"\nportz = []\n",
        location: "pinshare.toml:3:1",
        message: "unknown field `portz`",
    },
    Case {
        name: "unknown dependency",
        spec: "[services.app]\nimage = \"a\"\ndepends_on = [\"ipfs\"]\n",
        location: "pinshare.toml:3:15",
        message: "unknown service `ipfs` in depends_on",
    },
    Case {
        name: "cycle",
        spec: "[services.a]\nimage = \"a\"\ndepends_on = [\"b\"]\n\n[services.b]\nimage = \"b\"\ndepends_on = [\"a\"]\n",
        location: "pinshare.toml:7:15",
        message: "dependency cycle: a -> b -> a",
    },
    Case {
        name: "malformed port",
        spec: "[services.ipfs]\nimage = \"x\"\nports = [\"50x1:5001\"]\n",
        location: "pinshare.toml:3:10",
        message: "bad port mapping",
    },
    Case {
        name: "malformed memory",
        spec: "[services.ipfs]\nimage = \"x\"\nresources = { memory = \"2GB\" }\n",
        location: "pinshare.toml:3:24",
        message: "unknown memory unit",
    },
    Case {
        name: "malformed cpu",
        spec: "[services.ipfs]\nimage = \"x\"\nresources = { cpu_limit = \"1.5 cores\" }\n",
        location: "pinshare.toml:3:27",
        message: "bad cpu_limit",
    },
    Case {
        name: "duplicate host port",
        spec: "[services.a]\nimage = \"a\"\nports = [\"8080:80\"]\n[services.b]\nimage = \"b\"\nports = [\"8080:8080\"]\n",
        location: "pinshare.toml:6:10",
        message: "host port 8080 is already published by service `a` (line 3)",
    },
    Case {
        name: "missing image and build",
        spec: "[services.app]\nports = [\"9090:9090\"]\n",
        location: "pinshare.toml:1:11",
        message: "service `app` has neither `image` nor `build`",
    },
    Case {
        name: "missing build context",
        spec: "[services.app]\nbuild = { context = \"./nope\" }\n",
        location: "pinshare.toml:2:21",
        message: "build context `./nope` does not exist",
    },
];

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .current_dir(dir)
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs")
}

#[test]
fn every_bad_spec_exits_2_with_its_location_before_any_docker_call() {
    for case in CASES {
        for cmd in ["check", "up"] {
            let d = tempfile::tempdir().expect("tempdir");
            std::fs::write(d.path().join("pinshare.toml"), case.spec).expect("write");
            let out = run(
                d.path(),
                &[cmd, "--detach"][..if cmd == "up" { 2 } else { 1 }],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{} ({cmd}): {stderr}",
                case.name
            );
            let first = stderr.lines().next().unwrap_or("");
            assert!(
                first.starts_with(&format!("error: {}: ", case.location)),
                "{} ({cmd}): first line {first:?}\n{stderr}",
                case.name
            );
            assert!(
                first.contains(case.message),
                "{} ({cmd}): {first:?}",
                case.name
            );
            assert!(
                stderr.contains("nothing was changed"),
                "{}: {stderr}",
                case.name
            );
            assert!(
                !stderr.contains("Docker engine"),
                "{} touched Docker: {stderr}",
                case.name
            );
        }
    }
}

#[test]
fn spec_errors_show_the_source_line_with_a_caret_and_a_hint() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("pinshare.toml"), "[services.ipfs]\nimage = \"x\"\n\n[services.app]\nimage = \"a\"\ndepends_on = [\"ipfss\"]\n").expect("write");
    let out = run(d.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("depends_on = [\"ipfss\"]"), "{stderr}");
    assert!(stderr.contains("^") || stderr.contains("───"), "{stderr}");
    assert!(stderr.contains("help: other services: ipfs\n"), "{stderr}");
}

#[test]
fn check_accepts_both_shipped_specs() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for spec in ["pinshare.toml", "examples/offline/pinshare.toml"] {
        let out = run(repo, &["-f", spec, "check"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("start order ipfs → pinshare"));
    }
}

#[test]
fn spec_is_found_in_the_nearest_parent() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        d.path().join("pinshare.toml"),
        "[services.ipfs]\nimage = \"x\"\n",
    )
    .expect("write");
    std::fs::create_dir_all(d.path().join("a/b")).expect("mkdir");
    let out = run(&d.path().join("a/b"), &["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(d.path(), &["-f", "missing.toml", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn schema_is_json_naming_the_vocabulary() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = run(d.path(), &["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let text = v.to_string();
    for key in [
        "depends_on",
        "kubo_config",
        "readiness",
        "memory_limit",
        "host_command",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
}

#[test]
fn init_writes_the_embedded_files_and_they_validate() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = run(d.path(), &["init"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.path().join("Dockerfile").is_file());
    let out = run(d.path(), &["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = run(d.path(), &["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn unreachable_engine_is_a_clear_runtime_error() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        d.path().join("pinshare.toml"),
        "[services.ipfs]\nimage = \"x\"\n",
    )
    .expect("write");
    let out = run(d.path(), &["ps"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connecting to the Docker engine at unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("is Docker running?"), "{stderr}");
}
