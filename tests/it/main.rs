//! ctxray integration tests: one test binary, one module per area.

mod check;
mod cli;
mod common;
mod docker_cli;
mod fuzz_regressions;
mod golden;
mod lint;
mod lint_projects;
mod odd_inputs;
mod treespec;
mod vectors;
