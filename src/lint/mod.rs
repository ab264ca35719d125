//! Lint: mistakes in `.dockerignore` and the Dockerfile, found against the
//! exact context (SPEC-exact decisions from the walker).
//!
//! Interface shared by `lint`, `report` (its Findings section) and `check`.
//!
//! Every check that says what a line does is computed, not guessed: the
//! context is walked once with every entry (`facts`), and a suggested
//! replacement is judged by walking the context again with the line
//! replaced and comparing what is sent.

mod dockerfile;
pub(crate) mod facts;
pub mod fix;
mod gitignore;
mod rules;
pub mod secrets;
mod syntax;

use std::path::Path;

use crate::context::Context;
use crate::error::Result;

pub use syntax::lint_ignore_text;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Probably a mistake.
    Warning,
    /// The build fails, misses files or ships something it must not.
    Error,
}

impl Level {
    /// The level's name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable code, e.g. `DI001`.
    pub code: &'static str,
    /// Short kebab-case name, e.g. `gitignore-ism`.
    pub name: &'static str,
    /// Level.
    pub level: Level,
    /// The file the finding is about, as shown to the user (relative to
    /// the current directory where possible).
    pub file: String,
    /// 1-based line in `file`, when the finding is about a line.
    pub line: Option<usize>,
    /// One-line message.
    pub message: String,
    /// A suggested replacement for the line, when there is one.
    pub fix: Option<String>,
    /// Context paths the finding is about (a sample, for messages).
    pub paths: Vec<String>,
    /// Bytes concerned (e.g. what a nested copy ships), 0 if not relevant.
    pub bytes: u64,
}

/// Every finding ctxray can report: code, name, default level, what it means.
pub const CODES: &[(&str, &str, Level, &str)] = &[
    (
        "DI001",
        "gitignore-ism",
        Level::Warning,
        "a root-anchored name or `*.ext` whose `**/` form would stop nested copies that are sent",
    ),
    (
        "DI002",
        "inline-comment",
        Level::Warning,
        "`pattern # comment`: the whole line is one pattern",
    ),
    (
        "DI003",
        "indented-comment",
        Level::Warning,
        "`  # text`: only a `#` in column 1 starts a comment",
    ),
    (
        "DI004",
        "windows-separator",
        Level::Warning,
        "`\\` is an escape, not a path separator (an error when the pattern cannot compile)",
    ),
    (
        "DI005",
        "lone-bang",
        Level::Error,
        "a line that is just `!`: docker build fails",
    ),
    (
        "DI006",
        "bad-pattern",
        Level::Error,
        "a pattern that cannot compile: docker build fails",
    ),
    (
        "DI007",
        "never-matches",
        Level::Warning,
        "a pattern that cleans to `.` or `/`, or starts with `..`",
    ),
    (
        "DI008",
        "trailing-slash",
        Level::Warning,
        "`name/` also matches files: a trailing `/` does not mean directories only",
    ),
    (
        "DI009",
        "bang-class",
        Level::Warning,
        "`[!a]` is the set {`!`, `a`}, not a negation (`[^a]` is)",
    ),
    (
        "DI010",
        "dead-rule",
        Level::Info,
        "a rule that matches nothing in this context",
    ),
    (
        "DI011",
        "shadowed-rule",
        Level::Warning,
        "a rule whose entries a later exception always re-includes",
    ),
    (
        "DI012",
        "redundant-rule",
        Level::Info,
        "a rule whose entries an earlier line already leaves out",
    ),
    (
        "DI013",
        "duplicate-rule",
        Level::Warning,
        "the same pattern as an earlier line, with nothing in between that changes it",
    ),
    (
        "DI014",
        "useless-exception",
        Level::Warning,
        "an exception (`!`) that re-includes nothing",
    ),
    (
        "DI015",
        "engine-divergence",
        Level::Warning,
        "classic and BuildKit send different files because of this line",
    ),
    (
        "DF001",
        "copy-excluded",
        Level::Error,
        "a COPY/ADD/bind-mount source that .dockerignore leaves out: the build fails",
    ),
    (
        "DF002",
        "copy-partly-excluded",
        Level::Info,
        "files under a COPY/ADD source that .dockerignore leaves out",
    ),
    (
        "DF003",
        "copy-source-missing",
        Level::Warning,
        "a COPY/ADD source that is not in the context",
    ),
    (
        "DF004",
        "specific-ignore-file",
        Level::Warning,
        "a `<Dockerfile>.dockerignore` that replaces .dockerignore under BuildKit",
    ),
    (
        "DF005",
        "dockerfile-excluded",
        Level::Info,
        "the Dockerfile is excluded (an error when the classic builder cannot re-add it)",
    ),
    (
        "DF006",
        "dockerignore-excluded",
        Level::Info,
        ".dockerignore excludes itself",
    ),
    (
        "DF007",
        "unused-context",
        Level::Info,
        "files sent but used by no COPY/ADD/RUN --mount of a reachable stage",
    ),
    (
        "DF008",
        "dockerfile-unreadable",
        Level::Warning,
        "the Dockerfile cannot be parsed: Dockerfile checks skipped",
    ),
    (
        "SE001",
        "secret-sent",
        Level::Error,
        "a file that usually holds a secret is sent",
    ),
    (
        "GI001",
        "gitignored-sent",
        Level::Info,
        "files that .gitignore ignores but Docker sends",
    ),
];

