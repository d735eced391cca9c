//! Builds through BuildKit on the real engine: a `RUN --mount=type=cache` keeps its cache from one build to the
//! next (what makes a Go rebuild incremental), each step is printed per service, and the classic builder is used
//! — and said to be — when `PINSHARE_DEV_BUILDER=classic` asks for it.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{docker, docker_ok};

/// A one-service project around a context of its own, built `FROM` a busybox image made here.
struct BuildProject {
    name: String,
    dir: tempfile::TempDir,
    base: String,
    tag: String,
}

impl BuildProject {
    fn new(test: &str) -> Self {
        common::require_docker();
        common::build_standins();
        let name = format!("t-{test}-{}", std::process::id()).replace('_', "-");
        let dir = tempfile::tempdir().unwrap();
        // The base: the kubo double's static busybox as /bin/sh (the classic builder, so this helper needs no
        // BuildKit). Tags as the test helpers' sweep expects: pinshare-test/t-<test>-<pid>-<service>.
        let base = format!("pinshare-test/{name}-base:dev");
        let base_dir = dir.path().join("base");
        std::fs::create_dir_all(&base_dir).unwrap();
        let busybox = common::offline_dir().join("target/x86_64-unknown-linux-gnu/release/busybox");
        std::fs::copy(busybox, base_dir.join("busybox")).unwrap();
        std::fs::write(
            base_dir.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n",
        )
        .unwrap();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &base])
            .arg(&base_dir)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        assert!(out.status.success(), "base image: {out:?}");
        let p = BuildProject {
            tag: format!("pinshare-test/{name}-app:dev"),
            name,
            dir,
            base,
        };
        p.cleanup();
        p
    }

    fn ctx(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    /// Writes the context's Dockerfile and the spec (build arg STAMP = `stamp`).
    fn write(&self, dockerfile: &str, stamp: &str) {
        std::fs::create_dir_all(self.ctx()).unwrap();
        std::fs::write(
            self.ctx().join("Dockerfile"),
            dockerfile.replace("BASE", &self.base),
        )
        .unwrap();
        std::fs::write(
            self.spec(),
            format!(
                "[project]\nname = \"{}\"\n\n[services.app]\nimage = \"{}\"\nbuild = {{ context = \"app\", args = {{ STAMP = \"{stamp}\" }} }}\ncommand = [\"/bin/busybox\", \"sleep\", \"3600\"]\nstop_grace = \"1s\"\n",
                self.name, self.tag
            ),
        )
        .unwrap();
    }

    fn spec(&self) -> PathBuf {
        self.dir.path().join("pinshare.toml")
    }

    /// `up --detach` with extra environment: (success, stdout + stderr).
    fn up(&self, env: &[(&str, &str)]) -> (bool, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .arg("-f")
            .arg(self.spec())
            .args(["up", "--detach"])
            .env("NO_COLOR", "1")
            .env_remove("PINSHARE_DEV_BUILDER")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    }

    /// A file of the built image.
    fn cat(&self, path: &str) -> String {
        docker_ok(&["run", "--rm", &self.tag, "/bin/busybox", "cat", path])
    }

    fn cleanup(&self) {
        let label = format!("label=dev.pinshare.project={}", self.name);
        let ids = docker(&["ps", "-aq", "--filter", &label]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            docker(&["rm", "-f", "-v", id]);
        }
        for kind in ["network", "volume"] {
            let out = docker(&[kind, "ls", "-q", "--filter", &label]);
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                docker(&[kind, "rm", id]);
            }
        }
    }
}

impl Drop for BuildProject {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Appends STAMP to a file in a cache mount and copies the file into the image. The cache id is this test
/// process's, so no other build (or earlier run) shares it.
fn cache_dockerfile(id: &str) -> String {
    format!(
        "FROM BASE\nARG STAMP\nRUN --mount=type=cache,id={id},target=/cache \\\n    /bin/busybox sh -c 'echo \"$STAMP\" >> /cache/lines && /bin/busybox cp /cache/lines /lines'\n"
    )
}

/// The classic builder built the image (its `Step` lines, no BuildKit step) with its RUN step's line `stamp`.
fn assert_classic_build(p: &BuildProject, text: &str, stamp: &str) {
    // The classic builder adds each image label as a step of its own (three today), so the count is not fixed.
    assert!(
        text.lines()
            .any(|l| l.contains("» build: Step 1/") && l.contains(" : FROM ")),
        "no classic `Step 1/N : FROM` line in:\n{text}"
    );
    assert!(!text.contains("build: #"), "no BuildKit step: {text}");
    assert_eq!(p.cat("/lines").trim(), stamp);
}

fn assert_printed(text: &str, needle: &str) {
    assert!(
        text.lines().any(|l| l.contains(needle)),
        "no line with {needle:?} in:\n{text}"
    );
}

#[test]
fn a_cache_mount_keeps_its_contents_from_one_build_to_the_next() {
    let p = BuildProject::new("buildkit-cache");
    let id = format!("{}-cache", p.name);
    p.write(&cache_dockerfile(&id), "one");
    let (ok, text) = p.up(&[]);
    assert!(ok, "{text}");
    // BuildKit's steps, per service, and no word of the classic builder.
    assert_printed(&text, "» build: #");
    assert_printed(&text, "RUN --mount=type=cache");
    assert_printed(&text, " DONE ");
    assert!(!text.contains("classic builder"), "{text}");
    assert_eq!(p.cat("/lines").trim(), "one");

    // A new build arg re-runs the step; the cache mount still holds the first build's line.
    p.write(&cache_dockerfile(&id), "two");
    let (ok, text) = p.up(&[]);
    assert!(ok, "{text}");
    assert_eq!(p.cat("/lines").trim(), "one\ntwo");
    // The image carries its label, and the container runs the image the tag names (the id the build returned).
    let image_id = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &p.tag]);
    let label = docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"dev.pinshare.context-hash\"}}",
        &p.tag,
    ]);
    assert!(!label.trim().is_empty(), "context-hash label on {}", p.tag);
    let running = docker_ok(&["inspect", "-f", "{{.Image}}", &format!("{}-app", p.name)]);
    assert_eq!(running.trim(), image_id.trim());
}

