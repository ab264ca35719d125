//! Reading a `.dockerignore` file exactly as Docker does (SPEC §a).
//!
//! Docker's reader (`moby/patternmatcher/ignorefile.ReadAll`) splits lines
//! with Go's `bufio.Scanner` (on `\n`, dropping one trailing `\r`; a lone
//! `\r` is not a line break; a line over 64 KiB aborts the read), removes a
//! UTF-8 BOM from the first line only, skips lines whose first byte is `#`,
//! trims Unicode white space, handles a leading `!`, and normalises each
//! pattern with `filepath.Clean` and the removal of one leading `/`.
//! `patternmatcher.New` then trims and cleans each line once more.

use std::borrow::Cow;

use crate::gostr::{clean, trim_space};

/// Go's `bufio.MaxScanTokenSize`: the longest line the scanner accepts,
/// newline included.
pub const MAX_LINE: usize = 64 * 1024;

/// One pattern line of an ignore file, as Docker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written (BOM and a trailing CR removed), for messages.
    pub raw: Vec<u8>,
    /// What Docker's reader produced (`ReadAll`), with a leading `!` for
    /// exceptions: the text Docker hands to the matcher.
    pub pattern: Vec<u8>,
}

/// Reading an ignore file failed the way Docker's reader fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// A line longer than Go's scanner buffer (64 KiB).
    #[error("line {line} is longer than 64 KiB (Docker: \"bufio.Scanner: token too long\")")]
    LineTooLong {
        /// 1-based line number of the long line.
        line: usize,
    },
}

/// Splits `data` into lines as Go's `bufio.Scanner` with `ScanLines` does,
/// failing on a line too long for its 64 KiB buffer.
fn scan_lines(data: &[u8]) -> Result<Vec<&[u8]>, ReadError> {
    let mut lines = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let lineno = lines.len() + 1;
        let (line, consumed) = match rest.iter().position(|&b| b == b'\n') {
            // The token plus its newline must fit in the 64 KiB buffer.
            // i is a position found in rest, so i + 1 <= rest.len().
            Some(i) if i < MAX_LINE => (&rest[..i], i + 1),
            Some(_) => return Err(ReadError::LineTooLong { line: lineno }),
            // A final line without newline: the buffer must not fill up
            // before EOF is seen, so it must be shorter than the buffer.
            None if rest.len() < MAX_LINE => (rest, rest.len()),
            None => return Err(ReadError::LineTooLong { line: lineno }),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        lines.push(line);
        rest = &rest[consumed..]; // consumed <= rest.len() (see above)
    }
    Ok(lines)
}

/// Whether Go's `path.Clean` leaves `p` as it is: `/`, or non-empty
/// components that are not `.` or `..`, with at most one leading `/` and
/// no trailing one. (`false` does not mean the contrary: `.` is clean.)
fn is_clean(p: &[u8]) -> bool {
    if p == b"/" {
        return true;
    }
    let body = p.strip_prefix(b"/").unwrap_or(p);
    if body.is_empty() || body.last() == Some(&b'/') {
        return false;
    }
    // Only a component start can make a path unclean: an empty component
    // (`//`, or a second leading `/`) or one of `.` and `..`. Most lines
    // have no `.` nor `/` at a component start (a branch-free scan).
    let suspect = matches!(body.first(), Some(b'.' | b'/'))
        || body
            .iter()
            .zip(body.get(1..).unwrap_or_default())
            .fold(false, |bad, (&a, &b)| {
                bad | ((a == b'/') & ((b == b'/') | (b == b'.')))
            });
    if !suspect {
        return true;
    }
    let mut prev = b'/';
    for (k, &c) in body.iter().enumerate() {
        if prev == b'/' {
            if c == b'/' {
                return false;
            }
            if c == b'.' {
                // k is a position in body.
                let comp = body[k..].split(|&c| c == b'/').next().unwrap_or_default();
                if comp == b"." || comp == b".." {
                    return false;
                }
            }
        }
        prev = c;
    }
    true
}

/// Go's `strings.TrimSpace`, with a shortcut for the usual line: one that
/// starts and ends with a printable ASCII byte has nothing to trim.
fn trim(b: &[u8]) -> &[u8] {
    let printable = |c: Option<&u8>| c.is_some_and(|&c| c > b' ' && c < 0x7f);
    if printable(b.first()) && printable(b.last()) {
        return b;
    }
    trim_space(b)
}

/// `path.Clean`, without a copy when `p` is already clean (nearly every
/// line of an ignore file).
fn clean_cow(p: &[u8]) -> Cow<'_, [u8]> {
    if is_clean(p) {
        Cow::Borrowed(p)
    } else {
        Cow::Owned(clean(p))
    }
}

