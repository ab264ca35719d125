//! The report: what is sent and what is left out, by category and by rule,
//! the biggest things still sent, and a size tree (SPEC-exact decisions
//! from the walker; sizes from metadata only, never file contents).

use std::collections::HashMap;
use std::fs;

use crate::archive::TarBuilder;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::matcher::Matcher;
use crate::redecide::Redecider;
use crate::walk::{Engine, Event, Kind, Status, WalkMode};

/// Files, directories and bytes of a set of entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Apparent size of the regular files.
    pub bytes: u64,
}

/// A known kind of bloat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Category {
    /// `.git`
    Git,
    /// `__pycache__`, `*.pyc`, `*.pyo`
    PyCache,
    /// `.venv`, `venv`, any directory holding `pyvenv.cfg`
    PythonVenv,
    /// cargo's `target`
    CargoTarget,
    /// `node_modules`
    NodeModules,
    /// `dist`, `build`
    BuildOutput,
    /// `.cache`, `.pytest_cache`, `.mypy_cache`, `.tox`, `.ruff_cache`
    Caches,
    /// `.idea`, `.vscode`, `.DS_Store`, editor swap files
    IdeOsJunk,
    /// Everything else.
    Other,
}

impl Category {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Git => ".git",
            Category::PyCache => "__pycache__/*.pyc",
            Category::PythonVenv => "python venv",
            Category::CargoTarget => "target (cargo)",
            Category::NodeModules => "node_modules",
            Category::BuildOutput => "build output",
            Category::Caches => "caches",
            Category::IdeOsJunk => "IDE/OS junk",
            Category::Other => "other",
        }
    }

    /// The category of a directory name, if it is a known bloat directory.
    pub fn of_dir_name(name: &[u8]) -> Option<Category> {
        Some(match name {
            b".git" => Category::Git,
            b"__pycache__" => Category::PyCache,
            b".venv" | b"venv" => Category::PythonVenv,
            b"target" => Category::CargoTarget,
            b"node_modules" => Category::NodeModules,
            b"dist" | b"build" => Category::BuildOutput,
            b".cache" | b".pytest_cache" | b".mypy_cache" | b".tox" | b".ruff_cache" => {
                Category::Caches
            }
            b".idea" | b".vscode" => Category::IdeOsJunk,
            _ => return None,
        })
    }

    fn of_file_name(name: &[u8]) -> Option<Category> {
        if name.ends_with(b".pyc") || name.ends_with(b".pyo") {
            Some(Category::PyCache)
        } else if name == b".DS_Store" || name.ends_with(b".swp") || name.ends_with(b"~") {
            Some(Category::IdeOsJunk)
        } else {
            None
        }
    }
}

/// Savings of one ignore-file line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSavings {
    /// 1-based line.
    pub line: usize,
    /// The pattern (with `!` for exceptions).
    pub pattern: String,
    /// Whether the line is an exception (`!`).
    pub exception: bool,
    /// Regular files that deleting this line would add to what is sent,
    /// net: negative in the rare case where the line is what makes a later
    /// exception apply (for an exception: the files it re-includes).
    pub files: i64,
    /// Their bytes, net.
    pub bytes: i64,
    /// Regular files this line decides (it is the last line matching them).
    pub decides_files: u64,
    /// Their bytes.
    pub decides_bytes: u64,
    /// Whether the line decides nothing in this context (dead or shadowed).
    pub dead: bool,
}

/// What removing one exclusion line would add back: the engine's walk
/// re-decided, with the other lines, along the path of every file the line
/// decides (the only files whose fate the line holds).
struct Removal {
    walk: Redecider,
    files: i64,
    bytes: i64,
}

impl Removal {
    fn new(m: &Matcher, index: usize, engine: Engine) -> Removal {
        Removal {
            walk: Redecider::new(m.without(index), engine),
            files: 0,
            bytes: 0,
        }
    }

    /// Whether the walk without the line sends the file at `path`, at
    /// `depth` (its directories being the current path's).
    fn sends_file(&mut self, path: &[u8], depth: usize) -> bool {
        self.walk.sends(path, depth)
    }

    /// The walk leaves a directory at `depth`.
    fn leave(&mut self, depth: usize) {
        self.walk.at_depth(depth);
    }
}

/// A sized path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sized {
    /// Context-relative path (lossy UTF-8).
    pub path: String,
    /// Bytes (cumulative for directories).
    pub bytes: u64,
}

