//! `test [--keep] [--junit FILE]`: the spec's `[test]` steps against a throwaway copy of the project. The copy
//! is the spec under another project name (`<name>-test-<random>`): its own containers, network and volumes, and
//! no host port of its own (the engine publishes each container port on an ephemeral loopback port, given to
//! host steps as `PINSHARE_DEV_PORT_<SERVICE>_<PORT>`), so it runs beside a developer's `up` and beside other
//! `test`s. Services come up as `up` brings them up (`bring_up`); then the steps run in order until one fails,
//! whose exit code is the tool's. Everything the copy made is removed afterwards, volumes included, on success,
//! failure and Ctrl-C; a copy a killed `test` left (its owner pid gone) is removed by the next `test` and by `down`.
//! `--stats` samples the services while the steps run and sums them up (`stats`, `recommend`).

mod junit;
mod recommend;
mod stats;
mod steps;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::labels;
use crate::output::event::Command;
use crate::output::printer::{Printer, TOOL};
use crate::spec::Spec;

pub(crate) use steps::StepResult;

/// What `test` was asked for besides the steps.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Leave the copy up.
    pub keep: bool,
    /// Write a JUnit report here.
    pub junit: Option<PathBuf>,
    /// Sample the services while the steps run and sum them up.
    pub stats: bool,
    /// The sums as JSON on stdout (the run's lines on stderr).
    pub json: bool,
}

/// Runs `test`; returns the exit code (the failing step's, 130 after Ctrl-C).
pub async fn test(spec: &Spec, opts: &TestOptions, out: &Printer) -> Result<u8> {
    let (keep, junit) = (opts.keep, opts.junit.as_deref());
    if spec.test.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no [test] steps; add one, e.g.\n\n[[test.steps]]\nname = \"health\"\nhost = [\"sh\", \"-c\", \"curl -fsS http://127.0.0.1:$PINSHARE_DEV_PORT_PINSHARE_9090/health\"]",
            spec.file.display()
        )));
    }
    let cancel = cancel_on_signals()?;
    let engine = crate::engine::connect().await?;
    let names = spec.services.keys().map(String::as_str);
    let printer = if opts.json {
        out.spawn_stderr(names)
    } else {
        out.spawn(names)
    };
    crate::commands::down::remove_leftovers(&*engine, &spec.project, &printer).await?;
    let mut copy = spec.throwaway(&copy_name(&spec.project), copy_labels(spec, keep));
    // The engine publishes every container port on an ephemeral loopback port, as for a foreground run's
    // forwarder (which is not started): readiness and the host steps reach the services there.
    for svc in copy.services.values().filter(|s| !s.ports.is_empty()) {
        let reach = crate::container::Reach::Published;
        copy.run.forwarded.insert(svc.name.clone(), reach);
    }
    let project = Command::TestProject {
        copy: copy.project.clone(),
        of: spec.project.clone(),
    };
    printer.say(TOOL, project);
    let started = Instant::now();
    // Why the services did not start, for the JUnit report (an interrupted start-up is no test result).
    let (outcome, startup) = match start_copy(&engine, &copy, &printer, &cancel).await {
        Ok(()) => (
            run_copy(&engine, &copy, &printer, &cancel, opts.stats).await,
            None,
        ),
        Err(Error::Interrupted) => (Err(Error::Interrupted), None),
        Err(e) => {
            let why = format!("{e}{}", last_lines(&*engine, &copy).await);
            (Err(e), Some(why))
        }
    };
    let elapsed = started.elapsed();
    if let Ok((_, Some(report))) = &outcome {
        print_stats(report, opts.json, &printer).await;
    }
    let outcome = outcome.map(|(results, _)| results);
    if let Some(file) = junit {
        write_junit(
            file,
            &copy,
            (&outcome, startup.as_deref()),
            elapsed,
            &printer,
        )?;
    }
    if keep && !cancel.is_cancelled() {
        print_kept(&*engine, &copy, &printer).await;
    } else {
        // Whatever happened, and even after Ctrl-C: nothing of the copy stays.
        crate::commands::down::remove_project(&*engine, &copy, true, &printer).await?;
    }
    printer.flush().await;
    let results = outcome?;
    let code = results.iter().find_map(StepResult::failed).unwrap_or(0);
    if code == 0 {
        printer.block(&format!(
            "{} test step(s) passed in {:.1} s",
            results.len(),
            elapsed.as_secs_f64()
        ));
    }
    printer.flush().await;
    Ok(code)
}

/// A token cancelled by SIGINT or SIGTERM.
fn cancel_on_signals() -> Result<CancellationToken> {
    let cancel = CancellationToken::new();
    for kind in [
        tokio::signal::unix::SignalKind::interrupt(),
        tokio::signal::unix::SignalKind::terminate(),
    ] {
        let mut sig = tokio::signal::unix::signal(kind)
            .map_err(|e| Error::Runtime(format!("installing the signal handler: {e}")))?;
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            if sig.recv().await.is_some() {
                on_signal.cancel();
            }
        });
    }
    Ok(cancel)
}

