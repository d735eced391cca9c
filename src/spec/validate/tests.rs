use std::path::Path;

use crate::spec::{Check, ImageSource, InitAction, parse};

fn errors(text: &str) -> Vec<(String, String)> {
    match parse(Path::new("pinshare.toml"), text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e
            .errors
            .iter()
            .map(|e| (e.location(), e.message.clone()))
            .collect(),
    }
}

fn one_error(text: &str) -> (String, String) {
    let mut e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

const KUBO: &str = "[services.ipfs]\nimage = \"ipfs/kubo:v0.39.0\"\n";

#[test]
fn a_minimal_spec_is_valid() {
    let s = parse(
        Path::new("pinshare.toml"),
        &format!("[project]\nname = \"demo\"\n{KUBO}"),
    )
    .expect("valid");
    assert_eq!(s.project, "demo");
    assert!(
        matches!(&s.services["ipfs"].image, ImageSource::Pull { reference } if reference == "ipfs/kubo:v0.39.0")
    );
    assert_eq!(s.container_name("ipfs"), "demo-ipfs");
}

#[test]
fn toml_syntax_errors_point_at_the_line() {
    let (loc, msg) = one_error("[services.ipfs]\nimage = ipfs/kubo\n");
    assert_eq!(loc, "pinshare.toml:2:9");
    assert!(msg.contains("string") || msg.contains("invalid"), "{msg}");
}

#[test]
fn unknown_keys_are_rejected() {
    let (loc, msg) = one_error("[services.ipfs]\nimage = \"x\"\nimgae = \"y\"\n");
    assert_eq!(loc, "pinshare.toml:3:1");
    assert!(msg.contains("unknown field `imgae`"), "{msg}");
}

#[test]
fn wrong_types_are_rejected() {
    let (loc, msg) = one_error("[services.ipfs]\nimage = \"x\"\nports = \"5001:5001\"\n");
    assert_eq!(loc, "pinshare.toml:3:9");
    assert!(msg.contains("invalid type"), "{msg}");
}

#[test]
fn unknown_dependency_lists_the_known_services() {
    let text = format!("{KUBO}[services.app]\nimage = \"a\"\ndepends_on = [\"ipfss\"]\n");
    let e = parse(Path::new("pinshare.toml"), &text).expect_err("invalid");
    assert_eq!(e.errors[0].location(), "pinshare.toml:5:15");
    assert_eq!(e.errors[0].message, "unknown service `ipfss` in depends_on");
    assert_eq!(e.errors[0].help.as_deref(), Some("other services: ipfs"));
}

#[test]
fn dependency_cycles_are_reported_with_the_path() {
    let text = "[services.a]\nimage = \"a\"\ndepends_on = [\"b\"]\n[services.b]\nimage = \"b\"\ndepends_on = [\"a\"]\n";
    let (loc, msg) = one_error(text);
    assert_eq!(msg, "dependency cycle: a -> b -> a");
    assert_eq!(loc, "pinshare.toml:6:15");
}

#[test]
fn self_dependency_is_rejected() {
    let (_, msg) = one_error("[services.a]\nimage = \"a\"\ndepends_on = [\"a\"]\n");
    assert_eq!(msg, "service `a` depends on itself");
}

#[test]
fn malformed_ports_point_at_the_entry() {
    let (loc, msg) = one_error(&format!("{KUBO}ports = [\"5001:5001\", \"5001:99999\"]\n"));
    assert_eq!(loc, "pinshare.toml:3:23");
    assert!(msg.contains("above 65535"), "{msg}");
}

#[test]
fn duplicate_host_ports_name_the_other_service() {
    let text = format!(
        "{KUBO}ports = [\"5001:5001\"]\n[services.app]\nimage = \"a\"\nports = [\"0.0.0.0:5001:80\"]\n"
    );
    let (loc, msg) = one_error(&text);
    // Services are checked in name order, so the clash is reported on ipfs's entry, naming app's line.
    assert_eq!(loc, "pinshare.toml:3:10");
    assert_eq!(
        msg,
        "host port 5001 is already published by service `app` (line 6)"
    );
}

#[test]
fn same_port_on_tcp_and_udp_is_fine() {
    parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}ports = [\"4001:4001\", \"4001:4001/udp\"]\n"),
    )
    .expect("valid");
}

