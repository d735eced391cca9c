//! A service's image, made available locally: pulled, or built — its host build first (one at a time per
//! directory), then its packed context — skipped when the labels say nothing it reads has changed.

pub(crate) mod context;
pub(crate) mod dockerignore;
mod reach;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinSet;

use crate::engine::{Engine, PullProgress};
use crate::error::{Error, Result};
use crate::labels;
use crate::output::event::Image;
use crate::output::printer::Printer;
use crate::spec::context::HostBuilds;
use crate::spec::{Build, ImageSource, Service};

/// Reads the host build's stdout and stderr: each line onto the live line (and kept) on a terminal, else printed.
fn read_host_build(
    child: &mut tokio::process::Child,
    svc: &str,
    printer: &Printer,
    live: Option<Arc<crate::output::printer::Status>>,
    kept: &Arc<std::sync::Mutex<Vec<String>>>,
    title: &str,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let outputs: [Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>; 2] = [
        child.stdout.take().map(|o| Box::new(o) as _),
        child.stderr.take().map(|e| Box::new(e) as _),
    ];
    for out in outputs.into_iter().flatten() {
        let (p, s, live, kept, title) = (
            printer.clone(),
            svc.to_string(),
            live.clone(),
            Arc::clone(kept),
            title.to_string(),
        );
        tasks.spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                match &live {
                    Some(st) => {
                        st.set(&format!("{title}: {}", l.trim()));
                        kept.lock().map(|mut k| k.push(l)).ok();
                    }
                    None => p.say(&s, Image::HostBuildOutput(l)),
                }
            }
        });
    }
    tasks
}

/// Runs a host-side build command, streaming its output; one at a time per directory (`builds`' lock).
async fn host_build(svc: &str, b: &Build, builds: &HostBuilds, printer: &Printer) -> Result<()> {
    let Some(hc) = &b.host_command else {
        return Ok(());
    };
    let lock = builds.lock(&hc.workdir);
    let _turn = lock.lock().await;
    let start = Instant::now();
    printer.say(svc, Image::HostBuild(hc.argv.join(" ")));
    let mut child = tokio::process::Command::new(&hc.argv[0])
        .args(&hc.argv[1..])
        .envs(&hc.env)
        .current_dir(&hc.workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Error::Runtime(format!(
                "{svc}: starting host build `{}` in {}: {e}",
                hc.argv.join(" "),
                hc.workdir.display()
            ))
        })?;
    // On a terminal the command's lines become one live line (the last line it printed), as an image build's
    // steps do; they are kept, and printed whole if it fails. Piped, every line is printed as it comes.
    let title = format!("host build: {}", hc.argv.join(" "));
    let live = printer.status(svc, &title).map(Arc::new);
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks = read_host_build(&mut child, svc, printer, live.clone(), &kept, &title);
    let status = child
        .wait()
        .await
        .map_err(|e| Error::Runtime(format!("{svc}: host build: {e}")))?;
    let mut tasks = tasks;
    while tasks.join_next().await.is_some() {}
    drop(live);
    if !status.success() {
        let kept = std::mem::take(
            &mut *kept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for l in kept {
            printer.say(svc, Image::HostBuildOutput(l));
        }
        return Err(Error::Runtime(format!(
            "{svc}: host build `{}` failed ({status})",
            hc.argv.join(" ")
        )));
    }
    printer.say(svc, Image::HostBuildDone(start.elapsed()));
    Ok(())
}

/// Packs the service's build context (blocking work, off the runtime).
pub(crate) async fn pack_context(svc: &Service, b: &Build) -> Result<context::Context> {
    let salt = format!("{}\0{:?}\0{:?}", b.dockerfile, b.args, b.target);
    let (ctx_dir, df) = (b.context.clone(), b.dockerfile.clone());
    tokio::task::spawn_blocking(move || context::pack(&ctx_dir, &df, &salt))
        .await
        .map_err(|e| Error::Runtime(e.to_string()))?
        .map_err(|e| {
            Error::Runtime(format!(
                "{}: reading build context {}: {e}",
                svc.name,
                b.context.display()
            ))
        })
}

