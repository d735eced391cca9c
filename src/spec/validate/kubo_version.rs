//! A kubo probe must exist in the kubo version the service runs. `ipfs diag healthy` is new in kubo v0.42.0
//! (kubo v0.42.0 `Dockerfile` HEALTHCHECK; v0.39.0 still checks `dag stat` of the empty directory), and an
//! older CLI fails it with `expected 0 argument(s), got 1`: a liveness probe written that way kills a v0.39
//! kubo every few periods. Only a tag that names a release can be judged (`ipfs/kubo:v0.39.0`, `…:v0.41.1`,
//! `…:v0.40.0-rc1`); `latest`, `release`, a digest or a built image are left alone.

use toml::Spanned;

use super::super::raw::{RawProbe, RawService};
use super::Ctx;

/// The first release with `ipfs diag healthy`.
const DIAG_HEALTHY_SINCE: (u32, u32, u32) = (0, 42, 0);

/// The probe that works on every kubo release from v0.39 (the image's own HEALTHCHECK up to v0.41).
pub(crate) const DAG_STAT_EMPTY_DIR: &str = "/ipfs/QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

/// `(major, minor, patch)` of a kubo image reference that names a release, else `None`.
pub(crate) fn release_of(image: &str) -> Option<(u32, u32, u32)> {
    let without_digest = image.split('@').next()?;
    let slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = without_digest[slash..].split_once(':')?;
    let repo = format!("{}{name}", &without_digest[..slash]);
    let repo = repo
        .trim_start_matches("docker.io/")
        .trim_start_matches("index.docker.io/")
        .trim_start_matches("library/");
    if !matches!(repo, "ipfs/kubo" | "ipfs/go-ipfs") {
        return None;
    }
    let version = tag.strip_prefix('v')?;
    let version = version.split(['-', '+']).next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let v = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(v)
}

/// Whether argv runs `ipfs … diag healthy`.
fn runs_diag_healthy(argv: &[String]) -> bool {
    let ipfs = argv
        .first()
        .is_some_and(|a| a == "ipfs" || a.ends_with("/ipfs"));
    ipfs && argv.windows(2).any(|w| w[0] == "diag" && w[1] == "healthy")
}

/// Refuses a probe of `raw` that its kubo release cannot run.
pub(super) fn check(cx: &mut Ctx, raw: &RawService) {
    let Some(image) = raw.image.as_ref() else {
        return;
    };
    if raw.build.is_some() {
        return;
    }
    let Some(v) = release_of(image.get_ref()) else {
        return;
    };
    if v >= DIAG_HEALTHY_SINCE {
        return;
    }
    let probes: [(&str, Option<&Spanned<RawProbe>>); 2] = [
        ("readiness", raw.readiness.as_ref()),
        ("liveness", raw.liveness.as_ref()),
    ];
    for (kind, p) in probes {
        let Some(exec) = p.and_then(|p| p.get_ref().exec.as_ref()) else {
            continue;
        };
        if !runs_diag_healthy(exec.get_ref()) {
            continue;
        }
        cx.err(
            exec.span(),
            format!(
                "`ipfs diag healthy` exists from kubo v0.42.0; the CLI of {} fails it (`expected 0 argument(s), got 1`), so this {kind} probe would always fail",
                image.get_ref()
            ),
            Some(&format!(
                "use `ipfs/kubo:v0.42.0` or later, or the check older images use: exec = [\"ipfs\", \"--api=/ip4/127.0.0.1/tcp/5001\", \"dag\", \"stat\", \"{DAG_STAT_EMPTY_DIR}\"]"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{release_of, runs_diag_healthy};

    #[test]
    fn kubo_release_tags_are_read() {
        assert_eq!(release_of("ipfs/kubo:v0.39.0"), Some((0, 39, 0)));
        assert_eq!(release_of("docker.io/ipfs/kubo:v0.42.0"), Some((0, 42, 0)));
        assert_eq!(release_of("ipfs/kubo:v0.40.0-rc1"), Some((0, 40, 0)));
        assert_eq!(release_of("ipfs/kubo:v0.41.0@sha256:abc"), Some((0, 41, 0)));
        assert_eq!(release_of("ipfs/go-ipfs:v0.12.2"), Some((0, 12, 2)));
        assert_eq!(release_of("ipfs/kubo:latest"), None);
        assert_eq!(release_of("ipfs/kubo:release"), None);
        assert_eq!(release_of("ipfs/kubo"), None);
        assert_eq!(release_of("registry:5000/ipfs/kubo:v0.39.0"), None);
        assert_eq!(release_of("someone/kubo:v0.39.0"), None);
    }

    #[test]
    fn diag_healthy_is_found_wherever_the_options_are() {
        let argv = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert!(runs_diag_healthy(&argv(
            "ipfs --api=/ip4/127.0.0.1/tcp/5001 diag healthy"
        )));
        assert!(runs_diag_healthy(&argv("/usr/local/bin/ipfs diag healthy")));
        assert!(!runs_diag_healthy(&argv("ipfs diag sys")));
        assert!(!runs_diag_healthy(&argv("sh -c ipfs diag healthy")));
    }
}
