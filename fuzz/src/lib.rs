//! Reference re-statements of SPEC §a (reading an ignore file) and §b
//! (Docker's pattern matching), written independently of ctxray's own code
//! so that the fuzz targets can compare the two. They favour obviousness
//! over speed and only cover the syntax the generators produce.

/// UTF-8 encodings of the runes Go's `unicode.IsSpace` accepts.
const GO_SPACES: &[&str] = &[
    "\t", "\n", "\u{0B}", "\u{0C}", "\r", " ", "\u{85}", "\u{A0}", "\u{1680}", "\u{2000}",
    "\u{2001}", "\u{2002}", "\u{2003}", "\u{2004}", "\u{2005}", "\u{2006}", "\u{2007}", "\u{2008}",
    "\u{2009}", "\u{200A}", "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}",
];

/// Go's `strings.TrimSpace`: every white-space rune is valid UTF-8, so
/// stripping whole encodings from either end is exact.
pub fn trim_space(mut b: &[u8]) -> &[u8] {
    'front: loop {
        for s in GO_SPACES {
            if let Some(rest) = b.strip_prefix(s.as_bytes()) {
                b = rest;
                continue 'front;
            }
        }
        break;
    }
    'back: loop {
        for s in GO_SPACES {
            if let Some(rest) = b.strip_suffix(s.as_bytes()) {
                b = rest;
                continue 'back;
            }
        }
        break;
    }
    b
}

/// Whether `b` starts or ends with Go white space.
pub fn has_outer_space(b: &[u8]) -> bool {
    trim_space(b).len() != b.len()
}

/// Go's `path.Clean` as a segment stack.
pub fn clean(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p[0] == b'/';
    let mut stack: Vec<&[u8]> = Vec::new();
    for seg in p.split(|&c| c == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if stack.last().is_some_and(|s| *s != b"..") {
                    stack.pop();
                } else if !rooted {
                    stack.push(b"..");
                }
            }
            s => stack.push(s),
        }
    }
    let body = stack.join(&b'/');
    match (rooted, body.is_empty()) {
        (true, _) => [b"/".as_slice(), &body].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => body,
    }
}

/// One line of the reference reader: (1-based line, raw, pattern).
pub type RefLine = (usize, Vec<u8>, Vec<u8>);

/// SPEC §a: `None` when a line is too long for Go's scanner.
pub fn read_ignore(data: &[u8]) -> Option<Vec<RefLine>> {
    const MAX: usize = 64 * 1024;
    let mut pieces: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
    let terminated = data.ends_with(b"\n");
    if terminated || data.is_empty() {
        // "a\n" is one line; the empty piece after the last newline is none.
        pieces.pop();
    }
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last_unterminated = i + 1 == pieces.len() && !terminated;
        // A line plus its newline must fit in 64 KiB; an unterminated last
        // line must be shorter than the buffer as well.
        if piece.len() >= MAX || (last_unterminated && piece.len() >= MAX) {
            return None;
        }
        let mut line: &[u8] = piece.strip_suffix(b"\r").unwrap_or(piece);
        if i == 0 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.first() == Some(&b'#') {
            continue;
        }
        let t = trim_space(line);
        if t.is_empty() {
            continue;
        }
        let (bang, body) = match t.strip_prefix(b"!") {
            Some(rest) => (true, trim_space(rest)),
            None => (false, t),
        };
        let mut pattern = Vec::new();
        if bang {
            pattern.push(b'!');
        }
        if !body.is_empty() {
            let c = clean(body);
            if c.len() > 1 && c[0] == b'/' {
                pattern.extend_from_slice(&c[1..]);
            } else {
                pattern.extend_from_slice(&c);
            }
        }
        out.push((i + 1, line.to_vec(), pattern));
    }
    Some(out)
}

/// What `patternmatcher.New` does with one line (SPEC §a.8, §b.6):
/// `Ok(None)` dropped, `Ok(Some((exception, text)))`, `Err(())` for a
/// lone `!`. (The generators never produce the other New-time errors.)
#[allow(clippy::result_unit_err)]
pub fn prepare(raw: &[u8]) -> Result<Option<(bool, Vec<u8>)>, ()> {
    let t = trim_space(raw);
    if t.is_empty() {
        return Ok(None);
    }
    let c = clean(t);
    match c.strip_prefix(b"!") {
        Some(b"") => Err(()),
        Some(rest) => Ok(Some((true, rest.to_vec()))),
        None => Ok(Some((false, c))),
    }
}

/// A lexical unit of a cleaned pattern (SPEC §b.1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`
    Star,
    /// `**`, optionally followed by a `/` that it swallows.
    DStar {
        slash: bool,
    },
    /// `?`
    Quest,
    /// `[...]`, kept as its text (the generator makes them well formed).
    Class(String),
    /// `\x`
    Esc(char),
}

