//! Rebuild on save, live update, spec reload and `rebuild` against the real engine. Each test edits its own
//! copy of the offline build context.

mod common;

use std::time::Duration;

use common::{Project, http, poll};

const LONG: Duration = Duration::from_secs(180);

fn version(p: &Project) -> String {
    http("GET", p.app_port, "/version", &[], b"").map_or_else(
        |e| format!("<no answer: {e}>"),
        |r| r.body.trim().to_string(),
    )
}

fn write(p: &Project, rel: &str, text: &str) {
    std::fs::write(p.ctx().join(rel), text).expect("write");
}

#[test]
fn editing_the_app_serves_the_new_build_and_kubo_is_untouched_while_logs_follow_the_swap() {
    let p = Project::offline_copy("rebuild");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    assert_eq!(version(&p), "v1");
    let kubo = p.inspect("ipfs", "{{.Id}} {{.State.StartedAt}}");
    let follower = p.spawn(&["logs", "-f", "pinshare"]);
    follower.wait_for("listening on", 1, LONG);

    write(&p, "app/VERSION", "v2\n");
    up.wait_for("pinshare » rebuilt in", 1, LONG);
    assert_eq!(version(&p), "v2");
    assert_eq!(
        p.inspect("ipfs", "{{.Id}} {{.State.StartedAt}}"),
        kubo,
        "kubo must not be restarted by an app change"
    );
    assert!(
        !up.text().contains("ipfs     » app/VERSION changed"),
        "an app file is not kubo's business: {}",
        up.text()
    );
    let text = up.text();
    let line = text
        .lines()
        .find(|l| l.contains("rebuilt in"))
        .expect("timing line");
    for stage in ["detect ", "build ", "start ", "ready ", "swap "] {
        assert!(line.contains(stage), "{line}");
    }
    // The foreground run swaps start-first and says which build serves (tests/swap.rs: with no gap).
    assert!(
        text.contains("starting alongside build") && text.contains("serves now; stopping build"),
        "{text}"
    );

    // `logs -f pinshare`, started before the rebuild, follows into the new container.
    follower.wait_for("stand-in v2 listening", 1, LONG);
    let f = follower.text();
    assert!(
        f.contains("— replaced: old container exited with code 0; new one runs image sha256:"),
        "{f}"
    );
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn fifty_writes_in_a_second_give_one_rebuild_and_ignored_files_none() {
    let p = Project::offline_copy("burst");
    std::fs::write(p.ctx().join(".gitignore"), "*.log\n").expect("write");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let builds_before = up.count("pinshare » building");

    // The writes come every 15 ms; on a loaded machine a sleep can overrun the 100 ms quiet period, and then the
    // burst really was two: count the gaps that did, so the assertion is about what was written, not luck. The
    // debouncer's own 10 ms and its 5 ms tick come off the 100 ms: a gap from 80 ms on counts as a quiet one.
    let mut last = std::time::Instant::now();
    let mut quiet_gaps = 0;
    for i in 0..50 {
        write(&p, "app/VERSION", &format!("burst-{i}\n"));
        if i > 0 && last.elapsed() >= Duration::from_millis(80) {
            quiet_gaps += 1;
        }
        last = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(15));
    }
    let bursts = 1 + quiet_gaps;
    // Traffic moves at "serves now" and the timing line follows the old container's stop: a burst that gave two
    // rebuilds may serve burst-49 before the second's "rebuilt in", which the sentinel's wait would then take.
    poll("burst-49 served and its swap done", LONG, || {
        let rebuilt = up.count("pinshare » rebuilt in");
        (rebuilt >= 1
            && version(&p) == "burst-49"
            && up.count("serves now; stopping build") == rebuilt)
            .then_some(())
    });
    let rebuilt = up.count("pinshare » rebuilt in");
    assert!(
        (1..=bursts).contains(&rebuilt),
        "{rebuilt} rebuilds for {bursts} burst(s):\n{}",
        up.text()
    );

    // Ignored by .dockerignore (`**` keeps only what the image copies) and by .gitignore: nothing happens.
    std::fs::write(p.ctx().join("app/src/notes.md"), "x").expect("write");
    std::fs::write(p.ctx().join("app/src/debug.log"), "x").expect("write");
    std::fs::write(p.ctx().join("app/src/.main.rs.swp"), "x").expect("write");
    let explain = p.run_ok(&[
        "watch",
        "--explain",
        &p.ctx().join("app/src/notes.md").display().to_string(),
        &p.ctx().join("app/src/debug.log").display().to_string(),
        &p.ctx().join("app/VERSION").display().to_string(),
    ]);
    assert!(
        explain.contains("notes.md: ignored for pinshare by app/Dockerfile.dockerignore: `**`"),
        "{explain}"
    );
    assert!(
        explain.contains("debug.log: ignored for pinshare by") && explain.contains("`*.log`"),
        "{explain}"
    );
    assert!(explain.contains("VERSION: triggers pinshare"), "{explain}");

    // A sentinel change: if the burst or the ignored files had queued more builds, they would come first.
    write(&p, "app/VERSION", "sentinel\n");
    up.wait_for("pinshare » rebuilt in", rebuilt + 1, LONG);
    assert_eq!(version(&p), "sentinel");
    assert_eq!(
        up.count("pinshare » rebuilt in"),
        rebuilt + 1,
        "{}",
        up.text()
    );
    assert_eq!(
        up.count("pinshare » building") - builds_before,
        rebuilt + 1,
        "{}",
        up.text()
    );
    assert!(
        !up.text().contains("notes.md changed") && !up.text().contains("debug.log changed"),
        "{}",
        up.text()
    );
}

