//! Docker's pattern matcher (SPEC §b): `moby/patternmatcher` re-stated on
//! byte paths, with the provenance of every decision.
//!
//! Three evaluation functions exist in Docker and all three are needed:
//! [`Matcher::matches_using_parent_results`] (both real walkers),
//! [`Matcher::matches_or_parent_matches`] (the CLI's context validation,
//! the daemon's Dockerfile removal) and [`Matcher::matches_deprecated`]
//! (the CLI's `TrimBuildFilesFromExcludes`, with its single-parent bug).

pub mod fpmatch;
pub mod goregex;
mod index;
mod pattern;

pub use pattern::Pattern;

use std::sync::{Arc, OnceLock};

use crate::gostr::parent_of;
use crate::ignorefile::{prepare_for_matcher, PatternLine};

/// `patternmatcher.New` refused a pattern (before anything is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewError {
    /// A line that is just `!`.
    #[error("line {line}: illegal exclusion pattern: \"!\"")]
    LoneBang {
        /// 1-based line.
        line: usize,
    },
    /// Go's `filepath.Match` rejects the pattern.
    #[error("line {line}: syntax error in pattern: {pattern}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// The pattern as Docker holds it.
        pattern: String,
    },
}

impl NewError {
    /// The line the error is on.
    pub fn line(&self) -> usize {
        match self {
            NewError::LoneBang { line } | NewError::Syntax { line, .. } => *line,
        }
    }
}

/// A pattern that cannot compile was reached while matching a path:
/// Docker's lazy `syntax error in pattern` (SPEC §b.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: syntax error in pattern: {pattern} (reached while matching {path})")]
pub struct MatchError {
    /// Index of the pattern in the matcher.
    pub index: usize,
    /// 1-based line of the pattern.
    pub line: usize,
    /// The pattern, `!` included.
    pub pattern: String,
    /// The path being matched (lossy UTF-8).
    pub path: String,
}

/// Per-pattern "matched the parent" bits that Docker's walkers carry from
/// a directory to its children (`patternmatcher.MatchInfo`).
///
/// Go holds one bool per pattern; few patterns ever match a given path, so
/// only the indices of the set bits are kept (no allocation at all when
/// none is set, the usual case even with a long ignore file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    /// Go's `len(parentMatched) != 0`: a result of a matcher with at least
    /// one pattern (the zero value means "no parent results").
    present: bool,
    /// The indices of the set bits, ascending.
    set: Vec<u32>,
}

impl MatchInfo {
    fn with_len(n: usize) -> MatchInfo {
        MatchInfo {
            present: n > 0,
            set: Vec::new(),
        }
    }
    fn get(&self, i: usize) -> bool {
        u32::try_from(i).is_ok_and(|i| self.set.binary_search(&i).is_ok())
    }
    fn set(&mut self, i: usize) {
        let Ok(i) = u32::try_from(i) else { return };
        match self.set.last() {
            // The evaluation goes in ascending order: an append.
            Some(&last) if last >= i => {
                if let Err(k) = self.set.binary_search(&i) {
                    self.set.insert(k, i);
                }
            }
            _ => self.set.push(i),
        }
    }
    fn is_empty(&self) -> bool {
        !self.present
    }
    /// The indices of the set bits, ascending.
    fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.set.iter().copied()
    }
}

/// The outcome of matching one path: excluded or not, and which pattern
/// decided (the last one that matched and was applied; `None` when no
/// pattern matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Docker's `matched`: the path is excluded.
    pub excluded: bool,
    /// Index of the deciding pattern.
    pub by: Option<usize>,
}

/// A pattern's text without a trailing `/**` or `/*` (as BuildKit strips
/// it before its prefix test).
pub(crate) fn without_trailing_glob(p: &[u8]) -> &[u8] {
    let p = p.strip_suffix(b"/**").unwrap_or(p);
    p.strip_suffix(b"/*").unwrap_or(p)
}