fn lex(text: &str) -> Vec<Tok> {
    let cs: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '*' if cs.get(i + 1) == Some(&'*') => {
                let slash = cs.get(i + 2) == Some(&'/');
                out.push(Tok::DStar { slash });
                i += if slash { 3 } else { 2 };
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '?' => {
                out.push(Tok::Quest);
                i += 1;
            }
            '\\' => {
                let next = *cs.get(i + 1).expect("generator never ends in '\\'");
                out.push(Tok::Esc(next));
                i += 2;
            }
            '[' => {
                let end = i + cs[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .expect("closed class");
                out.push(Tok::Class(cs[i..=end].iter().collect()));
                i = end + 1;
            }
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    out
}

/// How the reference tests one pattern.
#[derive(Debug)]
pub enum RefPattern {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Regex(regex::Regex),
}

fn class_to_rust(class: &str) -> String {
    // `[`, optional `^`, then letters, ranges `x-y` and literal punctuation.
    let inner = &class[1..class.len() - 1];
    let (neg, inner) = match inner.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, inner),
    };
    let cs: Vec<char> = inner.chars().collect();
    let mut s = String::from(if neg { "[^" } else { "[" });
    let mut i = 0;
    while i < cs.len() {
        if cs.get(i + 1) == Some(&'-') && i + 2 < cs.len() {
            s.push_str(&regex::escape(&cs[i].to_string()));
            s.push('-');
            s.push_str(&regex::escape(&cs[i + 2].to_string()));
            i += 3;
        } else {
            s.push_str(&regex::escape(&cs[i].to_string()));
            i += 1;
        }
    }
    s.push(']');
    s
}

