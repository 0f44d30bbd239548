//! Text → IPA through espeak-ng.
//!
//! espeak-ng drops punctuation from its IPA output and prints one line per clause, so the text is
//! split into clauses here, each clause is phonemized on its own and the punctuation is put back
//! between them: Kokoro uses `, . ? !` (and `; : … —`) for pauses and intonation.

use redub_core::{Error, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The program; found through `PATH`.
pub(crate) const ESPEAK: &str = "espeak-ng";

/// Tie character asked from espeak-ng (`--tie`): it marks the phonemes of one multi-letter sound
/// (`t^ʃ`, `a^ɪ`) so Kokoro's single-token affricates and diphthongs can be picked out. espeak-ng
/// never echoes input text, so a `^` in the text cannot be confused with it.
pub(crate) const TIE: char = '^';

/// IPA of `text` in `lang`, with stress marks, words separated by spaces and the clause
/// punctuation `, . ? ! ; : … —` kept (full-width and other scripts' marks are mapped to these).
///
/// `phonemize::ipa("Hola, ¿qué tal?", "es")` → `"ˈola, kˈe tˈal?"`.
pub fn ipa(text: &str, lang: &str) -> Result<String> {
    Ok(ipa_tied(text, lang)?.replace(TIE, ""))
}

/// Syllables in `text` as spoken in `lang`: the vowel nuclei of its IPA, a run of vowel letters
/// (a diphthong, a long or nasal vowel) counting once. Used to judge how fast a line is spoken.
pub fn syllables(text: &str, lang: &str) -> Result<usize> {
    Ok(count_nuclei(&ipa_tied(text, lang)?))
}

/// Vowel runs in an IPA string; length, nasal and tie marks continue a run.
fn count_nuclei(ipa: &str) -> usize {
    const VOWELS: &str = "aeiouyæɑɐɒɛɜɝəɘɚɞɤɨɪʉʊʌɔøœɶɯɵʏäëïöü";
    const JOINERS: &str = "ːˑ\u{303}\u{32f}^";
    let mut n = 0;
    let mut in_vowel = false;
    for c in ipa.chars() {
        if VOWELS.contains(c) {
            if !in_vowel {
                n += 1;
            }
            in_vowel = true;
        } else if !(in_vowel && JOINERS.contains(c)) {
            in_vowel = false;
        }
    }
    n
}

/// Like [`ipa`], with [`TIE`] joining the parts of affricates and diphthongs.
pub(crate) fn ipa_tied(text: &str, lang: &str) -> Result<String> {
    let voice = espeak_voice(lang)?;
    let mut out = String::new();
    for piece in clauses(text) {
        match piece {
            Piece::Words(words) => {
                let words = if base(&voice) == "ja" { drop_kanji(&words) } else { words };
                if words.trim().is_empty() {
                    continue;
                }
                let phonemes = phonemize_clause(&words, &voice)?;
                if phonemes.is_empty() {
                    continue;
                }
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push_str(&phonemes);
            }
            Piece::Punct(p) => {
                // Punctuation sticks to the word before it and is followed by a space, the layout
                // Kokoro was trained on ("ˈola, kˈomo").
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push(p);
                out.push(' ');
            }
        }
    }
    Ok(out.trim().to_string())
}

/// The espeak-ng voice for a Redub language code. Codes are lower-cased (`pt_BR` → `pt-br`) and
/// mostly used as they are (`es`, `it`, `hi`, `de`, `ja`, …, any voice `espeak-ng --voices`
/// lists). Three bare codes are mapped because espeak-ng's default for them is not the variety
/// a dub usually wants: `en` → `en-us` (espeak's `en` is British), `fr` → `fr-fr`,
/// `pt` → `pt-br`.
pub fn espeak_voice(lang: &str) -> Result<String> {
    let code = lang.trim().to_ascii_lowercase().replace('_', "-");
    // The code becomes a command-line value; anything but a plain tag could read as an option.
    let plain = !code.is_empty()
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && code.starts_with(|c: char| c.is_ascii_alphabetic());
    if !plain {
        return Err(Error::Unsupported(format!("'{lang}' is not a language code (expected e.g. `es`, `en`, `pt-br`)")));
    }
    Ok(match code.as_str() {
        "en" => "en-us".to_string(),
        "fr" => "fr-fr".to_string(),
        "pt" => "pt-br".to_string(),
        _ => code,
    })
}

/// Whether espeak-ng has a voice of its own for `lang` (MBROLA voices need extra data that setup
/// does not install, so they do not count).
pub fn has_voice(lang: &str) -> Result<bool> {
    let voice = match espeak_voice(lang) {
        Ok(v) => v,
        Err(_) => return Ok(false),
    };
    Ok(!espeak_languages(Some(&voice))?.is_empty())
}

/// Language codes of espeak-ng's own voices, sorted; all of them, or those matching `filter`.
pub fn espeak_languages(filter: Option<&str>) -> Result<Vec<String>> {
    let arg = match filter {
        Some(f) => format!("--voices={f}"),
        None => "--voices".to_string(),
    };
    let out = run(&[&arg], None)?;
    let mut langs: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .skip(1) // the header row
        .filter_map(|line| {
            // "Pty Language Age/Gender VoiceName File Other Languages"
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (lang, file) = (*cols.get(1)?, *cols.get(4)?);
            (lang != "variant" && !file.starts_with("mb/")).then(|| lang.to_string())
        })
        .collect();
    langs.sort();
    langs.dedup();
    Ok(langs)
}

/// Primary subtag of a voice or language code (`pt-br` → `pt`).
pub(crate) fn base(code: &str) -> &str {
    code.split('-').next().unwrap_or(code)
}

#[derive(Debug, PartialEq)]
enum Piece {
    Words(String),
    Punct(char),
}

/// The punctuation Kokoro knows that `c` stands for, if `c` ends a clause.
fn clause_punct(c: char) -> Option<char> {
    Some(match c {
        ',' | '、' | '，' | '،' => ',',
        '.' | '。' | '।' | '॥' => '.',
        '?' | '？' | '؟' => '?',
        '!' | '！' => '!',
        ';' | '；' => ';',
        ':' | '：' => ':',
        '…' => '…',
        '—' => '—',
        _ => return None,
    })
}

/// Split `text` into word runs and clause punctuation. A `.` or `,` between digits stays inside
/// the words ("3.5" is one number to espeak-ng).
fn clauses(text: &str) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut words = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let in_number = matches!(c, '.' | ',')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        match clause_punct(c) {
            Some(p) if !in_number => {
                if !words.trim().is_empty() {
                    pieces.push(Piece::Words(std::mem::take(&mut words)));
                }
                words.clear();
                pieces.push(Piece::Punct(p));
            }
            // Opening marks carry no sound; espeak-ng would skip them anyway.
            _ if matches!(c, '¿' | '¡') => words.push(' '),
            _ => words.push(c),
        }
    }
    if !words.trim().is_empty() {
        pieces.push(Piece::Words(words));
    }
    pieces
}

