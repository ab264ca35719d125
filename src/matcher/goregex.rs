//! Go regular-expression syntax, translated into the `regex` crate's.
//!
//! Docker compiles most patterns to a Go RE2 regexp whose text comes partly
//! from the user: character classes and backslash escapes pass through
//! (SPEC §b.1–b.2). Go and Rust read some of that text differently:
//! `\d`, `\w`, `\s`, `\b` are ASCII in Go but Unicode in Rust; Go's `\s`
//! lacks `\v`; Rust has nested classes and `&&`/`--`/`~~` class operators,
//! Go treats `[` in a class as a literal; Go knows octal escapes, `\Q…\E`,
//! and rejects escapes Rust accepts (`\<`, `\>` are literal in Go, word
//! boundaries in Rust). So the Go text is parsed here with Go's rules and
//! re-emitted as an unambiguous Rust pattern (every literal as `\x{…}`,
//! every class as explicit ranges), or rejected where Go rejects it.

use std::fmt::Write as _;

/// A Go regexp-syntax error (Docker reports every one as "syntax error in
/// pattern").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoSyntaxError(pub String);

const PERL_D: &[(u32, u32)] = &[(0x30, 0x39)];
const PERL_S: &[(u32, u32)] = &[(0x9, 0xa), (0xc, 0xd), (0x20, 0x20)];
const PERL_W: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)];

fn posix_class(name: &str) -> Option<&'static [(u32, u32)]> {
    Some(match name {
        "alnum" => &[(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a)],
        "alpha" => &[(0x41, 0x5a), (0x61, 0x7a)],
        "ascii" => &[(0x0, 0x7f)],
        "blank" => &[(0x9, 0x9), (0x20, 0x20)],
        "cntrl" => &[(0x0, 0x1f), (0x7f, 0x7f)],
        "digit" => &[(0x30, 0x39)],
        "graph" => &[(0x21, 0x7e)],
        "lower" => &[(0x61, 0x7a)],
        "print" => &[(0x20, 0x7e)],
        "punct" => &[(0x21, 0x2f), (0x3a, 0x40), (0x5b, 0x60), (0x7b, 0x7e)],
        "space" => &[(0x9, 0xd), (0x20, 0x20)],
        "upper" => &[(0x41, 0x5a)],
        "word" => &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)],
        "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
        _ => return None,
    })
}

/// Go's `unicode.Categories` keys.
const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

fn push_ranges(out: &mut String, ranges: &[(u32, u32)], negate: bool) {
    out.push('[');
    if negate {
        out.push('^');
    }
    for &(lo, hi) in ranges {
        let _ = write!(out, "\\x{{{lo:X}}}-\\x{{{hi:X}}}");
    }
    out.push(']');
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

/// Rust syntax for a Go Unicode class name, or None if Go does not know it.
fn unicode_class(name: &str, negate: bool) -> Option<String> {
    let body = if name == "Any" {
        "[\\x{0}-\\x{10FFFF}]".to_string()
    } else if name == "C" {
        // Go's C is Cc|Cf|Co|Cs; Rust's \p{C} also holds unassigned Cn.
        "[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]".to_string()
    } else if GO_CATEGORIES.contains(&name) {
        format!("[\\p{{gc={name}}}]")
    } else if name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        let candidate = format!("[\\p{{sc={name}}}]");
        regex_syntax_ok(&candidate).then_some(candidate)?
    } else {
        return None;
    };
    Some(if negate {
        // Every body built above is `[...]`: ASCII brackets at both ends.
        format!("[^{}]", &body[1..body.len() - 1])
    } else {
        body
    })
}

