//! One-shot steps run before a service starts: each in its own short-lived container with the service's
//! volumes, required to exit 0; and `fix_ownership`, which gives writable mounts to the image's user through
//! the archive API. (`kubo_config` costs no container: see `kubo_prep`.)

use std::io::Read;

use crate::engine::{ContainerSpec, Engine, Role};
use crate::error::{Error, Result};
use crate::labels;
use crate::output::event::Init;
use crate::output::printer::Printer;
use crate::spec::{InitAction, Service, Spec};

/// Largest repo (as a tar) we repair by rewriting ownership through the Engine API.
const REPAIR_LIMIT: usize = 512 << 20;

fn step_container(spec: &Spec) -> impl Fn(&Service) -> String + '_ {
    move |svc| format!("{}-init", spec.container_name(&svc.name))
}

fn body(
    spec: &Spec,
    svc: &Service,
    image: &str,
    argv: &[String],
    user: Option<&str>,
) -> ContainerSpec {
    ContainerSpec {
        image: image.to_string(),
        entrypoint: Some(argv[..1].to_vec()),
        cmd: Some(argv[1..].to_vec()),
        user: user.map(str::to_string),
        env: svc.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        labels: labels::container(&spec.project, &svc.name, Role::Init, ""),
        mounts: crate::container::mounts(spec, svc),
        // An init step is where root work before the start goes (a `chown` of a volume, with `user = "0"`):
        // it keeps Docker's default capabilities, but gains nothing through setuid binaries unless the service
        // allows it.
        ..crate::container::hardened(&crate::spec::Security {
            no_new_privileges: svc.security.no_new_privileges,
            capabilities: crate::spec::Capabilities::DockerDefault,
        })
    }
}

/// Runs argv in a fresh container and returns exit code and output; the container is always removed.
async fn one_shot(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    image: &str,
    argv: &[String],
    user: Option<&str>,
) -> Result<(i64, String)> {
    let name = step_container(spec)(svc);
    engine.remove_container(&name).await?;
    engine
        .create_container(&name, body(spec, svc, image, argv, user))
        .await?;
    run_created(engine, &name).await
}

/// Starts a created one-shot container, waits for it, collects its output and removes it.
async fn run_created(engine: &dyn Engine, name: &str) -> Result<(i64, String)> {
    let result = async {
        engine.start_container(name).await?;
        let code = engine.wait_container(name).await?;
        let mut out = String::new();
        let mut logs = engine.logs(name, &crate::engine::LogOptions::default());
        while let Some(chunk) = futures_util::StreamExt::next(&mut logs).await {
            out.push_str(&String::from_utf8_lossy(&chunk?.bytes));
        }
        Ok::<_, Error>((code, out))
    }
    .await;
    engine.remove_container(name).await?;
    result
}

/// `uid[:gid]` (the group defaults to the uid) when numeric, as `doctor` reads it; names cannot be resolved
/// without the image's /etc/passwd.
fn numeric_user(user: &str) -> Option<(u32, u32)> {
    match crate::doctor::parse_user(user) {
        // A group written by name (`1000:users`) is as unresolvable as a user name.
        crate::doctor::RunAs::Ids { gid: None, .. } if user.contains(':') => None,
        crate::doctor::RunAs::Ids { uid, gid } => Some((uid, gid.unwrap_or(uid))),
        crate::doctor::RunAs::Name(_) => None,
    }
}

/// `fix_ownership`: gives each writable mount whose root belongs to someone else to the service's user, through
/// the Engine API's archive endpoints on a created, never started container (no shell or chown in the image).
pub async fn fix_ownership(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    image: &str,
    printer: &Printer,
) -> Result<()> {
    let user = match &svc.user {
        Some(u) => Some(u.clone()),
        None => engine
            .inspect_image(image)
            .await?
            .map(|i| i.user)
            .filter(|u| !u.is_empty()),
    };
    let Some(user) = user else {
        return Ok(()); // root: every mount is writable
    };
    let Some((uid, gid)) = numeric_user(&user) else {
        return Err(Error::Runtime(format!(
            "{}: fix_ownership needs a numeric user (uid or uid:gid), not `{user}`; set `user = \"UID:GID\"` in [services.{}]",
            svc.name, svc.name
        )));
    };
    if uid == 0 {
        return Ok(());
    }
    let probe = step_container(spec)(svc);
    engine.remove_container(&probe).await?;
    engine
        .create_container(&probe, body(spec, svc, image, &["true".to_string()], None))
        .await?;
    let result = async {
        for m in svc.volumes.iter().filter(|m| !m.read_only) {
            // The first header of the archive is the mount's root directory.
            let Some(head) = engine.download_prefix(&probe, &m.target, 512).await? else {
                continue;
            };
            let owner = head
                .get(..512)
                .and_then(|h| tar::Header::from_byte_slice(h).uid().ok());
            let Some(owner) = owner.filter(|o| *o != u64::from(uid)) else {
                continue;
            };
            let fixed = repair_ownership(engine, &probe, &m.target, uid, gid).await?;
            let event = Init::OwnershipRepaired {
                target: m.target.clone(),
                owner,
                fixed: fixed.len(),
                uid,
                gid,
            };
            printer.say(&svc.name, event);
        }
        Ok::<_, Error>(())
    }
    .await;
    engine.remove_container(&probe).await?;
    result
}

