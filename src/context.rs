//! A build context opened the way `docker build` opens it: which ignore
//! file, which Dockerfile, the CLI's validation and `TrimBuildFilesFromExcludes`
//! (classic), the Dockerfile-specific ignore file (BuildKit).

use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ignorefile::{self, PatternLine};
use crate::matcher::{Matcher, Verdict};
use crate::walk::{Engine, Event, Kind, Status, WalkMode, Walker, Warning};

/// Where the ignore patterns come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IgnoreSource {
    /// As Docker: `<context>/.dockerignore` (BuildKit: a
    /// `<Dockerfile>.dockerignore` beside the Dockerfile replaces it).
    #[default]
    Auto,
    /// This file instead.
    File(PathBuf),
    /// No patterns at all.
    None,
}

/// How to open a context.
#[derive(Debug, Clone)]
pub struct Options {
    /// The context directory (as given to `docker build`).
    pub context: PathBuf,
    /// `-f`: the Dockerfile, relative to the current directory as in
    /// `docker build`; `None` for `<context>/Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    /// The engine.
    pub engine: Engine,
    /// Which ignore file.
    pub ignore: IgnoreSource,
}

impl Options {
    /// Options for `context` with the defaults of `docker build`.
    pub fn new(context: impl Into<PathBuf>, engine: Engine) -> Options {
        Options {
            context: context.into(),
            dockerfile: None,
            engine,
            ignore: IgnoreSource::Auto,
        }
    }
}

/// The ignore file in use.
#[derive(Debug, Clone)]
pub struct IgnoreFile {
    /// Its path on disk.
    pub path: PathBuf,
    /// How messages name it (relative to the context when inside it).
    pub display: String,
    /// Its pattern lines.
    pub lines: Vec<PatternLine>,
}

/// An opened build context.
#[derive(Debug)]
pub struct Context {
    /// The context root, absolute, symlinks resolved.
    pub root: PathBuf,
    /// The engine.
    pub engine: Engine,
    /// The ignore file read, if any.
    pub ignore: Option<std::sync::Arc<IgnoreFile>>,
    /// The patterns as read from the ignore file.
    pub matcher: Matcher,
    /// The patterns the engine walks with: for classic, plus the
    /// `!.dockerignore` / `!<Dockerfile>` that the CLI appends.
    pub effective: Matcher,
    /// The Dockerfile's context-relative slash path, when it is inside the
    /// context.
    pub dockerfile: Option<Vec<u8>>,
    /// The Dockerfile's absolute path, if it exists.
    pub dockerfile_abs: Option<PathBuf>,
    /// Notes for the user (e.g. what Docker would log).
    pub warnings: Vec<String>,
}

fn context_error(path: &Path, reason: &str, docker: String) -> Error {
    Error::Context {
        path: path.to_path_buf(),
        reason: reason.to_string(),
        docker,
    }
}

fn resolve_root(given: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(given).map_err(|e| Error::Io {
        path: given.to_path_buf(),
        source: e,
    })?;
    let real = match fs::canonicalize(&abs) {
        Ok(p) => p,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(context_error(
                given,
                "no such directory",
                format!("path {:?} not found", given.display().to_string()),
            ))
        }
        Err(e) => {
            return Err(context_error(
                given,
                &format!("cannot resolve it: {e}"),
                format!("unable to evaluate symlinks in context path: {e}"),
            ))
        }
    };
    match fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(real),
        _ => Err(context_error(
            given,
            "not a directory",
            format!("context must be a directory: {}", real.display()),
        )),
    }
}

/// Reads an ignore file; `Ok(None)` when it does not exist.
fn read_ignore(path: &Path, display: String) -> Result<Option<IgnoreFile>> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(Error::IgnoreRead {
                path: PathBuf::from(&display),
                reason: format!(
                    "is a directory, not a file; docker build fails: \"error reading .dockerignore: read {}: is a directory\"",
                    path.display()
                ),
            })
        }
        Err(e) => {
            return Err(Error::IgnoreRead {
                path: PathBuf::from(&display),
                reason: format!("cannot be read ({e}); docker build fails too, it only tolerates a missing file"),
            })
        }
    };
    let lines = ignorefile::parse(&data).map_err(|e| Error::IgnoreRead {
        path: PathBuf::from(&display),
        reason: format!("{e}; docker build fails: \"error reading .dockerignore: bufio.Scanner: token too long\""),
    })?;
    Ok(Some(IgnoreFile {
        path: path.to_path_buf(),
        display,
        lines,
    }))
}

