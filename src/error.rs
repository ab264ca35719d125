//! ctxray's errors: each names the file, line, pattern or path involved, and
//! says what Docker would do.

use std::path::PathBuf;

use crate::matcher::{MatchError, NewError};
use crate::walk::WalkError;

/// Anything that stops ctxray from answering.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The context path is missing or not a directory.
    #[error("context {path}: {reason} (docker build: \"unable to prepare context: {docker}\")")]
    Context {
        /// The path as given.
        path: PathBuf,
        /// Plain words.
        reason: String,
        /// What Docker says.
        docker: String,
    },
    /// The ignore file cannot be read.
    #[error("{path}: {reason}")]
    IgnoreRead {
        /// The ignore file.
        path: PathBuf,
        /// Plain words, with Docker's message.
        reason: String,
    },
    /// `patternmatcher.New` refuses a pattern: Docker fails before sending.
    #[error("{path}:{line}: {message}", line = source.line(), message = new_error_message(source))]
    Pattern {
        /// The ignore file.
        path: PathBuf,
        /// The error.
        source: NewError,
    },
    /// A pattern that cannot compile was reached while matching a path.
    #[error("{path}:{line}: syntax error in pattern {pattern:?}, reached while matching {matched:?} (docker build fails: \"{docker}\")", line = source.line, pattern = source.pattern, matched = source.path)]
    LazyPattern {
        /// The ignore file.
        path: PathBuf,
        /// The error.
        source: MatchError,
        /// What Docker says.
        docker: String,
    },
    /// Docker's context validation fails (classic engine).
    #[error("{message} (docker build: \"error checking context: {docker}\")")]
    Validation {
        /// Plain words.
        message: String,
        /// Docker's message.
        docker: String,
    },
    /// Reading the context failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The Dockerfile cannot be used.
    #[error("{0}")]
    Dockerfile(String),
    /// Anything else, in plain words.
    #[error("{0}")]
    Other(String),
}

fn new_error_message(e: &NewError) -> String {
    match e {
        NewError::LoneBang { .. } => {
            "a line that is just \"!\" is not a pattern (docker build fails: \"illegal exclusion pattern: \\\"!\\\"\")".to_string()
        }
        NewError::Syntax { pattern, .. } => format!(
            "syntax error in pattern {pattern:?} (docker build fails before sending anything: \"syntax error in pattern\")"
        ),
    }
}

impl From<WalkError> for Error {
    fn from(e: WalkError) -> Error {
        match e {
            WalkError::Match(m) => Error::LazyPattern {
                path: PathBuf::from(".dockerignore"),
                source: m,
                docker: "failed to match excludepatterns: syntax error in pattern".into(),
            },
            WalkError::Io { path, source } => Error::Io {
                path: PathBuf::from(path),
                source,
            },
        }
    }
}

/// ctxray's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