/// Runs every init step of a service, in order.
pub async fn run_all(
    engine: &dyn Engine,
    spec: &Spec,
    svc: &Service,
    service_image: &str,
    printer: &Printer,
) -> Result<()> {
    for step in &svc.init {
        let image = step.image.as_deref().unwrap_or(service_image);
        match &step.action {
            InitAction::Command(argv) => {
                let (code, out) =
                    one_shot(engine, spec, svc, image, argv, step.user.as_deref()).await?;
                for l in out.lines() {
                    let line = Init::StepOutput {
                        step: step.name.clone(),
                        line: l.to_string(),
                    };
                    printer.say(&svc.name, line);
                }
                if code != 0 {
                    return Err(Error::Runtime(format!(
                        "{}: init step `{}` (`{}`) exited with code {code}; the service was not started",
                        svc.name,
                        step.name,
                        argv.join(" ")
                    )));
                }
                printer.say(&svc.name, Init::StepDone(step.name.clone()));
            }
            // Not a container of its own: `kubo_prep` prepares the service's container before its start.
            InitAction::KuboConfig { .. } => {}
        }
    }
    Ok(())
}

/// One entry of a tar read whole.
pub(crate) struct Entry {
    pub(crate) header: tar::Header,
    pub(crate) data: Vec<u8>,
}

pub(crate) fn read_tar(bytes: &[u8]) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(bytes);
    for e in a.entries()? {
        let mut e = e?;
        let header = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        out.push(Entry { header, data });
    }
    Ok(out)
}

pub(crate) fn io_err(what: &str, e: &std::io::Error) -> Error {
    Error::Runtime(format!("{what}: {e}"))
}

/// Rewrites, with `uid:gid`, every entry of the repo not owned by them. Returns the paths repaired.
pub(crate) async fn repair_ownership(
    engine: &dyn Engine,
    container: &str,
    repo: &str,
    uid: u32,
    gid: u32,
) -> Result<Vec<String>> {
    let parent = repo
        .rsplit_once('/')
        .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
    let Some(tar_bytes) = engine
        .download_prefix(container, repo, REPAIR_LIMIT + 1)
        .await?
    else {
        return Ok(Vec::new());
    };
    if tar_bytes.len() > REPAIR_LIMIT {
        return Err(Error::Runtime(format!(
            "{repo} is too large to repair here; fix its ownership with: docker run --rm --user 0 -v VOLUME:{repo} --entrypoint chown IMAGE -R {uid}:{gid} {repo} (for a bind mount: sudo chown -R {uid}:{gid} HOST_PATH)"
        )));
    }
    let entries = read_tar(&tar_bytes).map_err(|e| io_err("reading the repo archive", &e))?;
    let mut repaired = Vec::new();
    let mut b = tar::Builder::new(Vec::new());
    for mut e in entries {
        let owned = e.header.uid().ok() == Some(u64::from(uid));
        if owned {
            continue;
        }
        let path = e
            .header
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        repaired.push(format!("{parent}/{path}").replace("//", "/"));
        e.header.set_uid(u64::from(uid));
        e.header.set_gid(u64::from(gid));
        // The owner must at least read (config is 0600 in kubo).
        let mode = e.header.mode().unwrap_or(0o600) | 0o600;
        e.header.set_mode(mode);
        e.header.set_cksum();
        b.append(&e.header, e.data.as_slice())
            .map_err(|er| io_err("building the repair archive", &er))?;
    }
    if repaired.is_empty() {
        return Ok(repaired);
    }
    let tar = b
        .into_inner()
        .map_err(|e| io_err("building the repair archive", &e))?;
    engine.upload(container, parent, tar).await?;
    Ok(repaired)
}

#[cfg(test)]
mod ownership_tests {
    use super::numeric_user;

    #[test]
    fn numeric_users_give_uid_and_gid() {
        assert_eq!(numeric_user("1000"), Some((1000, 1000)));
        assert_eq!(numeric_user("1000:100"), Some((1000, 100)));
        assert_eq!(numeric_user("ipfs"), None);
        assert_eq!(numeric_user("1000:users"), None);
    }
}
