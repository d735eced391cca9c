//! A spec with a syntax error mid-edit (issue 23 item 5): `ps`, `logs` and `down` still find the project (its
//! name read leniently), say that the spec is broken, and work; `up` and `check` still refuse it with
//! FILE:LINE:COL and exit 2. Real engine.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use common::Project;

/// stdout, stderr and the exit code of `pinshare-dev -f SPEC ARGS`.
fn run(p: &Project, args: &[&str]) -> (String, String, Option<i32>) {
    let o = p.run(args);
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

#[test]
fn a_project_whose_spec_has_a_syntax_error_can_still_be_listed_and_torn_down() {
    let p = Project::offline_copy("broken-spec");
    p.run_ok(&["up", "--detach"]);
    assert_eq!(p.labelled_containers().len(), 2);
    // An edit half done: the closing bracket not typed yet.
    p.edit_spec(|s| s.replace("depends_on = [\"ipfs\"]", "depends_on = [\"ipfs\""));
    let warning = format!(
        "warning: {} does not load (1 error in the spec: {}:",
        p.spec.display(),
        p.spec.display()
    );

    for cmd in ["up", "check"] {
        let (_, err, code) = run(&p, &[cmd]);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(
            err.starts_with(&format!("error: {}:35:1: ", p.spec.display())),
            "{cmd}: {err}"
        );
    }

    let (out, err, code) = run(&p, &["ps"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.starts_with(&warning), "{err}");
    assert!(
        err.contains(&format!("`ps` acts on project {}", p.name)),
        "{err}"
    );
    for service in ["ipfs", "pinshare"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{service} ")) && l.contains(" running ")),
            "{service} listed as running: {out}"
        );
    }

    let (out, err, code) = run(&p, &["logs", "ipfs", "--tail", "5"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.starts_with(&warning), "{err}");

    let (out, err, code) = run(&p, &["down"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.starts_with(&warning), "{err}");
    assert!(
        p.labelled_containers().is_empty(),
        "containers left: {:?}\n{out}",
        p.labelled_containers()
    );
    assert_eq!(p.labelled_volumes().len(), 2, "volumes are kept: {out}");
}
