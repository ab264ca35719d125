//! Files that `.gitignore` ignores but Docker sends (GI001): usually build
//! output, caches and local configuration that the image does not need.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use crate::walk::Kind;

use super::{files, list, lossy, size, Env, Finding, Level};

/// The `.gitignore` files of the context, by directory (relative, `""` for
/// the root), deepest first.
fn load(env: &Env<'_>) -> Vec<(Vec<u8>, Gitignore)> {
    let mut v = Vec::new();
    env.facts.scan(|e| {
        if e.kind != Kind::File {
            return;
        }
        let (dir, name) = match e.path.iter().rposition(|&c| c == b'/') {
            Some(i) => (
                e.path.get(..i).unwrap_or_default(),
                e.path.get(i + 1..).unwrap_or_default(),
            ),
            None => (&b""[..], e.path),
        };
        if name != b".gitignore" || dir.split(|&c| c == b'/').any(|c| c == b".git") {
            return;
        }
        let abs_dir = env.ctx.root.join(OsStr::from_bytes(dir));
        let mut b = GitignoreBuilder::new(&abs_dir);
        if b.add(abs_dir.join(".gitignore")).is_some() {
            // Unreadable or partly invalid: use what could be read.
        }
        if let Ok(g) = b.build() {
            if !g.is_empty() {
                v.push((dir.to_vec(), g));
            }
        }
    });
    v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    v
}

/// Whether git ignores `path` (a file), the deepest `.gitignore` that has
/// an opinion deciding.
fn ignored(gis: &[(Vec<u8>, Gitignore)], path: &[u8]) -> bool {
    for (dir, g) in gis {
        let rel = if dir.is_empty() {
            path
        } else if path.len() > dir.len()
            && path.starts_with(dir)
            && path.get(dir.len()) == Some(&b'/')
        {
            path.get(dir.len() + 1..).unwrap_or_default()
        } else {
            continue;
        };
        match g.matched_path_or_any_parents(Path::new(OsStr::from_bytes(rel)), false) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}

pub(crate) fn check(env: &Env<'_>, out: &mut Vec<Finding>) {
    let gis = load(env);
    if gis.is_empty() {
        return;
    }
    // top-level group -> (files, bytes, sample paths)
    let mut groups: BTreeMap<Vec<u8>, (usize, u64, Vec<String>)> = BTreeMap::new();
    env.facts.scan(|e| {
        if !e.sent || e.kind == Kind::Dir || e.path.starts_with(b".git/") {
            return;
        }
        if !ignored(&gis, e.path) {
            return;
        }
        let key = match e.path.iter().position(|&c| c == b'/') {
            Some(i) => {
                let mut k = e.path.get(..i).unwrap_or_default().to_vec();
                k.push(b'/');
                k
            }
            None => e.path.to_vec(),
        };
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += e.size;
        if g.2.len() < 10 {
            g.2.push(lossy(e.path));
        }
    });
    for (key, (n, bytes, sample)) in groups {
        let top = lossy(&key);
        let pattern = top.trim_end_matches('/');
        let message = if key.ends_with(b"/") {
            let (are, them) = if n == 1 {
                ("is", "it")
            } else {
                ("are", "them")
            };
            format!(
                "{} ({}) under `{top}` {are} ignored by .gitignore but sent ({}); if the build does not need {them}, add a pattern for {them} (e.g. `{pattern}`) to the ignore file",
                files(n),
                size(bytes),
                list(&sample, 3)
            )
        } else {
            format!(
                "`{top}` ({}) is ignored by .gitignore but sent; if the build does not need it, add `{pattern}` to the ignore file",
                size(bytes)
            )
        };
        out.push(Finding {
            code: "GI001",
            name: "gitignored-sent",
            level: Level::Info,
            file: env.ignore_display.to_string(),
            line: None,
            message,
            fix: None,
            paths: sample,
            bytes,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{run, tree, with};

    #[test]
    fn gitignored_but_sent() {
        let d = tree(&[
            (".gitignore", "build/\n*.log\n!keep.log\n"),
            (".dockerignore", "*.log\n"),
            ("build/out.bin", "0123"),
            ("build/more/x", "0"),
            ("src/app.log", "l"),
            ("src/keep.log", "k"),
            ("src/main.c", "m"),
            ("web/.gitignore", "dist\n"),
            ("web/dist/a.js", "aa"),
            ("root.log", "excluded by docker"),
        ]);
        let f = run(d.path());
        let g = with(&f, "GI001");
        let got: Vec<_> = g.iter().map(|x| (x.paths.clone(), x.bytes)).collect();
        assert_eq!(
            got,
            [
                (
                    vec!["build/more/x".to_string(), "build/out.bin".to_string()],
                    5
                ),
                (vec!["src/app.log".to_string()], 1),
                (vec!["web/dist/a.js".to_string()], 2),
            ]
        );
    }
}