/// Adds the app's Dockerfile to its watch paths.
fn watch_dockerfile(p: &Project) {
    let version = p.ctx().join("app/VERSION").display().to_string();
    let dockerfile = p.ctx().join("app/Dockerfile").display().to_string();
    p.edit_spec(|s| {
        s.replace(
            &format!("\"{version}\"]"),
            &format!("\"{version}\", \"{dockerfile}\"]"),
        )
    });
}

#[test]
fn a_failed_build_leaves_the_old_container_serving_and_a_fix_recovers() {
    let p = Project::offline_copy("buildfail");
    // A host build that fails like a compiler on a syntax error.
    p.edit_spec(|s| {
        s.replace(
            "dockerfile = \"app/Dockerfile\" }",
            &format!("dockerfile = \"app/Dockerfile\", host_workdir = \"{}\", host_command = [\"sh\", \"-c\", \"if grep -q SYNTAX-ERROR app/VERSION; then echo 'error: expected `;`' >&2; exit 1; fi\"] }}", p.ctx().display()),
        )
    });
    watch_dockerfile(&p);
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let app = p.inspect("pinshare", "{{.Id}}");

    write(&p, "app/VERSION", "SYNTAX-ERROR\n");
    up.wait_for(
        "build failed, the running container was left serving",
        1,
        LONG,
    );
    assert!(
        up.text().contains("host build: error: expected `;`"),
        "{}",
        up.text()
    );
    // `rebuild` reports the failure; the loop around it does not say it again.
    assert_eq!(up.count("rebuild failed"), 0, "{}", up.text());
    assert_eq!(
        http("GET", p.app_port, "/health", &[], b"")
            .expect("app")
            .status,
        200
    );
    assert_eq!(version(&p), "v1");
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app);

    // A Dockerfile error: the same.
    let dockerfile = std::fs::read_to_string(p.ctx().join("app/Dockerfile")).expect("read");
    std::fs::write(
        p.ctx().join("app/Dockerfile"),
        format!("{dockerfile}\nCOPY no/such/file /x\n"),
    )
    .expect("write");
    write(&p, "app/VERSION", "v2\n");
    up.wait_for(
        "build failed, the running container was left serving",
        2,
        LONG,
    );
    assert_eq!(
        http("GET", p.app_port, "/health", &[], b"")
            .expect("app")
            .status,
        200
    );
    assert_eq!(version(&p), "v1");
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app);

    // Fixing the file recovers.
    std::fs::write(p.ctx().join("app/Dockerfile"), dockerfile).expect("write");
    up.wait_for("pinshare » rebuilt in", 1, LONG);
    assert_eq!(version(&p), "v2");
}

