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

use super::pattern::Pattern;

/// Below this many patterns, testing each one is as fast.
pub(crate) const MIN_PATTERNS: usize = 24;

/// The kinds of keys, each hashed with its own salt into one map.
const EXACT: u64 = 0x243f_6a88_85a3_08d3;
const SUFFIX: u64 = 0x1319_8a2e_0370_7344;
const PREFIX: u64 = 0xa409_3822_299f_31d0;
const EXT: u64 = 0x082e_fa98_ec4e_6c89;

/// A fast hash of bytes (the Fx hash of rustc, eight bytes at a step),
/// mixed with the kind of key and finished with murmur3's finaliser, so
/// that every bit of it is useful to the table.
fn key(b: &[u8], kind: u64) -> u64 {
    let mut h = kind;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c); // chunks_exact(8): c.len() == 8
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    let rest = chunks.remainder();
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest); // remainder of chunks(8): < 8
                                           // The length keeps "a" and "a\0" apart.
    h = (h.rotate_left(5) ^ u64::from_le_bytes(w) ^ ((b.len() as u64) << 56))
        .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The map's keys are already mixed: they are used as they are.
#[derive(Debug, Default, Clone, Copy)]
struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; this is a fallback, never used.
        self.0 = key(bytes, self.0);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An index over a pattern list. Keys are hashes of the texts a path must
/// hold for a pattern to match it; two texts with the same hash only make
/// a pattern a candidate needlessly (it is then tested and fails), so the
/// texts themselves are not stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Key -> the last pattern stored under it.
    map: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    /// Pattern -> the previous pattern stored under the same key (`NONE`
    /// ends the chain).
    next: Vec<u32>,
    exact: Shape,
    prefix: Shape,
    suffix: Shape,
    ext: Shape,
    always: Vec<u32>,
}

/// What the keys of one kind look like: a text of a path is only looked up
/// when some key has its length and its depth (most paths are ruled out
/// without hashing anything, and only their ends are read).
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Bit `n` (63: 63 or more): some key is `n` bytes long.
    lens: u64,
    /// Bit `d` (63: 63 or more): some key has `d` slashes (prefix keys) or
    /// `d` components (suffix keys).
    depths: u64,
    /// The longest key.
    max_len: usize,
}

impl Shape {
    fn add(&mut self, key: &[u8], depth: usize) {
        self.lens |= bit(key.len());
        self.depths |= bit(depth);
        self.max_len = self.max_len.max(key.len());
    }
    fn any(&self) -> bool {
        self.lens != 0
    }
    /// Whether some key has this length and depth.
    fn fits(&self, len: usize, depth: usize) -> bool {
        self.lens & bit(len) != 0 && self.depths & bit(depth) != 0
    }
    /// The largest depth of a key (`usize::MAX` when some key is 63 or
    /// more deep).
    fn deepest(&self) -> usize {
        match 63 - self.depths.leading_zeros() as usize {
            63 => usize::MAX,
            d => d,
        }
    }
}

/// The end of a chain in [`Index::next`].
const NONE: u32 = u32::MAX;

/// The bit of a length or depth in a [`Shape`].
fn bit(n: usize) -> u64 {
    1 << n.min(63)
}

fn slashes(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'/').count()
}

/// Characters that end a literal run at the end of a pattern (wildcards,
/// escapes, classes, and what Docker leaves as live regexp syntax).
const NOT_LITERAL: &[u8] = b"*?[]\\|{}^";

impl Index {
    pub(crate) fn new(patterns: &[Pattern]) -> Index {
        let mut ix = Index {
            next: vec![NONE; patterns.len()],
            ..Index::default()
        };
        ix.map.reserve(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            let i = i as u32;
            let t = &p.text;
            // Docker fails when it reaches a bad pattern: it is always tried.
            if p.is_bad() {
                ix.always.push(i);
                continue;
            }
            let k = match p.ty {
                0 => {
                    ix.exact.add(t, 0);
                    key(t, EXACT)
                }
                1 => {
                    // The prefix is the text minus its trailing `**`.
                    let pre = &t[..t.len().saturating_sub(2)];
                    match pre.iter().rposition(|&c| c == b'/') {
                        // k is a position found in pre.
                        Some(k) => {
                            let pre = &pre[..=k];
                            ix.prefix.add(pre, slashes(pre));
                            key(pre, PREFIX)
                        }
                        None => {
                            ix.always.push(i);
                            continue;
                        }
                    }
                }
                2 => match t.get(2..) {
                    Some([b'/', rest @ ..]) => {
                        ix.suffix.add(rest, slashes(rest) + 1);
                        key(rest, SUFFIX)
                    }
                    _ => {
                        ix.always.push(i);
                        continue;
                    }
                },
                _ => match literal_ext(t) {
                    Some(ext) => {
                        ix.ext.add(ext, 0);
                        key(ext, EXT)
                    }
                    None => {
                        ix.always.push(i);
                        continue;
                    }
                },
            };
            if let Some(prev) = ix.map.insert(k, i) {
                if let Some(n) = ix.next.get_mut(i as usize) {
                    *n = prev;
                }
            }
        }
        ix
    }

