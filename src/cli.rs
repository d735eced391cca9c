//! Command line: the agreed surface (`-f` before the subcommand, like compose), dispatch, exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::{EXIT_OK, Error, Result};
use crate::output::printer::Printer;
use crate::spec::{self, Spec};

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

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the project's containers and start them in dependency order.
    Up {
        #[command(flatten)]
        files: SpecFiles,
        /// Services to start (with their dependencies); default all.
        services: Vec<String>,
        /// Return once every service is ready.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Do not watch source files.
        #[arg(long)]
        no_watch: bool,
    },
    /// Remove the project's containers and network; volumes only with --volumes.
    Down {
        #[command(flatten)]
        files: SpecFiles,
        /// Also remove the project's named volumes (their data is lost).
        #[arg(long)]
        volumes: bool,
        /// Act on the project of this name (its labelled containers, network and, with --volumes, volumes)
        /// instead of the spec's; no spec is read. For a project renamed since, or whose spec is gone.
        #[arg(long, value_name = "NAME")]
        project: Option<String>,
    },
    /// Show container output.
    Logs {
        #[command(flatten)]
        files: SpecFilesLong,
        /// Services; default all.
        services: Vec<String>,
        /// Keep following.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Number of lines from the end of each service's output.
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
        /// Only output from then on: a duration back from now (10m, 30s) or a time (2026-12-07T01:00:00Z).
        #[arg(long, value_name = "DUR|TIME")]
        since: Option<String>,
        /// Show timestamps.
        #[arg(short = 't', long)]
        timestamps: bool,
    },
    /// Run a command in the service's running container (a TTY when stdin and stdout are terminals); its exit
    /// code is the tool's.
    Exec {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
        /// User to run it as (name, uid or uid:gid).
        #[arg(short = 'u', long, value_name = "USER")]
        user: Option<String>,
        /// Environment variable for the command (repeatable).
        #[arg(short = 'e', long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Working directory in the container.
        #[arg(short = 'w', long = "workdir", value_name = "DIR")]
        workdir: Option<String>,
        /// The command and its arguments (after `--` when they start with `-`).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<String>,
    },
    /// Run a one-off container from the service's image (its env, volumes and network; its dependencies
    /// started and ready first); its exit code is the tool's, and it is removed afterwards.
    Run {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
        /// Do not start the service's dependencies.
        #[arg(long)]
        no_deps: bool,
        /// Run this program instead of the image's entrypoint (CMD are its arguments).
        #[arg(long, value_name = "PROGRAM")]
        entrypoint: Option<String>,
        /// Environment variable for the container (repeatable).
        #[arg(short = 'e', long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// The command (arguments to the image's entrypoint); default the service's.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<String>,
    },
    /// Run the spec's [test] steps against a throwaway copy of the project (its own name, network and
    /// volumes, no host ports) started as `up` starts it; everything is removed afterwards. The failing
    /// step's exit code is the tool's.
    Test {
        #[command(flatten)]
        files: SpecFiles,
        /// Leave the copy up and say how to reach it and remove it.
        #[arg(long)]
        keep: bool,
        /// Write a JUnit XML report (one testcase per step) to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Sample every service's CPU and memory while the steps run (once a second, as `stats`); then print
        /// per service the steady (median) and peak figures against the spec's requests and limits, mark a
        /// limit that was hit (OOM kill, CPU throttling), and suggest `resources = { ... }` by the Kubernetes
        /// VPA recommender's rule: requests = the 90th percentile of CPU and the highest memory, plus 15 %
        /// (at least 25m and 16Mi); limits keep the spec's limit/request ratio and stay above the peak + 15 %;
        /// a limit that was hit is raised 20 % (memory at least 100Mi more).
        #[arg(long)]
        stats: bool,
        /// With --stats: the figures as JSON on stdout (the run's own lines go to stderr).
        #[arg(long, requires = "stats")]
        json: bool,
    },
    /// Service, container state, readiness, ports, image, restarts, uptime.
    Ps {
        #[command(flatten)]
        files: SpecFiles,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// CPU and memory of each service against its requests and limits, network and block I/O, restarts; marks a
    /// service that stays above its request or near its limit. Streams until Ctrl-C.
    Stats {
        #[command(flatten)]
        files: SpecFiles,
        /// Services; default all.
        services: Vec<String>,
        /// One round (the engine reads CPU over about a second), then exit.
        #[arg(long)]
        no_stream: bool,
        /// JSON output (one line per round when streaming).
        #[arg(long)]
        json: bool,
    },
    /// Validate the spec only; never touches Docker.
    Check {
        #[command(flatten)]
        files: SpecFiles,
    },
    /// Write the embedded pinshare.toml, Dockerfile and .dockerignore into the current directory (a PinShare
    /// checkout). A Dockerfile that pinshare-dev did not write is kept, unchanged, as Dockerfile-legacy.
    Init {
        /// Overwrite init's own files (pinshare.toml, .dockerignore, a Dockerfile init wrote); never another
        /// Dockerfile.
        #[arg(long)]
        force: bool,
    },
    /// Print the JSON Schema of pinshare.toml (for editors).
    Schema,
    /// Render the spec as Kubernetes manifests (app + kubo sidecar pod) or a docker-compose.yml.
    Render {
        #[command(flatten)]
        files: SpecFiles,
        /// k8s or compose.
        #[arg(value_enum)]
        target: crate::render::Target,
        /// Write here instead of stdout: a directory for k8s (one file per object), a file for compose.
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
        /// k8s: kubo as a classic second container instead of a native sidecar (Kubernetes < 1.29).
        #[arg(long)]
        classic_sidecar: bool,
        /// Tag for the images of built services (default: the local build's tag).
        #[arg(long, value_name = "TAG")]
        image_tag: Option<String>,
    },
    /// Build SERVICE's image and swap its container, as a save would (the old one serves until the build is done).
    Rebuild {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
        /// Swap the container even when the image and configuration are unchanged.
        #[arg(long)]
        force: bool,
    },
    /// Check this machine against the spec: engine, published ports, inotify limits, bind-mount owners, disk.
    /// Exit 1 when a check fails; each problem comes with the command that fixes it.
    Doctor {
        #[command(flatten)]
        files: SpecFiles,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell); every one also completes
    /// service names from the spec.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The spec's service names, one a line (what the completion scripts call). With LINE (the words before
    /// the one being completed, the program's name first): the names only when a service name goes there, read
    /// from the spec that line's own -f/--file name; exit 1 when none goes there.
    #[command(name = "__complete-services", hide = true)]
    CompleteServices {
        /// The command line so far.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "LINE"
        )]
        line: Vec<String>,
    },
    /// Write the book's generated pages under DIR (the pinshare.toml and command references, the man pages).
    #[command(name = "__docs", hide = true)]
    Docs { dir: PathBuf },
    /// Explain what `up`'s file watching does with paths: `up` watches each service's `watch.paths` and
    /// rebuilds (or live-updates) only the service whose files changed; `watch --explain PATH...` says which
    /// service a change to each PATH would rebuild, or which rule (.dockerignore, .gitignore) ignores it.
    #[command(arg_required_else_help = true)]
    Watch {
        #[command(flatten)]
        files: SpecFiles,
        /// Say which service each PATH triggers, or which rule ignores it.
        #[arg(long, value_name = "PATH", required = true, num_args = 1..)]
        explain: Vec<PathBuf>,
    },
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
    /// The `-f/--file` given after the subcommand.
    fn spec_files(&self) -> &[PathBuf] {
        match self {
            Command::Up { files, .. }
            | Command::Down { files, .. }
            | Command::Ps { files, .. }
            | Command::Stats { files, .. }
            | Command::Render { files, .. }
            | Command::Rebuild { files, .. }
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
            | Command::Rebuild { service, .. } => service == STAND_IN,
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
fn load(files: &[PathBuf]) -> Result<Spec> {
    let spec = spec::load_files(&spec_paths(files)?)?;
    crate::output::redact::set_current(&spec.secret_values());
    Ok(spec)
}

/// For `down`, `ps` and `logs`, which need only the project and its services: the spec, or while it does not
/// load (a syntax error mid-edit) a stand-in for the project it names, with a warning on stderr.
async fn load_or_stand_in(files: &[PathBuf], command: &str) -> Result<Spec> {
    let path = spec_paths(files)?.swap_remove(0);
    match load(files) {
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
            eprintln!("{}", crate::output::redact::outgoing(&warning));
            Ok(spec)
        }
        other => other,
    }
}

/// `test`, its options from the command line.
async fn test(cmd: Command, files: &[PathBuf]) -> Result<u8> {
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
    let spec = load(files)?;
    let opts = crate::commands::test::TestOptions {
        keep,
        junit,
        stats,
        json,
    };
    crate::commands::test::test(&spec, &opts).await
}
/// `exec` and `run`: a command in the service's container, or in a one-off container of its own.
async fn one_off(command: Command, files: &[PathBuf]) -> Result<u8> {
    let spec = load(files)?;
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
            crate::commands::run::run(&spec, opts).await
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

async fn dispatch(cli: Cli, out: &Printer) -> Result<u8> {
    let files: Vec<PathBuf> = cli
        .file
        .iter()
        .chain(cli.command.spec_files())
        .cloned()
        .collect();
    match cli.command {
        Command::Check { .. } => {
            let spec = load(&files)?;
            out.block(&format!(
                "{}: ok ({} services: {}; start order {})",
                spec.file.display(),
                spec.services.len(),
                spec.service_list(),
                spec.order.join(" → ")
            ));
            Ok(EXIT_OK)
        }
        Command::Render {
            target,
            output,
            classic_sidecar,
            image_tag,
            ..
        } => {
            if classic_sidecar && target == crate::render::Target::Compose {
                return Err(Error::Usage(
                    "--classic-sidecar applies to `render k8s` only".into(),
                ));
            }
            let spec = load(&files)?;
            let opts = crate::render::K8sOptions {
                classic_sidecar,
                image_tag,
            };
            out.block(&crate::render::render(
                &spec,
                target,
                &opts,
                output.as_deref(),
            )?);
            Ok(EXIT_OK)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            out.block(&crate::commands::completions::script(shell, &mut cmd));
            Ok(EXIT_OK)
        }
        Command::CompleteServices { line } => {
            let files = if line.is_empty() {
                files
            } else {
                match service_slot(&line) {
                    Some(files) => files,
                    None => return Ok(crate::error::EXIT_RUNTIME),
                }
            };
            let spec = load(&files)?;
            for name in &spec.order {
                out.block(name);
            }
            Ok(EXIT_OK)
        }
        c @ (Command::Schema | Command::Docs { .. }) => reference(c, out),
        Command::Init { force } => {
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
        Command::Up {
            services,
            detach,
            no_watch,
            ..
        } => {
            let spec = load(&files)?;
            crate::commands::up::up(
                spec,
                crate::run::UpOptions {
                    services,
                    detach,
                    watch: !no_watch,
                    forward: !detach && !no_watch,
                },
            )
            .await
        }
        Command::Doctor { .. } => {
            let spec = load(&files)?;
            crate::doctor::doctor(&spec, out).await
        }
        Command::Rebuild { service, force, .. } => {
            let spec = load(&files)?;
            crate::commands::rebuild::rebuild_command(&spec, &service, force).await?;
            Ok(EXIT_OK)
        }
        Command::Watch { explain, .. } => {
            let spec = load(&files)?;
            let rules = crate::watch::Rules::new(&spec);
            let paths: Vec<PathBuf> = explain
                .into_iter()
                .map(|p| std::path::absolute(&p).unwrap_or(p))
                .collect();
            out.block(&rules.explain_paths(&paths));
            Ok(EXIT_OK)
        }
        Command::Down {
            volumes, project, ..
        } => {
            if let Some(project) = project {
                crate::commands::down::down_project(&project, volumes, out).await?;
                return Ok(EXIT_OK);
            }
            let spec = load_or_stand_in(&files, "down").await?;
            crate::commands::down::down(&spec, volumes, out).await?;
            Ok(EXIT_OK)
        }
        Command::Logs {
            services,
            follow,
            tail,
            since,
            timestamps,
            ..
        } => {
            let spec = load_or_stand_in(&files, "logs").await?;
            crate::commands::logs::logs(
                &spec,
                crate::commands::logs::LogsOptions {
                    services,
                    follow,
                    tail,
                    since,
                    timestamps,
                },
            )
            .await
        }
        Command::Stats {
            services,
            no_stream,
            json,
            ..
        } => {
            let spec = load(&files)?;
            crate::commands::stats::stats(&spec, &services, no_stream, json, out).await
        }
        cmd @ (Command::Exec { .. } | Command::Run { .. }) => one_off(cmd, &files).await,
        cmd @ Command::Test { .. } => test(cmd, &files).await,
        Command::Ps { json, .. } => {
            let spec = load_or_stand_in(&files, "ps").await?;
            crate::commands::ps::ps(&spec, json, out).await?;
            Ok(EXIT_OK)
        }
    }
}

/// Runs the command and returns the process exit code; errors are printed here.
pub async fn run(cli: Cli) -> u8 {
    if cli.progress == Progress::Plain {
        crate::output::printer::set_progress_plain();
    }
    let out = Printer::plain();
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
            eprintln!("error: {}", crate::output::redact::outgoing(&e.to_string()));
            code
        }
    }
}

#[cfg(test)]
mod tests {
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
        let slot =
            |line: &str| service_slot(&line.split(' ').map(String::from).collect::<Vec<_>>());
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
        // An option's value, exec's command, rebuild's second word, a subcommand without services: none.
        assert_eq!(slot("pinshare-dev logs --tail"), None);
        assert_eq!(slot("pinshare-dev exec ipfs"), None);
        assert_eq!(slot("pinshare-dev rebuild ipfs"), None);
        assert_eq!(slot("pinshare-dev ps"), None);
        assert_eq!(slot("pinshare-dev"), None);
    }
}
