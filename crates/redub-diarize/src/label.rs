//! Give each transcript line its speaker, splitting a line where the speaker changes.
//!
//! Whisper's lines follow sentences, not speakers: a quick exchange ("Ready?" "Yes.") can land in
//! one line. Each word takes the speaker whose turns overlap it most, short runs (a word or two
//! attributed across a boundary by a few milliseconds) are absorbed by their neighbours, and a
//! line is cut wherever the remaining runs change speaker. Every line then has one speaker,
//! which is what the voice stage needs.

use crate::Turn;
use redub_core::{Segment, Word};

/// A run of words shorter than this (and fewer than `MIN_RUN_WORDS`) does not make a line of its
/// own; it joins the speaker around it.
const MIN_RUN_MS: u64 = 600;
const MIN_RUN_WORDS: usize = 2;
/// A word with no overlapping turn takes the nearest turn within this distance.
const NEAREST_MS: u64 = 1_000;

/// The speaker of `[start, end)`: most overlap, else the nearest turn within [`NEAREST_MS`].
fn speaker_at(turns: &[Turn], start: u64, end: u64) -> Option<&str> {
    let mut best: Option<(&str, u64)> = None;
    for t in turns {
        let o = end.min(t.end_ms).saturating_sub(start.max(t.start_ms));
        if o > 0 && best.is_none_or(|(_, b)| o > b) {
            best = Some((&t.speaker, o));
        }
    }
    if let Some((s, _)) = best {
        return Some(s);
    }
    turns
        .iter()
        .map(|t| {
            let gap = if t.end_ms <= start { start - t.end_ms } else { t.start_ms.saturating_sub(end) };
            (gap, t.speaker.as_str())
        })
        .filter(|(gap, _)| *gap <= NEAREST_MS)
        .min_by_key(|(gap, _)| *gap)
        .map(|(_, s)| s)
}

/// Lines with speakers, renumbered from 0 in time order. Lines of an input without turns
/// (no speech found by diarization) get `fallback`.
pub fn label_segments(segments: &[Segment], turns: &[Turn], fallback: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for seg in segments {
        let whole = speaker_at(turns, seg.start_ms, seg.end_ms).unwrap_or(fallback).to_string();
        if seg.words.len() < 2 {
            out.push(Segment { speaker: Some(whole), ..seg.clone() });
            continue;
        }
        let mut who: Vec<String> = seg
            .words
            .iter()
            .map(|w| speaker_at(turns, w.start_ms, w.end_ms.max(w.start_ms + 1)).unwrap_or(&whole).to_string())
            .collect();
        smooth(&seg.words, &mut who);
        let mut start = 0;
        for i in 1..=who.len() {
            if i == who.len() || who[i] != who[start] {
                out.push(piece(seg, start, i, &who[start]));
                start = i;
            }
        }
    }
    out.sort_by_key(|s| (s.start_ms, s.end_ms));
    for (i, s) in out.iter_mut().enumerate() {
        s.id = i as u32;
    }
    out
}

/// Absorb short runs into a neighbouring run, repeatedly, until every run is long enough or
/// only one remains.
fn smooth(words: &[Word], who: &mut [String]) {
    loop {
        let runs = runs(who);
        if runs.len() < 2 {
            return;
        }
        let short = runs.iter().enumerate().find(|(_, (a, b))| {
            let ms = words[*b - 1].end_ms.saturating_sub(words[*a].start_ms);
            b - a < MIN_RUN_WORDS && ms < MIN_RUN_MS
        });
        let Some((i, (a, b))) = short.map(|(i, r)| (i, *r)) else {
            return;
        };
        // Join the longer neighbour (by duration); the first/last run has only one.
        let len = |(x, y): (usize, usize)| words[y - 1].end_ms.saturating_sub(words[x].start_ms);
        let left = (i > 0).then(|| runs[i - 1]);
        let right = runs.get(i + 1).copied();
        let target = match (left, right) {
            (Some(l), Some(r)) => {
                if len(l) >= len(r) {
                    l
                } else {
                    r
                }
            }
            (Some(l), None) => l,
            (None, Some(r)) => r,
            (None, None) => return,
        };
        let name = who[target.0].clone();
        who[a..b].iter_mut().for_each(|w| *w = name.clone());
    }
}

