//! Applying suggested fixes to an ignore file, byte for byte: only the
//! text of a fixed line changes; line endings (LF or CRLF), a BOM, the
//! final newline (or its absence) and every other line stay as they are.

use super::Finding;

/// Splits into lines, each with its terminator (`\n` or `\r\n`, or none
/// for a last line without newline).
fn split(data: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, term, next) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => {
                // i is a position found in rest, so l.len() == i + 1; a
                // stripped '\r' means i >= 1.
                let (l, r) = rest.split_at(i + 1);
                let body = &l[..i];
                match body.strip_suffix(b"\r") {
                    Some(b) => (b, &l[i - 1..], r),
                    None => (body, &l[i..], r),
                }
            }
            None => (rest, &b""[..], &b""[..]),
        };
        out.push((line, term));
        rest = next;
    }
    out
}

/// The line fixes among `findings` for the file named `file`: (line, new
/// text), the first finding of a line winning (findings are sorted by code).
pub fn fixes_for(file: &str, findings: &[Finding]) -> Vec<(usize, String)> {
    let mut v: Vec<(usize, String)> = Vec::new();
    for f in findings {
        if f.file != file {
            continue;
        }
        if let (Some(line), Some(fix)) = (f.line, &f.fix) {
            if !v.iter().any(|(l, _)| *l == line) && !fix.contains(['\n', '\r']) {
                v.push((line, fix.clone()));
            }
        }
    }
    v.sort();
    v
}

/// Applies `(line, new text)` replacements; returns the new bytes and how
/// many lines changed.
pub fn apply(data: &[u8], fixes: &[(usize, String)]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut changed = 0;
    for (i, (line, term)) in split(data).into_iter().enumerate() {
        let n = i + 1;
        match fixes.iter().find(|(l, _)| *l == n) {
            Some((_, new)) => {
                if n == 1 && line.starts_with(b"\xEF\xBB\xBF") {
                    out.extend_from_slice(b"\xEF\xBB\xBF");
                }
                let before = line
                    .strip_prefix(b"\xEF\xBB\xBF")
                    .filter(|_| n == 1)
                    .unwrap_or(line);
                if before != new.as_bytes() {
                    changed += 1;
                }
                out.extend_from_slice(new.as_bytes());
            }
            None => out.extend_from_slice(line),
        }
        out.extend_from_slice(term);
    }
    (out, changed)
}

/// A unified diff (3 lines of context) from `old` to `new`, which have the
/// same number of lines; empty when they are equal.
pub fn unified_diff(name: &str, old: &[u8], new: &[u8]) -> Vec<u8> {
    let a = split(old);
    let b = split(new);
    let mut out = Vec::new();
    if a == b {
        return out;
    }
    out.extend_from_slice(format!("--- a/{name}\n+++ b/{name}\n").as_bytes());
    let emit = |out: &mut Vec<u8>, sign: u8, (line, term): (&[u8], &[u8])| {
        out.push(sign);
        out.extend_from_slice(line);
        if term.is_empty() {
            out.extend_from_slice(b"\n\\ No newline at end of file\n");
        } else {
            out.extend_from_slice(term);
        }
    };
    if a.len() != b.len() {
        out.extend_from_slice(format!("@@ -1,{} +1,{} @@\n", a.len(), b.len()).as_bytes());
        for l in &a {
            emit(&mut out, b'-', *l);
        }
        for l in &b {
            emit(&mut out, b'+', *l);
        }
        return out;
    }
    let changed: Vec<usize> = (0..a.len()).filter(|&i| a.get(i) != b.get(i)).collect();
    // Hunks: changed lines closer than 2 × context share one.
    let ctx = 3;
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(ctx);
        let end = (i + ctx + 1).min(a.len());
        match hunks.last_mut() {
            Some(h) if start <= h.1 => h.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    for (start, end) in hunks {
        let len = end - start;
        out.extend_from_slice(
            format!("@@ -{},{len} +{},{len} @@\n", start + 1, start + 1).as_bytes(),
        );
        let mut i = start;
        while i < end {
            let (Some(&x), Some(&y)) = (a.get(i), b.get(i)) else {
                break;
            };
            if x == y {
                emit(&mut out, b' ', x);
                i += 1;
                continue;
            }
            // A run of changed lines: all removals, then all additions.
            let run_end = (i..end).find(|&k| a.get(k) == b.get(k)).unwrap_or(end);
            for k in i..run_end {
                if let Some(&x) = a.get(k) {
                    emit(&mut out, b'-', x);
                }
            }
            for k in i..run_end {
                if let Some(&y) = b.get(k) {
                    emit(&mut out, b'+', y);
                }
            }
            i = run_end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_keeps_bytes() {
        let data = b"\xEF\xBB\xBFnode_modules\r\n# c\r\n*.pyc\r\nlast";
        let (new, n) = apply(
            data,
            &[
                (1, "**/node_modules".into()),
                (3, "**/*.pyc".into()),
                (4, "last".into()),
            ],
        );
        assert_eq!(n, 2);
        assert_eq!(
            new,
            b"\xEF\xBB\xBF**/node_modules\r\n# c\r\n**/*.pyc\r\nlast".to_vec()
        );
        assert_eq!(apply(b"a\nb\n", &[]).0, b"a\nb\n");
    }

    #[test]
    fn diff_hunks() {
        let old = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12";
        let (new, _) = apply(old, &[(1, "one".into()), (12, "twelve".into())]);
        let d = String::from_utf8(unified_diff(".dockerignore", old, &new)).unwrap();
        assert_eq!(
            d,
            "--- a/.dockerignore\n+++ b/.dockerignore\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n\\ No newline at end of file\n+twelve\n\\ No newline at end of file\n"
        );
        assert!(unified_diff("x", b"a\n", b"a\n").is_empty());
    }
}