/// The Dockerfile as given (docker/cli getDockerfileRelPath): `-f`, else
/// `Dockerfile` in the context, or `dockerfile` when only that exists.
fn given_dockerfile(opts: &Options, root: &Path) -> PathBuf {
    match &opts.dockerfile {
        Some(f) => std::path::absolute(f).unwrap_or_else(|_| f.clone()),
        None => {
            let d = root.join("Dockerfile");
            if fs::symlink_metadata(&d).is_err()
                && fs::symlink_metadata(root.join("dockerfile")).is_ok()
            {
                root.join("dockerfile")
            } else {
                d
            }
        }
    }
}

/// BuildKit's `<Dockerfile>.dockerignore` beside the Dockerfile as given.
fn specific_ignore(given_df: &Path) -> PathBuf {
    let mut specific = given_df.as_os_str().to_owned();
    specific.push(".dockerignore");
    PathBuf::from(specific)
}

fn rel_bytes(root: &Path, p: &Path) -> Option<Vec<u8>> {
    p.strip_prefix(root)
        .ok()
        .map(|r| r.as_os_str().as_bytes().to_vec())
}

impl Context {
    /// Opens a context as `docker build` would, failing where it fails
    /// before sending anything.
    pub fn open(opts: &Options) -> Result<Context> {
        let root = resolve_root(&opts.context)?;
        let mut warnings = Vec::new();

        // The Dockerfile (docker/cli getDockerfileRelPath).
        let given_df = given_dockerfile(opts, &root);
        let dockerfile_abs = fs::canonicalize(&given_df).ok();
        let dockerfile = match &dockerfile_abs {
            Some(abs) => match rel_bytes(&root, abs) {
                Some(r) if !r.is_empty() => Some(r),
                _ => {
                    warnings.push(format!(
                        "the Dockerfile {} is outside the context; the classic builder adds it under a random name (.dockerfile.<hex>), which ctxray does not reproduce",
                        abs.display()
                    ));
                    None
                }
            },
            None => {
                warnings.push(format!(
                    "no Dockerfile at {} (docker build would fail: \"Cannot locate specified Dockerfile\")",
                    given_df.display()
                ));
                // The CLI would stop; Trim would use the name as given.
                rel_bytes(&root, &given_df)
            }
        };

        // The ignore file.
        let ignore = match &opts.ignore {
            IgnoreSource::None => None,
            IgnoreSource::File(p) => {
                let f = read_ignore(p, p.display().to_string())?;
                if f.is_none() {
                    return Err(Error::IgnoreRead {
                        path: p.clone(),
                        reason: "no such file".into(),
                    });
                }
                f
            }
            IgnoreSource::Auto => {
                let mut found = None;
                if opts.engine == Engine::Buildkit {
                    // <Dockerfile>.dockerignore beside the Dockerfile as given
                    // (buildx shares the Dockerfile's directory).
                    let specific = specific_ignore(&given_df);
                    let display = rel_bytes(&root, &specific)
                        .map(|r| String::from_utf8_lossy(&r).into_owned())
                        .unwrap_or_else(|| specific.display().to_string());
                    found = read_ignore(&specific, display)?;
                }
                match found {
                    Some(f) => Some(f),
                    None => read_ignore(&root.join(".dockerignore"), ".dockerignore".into())?,
                }
            }
        };
        let lines: &[PatternLine] = ignore.as_ref().map_or(&[], |f| &f.lines);
        let matcher = Matcher::new(lines).map_err(|e| Error::Pattern {
            path: ignore.as_ref().map_or_else(
                || PathBuf::from(".dockerignore"),
                |f| PathBuf::from(&f.display),
            ),
            source: e,
        })?;
        let ctx = Context {
            root,
            engine: opts.engine,
            ignore: ignore.map(std::sync::Arc::new),
            effective: matcher.clone(),
            matcher,
            dockerfile,
            dockerfile_abs,
            warnings,
        };
        ctx.checked()
    }

    /// The context as `opts` (this context's options with another engine)
    /// opens it, reusing this context's ignore file and patterns when that
    /// engine reads the same file (it does unless a BuildKit-only
    /// `<Dockerfile>.dockerignore` exists): a long ignore file is not read
    /// and compiled twice to compare the engines.
    pub fn with_engine(&self, opts: &Options) -> Result<Context> {
        let root = resolve_root(&opts.context)?;
        // Only a file that is not there is absent: any other error makes
        // `open` fail as the engine would, so it decides.
        let same_file = match opts.ignore {
            IgnoreSource::Auto => matches!(
                fs::symlink_metadata(specific_ignore(&given_dockerfile(opts, &root))),
                Err(e) if e.kind() == ErrorKind::NotFound
            ),
            IgnoreSource::None | IgnoreSource::File(_) => true,
        };
        if !same_file || root != self.root {
            return Context::open(opts);
        }
        let ctx = Context {
            root,
            engine: opts.engine,
            ignore: self.ignore.clone(),
            effective: self.matcher.clone(),
            matcher: self.matcher.clone(),
            dockerfile: self.dockerfile.clone(),
            dockerfile_abs: self.dockerfile_abs.clone(),
            warnings: self.warnings.clone(),
        };
        ctx.checked()
    }

