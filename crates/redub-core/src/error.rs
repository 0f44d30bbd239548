//! The one error type of the library crates. Messages name the file, stage or backend and say
//! what to do; the binary prints them with `{:#}`.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input cannot be used (no audio, empty, unreadable, …).
    #[error("{path}: {problem}. {fix}")]
    Input { path: PathBuf, problem: String, fix: String },

    /// A request the stack cannot serve (an unsupported language pair, a missing voice, …).
    #[error("{0}")]
    Unsupported(String),

    /// Settings or flags that cannot work together or are out of range.
    #[error("{0}")]
    Usage(String),

    /// A model or tool that setup should have installed is missing.
    #[error("{what} not found at {path}. Run `make setup` (or `scripts/setup.sh`) to install it")]
    MissingModel { what: String, path: PathBuf },

    /// A backend failed while working.
    #[error("{backend}: {message}")]
    Backend { backend: String, message: String },

    /// An external program failed; `stderr` keeps its last lines for the message.
    #[error("{program} failed: {stderr}")]
    Process { program: String, stderr: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn backend(backend: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Backend { backend: backend.into(), message: message.to_string() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
