//! One Docker pattern: classification and matching exactly as
//! `moby/patternmatcher` `Pattern.compile` / `Pattern.match` (SPEC §b.1).

use std::sync::OnceLock;

use super::fpmatch::BadPattern;
use super::goregex;
use crate::gostr::{decode_rune, go_lossy};

/// How a pattern is tested, as Docker classifies it on first use.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// `path == pattern`.
    Exact,
    /// `path` starts with the pattern minus its trailing `**`.
    Prefix,
    /// `path` ends with the pattern minus its leading `**` (or equals it
    /// without the `/`).
    Suffix,
    /// An anchored Go regexp, translated.
    Regex(regex::Regex),
    /// The regexp does not compile: Docker's lazy "syntax error in pattern".
    Bad(#[allow(dead_code)] String),
}

/// A pattern of an ignore file, compiled lazily as Docker does.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// 1-based line of the ignore file; 0 for patterns ctxray did not read
    /// from a file (e.g. the `!Dockerfile` the classic builder appends).
    pub line: usize,
    /// The pattern after Docker's cleaning, without the `!` (Go's
    /// `Pattern.String()`).
    pub text: Vec<u8>,
    /// An exception (`!pattern`): re-includes what it matches.
    pub exclusion: bool,
    /// Number of `/`-separated components (Go's `len(pattern.dirs)`).
    pub(crate) dirs: usize,
    /// Docker's type ([`docker_type`]): 0 exact, 1 prefix, 2 suffix,
    /// 3 regexp.
    pub(crate) ty: u8,
    kind: OnceLock<Kind>,
}

/// The type [`docker_regexp`] gives `text` (0 exact, 1 prefix, 2 suffix,
/// 3 regexp), without building the regexp: a long ignore file has
/// thousands of patterns and most are never tested.
///
/// Docker's scanner reads runes, but only ASCII runes steer the type, and a
/// UTF-8 sequence (or an invalid byte read as U+FFFD) never holds an ASCII
/// byte: reading bytes gives the same type. Each multi-byte rune counts as
/// several tokens here, which only matters for "is this the first token",
/// and a first rune is the first byte either way.
pub(crate) fn docker_type(text: &[u8]) -> u8 {
    const EXACT: u8 = 0;
    const PREFIX: u8 = 1;
    const SUFFIX: u8 = 2;
    const REGEXP: u8 = 3;
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut ty = EXACT;
    let mut first = true;
    let mut pos = 0;
    while let Some(&ch) = text.get(pos) {
        pos += 1;
        match ch {
            b'*' if text.get(pos) == Some(&b'*') => {
                pos += 1;
                if text.get(pos) == Some(&b'/') {
                    pos += 1;
                }
                if pos >= text.len() {
                    ty = if ty == EXACT { PREFIX } else { REGEXP };
                } else {
                    ty = REGEXP;
                }
                if first {
                    ty = SUFFIX;
                }
            }
            b'*' | b'?' | b'[' | b']' => ty = REGEXP,
            b'\\' if pos < text.len() => {
                // The escaped rune is consumed; its other bytes (if any)
                // are continuation bytes, which change nothing.
                pos += 1;
                ty = REGEXP;
            }
            _ => {}
        }
        first = false;
    }
    ty
}

/// Whether the Go regexp Docker builds for `text` may fail to compile.
/// `false` is a proof: without `[ ] \ { } | ^` in the pattern, the regexp
/// holds only literals, the escapes `\. \+ \( \) \$` and Docker's own
/// `[^/]*`, `[^/]`, `(.*/)?` and `.*`, which Go always accepts.
pub(crate) fn may_be_bad_regexp(text: &[u8]) -> bool {
    text.iter().any(|c| b"[]\\{}|^".contains(c))
}

