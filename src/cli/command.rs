//! The subcommands and their options: the command line's surface, as clap reads it.

use std::path::PathBuf;

use clap::Subcommand;

use super::{SpecFiles, SpecFilesLong};

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
        /// Manual trigger mode: a save marks its service as having pending changes (shown by `ps`) instead of
        /// rebuilding it; `pinshare-dev trigger SERVICE` builds them.
        #[arg(long, conflicts_with_all = ["detach", "no_watch"])]
        manual: bool,
        /// The dashboard's port on 127.0.0.1 (default: `[ui] port`, else 7730 or the next free one after it).
        #[arg(long, value_name = "N", conflicts_with_all = ["detach", "no_ui"])]
        ui_port: Option<u16>,
        /// Serve no dashboard.
        #[arg(long)]
        no_ui: bool,
    },
    /// Print the URL of the dashboard of the project's foreground `up`; with --open, open it in the browser.
    Ui {
        #[command(flatten)]
        files: SpecFiles,
        /// Open it with xdg-open.
        #[arg(long)]
        open: bool,
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
    /// Give SERVICE a new container of the same build (no rebuild). Through the project's foreground `up`
    /// when one runs; otherwise the engine restarts the service's container in place.
    Restart {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
    },
    /// Stop SERVICE. Under a foreground `up` it stays stopped through saves and spec edits until `start`, and
    /// the services that depend on it are told; otherwise the engine stops its container.
    Stop {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
    },
    /// Start SERVICE again after `stop` (under a foreground `up`, then build what was saved meanwhile).
    Start {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
    },
    /// Build SERVICE now, as a save would (with `up --manual`, its pending changes). With no foreground `up`,
    /// the same rebuild as `rebuild SERVICE`.
    Trigger {
        #[command(flatten)]
        files: SpecFiles,
        /// The service.
        service: String,
    },
    /// Check this machine against the spec: engine, published ports, images (present, built by `up` or pullable),
    /// inotify limits, bind-mount owners, disk.
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
