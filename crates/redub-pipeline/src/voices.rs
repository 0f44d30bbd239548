//! Reference samples: for each speaker, the cleanest stretch of their own voice, which a cloning
//! service copies and the offline voice matching measures (DESIGN §1, voices).

use redub_core::{Audio, Result, Span, Turn};

/// Sample rate of reference samples (what ElevenLabs and most cloning models take).
pub const REFERENCE_RATE: u32 = 44_100;
/// A sample shorter than this is padded with silence to [`PADDED_MS`] (DESIGN §1, voices).
pub const MIN_REFERENCE_MS: u64 = 1_500;
pub const PADDED_MS: u64 = 2_000;
/// Pieces shorter than this say little about a voice and are left out when longer ones exist.
const MIN_PIECE_MS: u64 = 500;
/// Silence between joined pieces, so the joins do not sound like one clipped word.
const JOIN_GAP_MS: u64 = 150;

/// The spans of `speaker`'s speech to use as a reference, at most `max_ms` in total: their turns
/// with every moment another speaker talks cut out, longest pieces first, returned in time order.
pub fn reference_spans(turns: &[Turn], speaker: &str, max_ms: u64) -> Vec<Span> {
    let others: Vec<Span> =
        turns.iter().filter(|t| t.speaker != speaker).map(|t| Span::new(t.start_ms, t.end_ms)).collect();
    let mut pieces: Vec<Span> = Vec::new();
    for t in turns.iter().filter(|t| t.speaker == speaker) {
        let mut parts = vec![Span::new(t.start_ms, t.end_ms)];
        for o in &others {
            parts = parts
                .into_iter()
                .flat_map(|p| {
                    if o.end_ms <= p.start_ms || o.start_ms >= p.end_ms {
                        vec![p]
                    } else {
                        [Span::new(p.start_ms, o.start_ms.max(p.start_ms)), Span::new(o.end_ms.min(p.end_ms), p.end_ms)]
                            .into_iter()
                            .filter(|s| s.duration_ms() > 0)
                            .collect()
                    }
                })
                .collect();
        }
        pieces.extend(parts);
    }
    if pieces.iter().any(|p| p.duration_ms() >= MIN_PIECE_MS) {
        pieces.retain(|p| p.duration_ms() >= MIN_PIECE_MS);
    }
    pieces.sort_by_key(|p| (std::cmp::Reverse(p.duration_ms()), p.start_ms));
    let mut chosen = Vec::new();
    let mut total = 0u64;
    for p in pieces {
        if total >= max_ms {
            break;
        }
        let take = p.duration_ms().min(max_ms - total);
        chosen.push(Span::new(p.start_ms, p.start_ms + take));
        total += take;
    }
    chosen.sort_by_key(|s| s.start_ms);
    chosen
}

/// The reference sample: `spans` of `audio` (mono) joined with short silences, resampled to
/// [`REFERENCE_RATE`], and padded with silence to 2.0 s when under 1.5 s.
pub fn reference_sample(audio: &Audio, spans: &[Span]) -> Result<Audio> {
    let gap = vec![0.0f32; redub_core::ms_to_samples(JOIN_GAP_MS, audio.rate)];
    let mut samples = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            samples.extend_from_slice(&gap);
        }
        samples.extend_from_slice(audio.slice_ms(s.start_ms, s.end_ms));
    }
    let mut out = redub_dsp::resample(&Audio::new(audio.rate, samples), REFERENCE_RATE)?;
    if out.duration_ms() < MIN_REFERENCE_MS {
        out.samples.resize(redub_core::ms_to_samples(PADDED_MS, REFERENCE_RATE), 0.0);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_cut_out_and_longest_pieces_win() {
        let turns = vec![
            Turn::new(0, 3_000, "S1"),
            Turn::new(2_000, 4_000, "S2"),
            Turn::new(5_000, 6_000, "S1"),
            Turn::new(7_000, 7_300, "S1"),
            Turn::new(8_000, 12_000, "S1"),
        ];
        // S1 alone: 0–2000, 5000–6000, 7000–7300 (too short), 8000–12000.
        assert_eq!(
            reference_spans(&turns, "S1", 60_000),
            vec![Span::new(0, 2_000), Span::new(5_000, 6_000), Span::new(8_000, 12_000)]
        );
        // A 5 s limit takes the 4 s piece and 1 s of the next longest.
        assert_eq!(reference_spans(&turns, "S1", 5_000), vec![Span::new(0, 1_000), Span::new(8_000, 12_000)]);
        // A speaker who only ever overlaps gets nothing; an unknown speaker too.
        assert!(reference_spans(&[Turn::new(0, 1_000, "A"), Turn::new(0, 1_000, "B")], "A", 10_000).is_empty());
        // Only short pieces: they are used rather than nothing.
        assert_eq!(reference_spans(&[Turn::new(0, 300, "A")], "A", 10_000), vec![Span::new(0, 300)]);
    }

    #[test]
    fn samples_are_44k_and_short_ones_are_padded_to_two_seconds() {
        let audio = Audio::new(16_000, vec![0.1; 16_000 * 10]);
        let long = reference_sample(&audio, &[Span::new(0, 2_000), Span::new(3_000, 4_000)]).unwrap();
        assert_eq!(long.rate, REFERENCE_RATE);
        assert!(long.duration_ms().abs_diff(3_150) <= 2, "{}", long.duration_ms());
        let short = reference_sample(&audio, &[Span::new(0, 800)]).unwrap();
        assert_eq!(short.duration_ms(), PADDED_MS);
        assert!(short.samples[..REFERENCE_RATE as usize / 2].iter().any(|x| x.abs() > 0.05));
        assert!(short.samples[REFERENCE_RATE as usize..].iter().all(|x| *x == 0.0));
    }
}
