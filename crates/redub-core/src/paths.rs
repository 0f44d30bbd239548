//! Where Redub keeps installed models: `$REDUB_HOME/models`, `REDUB_HOME` defaulting to
//! `~/.cache/redub`. Setup (`scripts/setup.sh`) writes the same layout.

use std::path::PathBuf;

/// `$REDUB_HOME`, or `~/.cache/redub`.
pub fn redub_home() -> PathBuf {
    if let Some(h) = std::env::var_os("REDUB_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("redub")
}

/// `$REDUB_HOME/models`.
pub fn models_dir() -> PathBuf {
    redub_home().join("models")
}

/// A file under the models directory, or `Error::MissingModel` naming it.
pub fn model_file(rel: &str, what: &str) -> crate::Result<PathBuf> {
    let p = models_dir().join(rel);
    if p.is_file() {
        Ok(p)
    } else {
        Err(crate::Error::MissingModel { what: what.to_string(), path: p })
    }
}
