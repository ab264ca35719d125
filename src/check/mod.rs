//! `check`: budgets and rules for CI over the exact context an engine
//! sends. Rules come from flags and from `.ctxray.toml` ([`config`]);
//! [`evaluate`] measures the context and gives one [`RuleResult`] per rule
//! (pass, fail or skip, measured value against the limit, offending
//! paths); [`render`] turns the outcome into JSON, SARIF 2.1.0 or GitHub
//! workflow commands.

pub mod config;
pub mod render;
pub mod size;

use std::fs;
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::lint::{self, Finding, Level, LintOptions};
use crate::matcher::Matcher;
use crate::report::{self, ReportOptions};
use crate::walk::{Engine, Event, Kind, Status as WalkStatus, WalkMode};

pub use config::ConfigError;

/// A rule of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// No sent path matches a deny pattern.
    Deny,
    /// No sent file usually holds a secret.
    Secrets,
    /// Every required path is sent.
    Require,
    /// No lint finding at or above the `fail-on` level.
    Lint,
    /// Sent bytes within a limit.
    MaxBytes,
    /// Sent files within a limit.
    MaxFiles,
    /// Context tar size within a limit.
    MaxTarBytes,
    /// Growth against a saved report within a limit.
    MaxGrowth,
}

impl RuleId {
    /// Every rule, in the order results are given.
    pub const ALL: [RuleId; 8] = [
        RuleId::Deny,
        RuleId::Secrets,
        RuleId::Require,
        RuleId::Lint,
        RuleId::MaxBytes,
        RuleId::MaxFiles,
        RuleId::MaxTarBytes,
        RuleId::MaxGrowth,
    ];

    /// The rule's id (as in `disable = [...]`).
    pub fn id(self) -> &'static str {
        match self {
            RuleId::Deny => "deny",
            RuleId::Secrets => "secrets",
            RuleId::Require => "require",
            RuleId::Lint => "lint",
            RuleId::MaxBytes => "max-bytes",
            RuleId::MaxFiles => "max-files",
            RuleId::MaxTarBytes => "max-tar-bytes",
            RuleId::MaxGrowth => "max-growth",
        }
    }

    /// The rule of an id.
    pub fn from_id(id: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.id() == id)
    }

    /// One line on what the rule checks.
    pub fn description(self) -> &'static str {
        match self {
            RuleId::Deny => "No path sent in the build context matches a deny pattern (Docker pattern syntax; default: .git).",
            RuleId::Secrets => "No file that usually holds a secret (.env, private keys, credentials, terraform state) is sent in the build context.",
            RuleId::Require => "Every required path is sent in the build context.",
            RuleId::Lint => "No .dockerignore or Dockerfile lint finding at or above the fail-on level (default: error).",
            RuleId::MaxBytes => "The regular files sent in the build context add up to at most the byte limit.",
            RuleId::MaxFiles => "At most the limit of regular files is sent in the build context.",
            RuleId::MaxTarBytes => "The build context tar (as the Docker CLI uploads it) is at most the byte limit.",
            RuleId::MaxGrowth => "The context tar and sent bytes grow by at most the given percentage against a saved `ctxray report --json`.",
        }
    }
}

/// Lint findings that fail the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// None: lint never fails the check.
    Never,
    /// Findings at or above this level.
    At(Level),
}

