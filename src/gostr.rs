//! Go string semantics on byte strings.
//!
//! Docker is written in Go, where a `string` is a byte sequence that is
//! *usually* UTF-8. Its ignore-file reader and pattern matcher use
//! `strings.TrimSpace`, `filepath.Clean`, UTF-8 decoding that turns each
//! invalid byte into U+FFFD, and so on. Paths on Unix are bytes too, so
//! ctxray works on `&[u8]` and re-states those functions here, exactly.

use std::borrow::Cow;

/// Decodes the first UTF-8 character of `b` the way Go's
/// `utf8.DecodeRune` does: `(Some(char), width)` for a valid sequence,
/// `(None, 1)` for an invalid byte, `(None, 0)` for empty input.
pub fn decode_rune(b: &[u8]) -> (Option<char>, usize) {
    let Some(&first) = b.first() else {
        return (None, 0);
    };
    if first < 0x80 {
        return (Some(first as char), 1);
    }
    let end = b.len().min(4);
    let prefix = &b[..end]; // end <= b.len()
    let valid = match std::str::from_utf8(prefix) {
        Ok(s) => s,
        Err(e) => {
            // valid_up_to() is a char boundary within prefix.
            std::str::from_utf8(&prefix[..e.valid_up_to()]).unwrap_or_default()
        }
    };
    match valid.chars().next() {
        Some(c) => (Some(c), c.len_utf8()),
        None => (None, 1),
    }
}

/// Decodes the last UTF-8 character of `b` as Go's `utf8.DecodeLastRune`.
pub fn decode_last_rune(b: &[u8]) -> (Option<char>, usize) {
    let end = b.len();
    if end == 0 {
        return (None, 0);
    }
    // start < end = b.len() and only decreases (not below lim) from here.
    let mut start = end - 1;
    if b[start] < 0x80 {
        return (Some(b[start] as char), 1);
    }
    let lim = end.saturating_sub(4);
    // Back up to a rune start (a byte that is not a continuation byte).
    while start > lim {
        start -= 1;
        if b[start] & 0xC0 != 0x80 {
            break;
        }
    }
    let (r, size) = decode_rune(&b[start..end]);
    if start + size != end {
        return (None, 1);
    }
    (r, size)
}

/// Go's `unicode.IsSpace`.
pub fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\r'
            | ' '
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Go's `strings.TrimSpace` on bytes (invalid UTF-8 is never space).
pub fn trim_space(mut b: &[u8]) -> &[u8] {
    // The widths returned by decode_rune/decode_last_rune never exceed the
    // length of the input they were given.
    loop {
        match decode_rune(b) {
            (Some(c), n) if is_go_space(c) => b = &b[n..],
            _ => break,
        }
    }
    loop {
        match decode_last_rune(b) {
            (Some(c), n) if is_go_space(c) => b = &b[..b.len() - n],
            _ => break,
        }
    }
    b
}

/// Go's `path.Clean` (which is `filepath.Clean` on Unix) on bytes.
pub fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path.first() == Some(&b'/');
    let n = path.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let mut r = 0;
    let mut dotdot = 0;
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    // path[r] only while r < n; path[r + 1] and path[r + 2] only after
    // `r + 1 == n` / `r + 2 == n` are false (and path[r + 1] exists).
    while r < n {
        if path[r] == b'/' || (path[r] == b'.' && (r + 1 == n || path[r + 1] == b'/')) {
            r += 1;
        } else if path[r] == b'.'
            && path.get(r + 1) == Some(&b'.')
            && (r + 2 == n || path[r + 2] == b'/')
        {
            r += 2;
            if out.len() > dotdot {
                // Backtrack as Go's lazybuf does: drop the last byte, then
                // keep dropping until index w holds a '/' (which is dropped
                // too, since the result is out[..w]) or w reaches dotdot.
                let mut w = out.len() - 1; // out.len() > dotdot >= 0, so w < out.len()
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return b".".to_vec();
    }
    out
}

/// Converts bytes to a string the way Go's UTF-8-aware code sees them: valid
/// sequences are kept and every invalid byte becomes U+FFFD on its own (Go's
/// `for range` / `utf8.DecodeRune` rule, which differs from Rust's
/// `from_utf8_lossy` on truncated sequences).
pub fn go_lossy(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Cow::Borrowed(s);
    }
    let mut s = String::with_capacity(b.len() + 8);
    let mut rest = b;
    while !rest.is_empty() {
        let (r, n) = decode_rune(rest);
        s.push(r.unwrap_or('\u{FFFD}'));
        // rest is not empty and decode_rune's width never exceeds it.
        rest = &rest[n.max(1)..];
    }
    Cow::Owned(s)
}

