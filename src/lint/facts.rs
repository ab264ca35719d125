//! One walk of every entry of the context, kept compact, and the machinery
//! to compare what is sent with a changed ignore file.
//!
//! A context can hold millions of entries, so [`Facts`] keeps no path: each
//! entry is a fixed-size record (parent, size, deciding line, flags) and its
//! name in one shared buffer. Paths are rebuilt in walk order by
//! [`Facts::scan`] (one buffer, no allocation per entry) or one at a time by
//! [`Facts::ent`].

use std::collections::{HashMap, HashSet};
use std::fs;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::ignorefile::{self, PatternLine};
use crate::matcher::Matcher;
use crate::redecide::Redecider;
use crate::walk::{Engine, Event, Kind, Status, WalkMode, Walker};

/// One entry of the context, with its path.
#[derive(Debug, Clone)]
pub(crate) struct Ent {
    /// Context-relative slash path.
    pub path: Vec<u8>,
    /// Apparent size (regular files), else 0.
    pub size: u64,
    /// Index (in `ctx.effective`) of the deciding pattern.
    pub by: Option<usize>,
    /// It is sent or something below it is.
    pub has_sent: bool,
}

/// One entry without its path ([`Facts::path`] builds it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    /// Position in walk order.
    pub idx: usize,
    pub kind: Kind,
    pub size: u64,
    pub by: Option<usize>,
    pub in_skipped: bool,
    pub depth: usize,
}

/// One entry seen by [`Facts::scan`]: its path lives in the scan's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    /// Position in walk order (for [`Facts::ent`]).
    pub idx: usize,
    pub path: &'a [u8],
    pub kind: Kind,
    pub size: u64,
    /// Whether the engine sends it (directories: also when sent lazily).
    pub sent: bool,
    pub by: Option<usize>,
    pub in_skipped: bool,
    pub depth: usize,
    /// It is sent or something below it is.
    pub has_sent: bool,
}

impl View<'_> {
    pub fn hit(self) -> Hit {
        Hit {
            idx: self.idx,
            kind: self.kind,
            size: self.size,
            by: self.by,
            in_skipped: self.in_skipped,
            depth: self.depth,
        }
    }

    pub fn to_ent(self) -> Ent {
        Ent {
            path: self.path.to_vec(),
            size: self.size,
            by: self.by,
            has_sent: self.has_sent,
        }
    }
}

const NONE: u32 = u32::MAX;
const SENT: u8 = 1;
const IN_SKIPPED: u8 = 2;
const HAS_SENT: u8 = 4;

/// One entry, without its path (24 bytes).
#[derive(Debug, Clone, Copy)]
struct Rec {
    /// Apparent size (regular files), else 0.
    size: u64,
    /// Index of the parent directory, `NONE` at the top level.
    parent: u32,
    /// Deciding pattern, `NONE` for none.
    by: u32,
    /// Length of the name (a directory entry's name is at most 255 bytes).
    name_len: u16,
    kind: Kind,
    flags: u8,
}

/// Every `STRIDE`th entry's name start is kept; the others are summed
/// from there.
const STRIDE: usize = 64;

/// Every entry of the context, in walk order, as the context's engine
/// decides it.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    recs: Vec<Rec>,
    /// The names, one after the other in walk order.
    names: Vec<u8>,
    /// Where the name of entry `k * STRIDE` starts in `names`.
    starts: Vec<u64>,
    /// For a long ignore file: by pattern text (of `ctx.effective`), the
    /// entries (positions, ascending) that the pattern matches directly,
    /// found through the matcher's candidate index.
    direct: Option<HashMap<Vec<u8>, Vec<u32>>>,
}

/// Builds [`Facts`] from the events of a `WalkMode::All` walk with
/// metadata (its own, or one that another part runs, such as the report's).
#[derive(Debug, Default)]
pub(crate) struct FactsBuilder {
    facts: Facts,
    /// Open directories (for the sent flag that their end brings).
    dirs: Vec<usize>,
    /// The last directory seen at each depth (parents of what follows).
    at_depth: Vec<u32>,
}