impl FailOn {
    /// Parses `info`, `warning`, `error` or `never`.
    pub fn parse(s: &str) -> Result<FailOn, String> {
        Ok(match s {
            "info" => FailOn::At(Level::Info),
            "warning" => FailOn::At(Level::Warning),
            "error" => FailOn::At(Level::Error),
            "never" => FailOn::Never,
            _ => {
                return Err(format!(
                    "bad level {s:?}: expected one of \"info\", \"warning\", \"error\", \"never\""
                ))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            FailOn::Never => "never",
            FailOn::At(l) => level_name(l),
        }
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

/// A deny pattern and where it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The pattern (Docker syntax, `!` for exceptions).
    pub pattern: String,
    /// Where it comes from: `--deny`, `default`, or `file:line`.
    pub origin: String,
    /// Its line in the configuration file (0 if not from a file).
    pub line: usize,
}

/// Rule settings from one source (the configuration file or the flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The configuration file these come from (`None`: flags).
    pub source: Option<PathBuf>,
    /// `max-bytes`.
    pub max_bytes: Option<u64>,
    /// `max-files`.
    pub max_files: Option<u64>,
    /// `max-tar-bytes`.
    pub max_tar_bytes: Option<u64>,
    /// `deny` (from a file: replaces the default `.git`; from flags: added).
    pub deny: Option<Vec<Glob>>,
    /// `require` (from a file: the list; from flags: added).
    pub require: Option<Vec<String>>,
    /// `fail-on`.
    pub fail_on: Option<FailOn>,
    /// `baseline` and the line it is on (0 for a flag).
    pub baseline: Option<(PathBuf, usize)>,
    /// `max-growth` (percent) and the line it is on (0 for a flag).
    pub max_growth: Option<(f64, usize)>,
    /// Rules turned off.
    pub disable: Vec<RuleId>,
}

/// The rules in force: defaults, then the configuration file, then flags.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The configuration file used, if any.
    pub config: Option<PathBuf>,
    /// Sent-bytes limit.
    pub max_bytes: Option<u64>,
    /// Sent-files limit.
    pub max_files: Option<u64>,
    /// Tar-size limit.
    pub max_tar_bytes: Option<u64>,
    /// Deny patterns.
    pub deny: Vec<Glob>,
    /// Required paths.
    pub require: Vec<String>,
    /// Lint threshold.
    pub fail_on: FailOn,
    /// Baseline report and growth limit (percent).
    pub growth: Option<(PathBuf, f64)>,
    /// Rules turned off.
    pub disabled: Vec<RuleId>,
}

impl Default for Rules {
    /// The defaults: deny `.git`, deny secrets, fail on lint errors.
    fn default() -> Rules {
        Rules {
            config: None,
            max_bytes: None,
            max_files: None,
            max_tar_bytes: None,
            deny: vec![Glob {
                pattern: ".git".into(),
                origin: "default".into(),
                line: 0,
            }],
            require: Vec::new(),
            fail_on: FailOn::At(Level::Error),
            growth: None,
            disabled: Vec::new(),
        }
    }
}

/// Why `check` cannot answer (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The configuration file is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration file cannot be read.
    #[error("{path}: cannot read the configuration file: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Flags that do not go together.
    #[error("{0}")]
    Usage(String),
    /// The baseline report cannot be used.
    #[error("baseline {path}: {message}")]
    Baseline {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A deny pattern Docker's matcher refuses.
    #[error("{origin}: deny pattern {pattern:?}: {message}")]
    Glob {
        /// Where the pattern was given.
        origin: String,
        /// The pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// The context cannot be read.
    #[error(transparent)]
    Context(#[from] crate::error::Error),
}

/// Reads a configuration file.
pub fn load_config(path: &Path) -> Result<Settings, CheckError> {
    let text = fs::read_to_string(path).map_err(|e| CheckError::ConfigRead {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(config::parse(&text, path)?)
}

impl Rules {
    /// The rules from the defaults, the configuration file's settings and
    /// the flags' settings, in that order. Scalars from flags win; deny
    /// and require patterns from flags are added to the file's.
    pub fn resolve(file: Option<&Settings>, flags: &Settings) -> Result<Rules, CheckError> {
        let mut r = Rules {
            config: file.and_then(|f| f.source.clone()),
            ..Rules::default()
        };
        let mut baseline = None;
        let mut growth = None;
        for s in file.into_iter().chain(std::iter::once(flags)) {
            let from_file = s.source.is_some();
            r.max_bytes = s.max_bytes.or(r.max_bytes);
            r.max_files = s.max_files.or(r.max_files);
            r.max_tar_bytes = s.max_tar_bytes.or(r.max_tar_bytes);
            r.fail_on = s.fail_on.unwrap_or(r.fail_on);
            if let Some(d) = &s.deny {
                if from_file {
                    r.deny = d.clone();
                } else {
                    r.deny.extend(d.iter().cloned());
                }
            }
            if let Some(q) = &s.require {
                r.require.extend(q.iter().cloned());
            }
            if let Some(b) = &s.baseline {
                baseline = Some((b.clone(), s.source.clone()));
            }
            if let Some(g) = s.max_growth {
                growth = Some((g, s.source.clone()));
            }
            for d in &s.disable {
                if !r.disabled.contains(d) {
                    r.disabled.push(*d);
                }
            }
        }
        r.growth = match (baseline, growth) {
            (Some(((path, _), _)), Some(((pct, _), _))) => Some((path, pct)),
            (None, None) => None,
            (Some(((_, line), Some(file))), None) | (None, Some(((_, line), Some(file)))) => {
                return Err(ConfigError {
                    file,
                    line,
                    key: Some("check.baseline".into()),
                    message: "baseline and max-growth go together: set both".into(),
                }
                .into())
            }
            _ => {
                return Err(CheckError::Usage(
                    "--baseline and --max-growth go together: give both (or set them in the configuration file)".into(),
                ))
            }
        };
        Ok(r)
    }

    /// Whether a rule is turned off.
    pub fn is_disabled(&self, rule: RuleId) -> bool {
        self.disabled.contains(&rule)
    }

    /// The deny patterns compiled as Docker compiles ignore patterns.
    pub fn deny_matcher(&self) -> Result<Matcher, CheckError> {
        let mut m = Matcher::default();
        for (i, g) in self.deny.iter().enumerate() {
            m.push(i + 1, g.pattern.as_bytes())
                .map_err(|e| CheckError::Glob {
                    origin: g.origin.clone(),
                    pattern: g.pattern.clone(),
                    message: match e {
                        crate::matcher::NewError::LoneBang { .. } => {
                            "a lone \"!\" is not a pattern".into()
                        }
                        crate::matcher::NewError::Syntax { .. } => {
                            "syntax error in pattern (Docker's pattern syntax)".into()
                        }
                    },
                })?;
        }
        Ok(m)
    }
}

/// A saved `ctxray report --json` to compare against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// The file.
    pub path: PathBuf,
    /// Its `tar_bytes`.
    pub tar_bytes: u64,
    /// Its `included.bytes`.
    pub included_bytes: u64,
    /// Its `engine`.
    pub engine: Option<String>,
}

impl Baseline {
    /// Reads a baseline report file.
    pub fn load(path: &Path) -> Result<Baseline, CheckError> {
        let text = fs::read_to_string(path).map_err(|e| CheckError::Baseline {
            path: path.to_path_buf(),
            message: format!("cannot read it: {e}"),
        })?;
        Baseline::parse(&text, path)
    }

    /// Parses the text of a baseline report (`report --json`, schema 1).
    pub fn parse(text: &str, path: &Path) -> Result<Baseline, CheckError> {
        let err = |message: String| CheckError::Baseline {
            path: path.to_path_buf(),
            message,
        };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "not JSON ({e}); save one with `ctxray report --json`"
            ))
        })?;
        match v.get("schema").and_then(serde_json::Value::as_u64) {
            Some(1) => {}
            Some(n) => return Err(err(format!("report schema {n} is not supported (1 is)"))),
            None => {
                return Err(err(
                    "not a `ctxray report --json` output (no \"schema\")".into()
                ))
            }
        }
        let tar_bytes = v
            .get("tar_bytes")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| err("no \"tar_bytes\" number".into()))?;
        let included_bytes = v
            .get("included")
            .and_then(|i| i.get("bytes"))
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| err("no \"included.bytes\" number".into()))?;
        Ok(Baseline {
            path: path.to_path_buf(),
            tar_bytes,
            included_bytes,
            engine: v.get("engine").and_then(|e| e.as_str()).map(str::to_string),
        })
    }
}