/// The JUnit report of the steps that ran, or of a start-up that failed (`startup`: why); an interrupted run
/// has none.
fn write_junit(
    file: &Path,
    copy: &Spec,
    (outcome, startup): (&Result<Vec<StepResult>>, Option<&str>),
    elapsed: std::time::Duration,
    printer: &Printer,
) -> Result<()> {
    let ran = match (outcome, startup) {
        (_, Some(why)) => (&[][..], Some(why)),
        (Ok(results), None) => (results.as_slice(), None),
        (Err(_), None) => return Ok(()),
    };
    junit::write(file, copy, ran, elapsed)?;
    printer.say(TOOL, Command::JunitWritten(file.to_path_buf()));
    Ok(())
}

/// The `--stats` report: a table among the run's lines, or JSON alone on stdout.
async fn print_stats(report: &stats::Report, json: bool, printer: &Printer) {
    if json {
        let out = printer.spawn(std::iter::empty());
        out.block(&serde_json::to_string_pretty(report).unwrap_or_default());
        out.flush().await;
    } else {
        printer.block(&stats::render(report));
    }
}

/// Brings the copy's services up as `up` does.
async fn start_copy(
    engine: &Arc<dyn Engine>,
    copy: &Spec,
    printer: &Printer,
    cancel: &CancellationToken,
) -> Result<()> {
    // The copy is removed whole afterwards, what start-up made with it.
    let mut made = crate::run::Made::default();
    crate::run::bring_up(
        engine,
        copy,
        &copy.order,
        printer,
        (Instant::now(), cancel, &Default::default()),
        &mut made,
    )
    .await
}

/// Runs the copy's steps until one fails; the results of the steps that ran, in order, and with `stats` the
/// services' figures while they ran.
async fn run_copy(
    engine: &Arc<dyn Engine>,
    copy: &Spec,
    printer: &Printer,
    cancel: &CancellationToken,
    stats: bool,
) -> Result<(Vec<StepResult>, Option<stats::Report>)> {
    let ports = steps::port_env(&**engine, copy).await?;
    let sampler = stats.then(|| stats::Sampler::start(engine.clone(), copy));
    let mut results = Vec::new();
    for (i, step) in copy.test.iter().enumerate() {
        let starts = Command::TestStep {
            n: i + 1,
            of: copy.test.len(),
            name: step.name.clone(),
        };
        printer.say(TOOL, starts);
        printer.flush().await;
        let r = steps::run_step(engine, copy, i, step, &ports, printer, cancel).await?;
        let failed = r.failed();
        if let Some(code) = failed {
            report_failure(&**engine, copy, &r, code, printer).await;
        } else {
            let passed = Command::StepPassed {
                name: step.name.clone(),
                took: r.time,
            };
            printer.say(TOOL, passed);
        }
        results.push(r);
        if failed.is_some() {
            break;
        }
    }
    let report = match sampler {
        Some(s) => Some(s.finish(&**engine, copy).await),
        None => None,
    };
    Ok((results, report))
}

/// The failing step's output and the last lines of every service.
async fn report_failure(
    engine: &dyn Engine,
    copy: &Spec,
    r: &StepResult,
    code: u8,
    printer: &Printer,
) {
    let mut text = format!(
        "step {} failed with exit code {code}; its output:\n",
        r.name
    );
    text.push_str(r.output.trim_end());
    text.push_str(&last_lines(engine, copy).await);
    printer.block(&text);
}

/// The last lines of every service, each under its heading.
async fn last_lines(engine: &dyn Engine, copy: &Spec) -> String {
    let mut text = String::new();
    for name in &copy.order {
        let container = copy.container_name(name);
        let lines = crate::run::last_lines(engine, &container, 20).await;
        text.push_str(&format!(
            "\n{}\n",
            crate::run::last_lines_heading(lines.len(), name)
        ));
        text.push_str(&lines.join("\n"));
    }
    text
}

/// How to reach a kept copy and how to remove it.
async fn print_kept(engine: &dyn Engine, copy: &Spec, printer: &Printer) {
    let mut text = format!("kept test project {}; its services:", copy.project);
    for (k, v) in steps::port_env(engine, copy).await.unwrap_or_default() {
        text.push_str(&format!("\n  {k}={v}"));
    }
    text.push_str(&format!(
        "\nremove it with: pinshare-dev down --project {} --volumes",
        copy.project
    ));
    printer.block(&text);
}

/// `<project>-test-<8 hex digits>`, random enough that copies never meet (the project name is at most 63).
fn copy_name(project: &str) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let base = &project[..project.len().min(49)];
    format!("{base}-test-{:08x}", h.finish() as u32)
}

/// The copy's labels: a test, of which project, and whose (a kept copy names no pid: only `down` removes it).
fn copy_labels(spec: &Spec, keep: bool) -> BTreeMap<String, String> {
    let owner = if keep {
        "kept".to_string()
    } else {
        std::process::id().to_string()
    };
    BTreeMap::from([
        (labels::TEST.to_string(), "true".to_string()),
        (labels::TEST_OF.to_string(), spec.project.clone()),
        (labels::OWNER_PID.to_string(), owner),
    ])
}
