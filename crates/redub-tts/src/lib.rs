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
    engine_with_threads(lang, 0)
}

/// `n` engines for `lang` that can speak side by side, one core each: ONNX Runtime's threads
/// gain little on a model of Kokoro's size (with the `kokoro_rtf` example on a loaded 2-core
/// machine, one thread read at a real-time factor of 0.98, two at 1.34), so each session gets
/// one thread and the sessions share the cores.
pub fn engines_for(lang: &str, n: usize) -> Result<Vec<Box<dyn Synthesizer + Send>>> {
    (0..n).map(|_| engine_with_threads(lang, 1)).collect()
}

/// The engine that reads voice probes and measures speaking rates: [`engine_for`], except that
/// Kokoro reads with its int8 graph on every CPU ([`kokoro::GRAPH_INT8`]), so what is measured
/// with it is the same on every machine.
pub fn probe_engine_for(lang: &str) -> Result<Box<dyn Synthesizer + Send>> {
    if Kokoro::speaks(lang) && phonemize::has_voice(lang)? {
        return Ok(Box::new(Kokoro::load_graph(kokoro::GRAPH_INT8, 0)?));
    }
    engine_for(lang)
}

/// [`engine_for`] with `threads` ONNX Runtime threads for Kokoro (0 = all cores).
fn engine_with_threads(lang: &str, threads: usize) -> Result<Box<dyn Synthesizer + Send>> {
    if !phonemize::has_voice(lang)? {
        let espeak = phonemize::espeak_languages(None)?;
        return Err(Error::Unsupported(format!(
            "no speech synthesis for language '{lang}'. Kokoro speaks {}; espeak-ng speaks {}",
            kokoro::LANGUAGES.join(", "),
            espeak.join(", ")
        )));
    }
    if Kokoro::speaks(lang) {
        Ok(Box::new(Kokoro::load_with_threads(threads)?))
    } else {
        Ok(Box::new(Espeak::new()))
    }
}

/// Clip edges are trimmed by [`redub_dsp::trim_silence`] (its tests live there).
pub(crate) use redub_dsp::trim_silence;
