//! Checks of what each line of the ignore file does in this context:
//! gitignore-isms, dead, shadowed and redundant rules, useless exceptions,
//! trailing slashes that catch files, engine divergence, and the effect of
//! the syntax fixes.

use std::collections::{BTreeMap, HashSet};

use crate::error::Result;
use crate::gostr::trim_space;
use crate::ignorefile::PatternLine;
use crate::matcher::Matcher;
use crate::redecide::Redecider;
use crate::walk::{Engine, Kind};

use super::facts::{
    by_top, change_line, effective_for, matching, roots_matched, sample_paths, Change, Hit,
};
use super::{files, list, lossy, size, Env, Finding, Level};

pub(crate) fn check(env: &Env<'_>, out: &mut Vec<Finding>) -> Result<()> {
    let Some(ignore) = &env.ctx.ignore else {
        return Ok(());
    };
    let lines = &ignore.lines;
    // Lines that a syntax finding already explains.
    let mut explained: HashSet<usize> = out
        .iter()
        .filter(|f| f.file == env.ignore_display)
        .filter_map(|f| f.line)
        .collect();
    annotate_fixes(env, out)?;
    gitignore_isms(env, lines, &explained, out)?;
    // A gitignore-ism that matches nothing at the root is not also dead.
    explained.extend(
        out.iter()
            .filter(|f| f.code == "DI001")
            .filter_map(|f| f.line),
    );
    trailing_slash(env, lines, out);
    effects(env, &explained, out);
    divergence(env, out)?;
    Ok(())
}

/// The text a gitignore-ism would be fixed to: `**/` + the line, when the
/// line is a normal pattern without `/` (but a trailing one) that does not
/// start with `**`.
fn gitignore_fix(l: &PatternLine) -> Option<String> {
    let t = trim_space(&l.raw);
    if t.starts_with(b"!") || t.starts_with(b"**") {
        return None;
    }
    let core = t.strip_suffix(b"/").unwrap_or(t);
    if core.is_empty() || core.contains(&b'/') || core == b"." || core == b".." {
        return None;
    }
    // Only when Docker reads the line as written.
    if l.pattern.as_slice() != core {
        return None;
    }
    let mut fix = b"**/".to_vec();
    fix.extend_from_slice(t);
    String::from_utf8(fix).ok()
}

fn gitignore_isms(
    env: &Env<'_>,
    lines: &[PatternLine],
    explained: &HashSet<usize>,
    out: &mut Vec<Finding>,
) -> Result<()> {
    // Only a sent path (or an ancestor of one) that `**/P` matches can stop
    // being sent, and (P holding no `/`, nor a class or escape that could
    // match one) `**/P` matches a path exactly when P matches its last
    // component. All the `**/P` at once, through the matcher's index: a
    // long ignore file is not tested line by line against every path.
    let mut deep_all = Matcher::default();
    let mut deep_line: Vec<usize> = Vec::new();
    for l in lines {
        if let Some(fix) = gitignore_fix(l) {
            if deep_all.push(l.line, fix.as_bytes()).is_ok()
                && deep_all.patterns().len() > deep_line.len()
            {
                deep_line.push(l.line);
            }
        }
    }
    let mut possible_lines: HashSet<usize> = HashSet::new();
    if !deep_line.is_empty() {
        env.facts.scan(|e| {
            if !e.has_sent {
                return;
            }
            for i in deep_all.direct_candidates(e.path) {
                let hit = deep_all
                    .patterns()
                    .get(i)
                    .is_some_and(|q| q.matches(e.path).unwrap_or(false));
                if let (true, Some(&line)) = (hit, deep_line.get(i)) {
                    possible_lines.insert(line);
                }
            }
        });
    }
    // (finding, removed paths, nested copies are directories)
    let mut found: Vec<(Finding, HashSet<Vec<u8>>, bool)> = Vec::new();
    for l in lines {
        if explained.contains(&l.line) {
            continue;
        }
        let Some(fix) = gitignore_fix(l) else {
            continue;
        };
        let mut one = Matcher::default();
        let mut base = Matcher::default();
        if one.push(0, fix.as_bytes()).is_err() || base.push(0, &l.pattern).is_err() {
            continue;
        }
        if !possible_lines.contains(&l.line) {
            continue;
        }
        let Some(ch) = change_line(env.ctx, env.facts, l.line, fix.as_bytes())? else {
            continue;
        };
        if ch.removed.is_empty() {
            continue;
        }
        let roots = roots_matched(&ch.removed, &one);
        let names: Vec<String> = roots.iter().map(|r| r.0.clone()).collect();
        let text = lossy(trim_space(&l.raw));
        let dirs = roots.iter().all(|r| r.0.ends_with('/'));
        let copies = match (roots.len(), dirs) {
            (1, true) => "1 nested copy is".to_string(),
            (1, false) => "1 nested match is".to_string(),
            (n, true) => format!("{n} nested copies are"),
            (n, false) => format!("{n} nested matches are"),
        };
        let f = Finding {
            code: "DI001",
            name: "gitignore-ism",
            level: Level::Warning,
            file: env.ignore_display.to_string(),
            line: Some(l.line),
            message: format!(
                "`{text}` only matches at the context root (.dockerignore patterns are anchored, unlike .gitignore): {copies} still sent, {}, {} ({})",
                files(ch.removed.len()),
                size(ch.removed_bytes()),
                list(&names, 4)
            ),
            fix: Some(fix),
            paths: names.into_iter().take(10).collect(),
            bytes: ch.removed_bytes(),
        };
        let removed = ch.removed.into_iter().map(|r| r.0).collect();
        found.push((f, removed, dirs));
    }
    // A finding whose nested matches all lie inside the nested directories
    // another one leaves out adds nothing once that one is fixed: say so.
    let n = found.len();
    for i in 0..n {
        let covering = (0..n).filter(|&j| j != i).find(|&j| {
            let (Some(a), Some(b)) = (found.get(i), found.get(j)) else {
                return false;
            };
            b.2 && b.0.line != a.0.line && a.1.is_subset(&b.1)
        });
        if let Some(j) = covering {
            let line = found.get(j).and_then(|b| b.0.line).unwrap_or(0);
            if let Some(a) = found.get_mut(i) {
                a.0.level = Level::Info;
                a.0.message.push_str(&format!(
                    "; all of them lie in the nested directories that the fix of line {line} leaves out"
                ));
            }
        }
    }
    out.extend(found.into_iter().map(|f| f.0));
    Ok(())
}

