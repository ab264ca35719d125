//! Checks on the text of an ignore file alone (SPEC §a, §b): traps in
//! how Docker reads and compiles each line.

use crate::gostr::trim_space;
use crate::ignorefile::{self, prepare_for_matcher, PatternLine};
use crate::matcher::{fpmatch, Pattern};

use super::{lossy, Finding, Level};

fn finding(
    code: &'static str,
    name: &'static str,
    level: Level,
    file: &str,
    line: usize,
    message: String,
    fix: Option<String>,
) -> Finding {
    Finding {
        code,
        name,
        level,
        file: file.to_string(),
        line: Some(line),
        message,
        fix,
        paths: Vec::new(),
        bytes: 0,
    }
}

/// Checks the text of an ignore file (named `display` in findings): inline
/// and indented comments, Windows separators, lone `!`, patterns that cannot
/// compile or never match, `[!…]` classes, duplicate lines. Works on files
/// Docker refuses, so it can explain why.
pub fn lint_ignore_text(display: &str, data: &[u8]) -> Vec<Finding> {
    let lines = match ignorefile::parse(data) {
        Ok(l) => l,
        Err(e) => {
            let line = match e {
                ignorefile::ReadError::LineTooLong { line } => line,
            };
            return vec![finding(
                "DI006",
                "bad-pattern",
                Level::Error,
                display,
                line,
                format!("{e}: docker build fails before sending anything"),
                None,
            )];
        }
    };
    let mut out = Vec::new();
    for l in &lines {
        check_line(display, l, &mut out);
    }
    duplicates(display, &lines, &mut out);
    out
}

/// The line's text after trimming, and its body without a leading `!`.
fn body(l: &PatternLine) -> (&[u8], bool, &[u8]) {
    let t = trim_space(&l.raw);
    match t.strip_prefix(b"!") {
        Some(rest) => (t, true, trim_space(rest)),
        None => (t, false, t),
    }
}

fn q(b: &[u8]) -> String {
    format!("`{}`", lossy(b))
}

