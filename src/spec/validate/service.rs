//! One `[services.NAME]` table → a [`Service`]: which checks run, in what order, and how their results make the
//! service. Each check lives in the file named after its part of the table; what is left here is the image
//! choice and the init steps, too small for files of their own.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::super::raw::RawService;
use super::super::units::PortMapping;
use super::super::{ImageSource, InitAction, InitStep, Service};
use super::durations::duration;
use super::{
    Ctx, build, depends, kubo_config, kubo_version, ports, probes, resources, restart, safety,
    secrets, security, volumes, watch,
};

#[allow(clippy::too_many_arguments)]
pub(super) fn service(
    cx: &mut Ctx,
    project: &str,
    dir: &Path,
    name: &str,
    key_span: Range<usize>,
    svc: &Spanned<RawService>,
    names: &BTreeSet<String>,
    published: &mut Vec<(PortMapping, String, Range<usize>)>,
) -> Option<Service> {
    let raw = svc.get_ref();
    let before = cx.errors.len();
    safety::refused_settings(cx, raw);
    kubo_version::check(cx, raw);

    let image = image(cx, project, dir, name, &key_span, raw);
    let depends_on = depends::depends_on(cx, name, raw, names);
    let ports = ports::ports(cx, name, raw, published);
    let (volumes, host_mounts) = volumes::volumes(cx, name, dir, raw);

    let resources = raw
        .resources
        .as_ref()
        .map(|r| resources::resources(cx, r))
        .unwrap_or_default();
    let (readiness, liveness) = probes::probes(cx, raw);
    let restart = restart::restart_policy(cx, raw.restart.as_ref());
    let backoff = restart::backoff(cx, raw.backoff.as_ref());

    let init = init_steps(cx, name, raw);

    let stop_grace = duration(cx, raw.stop_grace.as_ref(), crate::spec::DEFAULT_STOP_GRACE);

    let watch = watch::watch(cx, dir, &key_span, raw, image.as_ref());
    let live_update = raw
        .live_update
        .as_ref()
        .map(|lu| watch::live_update(cx, dir, lu));
    let secret_env = secrets::secret_env(cx, name, raw);
    let security = security::security(cx, raw);

    if cx.errors.len() > before {
        return None;
    }
    Some(Service {
        name: name.to_string(),
        image: image?,
        depends_on,
        env: raw.env.clone(),
        secret_env,
        ports,
        volumes,
        host_mounts,
        resources,
        readiness,
        liveness,
        init,
        command: raw.command.clone(),
        entrypoint: raw.entrypoint.clone(),
        user: raw.user.clone(),
        stop_grace,
        watch,
        live_update,
        restart,
        backoff,
        fix_ownership: raw.fix_ownership.unwrap_or(false),
        security,
    })
}

/// What the service runs: the image it names, or the one its `build` makes (tagged with the image name when
/// there is one, else `PROJECT-NAME:dev`).
fn image(
    cx: &mut Ctx,
    project: &str,
    dir: &Path,
    name: &str,
    key_span: &Range<usize>,
    raw: &RawService,
) -> Option<ImageSource> {
    match (&raw.image, &raw.build) {
        (None, None) => {
            cx.err(key_span.clone(), format!("service `{name}` has neither `image` nor `build`"), Some("add `image = \"ipfs/kubo:v0.39.0\"` to run an image, or `build = { context = \".\" }` to build one"));
            None
        }
        (image, None) => {
            let image = image.as_ref()?;
            if image.get_ref().trim().is_empty() || image.get_ref().contains(char::is_whitespace) {
                cx.err(
                    image.span(),
                    format!("`{}` is not an image reference", image.get_ref()),
                    Some("for example `ipfs/kubo:v0.39.0`"),
                );
            }
            Some(ImageSource::Pull {
                reference: image.get_ref().clone(),
            })
        }
        (image, Some(b)) => {
            let tag = image
                .as_ref()
                .map_or_else(|| format!("{project}-{name}:dev"), |i| i.get_ref().clone());
            build::build(cx, dir, b, tag).map(ImageSource::Build)
        }
    }
}

/// The init steps: kubo's repo preparation first (from `kubo_config`), then the `init` commands in order.
fn init_steps(cx: &mut Ctx, name: &str, raw: &RawService) -> Vec<InitStep> {
    let mut init: Vec<InitStep> = kubo_config::step(cx, name, raw).into_iter().collect();
    for (i, step) in raw.init.iter().enumerate() {
        let s = step.get_ref();
        if s.command.get_ref().is_empty() {
            cx.err(
                s.command.span(),
                "an init step's `command` is empty",
                Some("give the argv, e.g. [\"chown\", \"-R\", \"1000\", \"/data\"]"),
            );
        }
        init.push(InitStep {
            name: s.name.clone().unwrap_or_else(|| format!("init-{}", i + 1)),
            image: s.image.clone(),
            user: s.user.clone().or_else(|| raw.user.clone()),
            action: InitAction::Command(s.command.get_ref().clone()),
        });
    }
    init
}
