//! Command line: the agreed surface (`-f` before the subcommand, like compose), dispatch, exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::{EXIT_OK, Error, Result};
use crate::output::printer::Printer;
use crate::spec::{self, Spec};

/// pinshare-dev: kubo and PinShare as separate containers, started in order of real readiness.
#[derive(Debug, Parser)]
#[command(name = "pinshare-dev", version, about)]
pub struct Cli {
    /// Spec file (default: pinshare.toml in the current directory or the nearest parent).
    #[arg(short = 'f', long = "file", global = false, value_name = "PATH")]
    pub file: Option<PathBuf>,
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
        /// Also remove the project's named volumes (their data is lost).
        #[arg(long)]
        volumes: bool,
    },
    /// Show container output.
    Logs {
        /// Services; default all.
        services: Vec<String>,
        /// Keep following.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Number of lines from the end of each service's output.
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
        /// Only output newer than this (e.g. 10m, 30s).
        #[arg(long, value_name = "DUR")]
        since: Option<String>,
        /// Show timestamps.
        #[arg(short = 't', long)]
        timestamps: bool,
    },
    /// Service, container state, readiness, ports, image, restarts, uptime.
    Ps {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// CPU and memory of each service against its requests and limits, network and block I/O, restarts; marks a
    /// service that stays above its request or near its limit. Streams until Ctrl-C.
    Stats {
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
    Check,
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
        /// The service.
        service: String,
    },
    /// Check this machine against the spec: engine, published ports, inotify limits, bind-mount owners, disk.
    /// Exit 1 when a check fails; each problem comes with the command that fixes it.
    Doctor,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell); bash and fish also complete
    /// service names from the spec.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The spec's service names, one a line (what the completion scripts call).
    #[command(name = "__complete-services", hide = true)]
    CompleteServices,
    /// Explain what watching does with paths.
    Watch {
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

/// The spec file, relative to where the user is when it is below it, as they would type it.
fn locate(file: Option<&std::path::Path>) -> Result<std::path::PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("reading the current directory: {e}")))?;
    let path = spec::locate(file, &cwd)?;
    Ok(path
        .strip_prefix(&cwd)
        .map_or_else(|_| path.clone(), std::path::Path::to_path_buf))
}

fn load(file: Option<&std::path::Path>) -> Result<Spec> {
    let spec = spec::load(&locate(file)?)?;
    crate::output::redact::set_current(&spec.secret_values());
    Ok(spec)
}

/// For `down`, `ps` and `logs`, which need only the project and its services: the spec, or while it does not
/// load (a syntax error mid-edit) a stand-in for the project it names, with a warning on stderr.
async fn load_or_stand_in(file: Option<&std::path::Path>, command: &str) -> Result<Spec> {
    let path = locate(file)?;
    match load(file) {
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

async fn dispatch(cli: Cli, out: &Printer) -> Result<u8> {
    match cli.command {
        Command::Check => {
            let spec = load(cli.file.as_deref())?;
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
        } => {
            if classic_sidecar && target == crate::render::Target::Compose {
                return Err(Error::Usage(
                    "--classic-sidecar applies to `render k8s` only".into(),
                ));
            }
            let spec = load(cli.file.as_deref())?;
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
        Command::CompleteServices => {
            let spec = load(cli.file.as_deref())?;
            for name in &spec.order {
                out.block(name);
            }
            Ok(EXIT_OK)
        }
        Command::Schema => {
            out.block(&serde_json::to_string_pretty(&spec::json_schema()).unwrap_or_default());
            Ok(EXIT_OK)
        }
        Command::Init { force } => {
            let cwd = std::env::current_dir().map_err(|e| Error::Usage(e.to_string()))?;
            let done = crate::commands::init::write_into(&cwd, force).map_err(Error::Usage)?;
            for d in done {
                out.block(&d.to_string());
            }
            out.block("next: pinshare-dev up");
            Ok(EXIT_OK)
        }
        Command::Up {
            services,
            detach,
            no_watch,
        } => {
            let spec = load(cli.file.as_deref())?;
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
        Command::Doctor => {
            let spec = load(cli.file.as_deref())?;
            crate::doctor::doctor(&spec, out).await
        }
        Command::Rebuild { service } => {
            let spec = load(cli.file.as_deref())?;
            crate::commands::rebuild::rebuild_command(&spec, &service).await?;
            Ok(EXIT_OK)
        }
        Command::Watch { explain } => {
            let spec = load(cli.file.as_deref())?;
            let rules = crate::watch::Rules::new(&spec);
            for p in explain {
                let abs = std::path::absolute(&p).unwrap_or(p);
                out.block(&rules.explain(&abs));
            }
            Ok(EXIT_OK)
        }
        Command::Down { volumes } => {
            let spec = load_or_stand_in(cli.file.as_deref(), "down").await?;
            crate::commands::down::down(&spec, volumes, out).await?;
            Ok(EXIT_OK)
        }
        Command::Logs {
            services,
            follow,
            tail,
            since,
            timestamps,
        } => {
            let spec = load_or_stand_in(cli.file.as_deref(), "logs").await?;
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
            .await?;
            Ok(EXIT_OK)
        }
        Command::Stats {
            services,
            no_stream,
            json,
        } => {
            let spec = load(cli.file.as_deref())?;
            crate::commands::stats::stats(&spec, &services, no_stream, json, out).await
        }
        Command::Ps { json } => {
            let spec = load_or_stand_in(cli.file.as_deref(), "ps").await?;
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
