//! The image check: every service's image present on the engine, or what `up` would have to do to get it: a pull
//! (its registry is asked whether it has the image, as the pull would ask it) or a build from its context.

use crate::engine::Engine;
use crate::spec::{ImageSource, Spec};

use super::{Finding, Status};

/// What the engine said of a service's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Not asked (no engine, or the engine failed to answer).
    Unchecked,
    /// Present locally.
    Present,
    /// Not present locally; for an image to pull, what its registry said (`Err` says why a pull would fail).
    Absent(Option<Result<(), String>>),
}

/// One finding per service, in start order.
pub fn image_finding(service: &str, source: &ImageSource, lookup: &Lookup) -> Finding {
    let at = format!("{service}: {}", source.reference());
    match (source, lookup) {
        (_, Lookup::Unchecked) => Finding::new(Status::Skip, "image", format!("{at}: not checked")),
        (_, Lookup::Present) => Finding::new(Status::Ok, "image", format!("{at}: present locally")),
        (ImageSource::Pull { .. }, Lookup::Absent(Some(Ok(())))) => Finding::new(
            Status::Ok,
            "image",
            format!("{at}: not present locally; its registry has it (`up` pulls it)"),
        ),
        (ImageSource::Pull { reference }, Lookup::Absent(registry)) => {
            let why = match registry {
                Some(Err(e)) => e.as_str(),
                _ => "its registry was not asked",
            };
            Finding::new(
                Status::Fail,
                "image",
                format!("{at}: not present locally, and `up` could not pull it: {why}"),
            )
            .fix(format!(
                "docker pull {reference} where the registry is reachable"
            ))
            .fix("or load it: docker load -i image.tar")
        }
        (ImageSource::Build(b), Lookup::Absent(_)) => Finding::new(
            Status::Ok,
            "image",
            format!(
                "{at}: not built yet; `up` builds it from {}",
                b.context.display()
            ),
        ),
    }
}

/// Looks up every service's image on the engine, and asks the registry of each image to pull that is not
/// present (nothing is pulled or built).
pub(super) async fn image_checks(engine: Option<&dyn Engine>, spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    for name in &spec.order {
        let source = &spec.services[name].image;
        let lookup = match engine {
            Some(e) => match e.inspect_image(source.reference()).await {
                Ok(Some(_)) => Lookup::Present,
                Ok(None) => Lookup::Absent(match source {
                    ImageSource::Pull { reference } => Some(
                        e.registry_has(reference)
                            .await
                            .map_err(|err| err.to_string()),
                    ),
                    ImageSource::Build(_) => None,
                }),
                Err(err) => {
                    out.push(Finding::new(Status::Warn, "image", err.to_string()));
                    Lookup::Unchecked
                }
            },
            None => Lookup::Unchecked,
        };
        out.push(image_finding(name, source, &lookup));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_to_pull_is_ok_when_its_registry_has_it_and_a_failure_with_the_reason_otherwise() {
        let src = ImageSource::Pull {
            reference: "ipfs/kubo:v0.42.0".into(),
        };
        let f = image_finding("ipfs", &src, &Lookup::Absent(Some(Ok(()))));
        assert_eq!(f.status, Status::Ok);
        assert_eq!(
            f.text,
            "ipfs: ipfs/kubo:v0.42.0: not present locally; its registry has it (`up` pulls it)"
        );
        let why = "asking the registry for ipfs/kubo:v0.42.0: manifest unknown".to_string();
        let f = image_finding("ipfs", &src, &Lookup::Absent(Some(Err(why))));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.text,
            "ipfs: ipfs/kubo:v0.42.0: not present locally, and `up` could not pull it: asking the registry for ipfs/kubo:v0.42.0: manifest unknown"
        );
        assert_eq!(
            f.fix[0],
            "docker pull ipfs/kubo:v0.42.0 where the registry is reachable"
        );
        assert_eq!(
            image_finding("ipfs", &src, &Lookup::Present).status,
            Status::Ok
        );
        assert_eq!(
            image_finding("ipfs", &src, &Lookup::Unchecked).status,
            Status::Skip
        );
    }
}
