//! Watching source files: which service a path belongs to, which rule ignores it, and a watcher that sends
//! per-service change batches. Ignored: `.git/`, editor temporary files, the spec's `watch.ignore` globs,
//! `.gitignore`d paths and, inside a build context, what the context's `.dockerignore` (or
//! `<Dockerfile>.dockerignore`) excludes — a file that cannot reach the image cannot change it.
//!
//! A built service's Dockerfile and its context's ignore file are watched by default, whatever `watch.paths`
//! says: they decide what the image is. The spec file itself is watched too, by the run's spec reload; `up` and
//! `watch --explain` both ask [`spec_files`] which files those are.
//!
//! Directories are watched one by one (not recursively) so ignored trees such as `target/` cost no inotify
//! watches; directories created later are added as they appear.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use crate::image::dockerignore::DockerIgnore;
use crate::spec::{ImageSource, Spec};

/// Editor temporary and swap files (vim, emacs, JetBrains, kate, VS Code's atomic save, vim's 4913 probe).
const EDITOR_TEMP: &[&str] = &[
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",
    "*.kate-swp",
    "*___jb_tmp___",
    "*___jb_old___",
    "*.tmp.*",
];

struct ServiceRules {
    name: String,
    roots: Vec<PathBuf>,
    context: Option<PathBuf>,
    /// The Dockerfile and the ignore file, context-relative: always sent, never ignored.
    always_sent: Vec<String>,
    dockerignore: Option<(DockerIgnore, String)>,
    extra: Vec<(String, GlobSet)>,
}

/// The watch rules of every service of a spec.
pub struct Rules {
    dir: PathBuf,
    /// The spec file and its overlays (absolute): a change to one reloads the spec.
    spec_files: Vec<PathBuf>,
    services: Vec<ServiceRules>,
    editor: GlobSet,
    gitignore: Gitignore,
}

/// What a path means to one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A change here rebuilds (or live-updates) the service.
    Triggers,
    /// Ignored, and why.
    Ignored(String),
}

