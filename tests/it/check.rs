//! `ctxray check`: every rule passing and failing through the CLI, every
//! output format (SARIF validated against the vendored SARIF 2.1.0 JSON
//! schema), exit codes, configuration errors, the default rules, the
//! pre-commit hook definition, the man page and completions, and the
//! Docker CLI plugin through the real `docker` CLI.
//!
//! The plugin test needs `docker` on PATH (no daemon): without it, it
//! fails unless `CTXRAY_SKIP_DOCKER=1` is set.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ctxray::context::{Context, Options};
use ctxray::lint::{Level, LintOptions};
use ctxray::walk::Engine;
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ctxray");

use crate::common::tree;

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn run_in<I, S>(cwd: Option<&Path>, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(BIN);
    c.args(args).env_remove("NO_COLOR");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let o = c.output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8(o.stdout).unwrap(),
        err: String::from_utf8(o.stderr).unwrap(),
    }
}

fn check(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["check".to_string(), dir.to_string_lossy().into_owned()];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_in(None, args)
}

fn json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut a = extra.to_vec();
    a.extend(["--format", "json"]);
    let r = check(dir, &a);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.err);
    (r.code, serde_json::from_str(&r.out).unwrap())
}

fn rule<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

/// The text line of a rule: `  PASS  max-bytes ...`.
fn line_of<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no line for {id} in:\n{out}"))
}

fn clean() -> TempDir {
    tree(&[
        ("Dockerfile", "FROM scratch\nCOPY app /app\n"),
        ("app/main.py", "print('hi')\n"),
        ("app/util.py", "x = 1\n"),
    ])
}

// ---------------------------------------------------------------- defaults