/// espeak-ng's Japanese reads kana only and spells every kanji as the English words "Chinese
/// letter"; dropping kanji loses those words but keeps the English out of a Japanese line.
/// A real Japanese G2P is needed to read them.
fn drop_kanji(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF) { ' ' } else { c })
        .collect()
}

/// IPA of one clause: espeak-ng's lines joined, language-switch flags like `(en)` removed (the
/// switched words stay, read by the other language's rules), whitespace collapsed.
fn phonemize_clause(words: &str, voice: &str) -> Result<String> {
    let tie = format!("--tie={TIE}");
    let out = run(&["-q", "--ipa", &tie, "-v", voice, "--stdin"], Some(words))?;
    let text = String::from_utf8_lossy(&out);
    let mut clean = String::with_capacity(text.len());
    let mut in_flag = false;
    for c in text.chars() {
        match c {
            '(' => in_flag = true,
            ')' => in_flag = false,
            _ if !in_flag => clean.push(c),
            _ => {}
        }
    }
    Ok(clean.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Run espeak-ng with `args`, feeding `input` on stdin; its stdout.
pub(crate) fn run(args: &[&str], input: Option<&str>) -> Result<Vec<u8>> {
    let child = Command::new(ESPEAK)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::MissingModel { what: "espeak-ng (the program)".to_string(), path: PathBuf::from("$PATH") }
            }
            _ => Error::Process { program: ESPEAK.to_string(), stderr: e.to_string() },
        })?;
    let (output, written) = redub_media::finish_with_input(child, input.map(str::as_bytes))
        .map_err(|e| Error::Process { program: ESPEAK.to_string(), stderr: e.to_string() })?;
    if !output.status.success() {
        // espeak-ng prints some errors ("voice does not exist") on stdout.
        let mut msg = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if msg.is_empty() {
            msg = String::from_utf8_lossy(&output.stdout).trim().to_string();
        }
        let tail: Vec<&str> = msg.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::Process {
            program: format!("{ESPEAK} {}", args.join(" ")),
            stderr: if tail.is_empty() { output.status.to_string() } else { tail.join("\n") },
        });
    }
    match written {
        Ok(()) => Ok(output.stdout),
        Err(e) => Err(Error::Process { program: ESPEAK.to_string(), stderr: format!("writing text: {e}") }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clauses_keep_punctuation_and_numbers() {
        let p = clauses("Hola, ¿qué tal? Son 3.5 euros。");
        assert_eq!(
            p,
            vec![
                Piece::Words("Hola".into()),
                Piece::Punct(','),
                Piece::Words("  qué tal".into()),
                Piece::Punct('?'),
                Piece::Words(" Son 3.5 euros".into()),
                Piece::Punct('.'),
            ]
        );
    }

    #[test]
    fn nuclei_count_diphthongs_and_long_vowels_once() {
        assert_eq!(count_nuclei("ˈola, kˈe tˈal?"), 4);
        assert_eq!(count_nuclei("ma^ɪ t^ʃˈiːz"), 2);
        // Hiatus (dí-as) reads as one run: espeak-ng marks no break there, so this undercounts a little.
        assert_eq!(count_nuclei("bwˈenos dˈias"), 3);
        assert_eq!(count_nuclei("ko\u{303}ɐ\u{303}w\u{303}"), 1, "nasal marks continue a run");
        assert_eq!(count_nuclei(""), 0);
    }

    #[test]
    fn voice_mapping() {
        assert_eq!(espeak_voice("en").unwrap(), "en-us");
        assert_eq!(espeak_voice("pt_BR").unwrap(), "pt-br");
        assert_eq!(espeak_voice("es").unwrap(), "es");
        assert!(matches!(espeak_voice("-v"), Err(Error::Unsupported(_))));
        assert!(matches!(espeak_voice(""), Err(Error::Unsupported(_))));
    }
}
