//! Real docker CLI differential tests (placeholder).