fn runs(who: &[String]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=who.len() {
        if i == who.len() || who[i] != who[start] {
            out.push((start, i));
            start = i;
        }
    }
    out
}

/// Words `a..b` of `seg` as a line of their own.
fn piece(seg: &Segment, a: usize, b: usize, speaker: &str) -> Segment {
    let words = seg.words[a..b].to_vec();
    let whole = a == 0 && b == seg.words.len();
    let text =
        if whole { seg.text.clone() } else { words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ") };
    let start_ms = if a == 0 { seg.start_ms } else { words[0].start_ms };
    let end_ms = if b == seg.words.len() { seg.end_ms } else { words[words.len() - 1].end_ms.max(start_ms) };
    let confidence = words.iter().map(|w| w.p).sum::<f32>() / words.len() as f32;
    Segment {
        id: seg.id,
        speaker: Some(speaker.to_string()),
        start_ms,
        end_ms,
        text,
        confidence: if whole { seg.confidence } else { confidence },
        words,
        lang: seg.lang.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(t: &str, s: u64, e: u64) -> Word {
        Word { text: t.into(), start_ms: s, end_ms: e, p: 0.9 }
    }

    fn seg(id: u32, words: Vec<Word>) -> Segment {
        Segment {
            id,
            speaker: None,
            start_ms: words[0].start_ms,
            end_ms: words[words.len() - 1].end_ms,
            text: words.iter().map(|w| w.text.clone()).collect::<Vec<_>>().join(" "),
            words,
            confidence: 0.9,
            lang: "en".into(),
        }
    }

    #[test]
    fn a_line_spanning_two_speakers_is_split() {
        let s = seg(
            0,
            vec![
                word("Are", 0, 200),
                word("you", 200, 400),
                word("ready?", 400, 800),
                word("Yes,", 1_000, 1_300),
                word("I", 1_300, 1_400),
                word("am.", 1_400, 1_800),
            ],
        );
        let turns = vec![Turn::new(0, 850, "S1"), Turn::new(950, 1_900, "S2")];
        let out = label_segments(&[s], &turns, "S1");
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].text.as_str(), out[0].speaker.as_deref()), ("Are you ready?", Some("S1")));
        assert_eq!((out[1].text.as_str(), out[1].speaker.as_deref()), ("Yes, I am.", Some("S2")));
        assert_eq!((out[1].id, out[1].start_ms, out[1].end_ms), (1, 1_000, 1_800));
    }

    #[test]
    fn a_stray_word_at_a_boundary_is_not_a_line() {
        let s =
            seg(0, vec![word("So", 0, 150), word("we", 150, 300), word("went", 300, 600), word("home.", 600, 1_000)]);
        // The second speaker's turn starts early and catches the first word only.
        let turns = vec![Turn::new(0, 140, "S2"), Turn::new(140, 1_000, "S1")];
        let out = label_segments(&[s], &turns, "S1");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].speaker.as_deref(), Some("S1"));
        assert_eq!(out[0].text, "So we went home.");
    }

    #[test]
    fn no_turns_gives_the_fallback_and_gaps_take_the_nearest() {
        let s = seg(3, vec![word("Hi.", 0, 300)]);
        assert_eq!(label_segments(std::slice::from_ref(&s), &[], "S1")[0].speaker.as_deref(), Some("S1"));
        let turns = vec![Turn::new(800, 2_000, "S2")];
        assert_eq!(label_segments(&[s], &turns, "S1")[0].speaker.as_deref(), Some("S2"));
    }
}
