//! Command line: the agreed surface (`-f` before the subcommand, like compose), dispatch, exit codes.

use std::path::PathBuf;

mod command;

pub use command::Command;

use clap::Parser;

use crate::error::{EXIT_OK, Error, Result};
use crate::output::printer::Printer;
use crate::spec::{self, Spec};
use crate::ui::Port;
use crate::ui::link::ui_command;

/// `--version`: the package's version and the commit it was built from (build.rs; `unknown` outside a git
/// checkout, `-dirty` when the sources differ from that commit).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PINSHARE_DEV_COMMIT"),
    ")"
);

/// pinshare-dev: kubo and PinShare as separate containers, started in order of real readiness.
#[derive(Debug, Parser)]
#[command(name = "pinshare-dev", version = VERSION, about)]
pub struct Cli {
    /// Spec file (default: pinshare.toml in the current directory or the nearest parent). Repeat it to lay
    /// overlays on it: later files override earlier ones key by key (tables merge, values and lists replace).
    /// Also accepted after the subcommand (but for `logs`, whose -f is --follow: there, --file).
    #[arg(short = 'f', long = "file", value_name = "PATH", action = clap::ArgAction::Append)]
    pub file: Vec<PathBuf>,
    /// More output from the tool itself (-v, -vv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// `auto`: on a terminal, builds, pulls and readiness waits are one live line each; `plain`: every line
    /// as it comes, as when the output is not a terminal.
    #[arg(long, value_enum, default_value_t = Progress::Auto, value_name = "MODE")]
    pub progress: Progress,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `-f/--file PATH` after the subcommand, as before it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SpecFiles {
    /// Spec file; repeat it to lay overlays on it (later files override earlier ones key by key).
    #[arg(short = 'f', long = "file", value_name = "PATH", action = clap::ArgAction::Append)]
    pub file: Vec<PathBuf>,
}

/// `--file PATH` after `logs`, whose `-f` is `--follow`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SpecFilesLong {
    /// Spec file; repeat it to lay overlays on it (later files override earlier ones key by key).
    #[arg(long = "file", value_name = "PATH", action = clap::ArgAction::Append)]
    pub file: Vec<PathBuf>,
}

/// How long work is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// Live lines on a terminal, plain lines otherwise.
    Auto,
    /// Plain lines always.
    Plain,
}

/// Sets up tracing on stderr; `RUST_LOG` overrides `-v`.
pub fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

