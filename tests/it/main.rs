//! ctxray integration tests: one test binary, one module per area.

mod cli;
mod docker_cli;
mod golden;
mod treespec;
mod vectors;