    /// The engine's own checks before it sends anything; classic also
    /// appends the CLI's re-adding of the build files.
    fn checked(mut self) -> Result<Context> {
        if self.engine == Engine::Classic {
            self.validate()?;
            self.trim_build_files();
        } else {
            self.validate_buildkit()?;
        }
        Ok(self)
    }

    /// BuildKit opens every file it transfers: an unreadable one fails the
    /// build ("error from sender: open …: permission denied"). Only what
    /// the Dockerfile makes it transfer is checked, and nothing as root.
    fn validate_buildkit(&self) -> Result<()> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            return Ok(());
        }
        let follow = self
            .dockerfile
            .as_deref()
            .and_then(|d| crate::dockerfile::parse(&String::from_utf8_lossy(d)).ok())
            .and_then(|d| d.follow_paths(None));
        let includes = follow.map(|paths| {
            let mut m = Matcher::default();
            for p in paths {
                let _ = m.push(0, p.as_bytes());
            }
            m
        });
        self.walk_inner(WalkMode::Sent, includes.as_ref(), false, |ev| {
            let Event::Entry(e) = ev else { return Ok(()) };
            if e.status != Status::Sent || e.kind != Kind::File {
                return Ok(());
            }
            match fs::File::open(e.abs) {
                Err(err) if err.kind() == ErrorKind::PermissionDenied => Err(Error::Validation {
                    message: format!("cannot read {}: permission denied", e.abs.display()),
                    docker: format!(
                        "failed to solve: error from sender: open {}: permission denied",
                        e.abs.display()
                    ),
                }),
                _ => Ok(()),
            }
        })?;
        Ok(())
    }

    /// The ignore file's name for messages.
    pub fn ignore_display(&self) -> String {
        self.ignore
            .as_ref()
            .map_or_else(|| ".dockerignore".into(), |f| f.display.clone())
    }

    fn lazy_error(&self, e: crate::matcher::MatchError, docker: &str) -> Error {
        Error::LazyPattern {
            path: PathBuf::from(self.ignore_display()),
            source: e,
            docker: docker.into(),
        }
    }

    /// docker/cli `TrimBuildFilesFromExcludes`: append `!.dockerignore` and
    /// `!<Dockerfile>` when the deprecated single-parent `Matches` says they
    /// are excluded (SPEC §d.3).
    fn trim_build_files(&mut self) {
        if self
            .effective
            .matches_deprecated(b".dockerignore")
            .unwrap_or(false)
        {
            let _ = self.effective.push(0, b"!.dockerignore");
        }
        if let Some(df) = self.dockerfile.clone() {
            // Go's Matches cleans the path and refuses ".".
            if self.effective.matches_deprecated(&df).unwrap_or(false) {
                let mut p = b"!".to_vec();
                p.extend_from_slice(&df);
                let _ = self.effective.push(0, &p);
            }
        }
    }

    /// docker/cli `ValidateContextDirectory` (SPEC §d.2): fails on the
    /// errors Docker fails on before sending. Skipped when nothing can fail
    /// (every pattern compiles and ctxray runs as root, for which `open`
    /// and `readdir` cannot be refused by permissions).
    fn validate(&self) -> Result<()> {
        let all_compile = self.matcher.patterns().iter().all(|p| !p.is_bad());
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root_user = unsafe { libc::geteuid() } == 0;
        if all_compile && root_user {
            return Ok(());
        }
        let mut rel = Vec::new();
        self.validate_dir(&self.root.clone(), &mut rel)
    }

    fn validate_dir(&self, dir: &Path, rel: &mut Vec<u8>) -> Result<()> {
        let names = Self::validate_read_dir(dir)?;
        self.validate_names(dir, names, rel)
    }

    /// filepath.Walk reads a directory before calling walkFn on it, so an
    /// unreadable directory fails even when it is excluded.
    fn validate_read_dir(dir: &Path) -> Result<Vec<Vec<u8>>> {
        let names = match fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.file_name().as_bytes().to_vec()))
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(Error::Validation {
                    message: format!("cannot read directory {}: permission denied", dir.display()),
                    docker: format!("can't stat '{}'", dir.display()),
                })
            }
            Err(e) => {
                return Err(Error::Io {
                    path: dir.to_path_buf(),
                    source: e,
                })
            }
        };
        Ok(names)
    }

    fn validate_names(&self, dir: &Path, mut names: Vec<Vec<u8>>, rel: &mut Vec<u8>) -> Result<()> {
        names.sort_unstable();
        for name in names {
            let path = dir.join(std::ffi::OsStr::from_bytes(&name));
            let len = rel.len();
            if len > 0 {
                rel.push(b'/');
            }
            rel.extend_from_slice(&name);
            let r = self.validate_entry(&path, rel);
            rel.truncate(len);
            r?;
        }
        Ok(())
    }

    fn validate_entry(&self, path: &Path, rel: &mut Vec<u8>) -> Result<()> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(Error::Validation {
                    message: format!("cannot stat {}: permission denied", path.display()),
                    docker: format!("can't stat '{}'", path.display()),
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::Validation {
                    message: format!("{} vanished while reading the context", path.display()),
                    docker: format!(
                        "file ('{}') not found or excluded by .dockerignore",
                        path.display()
                    ),
                })
            }
            Err(e) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        };
        let ft = meta.file_type();
        // A directory is read before walkFn sees it (and its error first).
        let names = if ft.is_dir() {
            Some(Self::validate_read_dir(path)?)
        } else {
            None
        };
        let v = self
            .matcher
            .matches_or_parent_matches(rel)
            .map_err(|e| self.lazy_error(e, "error checking context: syntax error in pattern"))?;
        if v.excluded {
            // Excluded directories are skipped: nothing below is checked.
            return Ok(());
        }
        if let Some(names) = names {
            return self.validate_names(path, names, rel);
        }
        use std::os::unix::fs::FileTypeExt;
        if ft.is_symlink() || ft.is_fifo() {
            return Ok(());
        }
        if let Err(e) = fs::File::open(path) {
            if e.kind() == ErrorKind::PermissionDenied {
                return Err(Error::Validation {
                    message: format!("cannot read {}: permission denied", path.display()),
                    docker: format!("no permission to read from '{}'", path.display()),
                });
            }
        }
        Ok(())
    }

    /// Walks the context: every event in walk order (see [`Walker`]).
    pub fn walk<F>(&self, mode: WalkMode, emit: F) -> Result<Vec<Warning>>
    where
        F: FnMut(Event<'_>) -> Result<()>,
    {
        self.walk_inner(mode, None, false, emit)
    }

    /// [`Context::walk`] with every entry's metadata ([`Entry::meta`]),
    /// read relative to its directory, on every core with
    /// [`WalkMode::All`].
    ///
    /// [`Entry::meta`]: crate::walk::Entry::meta
    pub fn walk_meta<F>(&self, mode: WalkMode, emit: F) -> Result<Vec<Warning>>
    where
        F: FnMut(Event<'_>) -> Result<()>,
    {
        self.walk_inner(mode, None, true, emit)
    }

    /// [`Context::walk`] with BuildKit include patterns (the paths a
    /// Dockerfile references: `FollowPaths`).
    pub fn walk_with<F>(
        &self,
        mode: WalkMode,
        includes: Option<&Matcher>,
        emit: F,
    ) -> Result<Vec<Warning>>
    where
        F: FnMut(Event<'_>) -> Result<()>,
    {
        self.walk_inner(mode, includes, false, emit)
    }

    fn walk_inner<F>(
        &self,
        mode: WalkMode,
        includes: Option<&Matcher>,
        metadata: bool,
        emit: F,
    ) -> Result<Vec<Warning>>
    where
        F: FnMut(Event<'_>) -> Result<()>,
    {
        let w = Walker {
            engine: self.engine,
            excludes: &self.effective,
            includes,
            mode,
            metadata,
        };
        w.walk(&self.root, emit).map_err(|e| match e {
            Error::LazyPattern { source, .. } => {
                self.lazy_error(source, "failed to solve: error from sender: failed to match excludepatterns: syntax error in pattern")
            }
            e => e,
        })
    }

    /// Explains one context-relative path: whether the engine sends it and
    /// which pattern decided.
    pub fn explain(&self, path: &[u8]) -> Result<Explanation> {
        let clean = crate::gostr::clean(path);
        let clean = clean
            .strip_prefix(b"/")
            .map(<[u8]>::to_vec)
            .unwrap_or(clean);
        let abs = self.root.join(std::ffi::OsStr::from_bytes(&clean));
        let meta = fs::symlink_metadata(&abs).ok();
        let exists = meta.is_some();
        let is_dir = meta.as_ref().map_or(path.ends_with(b"/"), |m| m.is_dir());
        let comps: Vec<&[u8]> = clean.split(|&c| c == b'/').collect();
        let mut info = None;
        let mut sent = true;
        let mut verdict = Verdict {
            excluded: false,
            by: None,
        };
        let mut skipped_at: Option<Vec<u8>> = None;
        let only_prefix = crate::walk::only_prefix(&self.effective, true);
        for k in 0..comps.len() {
            let prefix = comps[..=k].join(&b'/'); // k < comps.len()
            let last = k + 1 == comps.len();
            let (v, i) = self
                .effective
                .matches_using_parent_results(&prefix, info.as_ref())
                .map_err(|e| self.lazy_error(e, "syntax error in pattern"))?;
            verdict = v;
            info = Some(i);
            let prefix_is_dir = !last || is_dir;
            if v.excluded && prefix_is_dir && !last {
                let may_skip = self.engine == Engine::Classic || only_prefix;
                let reopened = self.effective.has_exclusions()
                    && crate::walk::prefix_reopens(
                        &self.effective,
                        &prefix,
                        true,
                        self.engine == Engine::Buildkit,
                    );
                if may_skip && !reopened {
                    sent = false;
                    skipped_at = Some(prefix.clone());
                    break;
                }
            }
        }
        if skipped_at.is_none() {
            sent = !verdict.excluded;
            if verdict.excluded && is_dir && self.engine == Engine::Buildkit && exists {
                // Sent when anything below it is: walk to find out, only
                // the directory's own subtree (and the way to it) when the
                // path reads back as a pattern matching just itself.
                let mut any = false;
                let mut want = clean.clone();
                want.push(b'/');
                let only = subtree_matcher(&clean);
                self.walk_inner(WalkMode::Sent, only.as_ref(), false, |ev| {
                    if let Event::Entry(e) = ev {
                        if e.status == Status::Sent && e.path.starts_with(&want) {
                            any = true;
                        }
                    }
                    Ok(())
                })?;
                sent = any;
            }
        }
        if sent
            && meta.as_ref().is_some_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            })
            && self.engine == Engine::Classic
        {
            sent = false;
        }
        Ok(Explanation {
            path: clean.clone(),
            exists,
            is_dir,
            sent,
            decided_by: verdict.by,
            skipped_at,
            matching: self.effective.all_matching(&clean),
        })
    }
}

/// Why a path is or is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The cleaned context-relative path.
    pub path: Vec<u8>,
    /// Whether it exists in the context.
    pub exists: bool,
    /// Whether it is (or is taken as) a directory.
    pub is_dir: bool,
    /// Whether the engine sends it.
    pub sent: bool,
    /// Index (in [`Context::effective`]) of the pattern that decided.
    pub decided_by: Option<usize>,
    /// The ancestor directory the engine skipped without looking inside.
    pub skipped_at: Option<Vec<u8>>,
    /// Every pattern that matches the path or an ancestor, in order.
    pub matching: Vec<usize>,
}

