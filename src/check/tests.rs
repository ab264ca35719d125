use std::fs;

use super::render::{fingerprint, github, sarif, uri_encode};
use super::*;
use crate::context::Options;

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let path = d.path().join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, c).unwrap();
    }
    d
}

fn run(d: &Path, rules: &Rules) -> Outcome {
    let ctx = Context::open(&Options::new(d, Engine::Buildkit)).unwrap();
    evaluate(&ctx, rules).unwrap()
}

fn status(o: &Outcome, r: RuleId) -> Status {
    o.results.iter().find(|x| x.rule == r).unwrap().status
}

fn result(o: &Outcome, r: RuleId) -> &RuleResult {
    o.results.iter().find(|x| x.rule == r).unwrap()
}

#[test]
fn defaults_fail_on_git_and_secrets_then_pass_with_ignore() {
    let d = tree(&[
        (".git/HEAD", "ref"),
        (".git/objects/ab", "x"),
        (".env", "A=1"),
        ("app/main.py", "print()"),
    ]);
    let o = run(d.path(), &Rules::default());
    assert!(!o.passed());
    assert_eq!(status(&o, RuleId::Deny), Status::Fail);
    assert_eq!(status(&o, RuleId::Secrets), Status::Fail);
    assert_eq!(status(&o, RuleId::MaxBytes), Status::Skip);
    // .git is one offender, collapsed, with its entries counted.
    let deny = result(&o, RuleId::Deny);
    assert_eq!(deny.offenders.len(), 1);
    assert_eq!(
        deny.offenders[0].location,
        Location::Context(".git/".into())
    );
    assert!(
        deny.offenders[0].detail.contains("4 entries"),
        "{:?}",
        deny.offenders[0]
    );
    assert_eq!(
        result(&o, RuleId::Secrets).offenders[0].location,
        Location::Context(".env".into())
    );
    assert_eq!(o.repo_root, o.context);

    fs::write(d.path().join(".dockerignore"), ".git\n.env\n").unwrap();
    let o = run(d.path(), &Rules::default());
    assert!(o.passed(), "{:?}", o.results);
    assert_eq!(o.counts(), (3, 0, 5));
}

#[test]
fn limits() {
    let d = tree(&[("a", "12345"), ("b/c", "67890")]);
    let mut r = Rules {
        max_bytes: Some(10),
        max_files: Some(2),
        max_tar_bytes: Some(100_000),
        ..Rules::default()
    };
    let o = run(d.path(), &r);
    assert!(o.passed(), "{:?}", o.results);
    let mb = result(&o, RuleId::MaxBytes);
    assert_eq!(
        (mb.measured, mb.limit),
        (Some(Value::Bytes(10)), Some(Value::Bytes(10)))
    );
    assert_eq!(result(&o, RuleId::MaxFiles).measured, Some(Value::Count(2)));
    let Some(Value::Bytes(tar)) = result(&o, RuleId::MaxTarBytes).measured else {
        panic!()
    };
    assert!(tar >= 3 * 512, "{tar}");

    r.max_bytes = Some(9);
    r.max_files = Some(1);
    r.max_tar_bytes = Some(tar - 1);
    let o = run(d.path(), &r);
    for rule in [RuleId::MaxBytes, RuleId::MaxFiles, RuleId::MaxTarBytes] {
        assert_eq!(status(&o, rule), Status::Fail, "{rule:?}");
    }
    assert!(result(&o, RuleId::MaxBytes)
        .message
        .contains("over the limit of 9 B by 1 B"));
}

#[test]
fn deny_patterns_use_docker_syntax() {
    let d = tree(&[("keys/a.pem.txt", "x"), ("src/x.log", "x"), ("x.log", "x")]);
    let r = |p: &[&str]| Rules {
        deny: p
            .iter()
            .map(|g| Glob {
                pattern: g.to_string(),
                origin: "--deny".into(),
                line: 0,
            })
            .collect(),
        ..Rules::default()
    };
    // Anchored at the root, like .dockerignore: *.log is not **/*.log.
    let o = run(d.path(), &r(&["*.log"]));
    let offenders = &result(&o, RuleId::Deny).offenders;
    assert_eq!(offenders.len(), 1);
    assert_eq!(offenders[0].location, Location::Context("x.log".into()));
    let o = run(d.path(), &r(&["**/*.log"]));
    assert_eq!(result(&o, RuleId::Deny).offenders.len(), 2);
    // Exceptions.
    let o = run(d.path(), &r(&["**/*.log", "!src/x.log"]));
    assert_eq!(result(&o, RuleId::Deny).offenders.len(), 1);
    // A directory pattern covers everything below.
    let o = run(d.path(), &r(&["keys"]));
    assert_eq!(
        result(&o, RuleId::Deny).offenders[0].location,
        Location::Context("keys/".into())
    );
    // No patterns: skipped. Bad patterns: an error naming the pattern.
    let o = run(d.path(), &r(&[]));
    assert_eq!(status(&o, RuleId::Deny), Status::Skip);
    let e = r(&["[z-a"]).deny_matcher().unwrap_err();
    assert!(
        e.to_string().contains("--deny: deny pattern \"[z-a\""),
        "{e}"
    );
}