/// The Go regexp text Docker builds for a pattern, and its type.
pub(crate) fn docker_regexp(text: &[u8]) -> (String, u8) {
    const EXACT: u8 = 0;
    const PREFIX: u8 = 1;
    const SUFFIX: u8 = 2;
    const REGEXP: u8 = 3;
    // text/scanner: UTF-8 decoding with each invalid byte as U+FFFD, and a
    // BOM at the very start skipped.
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let (c, n) = decode_rune(rest);
        chars.push(c.unwrap_or('\u{FFFD}'));
        // rest is not empty and decode_rune's width never exceeds it.
        rest = &rest[n.max(1)..];
    }
    let mut pos = usize::from(chars.first() == Some(&'\u{FEFF}'));
    let mut reg = String::from("^");
    let mut ty = EXACT;
    let mut i = 0;
    while pos < chars.len() {
        let ch = chars[pos]; // pos < chars.len(): loop condition
        pos += 1;
        let peek = chars.get(pos).copied();
        if ch == '*' {
            if peek == Some('*') {
                pos += 1;
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos >= chars.len() {
                    if ty == EXACT {
                        ty = PREFIX;
                    } else {
                        reg.push_str(".*");
                        ty = REGEXP;
                    }
                } else {
                    reg.push_str("(.*/)?");
                    ty = REGEXP;
                }
                if i == 0 {
                    ty = SUFFIX;
                }
            } else {
                reg.push_str("[^/]*");
                ty = REGEXP;
            }
        } else if ch == '?' {
            reg.push_str("[^/]");
            ty = REGEXP;
        } else if ".+()$".contains(ch) {
            // patternmatcher means to escape `.+()|{}$`, but its 8-byte
            // bitmap loses every character >= 64: `|`, `{` and `}` reach
            // the regexp unescaped (alternation and repetition).
            reg.push('\\');
            reg.push(ch);
        } else if ch == '\\' {
            match peek {
                Some(next) => {
                    pos += 1;
                    reg.push('\\');
                    reg.push(next);
                    ty = REGEXP;
                }
                None => reg.push('\\'),
            }
        } else if ch == '[' || ch == ']' {
            reg.push(ch);
            ty = REGEXP;
        } else {
            reg.push(ch);
        }
        i += 1;
    }
    if ty == REGEXP {
        reg.push('$');
    }
    (reg, ty)
}

impl Pattern {
    /// A pattern from its cleaned text (no `!`).
    pub fn new(line: usize, text: Vec<u8>, exclusion: bool) -> Pattern {
        // Go's len(strings.Split(text, "/")): one more than the slashes.
        let dirs = text.iter().filter(|&&c| c == b'/').count() + 1;
        let ty = docker_type(&text);
        Pattern {
            line,
            text,
            exclusion,
            dirs,
            ty,
            kind: OnceLock::new(),
        }
    }

    pub(crate) fn kind(&self) -> &Kind {
        self.kind.get_or_init(|| match self.ty {
            0 => Kind::Exact,
            1 => Kind::Prefix,
            2 => Kind::Suffix,
            _ => match goregex::compile(&docker_regexp(&self.text).0) {
                Ok(re) => Kind::Regex(re),
                Err(e) => Kind::Bad(e.0),
            },
        })
    }

    /// Whether the pattern can never compile (Docker fails when it first
    /// evaluates it).
    pub fn is_bad(&self) -> bool {
        if let Some(k) = self.kind.get() {
            return matches!(k, Kind::Bad(_));
        }
        // Without building the regexp (a long ignore file has thousands):
        // Go's syntax is checked by translating it, when it can fail.
        self.ty == 3
            && may_be_bad_regexp(&self.text)
            && goregex::translate(&docker_regexp(&self.text).0).is_err()
    }

    /// The pattern's text as written in messages, with `!` for exceptions.
    pub fn display(&self) -> String {
        let t = String::from_utf8_lossy(&self.text);
        if self.exclusion {
            format!("!{t}")
        } else {
            t.into_owned()
        }
    }

