//! `stats` against the running offline demo (private image tags): both services with a CPU figure and their
//! memory limits from the spec (kubo 2Gi, the app 1Gi) as the engine enforces them; and a foreground `up`'s
//! warning when a container passes 90 % of its memory limit, which `stats` marks too.

mod common;

use std::time::Duration;

use common::Project;

const GI: u64 = 1 << 30;

#[test]
fn stats_no_stream_shows_both_services_with_cpu_and_their_memory_limits() {
    let p = Project::offline_copy("stats");
    p.run_ok(&["up", "--detach"]);

    let out = p.run_ok(&["stats", "--no-stream"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("SERVICE"), "{out}");
    assert!(
        lines[0].contains("CPU/LIMIT") && lines[0].contains("MEM/LIMIT"),
        "{out}"
    );
    let row = |service: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(&format!("{service} ")))
            .unwrap_or_else(|| panic!("no {service} row in:\n{out}"))
    };
    // CPU of one core, then of the limit (kubo's 1 CPU, the app's 500m); memory against 512Mi/2Gi, 256Mi/1Gi.
    let ipfs = row("ipfs");
    assert!(ipfs.contains("% of 1 "), "{ipfs}");
    assert!(ipfs.contains("% of 512Mi"), "{ipfs}");
    assert!(ipfs.contains("% of 2Gi"), "{ipfs}");
    let app = row("pinshare");
    assert!(app.contains("% of 0.5 "), "{app}");
    assert!(app.contains("% of 256Mi"), "{app}");
    assert!(app.contains("% of 1Gi"), "{app}");

    let json = p.run_ok(&["stats", "--no-stream", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).expect("json");
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "{json}");
    for (row, limit) in rows.iter().zip([2 * GI, GI]) {
        let u = &row["usage"];
        // The limit the engine reports for the container, which up created from the spec.
        assert_eq!(u["memory_limit_bytes"].as_u64(), Some(limit), "{row}");
        assert!(u["memory_bytes"].as_u64().is_some_and(|m| m > 0), "{row}");
        // The engine read the CPU counters twice (stream=false): a figure, not null.
        assert!(u["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0), "{row}");
        assert_eq!(row["state"], "running");
        assert_eq!(row["restarts"], 0);
    }

    // One service only, and an unknown one is refused with the known ones.
    let one = p.run_ok(&["stats", "--no-stream", "ipfs"]);
    assert_eq!(one.lines().count(), 2, "{one}");
    let bad = p.run(&["stats", "--no-stream", "ipfss"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    // The wording every command uses for a name the spec does not have.
    assert!(
        err.contains("no service `ipfss` in ") && err.contains("; known services: ipfs, pinshare"),
        "{err}"
    );
    p.run_ok(&["down", "--volumes"]);
    // Without containers: no figures, and the row says why (not `absent` under CPU).
    let gone = p.run_ok(&["stats", "--no-stream"]);
    let rows: Vec<&str> = gone.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{gone}");
    for row in rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], "-", "{gone}");
        assert!(row.ends_with("no container"), "{gone}");
    }
}

#[test]
fn a_foreground_up_warns_when_the_app_passes_ninety_percent_of_its_memory_limit() {
    let p = Project::offline_copy("stats-memory");
    // The double's `alloc 58` touches 58 MiB and holds it: over 90 % of a 64Mi limit, under the limit itself.
    p.edit_spec(|s| {
        s.replace(
            "resources = { cpu = \"100m\", memory = \"256Mi\", cpu_limit = \"500m\", memory_limit = \"1Gi\" }",
            "resources = { memory = \"32Mi\", memory_limit = \"64Mi\" }",
        )
        .replace(
            "readiness = { http = { port = 9090, path = \"/health\" } }",
            "command = [\"alloc\", \"58\"]",
        )
        .replace(
            "liveness = { exec = [\"/opt/pinshare/pinshare\", \"health\"], period = \"10s\" }",
            "",
        )
    });
    let up = p.spawn(&["up", "--no-watch"]);
    up.wait_for(
        "pinshare | pinshare: holding 58 MiB",
        1,
        Duration::from_secs(180),
    );
    up.wait_for("pinshare » warning: memory at ", 1, Duration::from_secs(30));
    let text = up.text();
    assert!(
        text.contains("of its 64Mi limit") && text.contains("raise resources.memory_limit"),
        "{text}"
    );
    // kubo is far from its 2Gi: no warning for it.
    assert_eq!(up.count("ipfs » warning: memory"), 0, "{text}");

    // The same container, seen by `stats`: above its request and near its limit.
    let stats = p.run_ok(&["stats", "--no-stream", "pinshare"]);
    assert!(
        stats.contains("memory above request, memory near limit"),
        "{stats}"
    );
    assert_eq!(up.count("pinshare » warning: memory"), 1, "{}", up.text());
    assert_eq!(up.interrupt(), Some(130));
    assert!(p.labelled_containers().is_empty());
}