#[test]
fn require_names_the_deciding_line() {
    let d = tree(&[
        ("Dockerfile", "FROM scratch"),
        ("dist/app", "x"),
        (".dockerignore", "# c\ndist\n"),
    ]);
    let r = Rules {
        require: vec!["Dockerfile".into(), "dist/app".into(), "missing".into()],
        ..Rules::default()
    };
    let o = run(d.path(), &r);
    let q = result(&o, RuleId::Require);
    assert_eq!(q.status, Status::Fail);
    assert_eq!(q.offenders.len(), 2);
    assert_eq!(q.offenders[0].detail, "left out by .dockerignore:2: dist");
    assert_eq!(q.offenders[1].detail, "does not exist in the context");
    assert_eq!(q.message, "2 of 3 required paths not sent");
    let r = Rules {
        require: vec!["./Dockerfile".into()],
        ..Rules::default()
    };
    assert_eq!(status(&run(d.path(), &r), RuleId::Require), Status::Pass);
}

#[test]
fn disabled_rules_are_skipped() {
    let d = tree(&[(".env", "A=1")]);
    let r = Rules {
        disabled: vec![RuleId::Secrets],
        fail_on: FailOn::Never,
        ..Rules::default()
    };
    let o = run(d.path(), &r);
    assert!(o.passed());
    assert_eq!(result(&o, RuleId::Secrets).message, "disabled");
    assert_eq!(status(&o, RuleId::Lint), Status::Skip);
}

