//! A job's glossary: source terms with their required translation, and terms that must stay as
//! they are (names, brands, titles). The LLM translators are told the terms that occur in each
//! window; every backend's output is checked, and a line that misses a term is flagged
//! `glossary_miss` for review rather than silently accepted.
//!
//! File format (UTF-8, one entry per line, tab-separated, `#` starts a comment):
//!
//! ```text
//! # source<TAB>target          (shown here with ⇥ for the tab)
//! Starfleet⇥Flota Estelar
//! warp drive⇥motor de curvatura
//! # a term alone (or the same on both sides) is never translated
//! Enterprise
//! ```

use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Glossary {
    pub entries: Vec<GlossaryEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GlossaryEntry {
    pub source: String,
    /// Equal to `source` for a do-not-translate term.
    pub target: String,
}

impl GlossaryEntry {
    pub fn keep(&self) -> bool {
        self.source == self.target
    }
}

impl Glossary {
    /// Parse the text of a glossary file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let mut entries: Vec<GlossaryEntry> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let mut parts = line.split('\t').map(str::trim);
            let term = parts.next().unwrap_or("").to_string();
            let target = parts.next().filter(|t| !t.is_empty()).unwrap_or(&term).to_string();
            if term.is_empty() || parts.any(|p| !p.is_empty()) {
                return Err(Error::Input {
                    path: source.into(),
                    problem: format!("line {}: expected `source<TAB>target` or a single term, got {line:?}", i + 1),
                    fix: "separate the source term and its translation with one tab; put a do-not-translate term alone on its line".into(),
                });
            }
            if let Some(prev) = entries.iter().find(|e| e.source.eq_ignore_ascii_case(&term)) {
                if prev.target != target {
                    return Err(Error::Input {
                        path: source.into(),
                        problem: format!(
                            "line {}: {term:?} is already given as {:?}; a term can have one translation",
                            i + 1,
                            prev.target
                        ),
                        fix: "keep one line per source term".into(),
                    });
                }
                continue;
            }
            entries.push(GlossaryEntry { source: term, target });
        }
        Ok(Self { entries })
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries whose source term occurs in `text` (whole words, any case).
    pub fn applicable(&self, text: &str) -> Vec<&GlossaryEntry> {
        self.entries.iter().filter(|e| contains_term(text, &e.source)).collect()
    }

    /// The entries a translation misses: the source line uses the term, the translation lacks
    /// its required rendering.
    pub fn misses(&self, source: &str, translation: &str) -> Vec<&GlossaryEntry> {
        self.applicable(source).into_iter().filter(|e| !contains_term(translation, &e.target)).collect()
    }
}

/// `term` occurs in `text` as whole words, ignoring case. "Word" edges are any non-alphanumeric
/// character, so "Enterprise's" contains "Enterprise" and "enterprises" does not.
pub fn contains_term(text: &str, term: &str) -> bool {
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let term: Vec<char> = term.trim().chars().flat_map(char::to_lowercase).collect();
    if term.is_empty() || term.len() > text.len() {
        return false;
    }
    let edge = |c: Option<&char>| c.is_none_or(|c| !c.is_alphanumeric());
    (0..=text.len() - term.len()).any(|i| {
        text[i..i + term.len()] == term[..]
            && edge(i.checked_sub(1).and_then(|j| text.get(j)))
            && edge(text.get(i + term.len()))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms_and_keep_terms() {
        let g = Glossary::parse("# comment\nStarfleet\tFlota Estelar\n\nEnterprise\nRedub\tRedub\n", "g.tsv").unwrap();
        assert_eq!(g.entries.len(), 3);
        assert!(!g.entries[0].keep() && g.entries[1].keep() && g.entries[2].keep());
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let e = Glossary::parse("a\tb\tc\n", "terms.tsv").unwrap_err().to_string();
        assert!(e.contains("terms.tsv") && e.contains("line 1"), "{e}");
        let e = Glossary::parse("a\tb\nA\tc\n", "terms.tsv").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn whole_word_matching_and_misses() {
        assert!(contains_term("Welcome to the Enterprise's bridge", "enterprise"));
        assert!(!contains_term("Two enterprises", "Enterprise"));
        assert!(contains_term("la Flota Estelar llegó", "Flota Estelar"));
        let g = Glossary::parse("Starfleet\tFlota Estelar\nEnterprise\n", "g").unwrap();
        assert_eq!(g.applicable("Starfleet sent the Enterprise").len(), 2);
        let miss = g.misses("Starfleet sent the Enterprise", "La Flota Estelar envió la Empresa");
        assert_eq!(miss.len(), 1);
        assert_eq!(miss[0].source, "Enterprise");
        assert!(g.misses("Nothing here", "Nada").is_empty());
    }
}
