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
