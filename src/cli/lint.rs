//! `ctxray lint` (being written).

use std::path::PathBuf;

use clap::Args;

use super::{Global, Outcome};

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
}

pub fn run(a: &LintArgs, _g: &Global) -> anyhow::Result<Outcome> {
    anyhow::bail!("{}: `lint` is not implemented yet", a.context.display())
}