/// Go's `filepath.Dir` for a clean relative slash path: `"a/b/c"` →
/// `"a/b"`, `"a"` → `"."`.
pub fn parent_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) if i > 0 => &path[..i], // i is a position found in path
        Some(_) => b"/",
        None => b".",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! clean_cases {
        ($($in:expr => $out:expr),* $(,)?) => {
            $( assert_eq!(String::from_utf8(clean($in.as_bytes())).unwrap(), $out, "clean({:?})", $in); )*
        };
    }

    #[test]
    fn clean_matches_go() {
        // Go's own path.Clean test table (path/path_test.go).
        clean_cases! {
            "" => ".", "abc" => "abc", "abc/def" => "abc/def", "a/b/c" => "a/b/c",
            "." => ".", ".." => "..", "../.." => "../..", "../../abc" => "../../abc",
            "/abc" => "/abc", "/" => "/", "abc/" => "abc", "abc/def/" => "abc/def",
            "a/b/c/" => "a/b/c", "./" => ".", "../" => "..", "../../" => "../..", "/abc/" => "/abc",
            "abc//def//ghi" => "abc/def/ghi", "//abc" => "/abc", "///abc" => "/abc",
            "//abc//" => "/abc", "abc//" => "abc", "abc/./def" => "abc/def",
            "/./abc/def" => "/abc/def", "abc/." => "abc", "abc/def/ghi/../jkl" => "abc/def/jkl",
            "abc/def/../ghi/../jkl" => "abc/jkl", "abc/def/.." => "abc", "abc/def/../.." => ".",
            "/abc/def/../.." => "/", "abc/def/../../.." => "..", "/abc/def/../../.." => "/",
            "abc/def/../../../ghi/jkl/../../../mno" => "../../mno", "abc/./../def" => "def",
            "abc//./../def" => "def", "abc/../../././../def" => "../../def",
            "foo/../../bar" => "../bar", "x/../foo" => "foo", "**/" => "**", "/*" => "/*",
        }
    }

    #[test]
    fn trim_space_is_go_trim_space() {
        assert_eq!(trim_space(b" \t foo \r\n"), b"foo");
        assert_eq!(trim_space("\u{a0}x\u{3000}".as_bytes()), b"x");
        assert_eq!(trim_space("\u{feff}x".as_bytes()), "\u{feff}x".as_bytes());
        assert_eq!(trim_space(b"\xff "), b"\xff");
        assert_eq!(trim_space(b"  "), b"");
        assert_eq!(trim_space(b"\x0bx\x0c"), b"x");
    }

    #[test]
    fn go_lossy_replaces_each_invalid_byte() {
        assert_eq!(go_lossy(b"a\xffb"), "a\u{fffd}b");
        // A truncated 3-byte sequence is two invalid bytes for Go.
        assert_eq!(go_lossy(b"\xe2\x82x"), "\u{fffd}\u{fffd}x");
        assert_eq!(go_lossy("é".as_bytes()), "é");
    }

    #[test]
    fn decode_last_rune_handles_invalid_tails() {
        assert_eq!(decode_last_rune("aé".as_bytes()), (Some('é'), 2));
        assert_eq!(decode_last_rune(b"a\xa9"), (None, 1));
        assert_eq!(decode_last_rune(b""), (None, 0));
    }

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent_of(b"a/b/c"), b"a/b");
        assert_eq!(parent_of(b"a"), b".");
    }
}
