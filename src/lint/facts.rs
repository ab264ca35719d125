//! One walk of every entry of the context, and the machinery to compare
//! what is sent with a changed ignore file.

use std::collections::{HashMap, HashSet};
use std::fs;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::ignorefile::{self, PatternLine};
use crate::matcher::Matcher;
use crate::walk::{Engine, Event, Kind, Status, WalkMode, Walker};

/// One entry of the context.
#[derive(Debug, Clone)]
pub(crate) struct Ent {
    /// Context-relative slash path.
    pub path: Vec<u8>,
    pub kind: Kind,
    /// Apparent size (regular files), else 0.
    pub size: u64,
    /// Whether the engine sends it (directories: also when sent lazily).
    pub sent: bool,
    /// Index (in `ctx.effective`) of the deciding pattern.
    pub by: Option<usize>,
    /// Inside a directory the engine skips without looking.
    pub in_skipped: bool,
    /// Number of path components.
    pub depth: usize,
}

/// Every entry of the context, in walk order, as the context's engine
/// decides it.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub ents: Vec<Ent>,
    /// Index of each path in `ents`.
    pub index: HashMap<Vec<u8>, usize>,
    /// For a long ignore file: by pattern text (of `ctx.effective`), the
    /// entries (indices in `ents`, ascending) that the pattern matches
    /// directly, found through the matcher's candidate index.
    pub direct: Option<HashMap<Vec<u8>, Vec<usize>>>,
}

/// Builds [`Facts`] from the events of a `WalkMode::All` walk with
/// metadata (its own, or one that another part runs, such as the report's).
#[derive(Debug, Default)]
pub(crate) struct FactsBuilder {
    ents: Vec<Ent>,
    dirs: Vec<usize>,
}

impl FactsBuilder {
    /// Entries seen so far.
    pub fn len(&self) -> usize {
        self.ents.len()
    }

    pub fn observe(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Entry(e) => {
                let size = match (e.kind, e.meta) {
                    (Kind::File, Some(m)) => m.size,
                    (Kind::File, None) => fs::symlink_metadata(e.abs).map_or(0, |m| m.len()),
                    _ => 0,
                };
                if e.kind == Kind::Dir {
                    self.dirs.push(self.ents.len());
                }
                self.ents.push(Ent {
                    path: e.path.to_vec(),
                    kind: e.kind,
                    size,
                    sent: e.status == Status::Sent,
                    by: e.verdict.by,
                    in_skipped: e.in_skipped_dir,
                    depth: e.depth,
                });
            }
            Event::Leave { sent, .. } => {
                if let Some(i) = self.dirs.pop() {
                    if *sent {
                        if let Some(e) = self.ents.get_mut(i) {
                            e.sent = true;
                        }
                    }
                }
            }
        }
    }

    pub fn finish(self, ctx: &Context) -> Facts {
        let ents = self.ents;
        let index = ents
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.clone(), i))
            .collect();
        let pats = ctx.effective.patterns();
        let direct = (pats.len() >= 64).then(|| {
            let mut m: HashMap<Vec<u8>, Vec<usize>> =
                pats.iter().map(|p| (p.text.clone(), Vec::new())).collect();
            for (k, e) in ents.iter().enumerate() {
                for i in ctx.effective.direct_candidates(&e.path) {
                    if let Some(p) = pats.get(i) {
                        if p.matches(&e.path).unwrap_or(false) {
                            if let Some(v) = m.get_mut(&p.text) {
                                if v.last() != Some(&k) {
                                    v.push(k);
                                }
                            }
                        }
                    }
                }
            }
            m
        });
        Facts {
            ents,
            index,
            direct,
        }
    }
}

impl Facts {
    pub fn collect(ctx: &Context) -> Result<Facts> {
        let mut b = FactsBuilder::default();
        // Sizes from the walk's own listings (read on every core).
        ctx.walk_meta(WalkMode::All, |ev| {
            b.observe(&ev);
            Ok(())
        })?;
        Ok(b.finish(ctx))
    }

    pub fn get(&self, path: &[u8]) -> Option<&Ent> {
        self.index.get(path).and_then(|&i| self.ents.get(i))
    }

    /// Sent non-directories.
    pub fn sent_files(&self) -> impl Iterator<Item = &Ent> {
        self.ents.iter().filter(|e| e.sent && e.kind != Kind::Dir)
    }

