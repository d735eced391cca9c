//! Properties of `render compose` that docker-compose 1.29 depends on: start order by health and completed
//! repo preparation, and values YAML 1.1 would misread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn compose_waits_for_kubo_health_and_its_repo_preparation() {
    let text = compose(&offline(), None);
    assert!(text.contains(
        "    depends_on:\n      ipfs:\n        condition: service_healthy\n    init: true"
    ));
    assert!(text.contains(
        "    depends_on:\n      ipfs-kubo-config:\n        condition: service_completed_successfully"
    ));
    // One preparation container, as kubo's uid:gid, never root.
    assert_eq!(text.matches("user: 1000:100").count(), 1, "{text}");
    assert!(!text.contains("\nname:") && !text.contains("\nversion:"));
    // The app's healthcheck is its exec liveness probe (its HTTP readiness cannot run inside a scratch image).
    assert!(
        text.contains("      - /opt/pinshare/pinshare\n      - health\n"),
        "{text}"
    );
}

#[test]
fn compose_quotes_values_yaml_1_1_would_read_as_numbers() {
    let s = parse(&shipped().replace(
        "[services.pinshare]\n",
        "[services.pinshare]\nuser = \"1000:10\"\n",
    ));
    let text = compose(&s, None);
    // PyYAML (docker-compose 1.29) reads a plain 1000:10 as the base-60 integer 60010.
    let line = text
        .lines()
        .find(|l| l.contains("1000:10'") || l.contains("1000:10\"") || l.ends_with("1000:10"));
    assert_eq!(line.map(str::trim), Some("user: \"1000:10\""), "{text}");
}