/// Lint options.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The build target (`--target`); the last stage when `None`.
    pub target: Option<String>,
    /// Skip the `.gitignore` comparison (GI001).
    pub no_gitignore: bool,
}

/// Lints an opened context. Findings are sorted by file, line and code.
pub fn lint(ctx: &Context, opts: &LintOptions) -> Result<Vec<Finding>> {
    lint_inner(ctx, opts, None)
}

/// Gathers what [`lint_walked`] needs from a walk that someone else runs
/// (`Context::walk_meta(WalkMode::All, ..)` of the same context, e.g. the
/// report's), so the lint does not walk the context again. It stops
/// gathering past `limit` entries.
#[derive(Debug)]
pub struct Gatherer {
    facts: facts::FactsBuilder,
    limit: usize,
    overflow: bool,
}

impl Gatherer {
    /// A gatherer keeping at most `limit` entries.
    pub fn new(limit: usize) -> Gatherer {
        Gatherer {
            facts: facts::FactsBuilder::default(),
            limit,
            overflow: false,
        }
    }

    /// Feeds one event of the walk.
    pub fn observe(&mut self, ev: &crate::walk::Event<'_>) {
        if self.overflow {
            return;
        }
        if self.facts.len() >= self.limit {
            self.overflow = true;
            self.facts = facts::FactsBuilder::default();
            return;
        }
        self.facts.observe(ev);
    }

    /// Whether the walk had more entries than the limit (nothing kept).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }
}

/// [`lint`] with the entries gathered from an existing walk of `ctx`
/// (walked again when the gatherer overflowed or a pattern cannot compile).
pub fn lint_walked(ctx: &Context, opts: &LintOptions, g: Gatherer) -> Result<Vec<Finding>> {
    if g.overflow {
        return lint(ctx, opts);
    }
    lint_inner(ctx, opts, Some(g.facts))
}

fn lint_inner(
    ctx: &Context,
    opts: &LintOptions,
    gathered: Option<facts::FactsBuilder>,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let ignore_display = ctx.ignore.as_ref().map_or_else(
        || display_path(&ctx.root.join(".dockerignore")),
        |f| display_path(&f.path),
    );
    let ignore_text = match &ctx.ignore {
        Some(f) => std::fs::read(&f.path).ok(),
        None => None,
    };
    if let Some(data) = &ignore_text {
        out.extend(lint_ignore_text(&ignore_display, data));
    }
    // Patterns that cannot compile are reported above; the other checks
    // run as if those lines were absent (Docker would fail anyway).
    let cleaned;
    let (ctx, gathered) = if ctx.matcher.patterns().iter().any(|p| p.is_bad()) {
        cleaned = without_bad_lines(ctx);
        (&cleaned, None)
    } else {
        (ctx, gathered)
    };
    {
        let facts = match gathered {
            Some(g) => g.finish(ctx),
            None => facts::Facts::collect(ctx)?,
        };
        let env = Env {
            ctx,
            opts,
            ignore_display: &ignore_display,
            facts: &facts,
        };
        rules::check(&env, &mut out)?;
        dockerfile::check(&env, &mut out)?;
        if !opts.no_gitignore {
            gitignore::check(&env, &mut out);
        }
    }
    sort(&mut out);
    Ok(out)
}