fn regex_syntax_ok(s: &str) -> bool {
    regex::Regex::new(s).is_ok()
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    out: String,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }
    fn err<T>(&self, msg: &str) -> Result<T, GoSyntaxError> {
        Err(GoSyntaxError(msg.to_string()))
    }

    /// Go's parseEscape, for a single-character escape. `self.i` is at the
    /// backslash.
    fn parse_escape(&mut self) -> Result<char, GoSyntaxError> {
        self.i += 1;
        let Some(c) = self.peek() else {
            return self.err("trailing backslash at end of expression");
        };
        self.i += 1;
        match c {
            '1'..='7' if !matches!(self.peek(), Some('0'..='7')) => {
                self.err("invalid escape sequence")
            }
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            self.i += 1;
                        }
                        _ => break,
                    }
                }
                char::from_u32(r).map_or_else(|| self.err("invalid escape sequence"), Ok)
            }
            'x' => {
                let Some(c) = self.peek() else {
                    return self.err("invalid escape sequence");
                };
                self.i += 1;
                if c == '{' {
                    let mut r: u32 = 0;
                    let mut nhex = 0;
                    loop {
                        let Some(c) = self.peek() else {
                            return self.err("invalid escape sequence");
                        };
                        self.i += 1;
                        if c == '}' {
                            break;
                        }
                        let Some(v) = c.to_digit(16) else {
                            return self.err("invalid escape sequence");
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return self.err("invalid escape sequence");
                        }
                        nhex += 1;
                    }
                    if nhex == 0 {
                        return self.err("invalid escape sequence");
                    }
                    // Go accepts surrogate code points here; they can never
                    // match text, so U+FFFD is not right either: reject
                    // only what Go rejects and map surrogates to a value
                    // that cannot occur in a path.
                    return Ok(char::from_u32(r).unwrap_or('\u{10FFFF}'));
                }
                let Some(y) = self.peek() else {
                    return self.err("invalid escape sequence");
                };
                self.i += 1;
                match (c.to_digit(16), y.to_digit(16)) {
                    (Some(x), Some(y)) => Ok(char::from_u32(x * 16 + y).unwrap_or('\0')),
                    _ => self.err("invalid escape sequence"),
                }
            }
            'a' => Ok('\u{07}'),
            'f' => Ok('\u{0C}'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\u{0B}'),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            _ => self.err("invalid escape sequence"),
        }
    }

    /// Go's parseRepeat at `{`: (min, max, length of the `{...}` text).
    /// `max` is None for `{n,}`; `{n}` gives max == min.
    fn parse_repeat(&self) -> Option<(u32, Option<u32>, usize)> {
        let mut k = self.i + 1;
        let num = |k: &mut usize| -> Option<u32> {
            let start = *k;
            while self.s.get(*k).is_some_and(char::is_ascii_digit) {
                *k += 1;
            }
            if *k == start {
                return None;
            }
            // start < *k <= s.len(): s.get() held each char stepped over.
            // Go's parseInt disallows leading zeros.
            if *k - start >= 2 && self.s[start] == '0' {
                return None;
            }
            let text: String = self.s[start..*k].iter().collect();
            // Go: more than 8 digits is "too big" (-1), rejected as size.
            Some(text.parse::<u32>().unwrap_or(u32::MAX).min(100_000))
        };
        let min = num(&mut k)?;
        let max = if self.s.get(k) == Some(&',') {
            k += 1;
            if self.s.get(k) == Some(&'}') {
                None
            } else {
                Some(num(&mut k)?)
            }
        } else {
            Some(min)
        };
        if self.s.get(k) != Some(&'}') {
            return None;
        }
        Some((min, max, k + 1 - self.i))
    }

    /// `\d \D \s \S \w \W` at self.i, if present.
    fn perl_class(&mut self) -> Option<String> {
        if self.peek() != Some('\\') {
            return None;
        }
        let (ranges, neg) = match self.peek_at(1)? {
            'd' => (PERL_D, false),
            'D' => (PERL_D, true),
            's' => (PERL_S, false),
            'S' => (PERL_S, true),
            'w' => (PERL_W, false),
            'W' => (PERL_W, true),
            _ => return None,
        };
        self.i += 2;
        let mut s = String::new();
        push_ranges(&mut s, ranges, neg);
        Some(s)
    }

    /// `\pX`, `\p{Name}`, `\PX`, `\P{^Name}` at self.i, if present.
    fn unicode_class(&mut self) -> Result<Option<String>, GoSyntaxError> {
        if self.peek() != Some('\\') || !matches!(self.peek_at(1), Some('p' | 'P')) {
            return Ok(None);
        }
        let mut negate = self.peek_at(1) == Some('P');
        self.i += 2;
        let name: String = match self.peek() {
            None => return self.err("invalid character class range"),
            Some('{') => {
                // peek() saw '{' at i, so i < len and end >= 1 is a position
                // found in s[i..].
                let Some(end) = self.s[self.i..].iter().position(|&c| c == '}') else {
                    return self.err("invalid character class range");
                };
                let name = self.s[self.i + 1..self.i + end].iter().collect();
                self.i += end + 1;
                name
            }
            Some(c) => {
                self.i += 1;
                c.to_string()
            }
        };
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negate = !negate;
                n.to_string()
            }
            None => name,
        };
        match unicode_class(&name, negate) {
            Some(s) => Ok(Some(s)),
            None => self.err("invalid character class range"),
        }
    }

    /// A class starting at `[` (Go's parseClass).
    fn class(&mut self) -> Result<(), GoSyntaxError> {
        self.i += 1;
        let mut items = String::new();
        let mut negate = false;
        if self.peek() == Some('^') {
            negate = true;
            self.i += 1;
        }
        let mut first = true;
        loop {
            match self.peek() {
                Some(']') if !first => break,
                None => return self.err("missing closing ]"),
                _ => {}
            }
            first = false;
            // POSIX [:alpha:] etc.
            if self.peek() == Some('[') && self.peek_at(1) == Some(':') && self.s.len() - self.i > 2
            {
                // i + 2 < len: checked above; k is a position found in rest.
                let rest = &self.s[self.i + 2..];
                if let Some(k) = rest.windows(2).position(|w| w == [':', ']']) {
                    let name: String = rest[..k].iter().collect();
                    let (neg, bare) = match name.strip_prefix('^') {
                        Some(b) => (true, b.to_string()),
                        None => (false, name.clone()),
                    };
                    let Some(ranges) = posix_class(&bare) else {
                        return self.err("invalid character class range");
                    };
                    push_ranges(&mut items, ranges, neg);
                    self.i += 2 + k + 2;
                    continue;
                }
            }
            if let Some(u) = self.unicode_class()? {
                items.push_str(&u);
                continue;
            }
            if let Some(p) = self.perl_class() {
                items.push_str(&p);
                continue;
            }
            let lo = self.class_char()?;
            let mut hi = lo;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.i += 1;
                hi = self.class_char()?;
                if hi < lo {
                    return self.err("invalid character class range");
                }
            }
            let _ = write!(items, "\\x{{{:X}}}-\\x{{{:X}}}", lo as u32, hi as u32);
        }
        self.i += 1; // ']'
        self.out.push('[');
        if negate {
            self.out.push('^');
        }
        self.out.push_str(&items);
        self.out.push(']');
        Ok(())
    }

    fn class_char(&mut self) -> Result<char, GoSyntaxError> {
        match self.peek() {
            None => self.err("missing closing ]"),
            Some('\\') => self.parse_escape(),
            Some(c) => {
                self.i += 1;
                Ok(c)
            }
        }
    }

    fn run(&mut self) -> Result<(), GoSyntaxError> {
        // Track what a repetition operator would apply to: Go rejects a
        // repetition with no operand and a repetition of a repetition.
        #[derive(PartialEq)]
        enum Last {
            Nothing,
            Atom,
            Repeat,
        }
        let mut last = Last::Nothing;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                '(' => {
                    if self.peek_at(1) == Some('?') {
                        // Flags and named groups never come out of Docker's
                        // translation (it escapes '('); refuse rather than guess.
                        return self.err("unsupported group");
                    }
                    self.i += 1;
                    depth += 1;
                    self.out.push_str("(?:");
                    last = Last::Nothing;
                }
                ')' => {
                    if depth == 0 {
                        return self.err("unexpected )");
                    }
                    self.i += 1;
                    depth -= 1;
                    self.out.push(')');
                    last = Last::Atom;
                }
                '|' => {
                    self.i += 1;
                    self.out.push('|');
                    last = Last::Nothing;
                }
                '*' | '+' | '?' => {
                    if last == Last::Nothing {
                        return self.err("missing argument to repetition operator");
                    }
                    if last == Last::Repeat {
                        return self.err("invalid nested repetition operator");
                    }
                    self.i += 1;
                    self.out.push(c);
                    if self.peek() == Some('?') {
                        self.i += 1;
                        self.out.push('?');
                    }
                    last = Last::Repeat;
                }
                '.' => {
                    self.i += 1;
                    self.out.push('.');
                    last = Last::Atom;
                }
                '^' => {
                    self.i += 1;
                    self.out.push_str("(?:^)");
                    last = Last::Atom;
                }
                '$' => {
                    self.i += 1;
                    self.out.push_str("(?:$)");
                    last = Last::Atom;
                }
                '[' => {
                    self.class()?;
                    last = Last::Atom;
                }
                '{' => {
                    // Go's parseRepeat: `{n}`, `{n,}`, `{n,m}`; anything
                    // else makes `{` a literal. (Docker's escape bitmap lets
                    // `{` through, so user text reaches here.)
                    match self.parse_repeat() {
                        Some((min, max, len)) => {
                            if min > 1000 || max.is_some_and(|m| m > 1000 || min > m) {
                                return self.err("invalid repeat count");
                            }
                            if last == Last::Nothing {
                                return self.err("missing argument to repetition operator");
                            }
                            if last == Last::Repeat {
                                return self.err("invalid nested repetition operator");
                            }
                            // parse_repeat saw '}' at i + len - 1 < s.len().
                            let spec: String = self.s[self.i..self.i + len].iter().collect();
                            self.i += len;
                            self.out.push_str(&spec);
                            if self.peek() == Some('?') {
                                self.i += 1;
                                self.out.push('?');
                            }
                            last = Last::Repeat;
                        }
                        None => {
                            self.i += 1;
                            push_literal(&mut self.out, '{');
                            last = Last::Atom;
                        }
                    }
                }
                '\\' => {
                    last = Last::Atom;
                    match self.peek_at(1) {
                        Some('A') => {
                            self.i += 2;
                            self.out.push_str("(?:\\A)");
                            continue;
                        }
                        Some('z') => {
                            self.i += 2;
                            self.out.push_str("(?:\\z)");
                            continue;
                        }
                        Some('b') => {
                            self.i += 2;
                            self.out.push_str("(?-u:\\b)");
                            continue;
                        }
                        Some('B') => {
                            self.i += 2;
                            self.out.push_str("(?-u:\\B)");
                            continue;
                        }
                        Some('C') => return self.err("invalid escape sequence"),
                        Some('Q') => {
                            // peek_at(1) saw 'Q', so start = i + 2 <= len;
                            // end is a position found in s[start..].
                            self.i += 2;
                            let start = self.i;
                            let end = self.s[start..]
                                .windows(2)
                                .position(|w| w == ['\\', 'E'])
                                .map(|k| start + k);
                            let stop = end.unwrap_or(self.s.len());
                            self.out.push_str("(?:");
                            for &ch in &self.s[start..stop] {
                                push_literal(&mut self.out, ch);
                            }
                            self.out.push(')');
                            self.i = end.map_or(stop, |e| e + 2);
                            continue;
                        }
                        _ => {}
                    }
                    if let Some(u) = self.unicode_class()? {
                        self.out.push_str(&u);
                        continue;
                    }
                    if let Some(p) = self.perl_class() {
                        self.out.push_str(&p);
                        continue;
                    }
                    let ch = self.parse_escape()?;
                    push_literal(&mut self.out, ch);
                }
                c => {
                    self.i += 1;
                    push_literal(&mut self.out, c);
                    last = Last::Atom;
                }
            }
        }
        if depth != 0 {
            return self.err("missing closing )");
        }
        Ok(())
    }
}