/// Gives the app a live update that syncs its VERSION file into the container, with `rest` after the sync rule.
fn live_update(p: &Project, rest: &str) {
    let version = p.ctx().join("app/VERSION").display().to_string();
    p.edit_spec(|s| {
        s.replace(
            "watch = { paths =",
            &format!(
                "live_update = {{ sync = [{{ from = \"{version}\", to = \"/opt/pinshare/VERSION\" }}], {rest} }}\nwatch = {{ paths ="
            ),
        )
    });
}

#[test]
fn live_update_syncs_without_an_image_build_and_fall_back_on_rebuilds() {
    let p = Project::offline_copy("live");
    let ctx = p.ctx();
    live_update(
        &p,
        &format!(
            "restart = false, fall_back_on = [\"{}\"]",
            ctx.join("app/Dockerfile").display()
        ),
    );
    watch_dockerfile(&p);
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let image = p.inspect("pinshare", "{{.Image}}");
    let id = p.inspect("pinshare", "{{.Id}}");
    let builds = up.count("pinshare » building");

    write(&p, "app/VERSION", "live-1\n");
    up.wait_for("pinshare » live-updated in", 1, LONG);
    assert_eq!(version(&p), "live-1");
    assert_eq!(p.inspect("pinshare", "{{.Image}}"), image, "no image build");
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), id, "same container");
    assert_eq!(up.count("pinshare » building"), builds, "{}", up.text());

    // An editor's save burst (truncate and write half, the rest 15 ms later, the mtime 15 ms after that) is
    // one copy, of what was saved last.
    let path = ctx.join("app/VERSION");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(b"live").expect("write");
        f.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(15));
        f.write_all(b"-2\n").expect("write");
        std::thread::sleep(Duration::from_millis(15));
        f.set_modified(std::time::SystemTime::now()).expect("touch");
    }
    up.wait_for("pinshare » live-updated in", 2, LONG);
    // Anything the burst would still set off shows within a second.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(up.count("pinshare » live-updated in"), 2, "{}", up.text());
    assert_eq!(version(&p), "live-2");

    // A change listed in fall_back_on is a full rebuild.
    let dockerfile = std::fs::read_to_string(ctx.join("app/Dockerfile")).expect("read");
    std::fs::write(
        ctx.join("app/Dockerfile"),
        format!("{dockerfile}\nLABEL rebuilt=yes\n"),
    )
    .expect("write");
    up.wait_for("full rebuild:", 1, LONG);
    up.wait_for("pinshare » rebuilt in", 1, LONG);
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), id);
}

#[test]
fn spec_edits_reconcile_only_what_changed_and_broken_edits_change_nothing() {
    let p = Project::offline_copy("reload");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let app = p.inspect("pinshare", "{{.Id}}");
    let kubo = p.inspect("ipfs", "{{.Id}}");
    let origin = [("Origin", "http://localhost:4000")];
    assert_eq!(
        http("POST", p.kubo_api, "/api/v0/id", &origin, b"")
            .expect("kubo")
            .status,
        403
    );

    // A broken edit: the error with its location, and everything keeps running.
    let good = std::fs::read_to_string(&p.spec).expect("spec");
    std::fs::write(
        &p.spec,
        good.replace("depends_on = [\"ipfs\"]", "depends_on = [\"ipfss\"]"),
    )
    .expect("write");
    up.wait_for("unknown service `ipfss` in depends_on", 1, LONG);
    assert!(
        up.text().contains("pinshare.toml:")
            && up.text().contains(
                "1 error in the spec; the edit was not applied, everything keeps running as it was"
            ),
        "{}",
        up.text()
    );
    assert!(
        !up.text().contains("nothing was changed"),
        "said twice: {}",
        up.text()
    );
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), kubo);
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app);
    assert_eq!(
        http("GET", p.app_port, "/health", &[], b"")
            .expect("app")
            .status,
        200
    );

    // A new CORS origin: only kubo is recreated (its init step writes the new key).
    std::fs::write(
        &p.spec,
        good.replace(
            "\"http://localhost:3000\"]",
            "\"http://localhost:3000\", \"http://localhost:4000\"]",
        ),
    )
    .expect("write");
    up.wait_for("ipfs     » ready", 2, LONG);
    let r = http("POST", p.kubo_api, "/api/v0/id", &origin, b"").expect("kubo");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://localhost:4000")
    );
    assert_ne!(p.inspect("ipfs", "{{.Id}}"), kubo);
    assert_eq!(
        p.inspect("pinshare", "{{.Id}}"),
        app,
        "the app container is unchanged"
    );
}