#[test]
fn malformed_quantities_are_rejected() {
    let (loc, msg) = one_error(&format!("{KUBO}resources = {{ memory = \"512m\" }}\n"));
    assert_eq!(loc, "pinshare.toml:3:24");
    assert!(msg.contains("512Mi"), "{msg}");
    let (_, msg) = one_error(&format!("{KUBO}resources = {{ cpu = \"lots\" }}\n"));
    assert!(msg.contains("bad cpu"), "{msg}");
    let (_, msg) = one_error(&format!(
        "{KUBO}resources = {{ cpu = \"2\", cpu_limit = \"1\" }}\n"
    ));
    assert_eq!(msg, "cpu request is above cpu_limit");
    let (_, msg) = one_error(&format!(
        "{KUBO}resources = {{ memory = \"1Gi\", memory_limit = \"512Mi\" }}\n"
    ));
    assert_eq!(msg, "memory request is above memory_limit");
}

#[test]
fn numbers_are_accepted_for_cpu() {
    let s = parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}resources = {{ cpu = 0.25, cpu_limit = 1 }}\n"),
    )
    .expect("valid");
    assert_eq!(s.services["ipfs"].resources.cpu_millis, Some(250));
    assert_eq!(s.services["ipfs"].resources.cpu_limit_millis, Some(1000));
}

#[test]
fn a_service_needs_an_image_or_a_build() {
    let (loc, msg) = one_error("[services.app]\nenv = { A = \"1\" }\n");
    assert_eq!(loc, "pinshare.toml:1:11");
    assert_eq!(msg, "service `app` has neither `image` nor `build`");
}

#[test]
fn missing_build_context_is_reported() {
    let (loc, msg) = one_error("[services.app]\nbuild = { context = \"does-not-exist\" }\n");
    assert_eq!(loc, "pinshare.toml:2:21");
    assert!(
        msg.starts_with("build context `does-not-exist` does not exist"),
        "{msg}"
    );
}

#[test]
fn probes_need_exactly_one_kind() {
    let (_, msg) = one_error(&format!("{KUBO}readiness = {{ period = \"1s\" }}\n"));
    assert!(msg.contains("exactly one of"), "{msg}");
    let (_, msg) = one_error(&format!(
        "{KUBO}readiness = {{ tcp = {{ port = 1 }}, exec = [\"true\"] }}\n"
    ));
    assert!(msg.contains("found 2"), "{msg}");
}

#[test]
fn probe_fields_are_validated() {
    let (_, msg) = one_error(&format!(
        "{KUBO}readiness = {{ http = {{ port = 70000 }} }}\n"
    ));
    assert!(msg.contains("70000"), "{msg}");
    let (_, msg) = one_error(&format!(
        "{KUBO}readiness = {{ http = {{ port = 5001, method = \"FETCH\" }} }}\n"
    ));
    assert!(msg.contains("FETCH"), "{msg}");
    let (_, msg) = one_error(&format!(
        "{KUBO}readiness = {{ tcp = {{ port = 5001 }}, period = \"soon\" }}\n"
    ));
    assert!(msg.contains("bad duration"), "{msg}");
}

