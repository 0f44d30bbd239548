//! Per-line figures: how the dub fits its slot and whether Whisper can read it back.

use redub_core::{Flag, Word};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A heard word this far from every dubbed clip belongs to none (a breath in the bed).
pub const ASSIGN_SLACK_MS: u64 = 500;

/// What the job knows of one line before it is measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineInput {
    pub id: u32,
    pub speaker: String,
    /// The line's slot in the source.
    pub start_ms: u64,
    pub end_ms: u64,
    /// The fitted clip: where it was placed and how long it is.
    pub clip_start_ms: u64,
    pub clip_ms: u64,
    /// The clip as synthesised, before time-stretching.
    pub natural_ms: u64,
    pub stretch: f64,
    pub engine_speed: f32,
    pub flags: Vec<Flag>,
    pub source_text: String,
    pub target_text: String,
}

/// One line, measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineQa {
    /// The line as the job made it (its `flags` are the translation's and the render's).
    pub line: LineInput,
    pub slot_ms: u64,
    /// `1 − |slot − clip| / slot`, at least 0.
    pub overlap: f64,
    /// What Whisper heard over the clip, in the target language.
    pub heard: String,
    /// Start of the first heard word minus the line's start (negative: the dub starts early).
    pub start_offset_ms: Option<i64>,
    pub word_errors: usize,
    pub target_words: usize,
    pub char_errors: usize,
    pub target_chars: usize,
    /// The line's flags with the round trip's (`unintelligible`) added.
    pub flags: Vec<Flag>,
}

impl LineQa {
    /// Measure `line` against the words Whisper heard over its clip, flagging it when the
    /// character error rate is above `unintelligible_cer`.
    pub fn new(line: LineInput, heard: &[Word], unintelligible_cer: f64) -> Self {
        let slot_ms = line.end_ms.saturating_sub(line.start_ms);
        let text = heard.iter().map(|w| w.text.trim()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        let w = redub_asr::word_error_rate(&line.target_text, &text);
        let c = redub_asr::char_error_rate(&line.target_text, &text);
        let mut flags = line.flags.clone();
        let cer = if c.reference_words == 0 { None } else { Some(c.rate()) };
        if cer.is_some_and(|r| r > unintelligible_cer) {
            redub_core::add_flags(&mut flags, &[Flag::Unintelligible]);
        }
        Self {
            slot_ms,
            overlap: overlap(slot_ms, line.clip_ms),
            heard: text,
            start_offset_ms: heard.first().map(|w| w.start_ms as i64 - line.start_ms as i64),
            word_errors: w.substitutions + w.deletions + w.insertions,
            target_words: w.reference_words,
            char_errors: c.substitutions + c.deletions + c.insertions,
            target_chars: c.reference_words,
            flags,
            line,
        }
    }

    /// The line's round-trip word error rate (`None` for a line with no words to say).
    pub fn wer(&self) -> Option<f64> {
        (self.target_words > 0).then(|| self.word_errors as f64 / self.target_words as f64)
    }

    pub fn cer(&self) -> Option<f64> {
        (self.target_chars > 0).then(|| self.char_errors as f64 / self.target_chars as f64)
    }
}

/// Speech overlap of a dub of `dub_ms` in a slot of `src_ms`: 1 when they are equal, falling
/// by the share of the slot they differ by, never below 0 (0 also for an empty slot).
pub fn overlap(src_ms: u64, dub_ms: u64) -> f64 {
    if src_ms == 0 {
        return 0.0;
    }
    (1.0 - src_ms.abs_diff(dub_ms) as f64 / src_ms as f64).max(0.0)
}

/// The heard `words` given to the lines whose clips (`(id, start_ms, end_ms)`) they fall in,
/// by each word's middle; a word between clips goes to the nearer one if it is within
/// [`ASSIGN_SLACK_MS`], else to none. Each line's words stay in time order.
pub fn assign_words(clips: &[(u32, u64, u64)], words: &[Word]) -> BTreeMap<u32, Vec<Word>> {
    let mut out: BTreeMap<u32, Vec<Word>> = BTreeMap::new();
    for w in words {
        let mid = (w.start_ms + w.end_ms.max(w.start_ms)) / 2;
        let distance = |&(_, a, b): &(u32, u64, u64)| if mid < a { a - mid } else { mid.saturating_sub(b) };
        let Some(best) = clips.iter().min_by_key(|c| distance(c)) else { break };
        if distance(best) <= ASSIGN_SLACK_MS {
            out.entry(best.0).or_default().push(w.clone());
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|w| w.start_ms);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: u64, end_ms: u64) -> Word {
        Word { text: text.into(), start_ms, end_ms, p: 0.9 }
    }

    #[test]
    fn overlap_is_one_minus_the_relative_difference() {
        assert_eq!(overlap(2000, 2000), 1.0);
        assert!((overlap(2000, 1500) - 0.75).abs() < 1e-12);
        assert!((overlap(2000, 2600) - 0.7).abs() < 1e-12);
        assert_eq!(overlap(1000, 2500), 0.0);
        assert_eq!(overlap(0, 500), 0.0);
    }

    #[test]
    fn words_go_to_the_clip_they_fall_in_or_the_near_one() {
        let clips = [(1, 1000, 2000), (2, 3000, 4000)];
        let words = [
            word("uno", 1100, 1400),
            word("dos", 2100, 2300),   // just after clip 1
            word("tres", 3500, 3800),  // in clip 2
            word("ruido", 9000, 9100), // far from both
        ];
        let got = assign_words(&clips, &words);
        let texts = |id| got.get(&id).map(|v| v.iter().map(|w| w.text.as_str()).collect::<Vec<_>>());
        assert_eq!(texts(1), Some(vec!["uno", "dos"]));
        assert_eq!(texts(2), Some(vec!["tres"]));
        assert_eq!(got.values().map(Vec::len).sum::<usize>(), 3);
    }
}