/// Pass, fail or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The rule holds.
    Pass,
    /// The rule is broken.
    Fail,
    /// The rule is off or has nothing to check.
    Skip,
}

impl Status {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// A measured value or a limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Bytes.
    Bytes(u64),
    /// A count (files, paths, findings).
    Count(u64),
    /// A percentage (may be infinite: growth from 0).
    Percent(f64),
}

impl Value {
    /// Human form (decimal sizes, like `docker build`).
    pub fn human(self) -> String {
        match self {
            Value::Bytes(b) => human_size(b),
            Value::Count(n) => n.to_string(),
            Value::Percent(p) if p.is_infinite() => "∞%".into(),
            Value::Percent(p) => format!("{p:.1}%"),
        }
    }

    /// The unit name for JSON.
    pub fn unit(self) -> &'static str {
        match self {
            Value::Bytes(_) => "bytes",
            Value::Count(_) => "count",
            Value::Percent(_) => "percent",
        }
    }

    /// The raw number for JSON (`null` for an infinite percentage).
    pub fn json(self) -> serde_json::Value {
        match self {
            Value::Bytes(b) | Value::Count(b) => b.into(),
            Value::Percent(p) => {
                serde_json::Number::from_f64(p).map_or(serde_json::Value::Null, Into::into)
            }
        }
    }
}