#[test]
fn http_probes_keep_their_method() {
    let s = parse(Path::new("pinshare.toml"), &format!("{KUBO}readiness = {{ http = {{ port = 5001, path = \"/api/v0/id\", method = \"post\" }} }}\n")).expect("valid");
    match &s.services["ipfs"].readiness.as_ref().expect("probe").check {
        Check::Http {
            method, path, port, ..
        } => assert_eq!(
            (method.as_str(), path.as_str(), *port),
            ("POST", "/api/v0/id", 5001)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn kubo_config_becomes_an_init_step() {
    let s = parse(Path::new("pinshare.toml"), &format!("{KUBO}[services.ipfs.kubo_config]\n\"API.HTTPHeaders.Access-Control-Allow-Origin\" = [\"http://localhost:5173\"]\n")).expect("valid");
    let step = &s.services["ipfs"].init[0];
    match &step.action {
        InitAction::KuboConfig {
            repo, uid, keys, ..
        } => {
            assert_eq!((repo.as_str(), *uid), ("/data/ipfs", 1000));
            assert_eq!(keys[0].0, "API.HTTPHeaders.Access-Control-Allow-Origin");
            assert_eq!(keys[0].1, serde_json::json!(["http://localhost:5173"]));
        }
        InitAction::Command(_) => panic!("expected kubo config"),
    }
}

#[test]
fn bad_volumes_and_names_are_rejected() {
    let (_, msg) = one_error(&format!("{KUBO}volumes = [\"data:relative/path\"]\n"));
    assert!(msg.contains("must be absolute"), "{msg}");
    let (loc, msg) = one_error("[services.Bad_Name]\nimage = \"x\"\n");
    assert_eq!(loc, "pinshare.toml:1:11");
    assert!(msg.contains("not valid"), "{msg}");
    let (_, msg) = one_error(&format!("[project]\nname = \"My Project\"\n{KUBO}"));
    assert!(msg.contains("project name"), "{msg}");
}

#[test]
fn several_errors_are_all_reported_in_file_order() {
    let text = "[services.a]\nimage = \"a\"\nports = [\"x\"]\ndepends_on = [\"nope\"]\nresources = { memory = \"1 lot\" }\n";
    let e = errors(text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn rendered_errors_show_location_source_line_caret_and_hint() {
    let text = format!("{KUBO}[services.app]\nimage = \"a\"\ndepends_on = [\"ipfss\"]\n");
    let e = parse(Path::new("pinshare.toml"), &text).expect_err("invalid");
    let out = e.render(false);
    assert!(
        out.starts_with("error: pinshare.toml:5:15: unknown service `ipfss` in depends_on\n"),
        "{out}"
    );
    assert!(out.contains("depends_on = [\"ipfss\"]"), "{out}");
    assert!(out.contains('^') || out.contains('─'), "{out}");
    assert!(out.contains("other services: ipfs"), "{out}");
    assert!(
        out.ends_with("1 error in the spec; nothing was changed\n"),
        "{out}"
    );
}

#[test]
fn empty_spec_is_an_error() {
    let (_, msg) = one_error("");
    assert_eq!(msg, "the spec defines no services");
}

#[test]
fn probe_period_timeout_and_start_timeout_must_be_more_than_zero() {
    for key in ["period", "timeout", "start_timeout"] {
        let (loc, msg) = one_error(&format!(
            "{KUBO}readiness = {{ tcp = {{ port = 5001 }}, {key} = \"0s\" }}\n"
        ));
        assert!(msg.ends_with("must be more than 0"), "{key}: {msg}");
        assert!(msg.contains(key), "{msg}");
        assert!(loc.starts_with("pinshare.toml:3:"), "{loc}");
    }
}

#[test]
fn a_host_port_twice_in_one_service_is_reported_on_the_second() {
    let (loc, msg) = one_error(&format!("{KUBO}ports = [\"8080:8080\", \"8080:80\"]\n"));
    assert_eq!(loc, "pinshare.toml:3:23");
    assert_eq!(msg, "host port 8080 is published twice by this service");
}

#[test]
fn bad_names_say_why_and_suggest_a_good_one() {
    let e = parse(
        Path::new("pinshare.toml"),
        "[services.\"Ipfs.Node\"]\nimage = \"x\"\n",
    )
    .expect_err("invalid");
    assert_eq!(
        e.errors[0].message,
        "service name `Ipfs.Node` is not valid: `I` is uppercase"
    );
    assert!(
        e.errors[0]
            .help
            .as_deref()
            .unwrap()
            .ends_with("e.g. `ipfs-node`")
    );
    let (_, msg) = one_error("[services.-app]\nimage = \"x\"\n");
    assert_eq!(msg, "service name `-app` is not valid: it starts with `-`");
    let (_, msg) = one_error(&format!("[project]\nname = \"my project\"\n{KUBO}"));
    assert_eq!(
        msg,
        "project name `my project` is not valid: it contains a space"
    );
}

const ORIGIN: &str = "[services.ipfs.kubo_config]\n\"API.HTTPHeaders.Access-Control-Allow-Origin\" = [\"http://localhost:5173\", \"*\"]\n";

#[test]
fn a_star_cors_origin_is_refused_at_the_star_without_the_opt_in() {
    let e = parse(Path::new("pinshare.toml"), &format!("{KUBO}{ORIGIN}")).expect_err("refused");
    assert_eq!(e.errors.len(), 1);
    // Line 4, at the `"*"` element.
    assert_eq!(e.errors[0].location(), "pinshare.toml:4:75");
    assert_eq!(
        e.errors[0].help.as_deref(),
        Some(
            "any web page could call kubo's admin API; list the origins, or set allow_any_origin = true in [services.ipfs]"
        )
    );
    parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}allow_any_origin = true\n{ORIGIN}"),
    )
    .expect("allowed with the opt-in");
}

#[test]
fn kubo_header_values_are_lists_of_strings_under_the_right_section() {
    let (loc, msg) = one_error(&format!(
        "{KUBO}[services.ipfs.kubo_config]\n\"API.HTTPHeaders.Access-Control-Allow-Methods\" = \"GET, POST\"\n"
    ));
    assert_eq!(loc, "pinshare.toml:4:50");
    assert_eq!(
        msg,
        "kubo takes a list of strings for `API.HTTPHeaders.Access-Control-Allow-Methods`"
    );
    let (loc, msg) = one_error(&format!(
        "{KUBO}[services.ipfs.kubo_config]\n\"api.HTTPHeaders.Access-Control-Allow-Methods\" = [\"GET\"]\n"
    ));
    assert_eq!(loc, "pinshare.toml:4:1");
    assert_eq!(msg, "kubo's config section is `API`, not `api`");
    // Other sections and shapes are kubo's business.
    parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}[services.ipfs.kubo_config]\n\"Datastore.StorageMax\" = \"50GB\"\n\"Swarm.ConnMgr\" = {{ LowWater = 50 }}\n"),
    )
    .expect("valid");
}