/// The context with the lines whose pattern cannot compile left out.
fn without_bad_lines(ctx: &Context) -> Context {
    let bad: Vec<usize> = ctx
        .matcher
        .patterns()
        .iter()
        .filter(|p| p.is_bad())
        .map(|p| p.line)
        .collect();
    let ignore = ctx.ignore.as_deref().map(|f| {
        let mut f = f.clone();
        f.lines.retain(|l| !bad.contains(&l.line));
        std::sync::Arc::new(f)
    });
    let lines: &[crate::ignorefile::PatternLine] = ignore.as_ref().map_or(&[], |f| &f.lines);
    let matcher = crate::matcher::Matcher::new(lines).unwrap_or_default();
    Context {
        root: ctx.root.clone(),
        engine: ctx.engine,
        ignore,
        effective: facts::effective_for(ctx, ctx.engine, matcher.clone()),
        matcher,
        dockerfile: ctx.dockerfile.clone(),
        dockerfile_abs: ctx.dockerfile_abs.clone(),
        warnings: Vec::new(),
    }
}

/// What every walk-based check sees.
pub(crate) struct Env<'a> {
    pub ctx: &'a Context,
    pub opts: &'a LintOptions,
    pub ignore_display: &'a str,
    pub facts: &'a facts::Facts,
}

/// Sorts findings by file, line, code (then paths and message), and drops exact
/// duplicates.
pub fn sort(v: &mut Vec<Finding>) {
    v.sort_by(|a, b| {
        (&a.file, a.line, a.code, &a.paths, &a.message)
            .cmp(&(&b.file, b.line, b.code, &b.paths, &b.message))
    });
    v.dedup();
}

/// Counts of findings by level: (errors, warnings, infos).
pub fn counts(v: &[Finding]) -> (usize, usize, usize) {
    let n = |l| v.iter().filter(|f| f.level == l).count();
    (n(Level::Error), n(Level::Warning), n(Level::Info))
}

/// A path for messages: relative to the current directory when it lies
/// below it, else as is.
pub fn display_path(p: &Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    if let Some(cwd) = cwd {
        if let Ok(r) = p.strip_prefix(&cwd) {
            if !r.as_os_str().is_empty() {
                return r.to_string_lossy().into_owned();
            }
        }
    }
    p.to_string_lossy().into_owned()
}

/// Human size (decimal units, like `docker build`).
pub(crate) fn size(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::DECIMAL)
}

/// Lossy text of a byte path.
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `a, b, c` with at most `n` items and `, …` when more.
pub(crate) fn list(items: &[String], n: usize) -> String {
    let mut s = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        s.push_str(", …");
    }
    s
}

/// `1 file` / `2 files`.
pub(crate) fn files(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::fs;
    use std::path::Path;

    use crate::context::{Context, Options};
    use crate::walk::Engine;

    use super::{lint, Finding, LintOptions};

    /// Writes a context: `(path, contents)`, a path ending in `/` is a
    /// directory.
    pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let p = dir.path().join(path.trim_end_matches('/'));
            if path.ends_with('/') {
                fs::create_dir_all(&p).unwrap();
            } else {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, contents).unwrap();
            }
        }
        dir
    }

    pub fn run_engine(dir: &Path, engine: Engine) -> Vec<Finding> {
        let ctx = Context::open(&Options::new(dir, engine)).unwrap();
        lint(&ctx, &LintOptions::default()).unwrap()
    }

    pub fn run(dir: &Path) -> Vec<Finding> {
        run_engine(dir, Engine::Buildkit)
    }

    pub fn with<'a>(v: &'a [Finding], code: &str) -> Vec<&'a Finding> {
        v.iter().filter(|f| f.code == code).collect()
    }
}
