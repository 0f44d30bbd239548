//! Register: how formally characters address each other. Many target languages force a choice
//! English does not make (tú/usted, tu/vous, du/Sie), and a dub that flips between them from
//! line to line sounds wrong, so the choice is made once per job (and per speaker when set)
//! and passed to the LLM as style context.

use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Formality {
    Informal,
    Formal,
}

impl std::str::FromStr for Formality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "informal" | "casual" => Ok(Self::Informal),
            "formal" | "polite" => Ok(Self::Formal),
            other => Err(Error::Usage(format!("formality `{other}` is not known: use `formal` or `informal`"))),
        }
    }
}

/// The job's register: a default and per-speaker overrides (speaker ids as in the transcript).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Register {
    pub default: Option<Formality>,
    #[serde(default)]
    pub speakers: BTreeMap<String, Formality>,
}

impl Register {
    /// Parse `S1=formal` style overrides.
    pub fn with_speaker_overrides(mut self, overrides: &[String]) -> Result<Self> {
        for o in overrides {
            let (who, level) = o.split_once('=').ok_or_else(|| {
                Error::Usage(format!("`{o}`: give a speaker and a formality as SPEAKER=formal or SPEAKER=informal"))
            })?;
            self.speakers.insert(who.trim().to_string(), level.parse()?);
        }
        Ok(self)
    }

    pub fn for_speaker(&self, speaker: Option<&str>) -> Option<Formality> {
        speaker.and_then(|s| self.speakers.get(s).copied()).or(self.default)
    }
}

/// What the choice means in `lang`, for the prompt ("use tú", "use vous").
pub fn describe(f: Formality, lang: &str) -> String {
    let (informal, formal) = match lang {
        "es" => ("tú", "usted"),
        "fr" => ("tu", "vous"),
        "de" => ("du", "Sie"),
        "it" => ("tu", "Lei"),
        "pt" => ("você/tu", "o senhor/a senhora"),
        "nl" => ("jij", "u"),
        "ru" => ("ты", "вы"),
        "pl" => ("ty", "Pan/Pani"),
        "ja" => ("casual speech (plain form)", "polite speech (desu/masu)"),
        "ko" => ("banmal", "jondaetmal"),
        _ => ("informal address", "formal address"),
    };
    match f {
        Formality::Informal => format!("informal: address people with {informal}"),
        Formality::Formal => format!("formal: address people with {formal}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_descriptions() {
        let r = Register { default: Some(Formality::Informal), ..Default::default() }
            .with_speaker_overrides(&["S2=formal".into()])
            .unwrap();
        assert_eq!(r.for_speaker(Some("S1")), Some(Formality::Informal));
        assert_eq!(r.for_speaker(Some("S2")), Some(Formality::Formal));
        assert!(describe(Formality::Formal, "es").contains("usted"));
        assert!(Register::default().with_speaker_overrides(&["S1:formal".into()]).is_err());
        assert!("very".parse::<Formality>().is_err());
    }
}
