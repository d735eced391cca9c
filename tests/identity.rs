//! The app keeps its libp2p identity: `identity.key` is relative to PinShare's working directory, which the
//! image puts on the data volume (PinShare internal/app/app.go setupID; internal/config/config.go).

mod common;

use common::{Project, http};

fn peer_id(p: &Project) -> String {
    let r = http("GET", p.app_port, "/p2p/status", &[], b"").expect("app answers");
    assert_eq!(r.status, 200, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    let id = v["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("12D3KooW"), "{id}");
    id
}

#[test]
fn the_apps_peer_id_is_unchanged_after_a_rebuild_and_after_down_and_up() {
    let p = Project::offline_copy("peerid");
    p.run_ok(&["up", "--detach"]);
    let id = peer_id(&p);
    let first = p.inspect("pinshare", "{{.Id}}");

    std::fs::write(p.ctx().join("app/VERSION"), "v2\n").expect("write");
    p.run_ok(&["rebuild", "pinshare"]);
    assert_ne!(p.inspect("pinshare", "{{.Id}}"), first, "a new container");
    let version = http("GET", p.app_port, "/version", &[], b"").expect("app answers");
    assert_eq!(version.body.trim(), "v2", "the new build serves");
    assert_eq!(peer_id(&p), id, "same identity after a rebuild");

    p.run_ok(&["down"]);
    p.run_ok(&["up", "--detach"]);
    assert_eq!(peer_id(&p), id, "same identity after down + up");
    let logs = p.run_ok(&["logs", "pinshare"]);
    assert!(
        logs.contains("[INFO] Loaded identity from identity.key"),
        "{logs}"
    );

    p.run_ok(&["down", "--volumes"]);
}

/// Ids of the images built for `service` of the project (by label).
fn service_images(p: &Project, service: &str) -> Vec<String> {
    common::docker_ok(&[
        "image",
        "ls",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=dev.pinshare.project={}", p.name),
        "--filter",
        &format!("label=dev.pinshare.service={service}"),
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn rebuilds_keep_the_current_image_and_one_for_rollback_and_remove_the_rest() {
    // Issue 23 item 10: every rebuild kept one more superseded image.
    let p = Project::offline_copy("prune");
    p.run_ok(&["up", "--detach"]);
    let mut builds = vec![p.inspect("pinshare", "{{.Image}}")];
    for v in ["v2", "v3", "v4"] {
        std::fs::write(p.ctx().join("app/VERSION"), format!("{v}\n")).expect("write");
        let out = p.run_ok(&["rebuild", "pinshare"]);
        builds.push(p.inspect("pinshare", "{{.Image}}"));
        let n = builds.len();
        let mut want = vec![builds[n - 1].clone(), builds[n - 2].clone()];
        want.sort();
        let mut have = service_images(&p, "pinshare");
        have.sort();
        assert_eq!(
            have, want,
            "the current build and the one before it, after {v}:\n{out}"
        );
        if n > 2 {
            let short = &builds[n - 2].trim_start_matches("sha256:")[..12];
            assert!(
                out.contains(&format!(
                    "pinshare » removed 1 older image(s) of pinshare; kept build {short} for a rollback"
                )),
                "{out}"
            );
        }
    }
    assert_eq!(
        service_images(&p, "ipfs").len(),
        1,
        "kubo's image is not touched"
    );
}

#[test]
fn a_forced_rebuild_keeps_the_rollback_image_and_an_up_with_a_new_build_prunes_like_a_rebuild() {
    // A forced rebuild swaps the container but not the image: nothing was superseded, so the build kept for a
    // rollback stays (it was removed, and the run said it kept the current build "for a rollback"). An `up`
    // that recreates the app from a new build supersedes one as a rebuild does (it kept every build).
    let p = Project::offline_copy("prune-force-up");
    p.run_ok(&["up", "--detach"]);
    let first = p.inspect("pinshare", "{{.Image}}");
    std::fs::write(p.ctx().join("app/VERSION"), "v2\n").expect("write");
    p.run_ok(&["rebuild", "pinshare"]);
    let second = p.inspect("pinshare", "{{.Image}}");
    let pair = |a: &str, b: &str| {
        let mut v = vec![a.to_string(), b.to_string()];
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let out = p.run_ok(&["rebuild", "pinshare", "--force"]);
    assert_eq!(p.inspect("pinshare", "{{.Image}}"), second, "{out}");
    assert_eq!(
        sorted(service_images(&p, "pinshare")),
        pair(&first, &second),
        "the rollback build stays after a forced rebuild:\n{out}"
    );
    assert!(!out.contains("for a rollback"), "{out}");

    let mut builds = vec![first, second];
    for v in ["v3", "v4"] {
        std::fs::write(p.ctx().join("app/VERSION"), format!("{v}\n")).expect("write");
        let out = p.run_ok(&["up", "--detach"]);
        builds.push(p.inspect("pinshare", "{{.Image}}"));
        let n = builds.len();
        assert_eq!(
            sorted(service_images(&p, "pinshare")),
            pair(&builds[n - 1], &builds[n - 2]),
            "the current build and the one before it, after `up` of {v}:\n{out}"
        );
        let short = &builds[n - 2].trim_start_matches("sha256:")[..12];
        assert!(
            out.contains(&format!(
                "pinshare » removed 1 older image(s) of pinshare; kept build {short} for a rollback"
            )),
            "{out}"
        );
    }
    p.run_ok(&["down", "--volumes"]);
}