fn check_line(file: &str, l: &PatternLine, out: &mut Vec<Finding>) {
    let (trimmed, exception, body) = body(l);
    let bang = if exception { "!" } else { "" };

    // Indented comment: a line whose first non-blank byte is `#`.
    if l.raw.first() != Some(&b'#') && trimmed.first() == Some(&b'#') {
        out.push(finding(
            "DI003",
            "indented-comment",
            Level::Warning,
            file,
            l.line,
            format!(
                "{} is a pattern, not a comment: only a `#` in the first column starts a comment",
                q(trimmed)
            ),
            Some(lossy(trimmed)),
        ));
        return;
    }

    // Inline comment: `pattern # text` is one pattern.
    if let Some(pos) = inline_comment_at(trimmed) {
        let before = trim_space(trimmed.get(..pos).unwrap_or_default());
        if !before.is_empty() && before != b"!" {
            out.push(finding(
                "DI002",
                "inline-comment",
                Level::Warning,
                file,
                l.line,
                format!(
                    "{} is one pattern: .dockerignore has no inline comments, so {} is not what this line leaves out",
                    q(trimmed),
                    q(before)
                ),
                Some(lossy(before)),
            ));
        }
    }

    // Lone `!` (also `!/`, which cleans to it).
    if let Some((true, text)) = prepare_for_matcher(&l.pattern) {
        if text.is_empty() {
            out.push(finding(
                "DI005",
                "lone-bang",
                Level::Error,
                file,
                l.line,
                format!(
                    "{} is not a pattern: docker build fails with \"illegal exclusion pattern: \\\"!\\\"\"",
                    q(trimmed)
                ),
                None,
            ));
            return;
        }
    }
    let Some((_, text)) = prepare_for_matcher(&l.pattern) else {
        return;
    };
    let new_bad = fpmatch::is_bad_pattern(&text);
    let lazy_bad = !new_bad && Pattern::new(l.line, text.clone(), exception).is_bad();
    let bad = new_bad || lazy_bad;
    let fails = if new_bad {
        "docker build fails before sending anything (\"syntax error in pattern\")"
    } else {
        "docker build fails as soon as the pattern is evaluated (\"syntax error in pattern\")"
    };

    // Windows separators.
    if let Some(fixed) = windows_fix(body) {
        let (level, why) = if bad {
            (Level::Error, fails.to_string())
        } else {
            (
                Level::Warning,
                "it matches a name with the escaped character, not a path".to_string(),
            )
        };
        out.push(finding(
            "DI004",
            "windows-separator",
            level,
            file,
            l.line,
            format!(
                "{}: `\\` is an escape in .dockerignore, not a path separator; {why}",
                q(trimmed)
            ),
            Some(format!("{bang}{}", lossy(&fixed))),
        ));
    } else if bad {
        out.push(finding(
            "DI006",
            "bad-pattern",
            Level::Error,
            file,
            l.line,
            format!("{}: {fails}", q(trimmed)),
            None,
        ));
    }
    if bad {
        return;
    }

    // Patterns that can never match.
    let never = if text == b"." || text == b"/" {
        Some(format!(
            "{} cleans to {} and matches nothing (to leave out everything write `*`, or `**`)",
            q(trimmed),
            q(&text)
        ))
    } else if text == b".." || text.starts_with(b"../") {
        Some(format!(
            "{} reaches outside the context and matches nothing: paths are relative to the context root",
            q(trimmed)
        ))
    } else {
        None
    };
    if let Some(msg) = never {
        out.push(finding(
            "DI007",
            "never-matches",
            Level::Warning,
            file,
            l.line,
            msg,
            None,
        ));
        return;
    }

    // `[!…]` is not a negation.
    if let Some(fixed) = bang_class_fix(body) {
        out.push(finding(
            "DI009",
            "bang-class",
            Level::Warning,
            file,
            l.line,
            format!(
                "{}: `[!…]` is not a negation in .dockerignore (Go regexp classes: `[!a]` is the set of `!` and `a`); write `[^…]`",
                q(trimmed)
            ),
            Some(format!("{bang}{}", lossy(&fixed))),
        ));
    }
}

/// Position of a blank followed by `#` (an intended inline comment).
fn inline_comment_at(t: &[u8]) -> Option<usize> {
    t.windows(2).position(|w| matches!(w, [b' ' | b'\t', b'#']))
}

fn name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'*' | b'}' | b')')
}