fn human_size(b: u64) -> String {
    humansize::format_size(b, humansize::DECIMAL)
}

/// Where an offender is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A context-relative path (lossy UTF-8; directories end with `/`).
    Context(String),
    /// A file as the user names it (relative to the current directory
    /// where possible), with a line.
    File {
        /// The file.
        path: String,
        /// 1-based line.
        line: Option<usize>,
    },
}

/// One thing that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offender {
    /// Where.
    pub location: Location,
    /// What about it, in plain words.
    pub detail: String,
    /// The lint finding, for the `lint` rule.
    pub finding: Option<Finding>,
}

/// The result of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// The rule.
    pub rule: RuleId,
    /// Pass, fail or skip.
    pub status: Status,
    /// What was measured.
    pub measured: Option<Value>,
    /// The limit.
    pub limit: Option<Value>,
    /// One line, plain words.
    pub message: String,
    /// What breaks the rule (all of them).
    pub offenders: Vec<Offender>,
}

/// Everything `check` found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The context root (absolute).
    pub context: PathBuf,
    /// The engine.
    pub engine: Engine,
    /// The repository root that SARIF and GitHub paths are relative to:
    /// the closest ancestor of the context holding `.git`, else the context.
    pub repo_root: PathBuf,
    /// The ignore file in use, if it exists (absolute).
    pub ignore_file: Option<PathBuf>,
    /// The Dockerfile, if it exists (absolute).
    pub dockerfile: Option<PathBuf>,
    /// The configuration file used, if any.
    pub config: Option<PathBuf>,
    /// One result per rule, in [`RuleId::ALL`] order.
    pub results: Vec<RuleResult>,
    /// Notes for stderr (e.g. a baseline from another engine).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Whether no rule failed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.status != Status::Fail)
    }

    /// How many rules passed, failed and were skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |s| self.results.iter().filter(|r| r.status == s).count();
        (n(Status::Pass), n(Status::Fail), n(Status::Skip))
    }
}

/// The closest ancestor of `dir` (itself included) that holds `.git`.
pub fn repo_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| fs::symlink_metadata(d.join(".git")).is_ok())
        .map(Path::to_path_buf)
}

fn skip(rule: RuleId, message: impl Into<String>) -> RuleResult {
    RuleResult {
        rule,
        status: Status::Skip,
        measured: None,
        limit: None,
        message: message.into(),
        offenders: Vec::new(),
    }
}

fn limit_result(rule: RuleId, what: &str, measured: Value, limit: Value) -> RuleResult {
    let over = match (measured, limit) {
        (Value::Bytes(m), Value::Bytes(l)) | (Value::Count(m), Value::Count(l)) => m > l,
        _ => false,
    };
    let message = if over {
        let by = match (measured, limit) {
            (Value::Bytes(m), Value::Bytes(l)) => human_size(m - l),
            (Value::Count(m), Value::Count(l)) => (m - l).to_string(),
            _ => String::new(),
        };
        format!(
            "{} {what}, over the limit of {} by {by}",
            measured.human(),
            limit.human()
        )
    } else {
        format!("{} {what}, limit {}", measured.human(), limit.human())
    };
    RuleResult {
        rule,
        status: if over { Status::Fail } else { Status::Pass },
        measured: Some(measured),
        limit: Some(limit),
        message,
        offenders: Vec::new(),
    }
}