#[test]
fn rebuild_from_another_terminal_swaps_the_app_only() {
    let p = Project::offline_copy("manual");
    p.run_ok(&["up", "--detach"]);
    let kubo = p.inspect("ipfs", "{{.Id}}");
    write(&p, "app/VERSION", "manual\n");
    let out = p.run_ok(&["rebuild", "pinshare"]);
    assert!(out.contains("pinshare » rebuilt in"), "{out}");
    assert_eq!(version(&p), "manual");
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), kubo);
    let again = p.run_ok(&["rebuild", "pinshare"]);
    assert!(again.contains("container kept"), "{again}");
    // --force swaps it all the same.
    let app = p.inspect("pinshare", "{{.Id}}");
    let forced = p.run_ok(&["rebuild", "pinshare", "--force"]);
    assert!(forced.contains("pinshare » rebuilt in"), "{forced}");
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), app, "{forced}");
    assert_eq!(version(&p), "manual");
    assert_eq!(p.inspect("ipfs", "{{.Id}}"), kubo);
    let bad = p.run(&["rebuild", "ipfss"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("known services: ipfs, pinshare"));
}

#[test]
fn a_live_update_restart_in_place_is_not_taken_for_a_crash() {
    let p = Project::offline_copy("liverestart");
    live_update(&p, "restart = true");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let id = p.inspect("pinshare", "{{.Id}}");

    write(&p, "app/VERSION", "in-place\n");
    up.wait_for("pinshare » live-updated in", 1, LONG);
    // The restarted process prints its banner again, and the follower keeps following the same container.
    up.wait_for("pinshare | — restarted in place (exit", 1, LONG);
    up.wait_for("stand-in vin-place listening", 1, LONG);
    assert_eq!(version(&p), "in-place");
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), id, "the same container");
    let text = up.text();
    assert!(!text.contains("restarting in"), "not a crash: {text}");
    assert!(!text.contains("not restarted"), "not a crash: {text}");
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn rebuild_with_nothing_running_says_the_project_is_not_up_and_leaves_no_container() {
    let p = Project::offline_copy("rebuild-not-up");
    let out = p.run(&["rebuild", "pinshare"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("project {} is not up", p.name)) && err.contains(" up"),
        "{err}"
    );
    assert!(!err.contains("not found"), "{err}");
    assert_eq!(p.labelled_containers(), Vec::<String>::new(), "no orphan");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("building"),
        "nothing is built for nothing: {stdout}"
    );
}

#[test]
fn a_spec_edit_of_kubo_config_only_runs_no_host_build() {
    let p = Project::offline("kuboconfig-only");
    p.private_tags();
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    let app = p.inspect("pinshare", "{{.Id}}");
    let builds = up.count("» host build: cargo");
    p.edit_spec(|s| s.replace("\"http://localhost:3000\"]", "\"http://localhost:3001\"]"));
    up.wait_for("ipfs     » configuration changed; recreating", 1, LONG);
    // Its first "ready in … after start", then the reconcile's "ready".
    up.wait_for("ipfs     » ready", 2, LONG);
    assert_eq!(
        up.count("» host build: cargo"),
        builds,
        "no input of a host build changed:\n{}",
        up.text()
    );
    assert_eq!(p.inspect("pinshare", "{{.Id}}"), app, "the app is kept");
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn watch_explain_of_the_offline_demo_covers_the_spec_and_both_dockerfiles() {
    // Issue 23 item 8: the spec was "not under any watched path" though `up` reloads it, and the app's
    // Dockerfile was not watched while kubo's was.
    let dir = common::offline_dir();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .arg("-f")
        .arg(dir.join("pinshare.toml"))
        .args(["watch", "--explain"])
        .args(["pinshare.toml", "app/Dockerfile", "kubo/Dockerfile"].map(|f| dir.join(f)))
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    let d = dir.display();
    for line in [
        format!("{d}/pinshare.toml: the spec: a change reloads it"),
        format!("{d}/app/Dockerfile: triggers pinshare"),
        format!("{d}/kubo/Dockerfile: triggers ipfs"),
    ] {
        assert!(out.contains(&line), "no `{line}` in:\n{out}");
    }
}