/// The hash of what a host build reads: its command, environment and directory, and every file under the
/// service's watch paths that a change of would trigger a rebuild (`.gitignore`d files, `.git/` and editor
/// files left out, as the watcher does). Unchanged, the build's output is too.
fn host_inputs_hash(hc: &crate::spec::HostCommand, paths: &[std::path::PathBuf]) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        format!("{:?}", hc.argv),
        format!("{:?}", hc.env),
        hc.workdir.display().to_string(),
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    for root in paths {
        let mut files: Vec<std::path::PathBuf> = ignore::WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(true)
            .require_git(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build()
            .flatten()
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(ignore::DirEntry::into_path)
            .collect();
        files.sort();
        h.update(root.display().to_string().as_bytes());
        h.update(b"\0");
        for f in files {
            h.update(f.display().to_string().as_bytes());
            h.update(b"\0");
            match std::fs::read(&f) {
                Ok(data) => h.update(&data),
                Err(e) => h.update(e.to_string().as_bytes()),
            };
            h.update(b"\0");
        }
    }
    h.finalize().to_hex()[..32].to_string()
}

/// A service's image, ready locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Image id.
    pub id: String,
    /// Hash of the build context it was built from (built images only).
    pub context_hash: Option<String>,
}

/// Makes the service's image available locally. The service's container's labels tell whether an unchanged
/// build context can skip the build; a built image is labelled with its project and service (`prune_superseded`
/// finds them by these).
pub async fn resolve_image(
    engine: &dyn Engine,
    spec: &crate::spec::Spec,
    svc: &Service,
    printer: &Printer,
) -> Result<Resolved> {
    match &svc.image {
        ImageSource::Pull { reference } => pull_image(engine, svc, reference, printer).await,
        ImageSource::Build(b) => build_image(engine, spec, svc, b, printer).await,
    }
}

/// The image `reference`, pulled unless it is here already.
async fn pull_image(
    engine: &dyn Engine,
    svc: &Service,
    reference: &str,
    printer: &Printer,
) -> Result<Resolved> {
    if let Some(id) = engine.inspect_image(reference).await?.map(|i| i.id) {
        return Ok(Resolved {
            id,
            context_hash: None,
        });
    }
    let start = Instant::now();
    printer.say(&svc.name, Image::Pulling(reference.to_string()));
    let mut last = String::new();
    // On a terminal: one live line with every layer's bytes and the total.
    let live = printer.status(&svc.name, &format!("pulling {reference}"));
    let mut layers = Layers::default();
    let pulled = engine
        .pull(reference, &mut |p: PullProgress| match &live {
            Some(st) => {
                layers.update(&p);
                st.set(&format!("pulling {reference}: {}", layers.summary()));
            }
            None => {
                // Progress percentages change constantly; print each layer's state changes only.
                let progress = Image::PullProgress {
                    layer: p.layer,
                    status: p.status,
                    bytes: p.bytes,
                };
                let line = progress.to_string();
                let key: String = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
                if key != last {
                    printer.say(&svc.name, progress);
                    last = key;
                }
            }
        })
        .await;
    drop(live);
    pulled
        .map_err(|e| Error::Runtime(format!("{e} (no image {reference} locally and the pull failed; build or load it, e.g. docker load -i image.tar)")))?;
    printer.say(
        &svc.name,
        Image::Pulled {
            reference: reference.to_string(),
            after: start.elapsed(),
        },
    );
    engine
        .inspect_image(reference)
        .await?
        .map(|i| i.id)
        .ok_or_else(|| {
            Error::Runtime(format!(
                "{}: image {reference} missing after the pull",
                svc.name
            ))
        })
        .map(|id| Resolved {
            id,
            context_hash: None,
        })
}

