//! An index over a long pattern list: for a path, the patterns that can
//! possibly match it, so that a 10,000-line ignore file costs a few hash
//! lookups per path instead of 10,000 tests.
//!
//! Docker evaluates every pattern in order ("last match wins", with
//! exceptions only tried once something matched). A pattern that does not
//! match changes nothing in that evaluation, so evaluating only the
//! candidates, in order, gives the same verdict and the same per-pattern
//! match bits. A candidate is still tested exactly as Docker tests it; the
//! index only rules out patterns whose kind makes a match impossible:
//!
//! * exact patterns: the path equals the text;
//! * suffix patterns `**/S`: some `/`-aligned tail of the path equals `S`;
//! * prefix patterns `P/…**`: the path starts with `P/`, one of its own
//!   `/`-terminated prefixes;
//! * regexps ending in a literal run with a `.` and free of alternation
//!   (`*.pyc`, `build/*.o`): the path ends with that run, so its text after
//!   the last `.` is the run's;
//! * everything else (bad patterns included) is always a candidate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::pattern::{docker_regexp, Pattern};

/// Below this many patterns, testing each one is as fast.
pub(crate) const MIN_PATTERNS: usize = 24;

/// A fast, non-cryptographic hash for the index's keys (the Fx hash of
/// rustc): the maps are probed several times per path.
#[derive(Debug, Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk); // chunks(8): len <= 8
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.write(&n.to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Map = HashMap<Vec<u8>, Vec<u32>, BuildHasherDefault<Fx>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    exact: Map,
    suffix: Map,
    prefix: Map,
    ext: Map,
    always: Vec<u32>,
}

/// Characters that end a literal run at the end of a pattern (wildcards,
/// escapes, classes, and what Docker leaves as live regexp syntax).
const NOT_LITERAL: &[u8] = b"*?[]\\|{}^";

impl Index {
    pub(crate) fn new(patterns: &[Pattern]) -> Index {
        let mut ix = Index::default();
        ix.exact.reserve(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            let i = i as u32;
            let t = &p.text;
            let (reg, ty) = docker_regexp(t);
            // Docker fails when it reaches a bad pattern: it is always tried.
            if ty == 3 && p.is_bad_regexp(&reg) {
                ix.always.push(i);
                continue;
            }
            match ty {
                0 => ix.exact.entry(t.clone()).or_default().push(i),
                1 => {
                    // The prefix is the text minus its trailing `**`.
                    let pre = &t[..t.len().saturating_sub(2)];
                    match pre.iter().rposition(|&c| c == b'/') {
                        // k is a position found in pre.
                        Some(k) => ix.prefix.entry(pre[..=k].to_vec()).or_default().push(i),
                        None => ix.always.push(i),
                    }
                }
                2 => match t.get(2..) {
                    Some([b'/', rest @ ..]) => ix.suffix.entry(rest.to_vec()).or_default().push(i),
                    _ => ix.always.push(i),
                },
                _ => match literal_ext(t) {
                    Some(ext) => ix.ext.entry(ext.to_vec()).or_default().push(i),
                    None => ix.always.push(i),
                },
            }
        }
        ix
    }