/// A compiled list of Docker patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// The stored patterns, shared by clones (the context keeps the file's
    /// matcher and the engine's, which is the same until the CLI appends
    /// to it) and by the matchers [`Matcher::without`] makes.
    base: Arc<Vec<Pattern>>,
    /// `Some(k)`: this matcher's patterns are `base` without the one at
    /// `k` ([`Matcher::without`]: the report makes one per deciding line of
    /// a file that may have 10,000, and keeps them all during its walk).
    /// Pattern `i` of the matcher is `base[i]` before `k`, `base[i + 1]`
    /// from it on.
    removed: Option<usize>,
    /// With `removed`, the matcher's patterns as one slice, made only if
    /// [`Matcher::patterns`] is asked for.
    view: OnceLock<Vec<Pattern>>,
    exclusions: bool,
    /// Indices of the exception (`!`) patterns.
    exceptions: Vec<usize>,
    /// Built on first use for long pattern lists, over `base` (with
    /// `removed`, its indices are mapped to the matcher's); shared by
    /// clones and [`Matcher::without`], replaced when `base` changes.
    index: Arc<OnceLock<index::Index>>,
    /// For [`Matcher::prefix_reopens`] on long lists: one lazily built
    /// table per (exceptions, strip) pair.
    reopen: Arc<[OnceLock<index::Prefixes>; 4]>,
}

impl Matcher {
    /// `patternmatcher.New` over the lines of an ignore file: the lone-`!`
    /// and `filepath.Match` syntax checks happen here, in order.
    pub fn new(lines: &[PatternLine]) -> Result<Matcher, NewError> {
        let mut m = Matcher::default();
        Arc::make_mut(&mut m.base).reserve_exact(lines.len());
        for l in lines {
            m.push(l.line, &l.pattern)?;
        }
        Ok(m)
    }

    /// Appends one pattern as `New` reads it (`!` prefix for exceptions).
    pub fn push(&mut self, line: usize, raw: &[u8]) -> Result<(), NewError> {
        let Some((exclusion, text)) = prepare_for_matcher(raw) else {
            return Ok(());
        };
        if exclusion && text.is_empty() {
            return Err(NewError::LoneBang { line });
        }
        if fpmatch::is_bad_pattern(&text) {
            let pattern = String::from_utf8_lossy(&text).into_owned();
            return Err(NewError::Syntax { line, pattern });
        }
        self.materialize();
        self.exclusions |= exclusion;
        if exclusion {
            self.exceptions.push(self.len());
        }
        Arc::make_mut(&mut self.base).push(Pattern::new(line, text, exclusion));
        self.reset_lazy();
        Ok(())
    }

    /// Stores the matcher's own patterns in `base` (no `removed`).
    fn materialize(&mut self) {
        if self.removed.is_some() {
            self.base = Arc::new(self.iter().cloned().collect());
            self.removed = None;
            self.view = OnceLock::new();
            self.index = Default::default();
        }
    }

    /// The number of patterns.
    fn len(&self) -> usize {
        self.base.len() - usize::from(self.removed.is_some())
    }

    /// Pattern `i` of the matcher.
    fn pattern(&self, i: usize) -> Option<&Pattern> {
        match self.removed {
            Some(k) if i >= k => self.base.get(i + 1),
            _ => self.base.get(i),
        }
    }

