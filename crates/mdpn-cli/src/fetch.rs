//! Finding and fetching datasets (placeholder).