#[test]
fn settings_that_hand_over_the_host_are_refused_by_name() {
    for (line, start) in [
        (
            "privileged = true",
            "privileged containers are not supported: ",
        ),
        (
            "cap_add = [\"NET_ADMIN\"]",
            "added capabilities are not supported: ",
        ),
        (
            "network_mode = \"host\"",
            "host networking is not supported: ",
        ),
        (
            "network_mode = \"bridge\"",
            "`network_mode` is not supported: ",
        ),
        ("pid = \"host\"", "`pid` is not supported: "),
    ] {
        let (loc, msg) = one_error(&format!("{KUBO}{line}\n"));
        assert!(msg.starts_with(start), "{line}: {msg}");
        // At the value, not the key.
        let col = line.find('=').unwrap() + 3;
        assert_eq!(loc, format!("pinshare.toml:3:{col}"), "{line}");
    }
    parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}privileged = false\ncap_add = []\n"),
    )
    .expect("explicitly off is fine");
}

#[test]
fn refused_settings_are_not_offered_by_the_schema_or_as_spellings() {
    let schema = crate::spec::json_schema().to_string();
    assert!(!schema.contains("privileged") && !schema.contains("cap_add"));
    assert!(schema.contains("allow_any_origin") && schema.contains("expose_rpc_api"));
    assert!(schema.contains("secrets"));
    let e = parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}frobnicate = 1\n"),
    )
    .expect_err("x");
    assert!(
        !e.errors[0].help.as_deref().unwrap().contains("privileged"),
        "{:?}",
        e.errors[0].help
    );
}

#[test]
fn kubo_rpc_api_beyond_loopback_needs_the_opt_in() {
    let (loc, msg) = one_error(&format!("{KUBO}ports = [\"0.0.0.0:5001:5001\"]\n"));
    assert_eq!(loc, "pinshare.toml:3:10");
    assert_eq!(
        msg,
        "kubo's RPC API would be published on every address of this machine (0.0.0.0)"
    );
    for ok in [
        format!("{KUBO}ports = [\"0.0.0.0:5001:5001\"]\nexpose_rpc_api = true\n"),
        format!("{KUBO}ports = [\"5001:5001\", \"0.0.0.0:8080:8080\"]\n"),
        "[services.web]\nimage = \"nginx\"\nports = [\"0.0.0.0:5001:5001\"]\n".to_string(),
    ] {
        parse(Path::new("pinshare.toml"), &ok).expect(&ok);
    }
}