/// Reads the bytes of an ignore file into pattern lines, as Docker's
/// `ReadAll` does. Comments and blank lines are dropped; line numbers are
/// kept.
pub fn parse(data: &[u8]) -> Result<Vec<PatternLine>, ReadError> {
    let lines = scan_lines(data)?;
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let line = if i == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        if line.first() == Some(&b'#') {
            continue;
        }
        let trimmed = trim(line);
        if trimmed.is_empty() {
            continue;
        }
        let (invert, body) = match trimmed.strip_prefix(b"!") {
            Some(after) => (true, trim(after)),
            None => (false, trimmed),
        };
        let mut pattern = Vec::with_capacity(body.len() + 1);
        if invert {
            pattern.push(b'!');
        }
        if !body.is_empty() {
            let cleaned = clean_cow(body);
            let cleaned = match cleaned.strip_prefix(b"/") {
                Some(after) if !after.is_empty() => after,
                _ => &cleaned[..],
            };
            pattern.extend_from_slice(cleaned);
        }
        out.push(PatternLine {
            line: i + 1,
            raw: line.to_vec(),
            pattern,
        });
    }
    Ok(out)
}

/// A pattern as `patternmatcher.New` prepares it: trimmed and cleaned once
/// more, `!` split off. `None` when New drops the line (empty).
pub(crate) fn prepare_for_matcher(pattern: &[u8]) -> Option<(bool, Vec<u8>)> {
    let p = trim(pattern);
    if p.is_empty() {
        return None;
    }
    let p = clean_cow(p);
    if let Some(after) = p.strip_prefix(b"!") {
        return Some((true, after.to_vec()));
    }
    Some((false, p.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(data: &[u8]) -> Vec<String> {
        parse(data)
            .unwrap()
            .into_iter()
            .map(|p| String::from_utf8_lossy(&p.pattern).into_owned())
            .collect()
    }

    #[test]
    fn reader_rules() {
        assert_eq!(pats(b"#foo\nbar"), ["bar"]);
        assert_eq!(pats(b" #foo"), ["#foo"]);
        assert_eq!(pats(b"foo # note"), ["foo # note"]);
        assert_eq!(pats(b"foo\r\nbar\r\n"), ["foo", "bar"]);
        assert_eq!(pats(b"foo\rbar"), ["foo\rbar"]);
        assert_eq!(
            pats(b"\xEF\xBB\xBFfoo\n\xEF\xBB\xBFbar"),
            ["foo", "\u{feff}bar"]
        );
        assert_eq!(pats(b"\xEF\xBB\xBF#c\nx"), ["x"]);
        assert_eq!(pats(b"/foo\n//foo\n./foo\nfoo/\nx/../foo"), ["foo"; 5]);
        assert_eq!(
            pats(b".\n/\n/*\n../foo\nfoo/../../bar"),
            [".", "/", "*", "../foo", "../bar"]
        );
        assert_eq!(pats(b"! foo\n!\n!/"), ["!foo", "!", "!/"]);
        assert_eq!(pats(b"\n\n  \nfoo\n\n"), ["foo"]);
    }

    #[test]
    fn line_numbers_survive_comments_and_blanks() {
        let p = parse(b"# c\n\nfoo\n  \n!bar\n").unwrap();
        assert_eq!(p.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 5]);
    }

    #[test]
    fn long_lines() {
        let ok = vec![b'a'; MAX_LINE - 1];
        assert_eq!(parse(&ok).unwrap().len(), 1);
        let mut ok_nl = ok.clone();
        ok_nl.push(b'\n');
        assert_eq!(parse(&ok_nl).unwrap().len(), 1);
        let bad = vec![b'a'; MAX_LINE];
        assert_eq!(parse(&bad), Err(ReadError::LineTooLong { line: 1 }));
        let mut bad_nl = b"x\n".to_vec();
        bad_nl.extend(vec![b'a'; MAX_LINE]);
        bad_nl.push(b'\n');
        assert_eq!(parse(&bad_nl), Err(ReadError::LineTooLong { line: 2 }));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..proptest::prelude::ProptestConfig::default() })]

        /// What is_clean accepts, Go's Clean leaves as it is.
        #[test]
        fn clean_shortcut(p in proptest::collection::vec(proptest::sample::select(
            b"a./!".to_vec()), 0..10)) {
            if is_clean(&p) {
                proptest::prop_assert_eq!(clean(&p), p.clone());
            }
            proptest::prop_assert_eq!(clean_cow(&p).into_owned(), clean(&p));
        }

        /// The shortcut of trim agrees with Go's TrimSpace.
        #[test]
        fn trim_shortcut(p in proptest::collection::vec(proptest::sample::select(
            vec![b'a', b' ', b'\t', b'\x0b', b'~', 0x7f, 0x85, 0xc2, 0xa0, 0xe3, 0x80]), 0..8)) {
            proptest::prop_assert_eq!(trim(&p), trim_space(&p));
        }
    }

    #[test]
    fn clean_shortcut_cases() {
        for p in [
            "a", "/", "/a/b", "a/b.c", "...", "a/.b", "a/...", "..a", "a/b/c",
        ] {
            assert!(is_clean(p.as_bytes()), "{p}");
        }
        for p in [
            "", ".", "a/", "//a", "a//b", "./a", "a/.", "a/..", "../a", "/..",
        ] {
            assert!(!is_clean(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn matcher_preparation() {
        assert_eq!(prepare_for_matcher(b"!foo"), Some((true, b"foo".to_vec())));
        // New cleans "!/" to "!" which is then the lone-bang error.
        assert_eq!(prepare_for_matcher(b"!/"), Some((true, b"".to_vec())));
        assert_eq!(prepare_for_matcher(b" b"), Some((false, b"b".to_vec())));
    }
}
