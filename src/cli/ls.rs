//! `ctxray ls`: the entries the engine sends (or leaves out), in send order.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use ctxray::walk::{Event, Kind, Status, WalkMode};

use super::{open, ContextArgs, EngineArg, Global, Outcome};

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
    #[command(flatten)]
    ctx: ContextArgs,
    /// Which of Docker's engines to follow.
    #[arg(long, value_enum, default_value = "buildkit")]
    engine: EngineArg,
    /// List what is left out instead (every entry under the context that is not sent).
    #[arg(long)]
    excluded: bool,
    /// Separate entries with NUL instead of newline (raw names, unescaped).
    #[arg(short = '0', long = "null")]
    null: bool,
    /// One JSON object per line: path, kind, sent, deciding line.
    #[arg(long, conflicts_with = "null")]
    json: bool,
}

pub fn run(a: &LsArgs, _g: &Global) -> anyhow::Result<Outcome> {
    let ctx = open(&a.ctx, a.context.clone(), a.engine.into())?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mode = if a.excluded {
        WalkMode::All
    } else {
        WalkMode::Sent
    };
    let patterns = ctx.effective.patterns();
    // BuildKit walks some excluded directories and sends them only if
    // something below is sent; with --excluded they are listed when the walk
    // leaves them unsent.
    let mut pending: Vec<bool> = Vec::new();
    let warnings = ctx.walk(mode, |ev| {
        let io_err = |err: io::Error| ctxray::error::Error::Io {
            path: PathBuf::from("<stdout>"),
            source: err,
        };
        let (path, kind, sent, by) = match ev {
            Event::Entry(e) => {
                if e.kind == Kind::Dir && mode == WalkMode::All {
                    pending.push(e.status == Status::Pending);
                }
                let sent = e.status == Status::Sent;
                if sent == a.excluded || e.status == Status::Pending {
                    return Ok(());
                }
                (e.path, e.kind, sent, e.verdict.by)
            }
            Event::Leave { path, sent } => {
                if pending.pop() != Some(true) || sent {
                    return Ok(());
                }
                (path, Kind::Dir, false, None)
            }
        };
        if a.json {
            let by = by.and_then(|i| patterns.get(i));
            let v = serde_json::json!({
                "path": String::from_utf8_lossy(path),
                "kind": kind,
                "sent": sent,
                "line": by.map(|p| p.line),
                "pattern": by.map(|p| p.display()),
            });
            writeln!(out, "{v}").map_err(io_err)?;
        } else if a.null {
            out.write_all(path).map_err(io_err)?;
            if kind == Kind::Dir {
                out.write_all(b"/").map_err(io_err)?;
            }
            out.write_all(b"\0").map_err(io_err)?;
        } else {
            let mut s = super::output::sanitize(path);
            if kind == Kind::Dir {
                s.push('/');
            }
            writeln!(out, "{s}").map_err(io_err)?;
        }
        Ok(())
    })?;
    out.flush()?;
    for w in warnings {
        eprintln!(
            "ctxray: warning: {}",
            super::output::sanitize_str(&w.message)
        );
    }
    Ok(Outcome::Ok)
}
