//! Which backend serves a stage, as configuration: one serde enum per stage tagged by `backend`
//! (kebab-case names that never change). `check()` is cheap and runs before a job folder exists;
//! building happens in [`crate::Backends`]. The `match` in the builder is the whole registry.

use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TranslatorConfig {
    /// Debian's rule-based Apertium: offline, fast, literal; cannot shorten lines.
    #[default]
    Apertium,
}

impl TranslatorConfig {
    /// The stable name, as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Apertium => "apertium",
        }
    }

    /// Parse a `--translator` value into the default config of that backend.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "apertium" => Ok(Self::Apertium),
            other => Err(Error::Usage(format!("unknown translator `{other}`; known: apertium"))),
        }
    }

    /// What goes into the translate stage's cache key (never a secret).
    pub fn identity(&self) -> serde_json::Value {
        match self {
            Self::Apertium => serde_json::json!({ "backend": "apertium" }),
        }
    }

    /// Cheap checks before any work: is the pair served, is the configuration complete?
    pub fn check(&self, from: Option<&str>, to: &str) -> Result<()> {
        match self {
            Self::Apertium => match from {
                Some(from) => redub_translate::check_pair("apertium", from, to),
                None => {
                    let pairs = redub_translate::available_pairs()?;
                    if pairs.iter().any(|(_, t)| t == to) {
                        Ok(())
                    } else {
                        redub_translate::check_pair("apertium", "en", to)
                    }
                }
            },
        }
    }
}
