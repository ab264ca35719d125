//! `check` outcomes as JSON (schema 1), SARIF 2.1.0 and GitHub Actions
//! workflow commands. The text form (with colors) is the CLI's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use super::{Location, Offender, Outcome, RuleId, RuleResult, Status};
use crate::lint::Level;

/// The outcome as one JSON object (`"schema": 1`): every rule with its
/// status, measured value, limit and every offender.
pub fn json(o: &Outcome) -> Json {
    let (pass, fail, skip) = o.counts();
    json!({
        "schema": 1,
        "context": o.context.to_string_lossy(),
        "engine": o.engine.name(),
        "config": o.config.as_ref().map(|c| c.to_string_lossy()),
        "passed": o.passed(),
        "summary": {"pass": pass, "fail": fail, "skip": skip},
        "rules": o.results.iter().map(|r| json!({
            "id": r.rule.id(),
            "status": r.status,
            "measured": r.measured.map(|v| v.json()),
            "limit": r.limit.map(|v| v.json()),
            "unit": r.measured.or(r.limit).map(|v| v.unit()),
            "message": r.message,
            "offenders": r.offenders.iter().map(|x| {
                let (path, line) = match &x.location {
                    Location::Context(p) => (p.clone(), None),
                    Location::File { path, line } => (path.clone(), *line),
                };
                json!({
                    "path": path,
                    "line": line,
                    "detail": x.detail,
                    "code": x.finding.as_ref().map(|f| f.code),
                    "level": x.finding.as_ref().map(|f| f.level),
                })
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// FNV-1a, 64 bits: a hash that never changes across platforms and
/// releases (fingerprints must be stable).
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The stable fingerprint of a rule and a repository-relative path.
pub fn fingerprint(rule: &str, path: &str) -> String {
    let mut data = Vec::with_capacity(rule.len() + path.len() + 1);
    data.extend_from_slice(rule.as_bytes());
    data.push(0);
    data.extend_from_slice(path.as_bytes());
    let h1 = fnv1a(&data);
    data.push(0xff);
    let h2 = fnv1a(&data);
    format!("{h1:016x}{h2:016x}")
}

/// Percent-encodes a slash path as a URI reference (RFC 3986 unreserved
/// characters and `/` are kept).
pub fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A path on disk relative to the repository root, when it is inside.
fn repo_relative(o: &Outcome, abs: &Path) -> Option<String> {
    let abs = abs.canonicalize().unwrap_or_else(|_| abs.to_path_buf());
    abs.strip_prefix(&o.repo_root).ok().map(slash)
}

/// Where an offender is, relative to the repository root (or as given
/// when outside it), and its line.
fn place(o: &Outcome, loc: &Location) -> (String, Option<usize>) {
    match loc {
        Location::Context(p) => {
            let prefix = o
                .context
                .strip_prefix(&o.repo_root)
                .map(slash)
                .unwrap_or_default();
            let p = p.trim_end_matches('/');
            if prefix.is_empty() {
                (p.to_string(), None)
            } else {
                (format!("{prefix}/{p}"), None)
            }
        }
        Location::File { path, line } => {
            let abs = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
            (
                repo_relative(o, &abs).unwrap_or_else(|| path.clone()),
                *line,
            )
        }
    }
}

/// The file a rule without offenders (a size rule) is reported on: the
/// ignore file, else the Dockerfile, if inside the repository.
fn anchor(o: &Outcome) -> Option<String> {
    o.ignore_file
        .iter()
        .chain(o.dockerfile.iter())
        .filter(|p| p.exists())
        .find_map(|p| repo_relative(o, p))
}

fn sarif_level(l: Level) -> &'static str {
    match l {
        Level::Info => "note",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

/// One reported item: a rule id, level, message and place.
struct Item {
    rule_id: String,
    level: &'static str,
    message: String,
    path: Option<String>,
    line: Option<usize>,
}

fn items(o: &Outcome) -> Vec<Item> {
    let mut out = Vec::new();
    for r in o.results.iter().filter(|r| r.status == Status::Fail) {
        if r.offenders.is_empty() {
            out.push(Item {
                rule_id: r.rule.id().to_string(),
                level: "error",
                message: format!("{}: {}", r.rule.id(), r.message),
                path: anchor(o),
                line: None,
            });
        }
        for x in &r.offenders {
            out.push(offender_item(o, r, x));
        }
    }
    out
}

fn offender_item(o: &Outcome, r: &RuleResult, x: &Offender) -> Item {
    let (path, line) = place(o, &x.location);
    let (rule_id, level, message) = match &x.finding {
        Some(f) => (
            f.code.to_string(),
            sarif_level(f.level),
            format!("{} {}: {}", f.code, f.name, f.message),
        ),
        None => {
            let shown = match &x.location {
                Location::Context(p) => p.clone(),
                Location::File { path, .. } => path.clone(),
            };
            (
                r.rule.id().to_string(),
                "error",
                format!("{}: {shown}: {}", r.rule.id(), x.detail),
            )
        }
    };
    Item {
        rule_id,
        level,
        message,
        path: Some(path),
        line,
    }
}

/// The outcome as a SARIF 2.1.0 log: one run, the rules in
/// `tool.driver.rules` (check rules, then the lint codes that occur), one
/// result per offender of each failed rule, artifact locations relative
/// to the repository root (`%SRCROOT%`), and `partialFingerprints` from
/// the rule id and path only.
pub fn sarif(o: &Outcome, version: &str, information_uri: &str) -> Json {
    let mut rules: Vec<Json> = RuleId::ALL
        .iter()
        .map(|r| {
            let mut rule = json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": {"text": r.description()},
                "fullDescription": {"text": r.description()},
                "defaultConfiguration": {"level": "error"},
            });
            if !information_uri.is_empty() {
                rule["helpUri"] = information_uri.into(); // json! object: inserts the key
            }
            rule
        })
        .collect();
    let mut ids: Vec<String> = RuleId::ALL.iter().map(|r| r.id().to_string()).collect();
    for r in &o.results {
        for f in r.offenders.iter().filter_map(|x| x.finding.as_ref()) {
            if !ids.iter().any(|i| i == f.code) {
                ids.push(f.code.to_string());
                let mut rule = json!({
                    "id": f.code,
                    "name": f.name,
                    "shortDescription": {"text": format!("lint: {}", f.name)},
                    "defaultConfiguration": {"level": sarif_level(f.level)},
                });
                if !information_uri.is_empty() {
                    rule["helpUri"] = information_uri.into(); // json! object: inserts the key
                }
                rules.push(rule);
            }
        }
    }
    let results: Vec<Json> = items(o)
        .into_iter()
        .map(|it| {
            let index = ids.iter().position(|i| *i == it.rule_id).unwrap_or(0);
            let fp_path = it.path.clone().unwrap_or_default();
            let mut res = json!({
                "ruleId": it.rule_id,
                "ruleIndex": index,
                "level": it.level,
                "message": {"text": it.message},
                "partialFingerprints": {
                    "ctxrayRulePath/v1": fingerprint(&it.rule_id, &fp_path),
                },
            });
            if let Some(p) = &it.path {
                let mut phys = json!({
                    "artifactLocation": {"uri": uri_encode(p), "uriBaseId": "%SRCROOT%"},
                });
                if let Some(l) = it.line.filter(|&l| l > 0) {
                    phys["region"] = json!({"startLine": l}); // json! object: inserts the key
                }
                res["locations"] = json!([{ "physicalLocation": phys }]); // json! object: inserts the key
            }
            res
        })
        .collect();
    let mut root_uri = format!("file://{}", uri_encode(&o.repo_root.to_string_lossy()));
    if !root_uri.ends_with('/') {
        root_uri.push('/');
    }
    let mut driver = json!({
        "name": "ctxray",
        "version": version,
        "rules": rules,
    });
    if !information_uri.is_empty() {
        driver["informationUri"] = information_uri.into(); // json! object: inserts the key
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
            "invocations": [{"executionSuccessful": true}],
            "results": results,
        }],
    })
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The outcome as GitHub Actions workflow commands: `::error` (or
/// `::warning`/`::notice` for lint findings below error) per offender of
/// each failed rule, with `file=` relative to the repository root and
/// `line=` when known, then a plain summary line.
pub fn github(o: &Outcome) -> String {
    let mut out = String::new();
    for it in items(o) {
        let cmd = match it.level {
            "warning" => "warning",
            "note" => "notice",
            _ => "error",
        };
        let mut props = Vec::new();
        if let Some(p) = &it.path {
            props.push(format!("file={}", escape_property(p)));
        }
        if let Some(l) = it.line {
            props.push(format!("line={l}"));
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("ctxray {}", it.rule_id))
        ));
        let _ = writeln!(
            out,
            "::{cmd} {}::{}",
            props.join(","),
            escape_data(&it.message)
        );
    }
    let _ = writeln!(out, "{}", summary(o));
    out
}

/// The summary line: `ctxray check: PASS (6 passed, 0 failed, 2 skipped)`.
pub fn summary(o: &Outcome) -> String {
    let (pass, fail, skip) = o.counts();
    format!(
        "ctxray check: {} ({pass} passed, {fail} failed, {skip} skipped)",
        if o.passed() { "PASS" } else { "FAIL" }
    )
}