/// The body with `\` used as a path separator replaced by `/`, if any is.
fn windows_fix(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        let c = body.get(i).copied().unwrap_or_default();
        if c == b'\\' {
            let prev = i.checked_sub(1).and_then(|j| body.get(j)).copied();
            let next = body.get(i + 1).copied();
            let sep = match (prev, next) {
                (Some(p), None) => name_byte(p),
                (Some(p), Some(n)) => {
                    name_byte(p) && (n.is_ascii_alphanumeric() || matches!(n, b'_' | b'*' | b'-'))
                }
                (None, _) => false,
            };
            if sep {
                out.push(b'/');
                changed = true;
                i += 1;
                continue;
            }
            // An escape: keep it and the escaped byte.
            out.push(c);
            if let Some(n) = next {
                out.push(n);
            }
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// The body with every unescaped `[!` replaced by `[^`, if there is one.
fn bang_class_fix(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = body.to_vec();
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        match body.get(i) {
            Some(b'\\') => i += 2,
            Some(b'[') => {
                if body.get(i + 1) == Some(&b'!') {
                    if let Some(c) = out.get_mut(i + 1) {
                        *c = b'^';
                        changed = true;
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    changed.then_some(out)
}

fn duplicates(file: &str, lines: &[PatternLine], out: &mut Vec<Finding>) {
    for (j, lj) in lines.iter().enumerate() {
        let Some((excl_j, text_j)) = prepare_for_matcher(&lj.pattern) else {
            continue;
        };
        // Empty, `.`, `/`, `..`: reported as never matching.
        if text_j.is_empty()
            || text_j == b"."
            || text_j == b"/"
            || text_j == b".."
            || text_j.starts_with(b"../")
        {
            continue;
        }
        // The closest earlier line with the same pattern, with no line of
        // the other polarity in between.
        for i in (0..j).rev() {
            let Some(li) = lines.get(i) else { break };
            let Some((excl_i, text_i)) = prepare_for_matcher(&li.pattern) else {
                continue;
            };
            if excl_i != excl_j {
                break;
            }
            if text_i == text_j {
                out.push(finding(
                    "DI013",
                    "duplicate-rule",
                    Level::Warning,
                    file,
                    lj.line,
                    format!(
                        "{} repeats line {} with nothing in between that changes it: delete one of them",
                        q(trim_space(&lj.raw)),
                        li.line
                    ),
                    None,
                ));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(usize, &'static str, Option<String>)> {
        lint_ignore_text(".dockerignore", text.as_bytes())
            .into_iter()
            .map(|f| (f.line.unwrap_or(0), f.code, f.fix))
            .collect()
    }

    #[test]
    fn comments() {
        assert_eq!(
            codes("run # mounted as volume\n# ok\n  # indented\n\\#name\n"),
            [
                (1, "DI002", Some("run".into())),
                (3, "DI003", Some("# indented".into()))
            ]
        );
        assert_eq!(
            codes("!keep\t# why\n")[0],
            (1, "DI002", Some("!keep".into()))
        );
        assert!(codes("a#b\n").is_empty());
    }

    #[test]
    fn windows_separators() {
        let c = codes("bin\\\nbuild\\output\n**\\*.db\nsrc\\app\n\\#x\nfoo\\.txt\n");
        assert_eq!(c[0], (1, "DI004", Some("bin/".into())));
        assert_eq!(c[1], (2, "DI004", Some("build/output".into())));
        assert_eq!(c[2], (3, "DI004", Some("**/*.db".into())));
        assert_eq!(c[3], (4, "DI004", Some("src/app".into())));
        assert_eq!(c.len(), 4);
        let f = lint_ignore_text("x", b"bin\\\nsrc\\app\n");
        assert_eq!(f[0].level, Level::Error);
        assert_eq!(f[1].level, Level::Warning);
    }

    #[test]
    fn lone_bang_bad_and_never() {
        assert_eq!(
            codes("!\n! /\n[a-\n[z-a]\n.\n/\n../x\n./\nok\n"),
            [
                (1, "DI005", None),
                (2, "DI005", None),
                (3, "DI006", None),
                (4, "DI006", None),
                (5, "DI007", None),
                (6, "DI007", None),
                (7, "DI007", None),
                (8, "DI007", None),
            ]
        );
    }

    #[test]
    fn bang_classes() {
        assert_eq!(
            codes("*.[!o]\n!x[!a]y\n\\[!a]\n[^a]\n"),
            [
                (1, "DI009", Some("*.[^o]".into())),
                (2, "DI009", Some("!x[^a]y".into()))
            ]
        );
    }

    #[test]
    fn duplicate_lines() {
        assert_eq!(codes("a\nb\n/a/\n"), [(3, "DI013", None)]);
        // An exception in between makes the repeat meaningful.
        assert!(codes("a\n!a/b\na\n").is_empty());
        assert_eq!(codes("!a\n!a\n"), [(2, "DI013", None)]);
    }

    #[test]
    fn too_long_line() {
        let mut t = b"x\n".to_vec();
        t.extend(vec![b'a'; 70_000]);
        let f = lint_ignore_text("f", &t);
        assert_eq!((f[0].code, f[0].line), ("DI006", Some(2)));
    }
}
