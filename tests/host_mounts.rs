//! Host mounts against the real engine: without `allow_host_mounts` a mount of the host's `/etc` is refused
//! before anything is created; with it, `up` starts the container with the mount, says so in one warning line,
//! and `doctor` lists it. The image is busybox (static) in `FROM scratch`, so the test does not depend on the
//! offline stand-ins.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use common::Project;

/// The project's spec: one service mounting the host's `/etc` read-only, with or without the opt-in.
fn spec(p: &Project, allow: bool) -> String {
    let allow = if allow {
        "allow_host_mounts = [\"/etc\"]\n"
    } else {
        ""
    };
    format!(
        r#"[project]
name = "{name}"

[services.app]
image = "pinshare-test/{name}-app:dev"
build = {{ context = "ctx" }}
volumes = ["/etc:/host/etc:ro"]
{allow}readiness = {{ exec = ["/bin/busybox", "test", "-f", "/host/etc/passwd"] }}
stop_grace = "1s"
"#,
        name = p.name
    )
}

#[test]
fn an_opted_in_host_mount_starts_with_a_warning_and_is_refused_without_the_opt_in() {
    let p = Project::offline("host-mount");
    let ctx = p.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy("/bin/busybox", ctx.join("busybox")).expect("busybox-static is installed");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"sleep\", \"600\"]\n",
    )
    .unwrap();

    std::fs::write(&p.spec, spec(&p, false)).unwrap();
    let out = p.run(&["up", "--detach"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("bind mount `/etc` is the host's /etc"),
        "{text}"
    );
    assert!(
        text.contains("allow_host_mounts = [\"/etc\"] in [services.app]"),
        "{text}"
    );
    assert!(p.labelled_containers().is_empty(), "nothing is created");

    std::fs::write(&p.spec, spec(&p, true)).unwrap();
    let up = p.run_ok(&["up", "--detach"]);
    let warning = "warning: /etc:/host/etc:ro is the host's /etc: its configuration, password hashes and keys (allowed by allow_host_mounts)";
    let warnings: Vec<&str> = up.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{up}");
    assert!(
        warnings[0].starts_with("app") && warnings[0].ends_with(warning),
        "{up}"
    );
    assert_eq!(
        p.inspect(
            "app",
            "{{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}}{{end}}"
        ),
        "/etc:/host/etc:false"
    );

    let doctor = String::from_utf8_lossy(&p.run(&["doctor"]).stdout).to_string();
    assert!(
        doctor.contains(&format!(
            "warn mount   app: {}",
            &warning["warning: ".len()..]
        )),
        "{doctor}"
    );

    p.run_ok(&["down"]);
    assert!(p.labelled_containers().is_empty(), "down removes it");
}