    /// Appends the patterns stored under `k` (descending).
    fn get(&self, k: u64, out: &mut Vec<u32>) {
        let mut at = self.map.get(&k).copied().unwrap_or(NONE);
        while at != NONE {
            out.push(at);
            at = self.next.get(at as usize).copied().unwrap_or(NONE);
        }
    }

    /// The indices of the patterns that may match `path`, ascending,
    /// merged with `extra` (patterns already known to apply). `skip`: the
    /// index was built with one more pattern, at that position, than the
    /// matcher asking has (see `Matcher::without`): it is left out and
    /// the indices after it are shifted down.
    pub(crate) fn candidates(
        &self,
        path: &[u8],
        extra: impl Iterator<Item = u32>,
        skip: Option<u32>,
    ) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        self.collect(path, skip, &mut out);
        out.extend(extra);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Appends the candidates of `path` (not sorted, maybe repeated).
    ///
    /// Only the texts of the path that some key can equal (by length and
    /// depth, see [`Shape`]) are hashed and looked up, and only the ends
    /// of the path are read: its first bytes up to the longest prefix key,
    /// its last ones up to the longest suffix or extension key.
    fn collect(&self, path: &[u8], skip: Option<u32>, out: &mut Vec<u32>) {
        let start = out.len();
        out.extend_from_slice(&self.always);
        let n = path.len();
        if self.exact.fits(n, 0) {
            self.get(key(path, EXACT), out);
        }
        if self.prefix.any() {
            let deepest = self.prefix.deepest();
            let mut depth = 0;
            let head = path.get(..self.prefix.max_len).unwrap_or(path);
            for (k, &c) in head.iter().enumerate() {
                if c == b'/' {
                    depth += 1;
                    // The prefix path[..=k] is k + 1 bytes long (k < n).
                    if self.prefix.fits(k + 1, depth) {
                        self.get(key(&path[..=k], PREFIX), out);
                    }
                    if depth >= deepest {
                        break;
                    }
                }
            }
        }
        if self.suffix.any() {
            let longest = self.suffix.deepest();
            let mut comps = 1;
            // A tail longer than every key needs no look: the last
            // max_len + 1 bytes hold every `/` that starts a shorter one.
            let from = n.saturating_sub(self.suffix.max_len + 1);
            let tail = path.get(from..).unwrap_or_default();
            let mut whole = from == 0;
            for (j, &c) in tail.iter().enumerate().rev() {
                if c == b'/' {
                    let k = from + j; // a position in path
                    if self.suffix.fits(n - k - 1, comps) {
                        self.get(key(&path[k + 1..], SUFFIX), out);
                    }
                    comps += 1;
                    if comps > longest {
                        whole = false;
                        break;
                    }
                }
            }
            if whole && self.suffix.fits(n, comps) {
                self.get(key(path, SUFFIX), out);
            }
        }
        if self.ext.any() {
            // Only a last `.` within the longest key's reach can start one.
            let from = n.saturating_sub(self.ext.max_len + 1);
            let tail = path.get(from..).unwrap_or_default();
            if let Some(j) = tail.iter().rposition(|&c| c == b'.') {
                let k = from + j; // a position in path
                if self.ext.fits(n - k - 1, 0) {
                    self.get(key(&path[k + 1..], EXT), out);
                }
            }
        }
        if let Some(s) = skip {
            // start <= out.len(): only appended to since.
            let mut k = start;
            while let Some(&j) = out.get(k) {
                if j == s {
                    out.swap_remove(k);
                    continue;
                }
                if j > s {
                    if let Some(x) = out.get_mut(k) {
                        *x = j - 1;
                    }
                }
                k += 1;
            }
        }
    }