impl FactsBuilder {
    /// Entries seen so far.
    pub fn len(&self) -> usize {
        self.facts.recs.len()
    }

    pub fn observe(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Entry(e) => {
                let size = match (e.kind, e.meta) {
                    (Kind::File, Some(m)) => m.size,
                    (Kind::File, None) => fs::symlink_metadata(e.abs).map_or(0, |m| m.len()),
                    _ => 0,
                };
                let idx = self.facts.recs.len();
                let depth = e.depth.max(1);
                self.at_depth.truncate(depth - 1);
                let parent = if depth >= 2 {
                    self.at_depth.last().copied().unwrap_or(NONE)
                } else {
                    NONE
                };
                if e.kind == Kind::Dir {
                    self.dirs.push(idx);
                    self.at_depth.push(u32::try_from(idx).unwrap_or(NONE));
                }
                let name = match e.path.iter().rposition(|&c| c == b'/') {
                    Some(k) => e.path.get(k + 1..).unwrap_or_default(),
                    None => e.path,
                };
                if idx % STRIDE == 0 {
                    self.facts.starts.push(self.facts.names.len() as u64);
                }
                // A name longer than a u16 cannot come from a directory
                // listing (255 bytes at most); cut rather than misplace
                // every later name.
                let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
                self.facts
                    .names
                    .extend_from_slice(name.get(..usize::from(name_len)).unwrap_or(name));
                let mut flags = 0;
                if e.status == Status::Sent {
                    flags |= SENT;
                }
                if e.in_skipped_dir {
                    flags |= IN_SKIPPED;
                }
                self.facts.recs.push(Rec {
                    size,
                    name_len,
                    parent,
                    by: e
                        .verdict
                        .by
                        .and_then(|b| u32::try_from(b).ok())
                        .unwrap_or(NONE),
                    kind: e.kind,
                    flags,
                });
            }
            Event::Leave { sent, .. } => {
                if let Some(i) = self.dirs.pop() {
                    if *sent {
                        if let Some(r) = self.facts.recs.get_mut(i) {
                            r.flags |= SENT;
                        }
                    }
                }
            }
        }
    }

    pub fn finish(self, ctx: &Context) -> Facts {
        let mut facts = self.facts;
        facts.recs.shrink_to_fit();
        facts.names.shrink_to_fit();
        facts.starts.shrink_to_fit();
        // Sent or with something sent below: children come after their
        // parent, so one backward pass carries the flag up.
        for i in (0..facts.recs.len()).rev() {
            let Some(&r) = facts.recs.get(i) else {
                continue;
            };
            if r.flags & (SENT | HAS_SENT) != 0 {
                if let Some(rr) = facts.recs.get_mut(i) {
                    rr.flags |= HAS_SENT;
                }
                if let Some(p) = facts.recs.get_mut(r.parent as usize) {
                    p.flags |= HAS_SENT;
                }
            }
        }
        let pats = ctx.effective.patterns();
        if pats.len() >= 64 {
            let mut m: HashMap<Vec<u8>, Vec<u32>> =
                pats.iter().map(|p| (p.text.clone(), Vec::new())).collect();
            // A text that several lines repeat is tested once.
            let mut seen: HashSet<&[u8]> = HashSet::new();
            let first: Vec<bool> = pats.iter().map(|p| seen.insert(&p.text)).collect();
            facts.scan(|e| {
                for i in ctx.effective.direct_candidates(e.path) {
                    if !first.get(i).copied().unwrap_or(false) {
                        continue;
                    }
                    if let Some(p) = pats.get(i) {
                        if p.matches(e.path).unwrap_or(false) {
                            if let (Some(v), Ok(k)) = (m.get_mut(&p.text), u32::try_from(e.idx)) {
                                if v.last() != Some(&k) {
                                    v.push(k);
                                }
                            }
                        }
                    }
                }
            });
            facts.direct = Some(m);
        }
        facts
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

    fn name(&self, i: usize) -> &[u8] {
        let block = i / STRIDE;
        let first = block * STRIDE;
        let mut start = self.starts.get(block).copied().unwrap_or(0) as usize;
        for r in self.recs.get(first..i).unwrap_or_default() {
            start += usize::from(r.name_len);
        }
        let len = self.recs.get(i).map_or(0, |r| usize::from(r.name_len));
        self.names.get(start..start + len).unwrap_or_default()
    }

    fn view<'a>(&self, idx: usize, r: &Rec, path: &'a [u8], depth: usize) -> View<'a> {
        View {
            idx,
            path,
            kind: r.kind,
            size: r.size,
            sent: r.flags & SENT != 0,
            by: (r.by != NONE).then_some(r.by as usize),
            in_skipped: r.flags & IN_SKIPPED != 0,
            depth,
            has_sent: r.flags & HAS_SENT != 0,
        }
    }

    /// Every entry in walk order, with its path.
    pub fn scan(&self, mut f: impl FnMut(&View<'_>)) {
        let mut buf: Vec<u8> = Vec::new();
        // The directories of the current path: (index, path length).
        let mut open: Vec<(u32, usize)> = Vec::new();
        let mut name_at = 0usize;
        for (i, r) in self.recs.iter().enumerate() {
            // Walk order: the parent is a directory of the current path.
            if r.parent == NONE {
                open.clear();
            } else {
                while open.last().is_some_and(|d| d.0 != r.parent) {
                    open.pop();
                }
            }
            buf.truncate(open.last().map_or(0, |d| d.1));
            if !open.is_empty() {
                buf.push(b'/');
            }
            let end = name_at + usize::from(r.name_len);
            buf.extend_from_slice(self.names.get(name_at..end).unwrap_or_default());
            name_at = end;
            let depth = open.len() + 1;
            if r.kind == Kind::Dir {
                open.push((u32::try_from(i).unwrap_or(NONE), buf.len()));
            }
            f(&self.view(i, r, &buf, depth));
        }
    }

    /// The positions of entry `i` and its directories, innermost first.
    fn chain(&self, i: usize) -> Vec<usize> {
        let mut chain = vec![i];
        let mut p = self.recs.get(i).map_or(NONE, |r| r.parent);
        while let Some(pr) = self.recs.get(p as usize) {
            chain.push(p as usize);
            p = pr.parent;
        }
        chain
    }

    /// The path of the entry at position `i` of the walk.
    pub fn path(&self, i: usize) -> Vec<u8> {
        let mut path = Vec::new();
        for &k in self.chain(i).iter().rev() {
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(self.name(k));
        }
        path
    }

    /// The entry at position `i` of the walk, without its path.
    pub fn hit(&self, i: usize) -> Option<Hit> {
        let r = self.recs.get(i)?;
        let mut depth = 1;
        let mut p = r.parent;
        while let Some(pr) = self.recs.get(p as usize) {
            depth += 1;
            p = pr.parent;
        }
        Some(self.view(i, r, &[], depth).hit())
    }

    /// The entry at position `i` of the walk, with its path.
    pub fn ent(&self, i: usize) -> Option<Ent> {
        let r = self.recs.get(i)?;
        let path = self.path(i);
        Some(self.view(i, r, &path, 0).to_ent())
    }

    /// The patterns that decide some entry (indices in `ctx.effective`).
    pub fn deciders(&self) -> HashSet<usize> {
        self.recs
            .iter()
            .filter(|r| r.by != NONE)
            .map(|r| r.by as usize)
            .collect()
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

/// The entries `p` matches directly, in walk order (paths on demand:
/// [`Facts::path`]).
pub(crate) fn matching(facts: &Facts, p: &crate::matcher::Pattern) -> Vec<Hit> {
    let want = fixed_depth(p);
    let fits = |depth: usize| want.is_none_or(|d| depth == d);
    if let Some(direct) = facts.direct.as_ref().and_then(|m| m.get(&p.text)) {
        return direct
            .iter()
            .filter_map(|&k| facts.hit(k as usize))
            .filter(|e| fits(e.depth))
            .collect();
    }
    let mut out = Vec::new();
    facts.scan(|e| {
        if fits(e.depth) && p.matches(e.path).unwrap_or(false) {
            out.push(e.hit());
        }
    });
    out
}

/// The paths of the first `n` of `hits`, lossy UTF-8.
pub(crate) fn sample_paths(facts: &Facts, hits: &[Hit], n: usize) -> Vec<String> {
    hits.iter()
        .take(n)
        .map(|h| super::lossy(&facts.path(h.idx)))
        .collect()
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
/// The walk is re-decided over the entries already gathered (see
/// [`Redecider`]). When the line is a normal pattern before and after (so
/// which excluded directories the engine enters cannot change), only files
/// that the old or the new pattern matches (themselves or through a parent)
/// can change, and only those are re-decided.
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
        return Ok(Some(change(ctx, facts, m)));
    }
    let mut walk = Redecider::new(m, ctx.engine);
    // Whether the old or new pattern matches each directory of the current
    // path or one of its parents.
    let mut hit: Vec<bool> = Vec::new();
    let mut c = Change::default();
    facts.scan(|e| {
        hit.truncate(e.depth.saturating_sub(1));
        walk.at_depth(e.depth);
        let h = hit.last().copied().unwrap_or(false)
            || old
                .iter()
                .chain(&newp)
                .any(|p| p.matches(e.path).unwrap_or(false));
        if e.kind == Kind::Dir {
            hit.push(h);
            return;
        }
        if !h {
            return;
        }
        let now = walk.sends(e.path, e.depth);
        if e.sent && !now {
            c.removed.push((e.path.to_vec(), e.size));
        } else if !e.sent && now {
            c.added.push((e.path.to_vec(), e.size));
        }
    });
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

/// What changes when the context's engine walks with `m` instead: every
/// file re-decided over the entries already gathered.
pub(crate) fn change(ctx: &Context, facts: &Facts, m: Matcher) -> Change {
    let mut walk = Redecider::new(m, ctx.engine);
    let mut c = Change::default();
    facts.scan(|e| {
        walk.at_depth(e.depth);
        if e.kind == Kind::Dir {
            return;
        }
        let now = walk.sends(e.path, e.depth);
        if e.sent && !now {
            c.removed.push((e.path.to_vec(), e.size));
        } else if !e.sent && now {
            c.added.push((e.path.to_vec(), e.size));
        }
    });
    c.removed.sort();
    c.added.sort();
    c
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;
    use crate::context::Options;

    const PATTERNS: &[&str] = &[
        "a",
        "!a/b",
        "a/*",
        "!a/*/x",
        "c",
        "!c/keep",
        "**/b",
        "!b/keep/**",
        "x*",
        "!x",
        "*",
        "!a",
        "b/",
        "**/keep/x",
        "a/b/c",
        "!**/c",
        "!*/keep",
        "a/**",
        "*.txt",
        "a/*.txt",
        "**/*.txt",
        "keep/x",
        "b/keep",
        "a/b/**",
        "**",
    ];
    const NAMES: &[&str] = &["a", "b", "c", "x", "keep", "f.txt"];

    /// Writes a tree: paths of components picked from `NAMES`, each a
    /// directory or a file (sizes varied), where no file holds the name.
    fn build(root: &Path, spec: &[(Vec<usize>, bool)]) {
        for (comps, is_dir) in spec {
            let mut p = root.to_path_buf();
            for (i, &c) in comps.iter().enumerate() {
                p.push(NAMES[c]);
                let last = i + 1 == comps.len();
                match fs::symlink_metadata(&p) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => break,
                    Err(_) if last && !is_dir => fs::write(&p, vec![b'z'; i + c]).unwrap(),
                    Err(_) => fs::create_dir(&p).unwrap(),
                }
            }
        }
    }

    /// Every entry of an unpruned walk, in order, with its sent status.
    fn all(ctx: &Context) -> Vec<(Vec<u8>, bool, bool)> {
        let mut v = Vec::new();
        ctx.walk(WalkMode::All, |ev| {
            if let Event::Entry(e) = ev {
                v.push((
                    e.path.to_vec(),
                    e.kind == Kind::Dir,
                    e.status == Status::Sent,
                ));
            }
            Ok(())
        })
        .unwrap();
        v
    }

    /// The reference: what changes, from two walks of the file system.
    fn walked_change(ctx: &Context, m: &Matcher) -> (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>) {
        let before = sent_files_with(ctx, ctx.engine, &ctx.effective, None).unwrap();
        let after = sent_files_with(ctx, ctx.engine, m, None).unwrap();
        (
            before.difference(&after).cloned().collect(),
            after.difference(&before).cloned().collect(),
        )
    }

    #[test]
    fn paths_come_back_across_name_blocks() {
        // More entries than a few name blocks, names of varied lengths.
        let d = tempfile::tempdir().unwrap();
        for i in 0..7 {
            let dir = d.path().join(format!("d{}", "x".repeat(i * 5)));
            fs::create_dir(&dir).unwrap();
            for j in 0..40 {
                fs::write(dir.join(format!("f{j}{}", "y".repeat(j % 9))), "z").unwrap();
            }
        }
        let ctx = Context::open(&Options::new(d.path(), Engine::Classic)).unwrap();
        let facts = Facts::collect(&ctx).unwrap();
        let want: Vec<Vec<u8>> = all(&ctx).into_iter().map(|x| x.0).collect();
        assert!(want.len() > 4 * STRIDE);
        let mut seen = Vec::new();
        facts.scan(|e| {
            assert_eq!(facts.ent(e.idx).unwrap().path, e.path);
            seen.push(e.path.to_vec());
        });
        assert_eq!(seen, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

        /// With 64 patterns or more the direct matches come from an index
        /// (each distinct text tested once): the same as testing every
        /// pattern against every entry.
        #[test]
        fn direct_map_equals_scan(
            tree in prop::collection::vec(
                (prop::collection::vec(0..NAMES.len(), 1..=4), any::<bool>()),
                1..20,
            ),
            pats in prop::collection::vec(0..PATTERNS.len(), 64..90),
        ) {
            let d = tempfile::tempdir().unwrap();
            build(d.path(), &tree);
            let ignore: String = pats.iter().map(|&i| format!("{}\n", PATTERNS[i])).collect();
            fs::write(d.path().join(".dockerignore"), &ignore).unwrap();
            for engine in [Engine::Classic, Engine::Buildkit] {
                let ctx = Context::open(&Options::new(d.path(), engine)).unwrap();
                let facts = Facts::collect(&ctx).unwrap();
                prop_assert!(facts.direct.is_some());
                for p in ctx.effective.patterns() {
                    let got: Vec<usize> = matching(&facts, p).iter().map(|h| h.idx).collect();
                    let mut all = Vec::new();
                    facts.scan(|e| {
                        if p.matches(e.path).unwrap_or(false) {
                            all.push(e.idx);
                        }
                    });
                    prop_assert_eq!(&got, &all, "{:?} {:?}", p.display(), engine);
                }
            }
        }
    }

    #[test]
    fn a_record_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Rec>(), 24);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// The compact entries give back every path of the walk, in order;
        /// re-deciding them with another matcher or engine gives what a
        /// walk of the file system sends.
        #[test]
        fn compact_facts_and_redecided_walks_equal_real_walks(
            tree in prop::collection::vec(
                (prop::collection::vec(0..NAMES.len(), 1..=4), any::<bool>()),
                1..14,
            ),
            pats in prop::collection::vec(0..PATTERNS.len(), 1..6),
            line in 0usize..6,
            new in 0..PATTERNS.len(),
        ) {
            let d = tempfile::tempdir().unwrap();
            build(d.path(), &tree);
            fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
            let ignore: String = pats.iter().map(|&i| format!("{}\n", PATTERNS[i])).collect();
            fs::write(d.path().join(".dockerignore"), &ignore).unwrap();
            for engine in [Engine::Classic, Engine::Buildkit] {
                let ctx = Context::open(&Options::new(d.path(), engine)).unwrap();
                let facts = Facts::collect(&ctx).unwrap();
                // Paths, kinds and what is sent, in walk order.
                let mut seen = Vec::new();
                facts.scan(|e| {
                    seen.push((e.path.to_vec(), e.kind == Kind::Dir, e.sent));
                    let one = facts.ent(e.idx).unwrap();
                    assert_eq!(one.path, e.path);
                    assert_eq!(facts.hit(e.idx).unwrap().depth, e.path.split(|&c| c == b'/').count());
                    assert_eq!(e.depth, e.path.split(|&c| c == b'/').count());
                });
                let want = all(&ctx);
                let files = |v: &[(Vec<u8>, bool, bool)]| -> Vec<(Vec<u8>, bool)> {
                    v.iter().filter(|x| !x.1).map(|x| (x.0.clone(), x.2)).collect()
                };
                prop_assert_eq!(
                    seen.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
                    want.iter().map(|x| x.0.clone()).collect::<Vec<_>>()
                );
                prop_assert_eq!(files(&seen), files(&want));
                // Sent or with something sent below.
                facts.scan(|e| {
                    let mut below = e.path.to_vec();
                    below.push(b'/');
                    let expect = e.sent
                        || seen.iter().any(|x| x.2 && x.0.starts_with(&below));
                    assert_eq!(e.has_sent, expect, "{:?}", String::from_utf8_lossy(e.path));
                });
                // The other engine, re-decided.
                for other in [Engine::Classic, Engine::Buildkit] {
                    let om = effective_for(&ctx, other, ctx.matcher.clone());
                    let real = sent_files_with(&ctx, other, &om, None).unwrap();
                    let mut r = Redecider::new(om, other);
                    let mut got = HashSet::new();
                    facts.scan(|e| {
                        r.at_depth(e.depth);
                        if e.kind != Kind::Dir && r.sends(e.path, e.depth) {
                            got.insert(e.path.to_vec());
                        }
                    });
                    prop_assert_eq!(&got, &real, "{:?} as {:?}: {:?}", engine, other, ignore);
                }
                // A changed line (fast path for two normal patterns, else
                // the whole re-decision).
                let lines: Vec<usize> = ctx.ignore.as_ref().map_or(Vec::new(), |f| f.lines.iter().map(|l| l.line).collect());
                if let Some(&l) = lines.get(line % lines.len().max(1)) {
                    let text = PATTERNS[new].as_bytes();
                    if let (Some(m), Some(ch)) = (variant(&ctx, l, text), change_line(&ctx, &facts, l, text).unwrap()) {
                        let (removed, added) = walked_change(&ctx, &m);
                        let got_r: BTreeSet<Vec<u8>> = ch.removed.iter().map(|x| x.0.clone()).collect();
                        let got_a: BTreeSet<Vec<u8>> = ch.added.iter().map(|x| x.0.clone()).collect();
                        prop_assert_eq!(got_r, removed, "{:?} line {} -> {:?}: {:?}", engine, l, PATTERNS[new], ignore);
                        prop_assert_eq!(got_a, added, "{:?} line {} -> {:?}: {:?}", engine, l, PATTERNS[new], ignore);
                    }
                }
            }
        }
    }
}
