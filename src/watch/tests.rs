//! Tests of the watch rules: which service a path triggers, which rule ignores it, what is watched.

use super::*;

fn setup() -> (tempfile::TempDir, Spec) {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    for dir in ["app/src", "app/target/debug", "app/.git", "docs"] {
        std::fs::create_dir_all(p.join(dir)).expect("mkdir");
    }
    std::fs::write(p.join("app/Dockerfile"), "FROM scratch\n").expect("write");
    std::fs::write(p.join("app/.dockerignore"), "*.md\n!README.md\n").expect("write");
    std::fs::write(p.join(".gitignore"), "target/\n*.log\n").expect("write");
    std::fs::write(p.join("app/src/main.rs"), "fn main() {}").expect("write");
    let spec = "[services.ipfs]\nimage = \"kubo\"\n[services.app]\nbuild = { context = \"app\" }\nwatch = { paths = [\"app\"], ignore = [\"*.generated\", \"app/fixtures\"] }\n";
    std::fs::write(p.join("pinshare.toml"), spec).expect("write");
    let spec = crate::spec::load(&p.join("pinshare.toml")).expect("valid");
    (d, spec)
}

fn verdict(rules: &Rules, path: &Path) -> Vec<(String, Verdict)> {
    rules.classify(path, false)
}

#[test]
fn source_files_trigger_their_service_only() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    assert_eq!(
        verdict(&r, &d.path().join("app/src/main.rs")),
        vec![("app".into(), Verdict::Triggers)]
    );
    assert!(
        verdict(&r, &d.path().join("docs/x.md")).is_empty(),
        "outside every watch root"
    );
}

#[test]
fn ignore_rules_say_which_rule_matched() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    let why = |p: &str| match &verdict(&r, &d.path().join(p))[0].1 {
        Verdict::Ignored(w) => w.clone(),
        Verdict::Triggers => "triggers".into(),
    };
    assert!(
        why("app/target/debug/app").contains(".gitignore: `target/`"),
        "{}",
        why("app/target/debug/app")
    );
    assert!(why("app/server.log").contains("`*.log`"));
    assert_eq!(why("app/NOTES.md"), ".dockerignore: `*.md`");
    assert_eq!(why("app/README.md"), "triggers", "`!` re-includes");
    assert_eq!(why("app/.git/index"), "inside .git/");
    assert_eq!(why("app/src/.main.rs.swp"), "editor temporary file");
    assert_eq!(why("app/src/4913"), "editor temporary file");
    assert_eq!(why("app/src/main.rs~"), "editor temporary file");
    assert_eq!(why("app/src/x.generated"), "watch.ignore `*.generated`");
    assert_eq!(why("app/fixtures/a.json"), "watch.ignore `app/fixtures`");
}

#[test]
fn ignored_directories_get_no_watch() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    let dirs = r.directories();
    assert!(dirs.contains(&d.path().join("app/src")));
    assert!(
        !dirs
            .iter()
            .any(|p| p.starts_with(d.path().join("app/target"))),
        "{dirs:?}"
    );
    assert!(
        !dirs
            .iter()
            .any(|p| p.starts_with(d.path().join("app/.git"))),
        "{dirs:?}"
    );
}

#[test]
fn explain_names_the_service_or_the_rule() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    let e = r.explain(&d.path().join("app/src/main.rs"));
    assert!(e.ends_with("triggers app"), "{e}");
    let e = r.explain(&d.path().join("docs/x.md"));
    assert!(e.contains("not under any watched path"), "{e}");
}