fn glob_set(globs: &[&str]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        if let Ok(g) = Glob::new(g) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Finds `.gitignore` files from `dir` up to `top`, and every one below each watch root (ignored trees skipped).
fn gitignore_for(top: &Path, roots: &[PathBuf]) -> Gitignore {
    let mut b = GitignoreBuilder::new(top);
    let mut seen = BTreeSet::new();
    let mut add = |b: &mut GitignoreBuilder, p: PathBuf| {
        if p.is_file() && seen.insert(p.clone()) {
            let _ = b.add(p);
        }
    };
    // Parents of the spec dir: a repository's top-level .gitignore applies too.
    let mut d = Some(top);
    while let Some(x) = d {
        add(&mut b, x.join(".gitignore"));
        if x.join(".git").exists() {
            break;
        }
        d = x.parent();
    }
    for r in roots {
        let mut d = r.parent();
        while let Some(x) = d {
            if !x.starts_with(top) {
                break;
            }
            add(&mut b, x.join(".gitignore"));
            d = x.parent();
        }
        if r.is_dir() {
            let walker = ignore::WalkBuilder::new(r)
                .hidden(false)
                .git_ignore(true)
                .parents(true)
                .require_git(false)
                .build();
            for e in walker.flatten() {
                if e.file_name() == ".gitignore" {
                    add(&mut b, e.path().to_path_buf());
                }
            }
        }
    }
    b.build().unwrap_or_else(|_| Gitignore::empty())
}

/// The spec file and its overlays as the run's spec reload watches them (absolute).
pub fn spec_files(spec: &Spec) -> Vec<PathBuf> {
    spec.files()
        .iter()
        .filter_map(|f| std::path::absolute(f).ok())
        .collect()
}

/// What a service's changes are watched under: its `watch.paths`, and for a built image its Dockerfile and its
/// context's ignore file (`<Dockerfile>.dockerignore` or `.dockerignore`), which decide what the image is.
fn roots_of(svc: &crate::spec::Service) -> Vec<PathBuf> {
    let mut roots = svc.watch.paths.clone();
    if let ImageSource::Build(b) = &svc.image {
        let ignore_file = crate::image::context::ignore_rules(&b.context, &b.dockerfile)
            .ok()
            .and_then(|(_, file)| file);
        for rel in std::iter::once(b.dockerfile.as_str()).chain(ignore_file.as_deref()) {
            let p = b.context.join(rel);
            if !roots.iter().any(|r| p.starts_with(r)) {
                roots.push(p);
            }
        }
    }
    roots
}

impl Rules {
    /// Compiles the rules of every service that has something to watch (a build or a live update).
    pub fn new(spec: &Spec) -> Self {
        let mut services = Vec::new();
        let mut all_roots = Vec::new();
        for (name, svc) in &spec.services {
            let build = match &svc.image {
                ImageSource::Build(b) => Some(b),
                ImageSource::Pull { .. } => None,
            };
            if build.is_none() && svc.live_update.is_none() {
                continue;
            }
            // With a host build, any watched file may be an input of that command even when the image never
            // sees it: .dockerignore then says nothing about relevance.
            let dockerignore = build.filter(|b| b.host_command.is_none()).and_then(|b| {
                match crate::image::context::ignore_rules(&b.context, &b.dockerfile) {
                    Ok((rules, Some(file))) => Some((rules, file)),
                    _ => None,
                }
            });
            // The Dockerfile and the ignore file are always sent: never ignored.
            let always_sent: Vec<String> = build
                .map(|b| b.dockerfile.clone())
                .into_iter()
                .chain(dockerignore.as_ref().map(|(_, f)| f.clone()))
                .collect();
            let extra = svc
                .watch
                .ignore
                .iter()
                .filter_map(|g| {
                    // A glob without `/` matches a name at any depth, as in .gitignore.
                    let pattern = if g.contains('/') {
                        g.trim_start_matches('/').to_string()
                    } else {
                        format!("**/{g}")
                    };
                    let set = GlobSetBuilder::new()
                        .add(Glob::new(&pattern).ok()?)
                        .build()
                        .ok()?;
                    Some((g.clone(), set))
                })
                .collect();
            let roots = roots_of(svc);
            all_roots.extend(roots.iter().cloned());
            services.push(ServiceRules {
                name: name.clone(),
                roots,
                context: build.map(|b| b.context.clone()),
                always_sent,
                dockerignore,
                extra,
            });
        }
        let gitignore = gitignore_for(&spec.dir, &all_roots);
        Rules {
            dir: spec.dir.clone(),
            spec_files: spec_files(spec),
            services,
            editor: glob_set(EDITOR_TEMP),
            gitignore,
        }
    }

    /// The services whose watch roots contain `path`, each with its verdict.
    pub fn classify(&self, path: &Path, is_dir: bool) -> Vec<(String, Verdict)> {
        let mut out = Vec::new();
        for s in &self.services {
            if !s.roots.iter().any(|r| path.starts_with(r)) {
                continue;
            }
            out.push((s.name.clone(), self.verdict(s, path, is_dir)));
        }
        out
    }

    fn verdict(&self, s: &ServiceRules, path: &Path, is_dir: bool) -> Verdict {
        if path.components().any(|c| c.as_os_str() == ".git") {
            return Verdict::Ignored("inside .git/".into());
        }
        if let Some(name) = path.file_name()
            && self.editor.is_match(Path::new(name))
        {
            return Verdict::Ignored("editor temporary file".into());
        }
        let rel = path.strip_prefix(&self.dir).unwrap_or(path);
        for (g, set) in &s.extra {
            if set.is_match(rel)
                || rel
                    .ancestors()
                    .any(|a| !a.as_os_str().is_empty() && set.is_match(a))
            {
                return Verdict::Ignored(format!("watch.ignore `{g}`"));
            }
        }
        if path.starts_with(&self.dir) {
            let m = self.gitignore.matched_path_or_any_parents(path, is_dir);
            if m.is_ignore()
                && let Some(glob) = m.inner()
            {
                let from = glob
                    .from()
                    .map(|f| f.display().to_string())
                    .unwrap_or_else(|| ".gitignore".into());
                return Verdict::Ignored(format!("{from}: `{}`", glob.original()));
            }
        }
        if let (Some(ctx), Some((di, file))) = (&s.context, &s.dockerignore)
            && let Ok(rel) = path.strip_prefix(ctx)
        {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !rel.is_empty()
                && !s.always_sent.contains(&rel)
                && let Some((rule, true)) = di.deciding_rule(&rel)
            {
                // An excluded directory may still hold re-included files: only files are judged here.
                if !(is_dir && di.may_reinclude_below(&rel)) {
                    return Verdict::Ignored(format!("{file}: `{rule}`"));
                }
            }
        }
        Verdict::Triggers
    }

    /// A sentence for `watch --explain PATH`.
    /// A path that no longer exists is judged as a file unless written with a trailing `/`.
    pub fn explain(&self, path: &Path) -> String {
        let is_dir = path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/');
        // Without the slash: the rules match names, and `target/` is the directory `target`.
        let path: &Path = &path.components().collect::<PathBuf>();
        let verdicts = self.classify(path, is_dir);
        let spec = self.spec_files.iter().any(|f| f == path).then(|| {
            format!(
                "{}: the spec: a change reloads it (a service whose configuration changed is recreated)",
                path.display()
            )
        });
        if let Some(spec) = &spec
            && verdicts.is_empty()
        {
            return spec.clone();
        }
        if verdicts.is_empty() {
            return format!("{}: not under any watched path", path.display());
        }
        spec.into_iter()
            .chain(verdicts.into_iter().map(|(svc, v)| match v {
                Verdict::Triggers => format!("{}: triggers {svc}", path.display()),
                Verdict::Ignored(why) => format!("{}: ignored for {svc} by {why}", path.display()),
            }))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// [`Rules::explain`] of each path, a line each; when some path is not under any watched path, the watched
    /// paths follow once, at the end.
    pub fn explain_paths(&self, paths: &[PathBuf]) -> String {
        let lines: Vec<String> = paths.iter().map(|p| self.explain(p)).collect();
        let outside = lines
            .iter()
            .any(|l| l.ends_with(": not under any watched path"));
        let mut text = lines.join("\n");
        if outside {
            let watched: Vec<String> = self
                .services
                .iter()
                .flat_map(|s| {
                    s.roots
                        .iter()
                        .map(move |r| format!("{} ({})", r.display(), s.name))
                })
                .collect();
            let watched = if watched.is_empty() {
                "nothing".to_string()
            } else {
                watched.join(", ")
            };
            text.push_str(&format!("\nwatched: {watched}"));
        }
        text
    }

    /// Directories to watch: every non-ignored directory under the roots (and the parent of a file root).
    pub fn directories(&self) -> Vec<PathBuf> {
        self.directories_and_ignored().0.into_iter().collect()
    }

    /// The directories to watch, and the ignored directories met on the way (not watched, but remembered as
    /// directories for when they are renamed away).
    fn directories_and_ignored(&self) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
        let (mut dirs, mut ignored) = (BTreeSet::new(), BTreeSet::new());
        for s in &self.services {
            for r in &s.roots {
                if r.is_file() {
                    if let Some(p) = r.parent() {
                        dirs.insert(p.to_path_buf());
                    }
                } else if r.is_dir() {
                    self.walk_dirs(s, r, &mut dirs, &mut ignored);
                }
            }
        }
        (dirs, ignored)
    }

    fn walk_dirs(
        &self,
        s: &ServiceRules,
        dir: &Path,
        out: &mut BTreeSet<PathBuf>,
        ignored: &mut BTreeSet<PathBuf>,
    ) {
        if self.verdict(s, dir, true) != Verdict::Triggers {
            ignored.insert(dir.to_path_buf());
            return;
        }
        out.insert(dir.to_path_buf());
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    self.walk_dirs(s, &e.path(), out, ignored);
                }
            }
        }
    }

    /// Whether `dir` (a newly created directory) should be watched.
    fn wants_dir(&self, dir: &Path) -> bool {
        self.classify(dir, true)
            .iter()
            .any(|(_, v)| *v == Verdict::Triggers)
    }
}

