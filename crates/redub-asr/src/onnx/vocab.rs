//! Whisper's byte-level BPE vocabulary (`vocabulary.txt` of the CTranslate2 export: one token a
//! line, in GPT-2's byte-to-unicode spelling) and the special tokens the decoder needs.

use redub_core::{Error, Result};
use std::path::Path;

/// The special tokens, found by name so that a vocabulary with another layout fails loudly.
#[derive(Clone, Debug, PartialEq)]
pub struct Specials {
    pub eot: u32,
    pub sot: u32,
    pub transcribe: u32,
    pub no_speech: u32,
    pub no_timestamps: u32,
    /// `<|0.00|>`; every id from here on is a timestamp, 20 ms apart.
    pub timestamp_begin: u32,
    /// (id, code) of every language token, in vocabulary order.
    pub languages: Vec<(u32, String)>,
}

#[derive(Debug)]
pub struct Vocab {
    /// Each token's bytes (special tokens: their name's bytes, never shown as text).
    bytes: Vec<Vec<u8>>,
    pub specials: Specials,
}

impl Vocab {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::backend("whisper-onnx", format!("cannot read {}: {e}. Run `make setup`", path.display()))
        })?;
        Self::parse(&text)
            .map_err(|m| Error::backend("whisper-onnx", format!("{}: {m}. Run `make setup`", path.display())))
    }

    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        // Split on '\n' only: tokens may hold other line separators.
        let mut lines: Vec<&str> = text.split('\n').collect();
        if lines.last() == Some(&"") {
            lines.pop();
        }
        let map = unicode_to_byte();
        let bytes = lines
            .iter()
            .map(|t| if t.starts_with("<|") { t.as_bytes().to_vec() } else { t.chars().filter_map(&map).collect() })
            .collect();
        let id = |name: &str| {
            lines.iter().position(|t| *t == name).map(|i| i as u32).ok_or_else(|| format!("no token {name}"))
        };
        let (eot, sot) = (id("<|endoftext|>")?, id("<|startoftranscript|>")?);
        let no_speech = id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?;
        let languages = lines
            .iter()
            .enumerate()
            .skip(sot as usize + 1)
            .map_while(|(i, t)| {
                let code = t.strip_prefix("<|")?.strip_suffix("|>")?;
                (code.len() <= 3 && code.chars().all(|c| c.is_ascii_lowercase())).then(|| (i as u32, code.to_string()))
            })
            .collect::<Vec<_>>();
        if languages.is_empty() {
            return Err("no language tokens after <|startoftranscript|>".into());
        }
        let specials = Specials {
            eot,
            sot,
            transcribe: id("<|transcribe|>")?,
            no_speech,
            no_timestamps: id("<|notimestamps|>")?,
            timestamp_begin: id("<|0.00|>")?,
            languages,
        };
        Ok(Self { bytes, specials })
    }

    /// The bytes of a text token (none for special and timestamp tokens).
    pub fn token_bytes(&self, token: u32) -> &[u8] {
        if token >= self.specials.eot {
            return &[];
        }
        self.bytes.get(token as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    #[cfg(test)]
    /// Text of a run of tokens (bytes joined before decoding: a character may span tokens).
    pub fn decode(&self, tokens: &[u32]) -> String {
        let bytes: Vec<u8> = tokens.iter().flat_map(|&t| self.token_bytes(t).iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn language_token(&self, code: &str) -> Option<u32> {
        self.specials.languages.iter().find(|(_, c)| c == code).map(|(id, _)| *id)
    }
}

/// GPT-2's reversible map: printable bytes stand for themselves, the other 68 bytes are moved to
/// U+0100 and up (so `Ġ`, U+0120, is the space byte).
fn unicode_to_byte() -> impl Fn(char) -> Option<u8> {
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
    let mut table = std::collections::HashMap::new();
    let mut n = 0;
    for b in 0u32..256 {
        let c = if printable(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        if let Some(c) = char::from_u32(c) {
            table.insert(c, b as u8);
        }
    }
    move |c| table.get(&c).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_tokens_decode_to_utf8() {
        // "Ġ" is the space byte; "Ã©" is the two bytes of "é" spelled as GPT-2 does.
        let v = Vocab::parse("Ġcaf\nÃ©\n<|endoftext|>\n<|startoftranscript|>\n<|en|>\n<|fr|>\n<|translate|>\n<|transcribe|>\n<|nocaptions|>\n<|notimestamps|>\n<|0.00|>\n").unwrap();
        assert_eq!(v.decode(&[0, 1]), " café");
        assert_eq!(v.specials.eot, 2);
        assert_eq!(v.specials.languages, vec![(4, "en".to_string()), (5, "fr".to_string())]);
        assert_eq!(v.specials.no_speech, 8);
        assert_eq!(v.specials.timestamp_begin, 10);
        assert!(v.token_bytes(10).is_empty(), "timestamps have no text");
        assert_eq!(v.language_token("fr"), Some(5));
    }
}