/// Adds to the syntax findings with a fix what the fix would change.
fn annotate_fixes(env: &Env<'_>, out: &mut [Finding]) -> Result<()> {
    for f in out.iter_mut() {
        if f.file != env.ignore_display || !matches!(f.code, "DI002" | "DI004" | "DI009") {
            continue;
        }
        let (Some(line), Some(fix)) = (f.line, f.fix.clone()) else {
            continue;
        };
        let Some(ch) = change_line(env.ctx, env.facts, line, fix.as_bytes())? else {
            continue;
        };
        f.message
            .push_str(&format!("; {}", describe_change(&fix, &ch)));
        f.paths = ch
            .removed
            .iter()
            .chain(&ch.added)
            .take(10)
            .map(|p| lossy(&p.0))
            .collect();
        f.bytes = ch.removed_bytes();
    }
    Ok(())
}

fn describe_change(fix: &str, ch: &Change) -> String {
    let mut parts = Vec::new();
    if !ch.removed.is_empty() {
        let tops: Vec<String> = by_top(&ch.removed).into_iter().map(|t| t.0).collect();
        parts.push(format!(
            "would leave out {}, {} ({})",
            files(ch.removed.len()),
            size(ch.removed_bytes()),
            list(&tops, 4)
        ));
    }
    if !ch.added.is_empty() {
        let tops: Vec<String> = by_top(&ch.added).into_iter().map(|t| t.0).collect();
        parts.push(format!(
            "would send {} more ({})",
            files(ch.added.len()),
            list(&tops, 4)
        ));
    }
    if parts.is_empty() {
        format!("`{fix}` would change nothing in this context")
    } else {
        format!("`{fix}` {}", parts.join(" and "))
    }
}

fn pattern_index(env: &Env<'_>, line: usize) -> Option<usize> {
    env.ctx
        .effective
        .patterns()
        .iter()
        .position(|p| p.line == line)
}

/// `name/` that matches a non-directory.
fn trailing_slash(env: &Env<'_>, lines: &[PatternLine], out: &mut Vec<Finding>) {
    for l in lines {
        let t = trim_space(&l.raw);
        if !t.ends_with(b"/") || t == b"/" || t == b"!/" {
            continue;
        }
        let Some(i) = pattern_index(env, l.line) else {
            continue;
        };
        let Some(p) = env.ctx.effective.patterns().get(i) else {
            continue;
        };
        let hits: Vec<Hit> = matching(env.facts, p)
            .into_iter()
            .filter(|e| e.kind != Kind::Dir)
            .collect();
        if hits.is_empty() {
            continue;
        }
        // Ten named, one more to tell that there are more.
        let names = sample_paths(env.facts, &hits, 11);
        let what = if p.exclusion {
            "re-includes"
        } else {
            "also leaves out"
        };
        out.push(Finding {
            code: "DI008",
            name: "trailing-slash",
            level: Level::Warning,
            file: env.ignore_display.to_string(),
            line: Some(l.line),
            message: format!(
                "`{}` {what} the non-directory {}: a trailing `/` does not mean \"directories only\" in .dockerignore",
                lossy(t),
                list(&names, 4)
            ),
            fix: None,
            paths: names.into_iter().take(10).collect(),
            bytes: hits.iter().map(|e| e.size).sum(),
        });
    }
}

