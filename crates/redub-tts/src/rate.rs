//! How fast an engine speaks a language, measured by letting it speak: used to predict a line's
//! spoken length before synthesis (the `over_time` check) and, for languages outside DESIGN's
//! table, the words-per-second rate behind word budgets.

use redub_core::{Result, Synthesizer};
use serde::{Deserialize, Serialize};

/// A measured speaking rate of one engine and voice in one language, at speed 1.0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeechRate {
    /// Milliseconds per letter or digit (spaces and punctuation cost nothing extra: pauses are
    /// short and roughly proportional to length anyway).
    pub ms_per_char: f64,
    pub words_per_second: f64,
}

impl SpeechRate {
    /// Expected spoken length of `text`, in ms.
    pub fn estimate_ms(&self, text: &str) -> u64 {
        (spoken_chars(text) as f64 * self.ms_per_char).round() as u64
    }
}

/// Letters and digits: what an engine spends time on.
pub fn spoken_chars(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

impl SpeechRate {
    /// The rate of one take: `text` spoken in `ms`; `None` for a text without letters or an
    /// empty take.
    pub fn of_take(text: &str, ms: u64, count_words: impl Fn(&str) -> u32) -> Option<Self> {
        Self::of_totals(ms, spoken_chars(text), u64::from(count_words(text)))
    }

    /// The rate of `ms` of speech holding `chars` letters and `words` words.
    fn of_totals(ms: u64, chars: usize, words: u64) -> Option<Self> {
        if ms == 0 || chars == 0 {
            return None;
        }
        Some(Self { ms_per_char: ms as f64 / chars as f64, words_per_second: words as f64 * 1000.0 / ms as f64 })
    }
}

/// Speak `texts` with `voice` at natural speed and measure. Texts without letters are skipped;
/// `None` when nothing was spoken.
pub fn measure_rate(
    tts: &mut dyn Synthesizer,
    lang: &str,
    voice: &str,
    texts: &[&str],
    count_words: impl Fn(&str) -> u32,
) -> Result<Option<SpeechRate>> {
    let (mut ms, mut chars, mut words) = (0u64, 0usize, 0u64);
    for t in texts.iter().filter(|t| spoken_chars(t) > 0) {
        let audio = tts.synthesize(t, lang, voice, 1.0)?;
        ms += audio.duration_ms();
        chars += spoken_chars(t);
        words += u64::from(count_words(t));
    }
    Ok(SpeechRate::of_totals(ms, chars, words))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ToneSynth;

    #[test]
    fn measures_the_engine_it_is_given() {
        let mut tts = ToneSynth::default();
        let texts = ["uno dos tres cuatro", "cinco seis"];
        let rate =
            measure_rate(&mut tts, "es", "tone-a", &texts, |t| t.split_whitespace().count() as u32).unwrap().unwrap();
        // The estimate of a measured text is its measured length (within rounding).
        let whole = tts.synthesize(texts[0], "es", "tone-a", 1.0).unwrap().duration_ms()
            + tts.synthesize(texts[1], "es", "tone-a", 1.0).unwrap().duration_ms();
        let est = rate.estimate_ms(texts[0]) + rate.estimate_ms(texts[1]);
        assert!(est.abs_diff(whole) <= 2, "{est} vs {whole}");
        assert!(rate.words_per_second > 0.0);
        assert!(measure_rate(&mut tts, "es", "tone-a", &["..."], |_| 0).unwrap().is_none());
        // One take measured on its own gives the same rate as measuring it.
        let one = measure_rate(&mut tts, "es", "tone-a", &texts[..1], |t| t.split_whitespace().count() as u32);
        let take = tts.synthesize(texts[0], "es", "tone-a", 1.0).unwrap().duration_ms();
        let of = SpeechRate::of_take(texts[0], take, |t| t.split_whitespace().count() as u32);
        assert_eq!(one.unwrap(), of);
        assert_eq!(SpeechRate::of_take("...", 100, |_| 0), None);
    }
}
