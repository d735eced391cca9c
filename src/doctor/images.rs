//! The image check: every service's image present on the engine, or what `up` would have to do to get it (a
//! pull needs the image's registry; a build needs its context).

use crate::engine::Engine;
use crate::spec::{ImageSource, Spec};

use super::{Finding, Status};

/// One finding per service, in start order: `present` says whether the engine has the image.
pub fn image_finding(service: &str, source: &ImageSource, present: Option<bool>) -> Finding {
    let at = format!("{service}: {}", source.reference());
    match (source, present) {
        (_, None) => Finding::new(Status::Skip, "image", format!("{at}: not checked")),
        (ImageSource::Pull { .. }, Some(true)) | (ImageSource::Build(_), Some(true)) => {
            Finding::new(Status::Ok, "image", format!("{at}: present locally"))
        }
        (ImageSource::Pull { reference }, Some(false)) => Finding::new(
            Status::Warn,
            "image",
            format!("{at}: not present locally; `up` would pull it, which needs its registry"),
        )
        .fix(format!(
            "docker pull {reference} where the registry is reachable"
        ))
        .fix("or load it: docker load -i image.tar"),
        (ImageSource::Build(b), Some(false)) => Finding::new(
            Status::Ok,
            "image",
            format!(
                "{at}: not built yet; `up` builds it from {}",
                b.context.display()
            ),
        ),
    }
}

/// Looks up every service's image on the engine (nothing is pulled or built).
pub(super) async fn image_checks(engine: Option<&dyn Engine>, spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    for name in &spec.order {
        let source = &spec.services[name].image;
        let present = match engine {
            Some(e) => match e.inspect_image(source.reference()).await {
                Ok(i) => Some(i.is_some()),
                Err(err) => {
                    out.push(Finding::new(Status::Warn, "image", err.to_string()));
                    None
                }
            },
            None => None,
        };
        out.push(image_finding(name, source, present));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_to_pull_is_a_warning_with_the_commands_that_get_it() {
        let src = ImageSource::Pull {
            reference: "ipfs/kubo:v0.42.0".into(),
        };
        let f = image_finding("ipfs", &src, Some(false));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.text,
            "ipfs: ipfs/kubo:v0.42.0: not present locally; `up` would pull it, which needs its registry"
        );
        assert_eq!(
            f.fix[0],
            "docker pull ipfs/kubo:v0.42.0 where the registry is reachable"
        );
        assert_eq!(image_finding("ipfs", &src, Some(true)).status, Status::Ok);
        assert_eq!(image_finding("ipfs", &src, None).status, Status::Skip);
    }
}