/// A BuildKit include matcher (FollowPaths) of the single path `dir`, its
/// pattern characters escaped, so that a walk enters only `dir`, its
/// subtree and its ancestors; `None` when the pattern would not read back
/// as `dir` (surrounding spaces, say).
fn subtree_matcher(dir: &[u8]) -> Option<Matcher> {
    let mut text = Vec::with_capacity(dir.len() + 4);
    for (i, &c) in dir.iter().enumerate() {
        if matches!(c, b'*' | b'?' | b'[' | b']' | b'\\') || (i == 0 && c == b'!') {
            text.push(b'\\');
        }
        text.push(c);
    }
    let mut m = Matcher::default();
    m.push(0, &text).ok()?;
    let exact = m.patterns().len() == 1
        && m.patterns().iter().all(|p| !p.exclusion)
        && m.matches_or_parent_matches(dir).is_ok_and(|v| v.excluded)
        && !m
            .matches_or_parent_matches(crate::gostr::parent_of(dir))
            .is_ok_and(|v| v.excluded);
    exact.then_some(m)
}

/// Convenience: the entries a context sends, in send order, with kinds.
pub fn sent_entries(ctx: &Context) -> Result<Vec<(Vec<u8>, Kind)>> {
    let mut out = Vec::new();
    ctx.walk(WalkMode::Sent, |ev| {
        if let Event::Entry(e) = ev {
            if e.status == Status::Sent {
                out.push((e.path.to_vec(), e.kind));
            }
        }
        Ok(())
    })?;
    Ok(out)
}