/// A line of the size tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TreeNode {
    /// Context-relative path.
    pub path: String,
    /// Depth (1 = top level).
    pub depth: usize,
    /// Whether it is a directory.
    pub dir: bool,
    /// Bytes sent at or below it.
    pub bytes: u64,
}

/// A bloat directory that is still sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hint {
    /// The directory.
    pub path: String,
    /// Its category.
    pub category: Category,
    /// Bytes it sends.
    pub bytes: u64,
    /// A suggested `.dockerignore` line.
    pub suggestion: String,
}

/// Everything the report says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// What is sent.
    pub included: Counts,
    /// What is left out.
    pub excluded: Counts,
    /// Exact size of the context tar (`ctxray pack` with this engine).
    pub tar_bytes: u64,
    /// Exact size of the tar with no ignore file at all.
    pub tar_bytes_without_ignore: u64,
    /// Excluded files and bytes by category.
    pub categories: Vec<(Category, Counts)>,
    /// Per ignore-file line.
    pub rules: Vec<RuleSavings>,
    /// Largest sent directories (cumulative).
    pub largest_dirs: Vec<Sized>,
    /// Largest sent files.
    pub largest_files: Vec<Sized>,
    /// Bloat directories still sent.
    pub hints: Vec<Hint>,
    /// Size tree of what is sent, to the requested depth.
    pub tree: Vec<TreeNode>,
    /// Notes (what Docker logs and skips).
    pub warnings: Vec<String>,
}

/// Report options.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// How many largest items to keep.
    pub top: usize,
    /// Size-tree depth (0: no tree).
    pub tree_depth: usize,
}

struct DirAcc {
    /// This directory or an ancestor is sent thanks to an exception.
    under_exception: bool,
    path: Vec<u8>,
    depth: usize,
    sent_bytes: u64,
    /// The bloat category this directory is in (its own or an ancestor's).
    category: Option<Category>,
    /// Whether that category is this directory's own (not inherited).
    own_category: bool,
    tree_index: Option<usize>,
    /// BuildKit: an excluded directory walked into; sent (and counted)
    /// only if something below it is sent.
    pending: Option<(
        crate::archive::HeaderSpec,
        crate::fsx::Stat,
        std::path::PathBuf,
    )>,
}

fn push_top(v: &mut Vec<Sized>, item: Sized, n: usize) {
    if n == 0 {
        return;
    }
    if v.len() == n && v.last().is_some_and(|l| l.bytes >= item.bytes) {
        return;
    }
    let pos = v.partition_point(|x| x.bytes >= item.bytes);
    v.insert(pos, item);
    v.truncate(n);
}

fn lossy(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// How far a report's walk has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Entries seen.
    pub entries: u64,
    /// Bytes of the regular files seen.
    pub bytes: u64,
}

/// Entries between two progress calls.
const PROGRESS_EVERY: u64 = 2048;

/// Builds the report for an opened context.
pub fn build(ctx: &Context, opts: ReportOptions) -> Result<Report> {
    build_with_progress(ctx, opts, |_| {})
}

/// [`build`], calling `progress` every few thousand entries.
pub fn build_with_progress(
    ctx: &Context,
    opts: ReportOptions,
    progress: impl FnMut(Progress),
) -> Result<Report> {
    build_observed(ctx, opts, progress, |_| {})
}

