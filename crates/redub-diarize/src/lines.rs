//! From labelled sentences to dub lines: slots that match when each speaker really talks, and
//! one line per stretch of one speaker's talk.
//!
//! Two things make Whisper's sentences poor slots for dubbing.
//!
//! - **Their edges.** Whisper's word times mark where words start (DTW over its attention), so a
//!   sentence ends where the next one starts. At a change of speaker that edge can be off by
//!   400 ms on conversational speech, while the diarization turns put it within about 200 ms.
//!   [`retime`] moves the edges at a clean change of speaker to the turns, and lets a line that
//!   follows or precedes silence reach out to where its speaker's turn begins or ends.
//! - **Their length.** "Oh, hello." followed at once by "I didn't know you were there." from the
//!   same speaker are two 0.5 s and 1.3 s slots; a translation cannot move its words between
//!   them, and the short one rarely fits. A dubbing adapter fits the speaker's whole utterance.
//!   [`merge`] joins a speaker's consecutive sentences into one line, up to the length of a
//!   subtitle cue.

use crate::Turn;
use redub_core::Segment;

/// How far a turn edge may move a line's edge. On the sample call, Whisper's edge at a change of
/// speaker was up to 430 ms from the reference when each turn was decoded alone, and up to
/// 610 ms once turns are packed into shared windows (issue #11: DTW places the first words
/// after a pause later); the turns were within about 200 ms.
pub const SNAP_MS: u64 = 700;
/// Sentences of one speaker this close together are one stretch of talk.
pub const JOIN_GAP_MS: u64 = 300;
/// The longest line [`merge`] makes: the usual limit for one subtitle cue, so a line still
/// reads as one cue.
pub const MAX_LINE_MS: u64 = 7_000;
/// No edge moves so far that a line would be shorter than this.
const MIN_LINE_MS: u64 = 100;

/// The edge nearest `at` (within [`SNAP_MS`]) among `speaker`'s turn starts (`starts`) or ends.
fn nearest_edge(turns: &[Turn], speaker: &str, at: u64, starts: bool) -> Option<u64> {
    turns
        .iter()
        .filter(|t| t.speaker == speaker)
        .map(|t| if starts { t.start_ms } else { t.end_ms })
        .filter(|&e| e.abs_diff(at) <= SNAP_MS)
        .min_by_key(|&e| e.abs_diff(at))
}

/// `speaker`'s turn that `at` falls in.
fn holding_turn<'t>(turns: &'t [Turn], speaker: &str, at: u64) -> Option<&'t Turn> {
    turns.iter().find(|t| t.speaker == speaker && t.start_ms <= at && at <= t.end_ms)
}

fn speaker(s: &Segment) -> &str {
    s.speaker.as_deref().unwrap_or("")
}

/// Move line edges to the diarization turns. `lines` are sorted by start, each with its
/// speaker. At a change of speaker with the lines (nearly) touching, both edges move to the
/// turns when the turns show a clean change there (the first speaker's turn ends no later than
/// the second's begins); where the turns overlap, Whisper's edge is kept. A line with silence
/// before (after) it may start (end) earlier (later), at its speaker's turn edge, never into
/// another line. Word times are not changed.
pub fn retime(lines: &mut [Segment], turns: &[Turn]) {
    for i in 1..lines.len() {
        let (a, b) = (&lines[i - 1], &lines[i]);
        if speaker(a) == speaker(b) || b.start_ms.saturating_sub(a.end_ms) > JOIN_GAP_MS {
            continue;
        }
        let ta = nearest_edge(turns, speaker(a), a.end_ms, false);
        let tb = nearest_edge(turns, speaker(b), b.start_ms, true);
        let (Some(ta), Some(tb)) = (ta, tb) else { continue };
        if ta > tb || ta < a.start_ms + MIN_LINE_MS || tb + MIN_LINE_MS > b.end_ms {
            continue;
        }
        lines[i - 1].end_ms = ta;
        lines[i].start_ms = tb;
    }
    for i in 0..lines.len() {
        let prev_end = if i > 0 { lines[i - 1].end_ms } else { 0 };
        let next_start = lines.get(i + 1).map(|n| n.start_ms).unwrap_or(u64::MAX);
        // Reaching out: to the start (end) of the speaker's turn that holds the line's start
        // (end), when that is near.
        let s = &lines[i];
        if s.start_ms.saturating_sub(prev_end) > JOIN_GAP_MS || i == 0 {
            if let Some(t) = holding_turn(turns, speaker(s), s.start_ms).map(|t| t.start_ms) {
                if t < s.start_ms && s.start_ms - t <= SNAP_MS && t >= prev_end {
                    lines[i].start_ms = t;
                }
            }
        }
        let s = &lines[i];
        if next_start.saturating_sub(s.end_ms) > JOIN_GAP_MS {
            if let Some(t) = holding_turn(turns, speaker(s), s.end_ms).map(|t| t.end_ms) {
                if t > s.end_ms && t - s.end_ms <= SNAP_MS && t <= next_start {
                    lines[i].end_ms = t;
                }
            }
        }
    }
}