    /// [`Index::candidates`] for `path` and every ancestor of it (for the
    /// evaluations that test ancestors themselves).
    pub(crate) fn candidates_with_ancestors(&self, path: &[u8], skip: Option<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        self.collect(path, skip, &mut out);
        for (k, &c) in path.iter().enumerate() {
            if c == b'/' {
                self.collect(&path[..k], skip, &mut out); // k < path.len()
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The `/`-aligned prefixes of some patterns' texts (each text itself
/// included), by hash: which patterns a directory can lie on the way to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefixes {
    /// (hash of a prefix, pattern index), sorted.
    keyed: Vec<(u64, u32)>,
}

impl Prefixes {
    /// The table over the texts `texts` yields, with their pattern indices.
    pub(crate) fn new<'a>(texts: impl Iterator<Item = (u32, &'a [u8])>) -> Prefixes {
        let mut keyed = Vec::new();
        for (i, t) in texts {
            for (k, &c) in t.iter().enumerate() {
                if c == b'/' {
                    keyed.push((key(&t[..k], PREFIX), i)); // k < t.len()
                }
            }
            keyed.push((key(t, PREFIX), i));
        }
        keyed.sort_unstable();
        keyed.dedup();
        Prefixes { keyed }
    }

    /// The patterns with a text of which `dir` may be a `/`-aligned
    /// prefix (or the whole): a superset, to be checked.
    pub(crate) fn candidates(&self, dir: &[u8]) -> impl Iterator<Item = u32> + '_ {
        let h = key(dir, PREFIX);
        let from = self.keyed.partition_point(|&(k, _)| k < h);
        self.keyed
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(move |&&(k, _)| k == h)
            .map(|&(_, i)| i)
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
        let c = |path: &str| ix.candidates(path.as_bytes(), std::iter::empty(), None);
        assert_eq!(c("a/b"), vec![0, 5, 6, 7, 8]);
        assert_eq!(c("web/node_modules"), vec![1, 5, 6, 7, 8]);
        assert_eq!(c("node_modules"), vec![1, 5, 6, 7, 8]);
        assert_eq!(c("build/x/y"), vec![2, 5, 6, 7, 8]);
        assert_eq!(c("m/x.pyc"), vec![3, 5, 6, 7, 8]);
        assert_eq!(c("m/x.o"), vec![4, 5, 6, 7, 8]);
        assert_eq!(
            ix.candidates(b"q", [3u32, 1].into_iter(), None),
            vec![1, 3, 5, 6, 7, 8]
        );
        // Without pattern 3 (the index built before it was removed).
        assert_eq!(
            ix.candidates(b"m/x.pyc", std::iter::empty(), Some(3)),
            vec![4, 5, 6, 7]
        );
        assert_eq!(
            ix.candidates(b"build/x/y", std::iter::empty(), Some(0)),
            vec![1, 4, 5, 6, 7]
        );
    }

    #[test]
    fn keys_deeper_than_one_component() {
        let p = pats(&[
            "**/c/d",     // 0 suffix, two components
            "x/y/**",     // 1 prefix, two slashes
            "**/d",       // 2 suffix, one component
            "a/b/c/d",    // 3 exact
            "a/*.tar.gz", // 4 ext with a dot inside the run
        ]);
        let ix = Index::new(&p);
        let c = |path: &str| ix.candidates(path.as_bytes(), std::iter::empty(), None);
        assert_eq!(c("c/d"), vec![0, 2]);
        assert_eq!(c("a/b/c/d"), vec![0, 2, 3]);
        assert_eq!(c("q/d"), vec![2]);
        assert_eq!(c("x/y/z"), vec![1]);
        assert_eq!(c("x/y/z/w"), vec![1]);
        assert_eq!(c("x/y"), Vec::<u32>::new());
        assert_eq!(c("x/z/y"), Vec::<u32>::new());
        assert_eq!(c("a/f.tar.gz"), vec![4]);
        assert_eq!(c("a/f.gz/d"), vec![2]);
    }

    #[test]
    fn lengths_and_depths_rule_out_only_what_cannot_match() {
        let long = "x".repeat(70);
        let deep = vec!["d"; 70].join("/");
        let texts = [
            long.clone(),               // 0 exact, 70 bytes
            format!("**/{long}"),       // 1 suffix, 70 bytes
            format!("{long}/**"),       // 2 prefix, 71 bytes
            format!("**/{deep}"),       // 3 suffix, 70 components
            format!("{deep}/**"),       // 4 prefix, 70 slashes
            "*.d/x".to_string(),        // 5 ext "d/x"
            "*.abcdefghij".to_string(), // 6 ext, 10 bytes
            "**/ab".to_string(),        // 7 suffix, 2 bytes
            "q/**".to_string(),         // 8 prefix, 2 bytes
        ];
        let p: Vec<Pattern> = texts
            .iter()
            .map(|t| Pattern::new(1, t.as_bytes().to_vec(), false))
            .collect();
        let ix = Index::new(&p);
        let c = |path: &str| ix.candidates(path.as_bytes(), std::iter::empty(), None);
        let none = Vec::<u32>::new();
        assert_eq!(c(&long), vec![0, 1]);
        assert_eq!(c(&format!("a/{long}")), vec![1]);
        assert_eq!(c(&format!("{long}/a")), vec![2]);
        assert_eq!(c(&format!("{long}x")), none);
        assert_eq!(c(&format!("a/{deep}")), vec![3]);
        assert_eq!(c(&deep), vec![3]);
        assert_eq!(c(&format!("{deep}/e")), vec![4]);
        assert_eq!(c("m/f.d/x"), vec![5]);
        assert_eq!(c("f.abcdefghij"), vec![6]);
        assert_eq!(c("f.abcdefghij.k"), none);
        assert_eq!(c(&format!("f.abcdefghij{long}")), none);
        assert_eq!(c(&format!("{long}.abcdefghij")), vec![6]);
        assert_eq!(c(&format!("{long}/ab")), vec![2, 7]);
        assert_eq!(c("ab"), vec![7]);
        assert_eq!(c(&format!("{long}ab")), none);
        assert_eq!(c("q/x/y"), vec![8]);
        assert_eq!(c(&format!("q/{long}")), vec![1, 8]);
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
