//! Checks that involve the Dockerfile: COPY/ADD sources left out, the
//! Dockerfile-specific ignore file, excluded build files, context that no
//! instruction uses, and secrets that are sent.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crate::dockerfile::{self as df, ContextRef, Dockerfile};
use crate::error::Result;
use crate::matcher::Matcher;
use crate::walk::{Engine, Kind};

use super::facts::{by_top, matching, sent_files_with, Ent};
use super::secrets::secret_kind;
use super::{display_path, files, list, lossy, size, Env, Finding, Level};

struct Parsed {
    display: String,
    df: Option<Dockerfile>,
}

fn finding(
    code: &'static str,
    name: &'static str,
    level: Level,
    file: &str,
    line: Option<usize>,
    message: String,
) -> Finding {
    Finding {
        code,
        name,
        level,
        file: file.to_string(),
        line,
        message,
        fix: None,
        paths: Vec::new(),
        bytes: 0,
    }
}

fn read(env: &Env<'_>, out: &mut Vec<Finding>) -> Option<Parsed> {
    let abs = env.ctx.dockerfile_abs.as_ref()?;
    let display = display_path(abs);
    let data = std::fs::read(abs).ok()?;
    let text = String::from_utf8_lossy(&data);
    match df::parse(&text) {
        Ok(d) => Some(Parsed {
            display,
            df: Some(d),
        }),
        Err(e) => {
            out.push(finding(
                "DF008",
                "dockerfile-unreadable",
                Level::Warning,
                &display,
                Some(e.line),
                format!(
                    "cannot read the Dockerfile ({}): the checks of COPY/ADD sources are skipped",
                    e.message
                ),
            ));
            Some(Parsed { display, df: None })
        }
    }
}

fn single(pattern: &str) -> Option<Matcher> {
    let mut m = Matcher::default();
    m.push(0, pattern.as_bytes()).ok()?;
    if m.patterns().first().is_none_or(|p| p.is_bad()) {
        return None;
    }
    Some(m)
}

fn under(path: &[u8], top: &[u8]) -> bool {
    path == top
        || (path.len() > top.len() && path.starts_with(top) && path.get(top.len()) == Some(&b'/'))
}

fn instr(r: &ContextRef) -> String {
    if r.keyword == "RUN" {
        format!("RUN --mount=type=bind,source={}", r.path)
    } else {
        format!("{} {}", r.keyword, r.path)
    }
}

pub(crate) fn check(env: &Env<'_>, out: &mut Vec<Finding>) -> Result<()> {
    let parsed = read(env, out);
    let refs: Vec<ContextRef> = parsed
        .as_ref()
        .and_then(|p| p.df.as_ref())
        .map(|d| d.context_refs(env.opts.target.as_deref()))
        .unwrap_or_default();
    let df_display = parsed.as_ref().map(|p| p.display.clone());
    if let Some(disp) = &df_display {
        copy_sources(env, disp, &refs, out);
    }
    specific_ignore(env, out);
    build_files(env, out);
    // What BuildKit transfers for this Dockerfile (None: everything).
    let follow = parsed
        .as_ref()
        .and_then(|p| p.df.as_ref())
        .and_then(|d| d.follow_paths(env.opts.target.as_deref()));
    let transferred = match &follow {
        Some(paths) => {
            let mut inc = Matcher::default();
            for p in paths {
                let _ = inc.push(0, p.as_bytes());
            }
            Some(sent_files_with(
                env.ctx,
                Engine::Buildkit,
                &env.ctx.matcher,
                Some(&inc),
            )?)
        }
        None => None,
    };
    if let (Some(disp), Some(t)) = (&df_display, &transferred) {
        unused(env, disp, t, out);
    }
    secrets(env, df_display.as_deref(), &refs, transferred.as_ref(), out);
    Ok(())
}