#[test]
fn baseline_growth() {
    let d = tree(&[("a", &"x".repeat(1000))]);
    let ctx = Context::open(&Options::new(d.path(), Engine::Buildkit)).unwrap();
    let rep = report::build(
        &ctx,
        ReportOptions {
            top: 0,
            tree_depth: 0,
        },
    )
    .unwrap();
    let base = d.path().join("base.json");
    let write = |tar: u64, bytes: u64| {
        fs::write(
            &base,
            format!(r#"{{"schema":1,"engine":"classic","tar_bytes":{tar},"included":{{"bytes":{bytes}}}}}"#),
        )
        .unwrap()
    };
    let rules = |pct: f64| Rules {
        growth: Some((base.clone(), pct)),
        ..Rules::default()
    };
    // The baseline file itself is in the context: compare like with like.
    write(rep.tar_bytes, rep.included.bytes);
    let rep2 = report::build(
        &ctx,
        ReportOptions {
            top: 0,
            tree_depth: 0,
        },
    )
    .unwrap();
    write(rep2.tar_bytes, rep2.included.bytes);
    let o = run(d.path(), &rules(0.0));
    assert_eq!(
        status(&o, RuleId::MaxGrowth),
        Status::Pass,
        "{:?}",
        result(&o, RuleId::MaxGrowth)
    );
    assert_eq!(o.warnings.len(), 1, "engine mismatch is noted");
    write(rep2.tar_bytes / 2, rep2.included.bytes);
    let o = run(d.path(), &rules(50.0));
    let g = result(&o, RuleId::MaxGrowth);
    assert_eq!(g.status, Status::Fail, "{g:?}");
    assert!(g.message.contains("(+100.0%)"), "{}", g.message);
    let o = run(d.path(), &rules(100.0));
    assert_eq!(status(&o, RuleId::MaxGrowth), Status::Pass);
    write(0, 0);
    let o = run(d.path(), &rules(1000.0));
    assert_eq!(status(&o, RuleId::MaxGrowth), Status::Fail);
    assert!(render::json(&o)["rules"][7]["measured"].is_null());

    let e = Baseline::parse("{\"schema\": 2}", Path::new("b.json")).unwrap_err();
    assert!(e.to_string().contains("b.json: report schema 2"), "{e}");
    assert!(Baseline::parse("nope", Path::new("b.json")).is_err());
    assert!(Baseline::parse("{\"schema\": 1}", Path::new("b.json")).is_err());
}

#[test]
fn resolve_merges_file_and_flags() {
    let file = Settings {
        source: Some("c.toml".into()),
        max_bytes: Some(5),
        deny: Some(vec![Glob {
            pattern: "x".into(),
            origin: "c.toml:3".into(),
            line: 3,
        }]),
        require: Some(vec!["a".into()]),
        baseline: Some(("b.json".into(), 4)),
        disable: vec![RuleId::Lint],
        ..Settings::default()
    };
    let flags = Settings {
        max_bytes: Some(7),
        deny: Some(vec![Glob {
            pattern: "y".into(),
            origin: "--deny".into(),
            line: 0,
        }]),
        require: Some(vec!["b".into()]),
        max_growth: Some((3.0, 0)),
        ..Settings::default()
    };
    let r = Rules::resolve(Some(&file), &flags).unwrap();
    assert_eq!(r.max_bytes, Some(7));
    let pats: Vec<_> = r.deny.iter().map(|g| g.pattern.as_str()).collect();
    assert_eq!(
        pats,
        ["x", "y"],
        "the file replaces the default .git, flags add"
    );
    assert_eq!(r.require, ["a", "b"]);
    assert_eq!(r.growth, Some((PathBuf::from("b.json"), 3.0)));
    assert!(r.is_disabled(RuleId::Lint));
    assert_eq!(r.config, Some(PathBuf::from("c.toml")));
    // Flags alone add to the default .git.
    let alone = Settings {
        max_growth: None,
        ..flags.clone()
    };
    let r = Rules::resolve(None, &alone).unwrap();
    let pats: Vec<_> = r.deny.iter().map(|g| g.pattern.as_str()).collect();
    assert_eq!(pats, [".git", "y"]);
    // baseline without max-growth: from the file, a config error with its line.
    let e = Rules::resolve(Some(&file), &Settings::default()).unwrap_err();
    assert!(
        e.to_string().starts_with("c.toml:4: check.baseline:"),
        "{e}"
    );
    let e = Rules::resolve(
        None,
        &Settings {
            max_growth: Some((1.0, 0)),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, CheckError::Usage(_)), "{e}");
}

#[test]
fn sarif_and_github_paths_are_repository_relative() {
    let d = tree(&[
        (".git/HEAD", "x"),
        ("svc/api/.env", "A=1"),
        ("svc/api/main.py", ""),
    ]);
    let ctx_dir = d.path().join("svc/api");
    let rules = Rules {
        fail_on: FailOn::Never,
        ..Rules::default()
    };
    let o = run(&ctx_dir, &rules);
    assert_eq!(o.repo_root, d.path().canonicalize().unwrap());
    let s = sarif(&o, "1.2.3", "https://example.invalid/ctxray");
    let run0 = &s["runs"][0];
    assert_eq!(run0["tool"]["driver"]["version"], "1.2.3");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RuleId::ALL.len());
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["ruleId"], "secrets");
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "secrets"
    );
    let loc = &r["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(loc["uri"], "svc/api/.env");
    assert_eq!(loc["uriBaseId"], "%SRCROOT%");
    assert_eq!(
        r["partialFingerprints"]["ctxrayRulePath/v1"],
        fingerprint("secrets", "svc/api/.env")
    );
    let g = github(&o);
    assert!(
        g.starts_with(
            "::error file=svc/api/.env,title=ctxray secrets::secrets: .env: environment file\n"
        ),
        "{g}"
    );
    assert!(
        g.ends_with("ctxray check: FAIL (1 passed, 1 failed, 6 skipped)\n"),
        "{g}"
    );
}

#[test]
fn fingerprints_and_uris_are_stable() {
    // Fixed values: a change here changes every alert's identity.
    assert_eq!(fingerprint("deny", ".git"), fingerprint("deny", ".git"));
    assert_ne!(fingerprint("deny", ".git"), fingerprint("secrets", ".git"));
    assert_ne!(fingerprint("deny", "a"), fingerprint("den", "ya"));
    assert_eq!(
        fingerprint("deny", ".git"),
        "4eb477bde5e6a87fa34ff7ada6f05180"
    );
    assert_eq!(uri_encode("a b/é%.txt"), "a%20b/%C3%A9%25.txt");
}

#[test]
fn github_escapes() {
    let o = Outcome {
        context: "/r".into(),
        engine: Engine::Buildkit,
        repo_root: "/r".into(),
        ignore_file: None,
        dockerfile: None,
        config: None,
        results: vec![RuleResult {
            rule: RuleId::Deny,
            status: Status::Fail,
            measured: None,
            limit: None,
            message: String::new(),
            offenders: vec![Offender {
                location: Location::Context("a,b:c\nd%".into()),
                detail: "x\ny".into(),
                finding: None,
            }],
        }],
        warnings: Vec::new(),
    };
    let g = github(&o);
    assert!(
        g.starts_with(
            "::error file=a%2Cb%3Ac%0Ad%25,title=ctxray deny::deny: a,b:c%0Ad%25: x%0Ay\n"
        ),
        "{g}"
    );
}
