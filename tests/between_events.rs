//! What happens between the events the run reacts to: a save made while `up` is still starting, what a killed
//! `up` left beside its containers. Each test here failed before the run looked again (issue 19).

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

#[test]
fn a_save_made_while_up_is_starting_is_built_and_served_once_start_up_is_over() {
    let p = Project::offline_copy("startsave");
    let up = p.spawn(&["up"]);
    // The app's container runs the old build and is not ready yet: its image was built before this save.
    up.wait_for(
        &format!("pinshare » started {}", p.container("pinshare")),
        1,
        LONG,
    );
    std::fs::write(p.ctx().join("app/VERSION"), "during-start-up\n").expect("write");
    up.wait_for("all services ready", 1, LONG);
    poll("the save made during start-up served", LONG, || {
        (version(&p) == "during-start-up").then_some(())
    });
    // The timing line comes once the old container is stopped, a moment after the new one serves.
    up.wait_for("pinshare » rebuilt in", 1, LONG);
    assert_eq!(
        up.count("pinshare » rebuilt in"),
        1,
        "one rebuild for the one save: {}",
        up.text()
    );
    assert_eq!(up.interrupt(), Some(130));
}

#[test]
fn a_killed_up_leaves_nothing_doubled_the_next_up_keeps_one_container_per_service() {
    let p = Project::offline_copy("killedswap");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    // Killed while the swap's new container runs beside the old one.
    std::fs::write(p.ctx().join("app/VERSION"), "v2\n").expect("write");
    up.wait_for("starting alongside build", 1, LONG);
    let pid = up.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    drop(up);
    let left = p.labelled_names();
    assert!(
        left.iter().any(|n| n.ends_with("-next")),
        "the kill came while the new container ran beside the old one: {left:?}"
    );

    p.run_ok(&["up", "--detach"]);
    let mut want = vec![p.container("ipfs"), p.container("pinshare")];
    want.sort();
    assert_eq!(
        p.labelled_names(),
        want,
        "one container per service after the next up"
    );
    assert_eq!(version(&p), "v2", "the newest build serves");
}

/// Issue 19: "the next save after a swap does not wait for the old container's stop". PinShare takes a second
/// to stop (its handler saves the metadata, then sleeps one second before it exits: the double keeps
/// `cmd/pinshare/app.go`'s shutdown), so a save made as a swap moves traffic used to wait that second before it
/// was even looked at. Now the old container stops in the background while the next change is built; its
/// timing line still comes only once it is gone, so nothing reaches the old build by name after it.
#[test]
fn a_save_right_after_a_swap_is_built_while_the_old_container_stops() {
    let p = Project::offline_copy("saveafterswap");
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, LONG);
    std::fs::write(p.ctx().join("app/VERSION"), "v2\n").expect("write");
    up.wait_for("pinshare » build", 1, LONG);
    up.wait_for("serves now; stopping build", 1, LONG);
    std::fs::write(p.ctx().join("app/VERSION"), "v3\n").expect("write");
    up.wait_for("pinshare » rebuilt in", 2, LONG);
    poll("the second save served", LONG, || {
        (version(&p) == "v3").then_some(())
    });
    let text = up.text();
    let swap = text
        .find("serves now; stopping build")
        .expect("the first swap's line");
    let first_timing = text
        .find("pinshare » rebuilt in")
        .expect("first timing line");
    let second_change = text[swap..]
        .find("VERSION changed")
        .map(|i| swap + i)
        .unwrap_or_else(|| panic!("the second save's line after the first swap:\n{text}"));
    assert!(
        second_change < first_timing,
        "the second save is taken while the first swap's old container stops, before its timing line:\n{text}"
    );
    assert_eq!(up.count("pinshare » rebuilt in"), 2, "{text}");
    let names = p.labelled_names();
    assert_eq!(
        names.iter().filter(|n| n.contains("pinshare")).count(),
        1,
        "one app container once both swaps are over: {names:?}"
    );
    assert_eq!(up.interrupt(), Some(130));
}
