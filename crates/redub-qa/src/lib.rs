//! Measuring a dub. The pipeline's qa stage hands this crate what a job made (each line's slot
//! and fitted clip, what Whisper heard in the dubbed track, speaker embeddings, the source and
//! output audio) and gets back numbers: per line, per speaker, per job, with their
//! distributions; [`html`] turns them into the job's self-contained report page.
//!
//! Definitions (DESIGN §8 and the dubbing literature):
//! - speech overlap of a line: `1 − |d_src − d_dub| / d_src` (0 at worst), with `d_src` the
//!   line's slot and `d_dub` its fitted clip;
//! - round-trip WER/CER: the dubbed line transcribed again in the target language against the
//!   text it was meant to say;
//! - start offset: where the first heard word of the dub starts, from the line's start;
//! - speaker likeness: cosine of the embedding of a speaker's dubbed lines to their own source
//!   reference and to the nearest other speaker's.

pub mod dist;
pub mod html;
pub mod lines;
pub mod loudness;
pub mod speakers;
pub mod text;

pub use dist::Distribution;
pub use lines::{assign_words, overlap, LineInput, LineQa};
pub use loudness::{measure_file, Loudness, LoudnessPair};
pub use speakers::{likeness, SpeakerQa};

use serde::{Deserialize, Serialize};

/// A line whose dub Whisper cannot read back this badly (character error rate) is flagged
/// `unintelligible`. Chosen, not tuned by listening; docs/qa.md has the sample's figures.
pub const UNINTELLIGIBLE_CER: f64 = 0.5;

/// Stretch still comfortable to listen to (DESIGN's timing bar: 95% of lines within it).
pub const COMFORTABLE_STRETCH: f64 = 1.15;

/// The round-trip check over the whole job: errors summed over lines, not a mean of rates, so a
/// long line counts for its words.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundTrip {
    /// Word error rate of what was heard against the target text, over all lines.
    pub wer: f64,
    /// Character error rate, likewise.
    pub cer: f64,
    /// Words of target text the rates are over.
    pub words: usize,
    /// Lines flagged `unintelligible`.
    pub unintelligible: usize,
    /// The language Whisper was forced to.
    pub lang: String,
}

/// What was measured against reference files (`redub eval --ref-rttm/--ref-stm`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct References {
    /// Diarization error rate of the job's speaker turns (collar 250 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub der: Option<f64>,
    /// Word error rate of the source transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_wer: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_words: Option<usize>,
}

/// One stage's cost, as the job's report lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCost {
    pub stage: String,
    #[serde(default)]
    pub skipped: bool,
    pub wall_ms: u64,
    pub cpu_ms: u64,
    pub peak_rss_kb: u64,
    /// Wall time over the input's length.
    pub rtf: f64,
}

/// Everything measured about one dub.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QaReport {
    pub input_ms: u64,
    pub from: String,
    pub to: String,
    pub lines: Vec<LineQa>,
    pub round_trip: RoundTrip,
    /// Per-line distributions: speech overlap (low is bad), stretch, |start offset| (ms), round-
    /// trip WER and CER (high is bad).
    pub overlap: Distribution,
    pub stretch: Distribution,
    pub start_offset_ms: Distribution,
    pub line_wer: Distribution,
    pub line_cer: Distribution,
    /// Share of lines with a stretch of at most 1.15×.
    pub comfortable_share: f64,
    pub speakers: Vec<SpeakerQa>,
    pub loudness: LoudnessPair,
    /// Filled by the report's reader (the stages run before the qa stage is done measuring).
    #[serde(default)]
    pub stages: Vec<StageCost>,
    #[serde(default)]
    pub references: References,
}

impl QaReport {
    /// The job's figures from its lines: the round trip summed and every distribution.
    pub fn summarize(&mut self) {
        let (mut errs, mut words, mut cerrs, mut chars) = (0usize, 0usize, 0usize, 0usize);
        for l in &self.lines {
            errs += l.word_errors;
            words += l.target_words;
            cerrs += l.char_errors;
            chars += l.target_chars;
        }
        self.round_trip.wer = ratio(errs, words);
        self.round_trip.cer = ratio(cerrs, chars);
        self.round_trip.words = words;
        self.round_trip.unintelligible =
            self.lines.iter().filter(|l| l.flags.contains(&redub_core::Flag::Unintelligible)).count();
        let of = |f: &dyn Fn(&LineQa) -> Option<f64>, high_is_bad: bool| {
            let v: Vec<(u32, f64)> = self.lines.iter().filter_map(|l| f(l).map(|x| (l.line.id, x))).collect();
            Distribution::of(&v, high_is_bad)
        };
        self.overlap = of(&|l| Some(l.overlap), false);
        self.stretch = of(&|l| Some(l.line.stretch), true);
        self.start_offset_ms = of(&|l| l.start_offset_ms.map(|o| o.unsigned_abs() as f64), true);
        self.line_wer = of(&|l| l.wer(), true);
        self.line_cer = of(&|l| l.cer(), true);
        let ok = self.lines.iter().filter(|l| l.line.stretch <= COMFORTABLE_STRETCH + 1e-9).count();
        self.comfortable_share = if self.lines.is_empty() { 1.0 } else { ok as f64 / self.lines.len() as f64 };
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