    /// Paths of sent entries and of every ancestor of a sent entry.
    pub fn sent_and_ancestors(&self) -> HashSet<&[u8]> {
        let mut s = HashSet::new();
        for e in self.ents.iter().filter(|e| e.sent) {
            let p = e.path.as_slice();
            s.insert(p);
            for (i, &c) in p.iter().enumerate() {
                if c == b'/' {
                    if let Some(a) = p.get(..i) {
                        s.insert(a);
                    }
                }
            }
        }
        s
    }
}

/// How many components a path must have for `p` to match it directly,
/// when that is fixed: no `**`, and no class or escape that could match a
/// `/`.
pub(crate) fn fixed_depth(p: &crate::matcher::Pattern) -> Option<usize> {
    let t = &p.text;
    if t.windows(2).any(|w| w == b"**") || t.contains(&b'[') || t.contains(&b'\\') {
        return None;
    }
    Some(t.split(|&c| c == b'/').count())
}

/// The entries `p` matches directly.
pub(crate) fn matching<'a>(
    facts: &'a Facts,
    p: &'a crate::matcher::Pattern,
) -> impl Iterator<Item = &'a Ent> + 'a {
    let want = fixed_depth(p);
    let direct = facts.direct.as_ref().and_then(|m| m.get(&p.text));
    let indexed = direct
        .into_iter()
        .flatten()
        .filter_map(|&k| facts.ents.get(k));
    let scanned = direct
        .is_none()
        .then(|| {
            facts
                .ents
                .iter()
                .filter(move |e| p.matches(&e.path).unwrap_or(false))
        })
        .into_iter()
        .flatten();
    indexed
        .chain(scanned)
        .filter(move |e| want.is_none_or(|d| e.depth == d))
}

