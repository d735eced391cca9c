//! `volumes`: each mount parsed, a bind source resolved from the spec's directory and required to exist, and
//! the ones that hand the container the host passed on to [`host_mounts`].

use std::path::Path;

use super::super::HostMount;
use super::super::raw::RawService;
use super::super::units::{self, MountSource, VolumeMount};
use super::{Ctx, host_mounts, missing_bind_source, resolve};

/// The service's mounts, and the host mounts among them that `allow_host_mounts` allows.
pub(super) fn volumes(
    cx: &mut Ctx,
    name: &str,
    dir: &Path,
    raw: &RawService,
) -> (Vec<VolumeMount>, Vec<HostMount>) {
    let mut volumes = Vec::new();
    let mut dangerous = Vec::new();
    for v in &raw.volumes {
        match units::parse_volume(v.get_ref()) {
            Ok(mut m) => {
                if let MountSource::Bind { path } = &m.source {
                    let abs = resolve(dir, &cx.host.expand_home(path));
                    if let Some(danger) = cx.host.danger(&abs) {
                        dangerous.push(host_mounts::Found {
                            span: v.span(),
                            written: path.clone(),
                            source: abs.clone(),
                            target: m.target.clone(),
                            read_only: m.read_only,
                            danger,
                        });
                    } else if !abs.exists() {
                        missing_bind_source(cx, v.span(), path, &abs);
                    }
                    m.source = MountSource::Bind {
                        path: abs.display().to_string(),
                    };
                }
                volumes.push(m);
            }
            Err(e) => cx.err(
                v.span(),
                format!("bad volume: {e}"),
                Some("write `\"NAME:/container/path\"` or `\"./host/path:/container/path[:ro]\"`"),
            ),
        }
    }
    let host_mounts = host_mounts::settle(cx, name, dir, raw, dangerous);
    (volumes, host_mounts)
}
