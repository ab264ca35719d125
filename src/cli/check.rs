//! `ctxray check` (being written).

use std::path::PathBuf;

use clap::Args;

use super::{Global, Outcome};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    context: PathBuf,
}

pub fn run(a: &CheckArgs, _g: &Global) -> anyhow::Result<Outcome> {
    anyhow::bail!("{}: `check` is not implemented yet", a.context.display())
}
