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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    bits: Vec<u64>,
}

impl MatchInfo {
    fn with_len(n: usize) -> MatchInfo {
        MatchInfo {
            bits: vec![0; n.div_ceil(64)],
        }
    }
    fn get(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn set(&mut self, i: usize) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }
    /// The indices of the set bits, ascending.
    fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let b = word.trailing_zeros();
                word &= word - 1;
                Some(w as u32 * 64 + b)
            })
        })
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

/// A compiled list of Docker patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
    /// Indices of the exception (`!`) patterns.
    exceptions: Vec<usize>,
    /// Built on first use for long pattern lists; shared by clones (same
    /// patterns), replaced when the patterns change.
    index: std::sync::Arc<std::sync::OnceLock<index::Index>>,
}

impl Matcher {
    /// `patternmatcher.New` over the lines of an ignore file: the lone-`!`
    /// and `filepath.Match` syntax checks happen here, in order.
    pub fn new(lines: &[PatternLine]) -> Result<Matcher, NewError> {
        let mut m = Matcher::default();
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
        self.exclusions |= exclusion;
        if exclusion {
            self.exceptions.push(self.patterns.len());
        }
        self.patterns.push(Pattern::new(line, text, exclusion));
        self.index = Default::default();
        Ok(())
    }

    /// The same matcher without the pattern at `index` (what removing
    /// that line from the ignore file gives).
    pub fn without(&self, index: usize) -> Matcher {
        let mut m = self.clone();
        if index < m.patterns.len() {
            m.patterns.remove(index);
        }
        m.index = Default::default();
        m.exceptions = (0..m.patterns.len())
            .filter(|&i| m.patterns[i].exclusion) // i in 0..len
            .collect();
        m.exclusions = !m.exceptions.is_empty();
        m
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any exception (`!`) pattern exists.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// The exception (`!`) patterns, or the others, in order.
    pub fn patterns_of(&self, exceptions: bool) -> Box<dyn Iterator<Item = &Pattern> + '_> {
        if exceptions {
            // Usually few, even in a long file: kept apart.
            Box::new(self.exceptions.iter().filter_map(|&i| self.patterns.get(i)))
        } else {
            Box::new(self.patterns.iter().filter(|p| !p.exclusion))
        }
    }

    // err, test and any_parent_matches take an index that every caller has
    // already looked up with patterns.get(i) (or enumerated), so it is < len.
    fn err(&self, index: usize, path: &[u8]) -> MatchError {
        let p = &self.patterns[index];
        MatchError {
            index,
            line: p.line,
            pattern: p.display(),
            path: String::from_utf8_lossy(path).into_owned(),
        }
    }

    fn test(&self, i: usize, path: &[u8]) -> Result<bool, MatchError> {
        self.patterns[i]
            .matches(path)
            .map_err(|_| self.err(i, path))
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
        let mut info = MatchInfo::with_len(self.patterns.len());
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
                Some(p) => ix.candidates(path, p.ones()),
                None => ix.candidates_with_ancestors(path),
            };
            self.evaluate(
                path,
                parent,
                candidates.iter().map(|&i| i as usize),
                &mut v,
                &mut info,
            )?;
        } else {
            self.evaluate(path, parent, 0..self.patterns.len(), &mut v, &mut info)?;
        }
        Ok((v, info))
    }

    /// The candidate index, for long pattern lists.
    fn index(&self) -> Option<&index::Index> {
        (self.patterns.len() >= index::MIN_PATTERNS)
            .then(|| self.index.get_or_init(|| index::Index::new(&self.patterns)))
    }

    /// The patterns that may match `path` itself (not counting its
    /// ancestors), ascending: every pattern for short lists; for long ones
    /// the index rules most out (a pattern left out never matches `path`).
    pub fn direct_candidates(&self, path: &[u8]) -> Vec<usize> {
        match self.index() {
            Some(ix) => ix
                .candidates(path, std::iter::empty())
                .into_iter()
                .map(|i| i as usize)
                .collect(),
            None => (0..self.patterns.len()).collect(),
        }
    }

    /// The patterns that may match `path` or an ancestor of it, ascending:
    /// all of them for short lists.
    fn candidates_with_ancestors(&self, path: &[u8]) -> Vec<usize> {
        match self.index() {
            Some(ix) => ix
                .candidates_with_ancestors(path)
                .into_iter()
                .map(|i| i as usize)
                .collect(),
            None => (0..self.patterns.len()).collect(),
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
            let Some(pattern) = self.patterns.get(i) else {
                continue;
            };
            let mut matched = parent.is_some_and(|p| p.get(i));
            if !matched {
                if pattern.exclusion != v.excluded {
                    continue;
                }
                matched = self.test(i, path)?;
                if !matched && parent.is_none() {
                    matched = self.any_parent_matches(i, path);
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

    /// Whether pattern `i` matches a proper ancestor of `path` (errors are
    /// ignored here, as Go ignores them: the path itself was tested first).
    fn any_parent_matches(&self, i: usize, path: &[u8]) -> bool {
        let parent = parent_of(path);
        if parent == b"." {
            return false;
        }
        let p = &self.patterns[i]; // i < len: see err
        parent
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'/')
            .map(|(k, _)| &parent[..k]) // k is a position in parent
            .chain(std::iter::once(parent))
            .any(|prefix| p.matches(prefix).unwrap_or(false))
    }

    /// Go's `MatchesOrParentMatches`.
    pub fn matches_or_parent_matches(&self, path: &[u8]) -> Result<Verdict, MatchError> {
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        for i in self.candidates_with_ancestors(path) {
            let Some(pattern) = self.patterns.get(i) else {
                continue;
            };
            if pattern.exclusion != v.excluded {
                continue;
            }
            let matched = self.test(i, path)? || self.any_parent_matches(i, path);
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
            let Some(pattern) = self.patterns.get(i) else {
                continue;
            };
            if pattern.exclusion != excluded {
                continue;
            }
            let mut matched = self.test(i, path)?;
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
            .filter(|&i| match self.patterns.get(i) {
                Some(p) => p.matches(path).unwrap_or(false) || self.any_parent_matches(i, path),
                None => false,
            })
            .collect()
    }
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
        let mut info = MatchInfo::with_len(m.patterns.len());
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        m.evaluate(path, parent, 0..m.patterns.len(), &mut v, &mut info)?;
        Ok((v, info))
    }

    /// `matches_or_parent_matches` testing every pattern.
    fn linear_or_parent(m: &Matcher, path: &[u8]) -> Result<Verdict, MatchError> {
        let mut v = Verdict {
            excluded: false,
            by: None,
        };
        for (i, pattern) in m.patterns.iter().enumerate() {
            if pattern.exclusion != v.excluded {
                continue;
            }
            if m.test(i, path)? || m.any_parent_matches(i, path) {
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
            prop_assume!(m.patterns.len() >= index::MIN_PATTERNS);
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