    /// The matcher's patterns, in order.
    fn iter(&self) -> impl Iterator<Item = &Pattern> + '_ {
        let skip = self.removed.unwrap_or(usize::MAX);
        self.base
            .iter()
            .enumerate()
            .filter(move |&(j, _)| j != skip)
            .map(|(_, p)| p)
    }

    /// `removed`, as the index's candidates take it.
    fn skip(&self) -> Option<u32> {
        self.removed.and_then(|k| u32::try_from(k).ok())
    }

    /// Forgets the tables built for the previous patterns (in place when
    /// no clone shares them: a long file is read one push at a time).
    fn reset_lazy(&mut self) {
        match Arc::get_mut(&mut self.index) {
            Some(ix) => {
                ix.take();
            }
            None => self.index = Default::default(),
        }
        match Arc::get_mut(&mut self.reopen) {
            Some(r) => r.iter_mut().for_each(|t| {
                t.take();
            }),
            None => self.reopen = Default::default(),
        }
    }

    /// The same matcher without the pattern at `index` (what removing
    /// that line from the ignore file gives).
    ///
    /// The patterns and the index are shared with this matcher (neither
    /// is copied nor rebuilt: both cost as much as reading the file).
    pub fn without(&self, index: usize) -> Matcher {
        let mut m = self.clone();
        m.materialize();
        if index >= m.len() || u32::try_from(index).is_err() {
            return m;
        }
        m.removed = Some(index);
        m.view = OnceLock::new();
        m.reopen = Default::default();
        m.exceptions = m
            .iter()
            .enumerate()
            .filter(|(_, p)| p.exclusion)
            .map(|(i, _)| i)
            .collect();
        m.exclusions = !m.exceptions.is_empty();
        m
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        match self.removed {
            None => &self.base,
            Some(_) => self.view.get_or_init(|| self.iter().cloned().collect()),
        }
    }

    /// Whether any exception (`!`) pattern exists.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// The exception (`!`) patterns, or the others, in order.
    pub fn patterns_of(&self, exceptions: bool) -> Box<dyn Iterator<Item = &Pattern> + '_> {
        if exceptions {
            // Usually few, even in a long file: kept apart.
            Box::new(self.exceptions.iter().filter_map(|&i| self.pattern(i)))
        } else {
            Box::new(self.iter().filter(|p| !p.exclusion))
        }
    }

    /// Whether some pattern of this matcher (exceptions when `exceptions`,
    /// else the others) has text + `/` starting with `dir/`; with `strip`,
    /// a trailing `/**` or `/*` is removed from the text first (BuildKit).
    /// The walkers ask this for every directory they may skip.
    pub(crate) fn prefix_reopens(&self, dir: &[u8], exceptions: bool, strip: bool) -> bool {
        let on_the_way = |t: &[u8]| {
            let t = if strip { without_trailing_glob(t) } else { t };
            // t[dir.len()] only when t.len() > dir.len().
            t.len() >= dir.len()
                && t.starts_with(dir)
                && (t.len() == dir.len() || t[dir.len()] == b'/')
        };
        let count = if exceptions {
            self.exceptions.len()
        } else {
            self.len() - self.exceptions.len()
        };
        let slot = usize::from(exceptions) * 2 + usize::from(strip);
        let table = match self.reopen.get(slot) {
            Some(t) if count >= index::MIN_PATTERNS => t,
            _ => return self.patterns_of(exceptions).any(|p| on_the_way(&p.text)),
        };
        let table = table.get_or_init(|| {
            index::Prefixes::new(
                self.iter()
                    .enumerate()
                    .filter(|(_, p)| p.exclusion == exceptions)
                    .map(|(i, p)| {
                        let t = if strip {
                            without_trailing_glob(&p.text)
                        } else {
                            &p.text[..]
                        };
                        (i as u32, t)
                    }),
            )
        });
        table.candidates(dir).any(|i| {
            self.pattern(i as usize)
                .is_some_and(|p| p.exclusion == exceptions && on_the_way(&p.text))
        })
    }

    /// The error for pattern `p`, the matcher's pattern `index`.
    fn err(&self, index: usize, p: &Pattern, path: &[u8]) -> MatchError {
        MatchError {
            index,
            line: p.line,
            pattern: p.display(),
            path: String::from_utf8_lossy(path).into_owned(),
        }
    }

    /// Tests pattern `p`, the matcher's pattern `i`.
    fn test(&self, i: usize, p: &Pattern, path: &[u8]) -> Result<bool, MatchError> {
        p.matches(path).map_err(|_| self.err(i, p, path))
    }

    /// Go's `MatchesUsingParentResults`: `parent` is the info of the
    /// closest walked parent directory (`None` at the top level, where Go
    /// passes the zero `MatchInfo`).
    pub fn matches_using_parent_results(
        &self,
        path: &[u8],
        parent: Option<&MatchInfo>,
    ) -> Result<(Verdict, MatchInfo), MatchError> {
        let parent = parent.filter(|p| !p.is_empty());
        let mut info = MatchInfo::with_len(self.len());
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        // A long list: only the patterns that can match this path (or
        // matched its parent) are evaluated; the others would change
        // nothing. Without parent results, the ancestors are tested too:
        // their candidates are added.
        if let Some(ix) = self.index() {
            let candidates = match parent {
                Some(p) => ix.candidates(path, p.ones(), self.skip()),
                None => ix.candidates_with_ancestors(path, self.skip()),
            };
            self.evaluate(
                path,
                parent,
                candidates.iter().map(|&i| i as usize),
                &mut v,
                &mut info,
            )?;
        } else {
            self.evaluate(path, parent, 0..self.len(), &mut v, &mut info)?;
        }
        Ok((v, info))
    }

    /// The candidate index, for long pattern lists.
    fn index(&self) -> Option<&index::Index> {
        (self.len() >= index::MIN_PATTERNS)
            .then(|| self.index.get_or_init(|| index::Index::new(&self.base)))
    }

    /// The patterns that may match `path` itself (not counting its
    /// ancestors), ascending: every pattern for short lists; for long ones
    /// the index rules most out (a pattern left out never matches `path`).
    pub fn direct_candidates(&self, path: &[u8]) -> Vec<usize> {
        match self.index() {
            Some(ix) => ix
                .candidates(path, std::iter::empty(), self.skip())
                .into_iter()
                .map(|i| i as usize)
                .collect(),
            None => (0..self.len()).collect(),
        }
    }

    /// The patterns that may match `path` or an ancestor of it, ascending:
    /// all of them for short lists.
    fn candidates_with_ancestors(&self, path: &[u8]) -> Vec<usize> {
        match self.index() {
            Some(ix) => ix
                .candidates_with_ancestors(path, self.skip())
                .into_iter()
                .map(|i| i as usize)
                .collect(),
            None => (0..self.len()).collect(),
        }
    }

    /// Docker's evaluation loop over the patterns `indices` (ascending).
    fn evaluate(
        &self,
        path: &[u8],
        parent: Option<&MatchInfo>,
        indices: impl Iterator<Item = usize>,
        v: &mut Verdict,
        info: &mut MatchInfo,
    ) -> Result<(), MatchError> {
        for i in indices {
            let Some(pattern) = self.pattern(i) else {
                continue;
            };
            let mut matched = parent.is_some_and(|p| p.get(i));
            if !matched {
                if pattern.exclusion != v.excluded {
                    continue;
                }
                matched = self.test(i, pattern, path)?;
                if !matched && parent.is_none() {
                    matched = any_parent_matches(pattern, path);
                }
            }
            if matched {
                info.set(i);
                v.excluded = !pattern.exclusion;
                v.by = Some(i);
            }
        }
        Ok(())
    }

    /// Go's `MatchesOrParentMatches`.
    pub fn matches_or_parent_matches(&self, path: &[u8]) -> Result<Verdict, MatchError> {
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        for i in self.candidates_with_ancestors(path) {
            let Some(pattern) = self.pattern(i) else {
                continue;
            };
            if pattern.exclusion != v.excluded {
                continue;
            }
            let matched = self.test(i, pattern, path)? || any_parent_matches(pattern, path);
            if matched {
                v.excluded = !pattern.exclusion;
                v.by = Some(i);
            }
        }
        Ok(v)
    }

    /// Go's deprecated `Matches`: the path, and only the ancestor with as
    /// many components as the pattern (SPEC §b.4).
    pub fn matches_deprecated(&self, path: &[u8]) -> Result<bool, MatchError> {
        let parent = parent_of(path);
        let parent_dirs: Vec<&[u8]> = if parent == b"." {
            Vec::new()
        } else {
            parent.split(|&c| c == b'/').collect()
        };
        let mut excluded = false;
        for i in self.candidates_with_ancestors(path) {
            let Some(pattern) = self.pattern(i) else {
                continue;
            };
            if pattern.exclusion != excluded {
                continue;
            }
            let mut matched = self.test(i, pattern, path)?;
            if !matched && !parent_dirs.is_empty() && pattern.dirs <= parent_dirs.len() {
                // pattern.dirs <= parent_dirs.len(): checked just above.
                let prefix = parent_dirs[..pattern.dirs].join(&b'/');
                matched = pattern.matches(&prefix).unwrap_or(false);
            }
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        Ok(excluded)
    }

    /// Every pattern that matches `path` or one of its ancestors, evaluated
    /// without Docker's skipping: for `explain`. Bad patterns are left out.
    pub fn all_matching(&self, path: &[u8]) -> Vec<usize> {
        self.candidates_with_ancestors(path)
            .into_iter()
            .filter(|&i| match self.pattern(i) {
                Some(p) => p.matches(path).unwrap_or(false) || any_parent_matches(p, path),
                None => false,
            })
            .collect()
    }
}

