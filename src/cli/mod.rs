//! Argument parsing, dispatch, exit codes. Results go to stdout,
//! diagnostics to stderr; exit 0 ok, 1 a check or lint failed, 2 usage or
//! input error.

mod check;
mod explain;
mod lint;
mod ls;
pub mod output;
mod pack;
mod plugin;
mod report;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use ctxray::context::{Context, IgnoreSource, Options};
use ctxray::walk::Engine;

use output::ColorWhen;

/// Shows exactly what `docker build` sends as its build context, and why.
///
/// With no subcommand, `ctxray [CONTEXT]` runs `report`.
#[derive(Debug, Parser)]
#[command(
    name = "ctxray",
    version,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    report: report::ReportArgs,
    /// When to use colors.
    #[arg(long, value_enum, default_value_t, global = true)]
    color: ColorWhen,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// What is sent and left out: summary, categories, savings by rule, largest items.
    Report(report::ReportArgs),
    /// List every entry the engine sends, in send order.
    Ls(ls::LsArgs),
    /// Explain why paths are sent or left out: the deciding line of the ignore file.
    Explain(explain::ExplainArgs),
    /// Write the context tar, byte-identical to what the Docker CLI uploads.
    Pack(pack::PackArgs),
    /// Find mistakes in .dockerignore and the Dockerfile.
    Lint(lint::LintArgs),
    /// Check budgets and rules for CI (exit 1 when one fails).
    Check(check::CheckArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command with --dir.
    Man(ManArgs),
}

#[derive(Debug, Args)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
struct ManArgs {
    /// Write ctxray.1 and ctxray-<command>.1 into this directory instead.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn completions(a: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "ctxray", &mut out);
    io::stdout().write_all(&out)?;
    Ok(Outcome::Ok)
}

fn man(a: &ManArgs) -> anyhow::Result<Outcome> {
    let cmd = Cli::command();
    match &a.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd, dir)?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            io::stdout().write_all(&out)?;
        }
    }
    Ok(Outcome::Ok)
}

/// The engine, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// BuildKit, the default `docker build` since Docker 23.
    Buildkit,
    /// The legacy builder (DOCKER_BUILDKIT=0) and the Engine API tar.
    Classic,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Engine {
        match e {
            EngineArg::Buildkit => Engine::Buildkit,
            EngineArg::Classic => Engine::Classic,
        }
    }
}

/// Options that say which context and how Docker reads it.
#[derive(Debug, Clone, Args)]
pub struct ContextArgs {
    /// The Dockerfile, relative to the current directory as with `docker build -f`.
    #[arg(short = 'f', long = "file", value_name = "DOCKERFILE")]
    pub dockerfile: Option<PathBuf>,
    /// Use this ignore file instead of the context's .dockerignore.
    #[arg(long, value_name = "FILE", conflicts_with = "no_ignore")]
    pub ignore_file: Option<PathBuf>,
    /// Act as if there were no ignore file.
    #[arg(long)]
    pub no_ignore: bool,
}

impl ContextArgs {
    pub fn options(&self, context: PathBuf, engine: Engine) -> Options {
        let mut o = Options::new(context, engine);
        o.dockerfile = self.dockerfile.clone();
        o.ignore = match (&self.ignore_file, self.no_ignore) {
            (_, true) => IgnoreSource::None,
            (Some(f), _) => IgnoreSource::File(f.clone()),
            (None, false) => IgnoreSource::Auto,
        };
        o
    }
}

/// How a command ended.
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: a check or lint failed.
    Failed,
    /// Exit 130: stopped by SIGINT/SIGTERM, output left as it was.
    Interrupted,
}

/// Global settings every command sees.
pub struct Global {
    pub color: bool,
}

/// Opens the context for a command. It lives until the process exits: not
/// freeing it saves the teardown of a large matcher (a 10,000-line ignore
/// file) at the end of a short run.
pub fn open(
    args: &ContextArgs,
    context: PathBuf,
    engine: Engine,
) -> anyhow::Result<&'static Context> {
    let ctx = Context::open(&args.options(context, engine))?;
    for w in &ctx.warnings {
        eprintln!("ctxray: warning: {}", output::sanitize_str(w));
    }
    Ok(Box::leak(Box::new(ctx)))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || matches!(c.downcast_ref::<ctxray::error::Error>(), Some(ctxray::error::Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe)
    })
}

pub fn main() -> ExitCode {
    let (args, bin_name) = match plugin::classify(std::env::args_os().collect()) {
        plugin::Invocation::Metadata => {
            println!("{}", plugin::metadata());
            return ExitCode::SUCCESS;
        }
        plugin::Invocation::Complete => {
            // cobra's protocol: completions, then the directive (0: default,
            // the shell completes file names).
            println!(":0");
            return ExitCode::SUCCESS;
        }
        plugin::Invocation::Plugin(args) => (args, Some("docker ctxray")),
        plugin::Invocation::Normal(args) => (args, None),
    };
    let mut cmd = Cli::command();
    if let Some(b) = bin_name {
        cmd = cmd.bin_name(b);
    }
    let parsed = cmd
        .try_get_matches_from_mut(args)
        .and_then(|m| Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd)));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let g = Global {
        color: output::use_color(cli.color),
    };
    let result = match cli.command {
        None => report::run(&cli.report, &g),
        Some(Command::Report(a)) => report::run(&a, &g),
        Some(Command::Ls(a)) => ls::run(&a, &g),
        Some(Command::Explain(a)) => explain::run(&a, &g),
        Some(Command::Pack(a)) => pack::run(&a, &g),
        Some(Command::Lint(a)) => lint::run(&a, &g),
        Some(Command::Check(a)) => check::run(&a, &g),
        Some(Command::Completions(a)) => completions(&a),
        Some(Command::Man(a)) => man(&a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(pack::EXIT_INTERRUPTED),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = io::stdout().flush();
            eprintln!("ctxray: error: {}", output::sanitize_str(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
