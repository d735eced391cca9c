//! Tests of the command line.

use clap::Parser;

use super::{Cli, service_slot};
use std::path::PathBuf;

#[test]
fn bare_watch_says_what_watch_does_and_shows_its_usage() {
    let e = Cli::try_parse_from(["pinshare-dev", "watch"]).expect_err("needs --explain");
    assert_eq!(e.exit_code(), 2);
    let text = e.render().to_string();
    assert!(
        text.contains("`up` watches each service's `watch.paths`"),
        "{text}"
    );
    assert!(
        text.contains("Usage: pinshare-dev watch [OPTIONS] --explain <PATH>..."),
        "{text}"
    );
}

#[test]
fn a_service_slot_is_where_the_parser_puts_a_service() {
    let slot = |line: &str| service_slot(&line.split(' ').map(String::from).collect::<Vec<_>>());
    let files = |names: &[&str]| Some(names.iter().map(PathBuf::from).collect::<Vec<_>>());
    assert_eq!(slot("pinshare-dev logs"), files(&[]));
    // `logs -f` is --follow; its spec file is --file.
    assert_eq!(slot("pinshare-dev logs -f ipfs"), files(&[]));
    assert_eq!(
        slot("pinshare-dev -f a.toml logs --file b.toml"),
        files(&["a.toml", "b.toml"])
    );
    assert_eq!(slot("pinshare-dev exec -f a.toml"), files(&["a.toml"]));
    assert_eq!(slot("pinshare-dev run --no-deps"), files(&[]));
    for steer in ["restart", "stop", "start", "trigger"] {
        assert_eq!(slot(&format!("pinshare-dev {steer}")), files(&[]));
        assert_eq!(
            slot(&format!("pinshare-dev {steer} -f a.toml")),
            files(&["a.toml"])
        );
        assert_eq!(slot(&format!("pinshare-dev {steer} ipfs")), None);
    }
    // An option's value, exec's command, rebuild's second word, a subcommand without services: none.
    assert_eq!(slot("pinshare-dev logs --tail"), None);
    assert_eq!(slot("pinshare-dev exec ipfs"), None);
    assert_eq!(slot("pinshare-dev rebuild ipfs"), None);
    assert_eq!(slot("pinshare-dev ps"), None);
    assert_eq!(slot("pinshare-dev"), None);
}