fn copy_sources(env: &Env<'_>, disp: &str, refs: &[ContextRef], out: &mut Vec<Finding>) {
    let pats = env.ctx.effective.patterns();
    let show = |by: Option<usize>| {
        by.and_then(|i| pats.get(i)).map_or_else(
            || "the ignore file".to_string(),
            |p| format!("{}:{} (`{}`)", env.ignore_display, p.line, p.display()),
        )
    };
    let mut seen = HashSet::new();
    for r in refs {
        if r.unresolved || r.normalized == "/" || !seen.insert((r.line, r.normalized.clone())) {
            continue;
        }
        let src = r.normalized.trim_start_matches('/');
        let Some(m) = single(src) else { continue };
        let Some(p) = m.patterns().first() else {
            continue;
        };
        let tops: Vec<Ent> = matching(env.facts, p)
            .iter()
            .filter_map(|h| env.facts.ent(h.idx))
            .collect();
        if tops.is_empty() {
            let mut f = finding(
                "DF003",
                "copy-source-missing",
                Level::Warning,
                disp,
                Some(r.line),
                format!(
                    "`{}`: `{src}` is not in the context: the build fails unless something creates it first",
                    instr(r)
                ),
            );
            f.paths = vec![src.to_string()];
            out.push(f);
            continue;
        }
        let any_sent = tops.iter().any(|e| e.has_sent);
        if !any_sent {
            let by = tops.iter().find_map(|e| e.by);
            let mut f = finding(
                "DF001",
                "copy-excluded",
                Level::Error,
                disp,
                Some(r.line),
                format!(
                    "`{}`: `{src}` is left out by {}: the build fails (\"not found\")",
                    instr(r),
                    show(by)
                ),
            );
            f.paths = tops.iter().take(10).map(|e| lossy(&e.path)).collect();
            // The bytes of every file the source stands for (a directory's
            // files included).
            let mut bytes = 0;
            env.facts.scan(|e| {
                if e.kind != Kind::Dir && tops.iter().any(|t| under(e.path, &t.path)) {
                    bytes += e.size;
                }
            });
            f.bytes = bytes;
            out.push(f);
            continue;
        }
        // Files under a sent source that are left out, by deciding line.
        let mut groups: BTreeMap<usize, Vec<Ent>> = BTreeMap::new();
        env.facts.scan(|e| {
            if e.sent || e.kind == Kind::Dir || !tops.iter().any(|t| under(e.path, &t.path)) {
                return;
            }
            let Some(by) = e.by else { return };
            // Generic hygiene patterns (`**/…`) are meant to thin sources.
            if pats.get(by).is_none_or(|p| p.text.starts_with(b"**")) {
                return;
            }
            groups.entry(by).or_default().push(e.to_ent());
        });
        for (by, ents) in groups {
            let names: Vec<String> = ents.iter().map(|e| lossy(&e.path)).collect();
            let bytes = ents.iter().map(|e| e.size).sum();
            let mut f = finding(
                "DF002",
                "copy-partly-excluded",
                Level::Info,
                disp,
                Some(r.line),
                format!(
                    "`{}`: {} ({}) under `{src}` are left out by {}: the image will not have them ({})",
                    instr(r),
                    files(ents.len()),
                    size(bytes),
                    show(Some(by)),
                    list(&names, 3)
                ),
            );
            f.paths = names.into_iter().take(10).collect();
            f.bytes = bytes;
            out.push(f);
        }
    }
}

fn specific_ignore(env: &Env<'_>, out: &mut Vec<Finding>) {
    let Some(abs) = &env.ctx.dockerfile_abs else {
        return;
    };
    let mut s = abs.clone().into_os_string();
    s.push(".dockerignore");
    let specific = PathBuf::from(s);
    if !specific.is_file() {
        return;
    }
    let root = env.ctx.root.join(".dockerignore");
    let disp = display_path(&specific);
    let name = specific
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let f = if root.is_file() {
        finding(
            "DF004",
            "specific-ignore-file",
            Level::Warning,
            &disp,
            None,
            format!(
                "BuildKit reads `{name}` instead of .dockerignore (they are not merged): none of .dockerignore's rules apply under BuildKit, while the classic builder reads only .dockerignore"
            ),
        )
    } else {
        finding(
            "DF004",
            "specific-ignore-file",
            Level::Info,
            &disp,
            None,
            format!(
                "only BuildKit reads `{name}`: the classic builder (DOCKER_BUILDKIT=0) ignores it and sends the context without any ignore rules"
            ),
        )
    };
    out.push(f);
}

