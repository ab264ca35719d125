//! `ctxray explain [CONTEXT] PATH...`: which line decides each path.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::Args;
use ctxray::context::{Context, Explanation};
use ctxray::walk::Engine;

use super::output::outln;
use super::output::{sanitize, sanitize_str, Paint};
use super::{ContextArgs, EngineArg, Global, Outcome};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// [CONTEXT] PATH...: with two or more arguments the first is the build
    /// context (default "."); paths are relative to the context.
    #[arg(required = true, num_args = 1.., value_name = "ARGS")]
    args: Vec<PathBuf>,
    #[command(flatten)]
    ctx: ContextArgs,
    /// Which of Docker's engines to follow.
    #[arg(long, value_enum, default_value = "buildkit")]
    engine: EngineArg,
    /// JSON output (schema 1).
    #[arg(long)]
    json: bool,
}

// Pattern indices in an Explanation come from ctx.explain, which evaluates
// ctx.effective itself, so they are < ctx.effective.patterns().len().
fn describe(ctx: &Context, x: &Explanation) -> serde_json::Value {
    let pat = |i: usize| {
        let p = &ctx.effective.patterns()[i];
        serde_json::json!({ "line": p.line, "pattern": p.display(), "exception": p.exclusion })
    };
    serde_json::json!({
        "sent": x.sent,
        "decided_by": x.decided_by.map(pat),
        "skipped_at": x.skipped_at.as_ref().map(|s| String::from_utf8_lossy(s).into_owned()),
        "matching": x.matching.iter().map(|&i| pat(i)).collect::<Vec<_>>(),
    })
}

fn line_of(ctx: &Context, i: usize) -> String {
    let p = &ctx.effective.patterns()[i]; // i < len: see describe
    if p.line == 0 {
        format!("(added by the docker CLI) {}", sanitize_str(&p.display()))
    } else {
        format!(
            "{}:{}: {}",
            sanitize_str(&ctx.ignore_display()),
            p.line,
            sanitize_str(&p.display())
        )
    }
}

pub fn run(a: &ExplainArgs, g: &Global) -> anyhow::Result<Outcome> {
    let (context, paths) = match a.args.split_first() {
        Some((first, rest)) if !rest.is_empty() => (first.clone(), rest),
        _ => (PathBuf::from("."), a.args.as_slice()),
    };
    let primary: Engine = a.engine.into();
    let other = match primary {
        Engine::Buildkit => Engine::Classic,
        Engine::Classic => Engine::Buildkit,
    };
    let ctx = super::open(&a.ctx, context.clone(), primary)?;
    // The other engine, to point out disagreements; it may fail where this
    // one does not (e.g. validation), which is then not a disagreement.
    // Leaked like the first (the process ends after this command): a long
    // ignore file's patterns are not freed one by one.
    let other_ctx: Option<&Context> = ctx
        .with_engine(&a.ctx.options(context, other))
        .ok()
        .map(|c| &*Box::leak(Box::new(c)));
    let paint = Paint(g.color);
    let mut json = Vec::new();
    for p in paths {
        let path = p.as_os_str().as_bytes();
        let x = ctx.explain(path)?;
        let o = other_ctx.as_ref().and_then(|c| c.explain(path).ok());
        if a.json {
            let mut v = describe(ctx, &x);
            v["path"] = String::from_utf8_lossy(&x.path).into_owned().into(); // json! object: inserts the key
            v["exists"] = x.exists.into(); // json! object: inserts the key
            if let (Some(c), Some(o)) = (&other_ctx, &o) {
                v[other.name()] = describe(c, o); // json! object: inserts the key
            }
            json.push(v);
            continue;
        }
        let mut name = sanitize(&x.path);
        if x.is_dir {
            name.push('/');
        }
        let verdict = if x.sent {
            paint.green("sent")
        } else {
            paint.red("left out")
        };
        let missing = if x.exists {
            ""
        } else {
            " (not in the context)"
        };
        outln!(
            "{}: {verdict} by {}{missing}",
            paint.bold(&name),
            primary.name()
        );
        match (x.decided_by, &x.skipped_at) {
            (Some(i), Some(dir)) => outln!(
                "  {} excludes the directory {}/, which {} skips without looking inside",
                line_of(ctx, i),
                sanitize(dir),
                primary.name()
            ),
            (Some(i), None) => outln!("  decided by {}", line_of(ctx, i)),
            (None, _) => outln!("  no pattern matches it"),
        }
        let others: Vec<_> = x
            .matching
            .iter()
            .filter(|&&i| Some(i) != x.decided_by)
            .collect();
        for &i in others {
            outln!("  {} also matches {}", paint.dim("·"), line_of(ctx, i));
        }
        if let Some(o) = o {
            if o.sent != x.sent {
                outln!(
                    "  {} the {} engine {}",
                    paint.yellow("engines disagree:"),
                    other.name(),
                    if o.sent { "sends it" } else { "leaves it out" }
                );
            }
        }
    }
    if a.json {
        let v = serde_json::json!({ "schema": 1, "engine": primary.name(), "paths": json });
        outln!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(Outcome::Ok)
}
