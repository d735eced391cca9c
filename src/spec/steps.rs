//! The `[test]` table: the steps `pinshare-dev test` runs, in order, once the services are ready. Its serde
//! mirror and its validation live together here because nothing else in the spec uses them.
//!
//! ```toml
//! [[test.steps]]
//! name = "upload"
//! host = ["python3", "tests/upload.py"]        # on this host; env PINSHARE_DEV_PORT_<SERVICE>_<PORT>
//!
//! [[test.steps]]
//! name = "kubo answers"
//! service = "ipfs"                             # a one-off container from the service's image
//! command = ["ipfs", "--api=/dns/ipfs/tcp/5001", "id"]
//!
//! [[test.steps]]
//! name = "probe"
//! image = "busybox:1.36"                       # any image, on the project network
//! command = ["wget", "-qO-", "http://pinshare:9090/health"]
//! ```

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::render::Problem;

/// `[test]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    /// The steps, run in order; the first that fails ends the run.
    #[serde(default)]
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Vec<Spanned<RawStep>>,
}

/// `[[test.steps]]`: exactly one of `host`, `service`, `image`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Names the step in the output and the JUnit report.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// A command run on this host from the spec's directory; its environment has
    /// `PINSHARE_DEV_PORT_<SERVICE>_<PORT>` (the loopback port that reaches that container port).
    #[schemars(with = "Option<Vec<String>>")]
    pub host: Option<Spanned<Vec<String>>>,
    /// A one-off container from this service's image (its env, volumes, network), as `run` makes.
    #[schemars(with = "Option<String>")]
    pub service: Option<Spanned<String>>,
    /// A container from this image (present locally or pulled) on the project network.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// The container's command (arguments to its entrypoint); with `service`, default the service's.
    #[schemars(with = "Option<Vec<String>>")]
    pub command: Option<Spanned<Vec<String>>>,
    /// Extra environment of the step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A validated step.
#[derive(Debug, Clone, Serialize)]
pub struct TestStep {
    /// Its name.
    pub name: String,
    /// Where it runs.
    pub run: StepRun,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
}

/// Where a step runs.
#[derive(Debug, Clone, Serialize)]
pub enum StepRun {
    /// A program on this host (argv).
    Host(Vec<String>),
    /// A one-off container of the service; `None`: the service's own command.
    Service(String, Option<Vec<String>>),
    /// A container of an image on the project network, with this command.
    Image(String, Vec<String>),
}

/// Validates `[test]` against the service names.
pub(super) fn validate(
    raw: Option<&RawTest>,
    names: &BTreeSet<String>,
) -> (Vec<TestStep>, Vec<Problem>) {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for s in raw.map(|t| t.steps.as_slice()).unwrap_or_default() {
        let r = s.get_ref();
        let name = r.name.get_ref().trim().to_string();
        if name.is_empty() || !seen.insert(name.clone()) {
            let why = if name.is_empty() {
                "empty"
            } else {
                "a name used by an earlier step"
            };
            problems.push((
                r.name.span(),
                format!("test step name is {why}"),
                Some("give every [[test.steps]] a name of its own".into()),
            ));
        }
        if let Some(run) = step_run(r, s.span(), names, &mut problems) {
            steps.push(TestStep {
                name,
                run,
                env: r.env.clone(),
            });
        }
    }
    (steps, problems)
}

/// The step's `host`, `service` or `image`, checked: exactly one, a command where one is needed.
fn step_run(
    r: &RawStep,
    span: std::ops::Range<usize>,
    names: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<StepRun> {
    let command = r.command.as_ref().map(|c| c.get_ref().clone());
    let help = "a step has exactly one of host = [\"sh\", \"-c\", \"...\"], service = \"NAME\" or image = \"REF\"";
    let mut problem = |span, msg: String| {
        problems.push((span, msg, Some(help.to_string())));
        None
    };
    match (&r.host, &r.service, &r.image) {
        (Some(h), None, None) => {
            if let Some(c) = &r.command {
                return problem(
                    c.span(),
                    "a host step takes no `command`: put it in `host`".into(),
                );
            }
            if h.get_ref().is_empty() {
                return problem(
                    h.span(),
                    "`host` is empty: name the program and its arguments".into(),
                );
            }
            Some(StepRun::Host(h.get_ref().clone()))
        }
        (None, Some(svc), None) => {
            if !names.contains(svc.get_ref()) {
                let known = names.iter().cloned().collect::<Vec<_>>().join(", ");
                return problem(
                    svc.span(),
                    format!(
                        "unknown service `{}` in a test step; known services: {known}",
                        svc.get_ref()
                    ),
                );
            }
            Some(StepRun::Service(svc.get_ref().clone(), command))
        }
        (None, None, Some(img)) => match command {
            Some(c) if !c.is_empty() && !img.get_ref().trim().is_empty() => {
                Some(StepRun::Image(img.get_ref().clone(), c))
            }
            _ => problem(
                img.span(),
                "an image step needs a non-empty `command` and image".into(),
            ),
        },
        _ => problem(
            span,
            format!(
                "test step `{}` must have exactly one of host, service, image",
                r.name.get_ref()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn errors(text: &str) -> Vec<String> {
        let base = "[services.a]\nimage = \"x:1\"\n";
        match super::super::parse(Path::new("p.toml"), &format!("{base}{text}")) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|e| format!("{e}")).collect(),
        }
    }

    #[test]
    fn steps_are_read_in_order() {
        let spec = super::super::parse(
            Path::new("p.toml"),
            "[services.a]\nimage = \"x:1\"\n[[test.steps]]\nname = \"one\"\nhost = [\"true\"]\n[[test.steps]]\nname = \"two\"\nservice = \"a\"\n",
        )
        .expect("valid");
        let names: Vec<&str> = spec.test.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
    }

    #[test]
    fn a_step_needs_exactly_one_place_to_run() {
        let e = errors("[[test.steps]]\nname = \"x\"\nhost = [\"true\"]\nservice = \"a\"\n");
        assert!(
            e[0].contains("exactly one of host, service, image"),
            "{e:?}"
        );
        let e = errors("[[test.steps]]\nname = \"x\"\nservice = \"nope\"\n");
        assert!(e[0].contains("unknown service `nope`"), "{e:?}");
        let e = errors("[[test.steps]]\nname = \"x\"\nimage = \"busybox\"\n");
        assert!(e[0].contains("needs a non-empty `command`"), "{e:?}");
        let e = errors(
            "[[test.steps]]\nname = \"x\"\nhost = [\"true\"]\n[[test.steps]]\nname = \"x\"\nhost = [\"true\"]\n",
        );
        assert!(e[0].contains("used by an earlier step"), "{e:?}");
    }
}