/// [`build_with_progress`], also handing every event of the walk (a
/// `WalkMode::All` walk with metadata) to `observe`, e.g. a
/// [`crate::lint::Gatherer`], so other work needs no walk of its own.
pub fn build_observed(
    ctx: &Context,
    opts: ReportOptions,
    mut progress: impl FnMut(Progress),
    mut observe: impl FnMut(&Event<'_>),
) -> Result<Report> {
    let mut seen = Progress::default();
    let mut included = Counts::default();
    let mut excluded = Counts::default();
    let mut tar = TarBuilder::counter();
    let mut tar_all = TarBuilder::counter();
    let mut cats: HashMap<Category, Counts> = HashMap::new();
    let npat = ctx.effective.patterns().len();
    let mut by_rule = vec![(0u64, 0u64, false); npat];
    let mut removals: Vec<Option<Removal>> = (0..npat).map(|_| None).collect();
    // The lines with a removal under way (a long ignore file has thousands
    // of lines and few that decide anything).
    let mut active: Vec<usize> = Vec::new();
    let mut largest_files = Vec::new();
    let mut largest_dirs = Vec::new();
    let mut hints = Vec::new();
    let mut tree: Vec<TreeNode> = Vec::new();
    let mut stack: Vec<DirAcc> = Vec::new();
    let mut warnings = Vec::new();

    let walk_warnings = ctx.walk_meta(WalkMode::All, |ev| {
        observe(&ev);
        match ev {
            Event::Entry(e) => {
                let Some(stat) = e.meta else {
                    return Ok(()); // vanished
                };
                seen.entries += 1;
                if stat.is_file() {
                    seen.bytes += stat.size;
                }
                if seen.entries % PROGRESS_EVERY == 0 {
                    progress(seen);
                }
                let io = |err: std::io::Error| Error::Io {
                    path: e.abs.to_path_buf(),
                    source: err,
                };
                // One header per entry feeds both size counters. Without any
                // ignore file, every entry is sent, in walk order. The
                // `security.capability` xattr (a PAX record) is read for
                // what may be sent; for the rest, whose only use is the
                // size without an ignore file, it is taken as absent.
                let cap = if e.status == Status::Excluded {
                    None
                } else {
                    crate::fsx::capability(e.abs)
                };
                let spec = crate::archive::header_spec(e.path, e.abs, stat, cap.as_deref());
                if let Ok(spec) = &spec {
                    tar_all.add_spec(spec.clone(), e.abs, stat).map_err(io)?;
                }
                let pending = match (&spec, e.status) {
                    (Ok(s), Status::Pending) => Some((s.clone(), *stat, e.abs.to_path_buf())),
                    _ => None,
                };
                let name = e.path.rsplit(|&c| c == b'/').next().unwrap_or(e.path);
                let parent_cat = stack.last().and_then(|d| d.category);
                let is_file = e.kind == Kind::File;
                let size = if is_file { stat.size } else { 0 };
                // A file sent thanks to an exception (its own or a
                // directory's): deleting an earlier line that matches it can
                // take the exception's effect away.
                let pats = ctx.effective.patterns();
                let by_exception = e
                    .verdict
                    .by
                    .and_then(|b| pats.get(b))
                    .is_some_and(|p| p.exclusion);
                let under_exception = stack.last().is_some_and(|d| d.under_exception)
                    || (by_exception && e.status != Status::Excluded);
                if is_file && e.status == Status::Sent && under_exception {
                    for i in ctx.effective.all_matching(e.path) {
                        let Some(p) = pats.get(i) else { continue };
                        if p.exclusion || p.line == 0 || Some(i) == e.verdict.by {
                            continue;
                        }
                        if let Some(slot) = removals.get_mut(i) {
                            let r = slot.get_or_insert_with(|| {
                                active.push(i);
                                Removal::new(&ctx.effective, i, ctx.engine)
                            });
                            if !r.sends_file(e.path, e.depth) {
                                r.files -= 1;
                                r.bytes -= size as i64;
                            }
                        }
                    }
                }
                if let Some(by) = e.verdict.by {
                    if let Some(r) = by_rule.get_mut(by) {
                        r.2 = true;
                        // An exclusion decides what it leaves out; an
                        // exception what it re-includes.
                        if is_file && e.verdict.excluded == (e.status != Status::Sent) {
                            r.0 += 1;
                            r.1 += size;
                        }
                    }
                    if is_file && e.verdict.excluded && e.status != Status::Sent {
                        if let Some(slot) = removals.get_mut(by) {
                            let r = slot.get_or_insert_with(|| {
                                active.push(by);
                                Removal::new(&ctx.effective, by, ctx.engine)
                            });
                            if r.sends_file(e.path, e.depth) {
                                r.files += 1;
                                r.bytes += size as i64;
                            }
                        }
                    }
                }
                match e.status {
                    Status::Sent => {
                        let added = match spec {
                            Ok(spec) => tar.add_spec(spec, e.abs, stat).map_err(io)?,
                            Err(r) => crate::archive::Added::Skipped(r),
                        };
                        if added
                            == crate::archive::Added::Skipped(crate::archive::SkipReason::Socket)
                        {
                            warnings.push(format!(
                                "{}: a socket; Docker's tar writer skips it",
                                lossy(e.path)
                            ));
                        }
                        if is_file {
                            included.files += 1;
                            included.bytes += size;
                            for d in stack.iter_mut() {
                                d.sent_bytes += size;
                            }
                            push_top(
                                &mut largest_files,
                                Sized {
                                    path: lossy(e.path),
                                    bytes: size,
                                },
                                opts.top,
                            );
                            if e.depth <= opts.tree_depth {
                                tree.push(TreeNode {
                                    path: lossy(e.path),
                                    depth: e.depth,
                                    dir: false,
                                    bytes: size,
                                });
                            }
                        } else if e.kind == Kind::Dir {
                            included.dirs += 1;
                        }
                    }
                    Status::Excluded | Status::Pending => {
                        if is_file {
                            excluded.files += 1;
                            excluded.bytes += size;
                            let cat = parent_cat
                                .or_else(|| Category::of_file_name(name))
                                .unwrap_or(Category::Other);
                            let c = cats.entry(cat).or_default();
                            c.files += 1;
                            c.bytes += size;
                        } else if e.kind == Kind::Dir && e.status == Status::Excluded {
                            excluded.dirs += 1;
                        }
                    }
                }
                if e.kind == Kind::Dir {
                    // A directory's own category is looked up (one stat for
                    // pyvenv.cfg) only outside known bloat.
                    let own = if parent_cat.is_some() {
                        None
                    } else {
                        Category::of_dir_name(name).or_else(|| {
                            fs::symlink_metadata(e.abs.join("pyvenv.cfg"))
                                .is_ok()
                                .then_some(Category::PythonVenv)
                        })
                    };
                    let category = parent_cat.or(own);
                    let tree_index = (e.depth <= opts.tree_depth && e.status != Status::Excluded)
                        .then(|| {
                            tree.push(TreeNode {
                                path: lossy(e.path),
                                depth: e.depth,
                                dir: true,
                                bytes: 0,
                            });
                            tree.len() - 1
                        });
                    stack.push(DirAcc {
                        path: e.path.to_vec(),
                        depth: e.depth,
                        sent_bytes: 0,
                        category,
                        own_category: own.is_some(),
                        under_exception,
                        tree_index,
                        pending,
                    });
                }
            }
            Event::Leave { path, sent } => {
                if let Some(mut d) = stack.pop() {
                    for &i in &active {
                        if let Some(Some(r)) = removals.get_mut(i) {
                            r.leave(d.depth);
                        }
                    }
                    if let Some((spec, meta, abs)) = d.pending.take() {
                        if sent {
                            included.dirs += 1;
                            tar.add_spec(spec, &abs, &meta).map_err(|err| Error::Io {
                                path: abs.clone(),
                                source: err,
                            })?;
                        } else {
                            excluded.dirs += 1;
                        }
                    }
                    if let Some(i) = d.tree_index {
                        if let Some(n) = tree.get_mut(i) {
                            n.bytes = d.sent_bytes;
                        }
                    }
                    if d.sent_bytes > 0 {
                        push_top(
                            &mut largest_dirs,
                            Sized {
                                path: lossy(&d.path),
                                bytes: d.sent_bytes,
                            },
                            opts.top,
                        );
                        // A bloat directory that is sent, not inside another one.
                        if let (true, Some(cat)) = (d.own_category, d.category) {
                            let name = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
                            let base = lossy(name);
                            let suggestion = if d.depth > 1 {
                                format!("**/{base}")
                            } else {
                                base.clone()
                            };
                            hints.push(Hint {
                                path: lossy(path),
                                category: cat,
                                bytes: d.sent_bytes,
                                suggestion,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    })?;
    warnings.extend(walk_warnings.into_iter().map(|w| w.message));
    let (_, tar_bytes) = tar.finish().map_err(|e| Error::Other(e.to_string()))?;
    let (_, tar_bytes_without_ignore) =
        tar_all.finish().map_err(|e| Error::Other(e.to_string()))?;
    let mut categories: Vec<(Category, Counts)> = cats.into_iter().collect();
    categories.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(&b.0)));
    let rules = ctx
        .effective
        .patterns()
        .iter()
        .zip(by_rule.into_iter().zip(removals))
        .filter(|(p, _)| p.line > 0)
        .map(|(p, ((files, bytes, matched), removal))| {
            let (add_files, add_bytes) = match (&removal, p.exclusion) {
                (_, true) => (files as i64, bytes as i64),
                (Some(r), false) => (r.files, r.bytes),
                (None, false) => (0, 0),
            };
            RuleSavings {
                line: p.line,
                pattern: p.display(),
                exception: p.exclusion,
                files: add_files,
                bytes: add_bytes,
                decides_files: files,
                decides_bytes: bytes,
                dead: !matched,
            }
        })
        .collect();
    hints.sort_by_key(|h| std::cmp::Reverse(h.bytes));
    Ok(Report {
        included,
        excluded,
        tar_bytes,
        tar_bytes_without_ignore,
        categories,
        rules,
        largest_dirs,
        largest_files,
        hints,
        tree,
        warnings,
    })
}
