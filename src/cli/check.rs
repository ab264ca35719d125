//! `ctxray check`: budgets and rules for CI; exit 1 when one fails.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ctxray::check::{
    self, config, render, FailOn, Glob, Location, Outcome as CheckOutcome, RuleId, Rules, Settings,
    Status,
};

use super::output::{out, outln};
use super::output::{sanitize_str, Paint};
use super::{ContextArgs, EngineArg, Global, Outcome};

/// How many offending paths the text output lists per rule.
const SHOWN: usize = 5;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A PASS/FAIL/SKIP line per rule and a summary line.
    #[default]
    Text,
    /// One JSON object ("schema": 1).
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// GitHub Actions workflow commands (::error file=...,line=...::message).
    Github,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Rules: deny, secrets, require, lint, max-bytes, max-files, max-tar-bytes, \
max-growth. With no rule given, check denies .git and secret files and fails on lint errors. \
Settings come from .ctxray.toml at the context root (or --config FILE), then from the flags.\n\
Exit status: 0 every rule passes, 1 a rule fails, 2 usage or input error."
)]
pub struct CheckArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
    #[command(flatten)]
    ctx: ContextArgs,
    /// Which of Docker's engines to follow.
    #[arg(long, value_enum, default_value = "buildkit")]
    engine: EngineArg,
    /// Read rules from this file instead of <CONTEXT>/.ctxray.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore <CONTEXT>/.ctxray.toml.
    #[arg(long)]
    no_config: bool,
    /// Fail when the files sent add up to more than SIZE (50MB, 1.5GiB, 1024).
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    max_bytes: Option<u64>,
    /// Fail when more than N regular files are sent.
    #[arg(long, value_name = "N")]
    max_files: Option<u64>,
    /// Fail when the context tar is larger than SIZE.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    max_tar_bytes: Option<u64>,
    /// Fail when a sent path matches GLOB (Docker pattern syntax; repeatable; added to the default .git).
    #[arg(long, value_name = "GLOB")]
    deny: Vec<String>,
    /// Fail unless PATH is sent (repeatable).
    #[arg(long, value_name = "PATH")]
    require: Vec<String>,
    /// Lint findings at or above LEVEL fail the check [default: error].
    #[arg(long, value_name = "LEVEL", value_parser = ["info", "warning", "error", "never"])]
    fail_on: Option<String>,
    /// A saved `ctxray report --json` to compare sizes with (needs --max-growth).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Fail when the tar or the sent bytes grew by more than PERCENT against --baseline.
    #[arg(long, value_name = "PERCENT", value_parser = percent_arg)]
    max_growth: Option<f64>,
    /// Turn a rule off (repeatable).
    #[arg(long, value_name = "RULE", value_parser = ["deny", "secrets", "require", "lint", "max-bytes", "max-files", "max-tar-bytes", "max-growth"])]
    disable: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

fn size_arg(s: &str) -> Result<u64, String> {
    check::size::parse_size(s)
}

fn percent_arg(s: &str) -> Result<f64, String> {
    check::size::parse_percent(s)
}

impl CheckArgs {
    fn settings(&self) -> anyhow::Result<Settings> {
        let fail_on = match &self.fail_on {
            Some(s) => Some(FailOn::parse(s).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let disable = self
            .disable
            .iter()
            .map(|d| RuleId::from_id(d).ok_or_else(|| anyhow::anyhow!("unknown rule {d:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Settings {
            source: None,
            max_bytes: self.max_bytes,
            max_files: self.max_files,
            max_tar_bytes: self.max_tar_bytes,
            deny: (!self.deny.is_empty()).then(|| {
                self.deny
                    .iter()
                    .map(|g| Glob {
                        pattern: g.clone(),
                        origin: "--deny".into(),
                        line: 0,
                    })
                    .collect()
            }),
            require: (!self.require.is_empty()).then(|| self.require.clone()),
            fail_on,
            baseline: self.baseline.clone().map(|b| (b, 0)),
            max_growth: self.max_growth.map(|g| (g, 0)),
            disable,
        })
    }

    /// The configuration file to read, if any.
    fn config_file(&self) -> Option<PathBuf> {
        if self.no_config {
            return None;
        }
        if let Some(c) = &self.config {
            return Some(c.clone());
        }
        let p = if self.context.as_os_str() == "." {
            PathBuf::from(config::FILE_NAME)
        } else {
            self.context.join(config::FILE_NAME)
        };
        p.is_file().then_some(p)
    }
}

pub fn run(a: &CheckArgs, g: &Global) -> anyhow::Result<Outcome> {
    let file = match a.config_file() {
        Some(p) => Some(check::load_config(&p)?),
        None => None,
    };
    let rules = Rules::resolve(file.as_ref(), &a.settings()?)?;
    // Compile the deny patterns before walking, so a bad one is a usage error.
    rules.deny_matcher()?;
    let ctx = super::open(&a.ctx, a.context.clone(), a.engine.into())?;
    let o = check::evaluate(ctx, &rules)?;
    for w in &o.warnings {
        eprintln!("ctxray: warning: {}", sanitize_str(w));
    }
    match a.format {
        Format::Text => print_text(a, &o, Paint(g.color))?,
        Format::Json => outln!("{}", serde_json::to_string_pretty(&render::json(&o))?),
        Format::Sarif => outln!(
            "{}",
            serde_json::to_string_pretty(&render::sarif(
                &o,
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_REPOSITORY")
            ))?
        ),
        Format::Github => out!("{}", render::github(&o)),
    }
    Ok(if o.passed() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn print_text(a: &CheckArgs, o: &CheckOutcome, p: Paint) -> std::io::Result<()> {
    let config = match &o.config {
        Some(c) => format!("config {}", sanitize_str(&c.to_string_lossy())),
        None => "no config file".into(),
    };
    outln!(
        "{} {} · engine {} · {}",
        p.bold("ctxray check"),
        sanitize_str(&a.context.to_string_lossy()),
        o.engine.name(),
        config
    );
    for r in &o.results {
        let label = match r.status {
            Status::Pass => p.green("PASS"),
            Status::Fail => p.red(&p.bold("FAIL")),
            Status::Skip => p.dim("SKIP"),
        };
        let text = format!("{:<14} {}", r.rule.id(), sanitize_str(&r.message));
        let text = if r.status == Status::Skip {
            p.dim(&text)
        } else {
            text
        };
        outln!("  {label}  {text}");
        for x in r.offenders.iter().take(SHOWN) {
            let place = match &x.location {
                Location::Context(path) => sanitize_str(path),
                Location::File {
                    path,
                    line: Some(l),
                } => format!("{}:{l}", sanitize_str(path)),
                Location::File { path, line: None } => sanitize_str(path),
            };
            outln!(
                "          {}  {}",
                p.cyan(&place),
                p.dim(&sanitize_str(&x.detail))
            );
        }
        if r.offenders.len() > SHOWN {
            outln!("          and {} more", r.offenders.len() - SHOWN);
        }
    }
    let line = render::summary(o);
    outln!(
        "{}",
        if o.passed() {
            p.green(&line)
        } else {
            p.red(&line)
        }
    );
    Ok(())
}