/// Whether an event's path is a directory or, when it is gone, was one. A deleted path is judged by what it
/// was: judged as a file, a deleted `target/` would no longer match its directory-only rule and would trigger.
/// inotify says what a created or removed path was; a rename away says nothing, so the directories seen
/// before (`known`) answer.
fn was_dir(kind: &EventKind, path: &Path, known: &BTreeSet<PathBuf>) -> bool {
    use notify::event::{CreateKind, RemoveKind};
    match kind {
        EventKind::Create(CreateKind::Folder) | EventKind::Remove(RemoveKind::Folder) => true,
        EventKind::Create(CreateKind::File) | EventKind::Remove(RemoveKind::File) => false,
        _ => path.is_dir() || (!path.exists() && known.contains(path)),
    }
}

/// A batch of relevant changes for one service.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Service.
    pub service: String,
    /// Changed paths (absolute).
    pub paths: BTreeSet<PathBuf>,
    /// When the first event of the batch was seen.
    pub first_seen: std::time::Instant,
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _debouncer: Arc<
        Mutex<
            notify_debouncer_full::Debouncer<
                notify::RecommendedWatcher,
                notify_debouncer_full::RecommendedCache,
            >,
        >,
    >,
    /// Number of directories watched.
    pub directories: usize,
}

/// The hint for inotify's limit, as the error that needs it.
pub fn inotify_hint(e: &notify::Error) -> String {
    let text = e.to_string();
    if text.contains("No space left")
        || text.contains("os error 28")
        || matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
    {
        format!(
            "{text}: the inotify watch limit is reached; raise it with: sudo sysctl fs.inotify.max_user_watches=524288 (add it to /etc/sysctl.conf to keep it)"
        )
    } else {
        text
    }
}

