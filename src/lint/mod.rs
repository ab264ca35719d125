//! Lint: mistakes in `.dockerignore` and the Dockerfile, found against the
//! exact context (SPEC-exact decisions from the walker).
//!
//! Interface shared by `lint`, `report` (its Findings section) and `check`.

pub mod secrets;

use crate::context::Context;
use crate::error::Result;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Probably a mistake.
    Warning,
    /// The build fails, misses files or ships something it must not.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable code, e.g. `DI001`.
    pub code: &'static str,
    /// Short kebab-case name, e.g. `gitignore-ism`.
    pub name: &'static str,
    /// Level.
    pub level: Level,
    /// The file the finding is about, as shown to the user (relative to
    /// the current directory where possible).
    pub file: String,
    /// 1-based line in `file`, when the finding is about a line.
    pub line: Option<usize>,
    /// One-line message.
    pub message: String,
    /// A suggested replacement for the line, when there is one.
    pub fix: Option<String>,
    /// Context paths the finding is about (a sample, for messages).
    pub paths: Vec<String>,
    /// Bytes concerned (e.g. what a nested copy ships), 0 if not relevant.
    pub bytes: u64,
}

/// Lint options.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {}

/// Lints an opened context.
pub fn lint(_ctx: &Context, _opts: &LintOptions) -> Result<Vec<Finding>> {
    Ok(Vec::new())
}
