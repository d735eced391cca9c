//! Live progress on a terminal: a build is one live line per service (the step under way, the elapsed time)
//! that collapses into its summary; piped, or with `--progress plain`, every builder line is printed as before;
//! a failed build prints its full output either way. The pseudo-terminal is util-linux `script`.

mod common;

use std::process::Command;

use common::Project;

/// Runs `pinshare-dev <args>` on a pseudo-terminal; returns (exit code, everything it wrote).
fn on_terminal(p: &Project, args: &[&str]) -> (Option<i32>, String) {
    let mut line = format!(
        "{} -f {}",
        env!("CARGO_BIN_EXE_pinshare-dev"),
        p.spec.display()
    );
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux script runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A project of its own (context, image tags), so every run below really builds the app.
fn project(test: &str) -> Project {
    Project::offline_copy(test)
}

/// Whether the builder's own lines were printed: BuildKit's `#3 [1/7] COPY …` (or the classic builder's
/// `Step 1/13 : …`).
fn has_builder_lines(text: &str) -> bool {
    text.lines().any(|l| {
        l.contains("» build: Step 1/")
            || l.split_once("» build: #")
                .is_some_and(|(_, rest)| rest.contains(" [1/"))
    })
}

fn touch_app(p: &Project, n: u32) {
    std::fs::write(p.ctx().join("app/VERSION"), format!("progress-{n}\n")).expect("VERSION");
}

#[test]
fn on_a_terminal_a_build_is_one_live_line_piped_it_is_every_line() {
    let p = project("progress");
    touch_app(&p, 1);
    let (code, tty) = on_terminal(&p, &["up", "--detach"]);
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        !tty.contains("» build: "),
        "no raw builder lines on a terminal:\n{tty}"
    );
    assert!(
        tty.contains("building pinshare-test/") && tty.contains(": step "),
        "the live line names the step:\n{tty}"
    );
    assert!(
        tty.contains("\x1b[J"),
        "live lines are erased and drawn again"
    );
    assert!(
        tty.contains("built pinshare-test/"),
        "one summary line:\n{tty}"
    );
    p.run_ok(&["down"]);

    touch_app(&p, 2);
    let piped = p.run_ok(&["up", "--detach"]);
    assert!(has_builder_lines(&piped), "piped: every line:\n{piped}");
    assert!(
        !piped.contains("\x1b["),
        "piped: no terminal control:\n{piped}"
    );
    p.run_ok(&["down"]);

    touch_app(&p, 3);
    let (code, plain) = on_terminal(&p, &["--progress", "plain", "up", "--detach"]);
    assert_eq!(code, Some(0), "{plain}");
    assert!(has_builder_lines(&plain), "--progress plain:\n{plain}");
    assert!(
        !plain.contains("\x1b[J"),
        "--progress plain: no live lines:\n{plain}"
    );
    p.run_ok(&["down"]);
}

#[test]
fn a_failed_build_prints_its_full_output_on_a_terminal_too() {
    let p = project("progress-fail");
    let dockerfile = p.ctx().join("app/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("Dockerfile");
    std::fs::write(
        &dockerfile,
        text.replace("COPY app/VERSION", "COPY app/no-such-file"),
    )
    .expect("Dockerfile");
    let (code, tty) = on_terminal(&p, &["up", "--detach"]);
    assert_eq!(code, Some(1), "{tty}");
    assert!(has_builder_lines(&tty), "the full output:\n{tty}");
    assert!(tty.contains("no-such-file"), "the error:\n{tty}");
    let piped = p.run(&["up", "--detach"]);
    let piped = String::from_utf8_lossy(&piped.stdout).into_owned()
        + &String::from_utf8_lossy(&piped.stderr);
    assert!(has_builder_lines(&piped), "{piped}");
    assert!(piped.contains("no-such-file"), "{piped}");
}

/// The app's build with a host command of `script` (a shell line) before the image build.
fn with_host_build(p: &Project, script: &str) {
    p.edit_spec(|s| {
        s.replace(
            "dockerfile = \"app/Dockerfile\" }",
            &format!(
                "dockerfile = \"app/Dockerfile\", host_command = [\"sh\", \"-c\", \"{script}\"] }}"
            ),
        )
    });
}

#[test]
fn on_a_terminal_a_host_build_is_one_live_line_and_a_failed_one_prints_all_it_said() {
    let p = project("hostlive");
    with_host_build(&p, "echo compiling-one; echo compiling-two >&2");
    let (code, tty) = on_terminal(&p, &["up", "--detach"]);
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        !tty.contains("» host build: compiling-one")
            && !tty.contains("» host build: compiling-two"),
        "no raw host build lines on a terminal:\n{tty}"
    );
    assert!(tty.contains("pinshare » host build done in"), "{tty}");
    p.run_ok(&["down"]);

    // Piped: every line as it comes.
    p.edit_spec(|s| s.replace("echo compiling-one;", "echo compiling-one; true;"));
    let piped = p.run_ok(&["up", "--detach"]);
    assert!(
        piped.contains("pinshare » host build: compiling-one"),
        "{piped}"
    );
    assert!(
        piped.contains("pinshare » host build: compiling-two"),
        "{piped}"
    );
    p.run_ok(&["down"]);

    // A failure prints what the command said, whole, on a terminal too.
    p.edit_spec(|s| s.replace("echo compiling-two >&2", "echo it-broke >&2; exit 3"));
    let (code, tty) = on_terminal(&p, &["up", "--detach"]);
    assert_eq!(code, Some(1), "{tty}");
    assert!(
        tty.contains("pinshare » host build: compiling-one"),
        "{tty}"
    );
    assert!(tty.contains("pinshare » host build: it-broke"), "{tty}");
    assert!(tty.contains("failed (exit status: 3)"), "{tty}");
}