fn growth(now: u64, base: u64) -> f64 {
    if base == 0 {
        if now == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (now as f64 - base as f64) * 100.0 / base as f64
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

struct DenyHit {
    index: usize,
    dir: Option<Vec<u8>>,
    entries: u64,
    bytes: u64,
}

/// Measures the context against the rules.
pub fn evaluate(ctx: &Context, rules: &Rules) -> Result<Outcome, CheckError> {
    let on = |r: RuleId| !rules.is_disabled(r);
    let mut results = Vec::new();
    let mut warnings = Vec::new();

    // deny + secrets: one walk over what is sent.
    let deny_on = on(RuleId::Deny) && !rules.deny.is_empty();
    let secrets_on = on(RuleId::Secrets);
    let matcher = if deny_on {
        Some(rules.deny_matcher()?)
    } else {
        None
    };
    let mut deny_hits: Vec<(String, DenyHit)> = Vec::new();
    let mut secret_hits: Vec<Offender> = Vec::new();
    let mut sent_entries: u64 = 0;
    if deny_on || secrets_on {
        let collapse = matcher.as_ref().is_some_and(|m| !m.has_exclusions());
        let mut current: Option<usize> = None;
        let mut err: Option<crate::matcher::MatchError> = None;
        ctx.walk(WalkMode::Sent, |ev| {
            let Event::Entry(e) = ev else { return Ok(()) };
            if e.status != WalkStatus::Sent {
                return Ok(());
            }
            sent_entries += 1;
            let path = e.path;
            if secrets_on && e.kind == Kind::File {
                if let Some(kind) = lint::secrets::secret_kind(path) {
                    secret_hits.push(Offender {
                        location: Location::Context(String::from_utf8_lossy(path).into_owned()),
                        detail: kind.to_string(),
                        finding: None,
                    });
                }
            }
            let Some(m) = &matcher else { return Ok(()) };
            let size = |k: Kind| {
                if k == Kind::File {
                    fs::symlink_metadata(e.abs).map_or(0, |m| m.len())
                } else {
                    0
                }
            };
            if let Some(i) = current {
                if let Some((_, hit)) = deny_hits.get_mut(i) {
                    if let Some(d) = &hit.dir {
                        // path[d.len()] only after path.len() > d.len().
                        if path.len() > d.len() && path.starts_with(d) && path[d.len()] == b'/' {
                            hit.entries += 1;
                            hit.bytes += size(e.kind);
                            return Ok(());
                        }
                    }
                }
                current = None;
            }
            let v = match m.matches_or_parent_matches(path) {
                Ok(v) => v,
                Err(x) => {
                    err.get_or_insert(x);
                    return Ok(());
                }
            };
            if v.excluded {
                let index =
                    v.by.and_then(|b| m.patterns().get(b))
                        .map_or(0, |p| p.line.saturating_sub(1));
                let mut shown = String::from_utf8_lossy(path).into_owned();
                let dir = (e.kind == Kind::Dir).then(|| path.to_vec());
                if dir.is_some() {
                    shown.push('/');
                }
                deny_hits.push((
                    shown,
                    DenyHit {
                        index,
                        dir: dir.filter(|_| collapse),
                        entries: 1,
                        bytes: size(e.kind),
                    },
                ));
                if collapse && e.kind == Kind::Dir {
                    current = Some(deny_hits.len() - 1);
                }
            }
            Ok(())
        })?;
        if let Some(x) = err {
            let g = rules.deny.get(x.line.saturating_sub(1));
            return Err(CheckError::Glob {
                origin: g.map_or_else(|| "--deny".into(), |g| g.origin.clone()),
                pattern: x.pattern,
                message: format!(
                    "syntax error in pattern, reached while matching {:?}",
                    x.path
                ),
            });
        }
    }

    // Size rules: one report walk when any is set.
    let sizes_on = [
        (RuleId::MaxBytes, rules.max_bytes.is_some()),
        (RuleId::MaxFiles, rules.max_files.is_some()),
        (RuleId::MaxTarBytes, rules.max_tar_bytes.is_some()),
        (RuleId::MaxGrowth, rules.growth.is_some()),
    ];
    let need_report = sizes_on.iter().any(|&(r, set)| set && on(r));
    let baseline = match &rules.growth {
        Some((path, _)) if on(RuleId::MaxGrowth) => Some(Baseline::load(path)?),
        _ => None,
    };
    // The lint's entries come from the same walk when both run.
    let lint_on = on(RuleId::Lint) && rules.fail_on != FailOn::Never;
    let mut gatherer = (need_report && lint_on).then(|| lint::Gatherer::new(usize::MAX));
    let rep = if need_report {
        Some(report::build_observed(
            ctx,
            ReportOptions {
                top: 0,
                tree_depth: 0,
            },
            |_| {},
            |ev| {
                if let Some(g) = gatherer.as_mut() {
                    g.observe(ev);
                }
            },
        )?)
    } else {
        None
    };
    for rule in RuleId::ALL {
        if !on(rule) {
            results.push(skip(rule, "disabled"));
            continue;
        }
        let r = match rule {
            RuleId::Deny if rules.deny.is_empty() => skip(rule, "no deny patterns"),
            RuleId::Deny => {
                let pats: Vec<&str> = rules.deny.iter().map(|g| g.pattern.as_str()).collect();
                let offenders: Vec<Offender> = deny_hits
                    .iter()
                    .map(|(shown, h)| {
                        let g = rules.deny.get(h.index);
                        let mut detail = format!(
                            "matches deny pattern `{}` ({})",
                            g.map_or("?", |g| g.pattern.as_str()),
                            g.map_or("?", |g| g.origin.as_str())
                        );
                        if h.dir.is_some() {
                            detail.push_str(&format!(
                                "; {} sent, {}",
                                plural(h.entries as usize, "entry", "entries"),
                                human_size(h.bytes)
                            ));
                        }
                        Offender {
                            location: Location::Context(shown.clone()),
                            detail,
                            finding: None,
                        }
                    })
                    .collect();
                let n = offenders.len();
                RuleResult {
                    rule,
                    status: if n == 0 { Status::Pass } else { Status::Fail },
                    measured: Some(Value::Count(n as u64)),
                    limit: Some(Value::Count(0)),
                    message: if n == 0 {
                        format!(
                            "nothing sent matches {} ({})",
                            plural(pats.len(), "deny pattern", "deny patterns"),
                            pats.join(", ")
                        )
                    } else {
                        format!(
                            "{} sent that must not be ({})",
                            plural(n, "path", "paths"),
                            pats.join(", ")
                        )
                    },
                    offenders,
                }
            }
            RuleId::Secrets => {
                let n = secret_hits.len();
                RuleResult {
                    rule,
                    status: if n == 0 { Status::Pass } else { Status::Fail },
                    measured: Some(Value::Count(n as u64)),
                    limit: Some(Value::Count(0)),
                    message: if n == 0 {
                        format!(
                            "no secret files among {} sent",
                            plural(sent_entries as usize, "entry", "entries")
                        )
                    } else {
                        format!("{} sent", plural(n, "secret file", "secret files"))
                    },
                    offenders: std::mem::take(&mut secret_hits),
                }
            }
            RuleId::Require if rules.require.is_empty() => skip(rule, "no required paths"),
            RuleId::Require => require(ctx, &rules.require)?,
            RuleId::Lint if rules.fail_on == FailOn::Never => skip(rule, "fail-on is never"),
            RuleId::Lint => {
                let FailOn::At(level) = rules.fail_on else {
                    continue;
                };
                let findings = match gatherer.take() {
                    Some(g) => lint::lint_walked(ctx, &LintOptions::default(), g)?,
                    None => lint::lint(ctx, &LintOptions::default())?,
                };
                let failing: Vec<&Finding> = findings.iter().filter(|f| f.level >= level).collect();
                let n = failing.len();
                let below = findings.len() - n;
                let offenders = failing
                    .iter()
                    .map(|f| Offender {
                        location: Location::File {
                            path: f.file.clone(),
                            line: f.line,
                        },
                        detail: format!(
                            "{} {} ({}): {}",
                            f.code,
                            f.name,
                            level_name(f.level),
                            f.message
                        ),
                        finding: Some((*f).clone()),
                    })
                    .collect();
                RuleResult {
                    rule,
                    status: if n == 0 { Status::Pass } else { Status::Fail },
                    measured: Some(Value::Count(n as u64)),
                    limit: Some(Value::Count(0)),
                    message: format!(
                        "{} at or above {}{}",
                        plural(n, "finding", "findings"),
                        rules.fail_on.name(),
                        if below > 0 {
                            format!(" ({below} below)")
                        } else {
                            String::new()
                        }
                    ),
                    offenders,
                }
            }
            RuleId::MaxBytes | RuleId::MaxFiles | RuleId::MaxTarBytes | RuleId::MaxGrowth => {
                continue;
            }
        };
        results.push(r);
    }

    for (rule, set) in sizes_on {
        if !on(rule) {
            results.push(skip(rule, "disabled"));
            continue;
        }
        let Some(rep) = rep.as_ref().filter(|_| set) else {
            let flag = match rule {
                RuleId::MaxGrowth => "--baseline FILE --max-growth PERCENT",
                RuleId::MaxBytes => "--max-bytes SIZE",
                RuleId::MaxFiles => "--max-files N",
                _ => "--max-tar-bytes SIZE",
            };
            results.push(skip(rule, format!("no limit set ({flag})")));
            continue;
        };
        let r = match rule {
            RuleId::MaxBytes => limit_result(
                rule,
                "sent",
                Value::Bytes(rep.included.bytes),
                Value::Bytes(rules.max_bytes.unwrap_or(0)),
            ),
            RuleId::MaxFiles => limit_result(
                rule,
                "files sent",
                Value::Count(rep.included.files),
                Value::Count(rules.max_files.unwrap_or(0)),
            ),
            RuleId::MaxTarBytes => limit_result(
                rule,
                "context tar",
                Value::Bytes(rep.tar_bytes),
                Value::Bytes(rules.max_tar_bytes.unwrap_or(0)),
            ),
            _ => {
                let (Some(b), Some((_, max))) = (&baseline, &rules.growth) else {
                    continue;
                };
                if let Some(e) = &b.engine {
                    if e != ctx.engine.name() {
                        warnings.push(format!(
                            "baseline {} was made with engine {e}, this check uses {}",
                            b.path.display(),
                            ctx.engine.name()
                        ));
                    }
                }
                let gt = growth(rep.tar_bytes, b.tar_bytes);
                let gb = growth(rep.included.bytes, b.included_bytes);
                let worst = gt.max(gb);
                let fail = worst > *max;
                let fmt = |g: f64| {
                    if g.is_infinite() {
                        "from 0".to_string()
                    } else {
                        format!("{g:+.1}%")
                    }
                };
                RuleResult {
                    rule,
                    status: if fail { Status::Fail } else { Status::Pass },
                    measured: Some(Value::Percent(worst)),
                    limit: Some(Value::Percent(*max)),
                    message: format!(
                        "tar {} → {} ({}), sent {} → {} ({}), limit +{:.1}%",
                        human_size(b.tar_bytes),
                        human_size(rep.tar_bytes),
                        fmt(gt),
                        human_size(b.included_bytes),
                        human_size(rep.included.bytes),
                        fmt(gb),
                        max
                    ),
                    offenders: Vec::new(),
                }
            }
        };
        results.push(r);
    }
    results.sort_by_key(|r| r.rule);

    let ignore_file = ctx
        .ignore
        .as_ref()
        .map(|f| std::path::absolute(&f.path).unwrap_or_else(|_| f.path.clone()));
    Ok(Outcome {
        context: ctx.root.clone(),
        engine: ctx.engine,
        repo_root: repo_root(&ctx.root).unwrap_or_else(|| ctx.root.clone()),
        ignore_file,
        dockerfile: ctx.dockerfile_abs.clone(),
        config: rules.config.clone(),
        results,
        warnings,
    })
}

fn require(ctx: &Context, paths: &[String]) -> Result<RuleResult, CheckError> {
    let mut offenders = Vec::new();
    for p in paths {
        let x = ctx.explain(p.as_bytes())?;
        if x.exists && x.sent {
            continue;
        }
        let detail = if !x.exists {
            "does not exist in the context".to_string()
        } else {
            match x.decided_by.and_then(|i| ctx.effective.patterns().get(i)) {
                Some(pat) => format!(
                    "left out by {}:{}: {}",
                    ctx.ignore_display(),
                    pat.line,
                    pat.display()
                ),
                None => "left out".to_string(),
            }
        };
        offenders.push(Offender {
            location: Location::Context(String::from_utf8_lossy(&x.path).into_owned()),
            detail,
            finding: None,
        });
    }
    let n = offenders.len();
    Ok(RuleResult {
        rule: RuleId::Require,
        status: if n == 0 { Status::Pass } else { Status::Fail },
        measured: Some(Value::Count(n as u64)),
        limit: Some(Value::Count(0)),
        message: if n == 0 {
            format!(
                "all {} sent",
                plural(paths.len(), "required path", "required paths")
            )
        } else {
            format!(
                "{n} of {} not sent",
                plural(paths.len(), "required path", "required paths")
            )
        },
        offenders,
    })
}

#[cfg(test)]
mod tests;
