//! `ctxray lint`: the nine real-world cases in `tests/lint-cases/`, exit
//! codes, `--json`, `--fix` and `--write`, and a snapshot of the human
//! output.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ctxray::context::{Context, IgnoreSource, Options};
use ctxray::lint::{lint, Finding, LintOptions};
use ctxray::walk::{Engine, Kind};
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

use crate::common::tree_bytes as ctx;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `ctxray lint ARGS` in `dir`.
fn lint_in(dir: &Path, args: &[&str]) -> Run {
    let o = Command::cargo_bin("ctxray")
        .unwrap()
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn codes(f: &[Finding]) -> Vec<(&'static str, Option<usize>)> {
    f.iter().map(|x| (x.code, x.line)).collect()
}

// ------------------------------------------------------- real-world cases

struct Case {
    name: String,
    dir: PathBuf,
    json: serde_json::Value,
}

fn cases() -> Vec<Case> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lint-cases");
    let mut v: Vec<Case> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").is_file())
        .map(|dir| Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            json: serde_json::from_slice(&fs::read(dir.join("case.json")).unwrap()).unwrap(),
            dir,
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(v.len(), 9, "the nine real-world cases");
    v
}

/// Materializes a case: every tracked path as a one-byte file, the planted
/// bloat with its size (sparse), a Dockerfile that copies the whole context
/// at the case's Dockerfile path, and the given ignore file.
fn materialize(c: &Case, ignore: &str) -> TempDir {
    // Thousands of small files: on a RAM disk when there is one.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("ctxray-lint-")
            .tempdir_in(shm)
            .or_else(|_| tempfile::tempdir())
            .unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let root = dir.path();
    let tree = fs::read_to_string(c.dir.join("tree.txt")).unwrap();
    for p in tree.lines().filter(|l| !l.is_empty()) {
        let f = root.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, b"\n").unwrap();
    }
    for plant in c.json["plant"].as_array().unwrap() {
        let f = root.join(plant[0].as_str().unwrap());
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::File::create(&f)
            .unwrap()
            .set_len(plant[1].as_u64().unwrap())
            .unwrap();
    }
    let df = root.join(c.json["dockerfile"].as_str().unwrap());
    fs::create_dir_all(df.parent().unwrap()).unwrap();
    fs::write(&df, "FROM alpine\nWORKDIR /app\nCOPY . .\n").unwrap();
    fs::copy(c.dir.join(ignore), root.join(".dockerignore")).unwrap();
    dir
}

fn open(c: &Case, root: &Path, engine: Engine, ignore: IgnoreSource) -> Context {
    let mut o = Options::new(root, engine);
    o.dockerfile = Some(root.join(c.json["dockerfile"].as_str().unwrap()));
    o.ignore = ignore;
    Context::open(&o).unwrap()
}

fn sent_files(ctx: &Context) -> HashSet<Vec<u8>> {
    ctxray::context::sent_entries(ctx)
        .unwrap()
        .into_iter()
        .filter(|(_, k)| *k != Kind::Dir)
        .map(|(p, _)| p)
        .collect()
}

fn code_of(kind: &str) -> &'static str {
    match kind {
        "gitignore-ism" => "DI001",
        "inline-comment" => "DI002",
        k => panic!("unknown expected kind {k}"),
    }
}

/// A line shaped like a gitignore-ism: a normal pattern without `/` (but a
/// trailing one), not starting with `**`.
fn shaped(line: &str) -> bool {
    let t = line.trim();
    let core = t.strip_suffix('/').unwrap_or(t);
    !t.is_empty()
        && !t.starts_with(['#', '!'])
        && !t.starts_with("**")
        && !core.contains('/')
        && !core.contains(" #")
}

#[test]
fn nine_real_cases() {
    assert_eq!(cases().len(), 9);
}

