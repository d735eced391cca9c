//! `down`: remove the project's containers (reverse dependency order, graceful) and network, found by label.
//! Volumes only with `--volumes`. Nothing without our project label is touched. A foreground `up` of the project
//! is asked to stop first (SIGTERM): it removes what it runs and exits, instead of watching a project that is gone.
//! `down --project NAME` needs no spec: it acts on what carries that project's label (a project renamed since,
//! or whose spec is gone), each container with the default grace and in no particular order. `down` of a project
//! also removes the throwaway copies a killed `test` of it left (their owner pid gone; see `commands/test`).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::labels;
use crate::output::printer::Printer;
use crate::reconcile::{self, Teardown};
use crate::spec::Spec;

/// Asks the foreground `up` of the project (if one runs) to stop, and waits until it has: it stops and removes
/// its containers in its own order, says why in its terminal, and releases the project lock.
async fn stop_running_up(spec: &Spec, again: &str, out: &Printer) -> Result<Option<u32>> {
    let Some(pid) = crate::run::lock::holder(&spec.project) else {
        return Ok(None);
    };
    out.block(&format!(
        "a foreground `up` (pid {pid}) runs project {}; asking it to stop (SIGTERM), it removes its containers",
        spec.project
    ));
    // Said before the wait, not after it.
    out.flush().await;
    let target =
        rustix::process::Pid::from_raw(i32::try_from(pid).unwrap_or(0)).ok_or_else(|| {
            Error::Runtime(format!(
                "the `up` of project {} has not written its pid to {} yet; try again in a moment",
                spec.project,
                crate::run::lock::path_for(&spec.project).display()
            ))
        })?;
    rustix::process::kill_process(target, rustix::process::Signal::TERM).map_err(|e| {
        Error::Runtime(format!(
            "asking the `up` of project {} (pid {pid}) to stop: {e}; stop it with Ctrl-C in its terminal, then run `{again}` again",
            spec.project,
        ))
    })?;
    // Its shutdown takes each service's grace period, in order; more than that means it is stuck.
    let budget = spec
        .services
        .values()
        .map(|s| s.stop_grace)
        .sum::<Duration>()
        + Duration::from_secs(30);
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(20);
    while crate::run::lock::holder(&spec.project).is_some() {
        if started.elapsed() > budget {
            return Err(Error::Runtime(format!(
                "the `up` of project {} (pid {pid}) did not stop within {} s; kill it (kill -9 {pid}), then run `{again}` again",
                spec.project,
                budget.as_secs(),
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
    out.block(&format!("the foreground `up` (pid {pid}) stopped"));
    Ok(Some(pid))
}

/// Runs `down` on the spec's project.
pub async fn down(spec: &Spec, volumes: bool, out: &Printer) -> Result<()> {
    teardown(spec, volumes, &spec.command("down"), out).await
}

/// Runs `down --project NAME`: what carries that project's labels, without a spec.
pub async fn down_project(project: &str, volumes: bool, out: &Printer) -> Result<()> {
    let spec = Spec::bare(project).map_err(|e| Error::Usage(format!("down --project: {e}")))?;
    teardown(&spec, volumes, &project_command(project), out).await
}

/// `pinshare-dev down --project NAME`: the `down` of a project named by its label, whatever spec it came from.
pub fn project_command(project: &str) -> String {
    format!("pinshare-dev down --project {project}")
}

/// Stops a running `up` of the project, removes its containers and network, and its volumes if asked; `again`
/// is the command to repeat when a foreground `up` is in the way.
async fn teardown(spec: &Spec, volumes: bool, again: &str, out: &Printer) -> Result<()> {
    let engine = crate::engine::connect().await?;
    let stopped_up = stop_running_up(spec, again, out).await?;
    let removed = remove_project(&*engine, spec, volumes, out).await?;
    if removed == 0 && stopped_up.is_none() {
        out.block(&format!(
            "no containers of project {} were running",
            spec.project
        ));
    }
    // What a killed `test` of this project left is removed too (a running one's is not).
    remove_leftovers(&*engine, &spec.project, out).await
}

/// Removes the project's containers (in the spec's stop order) and network, and its volumes if asked; returns
/// how many containers there were.
pub(crate) async fn remove_project(
    engine: &dyn crate::engine::Engine,
    spec: &Spec,
    volumes: bool,
    out: &Printer,
) -> Result<usize> {
    let containers = reconcile::observe(engine, spec).await?;
    reconcile::apply(
        engine,
        spec,
        &reconcile::plan_down(spec, &containers, Teardown::Down),
        out,
    )
    .await?;
    let net = spec.network_name();
    if let Some(l) = engine.network_labels(&net).await?
        && l.get(labels::PROJECT) == Some(&spec.project)
    {
        engine.remove_network(&net).await?;
        out.block(&format!("removed network {net}"));
    }
    let kept = engine.project_volumes(&spec.project).await?;
    if volumes {
        for v in &kept {
            engine.remove_volume(v).await?;
            out.block(&format!("removed volume {v}"));
        }
    } else if !kept.is_empty() {
        out.block(&format!(
            "kept volume(s) {} (down --volumes removes them)",
            kept.join(", ")
        ));
    }
    Ok(containers.len())
}

/// Removes every test copy of `project` whose `test` is gone (killed: its pid no longer runs); a running
/// `test`'s copy and a kept one are left alone.
pub(crate) async fn remove_leftovers(
    engine: &dyn crate::engine::Engine,
    project: &str,
    out: &Printer,
) -> Result<()> {
    for l in engine.networks_labelled(labels::TEST_OF, project).await? {
        let (Some(name), Some(pid)) = (l.get(labels::PROJECT), l.get(labels::OWNER_PID)) else {
            continue;
        };
        if l.get(labels::TEST).map(String::as_str) != Some("true") || !owner_gone(pid) {
            continue;
        }
        out.block(&format!(
            "removing test project {name}, left by a `test` (pid {pid}) that no longer runs"
        ));
        let bare = Spec::bare(name).map_err(Error::Runtime)?;
        crate::commands::down::remove_project(engine, &bare, true, out).await?;
    }
    Ok(())
}

/// Whether the process `pid` (a label's value) is gone; a value that is no pid (a kept copy's) never is.
fn owner_gone(pid: &str) -> bool {
    let Some(pid) = pid
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    matches!(rustix::process::test_kill_process(pid), Err(e) if e == rustix::io::Errno::SRCH)
}
