//! ctxray integration tests: one test binary, one module per area.

mod treespec;
mod vectors;
