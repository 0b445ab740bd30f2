//! Errors that stop the gateway from starting.

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read or parsed.
    #[error("configuration file {path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The options contradict each other or are unsafe.
    #[error("{0}")]
    Refused(String),
    /// The session backend could not be set up.
    #[error(transparent)]
    Backend(#[from] sessiongate_backend::Error),
    /// An I/O error (binding the address, creating the data directory).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}