impl Command {
    /// The request to a foreground `up` a steering command makes.
    fn steering(&self) -> Option<crate::run::control::Request> {
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
    fn spec_files(&self) -> &[PathBuf] {
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
fn service_slot(line: &[String]) -> Option<Vec<PathBuf>> {
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

/// The spec files: those given (the first the base, the rest overlays), or the one found here or above,
/// relative to where the user is when it is below it, as they would type it.
fn spec_paths(files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return Ok(files.to_vec());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("reading the current directory: {e}")))?;
    let path = spec::locate(None, &cwd)?;
    Ok(vec![path.strip_prefix(&cwd).map_or_else(
        |_| path.clone(),
        std::path::Path::to_path_buf,
    )])
}

/// The spec: the files given, or the one found here or above.
fn load(files: &[PathBuf], out: &Printer) -> Result<Spec> {
    let spec = spec::load_files(&spec_paths(files)?)?;
    out.set_secrets(&spec.secret_values());
    Ok(spec)
}

/// For `down`, `ps` and `logs`, which need only the project and its services: the spec, or while it does not
/// load (a syntax error mid-edit) a stand-in for the project it names, with a warning on stderr.
async fn load_or_stand_in(files: &[PathBuf], command: &str, out: &Printer) -> Result<Spec> {
    let path = spec_paths(files)?.swap_remove(0);
    match load(files, out) {
        Err(Error::Spec(errors)) => {
            // Without a stand-in (or an engine to find one on), the spec's own errors are what to fix first.
            let spec = crate::commands::stand_in::for_broken_spec(&path)
                .await
                .ok()
                .flatten()
                .ok_or_else(|| Error::Spec(errors.clone()))?;
            let first = errors.errors.first().map_or_else(String::new, |e| {
                format!(": {}: {}", e.location(), e.message)
            });
            let warning = format!(
                "warning: {} does not load ({}{first}); `{command}` acts on project {} as its containers and the readable part of the spec name it",
                path.display(),
                errors.count(),
                spec.project
            );
            eprintln!("{}", out.redact(&warning));
            Ok(spec)
        }
        other => other,
    }
}

/// `test`, its options from the command line.
async fn test(cmd: Command, files: &[PathBuf], out: &Printer) -> Result<u8> {
    let Command::Test {
        keep,
        junit,
        stats,
        json,
        ..
    } = cmd
    else {
        return Err(Error::Usage("not a test command".into()));
    };
    let spec = load(files, out)?;
    let opts = crate::commands::test::TestOptions {
        keep,
        junit,
        stats,
        json,
    };
    crate::commands::test::test(&spec, &opts, out).await
}
/// `logs`, its options from the command line.
async fn logs(cmd: Command, files: &[PathBuf], out: &Printer) -> Result<u8> {
    let Command::Logs {
        services,
        follow,
        tail,
        since,
        timestamps,
        ..
    } = cmd
    else {
        return Err(Error::Usage("not a logs command".into()));
    };
    let spec = load_or_stand_in(files, "logs", out).await?;
    let opts = crate::commands::logs::LogsOptions {
        services,
        follow,
        tail,
        since,
        timestamps,
    };
    crate::commands::logs::logs(&spec, opts, out).await
}

/// `exec` and `run`: a command in the service's container, or in a one-off container of its own.
async fn one_off(command: Command, files: &[PathBuf], out: &Printer) -> Result<u8> {
    let spec = load(files, out)?;
    match command {
        Command::Exec {
            service,
            user,
            env,
            workdir,
            command,
            ..
        } => {
            let opts = crate::commands::exec::ExecOptions {
                service,
                argv: command,
                user,
                env,
                workdir,
            };
            crate::commands::exec::exec(&spec, opts).await
        }
        Command::Run {
            service,
            no_deps,
            entrypoint,
            env,
            command,
            ..
        } => {
            let opts = crate::commands::run::RunOptions {
                service,
                argv: command,
                entrypoint,
                env,
                no_deps,
            };
            crate::commands::run::run(&spec, opts, out).await
        }
        other => Err(Error::Usage(format!("not a one-off command: {other:?}"))),
    }
}

/// `schema` and `__docs`: what the binary says of its own surface.
fn reference(command: Command, out: &Printer) -> Result<u8> {
    let schema = spec::json_schema();
    if let Command::Docs { dir } = command {
        let cmd = <Cli as clap::CommandFactory>::command();
        for path in crate::commands::docs::write(&dir, cmd, &schema).map_err(Error::Usage)? {
            out.block(&format!("wrote {}", path.display()));
        }
    } else {
        out.block(&serde_json::to_string_pretty(&schema).unwrap_or_default());
    }
    Ok(EXIT_OK)
}

/// `watch --explain PATH...`.
fn explain_paths(files: &[PathBuf], explain: Vec<PathBuf>, out: &Printer) -> Result<u8> {
    let spec = load(files, out)?;
    let rules = crate::watch::Rules::new(&spec);
    let paths: Vec<PathBuf> = explain
        .into_iter()
        .map(|p| std::path::absolute(&p).unwrap_or(p))
        .collect();
    out.block(&rules.explain_paths(&paths));
    Ok(EXIT_OK)
}

/// `up` with its options; the dashboard unless detached or `--no-ui`.
async fn up(command: Command, files: &[PathBuf], out: &Printer) -> Result<u8> {
    let Command::Up {
        services,
        detach,
        no_watch,
        manual,
        ui_port,
        no_ui,
        ..
    } = command
    else {
        return Err(Error::Usage(format!("not `up`: {command:?}")));
    };
    let opts = crate::run::UpOptions {
        services,
        detach,
        watch: !no_watch,
        forward: !detach && !no_watch,
    };
    let spec = load(files, out)?;
    let port = ui_port.or(spec.ui_port).map_or(Port::Default, Port::Exact);
    let ui = (!detach && !no_ui).then_some(port);
    crate::commands::up::up(spec, opts, manual, ui, out).await
}

/// `check`: the spec loads; says so with its services and start order.
fn check(files: &[PathBuf], out: &Printer) -> Result<u8> {
    let spec = load(files, out)?;
    out.block(&format!(
        "{}: ok ({} services: {}; start order {})",
        spec.file.display(),
        spec.services.len(),
        spec.service_list(),
        spec.order.join(" → ")
    ));
    Ok(EXIT_OK)
}

/// `render k8s|compose`, to stdout or `output`; `--classic-sidecar` is refused for compose.
fn render(
    files: &[PathBuf],
    target: crate::render::Target,
    output: Option<&std::path::Path>,
    opts: &crate::render::K8sOptions,
    out: &Printer,
) -> Result<u8> {
    if opts.classic_sidecar && target == crate::render::Target::Compose {
        return Err(Error::Usage(
            "--classic-sidecar applies to `render k8s` only".into(),
        ));
    }
    let spec = load(files, out)?;
    out.block(&crate::render::render(&spec, target, opts, output)?);
    Ok(EXIT_OK)
}

/// The services the shell may complete, in start order: of the spec files the command `line` being completed
/// names, or of `files` when there is no line.
fn complete_services(files: Vec<PathBuf>, line: &[String], out: &Printer) -> Result<u8> {
    let files = if line.is_empty() {
        files
    } else {
        match service_slot(line) {
            Some(files) => files,
            None => return Ok(crate::error::EXIT_RUNTIME),
        }
    };
    let spec = load(&files, out)?;
    for name in &spec.order {
        out.block(name);
    }
    Ok(EXIT_OK)
}

/// `down`: removes the project named with `--project`, or the spec's, with its volumes when asked.
async fn down(
    files: &[PathBuf],
    project: Option<&str>,
    volumes: bool,
    out: &Printer,
) -> Result<u8> {
    if let Some(project) = project {
        crate::commands::down::down_project(project, volumes, out).await?;
        return Ok(EXIT_OK);
    }
    let spec = load_or_stand_in(files, "down", out).await?;
    crate::commands::down::down(&spec, volumes, out).await?;
    Ok(EXIT_OK)
}

/// `init`: writes the starter files into the current directory and says what to do next.
fn init_here(force: bool, out: &Printer) -> Result<u8> {
    let cwd = std::env::current_dir().map_err(|e| Error::Usage(e.to_string()))?;
    let done = crate::commands::init::write_into(&cwd, force).map_err(Error::Usage)?;
    for d in done {
        out.block(&d.to_string());
    }
    for note in crate::commands::init::checkout_notes(&cwd) {
        out.block(&note);
    }
    out.block("next: pinshare-dev up");
    Ok(EXIT_OK)
}

async fn dispatch(cli: Cli, out: &Printer) -> Result<u8> {
    let files: Vec<PathBuf> = cli
        .file
        .iter()
        .chain(cli.command.spec_files())
        .cloned()
        .collect();
    match cli.command {
        Command::Check { .. } => check(&files, out),
        Command::Render {
            target,
            output,
            classic_sidecar,
            image_tag,
            ..
        } => {
            let opts = crate::render::K8sOptions {
                classic_sidecar,
                image_tag,
            };
            render(&files, target, output.as_deref(), &opts, out)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            out.block(&crate::commands::completions::script(shell, &mut cmd));
            Ok(EXIT_OK)
        }
        Command::CompleteServices { line } => complete_services(files, &line, out),
        c @ (Command::Schema | Command::Docs { .. }) => reference(c, out),
        Command::Init { force } => init_here(force, out),
        c @ Command::Up { .. } => up(c, &files, out).await,
        Command::Ui { open, .. } => ui_command(&load(&files, out)?.project, open, out),
        Command::Doctor { .. } => {
            let spec = load(&files, out)?;
            crate::doctor::doctor(&spec, out).await
        }
        Command::Rebuild { service, force, .. } => {
            let spec = load(&files, out)?;
            crate::commands::rebuild::rebuild_command(&spec, &service, force, out).await?;
            Ok(EXIT_OK)
        }
        Command::Watch { explain, .. } => explain_paths(&files, explain, out),
        cmd @ (Command::Restart { .. }
        | Command::Stop { .. }
        | Command::Start { .. }
        | Command::Trigger { .. }) => {
            let request = cmd
                .steering()
                .ok_or_else(|| Error::Usage("not steering".into()))?;
            crate::commands::steer::steer(&load(&files, out)?, &request, out).await
        }
        Command::Down {
            volumes, project, ..
        } => down(&files, project.as_deref(), volumes, out).await,
        cmd @ Command::Logs { .. } => logs(cmd, &files, out).await,
        Command::Stats {
            services,
            no_stream,
            json,
            ..
        } => {
            let spec = load(&files, out)?;
            crate::commands::stats::stats(&spec, &services, no_stream, json, out).await
        }
        cmd @ (Command::Exec { .. } | Command::Run { .. }) => one_off(cmd, &files, out).await,
        cmd @ Command::Test { .. } => test(cmd, &files, out).await,
        Command::Ps { json, .. } => {
            let spec = load_or_stand_in(&files, "ps", out).await?;
            crate::commands::ps::ps(&spec, json, out).await?;
            Ok(EXIT_OK)
        }
    }
}

/// Runs the command and returns the process exit code; errors are printed here.
pub async fn run(cli: Cli) -> u8 {
    let out = Printer::plain(crate::output::printer::Settings {
        progress_plain: cli.progress == Progress::Plain,
        secrets: crate::output::redact::Secrets::default(),
    });
    let result = dispatch(cli, &out).await;
    // What the command printed comes before its error; a stdout that does not move (a pager left paused,
    // a pipe nobody reads) is given up on after a while, so the command still ends.
    out.give_up_if_stuck(std::time::Duration::from_secs(3));
    out.flush().await;
    match result {
        Ok(code) => code,
        Err(Error::Spec(errors)) => {
            eprint!("{}", errors.render(console::colors_enabled_stderr()));
            crate::error::EXIT_USAGE
        }
        Err(e) => {
            let code = e.exit_code();
            eprintln!("error: {}", out.redact(&e.to_string()));
            code
        }
    }
}

#[cfg(test)]
mod tests;