fn build_files(env: &Env<'_>, out: &mut Vec<Finding>) {
    let m = &env.ctx.matcher;
    let line_of = |by: Option<usize>| by.and_then(|i| m.patterns().get(i)).map(|p| p.line);
    if let Some(rel) = &env.ctx.dockerfile {
        if let Ok(v) = m.matches_or_parent_matches(rel) {
            if v.excluded {
                let name = lossy(rel);
                let readded = m.matches_deprecated(rel).unwrap_or(true);
                let (level, msg) = if readded {
                    (
                        Level::Info,
                        format!(
                            "the Dockerfile `{name}` is excluded; harmless: the classic builder re-adds it (`!{name}`) and the daemon removes it before the build, BuildKit reads it separately; `COPY . .` does not see it"
                        ),
                    )
                } else {
                    (
                        if env.ctx.engine == Engine::Classic {
                            Level::Error
                        } else {
                            Level::Warning
                        },
                        format!(
                            "the Dockerfile `{name}` is excluded through a parent directory: the classic builder's re-adding test misses that (it checks a single parent), so `DOCKER_BUILDKIT=0 docker build` fails with \"Cannot locate specified Dockerfile\"; BuildKit reads the Dockerfile separately"
                        ),
                    )
                };
                let mut f = finding(
                    "DF005",
                    "dockerfile-excluded",
                    level,
                    env.ignore_display,
                    line_of(v.by),
                    msg,
                );
                f.paths = vec![name];
                out.push(f);
            }
        }
    }
    if env.ctx.ignore.is_some() {
        if let Ok(v) = m.matches_or_parent_matches(b".dockerignore") {
            if v.excluded {
                let mut f = finding(
                    "DF006",
                    "dockerignore-excluded",
                    Level::Info,
                    env.ignore_display,
                    line_of(v.by),
                    "`.dockerignore` excludes itself; harmless: the classic builder re-adds it (`!.dockerignore`) and BuildKit reads it separately; `COPY . .` does not see it".to_string(),
                );
                f.paths = vec![".dockerignore".into()];
                out.push(f);
            }
        }
    }
}

fn build_file_paths(env: &Env<'_>) -> Vec<Vec<u8>> {
    let mut v = vec![b".dockerignore".to_vec()];
    v.extend(env.ctx.dockerfile.clone());
    if let Some(f) = &env.ctx.ignore {
        if let Ok(r) = f.path.strip_prefix(&env.ctx.root) {
            use std::os::unix::ffi::OsStrExt;
            v.push(r.as_os_str().as_bytes().to_vec());
        }
    }
    v
}

fn unused(env: &Env<'_>, disp: &str, transferred: &HashSet<Vec<u8>>, out: &mut Vec<Finding>) {
    let skip = build_file_paths(env);
    let mut unused: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut t_bytes: u64 = 0;
    env.facts.scan(|e| {
        if transferred.contains(e.path) {
            t_bytes += e.size;
        } else if e.sent && e.kind != Kind::Dir && !skip.iter().any(|s| s == e.path) {
            unused.push((e.path.to_vec(), e.size));
        }
    });
    if unused.is_empty() {
        return;
    }
    let bytes: u64 = unused.iter().map(|u| u.1).sum();
    let tops = by_top(&unused);
    let named: Vec<String> = tops
        .iter()
        .map(|(n, _, b)| format!("{n} {}", size(*b)))
        .collect();
    let mut f = finding(
        "DF007",
        "unused-context",
        Level::Info,
        disp,
        None,
        format!(
            "no COPY/ADD/RUN --mount of a reachable stage uses {}, {} of the context ({}): BuildKit transfers only {}, {} for this Dockerfile; the classic builder sends everything",
            files(unused.len()),
            size(bytes),
            list(&named, 4),
            files(transferred.len()),
            size(t_bytes)
        ),
    );
    f.paths = tops.into_iter().take(10).map(|t| t.0).collect();
    f.bytes = bytes;
    out.push(f);
}

