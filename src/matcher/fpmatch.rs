//! Go's `path/filepath.Match` (Unix), ported for one purpose:
//! `patternmatcher.New` calls `filepath.Match(pattern, ".")` and rejects the
//! pattern when that returns `ErrBadPattern` (SPEC §b.6). Which patterns
//! fail depends on the details of Go's scanner, so they are kept as is.

use crate::gostr::decode_rune;

/// Go's `filepath.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

/// `Err(BadPattern)` when Go's `filepath.Match(pattern, name)` returns
/// `ErrBadPattern`; otherwise whether it matched.
pub fn go_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok, err) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if err {
            return Err(BadPattern);
        }
        if star {
            let mut i = 0;
            // i < name.len(): loop condition, so i + 1 <= name.len().
            while i < name.len() && name[i] != b'/' {
                let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                if err {
                    return Err(BadPattern);
                }
                i += 1;
            }
        }
        // Before returning false with no error, check that the remainder of
        // the pattern is syntactically valid.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if match_chunk(chunk, b"").2 {
                return Err(BadPattern);
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let Some(after) = pattern.strip_prefix(b"*") {
        pattern = after;
        star = true;
    }
    let mut inrange = false;
    let mut i = 0;
    while i < pattern.len() {
        // pattern[i] only while i < len; an escape skips one more byte only
        // when i + 1 < len, so i <= len at the split.
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Returns (rest, ok, bad_pattern).
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> (&'a [u8], bool, bool) {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        // chunk is not empty (loop condition); chunk[1..] below skips a
        // byte already seen. While !failed, s was not empty at the top of
        // this iteration and nothing has been taken from it since, so s[0]
        // and s[1..] are in range.
        match chunk[0] {
            b'[' => {
                let mut r: Option<char> = None;
                let mut r_valid = false;
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    r_valid = true;
                    s = &s[n.max(1).min(s.len())..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Ok((lo, rest)) = get_esc(chunk) else {
                        return (b"", false, true);
                    };
                    chunk = rest;
                    let mut hi = lo;
                    // get_esc guarantees chunk is not empty here.
                    if chunk.first() == Some(&b'-') {
                        let Ok((h, rest)) = get_esc(&chunk[1..]) else {
                            return (b"", false, true);
                        };
                        hi = h;
                        chunk = rest;
                    }
                    // Go compares runes; an invalid byte decodes to U+FFFD.
                    let rv = if r_valid {
                        Some(r.unwrap_or('\u{FFFD}'))
                    } else {
                        None
                    };
                    if let Some(rv) = rv {
                        if lo <= rv && rv <= hi {
                            matched = true;
                        }
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n.max(1).min(s.len())..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&c) => c,
                        None => return (b"", false, true),
                    }
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        (b"", false, false)
    } else {
        (s, true, false)
    }
}

fn get_esc(mut chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    if matches!(chunk.first(), None | Some(b'-') | Some(b']')) {
        return Err(BadPattern);
    }
    if let Some(after) = chunk.strip_prefix(b"\\") {
        chunk = after;
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (r, n) = decode_rune(chunk);
    let Some(r) = r else {
        return Err(BadPattern);
    };
    let rest = &chunk[n..]; // chunk is not empty; decode_rune's width fits it
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

/// Whether `patternmatcher.New` rejects the pattern (`filepath.Match(p, ".")`).
pub fn is_bad_pattern(pattern: &[u8]) -> bool {
    // Only a class (`[`) or an escape (a backslash) can be malformed: without
    // either, Match cannot fail (a long ignore file is checked at once).
    if !pattern.iter().any(|&c| c == b'[' || c == b'\\') {
        return false;
    }
    go_match(pattern, b".").is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_patterns_as_go() {
        for p in [
            "[", "[a-", "foo\\", "[]a]", "[^]", "a[*", "[a-\\", "[\\", "[x-]",
        ] {
            assert!(is_bad_pattern(p.as_bytes()), "{p} should be bad");
        }
        for p in [
            "[*]",
            "[**]",
            "a]",
            "[a]",
            "[^a]",
            "[!a]",
            "\\*",
            "[[:alpha:]]",
            "*",
            "**",
            "[z-a]",
            "\\q",
            "[\\]]",
            "[[]",
        ] {
            assert!(!is_bad_pattern(p.as_bytes()), "{p} should be accepted");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..proptest::prelude::ProptestConfig::default() })]

        /// The shortcut of is_bad_pattern (no `[`, no backslash: never bad)
        /// agrees with running Go's Match.
        #[test]
        fn shortcut_agrees(p in proptest::collection::vec(proptest::sample::select(
            b"ab*?[]\\-^!/.".to_vec()), 0..8)) {
            proptest::prop_assert_eq!(is_bad_pattern(&p), go_match(&p, b".").is_err());
        }
    }

    #[test]
    fn match_semantics() {
        assert_eq!(go_match(b"*.go", b"a.go"), Ok(true));
        assert_eq!(go_match(b"*", b"a/b"), Ok(false));
        assert_eq!(go_match(b"a?c", b"abc"), Ok(true));
        assert_eq!(go_match(b"[a-c]x", b"bx"), Ok(true));
        assert_eq!(go_match(b"[^a-c]x", b"bx"), Ok(false));
        assert_eq!(go_match(b"a*b*c", b"axxbyyc"), Ok(true));
        // Go's own table: a bad pattern found after a mismatch.
        assert_eq!(go_match(b"a[", b"x"), Err(BadPattern));
        assert_eq!(go_match(b"*x", b"xxx"), Ok(true));
    }
}