/// The image `b` builds: its host build and then the image build, each skipped when what it reads is what the
/// current image was made from.
async fn build_image(
    engine: &dyn Engine,
    spec: &crate::spec::Spec,
    svc: &Service,
    b: &Build,
    printer: &Printer,
) -> Result<Resolved> {
    let container = &spec.container_name(&svc.name);
    let mut start = Instant::now();
    let built_from = built_from(engine, container, &b.tag).await?;
    let inputs = host_inputs_of(svc, b).await?;
    let made_from = |ctx: &str| match &inputs {
        Some(i) => format!("{ctx}+{i}"),
        None => ctx.to_string(),
    };
    let mut ctx = pack_context(svc, b).await?;
    let up_to_date = |ctx: &context::Context| {
        built_from
            .as_ref()
            .filter(|(h, _)| *h == made_from(&ctx.hash))
            .map(|(_, id)| id.clone())
    };
    if b.host_command.is_some() && up_to_date(&ctx).is_none() {
        host_build(&svc.name, b, &spec.run.host_builds, printer).await?;
        start = Instant::now();
        ctx = pack_context(svc, b).await?;
    }
    if let Some(id) = up_to_date(&ctx) {
        printer.say(&svc.name, Image::UpToDate(b.tag.clone()));
        return Ok(Resolved {
            id,
            context_hash: Some(made_from(&ctx.hash)),
        });
    }
    let context_hash = made_from(&ctx.hash);
    let id = build_context(engine, spec, svc, b, ctx, &context_hash, printer).await?;
    printer.say(
        &svc.name,
        Image::Built {
            tag: b.tag.clone(),
            after: start.elapsed(),
        },
    );
    Ok(Resolved {
        id,
        context_hash: Some(context_hash),
    })
}

/// What the image the service runs was made from, and its id, when the tag still names it.
async fn built_from(
    engine: &dyn Engine,
    container: &str,
    tag: &str,
) -> Result<Option<(String, String)>> {
    // The running container remembers what its image was made from: the context's hash and, with a host
    // build, the hash of that build's inputs (its command and the service's watched files). When both
    // are unchanged and the image is still the tag's, nothing runs: no host build, no image build.
    let built_from = match engine.inspect_container(container).await? {
        Some(c) => match engine.inspect_image(tag).await? {
            Some(img) if !img.id.is_empty() && img.id == c.image => c
                .label(labels::CONTEXT_HASH)
                .map(|h| (h.to_string(), img.id)),
            _ => None,
        },
        None => None,
    };
    // Without a container (a cold `up`, after `down`), the image itself says what it was made from.
    Ok(match built_from {
        Some(b) => Some(b),
        None => engine
            .inspect_image(tag)
            .await?
            .filter(|img| !img.id.is_empty())
            .and_then(|mut img| Some((img.labels.remove(labels::CONTEXT_HASH)?, img.id))),
    })
}

/// The hash of the host build's inputs (its command and the service's watched files), none without a host
/// build; read off the runtime's threads.
async fn host_inputs_of(svc: &Service, b: &Build) -> Result<Option<String>> {
    Ok(match &b.host_command {
        Some(hc) => {
            let (hc, paths) = (hc.clone(), svc.watch.paths.clone());
            Some(
                tokio::task::spawn_blocking(move || host_inputs_hash(&hc, &paths))
                    .await
                    .map_err(|e| Error::Runtime(e.to_string()))?,
            )
        }
        None => None,
    })
}

/// Builds the image from the packed context, labelled with what it is `made_from`, and returns its id.
async fn build_context(
    engine: &dyn Engine,
    spec: &crate::spec::Spec,
    svc: &Service,
    b: &Build,
    ctx: context::Context,
    made_from: &str,
    printer: &Printer,
) -> Result<String> {
    printer.say(
        &svc.name,
        Image::Building {
            tag: b.tag.clone(),
            files: ctx.files,
            bytes: ctx.tar.len(),
        },
    );
    // One label, what the image is made from: a cold `up` can then skip both builds. The classic builder
    // adds it as a last step, cached as long as the context is unchanged.
    let image_labels = image_labels(spec, svc, made_from);
    let args: HashMap<String, String> = b.args.clone().into_iter().collect();
    // On a terminal the builder's lines become one live line (the step under way); they are kept, and
    // printed whole if the build fails.
    let live = printer.status(&svc.name, &format!("building {}", b.tag));
    let mut kept = Vec::new();
    let built = engine
        .build(
            &b.tag,
            &b.dockerfile,
            ctx.tar,
            &args,
            b.target.as_deref(),
            &image_labels,
            &mut |l| match &live {
                Some(st) => {
                    if let Some(step) = build_step(&l) {
                        st.set(&format!("building {}: {step}", b.tag));
                    }
                    kept.push(l);
                }
                None => printer.say(&svc.name, Image::BuildOutput(l)),
            },
        )
        .await;
    drop(live);
    if built.is_err() {
        for l in kept {
            printer.say(&svc.name, Image::BuildOutput(l));
        }
    }
    Ok(built?)
}

