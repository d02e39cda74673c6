//! The library's error type: every message says what was expected and what was found.

/// Errors of the MDPN library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings that cannot describe a model.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Bytes that are not in the expected format.
    #[error("{0}")]
    Format(String),
    /// Arrays whose sizes do not fit the model or each other.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Tables of the 8-bit kernel given to a model they were not built from.
    #[error("the 8-bit kernel's tables were built from another model; build them with this model's `tables()`")]
    ForeignTables,
    /// Training produced a non-finite loss or parameter.
    #[error("training diverged: {0}")]
    Diverged(String),
}

/// Result with the library's error.
pub type Result<T> = std::result::Result<T, Error>;
