//! Docker's pattern matcher against a reference re-statement of SPEC §b.
//!
//! Input: one mode byte, then an ignore file, a NUL byte, and paths (one a
//! line). Even mode: every line is first restricted to the syntax the
//! reference models (see `restrict_line`) and all three evaluation
//! functions are compared with the reference. Odd mode: the raw bytes go
//! in unchanged and only panics are looked for.
#![no_main]

use ctxray::ignorefile;
use ctxray::matcher::{MatchInfo, Matcher};
use ctxray_fuzz::{
    instantiate, last_match_wins, prepare, read_ignore, restrict_line, restrict_path, RefPattern,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (file, paths) = match rest.iter().position(|&c| c == 0) {
        Some(k) => (&rest[..k], &rest[k + 1..]),
        None => (rest, &b"a/b/c"[..]),
    };
    if mode & 1 == 1 {
        raw(file, paths);
    } else {
        checked(file, paths);
    }
});

/// Arbitrary bytes: nothing may panic.
fn raw(file: &[u8], paths: &[u8]) {
    let Ok(lines) = ignorefile::parse(file) else {
        return;
    };
    let Ok(m) = Matcher::new(&lines) else {
        return;
    };
    for path in paths.split(|&c| c == b'\n').take(8) {
        let _ = m.matches_or_parent_matches(path);
        let _ = m.matches_deprecated(path);
        let _ = m.all_matching(path);
        let mut info: Option<MatchInfo> = None;
        let mut prefix = Vec::new();
        for comp in path.split(|&c| c == b'/') {
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(comp);
            match m.matches_using_parent_results(&prefix, info.as_ref()) {
                Ok((_, i)) => info = Some(i),
                Err(_) => break,
            }
        }
    }
}

fn checked(file: &[u8], paths: &[u8]) {
    let text: Vec<String> = file
        .split(|&c| c == b'\n')
        .take(12)
        .map(restrict_line)
        .collect();
    let text = text.join("\n");
    let lines = ignorefile::parse(text.as_bytes()).expect("restricted lines are short");

    // Reference: the reader, then New's own trim/clean/`!` handling.
    let ref_lines = read_ignore(text.as_bytes()).expect("short lines");
    let mut exception = Vec::new();
    let mut refs = Vec::new();
    let mut lone_bang = false;
    for (_, _, p) in &ref_lines {
        match prepare(p) {
            Err(()) => {
                lone_bang = true;
                break;
            }
            Ok(None) => {}
            Ok(Some((exc, t))) => {
                exception.push(exc);
                refs.push(RefPattern::new(std::str::from_utf8(&t).unwrap()));
            }
        }
    }
    let m = match Matcher::new(&lines) {
        Ok(m) => m,
        Err(e) => {
            assert!(lone_bang, "New refused {text:?}: {e}");
            return;
        }
    };
    assert!(!lone_bang, "New accepted a lone '!' in {text:?}");
    assert_eq!(m.patterns().len(), refs.len(), "{text:?}");
    for (p, &exc) in m.patterns().iter().zip(&exception) {
        assert_eq!(p.exclusion, exc, "{text:?}");
    }

    // Paths from the input, then paths made from the patterns themselves
    // (their wildcards filled in with choices taken from the input).
    let mut choices = paths.iter().rev().copied().cycle().take(256);
    let mut pick = |n: usize| usize::from(choices.next().unwrap_or(0)) % n;
    let mut candidates: Vec<Vec<u8>> = paths
        .split(|&c| c == b'\n')
        .take(6)
        .map(<[u8]>::to_vec)
        .collect();
    for line in text.split('\n').take(6) {
        candidates.push(instantiate(line.trim(), &mut pick));
    }
    for path in &candidates {
        let Some(path) = restrict_path(path) else {
            continue;
        };
        let ctx = || {
            format!(
                "patterns {text:?}, path {:?}",
                String::from_utf8_lossy(&path)
            )
        };

        // MatchesOrParentMatches: last match wins over "path or ancestor".
        let matched: Vec<bool> = refs.iter().map(|r| r.test_or_parent(&path)).collect();
        let want = last_match_wins(&exception, &matched);
        let got = m
            .matches_or_parent_matches(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
        assert_eq!(
            (got.excluded, got.by),
            want,
            "MatchesOrParentMatches, {}",
            ctx()
        );

        // MatchesUsingParentResults without parent info is the same test.
        let (v0, _) = m
            .matches_using_parent_results(&path, None)
            .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
        assert_eq!(
            (v0.excluded, v0.by),
            want,
            "MatchesUsingParentResults(None), {}",
            ctx()
        );

        // The walk: each ancestor in turn, carrying per-pattern "matched"
        // bits. SPEC §b.4: a pattern the parent skipped counts as not
        // matched there, and at the child only the child is tested.
        let mut info: Option<MatchInfo> = None;
        let mut bits = vec![false; refs.len()];
        let mut prefix: Vec<u8> = Vec::new();
        let comps: Vec<&[u8]> = path.split(|&c| c == b'/').collect();
        let mut last = (false, None);
        for (depth, comp) in comps.iter().enumerate() {
            if depth > 0 {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(comp);
            let mut excluded = false;
            let mut by = None;
            let mut next = vec![false; refs.len()];
            for i in 0..refs.len() {
                let hit = bits[i] || (exception[i] == excluded && refs[i].test(&prefix));
                next[i] = hit;
                if hit {
                    excluded = !exception[i];
                    by = Some(i);
                }
            }
            let (v, i) = m
                .matches_using_parent_results(&prefix, info.as_ref())
                .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
            assert_eq!(
                (v.excluded, v.by),
                (excluded, by),
                "walk at {:?}, {}",
                String::from_utf8_lossy(&prefix),
                ctx()
            );
            bits = next;
            info = Some(i);
            last = (excluded, by);
        }
        // Without exceptions the walk and MatchesOrParentMatches agree.
        if !exception.iter().any(|&e| e) {
            assert_eq!(last.0, want.0, "no exceptions, {}", ctx());
        }
    }
}
