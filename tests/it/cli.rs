//! CLI integration tests (placeholder).