    /// Docker's `Pattern.match` on a clean relative slash path. `Err` is
    /// Docker's lazy `syntax error in pattern`.
    pub fn matches(&self, path: &[u8]) -> Result<bool, BadPattern> {
        match self.kind() {
            Kind::Exact => Ok(path == self.text.as_slice()),
            // The cleaned text ends in `**` for this kind; slicing is clamped anyway.
            Kind::Prefix => Ok(path.starts_with(&self.text[..self.text.len().saturating_sub(2)])),
            Kind::Suffix => {
                let suffix = self.text.get(2..).unwrap_or_default();
                if path.ends_with(suffix) {
                    return Ok(true);
                }
                Ok(suffix.strip_prefix(b"/") == Some(path))
            }
            Kind::Regex(re) => Ok(re.is_match(&go_lossy(path))),
            Kind::Bad(_) => Err(BadPattern),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Pattern {
        Pattern::new(1, t.as_bytes().to_vec(), false)
    }

    #[test]
    fn classification() {
        for (pat, reg, ty) in [
            ("foo", "^foo", 0),
            ("foo**", "^foo", 1),
            ("foo/**", "^foo/", 1),
            ("**/foo", "^(.*/)?foo", 2),
            ("**foo", "^(.*/)?foo", 2),
            ("**", "^", 2),
            ("**/*.txt", "^(.*/)?[^/]*\\.txt$", 3),
            ("a**b", "^a(.*/)?b$", 3),
            ("a/**/b", "^a/(.*/)?b$", 3),
            ("foo.bar", "^foo\\.bar", 0),
            ("\\*", "^\\*$", 3),
            ("**/**", "^(.*/)?.*$", 3),
            ("[*]", "^[[^/]*]$", 3),
            ("foo\\", "^foo\\", 0),
        ] {
            assert_eq!(
                docker_regexp(pat.as_bytes()),
                (reg.to_string(), ty),
                "{pat}"
            );
        }
    }

    /// Bytes that steer Docker's translation, with a BOM, a multi-byte
    /// rune, a lone continuation byte and a truncated sequence.
    fn pattern_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let parts: Vec<&'static [u8]> = vec![
            b"*",
            b"**",
            b"/",
            b"?",
            b"\\",
            b"[",
            b"]",
            b"a",
            b".",
            b"{",
            b"}",
            b"|",
            b"^",
            b"$",
            b"(",
            b"+",
            b"2",
            b",",
            b"\xEF\xBB\xBF",
            "\u{e9}".as_bytes(),
            b"\x82",
            b"\xE2\x82",
        ];
        proptest::collection::vec(proptest::sample::select(parts), 0..8).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..proptest::prelude::ProptestConfig::default() })]

        /// The byte-level type is the one of the full translation.
        #[test]
        fn docker_type_agrees(t in pattern_bytes()) {
            proptest::prop_assert_eq!(docker_type(&t), docker_regexp(&t).1);
        }

        /// A pattern may_be_bad_regexp clears always translates.
        #[test]
        fn may_be_bad_is_conservative(t in pattern_bytes()) {
            if !may_be_bad_regexp(&t) {
                let (reg, _) = docker_regexp(&t);
                proptest::prop_assert!(goregex::translate(&reg).is_ok(), "{:?}", reg);
                proptest::prop_assert!(Pattern::new(1, t.clone(), false).matches(b"a").is_ok());
            }
        }
    }

    #[test]
    fn docker_type_cases() {
        for t in [
            "foo",
            "foo**",
            "foo/**",
            "**/foo",
            "**",
            "**/*.txt",
            "a**b",
            "\\*",
            "foo\\",
            "\u{feff}**",
            "\u{feff}a**",
            "é**",
            "\\é",
            "[*]",
            "?",
        ] {
            assert_eq!(
                docker_type(t.as_bytes()),
                docker_regexp(t.as_bytes()).1,
                "{t}"
            );
        }
    }

    #[test]
    fn matching() {
        assert_eq!(p("foo**").matches(b"foobar"), Ok(true));
        assert_eq!(p("foo/**").matches(b"foo"), Ok(false));
        assert_eq!(p("**/foo").matches(b"foo"), Ok(true));
        assert_eq!(p("**/foo").matches(b"afoo"), Ok(false));
        assert_eq!(p("**foo").matches(b"a/bfoo"), Ok(true));
        assert_eq!(p("a**b").matches(b"axb"), Ok(false));
        assert_eq!(p("a**b").matches(b"ax/b"), Ok(true));
        assert_eq!(p("*.pyc").matches(b"a/x.pyc"), Ok(false));
        assert_eq!(p("^foo*").matches(b"foobar"), Ok(true));
        assert_eq!(p("^foo").matches(b"^foo"), Ok(true));
        assert_eq!(p("[z-a]").matches(b"a"), Err(BadPattern));
        assert_eq!(p("*").matches(b"\xff"), Ok(true));
        assert_eq!(
            p("?").matches(b"\xe2\x82"),
            Ok(false),
            "two invalid bytes are two runes"
        );
        assert_eq!(p("??").matches(b"\xe2\x82"), Ok(true));
        assert_eq!(p("?").matches("é".as_bytes()), Ok(true));
    }
}
