//! `ctxray pack`: the context tar, written atomically.

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context as _};
use clap::Args;
use ctxray::archive::{pack, pack_fd};

use super::{ContextArgs, EngineArg, Global, Outcome};

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
    #[command(flatten)]
    ctx: ContextArgs,
    /// Which engine's file set (the tar format is the classic builder's).
    #[arg(long, value_enum, default_value = "classic")]
    engine: EngineArg,
    /// Output file; `-` for stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Gzip the stream (what `docker build --compress` sends).
    #[arg(long)]
    gzip: bool,
}

/// Set by SIGINT/SIGTERM while `pack` writes a file.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Until dropped, SIGINT and SIGTERM only set [`INTERRUPTED`], so the
/// write fails at its next block and the temporary file is removed.
struct CatchSignals {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl CatchSignals {
    fn install() -> CatchSignals {
        let mut old = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is valid; the handler only stores
            // to an atomic, which is async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        CatchSignals { old }
    }
}

impl Drop for CatchSignals {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restores the action saved by `install`.
            unsafe {
                libc::sigaction(*sig, prev, std::ptr::null_mut());
            }
        }
    }
}

/// A writer that fails once a signal asked to stop.
struct Interruptible<W>(W);

impl AsRawFd for Interruptible<&fs::File> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl<W: Write> Write for Interruptible<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            // Not ErrorKind::Interrupted: `write_all` retries those.
            return Err(io::Error::other("interrupted by a signal"));
        }
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The exit status of a run stopped by SIGINT (128 + 2), as shells report.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Writes the archive to `out` (unbuffered: a file, a pipe, stdout).
fn write_to<W: Write + AsRawFd>(
    ctx: &ctxray::context::Context,
    out: W,
    gzip: bool,
    skip: impl FnMut(&Path) -> bool,
) -> anyhow::Result<ctxray::archive::PackSummary> {
    if gzip {
        // A pipe holds 64 KiB: larger writes only make the reader wait.
        let buf = BufWriter::with_capacity(64 << 10, out);
        let gz = flate2::write::GzEncoder::new(buf, flate2::Compression::default());
        let (gz, summary) = pack(ctx, gz, skip)?;
        gz.finish()?.flush()?;
        Ok(summary)
    } else {
        let (mut out, summary) = pack_fd(ctx, out, skip, Some(&INTERRUPTED))?;
        out.flush()?;
        Ok(summary)
    }
}

pub fn run(a: &PackArgs, _g: &Global) -> anyhow::Result<Outcome> {
    let ctx = super::open(&a.ctx, a.context.clone(), a.engine.into())?;
    let summary = if a.output.as_os_str() == "-" {
        if io::stdout().is_terminal() {
            bail!("refusing to write a binary tar to a terminal; use -o FILE or redirect stdout");
        }
        let stdout = io::stdout();
        // A larger pipe buffer (up to the system's limit, 1 MiB by default)
        // means far fewer round trips with the reader.
        // SAFETY: F_SETPIPE_SZ on our own stdout; it fails harmlessly when
        // stdout is not a pipe.
        unsafe {
            libc::fcntl(stdout.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
        }
        write_to(ctx, stdout.lock(), a.gzip, |_| false)?
    } else {
        let out = std::path::absolute(&a.output)?;
        // An existing special file (/dev/null, a FIFO, a terminal...) is
        // written in place, as tar does; renaming over it would replace it.
        if let Ok(m) = fs::metadata(&out) {
            if !m.is_file() && !m.is_dir() {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&out)
                    .with_context(|| format!("opening {}", out.display()))?;
                if f.is_terminal() {
                    bail!("refusing to write a binary tar to a terminal");
                }
                let summary = write_to(ctx, f, a.gzip, |_| false)?;
                return finish(ctx, &summary);
            }
        }
        // A symlink to a regular file: the file it points to is replaced.
        let out = fs::canonicalize(&out).unwrap_or(out);
        let dir = out
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let dir = fs::canonicalize(&dir)
            .with_context(|| format!("output directory {}", dir.display()))?;
        let name = out
            .file_name()
            .context("the output path has no file name")?;
        let final_path = dir.join(name);
        // Written beside the target and renamed into place: an interrupted
        // run never leaves a half-written file where the real one was.
        let tmp = tempfile::Builder::new()
            .prefix(".ctxray-pack-")
            .tempfile_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        let tmp_path = tmp.path().to_path_buf();
        // Neither the output nor its temporary file ever goes into the archive.
        let skip = |p: &Path| p == final_path || p == tmp_path;
        let signals = CatchSignals::install();
        let written = write_to(ctx, Interruptible(tmp.as_file()), a.gzip, skip);
        drop(signals);
        if INTERRUPTED.load(Ordering::SeqCst) {
            drop(tmp); // removes the temporary file
            eprintln!(
                "ctxray: interrupted; {} left as it was",
                final_path.display()
            );
            return Ok(Outcome::Interrupted);
        }
        let summary = written?;
        tmp.persist(&final_path)
            .with_context(|| format!("writing {}", final_path.display()))?;
        summary
    };
    finish(ctx, &summary)
}

fn finish(
    ctx: &ctxray::context::Context,
    summary: &ctxray::archive::PackSummary,
) -> anyhow::Result<Outcome> {
    for w in &summary.warnings {
        eprintln!("ctxray: warning: {}", super::output::sanitize_str(w));
    }
    eprintln!(
        "ctxray: packed {} entries, {} bytes ({} engine)",
        summary.entries,
        summary.bytes,
        ctx.engine.name()
    );
    Ok(Outcome::Ok)
}
