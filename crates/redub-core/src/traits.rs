//! Backend traits: small, synchronous, one or two required methods each. Backends get a [`Ctx`]
//! for progress and cancellation and return data; the pipeline decides where anything is stored.

use crate::{Audio, Flag, Result, Segment, Span, Turn};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// Progress and cancellation handed to a backend.
pub struct Ctx<'a> {
    progress: &'a (dyn Fn(u64, u64) + Sync),
    cancel: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    pub fn new(progress: &'a (dyn Fn(u64, u64) + Sync), cancel: Option<&'a AtomicBool>) -> Self {
        Self { progress, cancel }
    }

    /// A context that reports nowhere and never cancels (tests, small calls).
    pub fn quiet() -> Ctx<'static> {
        Ctx { progress: &|_, _| {}, cancel: None }
    }

    /// Report `done` of `total` units of work.
    pub fn progress(&self, done: u64, total: u64) {
        (self.progress)(done, total)
    }

    /// A context with the same cancel flag that reports progress somewhere else: a stage made of
    /// several steps maps each step's progress into its own.
    pub fn child<'b>(&'b self, progress: &'b (dyn Fn(u64, u64) + Sync)) -> Ctx<'b> {
        Ctx { progress, cancel: self.cancel }
    }

    /// Err(Cancelled) once the job was asked to stop; call between units of work.
    pub fn check_cancel(&self) -> Result<()> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(crate::Error::Cancelled),
            _ => Ok(()),
        }
    }
}

/// Finds where people speak.
pub trait VoiceActivityDetector {
    /// Speech regions of `audio`, sorted, non-overlapping.
    fn detect(&mut self, audio: &Audio, ctx: &Ctx) -> Result<Vec<Span>>;
}

/// Finds who speaks when.
pub trait Diarizer {
    /// Speaker turns of `audio` (16 kHz mono). `speech` are the VAD regions and `scene_cuts_ms`
    /// the video's shot changes (empty for audio-only input), both used to plan chunks of a long
    /// input. Speaker ids are the same person across the whole input; no speech gives no turns.
    fn diarize(&mut self, audio: &Audio, speech: &[Span], scene_cuts_ms: &[u64], ctx: &Ctx) -> Result<Vec<Turn>>;
}

/// Splits a mix into the speech in it and what is under the speech (music, effects,
/// ambience), channel by channel.
pub trait SpeechSeparator {
    /// For each channel of `channels` (same rate and length each): its speech estimate and its
    /// background, with `speech + background` equal to the channel sample for sample. Only
    /// `regions` (speech regions, in ms) need the model; elsewhere the background is the mix.
    fn separate(&mut self, channels: &[Audio], regions: &[Span], ctx: &Ctx) -> Result<Vec<(Audio, Audio)>>;
}

/// Turns speech into timed text.
pub trait Transcriber {
    /// Transcribe the given regions of `audio` (times in the result are absolute). `lang` is the
    /// source language when known; `None` asks the model to detect it.
    fn transcribe(&mut self, audio: &Audio, regions: &[Span], lang: Option<&str>, ctx: &Ctx) -> Result<Vec<Segment>>;

    /// The speech regions grouped into the units this transcriber decodes on their own: the
    /// pipeline calls [`transcribe`](Self::transcribe) once per group, keeps each group's result
    /// as it finishes, and may hand groups to other processes. A group's result must not depend
    /// on the other groups. Default: all regions in one group.
    fn plan(&self, regions: &[Span]) -> Vec<Vec<Span>> {
        if regions.is_empty() {
            Vec::new()
        } else {
            vec![regions.to_vec()]
        }
    }

    /// The most likely spoken language of `audio` and its probability.
    fn detect_language(&mut self, audio: &Audio) -> Result<(String, f32)>;
}

/// One line to translate, with what the translator should know about it.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslationItem {
    pub id: u32,
    pub speaker: Option<String>,
    pub text: String,
    /// Most words the translation may have to fit the line's time.
    pub budget_words: u32,
}

/// A line around a window, shown to the translator so dialogue reads as dialogue; it is not
/// translated in this call.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextLine {
    pub speaker: Option<String>,
    pub text: String,
}

/// Consecutive lines to translate together, with their neighbours for context.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TranslationWindow<'a> {
    pub items: &'a [TranslationItem],
    /// Lines just before the window (oldest first).
    pub before: &'a [ContextLine],
    /// Lines just after the window.
    pub after: &'a [ContextLine],
}

impl<'a> TranslationWindow<'a> {
    /// A window without context lines.
    pub fn new(items: &'a [TranslationItem]) -> Self {
        Self { items, before: &[], after: &[] }
    }
}