#[test]
fn a_failed_step_is_shown_with_its_output_and_is_the_error() {
    let p = BuildProject::new("buildkit-fail");
    p.write(
        "FROM BASE\nRUN /bin/busybox sh -c 'echo compiling main.go; echo main.go:3:1: syntax error >&2; exit 3'\n",
        "one",
    );
    let (ok, text) = p.up(&[]);
    assert!(!ok, "{text}");
    assert_printed(&text, "» build: #");
    assert_printed(&text, "main.go:3:1: syntax error");
    let err = text
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{text}"));
    assert!(
        err.starts_with(&format!("error: building image {}: [", p.tag))
            && err.contains("exit code: 3"),
        "{err}"
    );
}

#[test]
fn the_classic_builder_is_used_when_asked_for_and_says_so() {
    let p = BuildProject::new("buildkit-classic");
    p.write(
        "FROM BASE\nARG STAMP\nRUN /bin/busybox sh -c 'echo \"$STAMP\" > /lines'\n",
        "classic",
    );
    let (ok, text) = p.up(&[("PINSHARE_DEV_BUILDER", "classic")]);
    assert!(ok, "{text}");
    assert_printed(
        &text,
        "» build: using the classic builder (PINSHARE_DEV_BUILDER=classic)",
    );
    assert_classic_build(&p, &text, "classic");

    // The classic builder has no mounts: the error says so, and what to change.
    let id = format!("{}-cache", p.name);
    p.write(&cache_dockerfile(&id), "mount");
    let (ok, text) = p.up(&[("PINSHARE_DEV_BUILDER", "classic")]);
    assert!(!ok, "{text}");
    assert_printed(&text, "the --mount option requires BuildKit");
    assert_printed(
        &text,
        "(PINSHARE_DEV_BUILDER=classic chose the classic builder: unset it to build with BuildKit)",
    );
}

#[test]
fn a_builder_value_that_is_not_one_is_refused_with_the_values() {
    let p = BuildProject::new("buildkit-badenv");
    p.write("FROM BASE\n", "x");
    let (ok, text) = p.up(&[("PINSHARE_DEV_BUILDER", "clasic")]);
    assert!(!ok, "{text}");
    assert_printed(
        &text,
        "PINSHARE_DEV_BUILDER=\"clasic\" is not a builder: use buildkit, classic or auto (unset: auto)",
    );
}

/// `tests/fixtures/no_buildkit_engine.py` in front of the real engine: it answers `/build?version=2` with 400
/// and has no `/session`, as an engine whose API has no BuildKit; everything else reaches the real engine.
struct NoBuildKitEngine {
    child: std::process::Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl NoBuildKitEngine {
    fn start() -> Self {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let mut child = Command::new("python3")
            .arg(common::repo().join("tests/fixtures/no_buildkit_engine.py"))
            .arg(&socket)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert_eq!(first.trim(), "listening");
        NoBuildKitEngine {
            child,
            socket,
            _dir: dir,
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Stops it; what it printed (one `refused …` line per refusal).
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let o = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for NoBuildKitEngine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_engine_without_buildkit_gets_the_classic_build_and_the_output_says_why() {
    let p = BuildProject::new("buildkit-missing");
    p.write(
        "FROM BASE\nARG STAMP\nRUN /bin/busybox sh -c 'echo \"$STAMP\" > /lines'\n",
        "no-buildkit",
    );
    let engine = NoBuildKitEngine::start();
    let (ok, text) = p.up(&[("DOCKER_HOST", &engine.host())]);
    let refused = engine.stop();
    assert!(ok, "{text}");
    assert!(
        refused.contains("refused POST ") && refused.contains("version=2"),
        "{refused}"
    );
    assert_printed(
        &text,
        "» build: BuildKit unavailable (the engine answered 400: buildkit not supported by daemon (the test's engine)); using the classic builder",
    );
    assert_classic_build(&p, &text, "no-buildkit");
}
