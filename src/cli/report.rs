//! `ctxray report` (the default command): what is sent and why it is big.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use ctxray::lint::{self, Finding, Gatherer, LintOptions};
use ctxray::report::{build_observed, Progress, Report, ReportOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::outln;
use super::output::{bar, percent, sanitize_str, size, Paint};
use super::{ContextArgs, EngineArg, Global, Outcome};

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
    #[command(flatten)]
    ctx: ContextArgs,
    /// Which of Docker's engines to follow.
    #[arg(long, value_enum, default_value = "buildkit")]
    engine: EngineArg,
    /// How many of the largest directories and files to show.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// Show the sent context as a size tree.
    #[arg(long)]
    tree: bool,
    /// Depth of the tree.
    #[arg(long, default_value_t = 3, value_name = "N", requires = "tree")]
    depth: usize,
    /// One JSON object (schema 1, raw byte counts).
    #[arg(long)]
    json: bool,
    /// Leave out the Findings section (the lint checks walk the context again).
    #[arg(long, conflicts_with = "lint")]
    no_lint: bool,
    /// Show the Findings section even for a context of more than 2,000,000
    /// entries (the lint keeps every entry in memory: about 40 bytes each).
    #[arg(long)]
    lint: bool,
}

/// Above this many entries the report leaves the lint out unless `--lint`;
/// `CTXRAY_LINT_MAX_ENTRIES` overrides it (for tests).
fn lint_max_entries() -> usize {
    std::env::var("CTXRAY_LINT_MAX_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

/// Findings shown in the human report (the rest: `ctxray lint`).
const TOP_FINDINGS: usize = 5;

fn json(
    ctx: &ctxray::context::Context,
    r: &Report,
    findings: Option<&[Finding]>,
) -> serde_json::Value {
    let findings = findings.map(|f| {
        let (errors, warnings, infos) = lint::counts(f);
        serde_json::json!({
            "error": errors, "warning": warnings, "info": infos,
            "top": &f[..f.len().min(TOP_FINDINGS)], // clamped to f.len()
        })
    });
    serde_json::json!({
        "schema": 1,
        "context": ctx.root.to_string_lossy(),
        "engine": ctx.engine.name(),
        "ignore_file": ctx.ignore.as_ref().map(|f| f.display.clone()),
        "included": r.included,
        "excluded": r.excluded,
        "tar_bytes": r.tar_bytes,
        "tar_bytes_without_ignore": r.tar_bytes_without_ignore,
        "categories": r.categories.iter().map(|(c, n)| serde_json::json!({"name": c.name(), "files": n.files, "bytes": n.bytes})).collect::<Vec<_>>(),
        "rules": r.rules,
        "largest": { "dirs": r.largest_dirs, "files": r.largest_files },
        "hints": r.hints,
        "tree": r.tree,
        "warnings": r.warnings,
        "findings": findings,
    })
}

/// A spinner on stderr, shown once a walk has taken 200 ms (on a terminal
/// only, never with `--json`).
struct Spinner {
    enabled: bool,
    start: Instant,
    bar: Option<ProgressBar>,
}

/// 200 ms; `CTXRAY_PROGRESS_DELAY_MS` overrides it (for tests).
fn progress_delay() -> Duration {
    let ms = std::env::var("CTXRAY_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    Duration::from_millis(ms)
}

impl Spinner {
    fn new(enabled: bool) -> Spinner {
        Spinner {
            enabled,
            start: Instant::now(),
            bar: None,
        }
    }

    fn tick(&mut self, p: Progress) {
        if !self.enabled || self.start.elapsed() < progress_delay() {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} scanning {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        bar.set_message(format!("{} entries, {}", p.entries, size(p.bytes)));
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

pub fn run(a: &ReportArgs, g: &Global) -> anyhow::Result<Outcome> {
    let ctx = super::open(&a.ctx, a.context.clone(), a.engine.into())?;
    let opts = ReportOptions {
        top: a.top,
        tree_depth: if a.tree { a.depth } else { 0 },
    };
    let mut spinner = Spinner::new(!a.json && std::io::stderr().is_terminal());
    // The lint's entries are gathered from the report's own walk.
    let lint_limit = if a.lint {
        usize::MAX
    } else {
        lint_max_entries()
    };
    let mut gatherer = (!a.no_lint).then(|| Gatherer::new(lint_limit));
    let r = build_observed(
        ctx,
        opts,
        |p| spinner.tick(p),
        |ev| {
            if let Some(g) = gatherer.as_mut() {
                g.observe(ev);
            }
        },
    );
    spinner.finish();
    let r = r?;
    let entries = r.included.files + r.included.dirs + r.excluded.files + r.excluded.dirs;
    let skip_lint = gatherer.as_ref().is_some_and(Gatherer::overflowed);
    if skip_lint && !a.no_lint {
        eprintln!(
            "ctxray: note: {entries} entries: Findings left out (run `ctxray lint`, or `report --lint`)"
        );
    }
    let findings = if a.no_lint || skip_lint {
        None
    } else {
        let mut f = match gatherer.take() {
            Some(g) => lint::lint_walked(ctx, &LintOptions::default(), g)?,
            None => lint::lint(ctx, &LintOptions::default())?,
        };
        // Most severe first, then in file order.
        f.sort_by_key(|x| std::cmp::Reverse(x.level));
        Some(f)
    };
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json(ctx, &r, findings.as_deref()))?
        );
        return Ok(Outcome::Ok);
    }
    for w in &r.warnings {
        eprintln!("ctxray: warning: {}", sanitize_str(w));
    }
    let p = Paint(g.color);
    let ignore = match &ctx.ignore {
        Some(f) => format!("{} ({} rules)", sanitize_str(&f.display), f.lines.len()),
        None => "no ignore file".into(),
    };
    outln!(
        "{} {} · engine {} · {}",
        p.bold("ctxray"),
        sanitize_str(&a.context.to_string_lossy()),
        ctx.engine.name(),
        ignore
    );
    outln!();
    outln!(
        "  {}  {:>7} files {:>10}   (tar {})",
        p.green("sent    "),
        r.included.files,
        size(r.included.bytes),
        size(r.tar_bytes)
    );
    outln!(
        "  {}  {:>7} files {:>10}",
        p.red("left out"),
        r.excluded.files,
        size(r.excluded.bytes)
    );
    let saved = r.tar_bytes_without_ignore.saturating_sub(r.tar_bytes);
    outln!(
        "  {}  without {}: tar {} → {} with it ({} smaller)",
        p.cyan("savings "),
        ctx.ignore
            .as_ref()
            .map_or(".dockerignore".into(), |f| sanitize_str(&f.display)),
        size(r.tar_bytes_without_ignore),
        size(r.tar_bytes),
        percent(saved, r.tar_bytes_without_ignore)
    );

    if !r.categories.is_empty() {
        outln!();
        outln!("{}", p.bold("Left out, by category"));
        let max = r.categories.iter().map(|c| c.1.bytes).max().unwrap_or(0);
        for (cat, n) in &r.categories {
            outln!(
                "  {:<20} {:>6} files {:>10}  {}",
                cat.name(),
                n.files,
                size(n.bytes),
                p.dim(&bar(n.bytes, max, 20))
            );
        }
    }

    if !r.rules.is_empty() {
        outln!();
        outln!(
            "{}",
            p.bold("Savings by rule (what deleting each line would add back)")
        );
        for rule in &r.rules {
            let note = if rule.dead {
                p.yellow("  decides nothing here (dead or shadowed)")
            } else if rule.exception {
                p.dim("  re-included by this exception")
            } else if rule.files < 0 {
                p.yellow("  deleting it would send less: a later exception needs it")
            } else if rule.decides_files as i64 > rule.files {
                p.dim(&format!(
                    "  ({} more files also left out by other lines)",
                    rule.decides_files as i64 - rule.files
                ))
            } else {
                String::new()
            };
            let sign = if rule.bytes < 0 { "-" } else { "" };
            outln!(
                "  L{:<4} {:<28} {:>6} files {:>10}{note}",
                rule.line,
                sanitize_str(&rule.pattern),
                rule.files,
                format!("{sign}{}", size(rule.bytes.unsigned_abs()))
            );
        }
    }

    let total = r.included.bytes;
    if !r.largest_dirs.is_empty() || !r.largest_files.is_empty() {
        outln!();
        outln!("{}", p.bold("Biggest things still sent"));
        for (label, items, suffix) in [
            ("directories", &r.largest_dirs, "/"),
            ("files", &r.largest_files, ""),
        ] {
            if !items.is_empty() {
                outln!("  {}", p.dim(label));
            }
            for x in items {
                outln!(
                    "  {:>10} {:>6}  {}  {}{suffix}",
                    size(x.bytes),
                    percent(x.bytes, total),
                    p.dim(&bar(x.bytes, total, 20)),
                    sanitize_str(&x.path)
                );
            }
        }
    }

    if !r.hints.is_empty() {
        outln!();
        outln!("{}", p.bold("Hints"));
        for h in &r.hints {
            outln!(
                "  {}/ ({}, {}) is sent: add `{}` to the ignore file",
                sanitize_str(&h.path),
                h.category.name(),
                size(h.bytes),
                sanitize_str(&h.suggestion)
            );
        }
    }

    if let Some(f) = &findings {
        outln!();
        let (errors, warnings, infos) = lint::counts(f);
        outln!(
            "{}  {errors} errors, {warnings} warnings, {infos} info",
            p.bold("Findings")
        );
        for x in f.iter().take(TOP_FINDINGS) {
            let at = match x.line {
                Some(l) => format!("{}:{l}", sanitize_str(&x.file)),
                None => sanitize_str(&x.file),
            };
            outln!(
                "  {} {at}: {}",
                super::lint::level(p, x.level),
                super::lint::text(&x.message)
            );
        }
        if f.len() > TOP_FINDINGS {
            outln!("  … and {} more: ctxray lint", f.len() - TOP_FINDINGS);
        }
    }

    if a.tree {
        outln!();
        outln!("{}", p.bold("Sent context"));
        for n in &r.tree {
            let name = n.path.rsplit('/').next().unwrap_or(&n.path);
            outln!(
                "  {:>10}  {}{}{}",
                size(n.bytes),
                "  ".repeat(n.depth.saturating_sub(1)),
                sanitize_str(name),
                if n.dir { "/" } else { "" }
            );
        }
    }
    Ok(Outcome::Ok)
}
