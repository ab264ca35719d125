//! `ctxray lint`: mistakes in .dockerignore and the Dockerfile, found
//! against the exact context.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use ctxray::context::IgnoreSource;
use ctxray::lint::{self, fix, Finding, Level, LintOptions};
use ctxray::walk::Engine;

use super::output::{sanitize_str, Paint};
use super::{ContextArgs, EngineArg, Global, Outcome};

/// The lowest level that makes `lint` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warning,
    /// Any finding.
    Info,
    /// Never (exit 0 whatever is found).
    Never,
}

impl FailOn {
    fn fails(self, l: Level) -> bool {
        match self {
            FailOn::Error => l >= Level::Error,
            FailOn::Warning => l >= Level::Warning,
            FailOn::Info => true,
            FailOn::Never => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
    #[command(flatten)]
    ctx: ContextArgs,
    /// Which of Docker's engines to follow.
    #[arg(long, value_enum, default_value = "buildkit")]
    engine: EngineArg,
    /// The build target (stage); the last stage by default.
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// One JSON object (schema 1): findings and counts by level.
    #[arg(long, conflicts_with_all = ["fix", "write"])]
    json: bool,
    /// Exit 1 when a finding at or above this level is left (after --fix/--write: one without a fix).
    #[arg(long, value_enum, default_value = "error", value_name = "LEVEL")]
    fail_on: FailOn,
    /// Print a unified diff of the ignore file with every suggested fix applied.
    #[arg(long)]
    fix: bool,
    /// Apply every suggested fix to the ignore file (atomically, keeping its line endings).
    #[arg(long)]
    write: bool,
    /// Do not compare with .gitignore (GI001).
    #[arg(long)]
    no_gitignore: bool,
}

/// The ignore file Docker would read, for a context that cannot be opened
/// because of its patterns.
fn ignore_path(a: &LintArgs) -> Option<PathBuf> {
    let o = a.ctx.options(a.context.clone(), a.engine.into());
    match o.ignore {
        IgnoreSource::None => None,
        IgnoreSource::File(p) => Some(p),
        IgnoreSource::Auto => {
            if o.engine == Engine::Buildkit {
                let df = o
                    .dockerfile
                    .clone()
                    .unwrap_or_else(|| a.context.join("Dockerfile"));
                let mut s = df.into_os_string();
                s.push(".dockerignore");
                let s = PathBuf::from(s);
                if s.is_file() {
                    return Some(s);
                }
            }
            Some(a.context.join(".dockerignore"))
        }
    }
}

fn shown(p: &Path) -> String {
    match std::fs::canonicalize(p) {
        Ok(abs) => lint::display_path(&abs),
        Err(_) => p.to_string_lossy().into_owned(),
    }
}

pub fn run(a: &LintArgs, g: &Global) -> anyhow::Result<Outcome> {
    let opts = LintOptions {
        target: a.target.clone(),
        no_gitignore: a.no_gitignore,
    };
    let opened = super::open(&a.ctx, a.context.clone(), a.engine.into());
    let (findings, ignore_file, note) = match opened {
        Ok(ctx) => {
            let f = lint::lint(ctx, &opts)?;
            let ignore = ctx
                .ignore
                .as_ref()
                .map(|i| (i.path.clone(), lint::display_path(&i.path)));
            (f, ignore, None)
        }
        Err(e) => {
            // Patterns Docker refuses: lint the file's text alone.
            let refused = matches!(
                e.downcast_ref::<ctxray::error::Error>(),
                Some(
                    ctxray::error::Error::Pattern { .. } | ctxray::error::Error::LazyPattern { .. }
                )
            );
            let path = ignore_path(a).filter(|_| refused);
            let Some(path) = path else { return Err(e) };
            let data =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = shown(&path);
            let mut f = lint::lint_ignore_text(&name, &data);
            lint::sort(&mut f);
            let note =
                format!("docker build refuses this ignore file ({e:#}); only its text was checked");
            (f, Some((path, name)), Some(note))
        }
    };
    if let Some(n) = &note {
        eprintln!("ctxray: warning: {}", sanitize_str(n));
    }
    if a.json {
        print_json(a, &findings)?;
        return Ok(outcome(a, findings.iter()));
    }
    if a.fix || a.write {
        return fix_file(a, &findings, ignore_file.as_ref());
    }
    print_human(&findings, Paint(g.color))?;
    Ok(outcome(a, findings.iter()))
}

fn outcome<'a>(a: &LintArgs, mut f: impl Iterator<Item = &'a Finding>) -> Outcome {
    if f.any(|x| a.fail_on.fails(x.level)) {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}

fn print_json(a: &LintArgs, findings: &[Finding]) -> anyhow::Result<()> {
    let (e, w, i) = lint::counts(findings);
    let v = serde_json::json!({
        "schema": 1,
        "context": a.context.to_string_lossy(),
        "engine": Engine::from(a.engine).name(),
        "findings": findings,
        "counts": {"error": e, "warning": w, "info": i},
    });
    let mut out = io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

pub(super) fn level(p: Paint, l: Level) -> String {
    match l {
        Level::Error => p.red(l.name()),
        Level::Warning => p.yellow(l.name()),
        Level::Info => p.cyan(l.name()),
    }
}

/// A message or fix line made safe to print: control characters and
/// bidirectional overrides escaped; a backslash stays one (it is pattern
/// syntax the user must see as written).
pub(super) fn text(s: &str) -> String {
    s.split('\\')
        .map(sanitize_str)
        .collect::<Vec<_>>()
        .join("\\")
}

fn print_human(findings: &[Finding], p: Paint) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let mut last: Option<&str> = None;
    for f in findings {
        if last.is_some_and(|l| l != f.file) {
            writeln!(out)?;
        }
        last = Some(&f.file);
        let file = sanitize_str(&f.file);
        let at = match f.line {
            Some(l) => format!("{file}:{l}"),
            None => file,
        };
        writeln!(
            out,
            "{}: {}[{} {}]: {}",
            p.bold(&at),
            level(p, f.level),
            f.code,
            f.name,
            text(&f.message)
        )?;
        if let Some(fix) = &f.fix {
            writeln!(out, "  {} {}", p.green("fix:"), text(fix))?;
        }
    }
    let (e, w, i) = lint::counts(findings);
    if findings.is_empty() {
        writeln!(out, "{}", p.green("no findings"))?;
    } else {
        writeln!(out)?;
        let plural = |n: usize, s: &str| format!("{n} {s}{}", if n == 1 { "" } else { "s" });
        writeln!(
            out,
            "{}",
            p.bold(&format!(
                "{}, {}, {}",
                plural(e, "error"),
                plural(w, "warning"),
                plural(i, "info")
            ))
        )?;
    }
    Ok(())
}

fn fix_file(
    a: &LintArgs,
    findings: &[Finding],
    ignore: Option<&(PathBuf, String)>,
) -> anyhow::Result<Outcome> {
    let Some((path, name)) = ignore else {
        eprintln!("ctxray: no ignore file: nothing to fix");
        return Ok(outcome(a, findings.iter()));
    };
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let fixes = fix::fixes_for(name, findings);
    let (new, changed) = fix::apply(&data, &fixes);
    if a.fix {
        let mut out = io::stdout().lock();
        out.write_all(&fix::unified_diff(name, &data, &new))?;
        out.flush()?;
    }
    if a.write && changed > 0 {
        write_atomic(path, &new)?;
        eprintln!(
            "ctxray: {}: {changed} line{} fixed",
            sanitize_str(name),
            if changed == 1 { "" } else { "s" }
        );
    } else if changed == 0 {
        eprintln!("ctxray: nothing to fix");
    }
    let fixed: Vec<usize> = fixes.iter().map(|f| f.0).collect();
    let left = findings.iter().filter(|f| {
        !(&f.file == name && f.fix.is_some() && f.line.is_some_and(|l| fixed.contains(&l)))
    });
    Ok(outcome(a, left))
}

/// Writes `data` to `path` through a temporary file beside it and a rename,
/// keeping the file's permissions.
fn write_atomic(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    // A symlinked ignore file: replace its target, not the link.
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = real.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    if let Ok(m) = std::fs::metadata(&real) {
        let _ = std::fs::set_permissions(tmp.path(), m.permissions());
    }
    tmp.persist(&real)
        .with_context(|| format!("cannot replace {}", real.display()))?;
    Ok(())
}