/// Dead, shadowed and redundant rules, useless exceptions.
fn effects(env: &Env<'_>, explained: &HashSet<usize>, out: &mut Vec<Finding>) {
    let pats = env.ctx.effective.patterns();
    let deciders = env.facts.deciders();
    let dup_lines: HashSet<usize> = out
        .iter()
        .filter(|f| f.code == "DI013" && f.file == env.ignore_display)
        .filter_map(|f| f.line)
        .collect();
    let show = |i: usize| {
        pats.get(i).map_or_else(String::new, |p| {
            format!("line {} (`{}`)", p.line, p.display())
        })
    };
    for (i, p) in pats.iter().enumerate() {
        if p.line == 0 || deciders.contains(&i) || explained.contains(&p.line) {
            continue;
        }
        let matched: Vec<Hit> = matching(env.facts, p);
        // Which lines decide what this one matches, most entries first.
        let mut by: BTreeMap<usize, usize> = BTreeMap::new();
        for e in &matched {
            if let Some(b) = e.by {
                *by.entry(b).or_default() += 1;
            }
        }
        let mut by: Vec<(usize, usize)> = by.into_iter().collect();
        by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let is_exc = |j: usize| pats.get(j).is_some_and(|q| q.exclusion);
        // Exceptions that re-include what it matches; normal lines that
        // leave it out (first, or again).
        let later: Vec<String> = by
            .iter()
            .filter(|b| b.0 != i && is_exc(b.0) != p.exclusion)
            .map(|b| show(b.0))
            .collect();
        let earlier: Vec<String> = by
            .iter()
            .filter(|b| b.0 != i && is_exc(b.0) == p.exclusion)
            .map(|b| show(b.0))
            .collect();
        let text = p.display();
        let sample = sample_paths(env.facts, &matched, 10);
        let bytes = matched.iter().map(|e| e.size).sum();
        let (code, name, level, message) = if p.exclusion {
            let why = if matched.is_empty() {
                "matches nothing in this context".to_string()
            } else if matched.iter().all(|e| e.in_skipped) {
                let skipped = matched
                    .iter()
                    .find_map(|e| e.by)
                    .map_or_else(|| "an excluded directory".into(), show);
                match env.ctx.engine {
                    Engine::Classic => format!(
                        "re-includes nothing: what it matches lies in a directory left out by {skipped}, which the classic builder never enters (it re-opens an excluded directory only for an exception whose literal text starts with the directory's path)"
                    ),
                    Engine::Buildkit => format!(
                        "re-includes nothing: what it matches lies in a directory left out by {skipped}, which BuildKit never enters (it re-opens an excluded directory only for an exception whose text starts with the directory's path, unless some exception has a wildcard)"
                    ),
                }
            } else if !later.is_empty() {
                format!(
                    "re-includes nothing: what it matches is left out by {}",
                    list(&later, 2)
                )
            } else if !earlier.is_empty() {
                format!(
                    "re-includes nothing: {} re-includes what it matches",
                    list(&earlier, 2)
                )
            } else {
                "re-includes nothing: what it matches is not excluded".to_string()
            };
            (
                "DI014",
                "useless-exception",
                Level::Warning,
                format!("`{text}` {why}"),
            )
        } else if dup_lines.contains(&p.line) {
            continue;
        } else if matched.is_empty() {
            (
                "DI010",
                "dead-rule",
                Level::Info,
                format!("`{text}` matches nothing in this context"),
            )
        } else if !later.is_empty() {
            (
                "DI011",
                "shadowed-rule",
                Level::Warning,
                format!(
                    "`{text}` decides nothing: everything it matches ({}) is re-included by {}",
                    files(matched.len()),
                    list(&later, 2)
                ),
            )
        } else if !earlier.is_empty() {
            (
                "DI012",
                "redundant-rule",
                Level::Info,
                format!(
                    "`{text}` decides nothing: everything it matches ({}) is already left out by {}",
                    files(matched.len()),
                    list(&earlier, 2)
                ),
            )
        } else {
            (
                "DI012",
                "redundant-rule",
                Level::Info,
                format!("`{text}` decides nothing in this context"),
            )
        };
        out.push(Finding {
            code,
            name,
            level,
            file: env.ignore_display.to_string(),
            line: Some(p.line),
            message,
            fix: None,
            paths: sample,
            bytes,
        });
    }
}

