//! Translation for Redub: the word budget a line's time allows ([`word_budget`], [`word_count`]),
//! the offline [`Apertium`] backend (the Debian `apertium` program), a deterministic
//! [`FixedTranslator`] stand-in for tests, and [`check_pair`], which the pipeline calls before
//! any work starts so that an unsupported language pair fails at once with the list of pairs
//! that would work.
//!
//! It does not own the order of stages, windowing of segments, review flags or where anything is
//! stored: it gets lines through [`redub_core::Translator`] and returns strings.

mod apertium;
mod budget;
mod fixed;
pub mod glossary;
pub mod llm;
pub mod style;

pub use apertium::{available_pairs, Apertium};
pub use budget::{word_budget, word_budget_at, word_count, BUDGET_FACTOR};
pub use fixed::FixedTranslator;
pub use glossary::Glossary;
pub use llm::{LlmSettings, LlmTranslator};
pub use style::{Formality, Register};

use redub_core::{Error, Result};

/// The translation backends this crate can build, by their stable config names.
pub const BACKENDS: &[&str] = &["apertium", "fixed"];

/// Fail fast, before any audio is touched, when `backend` cannot translate `from` → `to`.
///
/// For `apertium` this runs `apertium -l` once and, when the pair is missing, returns
/// [`Error::Unsupported`] listing the installed pairs. `fixed` (the test stand-in) accepts any
/// pair. An unknown backend name is also [`Error::Unsupported`], naming the known ones.
pub fn check_pair(backend: &str, from: &str, to: &str) -> Result<()> {
    // Dubbing into the source language is always a mistake in the request, whatever the backend;
    // saying so beats "no en→en pair".
    if from.trim().eq_ignore_ascii_case(to.trim()) {
        return Err(Error::Unsupported(format!(
            "--from and --to are both {from}: there is nothing to translate. Pick a different --to"
        )));
    }
    match backend {
        "apertium" => Apertium::new(from, to).map(|_| ()),
        "fixed" => Ok(()),
        other => Err(Error::Unsupported(format!(
            "unknown translation backend `{other}`. Known backends: {}",
            BACKENDS.join(", ")
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn check_pair_accepts_installed_apertium_pair() {
        check_pair("apertium", "en", "es").unwrap();
    }

    #[test]
    fn check_pair_lists_pairs_for_missing_one() {
        match check_pair("apertium", "en", "de") {
            Err(Error::Unsupported(msg)) => {
                assert!(msg.contains("en→es"), "{msg}");
                assert!(msg.contains("en→de"), "{msg}");
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn check_pair_rejects_same_language_and_unknown_backend() {
        assert!(matches!(check_pair("fixed", "en", "en"), Err(Error::Unsupported(_))));
        match check_pair("babelfish", "en", "es") {
            Err(Error::Unsupported(msg)) => assert!(msg.contains("apertium"), "{msg}"),
            other => panic!("expected Unsupported, got {other:?}"),
        }
        check_pair("fixed", "en", "xx").unwrap();
    }
}