/// Whether an `.npmrc`/`.pypirc` holds a credential (else it is harmless
/// registry configuration).
fn has_token(env: &Env<'_>, rel: &[u8]) -> bool {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    let p = env.ctx.root.join(std::ffi::OsStr::from_bytes(rel));
    let mut buf = Vec::new();
    let Ok(f) = std::fs::File::open(p) else {
        return true;
    };
    if f.take(256 * 1024).read_to_end(&mut buf).is_err() {
        return true;
    }
    let t = String::from_utf8_lossy(&buf).to_lowercase();
    ["_auth", "password", "token"].iter().any(|k| t.contains(k))
}

fn secrets(
    env: &Env<'_>,
    df_display: Option<&str>,
    refs: &[ContextRef],
    transferred: Option<&HashSet<Vec<u8>>>,
    out: &mut Vec<Finding>,
) {
    let matchers: Vec<(&ContextRef, Option<Matcher>)> = refs
        .iter()
        .filter(|r| !r.unresolved)
        .map(|r| {
            let m = if r.normalized == "/" {
                None
            } else {
                single(r.normalized.trim_start_matches('/'))
            };
            (r, m)
        })
        .collect();
    let mut candidates: Vec<Ent> = Vec::new();
    env.facts.scan(|e| {
        if e.sent && e.kind != Kind::Dir && secret_kind(e.path).is_some() {
            candidates.push(e.to_ent());
        }
    });
    for e in candidates {
        let Some(kind) = secret_kind(&e.path) else {
            continue;
        };
        let name = e.path.rsplit(|&c| c == b'/').next().unwrap_or_default();
        if matches!(name, b".npmrc" | b".pypirc") && !has_token(env, &e.path) {
            continue;
        }
        let path = lossy(&e.path);
        let copied = matchers.iter().find(|(r, m)| match m {
            None => r.normalized == "/",
            Some(m) => m
                .matches_or_parent_matches(&e.path)
                .is_ok_and(|v| v.excluded),
        });
        let not_transferred =
            env.ctx.engine == Engine::Buildkit && transferred.is_some_and(|t| !t.contains(&e.path));
        let (level, tail) = match (copied, df_display) {
            (Some((r, _)), Some(d)) => (
                Level::Error,
                format!("{d}:{} `{}` copies it into the image", r.line, instr(r)),
            ),
            _ if not_transferred => (
                Level::Warning,
                "no COPY/ADD uses it, so BuildKit does not transfer it for this Dockerfile, but the classic builder sends it".to_string(),
            ),
            _ => (
                Level::Error,
                "it reaches the builder (no COPY/ADD copies it into the image)".to_string(),
            ),
        };
        let mut f = finding(
            "SE001",
            "secret-sent",
            level,
            env.ignore_display,
            None,
            format!("`{path}` ({kind}) is sent: {tail}; add `{path}` to the ignore file"),
        );
        f.paths = vec![path];
        f.bytes = e.size;
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{run, run_engine, tree, with};
    use crate::walk::Engine;

    #[test]
    fn copy_sources() {
        let d = tree(&[
            (".dockerignore", "config\nsrc/secret.txt\n**/*.log\n"),
            (
                "Dockerfile",
                "FROM alpine\nCOPY config /etc/app\nCOPY src /src\nCOPY missing.txt /\nRUN --mount=type=bind,source=config,target=/c true\n",
            ),
            ("config/app.toml", "x"),
            ("src/main.rs", "x"),
            ("src/secret.txt", "xx"),
            ("src/debug.log", "x"),
        ]);
        let f = run(d.path());
        let ex = with(&f, "DF001");
        assert_eq!(
            ex.iter().map(|x| x.line).collect::<Vec<_>>(),
            [Some(2), Some(5)]
        );
        assert!(
            ex[0].message.contains(".dockerignore:1 (`config`)"),
            "{}",
            ex[0].message
        );
        let part = with(&f, "DF002");
        assert_eq!(part.len(), 1, "the **/*.log line is hygiene, not reported");
        assert_eq!(part[0].paths, ["src/secret.txt"]);
        assert_eq!(with(&f, "DF003")[0].line, Some(4));
    }

    #[test]
    fn build_files_excluded() {
        let d = tree(&[
            (".dockerignore", "**/docker\n.dockerignore\n"),
            ("docker/Dockerfile", "FROM scratch\nCOPY . /\n"),
            ("a", "x"),
        ]);
        let mut o = crate::context::Options::new(d.path(), Engine::Classic);
        o.dockerfile = Some(d.path().join("docker/Dockerfile"));
        let ctx = crate::context::Context::open(&o).unwrap();
        let f = crate::lint::lint(&ctx, &Default::default()).unwrap();
        let df = with(&f, "DF005");
        assert_eq!(df[0].level, crate::lint::Level::Error);
        assert_eq!(df[0].line, Some(1));
        assert_eq!(with(&f, "DF006")[0].line, Some(2));
        let d2 = tree(&[
            (".dockerignore", "Dockerfile\n"),
            ("Dockerfile", "FROM scratch\n"),
        ]);
        let f2 = run(d2.path());
        assert_eq!(with(&f2, "DF005")[0].level, crate::lint::Level::Info);
    }

    #[test]
    fn specific_ignore_file() {
        let d = tree(&[
            (".dockerignore", "a\n"),
            ("Dockerfile", "FROM scratch\nCOPY . /\n"),
            ("Dockerfile.dockerignore", "b\n"),
            ("a", "x"),
            ("b", "x"),
        ]);
        let f = run(d.path());
        let s = with(&f, "DF004");
        assert_eq!(s.len(), 1);
        assert!(s[0].file.ends_with("Dockerfile.dockerignore"));
        assert_eq!(s[0].level, crate::lint::Level::Warning);
    }

    #[test]
    fn unused_context_and_secrets() {
        let d = tree(&[
            (".dockerignore", ".git\n"),
            ("Dockerfile", "FROM alpine\nCOPY app /app\n"),
            ("app/main.py", "print()"),
            ("app/.env", "TOKEN=1"),
            ("docs/big.md", "0123456789"),
            (".env.example", "x"),
            ("id_rsa", "key"),
            (".npmrc", "registry=https://example.org/\n"),
        ]);
        let f = run(d.path());
        let u = with(&f, "DF007");
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].bytes, 44);
        assert_eq!(u[0].paths, [".npmrc", "docs/", "id_rsa", ".env.example"]);
        let s = with(&f, "SE001");
        assert_eq!(s.len(), 2, "{s:#?}");
        assert_eq!(s[0].paths, ["app/.env"]);
        assert_eq!(s[0].level, crate::lint::Level::Error);
        assert!(
            s[0].message.contains(":2 `COPY app` copies it"),
            "{}",
            s[0].message
        );
        // id_rsa is not transferred by BuildKit for this Dockerfile...
        assert_eq!(s[1].level, crate::lint::Level::Warning);
        // ... but the classic builder sends it.
        let c = run_engine(d.path(), Engine::Classic);
        assert!(with(&c, "SE001")
            .iter()
            .all(|x| x.level == crate::lint::Level::Error));
        // COPY . . uses everything.
        let d2 = tree(&[("Dockerfile", "FROM alpine\nCOPY . /app\n"), ("x", "1")]);
        assert!(with(&run(d2.path()), "DF007").is_empty());
    }
}