/// Whether `p` matches a proper ancestor of `path` (errors are ignored
/// here, as Go ignores them: the path itself was tested first).
fn any_parent_matches(p: &Pattern, path: &[u8]) -> bool {
    let parent = parent_of(path);
    if parent == b"." {
        return false;
    }
    parent
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'/')
        .map(|(k, _)| &parent[..k]) // k is a position in parent
        .chain(std::iter::once(parent))
        .any(|prefix| p.matches(prefix).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignorefile::parse;
    use proptest::prelude::*;

    /// Pattern pool for the index property test: every kind the index
    /// sorts (exact, suffix, prefix, extension regexps, the rest),
    /// exceptions, and Docker's live regexp syntax.
    const POOL: &[&str] = &[
        "a", "a/b", "b/c/d", "**/b", "**/c/d", "**/x.y", "a/**", "b/c/**", "ab**", "**b", "*.y",
        "a/*.y", "**/*.y", "*.tar.gz", "x?y", "[ab]/c", "[^a]/b", "*.y|*.z", "a{2}", "**", "*",
        "**/*", "a/**/d", "!a/b", "!**/c", "!*.y", "!b/c/**", "!x.y", "c", "d/x.y", "a\\.y",
        "**/a/**", "b*", "a/b/c", "[z-a].y", "!*.[z-a]",
    ];
    const NAMES: &[&str] = &["a", "b", "c", "d", "x.y", "ab", "x.z", "f.tar.gz", "aa"];

    fn linear(
        m: &Matcher,
        path: &[u8],
        parent: Option<&MatchInfo>,
    ) -> Result<(Verdict, MatchInfo), MatchError> {
        let parent = parent.filter(|p| !p.is_empty());
        let mut info = MatchInfo::with_len(m.len());
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        m.evaluate(path, parent, 0..m.len(), &mut v, &mut info)?;
        Ok((v, info))
    }

    /// `matches_or_parent_matches` testing every pattern.
    fn linear_or_parent(m: &Matcher, path: &[u8]) -> Result<Verdict, MatchError> {
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        for (i, pattern) in m.iter().enumerate() {
            if pattern.exclusion != v.excluded {
                continue;
            }
            if m.test(i, pattern, path)? || any_parent_matches(pattern, path) {
                v.excluded = !pattern.exclusion;
                v.by = Some(i);
            }
        }
        Ok(v)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// With an index (long lists) the verdicts and match bits are the
        /// ones of testing every pattern, along every path of a tree.
        #[test]
        fn index_agrees_with_testing_every_pattern(
            picks in proptest::collection::vec(0..POOL.len(), index::MIN_PATTERNS..60),
            paths in proptest::collection::vec(proptest::collection::vec(0..NAMES.len(), 1..5), 1..20),
        ) {
            let text: String = picks.iter().map(|&i| format!("{}\n", POOL[i])).collect();
            let m = Matcher::new(&parse(text.as_bytes()).unwrap()).unwrap();
            prop_assume!(m.len() >= index::MIN_PATTERNS);
            for comps in &paths {
                // Walk down the path with parent infos, as the walker does.
                let mut parent: Option<MatchInfo> = None;
                let mut path = Vec::new();
                for &c in comps {
                    if !path.is_empty() {
                        path.push(b'/');
                    }
                    path.extend_from_slice(NAMES[c].as_bytes());
                    let at = String::from_utf8_lossy(&path).into_owned();
                    let got = m.matches_using_parent_results(&path, parent.as_ref());
                    prop_assert_eq!(&got, &linear(&m, &path, parent.as_ref()), "{} in {:?}", at, text);
                    // Without parent results (ancestors tested directly).
                    prop_assert_eq!(
                        m.matches_using_parent_results(&path, None),
                        linear(&m, &path, None),
                        "{} (no parent) in {:?}", at, text
                    );
                    prop_assert_eq!(m.matches_or_parent_matches(&path), linear_or_parent(&m, &path), "{}", at);
                    match got {
                        Ok((_, info)) => parent = Some(info),
                        Err(_) => break,
                    }
                }
            }
        }

        /// A matcher made by `without` from one whose index is built (it
        /// shares that index) gives what testing every pattern gives, and
        /// what a matcher read without that line gives.
        #[test]
        fn without_shares_the_index(
            picks in proptest::collection::vec(0..POOL.len(), index::MIN_PATTERNS + 1..60),
            drop in 0usize..60,
            paths in proptest::collection::vec(proptest::collection::vec(0..NAMES.len(), 1..5), 1..20),
        ) {
            let text: String = picks.iter().map(|&i| format!("{}\n", POOL[i])).collect();
            let m = Matcher::new(&parse(text.as_bytes()).unwrap()).unwrap();
            prop_assume!(m.len() > index::MIN_PATTERNS);
            let drop = drop % m.len();
            let lines: Vec<&str> = text.lines().enumerate().filter(|&(i, _)| i != drop).map(|(_, l)| l).collect();
            let fresh = Matcher::new(&parse(lines.join("\n").as_bytes()).unwrap()).unwrap();
            // A matcher whose index is not built yet: its `without` builds
            // the shared index (over every pattern) on first use.
            let m0 = Matcher::new(&parse(text.as_bytes()).unwrap()).unwrap();
            let w0 = m0.without(drop);
            let _ = m.matches_using_parent_results(b"a", None);
            prop_assert!(m.index.get().is_some());
            let w = m.without(drop);
            prop_assert_eq!(w.removed, Some(drop));
            prop_assert!(Arc::ptr_eq(&w.index, &m.index) && Arc::ptr_eq(&w.base, &m.base));
            prop_assert_eq!(w.patterns().len(), fresh.patterns().len());
            for (a, b) in w.patterns().iter().zip(fresh.patterns()) {
                prop_assert_eq!(&a.text, &b.text);
                prop_assert_eq!(a.exclusion, b.exclusion);
            }
            prop_assert_eq!(
                w.patterns_of(true).map(|p| &p.text).collect::<Vec<_>>(),
                fresh.patterns_of(true).map(|p| &p.text).collect::<Vec<_>>()
            );
            prop_assert_eq!(w.has_exclusions(), fresh.has_exclusions());
            for d in [&b"a"[..], b"b", b"b/c", b"a/b"] {
                for e in [false, true] {
                    for st in [false, true] {
                        prop_assert_eq!(w.prefix_reopens(d, e, st), fresh.prefix_reopens(d, e, st));
                    }
                }
            }
            for comps in &paths {
                let mut parent: Option<MatchInfo> = None;
                let mut path = Vec::new();
                for &c in comps {
                    if !path.is_empty() {
                        path.push(b'/');
                    }
                    path.extend_from_slice(NAMES[c].as_bytes());
                    let at = String::from_utf8_lossy(&path).into_owned();
                    let got = w.matches_using_parent_results(&path, parent.as_ref());
                    prop_assert_eq!(&got, &linear(&w, &path, parent.as_ref()), "{} in {:?} without {}", at, text, drop);
                    // (The fresh file numbers its lines differently.)
                    let strip = |r: &Result<(Verdict, MatchInfo), MatchError>| r.clone().map_err(|e| (e.index, e.pattern));
                    prop_assert_eq!(strip(&got), strip(&fresh.matches_using_parent_results(&path, parent.as_ref())), "{}", at);
                    prop_assert_eq!(w.matches_using_parent_results(&path, None), linear(&w, &path, None), "{} (no parent)", at);
                    prop_assert_eq!(w.matches_or_parent_matches(&path), linear_or_parent(&w, &path), "{}", at);
                    prop_assert_eq!(w.all_matching(&path), fresh.all_matching(&path), "{}", at);
                    prop_assert_eq!(w0.matches_using_parent_results(&path, None), linear(&w0, &path, None), "{} (w0)", at);
                    prop_assert_eq!(m0.matches_using_parent_results(&path, None), linear(&m0, &path, None), "{} (m0)", at);
                    match got {
                        Ok((_, info)) => parent = Some(info),
                        Err(_) => break,
                    }
                }
            }
        }

        /// prefix_reopens with its table (long lists) answers as the scan
        /// of every pattern does.
        #[test]
        fn prefix_reopens_agrees(
            texts in proptest::collection::vec(proptest::collection::vec(0..NAMES.len(), 1..4), 0..60),
            bangs in proptest::collection::vec(proptest::bool::ANY, 60),
            globs in proptest::collection::vec(0u8..3, 60),
            dirs in proptest::collection::vec(proptest::collection::vec(0..NAMES.len(), 0..4), 1..20),
        ) {
            let mut m = Matcher::default();
            for (k, comps) in texts.iter().enumerate() {
                let mut t = if bangs[k] { "!".to_string() } else { String::new() };
                t.push_str(&comps.iter().map(|&c| NAMES[c]).collect::<Vec<_>>().join("/"));
                t.push_str(["", "/**", "/*"][usize::from(globs[k])]);
                m.push(k + 1, t.as_bytes()).unwrap();
            }
            for comps in &dirs {
                let dir = comps.iter().map(|&c| NAMES[c]).collect::<Vec<_>>().join("/");
                for exceptions in [false, true] {
                    for strip in [false, true] {
                        let scan = m.patterns_of(exceptions).any(|p| {
                            let t = if strip { without_trailing_glob(&p.text) } else { &p.text[..] };
                            t == dir.as_bytes() || (t.starts_with(dir.as_bytes()) && t.get(dir.len()) == Some(&b'/'))
                        });
                        prop_assert_eq!(m.prefix_reopens(dir.as_bytes(), exceptions, strip), scan, "{} {} {}", dir, exceptions, strip);
                    }
                }
            }
        }
    }

    #[test]
    fn match_info_is_sparse() {
        let mut i = MatchInfo::with_len(10_000);
        assert!(!i.is_empty());
        assert!(MatchInfo::with_len(0).is_empty());
        assert!(MatchInfo::default().is_empty());
        i.set(9_999);
        i.set(3);
        i.set(700);
        i.set(3);
        assert_eq!(i.ones().collect::<Vec<_>>(), [3, 700, 9_999]);
        assert!(i.get(700) && i.get(3) && !i.get(4) && !i.get(usize::MAX));
    }

    #[test]
    fn push_after_sharing_does_not_reuse_the_index() {
        // A clone shares the (not yet built) index; after a push to one of
        // them, each must see an index for its own patterns.
        let text: String = (0..30).map(|i| format!("x{i}\n")).collect();
        let a = m(&text);
        let mut b = a.clone();
        b.push(0, b"!x3").unwrap();
        b.push(0, b"y").unwrap();
        assert!(a.matches_or_parent_matches(b"x3").unwrap().excluded);
        assert!(!a.matches_or_parent_matches(b"y").unwrap().excluded);
        assert!(!b.matches_or_parent_matches(b"x3").unwrap().excluded);
        assert!(b.matches_or_parent_matches(b"y").unwrap().excluded);
        // Without a pattern of a matcher whose index is built, then pushed.
        let w = a.without(3);
        assert_eq!(w.removed, Some(3));
        assert!(!w.matches_or_parent_matches(b"x3").unwrap().excluded);
        assert!(w.matches_or_parent_matches(b"x4").unwrap().excluded);
        let mut w2 = w.clone();
        w2.push(0, b"x3").unwrap();
        assert!(w2.removed.is_none());
        assert_eq!(w2.patterns().len(), 30);
        assert_eq!(w2.patterns()[3].text, b"x4");
        assert!(w2.matches_or_parent_matches(b"x3").unwrap().excluded);
        assert!(w2.matches_or_parent_matches(b"x29").unwrap().excluded);
        assert!(!w.matches_or_parent_matches(b"x3").unwrap().excluded);
    }

    fn m(file: &str) -> Matcher {
        Matcher::new(&parse(file.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn new_errors() {
        let e = |f: &str| Matcher::new(&parse(f.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(e("a\n!"), NewError::LoneBang { line: 2 });
        assert_eq!(e("a\n!/"), NewError::LoneBang { line: 2 });
        assert!(matches!(e("x\n\n[a-"), NewError::Syntax { line: 3, .. }));
    }

    #[test]
    fn parent_quirk() {
        // a/f + !a: the walker excludes a/f, MatchesOrParentMatches does not.
        let m = m("a/f\n!a");
        let (va, ia) = m.matches_using_parent_results(b"a", None).unwrap();
        assert!(!va.excluded);
        let (vf, _) = m.matches_using_parent_results(b"a/f", Some(&ia)).unwrap();
        assert!(vf.excluded);
        assert!(!m.matches_or_parent_matches(b"a/f").unwrap().excluded);
    }

    #[test]
    fn deprecated_matches_misses_deep_double_star_parents() {
        let m = m("**/docker");
        assert!(
            m.matches_or_parent_matches(b"docker/Dockerfile")
                .unwrap()
                .excluded
        );
        assert!(!m.matches_deprecated(b"docker/Dockerfile").unwrap());
        let m2 = self::m("docker");
        assert!(m2.matches_deprecated(b"docker/Dockerfile").unwrap());
    }

    #[test]
    fn lazy_errors_only_when_reached() {
        let m = m("a\n![z-a]");
        assert!(!m.matches_or_parent_matches(b"b").unwrap().excluded);
        assert!(m.matches_or_parent_matches(b"a").is_err());
    }

    #[test]
    fn last_match_wins_with_provenance() {
        let m = m("*.md\n!README.md");
        let v = m.matches_or_parent_matches(b"README.md").unwrap();
        assert_eq!(
            v,
            Verdict {
                excluded: false,
                by: Some(1)
            }
        );
        let v = m.matches_or_parent_matches(b"x.md").unwrap();
        assert_eq!(
            v,
            Verdict {
                excluded: true,
                by: Some(0)
            }
        );
    }
}