#[test]
fn default_rules_fail_on_git_and_env_then_pass_with_dockerignore() {
    let d = tree(&[
        ("Dockerfile", "FROM scratch\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        (".git/config", "[core]\n"),
        (".env", "TOKEN=1\n"),
        ("src/app.py", "\n"),
    ]);
    let r = check(d.path(), &[]);
    assert_eq!(r.code, 1, "{}{}", r.out, r.err);
    assert!(line_of(&r.out, "deny").contains("FAIL"), "{}", r.out);
    assert!(line_of(&r.out, "secrets").contains("FAIL"), "{}", r.out);
    assert!(
        r.out
            .contains(".git/  matches deny pattern `.git` (default); 3 entries sent"),
        "{}",
        r.out
    );
    assert!(r.out.contains(".env  environment file"), "{}", r.out);
    assert!(
        r.out
            .lines()
            .last()
            .unwrap()
            .starts_with("ctxray check: FAIL ("),
        "{}",
        r.out
    );

    fs::write(d.path().join(".dockerignore"), ".git\n.env\n").unwrap();
    let r = check(d.path(), &[]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(line_of(&r.out, "deny").contains("PASS"));
    assert!(line_of(&r.out, "secrets").contains("PASS"));
    assert!(line_of(&r.out, "lint").contains("PASS"));
    assert!(line_of(&r.out, "max-bytes").contains("SKIP"));
    assert!(
        r.out
            .trim_end()
            .ends_with("ctxray check: PASS (3 passed, 0 failed, 5 skipped)"),
        "{}",
        r.out
    );
    // No colors off a terminal.
    assert!(!r.out.contains('\x1b'));
    assert!(r.err.is_empty(), "{}", r.err);
}

#[test]
fn classic_engine_too() {
    let d = tree(&[
        ("Dockerfile", "FROM scratch\n"),
        (".git/HEAD", "x"),
        (".dockerignore", "*\n"),
    ]);
    // classic re-adds the Dockerfile and .dockerignore; nothing else is sent.
    let (code, v) = json(d.path(), &["--engine", "classic", "--max-files", "2"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["engine"], "classic");
    assert_eq!(rule(&v, "max-files")["measured"], 2);
}

// ---------------------------------------------------------------- each rule

#[test]
fn max_bytes_pass_and_fail() {
    let d = clean();
    let r = check(d.path(), &["--max-bytes", "1kB"]);
    assert_eq!(r.code, 0, "{}", r.out);
    let l = line_of(&r.out, "max-bytes");
    assert!(
        l.contains("PASS") && l.contains("B sent, limit 1 kB"),
        "{l}"
    );
    // 12 + 6 + 27 = 45 bytes sent.
    let r = check(d.path(), &["--max-bytes", "44"]);
    assert_eq!(r.code, 1);
    let l = line_of(&r.out, "max-bytes");
    assert!(
        l.contains("FAIL") && l.contains("45 B sent, over the limit of 44 B by 1 B"),
        "{l}"
    );
    let (_, v) = json(d.path(), &["--max-bytes", "45"]);
    let m = rule(&v, "max-bytes");
    assert_eq!(
        (
            m["status"].as_str(),
            m["measured"].as_u64(),
            m["limit"].as_u64()
        ),
        (Some("pass"), Some(45), Some(45))
    );
    assert_eq!(m["unit"], "bytes");
    // Binary and decimal units.
    let (_, v) = json(d.path(), &["--max-bytes", "1.5GiB"]);
    assert_eq!(rule(&v, "max-bytes")["limit"], 1_610_612_736_u64);
}

#[test]
fn max_files_pass_and_fail() {
    let d = clean();
    assert_eq!(check(d.path(), &["--max-files", "3"]).code, 0);
    let r = check(d.path(), &["--max-files", "2"]);
    assert_eq!(r.code, 1);
    assert!(
        line_of(&r.out, "max-files").contains("3 files sent, over the limit of 2 by 1"),
        "{}",
        r.out
    );
}

#[test]
fn max_tar_bytes_pass_and_fail() {
    let d = clean();
    // The exact tar size, as `pack` writes it.
    let ctx = Context::open(&Options::new(d.path(), Engine::Buildkit)).unwrap();
    let (tar, _) = ctxray::archive::pack(&ctx, Vec::new(), |_| false).unwrap();
    let (_, v) = json(d.path(), &["--max-tar-bytes", "1GB"]);
    let size = rule(&v, "max-tar-bytes")["measured"].as_u64().unwrap();
    assert_eq!(size, tar.len() as u64);
    assert_eq!(
        check(d.path(), &["--max-tar-bytes", &size.to_string()]).code,
        0
    );
    let r = check(d.path(), &["--max-tar-bytes", &(size - 1).to_string()]);
    assert_eq!(r.code, 1);
    assert!(line_of(&r.out, "max-tar-bytes").contains("FAIL"));
}

#[test]
fn deny_pass_and_fail() {
    let d = tree(&[("a/b/debug.log", "x"), ("top.log", "x"), ("keep.txt", "x")]);
    // Anchored at the root like .dockerignore.
    let (code, v) = json(d.path(), &["--deny", "*.log"]);
    assert_eq!(code, 1);
    let deny = rule(&v, "deny");
    assert_eq!(deny["offenders"].as_array().unwrap().len(), 1);
    assert_eq!(deny["offenders"][0]["path"], "top.log");
    assert!(deny["offenders"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("`*.log` (--deny)"));
    let (_, v) = json(d.path(), &["--deny", "**/*.log"]);
    assert_eq!(rule(&v, "deny")["measured"], 2);
    let (code, v) = json(
        d.path(),
        &[
            "--deny",
            "**/*.log",
            "--deny",
            "!**/debug.log",
            "--deny",
            "!top.log",
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(rule(&v, "deny")["status"], "pass");
    // Many offenders: a few shown, then "and N more".
    let many: Vec<(String, &str)> = (0..8).map(|i| (format!("f{i}.tmp"), "x")).collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let d = tree(&refs);
    let r = check(d.path(), &["--deny", "*.tmp"]);
    assert_eq!(r.code, 1);
    assert!(
        r.out.contains("f4.tmp") && !r.out.contains("f5.tmp"),
        "{}",
        r.out
    );
    assert!(r.out.contains("and 3 more"), "{}", r.out);
}

#[test]
fn secrets_pass_and_fail() {
    let d = tree(&[
        ("certs/server.key", "k"),
        (".env.example", "A="),
        ("deploy/prod.tfstate", "{}"),
    ]);
    let (code, v) = json(d.path(), &[]);
    assert_eq!(code, 1);
    let s = rule(&v, "secrets");
    let paths: Vec<&str> = s["offenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["certs/server.key", "deploy/prod.tfstate"]);
    assert_eq!(s["offenders"][1]["detail"], "terraform state");
    fs::write(d.path().join(".dockerignore"), "**/*.key\n**/*.tfstate\n").unwrap();
    let (code, v) = json(d.path(), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(rule(&v, "secrets")["status"], "pass");
    // Disabled.
    fs::remove_file(d.path().join(".dockerignore")).unwrap();
    let (code, v) = json(d.path(), &["--disable", "secrets", "--fail-on", "never"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(rule(&v, "secrets")["status"], "skip");
}

#[test]
fn require_pass_and_fail() {
    let d = tree(&[
        ("Dockerfile", "FROM scratch\n"),
        ("dist/app.js", "x"),
        (".dockerignore", "dist\n"),
    ]);
    assert_eq!(check(d.path(), &["--require", "Dockerfile"]).code, 0);
    let r = check(
        d.path(),
        &[
            "--require",
            "Dockerfile",
            "--require",
            "dist/app.js",
            "--require",
            "nope.txt",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        line_of(&r.out, "require").contains("2 of 3 required paths not sent"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("dist/app.js  left out by .dockerignore:1: dist"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("nope.txt  does not exist in the context"),
        "{}",
        r.out
    );
}

#[test]
fn lint_rule_follows_lint_findings() {
    // A COPY source the .dockerignore leaves out (an error once lint finds it).
    let d = tree(&[
        ("Dockerfile", "FROM scratch\nCOPY dist/ /app/\n"),
        ("dist/app.js", "x"),
        (".dockerignore", "dist\n*.pyc\n"),
    ]);
    let ctx = Context::open(&Options::new(d.path(), Engine::Buildkit)).unwrap();
    let findings = ctxray::lint::lint(&ctx, &LintOptions::default()).unwrap();
    for (level, name) in [
        (Level::Error, "error"),
        (Level::Warning, "warning"),
        (Level::Info, "info"),
    ] {
        let failing: Vec<_> = findings.iter().filter(|f| f.level >= level).collect();
        // Alone, and with a size rule (the lint then gathers its entries
        // from the size report's walk): the same result.
        for extra in [&[][..], &["--max-files", "100"][..]] {
            let mut args = vec!["--fail-on", name];
            args.extend_from_slice(extra);
            let (code, v) = json(d.path(), &args);
            let l = rule(&v, "lint");
            assert_eq!(
                l["status"],
                if failing.is_empty() { "pass" } else { "fail" },
                "{name}: {v}"
            );
            assert_eq!(code, i32::from(!failing.is_empty()), "{name}");
            let codes: Vec<&str> = l["offenders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["code"].as_str().unwrap())
                .collect();
            assert_eq!(codes, failing.iter().map(|f| f.code).collect::<Vec<_>>());
        }
    }
    let (code, v) = json(d.path(), &["--fail-on", "never"]);
    assert_eq!(code, 0);
    assert_eq!(rule(&v, "lint")["status"], "skip");
    assert_eq!(check(d.path(), &["--fail-on", "fatal"]).code, 2);
}

#[test]
fn baseline_growth_pass_and_fail() {
    let d = clean();
    let base = tempfile::NamedTempFile::new().unwrap();
    let r = run_in(None, ["report", &d.path().to_string_lossy(), "--json"]);
    assert_eq!(r.code, 0);
    fs::write(base.path(), &r.out).unwrap();
    let b = base.path().to_string_lossy().into_owned();
    let r = check(d.path(), &["--baseline", &b, "--max-growth", "0"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(
        line_of(&r.out, "max-growth").contains("(+0.0%)"),
        "{}",
        r.out
    );
    // Grow the context by about 10%.
    fs::write(d.path().join("app/more.py"), "y = 2\n").unwrap();
    let r = check(d.path(), &["--baseline", &b, "--max-growth", "5%"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(line_of(&r.out, "max-growth").contains("FAIL"), "{}", r.out);
    assert_eq!(
        check(d.path(), &["--baseline", &b, "--max-growth", "50"]).code,
        0
    );
    // Usage errors.
    let r = check(d.path(), &["--baseline", &b]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("--baseline and --max-growth go together"),
        "{}",
        r.err
    );
    fs::write(base.path(), "{\"schema\": 9}").unwrap();
    let r = check(d.path(), &["--baseline", &b, "--max-growth", "1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("report schema 9 is not supported"),
        "{}",
        r.err
    );
}

// ---------------------------------------------------------------- config

#[test]
fn config_file_rules_and_precedence() {
    let d = clean();
    fs::write(
        d.path().join(".ctxray.toml"),
        "[check]\nmax-files = 1\ndeny = [\"app/util.py\"]\nrequire = [\"Dockerfile\"]\n",
    )
    .unwrap();
    let (code, v) = json(d.path(), &[]);
    assert_eq!(code, 1);
    assert!(v["config"].as_str().unwrap().ends_with(".ctxray.toml"));
    assert_eq!(rule(&v, "max-files")["status"], "fail");
    assert_eq!(rule(&v, "deny")["offenders"][0]["path"], "app/util.py");
    assert!(rule(&v, "deny")["offenders"][0]["detail"]
        .as_str()
        .unwrap()
        .contains(".ctxray.toml:3)"));
    assert_eq!(rule(&v, "require")["status"], "pass");
    // Flags win over the file for limits.
    let (_, v) = json(d.path(), &["--max-files", "10"]);
    assert_eq!(rule(&v, "max-files")["status"], "pass");
    // --no-config ignores it; --config reads another.
    let (code, v) = json(d.path(), &["--no-config"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["config"].is_null());
    let other = tempfile::NamedTempFile::new().unwrap();
    fs::write(
        other.path(),
        "[check]\ndisable = [\"deny\", \"secrets\", \"lint\"]\n",
    )
    .unwrap();
    let (code, v) = json(d.path(), &["--config", &other.path().to_string_lossy()]);
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["skip"], 8);
    let r = check(d.path(), &["--config", "/nonexistent/ctxray.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("cannot read the configuration file"),
        "{}",
        r.err
    );
}

#[test]
fn config_errors_name_file_key_and_line() {
    let d = clean();
    for (text, line, key, what) in [
        (
            "[check]\nmax-bytes = \"50MB\"\nmax-byts = 1\n",
            3,
            "check.max-byts",
            "unknown key",
        ),
        (
            "[check]\n\n\nmax-files = \"lots\"\n",
            4,
            "check.max-files",
            "expected a non-negative integer, found a string",
        ),
        (
            "[check]\nmax-tar-bytes = \"12 parsecs\"\n",
            2,
            "check.max-tar-bytes",
            "unknown unit",
        ),
        (
            "[check]\ndeny = \".git\"\n",
            2,
            "check.deny",
            "expected an array of strings",
        ),
        (
            "[check]\nfail-on = 3\n",
            2,
            "check.fail-on",
            "found an integer",
        ),
        (
            "[check]\nbaseline = \"b.json\"\n",
            2,
            "check.baseline",
            "baseline and max-growth go together",
        ),
        ("[checks]\n", 1, "checks", "unknown key"),
    ] {
        fs::write(d.path().join(".ctxray.toml"), text).unwrap();
        let r = check(d.path(), &[]);
        assert_eq!(r.code, 2, "{text}");
        assert!(r.out.is_empty(), "{}", r.out);
        let want = format!(".ctxray.toml:{line}: {key}: ");
        assert!(
            r.err.contains(&want) && r.err.contains(what),
            "{text}\nwant {want} … {what}\ngot {}",
            r.err
        );
    }
    fs::write(d.path().join(".ctxray.toml"), "[check\n").unwrap();
    let r = check(d.path(), &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains(".ctxray.toml:1: not valid TOML"),
        "{}",
        r.err
    );
    // Bad patterns and sizes on the command line.
    fs::remove_file(d.path().join(".ctxray.toml")).unwrap();
    let r = check(d.path(), &["--deny", "a[b"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("--deny: deny pattern \"a[b\""), "{}", r.err);
    let r = check(d.path(), &["--max-bytes", "lots"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("bad size"), "{}", r.err);
    assert_eq!(check(d.path(), &["--disable", "nope"]).code, 2);
    assert_eq!(check(&d.path().join("missing"), &[]).code, 2);
}

// ---------------------------------------------------------------- formats

/// Replaces every `pattern` equal to `from`; returns how many.
fn replace_patterns(v: &mut Value, from: &str, to: &str) -> usize {
    match v {
        Value::Object(m) => m
            .iter_mut()
            .map(|(k, x)| {
                if k == "pattern" && x == from {
                    *x = to.into();
                    1
                } else {
                    replace_patterns(x, from, to)
                }
            })
            .sum(),
        Value::Array(a) => a.iter_mut().map(|x| replace_patterns(x, from, to)).sum(),
        _ => 0,
    }
}

fn sarif_validator() -> jsonschema::Validator {
    let mut schema: Value =
        serde_json::from_str(include_str!("../data/sarif-2.1.0-schema.json")).unwrap();
    // The official schema's `language` patterns end in a lone `]`, which
    // ECMA-262 regexps read as a literal `]` and the validator's regex check
    // refuses; `\]` is the same literal, so the schema means the same.
    let n = replace_patterns(
        &mut schema,
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$",
    );
    assert!(n >= 1);
    // Formats (uri, uri-reference, date-time, ...) are checked too.
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

#[test]
fn sarif_is_valid_and_stable() {
    let repo = tree(&[
        (".git/HEAD", "x"),
        ("svc/api/Dockerfile", "FROM scratch\n"),
        ("svc/api/.env", "A=1\n"),
        ("svc/api/my key.pem", "k"),
        ("svc/api/.dockerignore", "# nothing\n"),
    ]);
    let ctx = repo.path().join("svc/api");
    let r = check(
        &ctx,
        &[
            "--format",
            "sarif",
            "--max-files",
            "1",
            "--require",
            "missing",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", r.out);
    // The schema does reject a broken log.
    let mut broken = v.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));

    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in [
        "deny",
        "secrets",
        "require",
        "lint",
        "max-bytes",
        "max-files",
        "max-tar-bytes",
        "max-growth",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    assert_eq!(run["tool"]["driver"]["name"], "ctxray");
    let results = run["results"].as_array().unwrap();
    let uris: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap(),
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap(),
            )
        })
        .filter(|(id, _)| {
            !id.starts_with("DI")
                && !id.starts_with("DF")
                && !id.starts_with("SE")
                && !id.starts_with("GI")
        })
        .collect();
    // Relative to the git top level, percent-encoded; size rules sit on the ignore file.
    assert_eq!(
        uris,
        [
            ("secrets", "svc/api/.env"),
            ("secrets", "svc/api/my%20key.pem"),
            ("require", "svc/api/missing"),
            ("max-files", "svc/api/.dockerignore"),
        ]
    );
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
            "%SRCROOT%"
        );
    }
    // Fingerprints depend on the rule and path only: adding files and
    // changing sizes keeps them.
    let fps = |v: &Value| -> Vec<String> {
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["ctxrayRulePath/v1"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    fs::write(ctx.join("big.bin"), vec![0u8; 10_000]).unwrap();
    let r2 = check(
        &ctx,
        &[
            "--format",
            "sarif",
            "--max-files",
            "1",
            "--require",
            "missing",
        ],
    );
    let v2: Value = serde_json::from_str(&r2.out).unwrap();
    assert_eq!(fps(&v), fps(&v2));
    let mut uniq = fps(&v);
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), fps(&v).len());

    // Outside a git repository, paths are relative to the context; a
    // passing run is a valid log with no results.
    let d = clean();
    let r = check(d.path(), &["--format", "sarif"]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert!(validator.is_valid(&v), "{}", r.out);
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn json_format() {
    let d = tree(&[(".env", "A=1")]);
    let (code, v) = json(d.path(), &["--max-bytes", "1MB", "--fail-on", "never"]);
    assert_eq!(code, 1);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["passed"], false);
    assert_eq!(v["engine"], "buildkit");
    assert_eq!(
        v["summary"],
        serde_json::json!({"pass": 2, "fail": 1, "skip": 5})
    );
    let ids: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "deny",
            "secrets",
            "require",
            "lint",
            "max-bytes",
            "max-files",
            "max-tar-bytes",
            "max-growth"
        ]
    );
    let s = rule(&v, "secrets");
    assert_eq!(s["status"], "fail");
    assert_eq!(s["offenders"][0]["path"], ".env");
    assert_eq!(rule(&v, "max-bytes")["measured"], 3);
    assert_eq!(rule(&v, "max-files")["status"], "skip");
}

#[test]
fn github_format() {
    let repo = tree(&[
        (".git/HEAD", "x"),
        ("web/.env", "A=1"),
        ("web/index.html", "<p>"),
    ]);
    let web = repo.path().join("web");
    let r = check(
        &web,
        &[
            "--format",
            "github",
            "--max-files",
            "1",
            "--fail-on",
            "never",
        ],
    );
    assert_eq!(r.code, 1);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(
        lines,
        [
            "::error file=web/.env,title=ctxray secrets::secrets: .env: environment file",
            "::error title=ctxray max-files::max-files: 2 files sent, over the limit of 1 by 1",
            "ctxray check: FAIL (1 passed, 2 failed, 5 skipped)",
        ],
        "{}",
        r.out
    );
    let r = check(
        &repo.path().join("web"),
        &[
            "--format",
            "github",
            "--disable",
            "secrets",
            "--fail-on",
            "never",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(
        r.out,
        "ctxray check: PASS (1 passed, 0 failed, 7 skipped)\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let d = clean();
    for args in [
        vec!["--format", "xml"],
        vec!["--config", "x", "--no-config"],
        vec!["--max-files", "-1"],
        vec!["--max-growth", "ten", "--baseline", "x"],
    ] {
        let r = check(d.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.err);
        assert!(r.out.is_empty());
    }
    let r = run_in(None, ["check", "--help"]);
    assert_eq!(r.code, 0);
    assert!(
        r.out.contains("--max-tar-bytes <SIZE>") && r.out.contains("Exit status"),
        "{}",
        r.out
    );
}

// ---------------------------------------------------------------- completions, man

#[test]
fn completions_and_man_page() {
    for (shell, marker) in [
        ("bash", "_ctxray()"),
        ("zsh", "#compdef ctxray"),
        ("fish", "complete -c ctxray"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[ctxray]"),
    ] {
        let r = run_in(None, ["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.err);
        assert!(r.out.contains(marker), "{shell}");
        assert!(
            r.out.contains("max-tar-bytes"),
            "{shell}: check's flags are completed"
        );
    }
    assert_eq!(run_in(None, ["completions", "tcsh"]).code, 2);
    let r = run_in(None, ["man"]);
    assert_eq!(r.code, 0);
    assert!(
        r.out.starts_with(".ie \\n(.g .ds Aq") || r.out.contains(".TH ctxray 1"),
        "{}",
        &r.out[..200.min(r.out.len())]
    );
    assert!(r.out.contains(".TH ctxray 1"));
    assert!(r.out.contains("check"));
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        None,
        ["man".as_ref(), "--dir".as_ref(), dir.path().as_os_str()],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let page = fs::read_to_string(dir.path().join("ctxray-check.1")).unwrap();
    assert!(page.contains("max\\-growth"), "{page}");
    assert!(dir.path().join("ctxray.1").exists());
}

// ---------------------------------------------------------------- pre-commit

/// The `entry` of hook `id` in `.pre-commit-hooks.yaml` (a minimal reader
/// for the flat list of mappings the file holds).
fn hook_field(yaml: &str, id: &str, field: &str) -> Option<String> {
    let mut in_hook = false;
    for line in yaml.lines() {
        let t = line.trim_start().trim_start_matches("- ");
        if let Some(v) = t.strip_prefix("id:") {
            in_hook = v.trim() == id;
        } else if in_hook {
            if let Some(v) = t.strip_prefix(&format!("{field}:")) {
                return Some(v.trim().trim_matches('"').trim_matches('\'').to_string());
            }
        }
    }
    None
}

#[test]
fn pre_commit_hook_runs_check() {
    let yaml =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"))
            .unwrap();
    let entry =
        hook_field(&yaml, "ctxray-check", "entry").expect("ctxray-check hook with an entry");
    assert_eq!(
        hook_field(&yaml, "ctxray-check", "pass_filenames").as_deref(),
        Some("false")
    );
    assert_eq!(
        hook_field(&yaml, "ctxray-check", "always_run").as_deref(),
        Some("true")
    );
    let mut words = entry.split_whitespace();
    assert_eq!(words.next(), Some("ctxray"));
    let args: Vec<&str> = words.collect();

    let repo = tree(&[
        ("Dockerfile", "FROM scratch\nCOPY . /app\n"),
        ("app.py", "print()\n"),
    ]);
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(repo.path())
            .output()
            .expect("git on PATH");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    // pre-commit runs the entry at the repository root, with no file names.
    let hook = || run_in(Some(repo.path()), &args);
    let r = hook();
    assert_eq!(r.code, 1, "no .dockerignore: .git is sent\n{}", r.out);
    assert!(line_of(&r.out, "deny").contains("FAIL"));
    fs::write(repo.path().join(".dockerignore"), ".git\n").unwrap();
    let r = hook();
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    fs::write(repo.path().join(".ctxray.toml"), "[check]\nmax-files = 1\n").unwrap();
    let r = hook();
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(line_of(&r.out, "max-files").contains("FAIL"));
}

// ---------------------------------------------------------------- docker plugin

fn docker_bin() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("docker"))
            .find(|p| p.is_file())
    })
}

fn docker_wanted(test: &str) -> bool {
    if std::env::var_os("CTXRAY_SKIP_DOCKER").is_some_and(|v| v == "1") {
        eprintln!("{test}: skipped (CTXRAY_SKIP_DOCKER=1)");
        return false;
    }
    assert!(
        docker_bin().is_some(),
        "{test}: the `docker` CLI is not on PATH (no daemon is needed). Install it, or set \
         CTXRAY_SKIP_DOCKER=1 to skip this test."
    );
    true
}

#[test]
fn metadata_answer() {
    use std::os::unix::process::CommandExt;
    for argv0 in [BIN, "docker-ctxray", "/x/cli-plugins/docker-ctxray"] {
        let o = Command::new(BIN)
            .arg0(argv0)
            .arg("docker-cli-plugin-metadata")
            .output()
            .unwrap();
        assert!(o.status.success(), "{argv0}");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["SchemaVersion"], "0.1.0");
        assert_eq!(v["Vendor"], "ctxray");
        assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    }
}

#[test]
fn docker_cli_plugin() {
    if !docker_wanted("docker_cli_plugin") {
        return;
    }
    let cfg = tempfile::tempdir().unwrap();
    let plugins = cfg.path().join("cli-plugins");
    fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(BIN, plugins.join("docker-ctxray")).unwrap();
    let docker = |args: &[&str]| {
        let o = Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", cfg.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .unwrap();
        Run {
            code: o.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    };
    // Listed by docker (it runs the metadata subcommand), without a daemon.
    let r = docker(&["--help"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let listed = r
        .out
        .lines()
        .find(|l| l.trim_start().starts_with("ctxray*"))
        .unwrap_or_else(|| panic!("{}", r.out));
    assert!(listed.contains("build context"), "{listed}");

    let r = docker(&["ctxray", "--help"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("Usage: docker ctxray"), "{}", r.out);
    let r = docker(&["help", "ctxray"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("Usage: docker ctxray"), "{}", r.out);
    let r = docker(&["ctxray", "check", "--help"]);
    assert!(r.out.contains("Usage: docker ctxray check"), "{}", r.out);

    let d = clean();
    let ctx = d.path().to_string_lossy().into_owned();
    let r = docker(&["ctxray", "report", &ctx]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.out.contains("sent") && r.out.contains("3 files"),
        "{}",
        r.out
    );
    let r = docker(&["ctxray", "report", &ctx, "--json"]);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["included"]["files"], 3);
    // Docker's global options before the plugin name.
    let r = docker(&["--debug", "--log-level", "info", "ctxray", "ls", &ctx]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.lines().any(|l| l == "app/main.py"), "{}", r.out);
    // Exit codes pass through docker.
    let r = docker(&["ctxray", "check", &ctx, "--max-files", "1"]);
    assert_eq!(r.code, 1, "{}{}", r.out, r.err);
    assert!(r.out.contains("FAIL"));
    let r = docker(&["ctxray", "check", &ctx, "--max-files", "x"]);
    assert_eq!(r.code, 2, "{}", r.err);
}