/// The sent non-directories when walking `root` with these patterns.
pub(crate) fn sent_files_with(
    ctx: &Context,
    engine: Engine,
    excludes: &Matcher,
    includes: Option<&Matcher>,
) -> Result<HashSet<Vec<u8>>> {
    let w = Walker {
        engine,
        excludes,
        includes,
        mode: WalkMode::Sent,
        metadata: false,
    };
    let mut out = HashSet::new();
    w.walk::<Error, _>(&ctx.root, |ev| {
        if let Event::Entry(e) = ev {
            if e.status == Status::Sent && e.kind != Kind::Dir {
                out.insert(e.path.to_vec());
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// What changes in what is sent if line `line` of the ignore file read
/// `new` instead; `None` when the changed file does not compile.
///
/// When the line is a normal pattern before and after (so which excluded
/// directories the engine enters cannot change), only files that the old
/// or the new pattern matches (themselves or through a parent) can change,
/// and each is decided as the walker decides it; otherwise the context is
/// walked again.
pub(crate) fn change_line(
    ctx: &Context,
    facts: &Facts,
    line: usize,
    new: &[u8],
) -> Result<Option<Change>> {
    let Some(m) = variant(ctx, line, new) else {
        return Ok(None);
    };
    let old: Vec<crate::matcher::Pattern> = ctx
        .effective
        .patterns()
        .iter()
        .filter(|p| p.line == line)
        .cloned()
        .collect();
    let newp: Vec<crate::matcher::Pattern> = m
        .patterns()
        .iter()
        .filter(|p| p.line == line)
        .cloned()
        .collect();
    let trims = |m: &Matcher| -> Vec<Vec<u8>> {
        m.patterns()
            .iter()
            .filter(|p| p.line == 0)
            .map(|p| p.text.clone())
            .collect()
    };
    let fast = old.iter().chain(&newp).all(|p| !p.exclusion) && trims(&m) == trims(&ctx.effective);
    if !fast {
        return change(ctx, facts, &m).map(Some);
    }
    let alt = Context {
        root: ctx.root.clone(),
        engine: ctx.engine,
        ignore: None,
        matcher: m.clone(),
        effective: m,
        dockerfile: ctx.dockerfile.clone(),
        dockerfile_abs: ctx.dockerfile_abs.clone(),
        warnings: Vec::new(),
    };
    // Whether the old or new pattern matches each entry or a parent (walk
    // order puts a directory before its contents).
    let mut hit = vec![false; facts.ents.len()];
    let mut c = Change::default();
    for (i, e) in facts.ents.iter().enumerate() {
        let parent_hit = e
            .path
            .iter()
            .rposition(|&b| b == b'/')
            .and_then(|k| e.path.get(..k))
            .and_then(|p| facts.index.get(p))
            .is_some_and(|&j| hit.get(j).copied().unwrap_or(false));
        let h = parent_hit
            || old
                .iter()
                .chain(&newp)
                .any(|p| p.matches(&e.path).unwrap_or(false));
        if let Some(x) = hit.get_mut(i) {
            *x = h;
        }
        if !h || e.kind == Kind::Dir {
            continue;
        }
        let now = alt.explain(&e.path)?.sent;
        if e.sent && !now {
            c.removed.push((e.path.clone(), e.size));
        } else if !e.sent && now {
            c.added.push((e.path.clone(), e.size));
        }
    }
    c.removed.sort();
    c.added.sort();
    Ok(Some(c))
}

/// The matcher the engine would walk with if line `line` of the ignore
/// file read `new` instead (classic: plus the CLI's re-adding of
/// `.dockerignore` and the Dockerfile). `None` when it does not compile.
pub(crate) fn variant(ctx: &Context, line: usize, new: &[u8]) -> Option<Matcher> {
    let lines: &[PatternLine] = ctx.ignore.as_ref().map_or(&[], |f| &f.lines);
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        if l.line == line {
            let parsed = ignorefile::parse(new).ok()?;
            for mut p in parsed {
                p.line = line;
                out.push(p);
            }
        } else {
            out.push(l.clone());
        }
    }
    let m = Matcher::new(&out).ok()?;
    if m.patterns().iter().any(|p| p.is_bad()) {
        return None;
    }
    Some(effective_for(ctx, ctx.engine, m))
}

/// `m` plus what the classic CLI appends (`TrimBuildFilesFromExcludes`).
pub(crate) fn effective_for(ctx: &Context, engine: Engine, mut m: Matcher) -> Matcher {
    if engine == Engine::Classic {
        if m.matches_deprecated(b".dockerignore").unwrap_or(false) {
            let _ = m.push(0, b"!.dockerignore");
        }
        if let Some(df) = &ctx.dockerfile {
            if m.matches_deprecated(df).unwrap_or(false) {
                let mut p = b"!".to_vec();
                p.extend_from_slice(df);
                let _ = m.push(0, &p);
            }
        }
    }
    m
}

/// What changes when the context is walked with `m` instead of the real
/// patterns: sent files that would stop being sent, and the reverse.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub removed: Vec<(Vec<u8>, u64)>,
    pub added: Vec<(Vec<u8>, u64)>,
}

impl Change {
    pub fn removed_bytes(&self) -> u64 {
        self.removed.iter().map(|r| r.1).sum()
    }
}

pub(crate) fn change(ctx: &Context, facts: &Facts, m: &Matcher) -> Result<Change> {
    let now = sent_files_with(ctx, ctx.engine, m, None)?;
    let mut c = Change::default();
    for e in facts.sent_files() {
        if !now.contains(&e.path) {
            c.removed.push((e.path.clone(), e.size));
        }
    }
    for p in now {
        let was = facts.get(&p);
        if !was.is_some_and(|e| e.sent) {
            let size = was.map_or(0, |e| e.size);
            c.added.push((p, size));
        }
    }
    c.removed.sort();
    c.added.sort();
    Ok(c)
}

/// For each path, its shortest prefix (itself included) that `m`'s single
/// pattern matches directly, with `/` for a directory; grouped with the
/// bytes below, largest first.
pub(crate) fn roots_matched(paths: &[(Vec<u8>, u64)], m: &Matcher) -> Vec<(String, u64)> {
    let mut groups: HashMap<Vec<u8>, u64> = HashMap::new();
    for (p, size) in paths {
        let mut root = p.clone();
        let mut ends = p
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == b'/')
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        ends.push(p.len());
        for end in ends {
            let prefix = p.get(..end).unwrap_or_default();
            if m.patterns()
                .iter()
                .any(|pat| pat.matches(prefix).unwrap_or(false))
            {
                root = prefix.to_vec();
                if end < p.len() {
                    root.push(b'/');
                }
                break;
            }
        }
        *groups.entry(root).or_default() += size;
    }
    let mut v: Vec<(String, u64)> = groups
        .into_iter()
        .map(|(k, b)| (super::lossy(&k), b))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Groups paths by their first component (`dir/` for directories).
pub(crate) fn by_top(paths: &[(Vec<u8>, u64)]) -> Vec<(String, usize, u64)> {
    let mut groups: HashMap<Vec<u8>, (usize, u64)> = HashMap::new();
    for (p, size) in paths {
        let key = match p.iter().position(|&c| c == b'/') {
            Some(i) => {
                let mut k = p.get(..i).unwrap_or_default().to_vec();
                k.push(b'/');
                k
            }
            None => p.clone(),
        };
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += size;
    }
    let mut v: Vec<(String, usize, u64)> = groups
        .into_iter()
        .map(|(k, (n, b))| (super::lossy(&k), n, b))
        .collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    v
}