#[test]
fn secrets_are_listed_env_keys_or_secret_by_name() {
    let s = parse(
        Path::new("pinshare.toml"),
        &format!(
            "{KUBO}env = {{ API_TOKEN = \"t0ken-value\", SESSION = \"sess-value\", IPFS_API = \"http://ipfs:5001\" }}\nsecrets = [\"SESSION\"]\n"
        ),
    )
    .expect("valid");
    let ipfs = &s.services["ipfs"];
    assert!(ipfs.is_secret("API_TOKEN") && ipfs.is_secret("SESSION"));
    assert!(!ipfs.is_secret("IPFS_API"));
    assert_eq!(s.secret_values(), ["sess-value", "t0ken-value"]);
    assert_eq!(
        s.redact("token t0ken-value, session sess-value"),
        "token [redacted], session [redacted]"
    );

    let (loc, msg) = one_error(&format!(
        "{KUBO}env = {{ A = \"1\" }}\nsecrets = [\"SESSION\"]\n"
    ));
    assert_eq!(loc, "pinshare.toml:4:12");
    assert_eq!(msg, "secret `SESSION` is not set in this service's env");
}

#[test]
fn errors_never_show_a_secret_value_but_keep_the_true_location() {
    let text =
        format!("{KUBO}env = {{ DB_PASSWORD = \"hunter2-long\" }}\nports = [\"5001:99999\"]\n");
    let e = parse(Path::new("pinshare.toml"), &text).expect_err("invalid");
    assert_eq!(e.errors[0].location(), "pinshare.toml:4:10");
    let out = e.render(false);
    assert!(!out.contains("hunter2-long"), "{out}");
    assert!(out.contains("DB_PASSWORD = \"[redacted]\""), "{out}");
    assert!(out.contains("╭─[pinshare.toml:4:10]"), "{out}");

    // Listed secrets too, and in a file that does not even parse (by name only, then).
    let text =
        format!("{KUBO}env = {{ SESSION = \"sess-value\", GH_TOKEN = \"ghp_x123\", B = oops }}\n");
    let out = parse(Path::new("pinshare.toml"), &text)
        .expect_err("syntax")
        .render(false);
    assert!(!out.contains("ghp_x123"), "{out}");
    let text = format!(
        "{KUBO}env = {{ SESSION = \"sess-value\" }}\nsecrets = [\"SESSION\"]\nports = [\"x\"]\n"
    );
    let out = parse(Path::new("pinshare.toml"), &text)
        .expect_err("invalid")
        .render(false);
    assert!(!out.contains("sess-value"), "{out}");
}

#[test]
fn type_errors_say_what_to_write() {
    let e = parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}resources = {{ cpu = true }}\n"),
    )
    .expect_err("invalid");
    assert!(
        e.errors[0]
            .message
            .contains("expected a number or a quantity string"),
        "{}",
        e.errors[0].message
    );
    let e = parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}env = {{ PORT = 9090 }}\n"),
    )
    .expect_err("invalid");
    assert_eq!(e.errors[0].help.as_deref(), Some("quote it: \"9090\""));
    let e = parse(
        Path::new("pinshare.toml"),
        "[services.ipfs]\nimgae = \"x\"\n",
    )
    .expect_err("x");
    assert_eq!(e.errors[0].help.as_deref(), Some("did you mean `image`?"));
}

#[test]
fn the_dashboard_port_is_taken_from_ui() {
    let s = parse(
        Path::new("pinshare.toml"),
        &format!("{KUBO}[ui]\nport = 7800\n"),
    )
    .expect("valid");
    assert_eq!(s.ui_port, Some(7800));
    assert_eq!(
        parse(Path::new("pinshare.toml"), KUBO)
            .expect("valid")
            .ui_port,
        None
    );
    let (loc, msg) = one_error(&format!("{KUBO}[ui]\nport = 70000\n"));
    assert_eq!(loc, "pinshare.toml:4:8", "{msg}");
    let (_, msg) = one_error(&format!("{KUBO}[ui]\nbind = \"0.0.0.0\"\n"));
    assert!(msg.contains("unknown field"), "{msg}");
}