/// Translates a Go regexp (Perl flags, as `regexp.Compile`) into an
/// equivalent pattern for the `regex` crate.
pub fn translate(go: &str) -> Result<String, GoSyntaxError> {
    let chars: Vec<char> = go.chars().collect();
    let mut p = Parser {
        s: &chars,
        i: 0,
        out: String::with_capacity(go.len() * 2),
    };
    p.run()?;
    Ok(p.out)
}

/// Compiles Go regexp text into a `regex::Regex` with Go's meaning.
pub fn compile(go: &str) -> Result<regex::Regex, GoSyntaxError> {
    let rust = translate(go)?;
    regex::RegexBuilder::new(&rust)
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 24)
        .nest_limit(1000)
        .build()
        .map_err(|e| GoSyntaxError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, s: &str) -> bool {
        compile(re).unwrap().is_match(s)
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(m("^foo\\d$", "foo1"));
        assert!(!m("^foo\\d$", "foo٣"));
        assert!(!m("^\\w$", "é"));
        assert!(!m("^\\s$", "\u{0B}"));
        assert!(m("^[[:space:]]$", "\u{0B}"));
        assert!(m("^a\\b.*$", "a/x"));
        assert!(!m("^a\\b$", "aé") || m("^a\\b$", "a"));
        assert!(m("^a\\b[^/]*$", "aé"), "é is not an ASCII word char");
    }

    #[test]
    fn classes_as_go_reads_them() {
        assert!(m("^[[^/]*]$", "]"));
        assert!(m("^[[^/]*]$", "[^/]"));
        assert!(m("^[!a]$", "!"));
        assert!(m("^[^a]$", "b"));
        assert!(m("^[]a]$", "]"));
        assert!(m("^[a-]$", "-"));
        assert!(m("^[a&&b]$", "&"));
        assert!(m("^[-a]$", "-"));
        assert!(
            compile("^[a--b]$").is_err(),
            "a..- is a reversed range in Go"
        );
        assert!(m("^[(.*/)?]$", "("));
        assert!(m("^[\\pL]$", "é"));
        assert!(m("^\\p{Greek}$", "α"));
        assert!(m("^\\PL$", "1"));
        assert!(m("^\\p{^L}$", "1"));
    }

    #[test]
    fn escapes_as_go_reads_them() {
        assert!(m("^\\<$", "<"));
        assert!(m("^\\101$", "A"));
        assert!(m("^\\x41\\x{42}$", "AB"));
        assert!(m("^\\Q*.\\E$", "*."));
        assert!(m("^a\\_$", "a_"));
        for bad in [
            "\\q",
            "\\o",
            "\\p",
            "[z-a]",
            "[[:foo:]]",
            "\\1",
            "\\C",
            "[\\b]",
            "\\pX",
            "\\p{greek}",
            "a\\",
            "[a",
            "x)",
        ] {
            assert!(compile(bad).is_err(), "{bad} must be rejected as Go does");
        }
    }

    #[test]
    fn live_pipe_and_braces() {
        // Docker's escape bitmap lets `|{}` through into regexp patterns.
        assert!(m("^[^/]*\\.js|[^/]*\\.ts$", "a.jsx"));
        assert!(m("^[^/]*\\.js|[^/]*\\.ts$", "sub/c.ts"));
        assert!(m("^x{2}[^/]$", "xx1"));
        assert!(!m("^x{2}[^/]*$", "x{2}"));
        assert!(m("^x{,2}$", "x{,2}"), "not a repeat: literal brace");
        assert!(compile("^[^/]*{2}$").is_err(), "nested repetition");
        assert!(compile("^x{1001}$").is_err());
        assert!(compile("^x{3,2}$").is_err());
        assert!(m("^a|$", "zzz"));
        assert!(m("^x{01}$", "x{01}"), "leading zero: literal brace");
    }

    #[test]
    fn caret_and_dot() {
        assert!(m("^^foo[^/]*$", "foobar"));
        assert!(!m("^a^b[^/]*$", "ab"));
        assert!(!m("^.*$", "a\nb"));
        assert!(m("^[^/]*$", "a\nb"));
    }
}