    /// The indices of the patterns that may match `path`, ascending,
    /// merged with `extra` (patterns already known to apply).
    pub(crate) fn candidates(&self, path: &[u8], extra: impl Iterator<Item = u32>) -> Vec<u32> {
        let mut out: Vec<u32> = self.always.clone();
        out.extend(extra);
        // Every k below is a position found in path, so k + 1 <= path.len().
        let mut add = |v: Option<&Vec<u32>>| {
            if let Some(v) = v {
                out.extend_from_slice(v);
            }
        };
        add(self.exact.get(path));
        if !self.suffix.is_empty() {
            add(self.suffix.get(path));
            for (k, &c) in path.iter().enumerate() {
                if c == b'/' {
                    add(self.suffix.get(&path[k + 1..]));
                }
            }
        }
        if !self.prefix.is_empty() {
            for (k, &c) in path.iter().enumerate() {
                if c == b'/' {
                    add(self.prefix.get(&path[..=k]));
                }
            }
        }
        if !self.ext.is_empty() {
            if let Some(k) = path.iter().rposition(|&c| c == b'.') {
                add(self.ext.get(&path[k + 1..]));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl Index {
    /// [`Index::candidates`] for `path` and every ancestor of it (for the
    /// evaluations that test ancestors themselves).
    pub(crate) fn candidates_with_ancestors(&self, path: &[u8]) -> Vec<u32> {
        let mut out = self.candidates(path, std::iter::empty());
        for (k, &c) in path.iter().enumerate() {
            if c == b'/' {
                out.extend(self.candidates(&path[..k], std::iter::empty())); // k < path.len()
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// For a regexp pattern with no alternation or `^`, whose text ends in a
/// literal run holding a `.`: the run's text after its last `.`.
fn literal_ext(t: &[u8]) -> Option<&[u8]> {
    if t.iter().any(|c| b"|{}^".contains(c)) {
        return None;
    }
    let start = t
        .iter()
        .rposition(|c| NOT_LITERAL.contains(c))
        .map_or(0, |k| k + 1);
    let run = &t[start..]; // start is 0 or a position in t plus 1
                           // ASCII only: a path's invalid UTF-8 is matched through its lossy form.
    if !run.is_ascii() {
        return None;
    }
    let dot = run.iter().rposition(|&c| c == b'.')?;
    Some(&run[dot + 1..]) // dot is a position found in run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(v: &[&str]) -> Vec<Pattern> {
        v.iter()
            .map(|t| Pattern::new(1, t.as_bytes().to_vec(), false))
            .collect()
    }

    #[test]
    fn candidates_by_kind() {
        let p = pats(&[
            "a/b",             // 0 exact
            "**/node_modules", // 1 suffix
            "build/**",        // 2 prefix
            "*.pyc",           // 3 ext
            "**/*.o",          // 4 ext
            "x*y",             // 5 always (no dot)
            "*.js|*.ts",       // 6 always (alternation)
            "foo**",           // 7 always (prefix without slash)
            "**foo",           // 8 always (unaligned suffix)
        ]);
        let ix = Index::new(&p);
        let c = |path: &str| ix.candidates(path.as_bytes(), std::iter::empty());
        assert_eq!(c("a/b"), vec![0, 5, 6, 7, 8]);
        assert_eq!(c("web/node_modules"), vec![1, 5, 6, 7, 8]);
        assert_eq!(c("node_modules"), vec![1, 5, 6, 7, 8]);
        assert_eq!(c("build/x/y"), vec![2, 5, 6, 7, 8]);
        assert_eq!(c("m/x.pyc"), vec![3, 5, 6, 7, 8]);
        assert_eq!(c("m/x.o"), vec![4, 5, 6, 7, 8]);
        assert_eq!(
            ix.candidates(b"q", [3u32, 1].into_iter()),
            vec![1, 3, 5, 6, 7, 8]
        );
    }

    #[test]
    fn literal_runs() {
        assert_eq!(literal_ext(b"*.pyc"), Some(&b"pyc"[..]));
        assert_eq!(literal_ext(b"src/*.tar.gz"), Some(&b"gz"[..]));
        assert_eq!(literal_ext(b"*.d/x"), Some(&b"d/x"[..]));
        assert_eq!(literal_ext(b"*x"), None);
        assert_eq!(literal_ext(b"*.[ch]"), None);
        assert_eq!(literal_ext(b"a\\.b"), Some(&b"b"[..]));
        assert_eq!(literal_ext(b"*.js|*.ts"), None);
        assert_eq!(literal_ext(b"*.caf\xc3\xa9"), None);
    }
}