/// One translated line and what the translator noticed about it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    pub text: String,
    /// Review flags the backend raised itself (e.g. `proper_noun`, `idiom`, `over_budget` after
    /// its retry); the pipeline adds the ones it checks (budget, glossary, timing, ASR).
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// Why a flag was raised, for the reviewer (e.g. the name or idiom the model marked).
    #[serde(default)]
    pub note: Option<String>,
}

impl Translation {
    pub fn plain(text: impl Into<String>) -> Self {
        Self { text: text.into(), flags: Vec::new(), note: None }
    }
}

/// Translates lines of dialogue.
pub trait Translator {
    /// Translate the window's items from `from` to `to`; one output per item, in order.
    fn translate(&mut self, window: &TranslationWindow, from: &str, to: &str, ctx: &Ctx) -> Result<Vec<Translation>>;
}

/// Speaks text.
pub trait Synthesizer {
    /// Speak `text` in `lang` with the named `voice`; `speed` 1.0 is the voice's natural rate.
    fn synthesize(&mut self, text: &str, lang: &str, voice: &str, speed: f32) -> Result<Audio>;

    /// The voices this engine can use for `lang`, best first.
    fn voices(&self, lang: &str) -> Vec<String>;

    /// How long `text` will be at any speed, known without speaking it, where the engine can
    /// tell (Kokoro: its duration predictor); `None` where it cannot (a service, a stand-in).
    fn plan(&mut self, _text: &str, _lang: &str, _voice: &str) -> Result<Option<LengthPlan>> {
        Ok(None)
    }
}

/// A take's length as the engine will make it, before it is made: per model call, each
/// token's duration in frames at speed 1. At `speed` a token lasts `max(1, round(d / speed))`
/// frames (round half to even, as ONNX's `Round`): lengths are whole frames, so they do not
/// scale as 1/speed exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct LengthPlan {
    /// One entry per model call: the durations of its tokens that the take keeps once its
    /// silent edges are trimmed.
    pub pieces: Vec<Vec<f32>>,
    pub frame_ms: f64,
    /// Silence put between two pieces, in ms.
    pub gap_ms: u64,
    /// The speeds the engine accepts; others are clamped to them, as its `synthesize` does.
    pub speed_range: (f32, f32),
}

impl LengthPlan {
    /// The take's length at `speed` in ms.
    pub fn ms_at(&self, speed: f32) -> u64 {
        let speed = speed.clamp(self.speed_range.0, self.speed_range.1);
        let frames: f64 = self.pieces.iter().flatten().map(|d| f64::from((d / speed).round_ties_even().max(1.0))).sum();
        let gaps = self.gap_ms * self.pieces.len().saturating_sub(1) as u64;
        (frames * self.frame_ms).round() as u64 + gaps
    }
}

/// Describes a voice as a vector, so that two recordings can be compared by cosine (the offline
/// voice matching picks and checks stock voices with it).
pub trait SpeakerEmbedder {
    /// A unit-length embedding of `audio` (mono, any rate), or `None` when it is too short.
    fn embed(&mut self, audio: &Audio) -> Result<Option<Vec<f32>>>;
}

/// Makes voices from a speaker's reference sample (a cloning service). The voices it makes are
/// used through the same backend's [`Synthesizer`] by the id it returns.
pub trait VoiceCloner {
    /// A new voice named `name` from `sample` (mono; 44.1 kHz for the services we know); returns
    /// the voice id to synthesise with.
    fn create_voice(&mut self, name: &str, sample: &Audio) -> Result<String>;

    /// Delete a voice this cloner made. Deleting a voice that is already gone is not an error.
    fn delete_voice(&mut self, id: &str) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::LengthPlan;

    #[test]
    fn a_plan_counts_whole_frames_at_each_speed() {
        let plan = LengthPlan {
            pieces: vec![vec![2.0, 3.0], vec![21.0]],
            frame_ms: 25.0,
            gap_ms: 150,
            speed_range: (0.5, 2.0),
        };
        // 2 + 3 + 21 frames and one gap between the two pieces.
        assert_eq!(plan.ms_at(1.0), 26 * 25 + 150);
        // At 1.5: 2/1.5 → 1, 3/1.5 → 2, 21/1.5 → 14: whole frames, not 1/speed of the length.
        assert_eq!(plan.ms_at(1.5), 17 * 25 + 150);
        // Half to even, as ONNX's Round: at 2.0, 3 → 1.5 → 2 and 21 → 10.5 → 10.
        assert_eq!(plan.ms_at(2.0), (1 + 2 + 10) * 25 + 150);
        // Never below one frame.
        assert_eq!(LengthPlan { pieces: vec![vec![0.2, 0.2]], ..plan.clone() }.ms_at(2.0), 2 * 25);
        assert_eq!(plan.ms_at(10.0), plan.ms_at(2.0), "clamped as the engine clamps");
        assert_eq!(LengthPlan { pieces: vec![], ..plan }.ms_at(1.0), 0);
    }
}