/// What a built image carries: what it is made from (a cold `up` can then skip the build) and whose it is
/// (`prune_superseded` finds a service's images by these).
fn image_labels(
    spec: &crate::spec::Spec,
    svc: &Service,
    made_from: &str,
) -> HashMap<String, String> {
    HashMap::from([
        (labels::CONTEXT_HASH.to_string(), made_from.to_string()),
        (labels::PROJECT.to_string(), spec.project.clone()),
        (labels::SERVICE.to_string(), svc.name.clone()),
    ])
}

/// After a rebuild replaced build `superseded` with `current`: removes the other images built for the service that
/// no container uses, keeping `superseded` for a rollback; says what it removed. Failures only cost disk space.
/// A swap with the same image (`rebuild --force`, a configuration change) superseded no build: the one kept for a
/// rollback then stays.
pub async fn prune_superseded(
    engine: &dyn Engine,
    spec: &crate::spec::Spec,
    service: &str,
    (current, superseded): (&str, &str),
    printer: &Printer,
) {
    if current == superseded {
        return;
    }
    let Ok(ids) = engine.service_images(&spec.project, service).await else {
        return;
    };
    // Looked at after the list: an image the service's tag names now (a build that just ended, in no container
    // yet) stays.
    let tagged = match spec.services.get(service).map(|s| &s.image) {
        Some(ImageSource::Build(b)) => engine.inspect_image(&b.tag).await.ok().flatten(),
        _ => None,
    }
    .map(|i| i.id);
    let mut removed = 0;
    let prunable = |i: &&String| *i != current && *i != superseded && Some(*i) != tagged.as_ref();
    for id in ids.iter().filter(prunable) {
        // Refused while a container (a run of another terminal, a stopped one) uses it: then it stays.
        if engine.remove_image(id).await.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        let pruned = Image::Pruned {
            removed,
            service: service.to_string(),
            kept: superseded.to_string(),
        };
        printer.say(service, pruned);
    }
}

/// The step a builder's line says it is at: `Step 6/13 : COPY . /src` (the classic builder) or
/// `#7 [builder 3/5] RUN go build` (BuildKit) → `step 6/13 COPY . /src`.
fn build_step(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix("Step ") {
        let (n, what) = rest.split_once(" : ")?;
        return Some(format!("step {n} {what}"));
    }
    let rest = line.strip_prefix('#')?;
    let (_, rest) = rest.split_once(" [")?;
    let (stage, what) = rest.split_once("] ")?;
    let n = stage.rsplit(' ').next()?;
    n.contains('/').then(|| format!("step {n} {what}"))
}

/// The layers of a pull and their bytes, for its live line.
#[derive(Debug, Default)]
struct Layers {
    /// Layer → (bytes so far, bytes in all, done), in the order they appeared.
    seen: Vec<(String, u64, u64, bool)>,
}

impl Layers {
    fn update(&mut self, p: &PullProgress) {
        let Some(id) = &p.layer else { return };
        let i = match self.seen.iter().position(|l| &l.0 == id) {
            Some(i) => i,
            None => {
                self.seen.push((id.clone(), 0, 0, false));
                self.seen.len() - 1
            }
        };
        let l = &mut self.seen[i];
        match p.status.as_str() {
            "Downloading" => {
                if let Some((cur, total)) = p.bytes {
                    (l.1, l.2) = (cur, total);
                }
            }
            // Downloaded: every byte is here (extraction counts the same bytes again).
            "Download complete" | "Verifying Checksum" | "Extracting" => l.1 = l.2,
            "Pull complete" | "Already exists" => {
                l.1 = l.2;
                l.3 = true;
            }
            _ => {}
        }
    }

