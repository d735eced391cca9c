//! The words of a command line: the spec files and steering request a command names, and whether a word is a
//! service name (for completions).

use std::path::PathBuf;

use clap::Parser;

use super::{Cli, Command};

impl Command {
    /// The request to a foreground `up` a steering command makes.
    pub(super) fn steering(&self) -> Option<crate::run::control::Request> {
        use crate::run::control::Request;
        let service = match self {
            Command::Restart { service, .. }
            | Command::Stop { service, .. }
            | Command::Start { service, .. }
            | Command::Trigger { service, .. } => service.clone(),
            _ => return None,
        };
        Some(match self {
            Command::Restart { .. } => Request::Restart { service },
            Command::Stop { .. } => Request::Stop { service },
            Command::Start { .. } => Request::Start { service },
            _ => Request::Trigger { service },
        })
    }

    /// The `-f/--file` given after the subcommand.
    pub(super) fn spec_files(&self) -> &[PathBuf] {
        match self {
            Command::Up { files, .. }
            | Command::Down { files, .. }
            | Command::Ps { files, .. }
            | Command::Ui { files, .. }
            | Command::Stats { files, .. }
            | Command::Render { files, .. }
            | Command::Rebuild { files, .. }
            | Command::Restart { files, .. }
            | Command::Stop { files, .. }
            | Command::Start { files, .. }
            | Command::Trigger { files, .. }
            | Command::Watch { files, .. }
            | Command::Exec { files, .. }
            | Command::Run { files, .. }
            | Command::Test { files, .. }
            | Command::Check { files }
            | Command::Doctor { files } => &files.file,
            Command::Logs { files, .. } => &files.file,
            Command::Init { .. }
            | Command::Schema
            | Command::Docs { .. }
            | Command::Completions { .. }
            | Command::CompleteServices { .. } => &[],
        }
    }
}

/// Whether the word after `line` (the words before it, the program's name first) is a service name, and if so
/// the spec files that line names. clap itself parses the line with a stand-in for that word, so every way of
/// writing options (`--file=X`, `-fX`, `logs -f` as --follow, an option's value) counts as it would when run.
pub(super) fn service_slot(line: &[String]) -> Option<Vec<PathBuf>> {
    const STAND_IN: &str = "\u{1}service";
    let try_with = |tail: &[&str]| {
        let words = line.iter().map(String::as_str).chain(tail.iter().copied());
        let cli = <Cli as Parser>::try_parse_from(words).ok()?;
        let slot = match &cli.command {
            Command::Up { services, .. }
            | Command::Logs { services, .. }
            | Command::Stats { services, .. } => services.iter().any(|s| s == STAND_IN),
            Command::Exec { service, .. }
            | Command::Run { service, .. }
            | Command::Rebuild { service, .. }
            | Command::Restart { service, .. }
            | Command::Stop { service, .. }
            | Command::Start { service, .. }
            | Command::Trigger { service, .. } => service == STAND_IN,
            _ => false,
        };
        slot.then(|| {
            cli.file
                .iter()
                .chain(cli.command.spec_files())
                .cloned()
                .collect()
        })
    };
    // `exec SERVICE` alone lacks its required CMD: a second stand-in fills it.
    try_with(&[STAND_IN]).or_else(|| try_with(&[STAND_IN, "cmd"]))
}