/// Files classic and BuildKit send differently, attributed to lines.
fn divergence(env: &Env<'_>, out: &mut Vec<Finding>) -> Result<()> {
    let ctx = env.ctx;
    if !ctx.matcher.has_exclusions() {
        return Ok(());
    }
    let other = match ctx.engine {
        Engine::Classic => Engine::Buildkit,
        Engine::Buildkit => Engine::Classic,
    };
    let other_m = effective_for(ctx, other, ctx.matcher.clone());
    // The other engine's walk, re-decided over the entries gathered.
    let mut theirs = Redecider::new(other_m, other);
    // Build files travel separately or are re-added: not a pattern matter.
    let mut skip: Vec<Vec<u8>> = vec![b".dockerignore".to_vec()];
    skip.extend(ctx.dockerfile.clone());
    if let Some(f) = &ctx.ignore {
        if let Ok(r) = f.path.strip_prefix(&ctx.root) {
            use std::os::unix::ffi::OsStrExt;
            skip.push(r.as_os_str().as_bytes().to_vec());
        }
    }
    let pats = ctx.matcher.patterns();
    let is_line = |i: &Option<usize>| i.and_then(|i| pats.get(i)).is_some_and(|p| p.line > 0);
    // line index -> (ours only, theirs only)
    type Side = Vec<(Vec<u8>, u64)>;
    let mut groups: BTreeMap<usize, (Side, Side)> = BTreeMap::new();
    env.facts.scan(|e| {
        theirs.at_depth(e.depth);
        if e.kind == Kind::Dir || skip.iter().any(|s| s == e.path) {
            return;
        }
        let their = theirs
            .file(e.path, e.depth)
            .filter(|v| !v.excluded)
            .map(|v| v.by);
        if e.sent == their.is_some() {
            return;
        }
        // Left out by the other engine: the line that matches it there.
        let their_by = their.unwrap_or_else(|| {
            theirs
                .matcher()
                .matches_or_parent_matches(e.path)
                .ok()
                .and_then(|v| v.by)
        });
        // Prefer the exception that decided on either side.
        let cands = [e.by, their_by];
        let exc = cands
            .iter()
            .find(|c| is_line(c) && c.and_then(|i| pats.get(i)).is_some_and(|p| p.exclusion));
        let Some(Some(idx)) = exc.or_else(|| cands.iter().find(|c| is_line(c))).copied() else {
            return;
        };
        let g = groups.entry(idx).or_default();
        if e.sent {
            g.0.push((e.path.to_vec(), e.size));
        } else {
            g.1.push((e.path.to_vec(), e.size));
        }
    });
    let (me, them) = (ctx.engine.name(), other.name());
    for (idx, (ours, their)) in groups {
        let Some(p) = pats.get(idx) else { continue };
        let mut parts = Vec::new();
        let mut paths = Vec::new();
        let mut bytes = 0;
        for (side, sender, leaver) in [(&ours, me, them), (&their, them, me)] {
            if side.is_empty() {
                continue;
            }
            let b: u64 = side.iter().map(|s| s.1).sum();
            bytes += b;
            let names: Vec<String> = side.iter().map(|s| lossy(&s.0)).collect();
            parts.push(format!(
                "{sender} sends {}, {} that {leaver} leaves out ({})",
                files(side.len()),
                size(b),
                list(&names, 3)
            ));
            paths.extend(names.into_iter().take(5));
        }
        let why = if p.exclusion {
            "; BuildKit enters every excluded directory when an exception has a wildcard, the classic builder only one whose path starts an exception's literal text"
        } else {
            ""
        };
        out.push(Finding {
            code: "DI015",
            name: "engine-divergence",
            level: Level::Warning,
            file: env.ignore_display.to_string(),
            line: Some(p.line),
            message: format!(
                "`{}`: the engines disagree: {}{why}",
                p.display(),
                parts.join("; ")
            ),
            fix: None,
            paths,
            bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{run, run_engine, tree, with};
    use crate::walk::Engine;

    #[test]
    fn gitignore_ism_root_and_nested() {
        let d = tree(&[
            (".dockerignore", "node_modules/\n.git\n*.pyc\ndist\n"),
            ("Dockerfile", "FROM scratch\nCOPY . /\n"),
            ("node_modules/a.js", "aaaa"),
            ("pkg/x/node_modules/b.js", "bb"),
            ("pkg/y/node_modules/c.js", "ccc"),
            (".git/HEAD", "ref"),
            ("sub/.git/HEAD", "x"),
            ("a.pyc", "1"),
            ("dist/x", "1"),
        ]);
        let f = run(d.path());
        let g = with(&f, "DI001");
        // .git nested (sub/.git) is a real nested copy too; *.pyc and dist are not.
        assert_eq!(g.len(), 2, "{g:#?}");
        assert_eq!(g[0].line, Some(1));
        assert_eq!(g[0].fix.as_deref(), Some("**/node_modules/"));
        assert_eq!(g[0].bytes, 5);
        assert_eq!(g[0].paths, ["pkg/y/node_modules/", "pkg/x/node_modules/"]);
        assert_eq!(g[1].fix.as_deref(), Some("**/.git"));
        assert!(g[0].message.contains("2 nested copies"), "{}", g[0].message);
    }

    #[test]
    fn no_suggestion_when_nothing_more_is_excluded() {
        // Nested .venv under an excluded directory: `**/.venv` adds nothing.
        let d = tree(&[
            (".dockerignore", ".venv\nbuild\n"),
            (".venv/bin/python", "x"),
            ("build/.venv/x", "x"),
            ("src/main.py", "x"),
        ]);
        assert!(with(&run(d.path()), "DI001").is_empty());
    }

    #[test]
    fn dead_shadowed_redundant_useless() {
        let d = tree(&[
            (
                ".dockerignore",
                "**/__pycache__\n**/*.pyc\nnothing-here\ndocs\n!docs\n!src/keep\nlogs\n!**/*.keep\n",
            ),
            ("app/__pycache__/m.pyc", "x"),
            ("docs/a.md", "x"),
            ("src/keep", "x"),
            ("logs/a.keep", "x"),
        ]);
        let f = run_engine(d.path(), Engine::Classic);
        let line_of = |code| {
            with(&f, code)
                .iter()
                .map(|x| x.line.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(line_of("DI012"), [2]);
        assert_eq!(line_of("DI010"), [3]);
        assert_eq!(line_of("DI011"), [4]);
        // !src/keep: not excluded anyway; !**/*.keep: classic never enters logs/.
        assert_eq!(line_of("DI014"), [6, 8]);
        let logs = with(&f, "DI014")[1];
        assert!(logs.message.contains("never enters"), "{}", logs.message);
        // ... and BuildKit does enter it: the engines disagree, on line 8.
        let div = with(&f, "DI015");
        assert_eq!(div.len(), 1);
        assert_eq!(div[0].line, Some(8));
        assert_eq!(div[0].paths, ["logs/a.keep"]);
        let fb = run_engine(d.path(), Engine::Buildkit);
        assert!(with(&fb, "DI014").iter().all(|x| x.line != Some(8)));
        assert_eq!(with(&fb, "DI015")[0].line, Some(8));
    }

    #[test]
    fn redundant_through_a_later_skipped_directory() {
        // The .pyc files under .venv/ are left out by line 2 (the engine never
        // enters .venv/): line 1 is redundant, not shadowed.
        let d = tree(&[
            (".dockerignore", "**/*.pyc\n.venv\n"),
            (".venv/lib/a.pyc", "x"),
        ]);
        let f = run(d.path());
        assert!(with(&f, "DI011").is_empty(), "{f:#?}");
        let r = with(&f, "DI012");
        assert_eq!(r[0].line, Some(1));
        assert!(
            r[0].message.contains("line 2 (`.venv`)"),
            "{}",
            r[0].message
        );
    }

    #[test]
    fn trailing_slash_matches_files() {
        let d = tree(&[
            (".dockerignore", "build/\ncache/\n"),
            ("build", "a file"),
            ("cache/x", "y"),
        ]);
        let f = run(d.path());
        let t = with(&f, "DI008");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].line, Some(1));
        assert_eq!(t[0].paths, ["build"]);
    }

    #[test]
    fn inline_comment_effect() {
        let d = tree(&[
            (".dockerignore", "run # mounted as volume\n"),
            ("run/dev.sqlite3", "12345"),
            ("run/key.pem", "k"),
            ("app.py", "x"),
        ]);
        let f = run(d.path());
        let c = with(&f, "DI002");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].fix.as_deref(), Some("run"));
        assert_eq!(c[0].bytes, 6);
        assert!(
            c[0].message.contains("would leave out 2 files"),
            "{}",
            c[0].message
        );
        // Not also reported as a dead rule.
        assert!(with(&f, "DI010").is_empty());
    }
}
