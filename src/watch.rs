//! Watching source files: which service a path belongs to, which rule ignores it, and a watcher that sends
//! per-service change batches. Ignored: `.git/`, editor temporary files, the spec's `watch.ignore` globs,
//! `.gitignore`d paths and, inside a build context, what the context's `.dockerignore` (or
//! `<Dockerfile>.dockerignore`) excludes — a file that cannot reach the image cannot change it.
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
            all_roots.extend(svc.watch.paths.iter().cloned());
            services.push(ServiceRules {
                name: name.clone(),
                roots: svc.watch.paths.clone(),
                context: build.map(|b| b.context.clone()),
                always_sent,
                dockerignore,
                extra,
            });
        }
        let gitignore = gitignore_for(&spec.dir, &all_roots);
        Rules {
            dir: spec.dir.clone(),
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
        if verdicts.is_empty() {
            return format!("{}: not under any watched path", path.display());
        }
        verdicts
            .into_iter()
            .map(|(svc, v)| match v {
                Verdict::Triggers => format!("{}: triggers {svc}", path.display()),
                Verdict::Ignored(why) => format!("{}: ignored for {svc} by {why}", path.display()),
            })
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
    let holder: Arc<Mutex<Option<std::sync::Weak<Mutex<_>>>>> = Arc::new(Mutex::new(None));
    let holder_in = Arc::clone(&holder);
    let rules_in = Arc::clone(&rules);
    let handler = move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let mut batches: BTreeMap<String, (BTreeSet<PathBuf>, std::time::Instant)> =
            BTreeMap::new();
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
                    if let Some(d) = holder_in.lock().ok().and_then(
                        |h: std::sync::MutexGuard<
                            '_,
                            Option<std::sync::Weak<Mutex<notify_debouncer_full::Debouncer<_, _>>>>,
                        >| h.as_ref().and_then(std::sync::Weak::upgrade),
                    ) {
                        let (mut sub, mut ignored) = (BTreeSet::new(), BTreeSet::new());
                        for s in &rules_in.services {
                            if s.roots.iter().any(|r| p.starts_with(r)) {
                                rules_in.walk_dirs(s, p, &mut sub, &mut ignored);
                            }
                        }
                        known_dirs.extend(ignored);
                        if let Ok(mut d) = d.lock() {
                            for dir in sub {
                                let _ = d.watch(&dir, RecursiveMode::NonRecursive);
                            }
                        }
                    }
                }
                for (svc, v) in rules_in.classify(p, is_dir) {
                    if v == Verdict::Triggers {
                        let entry = batches
                            .entry(svc)
                            .or_insert_with(|| (BTreeSet::new(), ev.time));
                        entry.0.insert(p.clone());
                        entry.1 = entry.1.min(ev.time);
                    }
                }
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
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Spec) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path();
        for dir in ["app/src", "app/target/debug", "app/.git", "docs"] {
            std::fs::create_dir_all(p.join(dir)).expect("mkdir");
        }
        std::fs::write(p.join("app/Dockerfile"), "FROM scratch\n").expect("write");
        std::fs::write(p.join("app/.dockerignore"), "*.md\n!README.md\n").expect("write");
        std::fs::write(p.join(".gitignore"), "target/\n*.log\n").expect("write");
        std::fs::write(p.join("app/src/main.rs"), "fn main() {}").expect("write");
        let spec = "[services.ipfs]\nimage = \"kubo\"\n[services.app]\nbuild = { context = \"app\" }\nwatch = { paths = [\"app\"], ignore = [\"*.generated\", \"app/fixtures\"] }\n";
        std::fs::write(p.join("pinshare.toml"), spec).expect("write");
        let spec = crate::spec::load(&p.join("pinshare.toml")).expect("valid");
        (d, spec)
    }

    fn verdict(rules: &Rules, path: &Path) -> Vec<(String, Verdict)> {
        rules.classify(path, false)
    }

    #[test]
    fn source_files_trigger_their_service_only() {
        let (d, spec) = setup();
        let r = Rules::new(&spec);
        assert_eq!(
            verdict(&r, &d.path().join("app/src/main.rs")),
            vec![("app".into(), Verdict::Triggers)]
        );
        assert!(
            verdict(&r, &d.path().join("docs/x.md")).is_empty(),
            "outside every watch root"
        );
    }

    #[test]
    fn ignore_rules_say_which_rule_matched() {
        let (d, spec) = setup();
        let r = Rules::new(&spec);
        let why = |p: &str| match &verdict(&r, &d.path().join(p))[0].1 {
            Verdict::Ignored(w) => w.clone(),
            Verdict::Triggers => "triggers".into(),
        };
        assert!(
            why("app/target/debug/app").contains(".gitignore: `target/`"),
            "{}",
            why("app/target/debug/app")
        );
        assert!(why("app/server.log").contains("`*.log`"));
        assert_eq!(why("app/NOTES.md"), ".dockerignore: `*.md`");
        assert_eq!(why("app/README.md"), "triggers", "`!` re-includes");
        assert_eq!(why("app/.git/index"), "inside .git/");
        assert_eq!(why("app/src/.main.rs.swp"), "editor temporary file");
        assert_eq!(why("app/src/4913"), "editor temporary file");
        assert_eq!(why("app/src/main.rs~"), "editor temporary file");
        assert_eq!(why("app/src/x.generated"), "watch.ignore `*.generated`");
        assert_eq!(why("app/fixtures/a.json"), "watch.ignore `app/fixtures`");
    }

    #[test]
    fn ignored_directories_get_no_watch() {
        let (d, spec) = setup();
        let r = Rules::new(&spec);
        let dirs = r.directories();
        assert!(dirs.contains(&d.path().join("app/src")));
        assert!(
            !dirs
                .iter()
                .any(|p| p.starts_with(d.path().join("app/target"))),
            "{dirs:?}"
        );
        assert!(
            !dirs
                .iter()
                .any(|p| p.starts_with(d.path().join("app/.git"))),
            "{dirs:?}"
        );
    }

    #[test]
    fn explain_names_the_service_or_the_rule() {
        let (d, spec) = setup();
        let r = Rules::new(&spec);
        let e = r.explain(&d.path().join("app/src/main.rs"));
        assert!(e.ends_with("triggers app"), "{e}");
        let e = r.explain(&d.path().join("docs/x.md"));
        assert!(e.contains("not under any watched path"), "{e}");
    }

    #[test]
    fn the_watched_paths_are_listed_once_however_many_paths_are_outside() {
        let (d, spec) = setup();
        let r = Rules::new(&spec);
        let paths = ["docs/x.md", "docs/y.md", "app/src/main.rs"].map(|p| d.path().join(p));
        let e = r.explain_paths(&paths);
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(
            lines[0].ends_with("docs/x.md: not under any watched path"),
            "{e}"
        );
        assert!(
            lines[1].ends_with("docs/y.md: not under any watched path"),
            "{e}"
        );
        assert!(lines[2].ends_with("triggers app"), "{e}");
        assert!(lines[3].starts_with("watched: "), "{e}");
        assert_eq!(e.matches("watched: ").count(), 1, "{e}");
        // All watched: no list.
        let e = r.explain_paths(&[d.path().join("app/src/main.rs")]);
        assert!(!e.contains("watched: "), "{e}");
    }

    #[test]
    fn a_deleted_directory_is_judged_as_the_directory_it_was() {
        let (d, spec) = setup();
        let r = Rules::new(&spec);
        // Gone from disk: `target/` matches only directories, so judging it as a file would make it trigger.
        let gone = d.path().join("app/src/target");
        let e = r.explain(&d.path().join("app/src/target/"));
        assert!(
            e.contains("ignored for app by") && e.contains("`target/`"),
            "{e}"
        );
        assert!(!was_dir(
            &EventKind::Remove(notify::event::RemoveKind::File),
            &gone,
            &BTreeSet::new()
        ));
        assert!(was_dir(
            &EventKind::Remove(notify::event::RemoveKind::Folder),
            &gone,
            &BTreeSet::new()
        ));
        // A rename away carries no kind: the directories seen before say what it was.
        let from = EventKind::Modify(notify::event::ModifyKind::Name(
            notify::event::RenameMode::From,
        ));
        assert!(was_dir(&from, &gone, &BTreeSet::from([gone.clone()])));
        assert!(!was_dir(&from, &gone, &BTreeSet::new()));
    }

    #[tokio::test]
    async fn removing_an_ignored_directory_sends_no_change() {
        let (d, spec) = setup();
        std::fs::create_dir_all(d.path().join("app/src/target/debug")).expect("mkdir");
        std::fs::write(d.path().join("app/src/target/debug/x"), "x").expect("write");
        let rules = Arc::new(Rules::new(&spec));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = start(rules, Duration::from_millis(50), tx).expect("watching");
        std::fs::remove_dir_all(d.path().join("app/src/target")).expect("rm -rf");
        // A change after the removal: once its batch is in, the removal's batch (if any) was sent before or with it.
        std::fs::write(d.path().join("app/src/main.rs"), "fn main() { }").expect("write");
        let main = d.path().join("app/src/main.rs");
        let mut seen = BTreeSet::new();
        while !seen.contains(&main) {
            let c = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("the edit of main.rs arrives")
                .expect("watcher alive");
            seen.extend(c.paths);
        }
        assert_eq!(
            seen,
            BTreeSet::from([main]),
            "the ignored directory's removal triggered"
        );
    }

    #[test]
    fn image_only_services_are_never_watched() {
        let (_d, spec) = setup();
        let r = Rules::new(&spec);
        assert!(r.services.iter().all(|s| s.name != "ipfs"));
    }
}
