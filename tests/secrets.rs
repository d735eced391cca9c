//! Secret env values never reach the tool's output: foreground logs and events, `ps`, `ps --json`, `render`.
//! The container itself gets the real value.

mod common;

use std::time::Duration;

use common::{Project, docker_ok};

#[test]
fn secret_values_are_redacted_in_every_output_but_reach_the_container() {
    let p = Project::offline("secrets");
    p.edit_spec(|s| {
        s.replace(
            "env = { IPFS_API = \"http://ipfs:5001\" }",
            // IPFS_API is printed by the app at start: listing it as a secret shows log redaction too.
            "env = { IPFS_API = \"http://ipfs:5001\", API_TOKEN = \"tok-9f8e7d6c5b4a\" }\nsecrets = [\"IPFS_API\"]",
        )
    });
    let up = p.spawn(&["up"]);
    up.wait_for("all services ready", 1, Duration::from_secs(120));
    up.wait_for("listening on", 1, Duration::from_secs(60));
    let ps = p.run_ok(&["ps"]);
    let json = p.run_ok(&["ps", "--json"]);
    let rendered = p.run_ok(&["render", "compose"]) + &p.run_ok(&["render", "k8s"]);
    let env = docker_ok(&[
        "inspect",
        "-f",
        "{{json .Config.Env}}",
        &p.container("pinshare"),
    ]);
    assert!(
        env.contains("API_TOKEN=tok-9f8e7d6c5b4a") && env.contains("IPFS_API=http://ipfs:5001"),
        "{env}"
    );
    let text = up.text();
    assert!(
        // PinShare internal/app/app.go logs the API it uses at start: `[INFO] Using external IPFS API: …`.
        text.contains("Using external IPFS API: [redacted]"),
        "the app's own line is redacted: {text}"
    );
    for (what, out) in [
        ("up", &text),
        ("ps", &ps),
        ("ps --json", &json),
        ("render", &rendered),
    ] {
        assert!(!out.contains("tok-9f8e7d6c5b4a"), "{what}: {out}");
        assert!(!out.contains("http://ipfs:5001"), "{what}: {out}");
    }
    assert_eq!(up.interrupt(), Some(130));
}