    /// `2/3 layers, 45.2/98.1 MB`.
    fn summary(&self) -> String {
        let done = self.seen.iter().filter(|l| l.3).count();
        let (cur, total) = self
            .seen
            .iter()
            .fold((0, 0), |(c, t), l| (c + l.1, t + l.2));
        let mb = |b: u64| b as f64 / 1e6;
        format!(
            "{done}/{} layers, {:.1}/{:.1} MB",
            self.seen.len(),
            mb(cur),
            mb(total)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Layers, build_step};
    use crate::engine::PullProgress;

    /// A swap's old container stops in the background while the next build of the service runs: the prune
    /// after that stop must leave the image the next build just tagged, which no container uses yet.
    #[tokio::test]
    async fn pruning_keeps_the_image_the_service_tag_names_now() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("Dockerfile");
        let text = "[project]\nname = \"pr\"\n[services.app]\nbuild = { context = \".\" }\n";
        let spec = crate::spec::parse(&dir.path().join("pinshare.toml"), text).expect("spec");
        let tag = match &spec.services["app"].image {
            crate::spec::ImageSource::Build(b) => b.tag.clone(),
            crate::spec::ImageSource::Pull { .. } => unreachable!("a build"),
        };
        let fake = crate::engine::fake::Fake::new();
        fake.add_service_image("older", "sha256:1", "pr", "app");
        fake.add_service_image("superseded", "sha256:2", "pr", "app");
        fake.add_service_image("current", "sha256:3", "pr", "app");
        // The next build's image, under the service's tag: in no container yet.
        fake.add_service_image(&tag, "sha256:4", "pr", "app");
        let (printer, _lines) = crate::output::printer::Printer::capturing(["app"]);
        super::prune_superseded(&fake, &spec, "app", ("sha256:3", "sha256:2"), &printer).await;
        let left: Vec<String> = crate::engine::Engine::service_images(&fake, "pr", "app")
            .await
            .expect("images");
        assert_eq!(left, ["sha256:4", "sha256:3", "sha256:2"]);
    }

    #[test]
    fn builder_lines_name_their_step() {
        assert_eq!(
            build_step("Step 6/13 : COPY . /src").as_deref(),
            Some("step 6/13 COPY . /src")
        );
        assert_eq!(
            build_step("#7 [builder 3/5] RUN go build ./...").as_deref(),
            Some("step 3/5 RUN go build ./...")
        );
        assert_eq!(
            build_step("#4 [2/4] COPY app /app").as_deref(),
            Some("step 2/4 COPY app /app")
        );
        assert_eq!(build_step(" ---> Using cache"), None);
        assert_eq!(build_step("#7 [internal] load build context"), None);
    }

    #[test]
    fn a_pull_sums_every_layers_bytes() {
        let p = |layer: &str, status: &str, bytes: Option<(u64, u64)>| PullProgress {
            layer: Some(layer.to_string()),
            status: status.to_string(),
            bytes,
        };
        let mut l = Layers::default();
        l.update(&PullProgress {
            layer: None,
            status: "Pulling from ipfs/kubo".into(),
            bytes: None,
        });
        l.update(&p("a", "Pulling fs layer", None));
        l.update(&p("b", "Already exists", None));
        l.update(&p("c", "Downloading", Some((1_000_000, 40_000_000))));
        l.update(&p("a", "Downloading", Some((20_000_000, 60_000_000))));
        assert_eq!(l.summary(), "1/3 layers, 21.0/100.0 MB");
        l.update(&p("a", "Download complete", None));
        l.update(&p("a", "Extracting", Some((5, 60_000_000))));
        l.update(&p("a", "Pull complete", None));
        assert_eq!(l.summary(), "2/3 layers, 61.0/100.0 MB");
    }
}
