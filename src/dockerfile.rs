//! Dockerfile reader (placeholder: replaced by the real implementation).