macro_rules! real_case {
    ($($test:ident => $dir:expr),* $(,)?) => {
        $( #[test] fn $test() { real_case($dir); } )*
    };
}

real_case! {
    case_agent_service_toolkit => "JoshuaC215__agent-service-toolkit",
    case_mailtrain => "Mailtrain-org__mailtrain",
    case_aios => "agiresearch__AIOS",
    case_galaxy => "galaxyproject__galaxy",
    case_faro_web_sdk => "grafana__faro-web-sdk",
    case_kueue => "kubernetes-sigs__kueue",
    case_namada_interface => "namada-net__namada-interface",
    case_scionlab => "netsec-ethz__scionlab",
    case_open_rag_eval => "vectara__open-rag-eval",
}

/// Every expected finding of a case at its line with an accepted fix; a
/// `**/` suggestion exactly where it changes what is sent; none of them
/// left with the fixed file.
fn real_case(name: &str) {
    {
        let c = cases().into_iter().find(|c| c.name == name).unwrap();
        let d = materialize(&c, "dockerignore.bad");
        let ctx = open(&c, d.path(), Engine::Buildkit, IgnoreSource::Auto);
        let found = lint(&ctx, &LintOptions::default()).unwrap();
        let expected = c.json["expected"].as_array().unwrap();
        for e in expected {
            let line = e["line"].as_u64().unwrap() as usize;
            let code = code_of(e["kind"].as_str().unwrap());
            let fixes: Vec<&str> = e["fix"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            let hit = found
                .iter()
                .find(|f| f.code == code && f.line == Some(line))
                .unwrap_or_else(|| {
                    panic!("{}: no {code} at line {line}: {:?}", c.name, codes(&found))
                });
            let fix = hit.fix.as_deref().unwrap();
            assert!(
                fixes.contains(&fix),
                "{}: L{line} fix {fix:?} not in {fixes:?}",
                c.name
            );
            assert!(
                hit.bytes > 0 && !hit.paths.is_empty(),
                "{}: L{line}",
                c.name
            );
        }

        // Near misses: a `**/` suggestion is made exactly when `**/P` stops
        // sending something, checked independently by opening the context
        // with the changed file and listing what is sent (only needed when
        // some sent path has a component named like P).
        let base = sent_files(&ctx);
        let mut names: HashSet<String> = HashSet::new();
        for p in ctxray::context::sent_entries(&ctx).unwrap() {
            for comp in String::from_utf8_lossy(&p.0).split('/') {
                names.insert(comp.to_string());
            }
        }
        let bad = fs::read_to_string(c.dir.join("dockerignore.bad")).unwrap();
        let alt_dir = tempfile::tempdir().unwrap();
        for (i, text) in bad.lines().enumerate() {
            let line = i + 1;
            if !shaped(text) {
                continue;
            }
            let suggested = found
                .iter()
                .any(|f| f.code == "DI001" && f.line == Some(line));
            if matches!(text.trim(), ".git" | ".venv") {
                assert!(!suggested, "{}: `{text}` is at the root only", c.name);
            }
            let mut one = ctxray::matcher::Matcher::default();
            one.push(0, text.trim().as_bytes()).unwrap();
            let p = &one.patterns()[0];
            if !names
                .iter()
                .any(|n| p.matches(n.as_bytes()).unwrap_or(false))
            {
                assert!(
                    !suggested,
                    "{}: L{line} `{text}` matches no sent name",
                    c.name
                );
                continue;
            }
            let mut lines: Vec<String> = bad.lines().map(str::to_string).collect();
            lines[i] = format!("**/{}", text.trim());
            let alt = alt_dir.path().join(format!("alt{line}"));
            fs::write(&alt, lines.join("\n")).unwrap();
            let actx = open(&c, d.path(), Engine::Buildkit, IgnoreSource::File(alt));
            let changes = sent_files(&actx) != base;
            let suggested = found
                .iter()
                .any(|f| f.code == "DI001" && f.line == Some(line));
            assert_eq!(
                suggested, changes,
                "{}: L{line} `{text}`: suggestion {suggested}, `**/` changes what is sent: {changes}",
                c.name
            );
            if matches!(text.trim(), ".git" | ".venv") {
                assert!(!suggested, "{}: `{text}` is at the root only", c.name);
            }
        }

        // The fixed file: those findings are gone.
        fs::copy(
            c.dir.join("dockerignore.fixed"),
            d.path().join(".dockerignore"),
        )
        .unwrap();
        let ctx = open(&c, d.path(), Engine::Buildkit, IgnoreSource::Auto);
        let after = lint(&ctx, &LintOptions::default()).unwrap();
        let fixed = fs::read_to_string(c.dir.join("dockerignore.fixed")).unwrap();
        for e in expected {
            let code = code_of(e["kind"].as_str().unwrap());
            let pattern = e["pattern"].as_str().unwrap();
            for (i, text) in fixed.lines().enumerate() {
                let t = text.trim();
                let is_fix = e["fix"].as_array().unwrap().iter().any(|f| f == t);
                if t == pattern || is_fix {
                    assert!(
                        !after
                            .iter()
                            .any(|f| f.code == code && f.line == Some(i + 1)),
                        "{}: {code} still reported at fixed line {}: {:?}",
                        c.name,
                        i + 1,
                        codes(&after)
                    );
                }
            }
        }
        assert!(
            !after.iter().any(|f| f.code == "DI002"),
            "{}: {:?}",
            c.name,
            codes(&after)
        );
    }
}

#[test]
fn real_case_write_round_trip() {
    // `--write` on a real case applies every fix, and a second lint does not
    // report them again.
    let c = cases()
        .into_iter()
        .find(|c| c.name.starts_with("grafana"))
        .unwrap();
    let d = materialize(&c, "dockerignore.bad");
    let df = c.json["dockerfile"].as_str().unwrap();
    let r = lint_in(d.path(), &["--write", "-f", df, "--fail-on", "never"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let now = fs::read_to_string(d.path().join(".dockerignore")).unwrap();
    let lines: Vec<&str> = now.lines().collect();
    assert_eq!(lines[18], "**/dist");
    assert_eq!(lines[21], "**/node_modules");
    let again = lint_in(d.path(), &["--json", "-f", df]);
    let v: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let fixable: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["fix"].is_null())
        .collect();
    assert!(fixable.is_empty(), "{fixable:?}");
}

// ------------------------------------------------------------------- CLI

#[test]
fn exit_codes() {
    let clean = ctx(&[
        (".dockerignore", b"**/node_modules\n"),
        ("Dockerfile", b"FROM alpine\nCOPY . .\n"),
        ("node_modules/x", b"1"),
        ("app.py", b"print()\n"),
    ]);
    let r = lint_in(clean.path(), &["--color", "never"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "no findings\n"),
        "{}",
        r.stderr
    );

    // A warning: exit 0 by default, 1 with --fail-on warning.
    let warn = ctx(&[
        (".dockerignore", b"node_modules\n"),
        ("Dockerfile", b"FROM alpine\nCOPY . .\n"),
        ("a/node_modules/x", b"1"),
    ]);
    assert_eq!(lint_in(warn.path(), &[]).code, 0);
    assert_eq!(lint_in(warn.path(), &["--fail-on", "warning"]).code, 1);
    assert_eq!(lint_in(warn.path(), &["--fail-on", "info"]).code, 1);

    // An error (a secret is sent): 1 by default, 0 with never.
    let secret = ctx(&[
        ("Dockerfile", b"FROM alpine\nCOPY . .\n"),
        (".env", b"TOKEN=x\n"),
    ]);
    assert_eq!(lint_in(secret.path(), &[]).code, 1);
    assert_eq!(lint_in(secret.path(), &["--fail-on", "never"]).code, 0);

    // Usage and input errors: 2.
    assert_eq!(lint_in(clean.path(), &["--fail-on", "sometimes"]).code, 2);
    assert_eq!(lint_in(clean.path(), &["no-such-dir"]).code, 2);
    assert_eq!(lint_in(clean.path(), &["--json", "--fix"]).code, 2);

    // An ignore file Docker refuses is still linted (its text).
    let refused = ctx(&[
        (".dockerignore", b"a\n!\n"),
        ("Dockerfile", b"FROM alpine\n"),
    ]);
    let r = lint_in(refused.path(), &["--color", "never"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with(".dockerignore:2: error[DI005 lone-bang]: "),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("refuses"), "{}", r.stderr);
}

#[test]
fn json_shape() {
    let d = ctx(&[
        (".dockerignore", b"node_modules/\nrun # volume\n"),
        ("Dockerfile", b"FROM alpine\nCOPY . .\n"),
        ("pkg/node_modules/x.js", b"12345"),
        ("run/db", b"1"),
    ]);
    let r = lint_in(d.path(), &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["engine"], "buildkit");
    assert_eq!(
        v["counts"],
        serde_json::json!({"error": 0, "warning": 2, "info": 0})
    );
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    let keys: Vec<&String> = f[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["bytes", "code", "file", "fix", "level", "line", "message", "name", "paths"]
    );
    assert_eq!(f[0]["code"], "DI001");
    assert_eq!(f[0]["name"], "gitignore-ism");
    assert_eq!(f[0]["level"], "warning");
    assert_eq!(f[0]["file"], ".dockerignore");
    assert_eq!(f[0]["line"], 1);
    assert_eq!(f[0]["fix"], "**/node_modules/");
    assert_eq!(f[0]["paths"], serde_json::json!(["pkg/node_modules/"]));
    assert_eq!(f[0]["bytes"], 5);
    assert_eq!(f[1]["code"], "DI002");
    assert_eq!(f[1]["fix"], "run");
}

#[test]
fn fix_prints_a_unified_diff() {
    let d = ctx(&[
        (
            ".dockerignore",
            b"# deps\nnode_modules\n.git\nrun # volume\n*.py[!c]\nsrc\\app\n",
        ),
        ("Dockerfile", b"FROM alpine\nCOPY . .\n"),
        ("a/node_modules/x.js", b"1"),
        (".git/HEAD", b"ref"),
        ("run/db", b"1"),
    ]);
    let before = fs::read(d.path().join(".dockerignore")).unwrap();
    let r = lint_in(d.path(), &["--fix"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "--- a/.dockerignore\n+++ b/.dockerignore\n@@ -1,6 +1,6 @@\n # deps\n-node_modules\n+**/node_modules\n .git\n-run # volume\n-*.py[!c]\n-src\\app\n+run\n+*.py[^c]\n+src/app\n"
    );
    // --fix alone leaves the file alone.
    assert_eq!(fs::read(d.path().join(".dockerignore")).unwrap(), before);
}

#[test]
fn write_keeps_crlf_and_is_idempotent() {
    let text = b"\xEF\xBB\xBFnode_modules/\r\n# keep\r\n  # indented\r\n.git\r\n*.pyc";
    let d = ctx(&[
        (".dockerignore", text),
        ("Dockerfile", b"FROM alpine\nCOPY . .\n"),
        ("a/node_modules/x.js", b"1"),
        ("b/c/m.pyc", b"1"),
        (".git/HEAD", b"ref"),
    ]);
    let r = lint_in(d.path(), &["--write"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("3 lines fixed"), "{}", r.stderr);
    let after = fs::read(d.path().join(".dockerignore")).unwrap();
    assert_eq!(
        after,
        b"\xEF\xBB\xBF**/node_modules/\r\n# keep\r\n# indented\r\n.git\r\n**/*.pyc".to_vec()
    );
    // No stray temporary file.
    let names: Vec<String> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    // Linting again reports none of them, and a second --write changes nothing.
    let again = lint_in(d.path(), &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fix"].is_null()),
        "{}",
        again.stdout
    );
    let r2 = lint_in(d.path(), &["--write"]);
    assert!(r2.stderr.contains("nothing to fix"), "{}", r2.stderr);
    assert_eq!(fs::read(d.path().join(".dockerignore")).unwrap(), after);
}

#[test]
fn engines_and_dockerfile_findings() {
    let d = ctx(&[
        (
            ".dockerignore",
            b"**/node_modules\n!**/node_modules/keep.txt\nconfig\n",
        ),
        (
            "Dockerfile",
            b"FROM alpine\nCOPY config /etc/app\nCOPY src /src\n",
        ),
        ("node_modules/keep.txt", b"k"),
        ("node_modules/big.js", b"0123456789"),
        ("config/app.toml", b"x"),
        ("src/main.py", b"x"),
        ("docs/guide.md", b"0123"),
    ]);
    let classic = lint_in(d.path(), &["--engine", "classic", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&classic.stdout).unwrap();
    let got: Vec<(String, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert!(got.contains(&("DF001".into(), 2)), "{got:?}");
    assert!(got.contains(&("DI015".into(), 2)), "{got:?}");
    assert!(got.contains(&("DI014".into(), 2)), "{got:?}");
    assert!(got.contains(&("DF007".into(), 0)), "{got:?}");
    assert_eq!(classic.code, 1);
}

#[test]
fn human_output_snapshot() {
    let d = ctx(&[
        (
            ".dockerignore",
            b"# build output\nnode_modules\n  # old\nrun # dev data\n.git\n.venv\nlogs/\n*.pyc\nnever-there\nbuild\\out\nsecrets\n!secrets/public.pem\ndocs\n!docs\n",
        ),
        ("Dockerfile", b"FROM python:3.12\nCOPY app /app\nCOPY secrets /secrets\n"),
        (".gitignore", b"coverage/\n"),
        ("node_modules/x.js", b"1"),
        ("web/node_modules/react.js", b"0123456789"),
        ("app/main.py", b"print()\n"),
        ("app/__pycache__/main.cpython-312.pyc", b"0123456789abcdef"),
        ("app/.env", b"TOKEN=1\n"),
        ("run/dev.sqlite3", b"0123456789"),
        (".git/HEAD", b"ref: refs/heads/main\n"),
        (".venv/bin/python", b"x"),
        ("logs", b"a file named logs"),
        ("secrets/public.pem", b"pem"),
        ("docs/index.md", b"# docs\n"),
        ("coverage/index.html", b"<html>"),
    ]);
    let r = lint_in(d.path(), &["--color", "never"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("lint_human", r.stdout);
}
