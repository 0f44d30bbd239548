//! What travels between stages: speech spans, words, segments and their review flags.
//! All times are integer milliseconds from the start of the input.

use serde::{Deserialize, Serialize};

/// One stretch of one speaker's speech. Turns of different speakers may overlap (overlapped
/// speech is real and is scored); turns of one speaker do not once merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: String,
}

impl Turn {
    pub fn new(start_ms: u64, end_ms: u64, speaker: impl Into<String>) -> Self {
        Self { start_ms, end_ms: end_ms.max(start_ms), speaker: speaker.into() }
    }

    pub fn duration_ms(&self) -> u64 {
        self.end_ms - self.start_ms
    }
}

/// A time range, `start_ms <= end_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Span {
    pub fn new(start_ms: u64, end_ms: u64) -> Self {
        Self { start_ms, end_ms: end_ms.max(start_ms) }
    }

    pub fn duration_ms(&self) -> u64 {
        self.end_ms - self.start_ms
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Model probability of the word, 0..1.
    pub p: f32,
}

/// Why a line may need a human look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    OverBudget,
    OverTime,
    LowAsrConfidence,
    GlossaryMiss,
    ProperNoun,
    Idiom,
    /// The dubbed clip did not fit its slot even at the stretch cap and borrowed no silence.
    DoesNotFit,
    /// Whisper, reading the dubbed line back in the target language, got too little of it
    /// right (the qa stage's round trip).
    Unintelligible,
}

/// Add each of `more` to `flags` that is not there yet, keeping the order they came in.
pub fn add_flags(flags: &mut Vec<Flag>, more: &[Flag]) {
    for f in more {
        if !flags.contains(f) {
            flags.push(*f);
        }
    }
}

/// One line of speech: what was said, by whom, when; and once translated, what it becomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: u32,
    #[serde(default)]
    pub speaker: Option<String>,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    #[serde(default)]
    pub words: Vec<Word>,
    /// Mean word probability, 0..1.
    pub confidence: f32,
    pub lang: String,
}

impl Segment {
    pub fn span(&self) -> Span {
        Span::new(self.start_ms, self.end_ms)
    }

    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}
