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
    kind: OnceLock<Kind>,
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
        let dirs = text.split(|&c| c == b'/').count();
        Pattern {
            line,
            text,
            exclusion,
            dirs,
            kind: OnceLock::new(),
        }
    }

    pub(crate) fn kind(&self) -> &Kind {
        self.kind.get_or_init(|| {
            let (reg, ty) = docker_regexp(&self.text);
            match ty {
                0 => Kind::Exact,
                1 => Kind::Prefix,
                2 => Kind::Suffix,
                _ => match goregex::compile(&reg) {
                    Ok(re) => Kind::Regex(re),
                    Err(e) => Kind::Bad(e.0),
                },
            }
        })
    }

    /// Whether the pattern can never compile (Docker fails when it first
    /// evaluates it).
    pub fn is_bad(&self) -> bool {
        if let Some(k) = self.kind.get() {
            return matches!(k, Kind::Bad(_));
        }
        // Without building the regexp (a long ignore file has thousands):
        // Go's syntax is checked by translating it.
        let (reg, ty) = docker_regexp(&self.text);
        ty == 3 && self.is_bad_regexp(&reg)
    }

    /// [`Pattern::is_bad`] for a regexp pattern whose Go regexp text
    /// ([`docker_regexp`]) is `reg`.
    pub(crate) fn is_bad_regexp(&self, reg: &str) -> bool {
        match self.kind.get() {
            Some(k) => matches!(k, Kind::Bad(_)),
            None => goregex::translate(reg).is_err(),
        }
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