impl RefPattern {
    /// SPEC §b.1 on a cleaned pattern (valid UTF-8, generator syntax).
    pub fn new(text: &str) -> RefPattern {
        let toks = lex(text);
        let is_lit = |t: &Tok| matches!(t, Tok::Lit(_));
        if toks.iter().all(is_lit) {
            return RefPattern::Exact(text.as_bytes().to_vec());
        }
        let n = toks.len();
        if n >= 1 && matches!(toks[0], Tok::DStar { .. }) && toks[1..].iter().all(is_lit) {
            // `**` first and nothing else special: suffix test.
            return RefPattern::Suffix(text.as_bytes()[2..].to_vec());
        }
        if n >= 2
            && matches!(toks[n - 1], Tok::DStar { slash: false })
            && toks[..n - 1].iter().all(is_lit)
        {
            return RefPattern::Prefix(text.as_bytes()[..text.len() - 2].to_vec());
        }
        let mut re = String::from("^");
        for (k, t) in toks.iter().enumerate() {
            match t {
                // `^` is not escaped by Docker: an anchor in a regexp.
                Tok::Lit('^') => re.push('^'),
                Tok::Lit(c) => re.push_str(&regex::escape(&c.to_string())),
                Tok::Star => re.push_str("[^/]*"),
                Tok::DStar { .. } if k + 1 == n => re.push_str(".*"),
                Tok::DStar { .. } => re.push_str("(.*/)?"),
                Tok::Quest => re.push_str("[^/]"),
                Tok::Class(c) => re.push_str(&class_to_rust(c)),
                Tok::Esc('d') => re.push_str("[0-9]"),
                Tok::Esc(c) => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        RefPattern::Regex(regex::Regex::new(&re).unwrap_or_else(|e| panic!("{re}: {e}")))
    }

    /// Whether the pattern matches the whole relative path.
    pub fn test(&self, path: &[u8]) -> bool {
        match self {
            RefPattern::Exact(t) => path == t.as_slice(),
            RefPattern::Prefix(p) => path.starts_with(p),
            RefPattern::Suffix(s) => {
                path.ends_with(s) || (s.first() == Some(&b'/') && path == &s[1..])
            }
            // Paths are generated so that this lossy view is Go's as well.
            RefPattern::Regex(re) => re.is_match(&String::from_utf8_lossy(path)),
        }
    }

    /// The path or one of its ancestor directories matches (SPEC §b.4).
    pub fn test_or_parent(&self, path: &[u8]) -> bool {
        self.test(path) || ancestors(path).iter().any(|a| self.test(a))
    }
}

/// `a/b/c` → [`a`, `a/b`].
pub fn ancestors(path: &[u8]) -> Vec<&[u8]> {
    path.iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'/')
        .map(|(k, _)| &path[..k])
        .collect()
}

/// Last match wins (SPEC §b.5): the kind of the last matching line
/// decides. Docker reports the line that made the final state: while
/// excluded only exceptions are tried and while included only normal
/// patterns, so that is the first line of the final run of same-kind
/// matches, or none when only exceptions ever matched.
pub fn last_match_wins(exception: &[bool], matched: &[bool]) -> (bool, Option<usize>) {
    let hits: Vec<usize> = (0..matched.len()).filter(|&i| matched[i]).collect();
    let Some(&last) = hits.last() else {
        return (false, None);
    };
    let kind = exception[last];
    let run_start = hits
        .iter()
        .rev()
        .take_while(|&&j| exception[j] == kind)
        .last()
        .copied()
        .unwrap_or(last);
    if kind && hits[0] == run_start {
        // Only exceptions matched: the state never left "included".
        return (false, None);
    }
    (!kind, Some(run_start))
}

/// Rewrites one ignore-file line into the pattern syntax both the reference
/// and Docker's Go regexps read the same way: literals (any valid character
/// but `{`, `|`, `}`, U+FEFF, U+FFFD), `*`, `**`, `?`, `\` + ASCII
/// punctuation other than `/` (or `\d`), and well-formed classes of plain
/// characters and ordered ranges. Everything else is dropped.
pub fn restrict_line(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let cs: Vec<char> = text.chars().collect();
    let plain = |c: char| !matches!(c, '{' | '|' | '}' | '\u{FEFF}' | '\u{FFFD}' | '\n');
    let mut out = String::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            '\\' => {
                if let Some(&n) = cs.get(i + 1) {
                    if (n.is_ascii_punctuation() && n != '/' && plain(n)) || n == 'd' {
                        out.push('\\');
                        out.push(n);
                    }
                }
                i += 2;
            }
            '[' => {
                let Some(len) = cs[i + 1..].iter().position(|&c| c == ']') else {
                    i += 1;
                    continue;
                };
                let inner = &cs[i + 1..i + 1 + len];
                i += len + 2;
                let (neg, inner) = match inner.first() {
                    Some('^') => (true, &inner[1..]),
                    _ => (false, inner),
                };
                let item =
                    |c: char| plain(c) && !matches!(c, '[' | '\\' | '*' | '?' | '/' | '^' | '-');
                let mut body = String::new();
                let mut k = 0;
                while k < inner.len() {
                    let a = inner[k];
                    if inner.get(k + 1) == Some(&'-') && k + 2 < inner.len() {
                        let b = inner[k + 2];
                        if item(a) && item(b) && a <= b {
                            body.push(a);
                            body.push('-');
                            body.push(b);
                        }
                        k += 3;
                    } else {
                        if item(a) {
                            body.push(a);
                        }
                        k += 1;
                    }
                }
                if !body.is_empty() {
                    out.push('[');
                    if neg {
                        out.push('^');
                    }
                    out.push_str(&body);
                    out.push(']');
                }
            }
            ']' => i += 1,
            c if plain(c) => {
                out.push(c);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// A path as a walker would produce it: clean, relative, valid UTF-8 except
/// for stray `\xff` bytes (which Go and Rust both read as one U+FFFD each).
pub fn restrict_path(raw: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    for chunk in raw.utf8_chunks() {
        bytes.extend_from_slice(chunk.valid().as_bytes());
        bytes.extend(std::iter::repeat_n(0xff, chunk.invalid().len()));
    }
    let comps: Vec<&[u8]> = bytes
        .split(|&c| c == b'/')
        .filter(|c| !matches!(*c, b"" | b"." | b".."))
        .collect();
    if comps.is_empty() {
        return None;
    }
    Some(comps.join(&b'/'))
}

/// A path that a (restricted) pattern line is likely to match, or to just
/// miss: each wildcard is replaced by a text picked with `pick`, including
/// texts with `/` that the wildcard must not cross. Paths drawn
/// independently of the patterns rarely exercise them.
pub fn instantiate(line: &str, pick: &mut dyn FnMut(usize) -> usize) -> Vec<u8> {
    const STAR: &[&str] = &["", "x", "/", "xé", "a/b"];
    const DSTAR: &[&str] = &["", "a/", "a/b/", "x", "/"];
    const QUEST: &[&str] = &["x", "/", "é", "\n", ""];
    let cs: Vec<char> = line.trim_start_matches('!').chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '*' if cs.get(i + 1) == Some(&'*') => {
                out.push_str(DSTAR[pick(DSTAR.len())]);
                i += 2;
            }
            '*' => {
                out.push_str(STAR[pick(STAR.len())]);
                i += 1;
            }
            '?' => {
                out.push_str(QUEST[pick(QUEST.len())]);
                i += 1;
            }
            '\\' => {
                match cs.get(i + 1) {
                    Some('d') => out.push('7'),
                    Some(&c) => out.push(c),
                    None => {}
                }
                i += 2;
            }
            '[' => {
                let end = cs[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map_or(cs.len(), |k| i + k);
                let inner: Vec<char> = cs[i + 1..end]
                    .iter()
                    .copied()
                    .filter(|&c| c != '^')
                    .collect();
                let mut options: Vec<char> = inner.clone();
                options.push('/');
                options.push('q');
                out.push(options[pick(options.len())]);
                i = end + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out.into_bytes()
}
