//! ctxray: what `docker build` sends as its build context, and why.

pub mod archive;
pub mod check;
pub mod context;
pub mod dockerfile;
pub mod error;
pub mod fsx;
pub mod gostr;
pub mod ignorefile;
pub mod lint;
pub mod matcher;
pub mod report;
pub mod walk;