#[test]
fn a_deleted_directory_is_judged_as_the_directory_it_was() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    // Gone from disk: `target/` matches only directories, so judging it as a file would make it trigger.
    let gone = d.path().join("app/src/target");
    let e = r.explain(&d.path().join("app/src/target/"));
    assert!(
        e.contains("ignored for app by") && e.contains("`target/`"),
        "{e}"
    );
    assert!(!was_dir(
        &EventKind::Remove(notify::event::RemoveKind::File),
        &gone,
        &BTreeSet::new()
    ));
    assert!(was_dir(
        &EventKind::Remove(notify::event::RemoveKind::Folder),
        &gone,
        &BTreeSet::new()
    ));
    // A rename away carries no kind: the directories seen before say what it was.
    let from = EventKind::Modify(notify::event::ModifyKind::Name(
        notify::event::RenameMode::From,
    ));
    assert!(was_dir(&from, &gone, &BTreeSet::from([gone.clone()])));
    assert!(!was_dir(&from, &gone, &BTreeSet::new()));
}

#[tokio::test]
async fn removing_an_ignored_directory_sends_no_change() {
    let (d, spec) = setup();
    std::fs::create_dir_all(d.path().join("app/src/target/debug")).expect("mkdir");
    std::fs::write(d.path().join("app/src/target/debug/x"), "x").expect("write");
    let rules = Arc::new(Rules::new(&spec));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _w = start(rules, Duration::from_millis(50), tx).expect("watching");
    std::fs::remove_dir_all(d.path().join("app/src/target")).expect("rm -rf");
    // A change after the removal: once its batch is in, the removal's batch (if any) was sent before or with it.
    std::fs::write(d.path().join("app/src/main.rs"), "fn main() { }").expect("write");
    let main = d.path().join("app/src/main.rs");
    let mut seen = BTreeSet::new();
    while !seen.contains(&main) {
        let c = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the edit of main.rs arrives")
            .expect("watcher alive");
        seen.extend(c.paths);
    }
    assert_eq!(
        seen,
        BTreeSet::from([main]),
        "the ignored directory's removal triggered"
    );
}

#[test]
fn image_only_services_are_never_watched() {
    let (_d, spec) = setup();
    let r = Rules::new(&spec);
    assert!(r.services.iter().all(|s| s.name != "ipfs"));
}

#[test]
fn a_services_dockerfile_and_dockerignore_trigger_it_though_watch_paths_leave_them_out() {
    let (d, _) = setup();
    let p = d.path();
    let text = "[services.app]\nbuild = { context = \"app\" }\nwatch = { paths = [\"app/src\"] }\n";
    std::fs::write(p.join("pinshare.toml"), text).expect("write");
    let spec = crate::spec::load(&p.join("pinshare.toml")).expect("valid");
    let r = Rules::new(&spec);
    for f in ["app/Dockerfile", "app/.dockerignore", "app/src/main.rs"] {
        assert_eq!(
            verdict(&r, &p.join(f)),
            vec![("app".into(), Verdict::Triggers)],
            "{f}"
        );
    }
    assert!(
        verdict(&r, &p.join("app/NOTES.md")).is_empty(),
        "not watched"
    );
    assert!(
        r.directories().contains(&p.join("app")),
        "the Dockerfile's directory is watched"
    );
}

#[test]
fn explain_calls_the_spec_file_the_spec_which_a_change_reloads() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    assert_eq!(
        r.explain(&d.path().join("pinshare.toml")),
        format!(
            "{}: the spec: a change reloads it (a service whose configuration changed is recreated)",
            d.path().join("pinshare.toml").display()
        )
    );
}

#[test]
fn the_watched_paths_are_listed_once_however_many_paths_are_outside() {
    let (d, spec) = setup();
    let r = Rules::new(&spec);
    let paths = ["docs/x.md", "docs/y.md", "app/src/main.rs"].map(|p| d.path().join(p));
    let e = r.explain_paths(&paths);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(
        lines[0].ends_with("docs/x.md: not under any watched path"),
        "{e}"
    );
    assert!(
        lines[1].ends_with("docs/y.md: not under any watched path"),
        "{e}"
    );
    assert!(lines[2].ends_with("triggers app"), "{e}");
    assert!(lines[3].starts_with("watched: "), "{e}");
    assert_eq!(e.matches("watched: ").count(), 1, "{e}");
    // All watched: no list.
    let e = r.explain_paths(&[d.path().join("app/src/main.rs")]);
    assert!(!e.contains("watched: "), "{e}");
}
