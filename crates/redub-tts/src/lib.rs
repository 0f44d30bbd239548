//! Speech synthesis engines: text in a language and a voice → mono audio.
//!
//! It owns the engines behind [`redub_core::Synthesizer`]: [`Kokoro`] (Kokoro-82M through ONNX
//! Runtime, for es, en, fr, it, pt, hi, ja), [`Espeak`] (espeak-ng itself, for every other
//! language espeak-ng has a voice for), the espeak-ng phonemizer Kokoro uses ([`phonemize`]),
//! [`engine_for`] which picks between them, and [`ToneSynth`], a deterministic stand-in for tests.
//!
//! It does not fit speech to time or render anything: the pipeline asks for a `speed`, measures
//! what comes back, and stretches, places and mixes it elsewhere.

pub mod espeak;
pub mod kokoro;
pub mod phonemize;
pub mod rate;
pub mod tone;

pub use espeak::Espeak;
pub use kokoro::Kokoro;
pub use rate::{measure_rate, SpeechRate};
pub use tone::ToneSynth;

use redub_core::{Error, Result, Synthesizer};

/// The engine for `lang`: [`Kokoro`] for the languages it speaks, [`Espeak`] for the others
/// espeak-ng has a voice for, `Error::Unsupported` (listing what is available) otherwise.
pub fn engine_for(lang: &str) -> Result<Box<dyn Synthesizer + Send>> {
    if !phonemize::has_voice(lang)? {
        let espeak = phonemize::espeak_languages(None)?;
        return Err(Error::Unsupported(format!(
            "no speech synthesis for language '{lang}'. Kokoro speaks {}; espeak-ng speaks {}",
            kokoro::LANGUAGES.join(", "),
            espeak.join(", ")
        )));
    }
    if Kokoro::speaks(lang) {
        Ok(Box::new(Kokoro::load()?))
    } else {
        Ok(Box::new(Espeak::new()))
    }
}

/// Below this level a sample counts as silence when trimming clip edges.
const SILENCE: f32 = 0.01;
/// Silence kept on each side of a trimmed clip, so onsets and decays are not cut.
const EDGE_PAD_MS: u64 = 30;

/// `samples` without leading and trailing near-silence (|x| < 0.01), keeping 30 ms either side;
/// empty when nothing is louder. Engines pad their output unevenly, and the pipeline fits clips
/// to slots by their length, so the length should be the speech.
pub(crate) fn trim_silence(samples: &[f32], rate: u32) -> &[f32] {
    let Some(first) = samples.iter().position(|x| x.abs() >= SILENCE) else {
        return &[];
    };
    let last = samples.iter().rposition(|x| x.abs() >= SILENCE).unwrap_or(first);
    let pad = redub_core::ms_to_samples(EDGE_PAD_MS, rate);
    &samples[first.saturating_sub(pad)..(last + 1 + pad).min(samples.len())]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_a_pad() {
        let mut s = vec![0.0; 1000];
        s[500] = 0.5;
        s[600] = -0.5;
        // 1000 Hz: 30 ms = 30 samples.
        assert_eq!(trim_silence(&s, 1000).len(), 101 + 60);
        assert!(trim_silence(&[0.001; 10], 1000).is_empty());
        assert_eq!(trim_silence(&[0.5; 10], 1000).len(), 10);
    }
}