/// The debouncer a [`Watcher`] holds.
type Debouncer = notify_debouncer_full::Debouncer<
    notify::RecommendedWatcher,
    notify_debouncer_full::RecommendedCache,
>;

/// Where the event handler finds its own debouncer, held weakly ([`start`] says why).
type Holder = Arc<Mutex<Option<std::sync::Weak<Mutex<Debouncer>>>>>;

/// One handler call's changed paths per service, with when the first of them was seen.
type Batches = BTreeMap<String, (BTreeSet<PathBuf>, std::time::Instant)>;

/// Watches `dir`, a directory just created, and the directories already inside it that a service wants; the
/// ignored ones met on the way are remembered in `known_dirs`.
fn watch_new_dir(rules: &Rules, holder: &Holder, dir: &Path, known_dirs: &mut BTreeSet<PathBuf>) {
    let Some(d) = holder
        .lock()
        .ok()
        .and_then(|h| h.as_ref().and_then(std::sync::Weak::upgrade))
    else {
        return;
    };
    let (mut sub, mut ignored) = (BTreeSet::new(), BTreeSet::new());
    for s in &rules.services {
        if s.roots.iter().any(|r| dir.starts_with(r)) {
            rules.walk_dirs(s, dir, &mut sub, &mut ignored);
        }
    }
    known_dirs.extend(ignored);
    if let Ok(mut d) = d.lock() {
        for sub_dir in sub {
            let _ = d.watch(&sub_dir, RecursiveMode::NonRecursive);
        }
    }
}

/// Adds `path`, changed at `time`, to the batch of every service it triggers.
fn add_to_batches(
    rules: &Rules,
    path: &Path,
    is_dir: bool,
    time: std::time::Instant,
    batches: &mut Batches,
) {
    for (svc, v) in rules.classify(path, is_dir) {
        if v == Verdict::Triggers {
            let entry = batches
                .entry(svc)
                .or_insert_with(|| (BTreeSet::new(), time));
            entry.0.insert(path.to_path_buf());
            entry.1 = entry.1.min(time);
        }
    }
}

/// Starts watching; every relevant change is sent as a [`Changes`] batch. `quiet` is the debouncer's period.
pub fn start(
    rules: Arc<Rules>,
    quiet: Duration,
    tx: mpsc::UnboundedSender<Changes>,
) -> Result<Watcher, String> {
    let (dirs, ignored_dirs) = rules.directories_and_ignored();
    let mut known_dirs: BTreeSet<PathBuf> = dirs.union(&ignored_dirs).cloned().collect();
    // The handler belongs to the debouncer, so it holds it weakly: a strong reference would be a cycle, and a
    // dropped `Watcher` would keep its inotify instance and two threads for ever (one more per spec save).
    let holder: Holder = Arc::new(Mutex::new(None));
    let holder_in = Arc::clone(&holder);
    let rules_in = Arc::clone(&rules);
    let handler = move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let mut batches: Batches = BTreeMap::new();
        for ev in events {
            if matches!(ev.kind, EventKind::Access(_) | EventKind::Other) {
                continue;
            }
            for p in &ev.paths {
                let is_dir = was_dir(&ev.kind, p, &known_dirs);
                if matches!(ev.kind, EventKind::Remove(_)) {
                    known_dirs.remove(p);
                } else if is_dir {
                    known_dirs.insert(p.clone());
                }
                if is_dir && matches!(ev.kind, EventKind::Create(_)) && rules_in.wants_dir(p) {
                    // A new directory: watch it (and anything already inside it).
                    watch_new_dir(&rules_in, &holder_in, p, &mut known_dirs);
                }
                add_to_batches(&rules_in, p, is_dir, ev.time, &mut batches);
            }
        }
        for (service, (paths, first_seen)) in batches {
            let _ = tx.send(Changes {
                service,
                paths,
                first_seen,
            });
        }
    };
    let tick = (quiet / 4).max(Duration::from_millis(5));
    let debouncer = new_debouncer(quiet, Some(tick), handler).map_err(|e| inotify_hint(&e))?;
    let debouncer = Arc::new(Mutex::new(debouncer));
    {
        let mut d = debouncer.lock().map_err(|e| e.to_string())?;
        for dir in &dirs {
            d.watch(dir, RecursiveMode::NonRecursive)
                .map_err(|e| format!("watching {}: {}", dir.display(), inotify_hint(&e)))?;
        }
    }
    if let Ok(mut h) = holder.lock() {
        *h = Some(Arc::downgrade(&debouncer));
    }
    Ok(Watcher {
        _debouncer: debouncer,
        directories: dirs.len(),
    })
}

#[cfg(test)]
mod tests;