/// Join each speaker's consecutive lines (gap at most [`JOIN_GAP_MS`], nobody else between)
/// into one line of at most [`MAX_LINE_MS`]. Texts and words are concatenated; the confidence
/// is the mean over all words; lines are renumbered from 0.
pub fn merge(lines: Vec<Segment>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(lines.len());
    for s in lines {
        if let Some(last) = out.last_mut() {
            let joinable = speaker(last) == speaker(&s)
                && s.start_ms.saturating_sub(last.end_ms) <= JOIN_GAP_MS
                && s.end_ms.max(last.end_ms) - last.start_ms <= MAX_LINE_MS;
            if joinable {
                let (n_a, n_b) = (last.words.len().max(1) as f32, s.words.len().max(1) as f32);
                last.confidence = (last.confidence * n_a + s.confidence * n_b) / (n_a + n_b);
                last.end_ms = last.end_ms.max(s.end_ms);
                last.text = format!("{} {}", last.text.trim_end(), s.text.trim_start());
                last.words.extend(s.words);
                continue;
            }
        }
        out.push(s);
    }
    for (i, s) in out.iter_mut().enumerate() {
        s.id = i as u32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use redub_core::Word;

    fn line(speaker: &str, start: u64, end: u64, text: &str) -> Segment {
        Segment {
            id: 0,
            speaker: Some(speaker.into()),
            start_ms: start,
            end_ms: end,
            text: text.into(),
            words: vec![Word { text: text.into(), start_ms: start, end_ms: end, p: 0.8 }],
            confidence: 0.8,
            lang: "en".into(),
        }
    }

    fn spans(lines: &[Segment]) -> Vec<(u64, u64)> {
        lines.iter().map(|l| (l.start_ms, l.end_ms)).collect()
    }

    #[test]
    fn a_clean_change_of_speaker_moves_to_the_turns() {
        // Whisper glued the lines at 10 228; the turns change at 9 945 (the sample call).
        let turns =
            vec![Turn::new(8_291, 9_945, "S2"), Turn::new(9_945, 10_974, "S1"), Turn::new(11_400, 14_000, "S2")];
        let mut l = vec![
            line("S2", 8_948, 10_228, "I didn't know you were there."),
            line("S1", 10_248, 10_988, "Neither did I."),
        ];
        retime(&mut l, &turns);
        // The first line also reaches back to its turn's start (657 ms, within the snap).
        assert_eq!(spans(&l), vec![(8_291, 9_945), (9_945, 10_988)]);
    }

    #[test]
    fn overlapping_turns_and_far_edges_keep_whisper() {
        // S2 still talks when S1 starts: no clean change, Whisper's edge stays.
        // (S2's turn starts 868 ms before its line: too far to reach back to.)
        let turns = vec![Turn::new(11_800, 14_771, "S2"), Turn::new(14_298, 18_200, "S1")];
        let mut l = vec![line("S2", 12_668, 14_488, "a"), line("S1", 14_508, 17_400, "b")];
        retime(&mut l, &turns);
        assert_eq!(spans(&l)[0], (12_668, 14_488));
        assert_eq!(spans(&l)[1].0, 14_508);
        // S1's turn ends 800 ms after its line; past the snap distance, so the end stays too.
        assert_eq!(spans(&l)[1].1, 17_400);
    }

    #[test]
    fn lines_next_to_silence_reach_out_to_their_turn_but_not_into_another_line() {
        // A short S1 turn starts nearer the first line's start (7 042) than the turn holding it.
        let turns = vec![
            Turn::new(6_721, 7_008, "S1"),
            Turn::new(7_042, 7_160, "S1"),
            Turn::new(7_565, 8_291, "S1"),
            Turn::new(8_600, 9_000, "S2"),
        ];
        let mut l = vec![
            line("S1", 6_924, 7_208, "Hello?"),
            line("S1", 7_968, 8_200, "Hello."),
            line("S2", 8_350, 9_000, "Hi"),
        ];
        retime(&mut l, &turns);
        // Starts reach back to the turns; the first line's end is not pulled in to 7 008.
        assert_eq!(spans(&l)[0], (6_721, 7_208));
        assert_eq!(spans(&l)[1].0, 7_565);
        // The second and third lines nearly touch and the turns change cleanly between them.
        assert_eq!(spans(&l)[1].1, 8_291);
        assert_eq!(spans(&l)[2], (8_600, 9_000));
    }

    #[test]
    fn a_speakers_sentences_join_up_to_a_cue() {
        let l = vec![
            line("S2", 8_291, 8_928, "Oh, hello."),
            line("S2", 8_948, 9_945, "I didn't know you were there."),
            line("S1", 9_945, 10_988, "Neither did I."),
            line("S1", 11_500, 12_000, "Far."),
            line("S1", 12_020, 16_000, "Long one."),
            line("S1", 16_020, 19_600, "Too far for one cue."),
        ];
        let m = merge(l);
        let texts: Vec<&str> = m.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Oh, hello. I didn't know you were there.",
                "Neither did I.",
                "Far. Long one.",
                "Too far for one cue."
            ]
        );
        assert_eq!(spans(&m)[0], (8_291, 9_945));
        assert_eq!(m[0].words.len(), 2);
        assert_eq!(m.iter().map(|s| s.id).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }
}
