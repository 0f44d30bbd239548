//! Pauses inside a spoken line, and shortening them.
//!
//! A TTS engine reads a comma the way a narrator would: Kokoro leaves about 450 ms of silence
//! at each one, where conversational speakers pause for 150–250 ms. A dubbed line that is too
//! long for its slot gives up that air first, before its speech is sped up, because a shorter
//! pause is heard far less than faster syllables.

use redub_core::{ms_to_samples, samples_to_ms};

/// Length of the analysis frames.
const FRAME_MS: u64 = 10;
/// A frame this far below the line's loudest frame is silence (Kokoro's pauses sit near
/// −60 dB, its quietest consonants above −35 dB).
const SILENCE_DB: f32 = -40.0;
/// Quieter runs shorter than this are stop closures and gaps inside phrases, not pauses.
pub const MIN_PAUSE_MS: u64 = 100;
/// A shortened pause keeps at least this much, so a comma is still heard as one.
pub const PAUSE_FLOOR_MS: u64 = 150;
/// Crossfade across a cut, against clicks from the residual noise in a pause.
const JOIN_MS: u64 = 5;

/// The pauses inside `samples`: silent runs of at least [`MIN_PAUSE_MS`] with speech on both
/// sides, as `(start, end)` sample spans. Leading and trailing silence is not a pause.
pub fn pauses(samples: &[f32], rate: u32) -> Vec<(usize, usize)> {
    let frame = ms_to_samples(FRAME_MS, rate).max(1);
    let energy: Vec<f64> = samples.chunks(frame).map(crate::level::mean_square).collect();
    let peak = energy.iter().copied().fold(0.0f64, f64::max);
    if peak <= 0.0 {
        return Vec::new();
    }
    let floor = peak * 10f64.powf(SILENCE_DB as f64 / 10.0);
    let min_frames = (MIN_PAUSE_MS / FRAME_MS) as usize;
    let mut out = Vec::new();
    let mut run_start: Option<usize> = None;
    let mut seen_speech = false;
    for (i, &e) in energy.iter().enumerate() {
        if e < floor {
            if seen_speech && run_start.is_none() {
                run_start = Some(i);
            }
        } else {
            if let Some(s) = run_start.take() {
                if i - s >= min_frames {
                    out.push((s * frame, i * frame));
                }
            }
            seen_speech = true;
        }
    }
    // A run still open at the end is trailing silence.
    out
}

/// `samples` with up to `remove_ms` taken out of its pauses. The longest pauses shorten first,
/// down to a common length and never below [`PAUSE_FLOOR_MS`], so their order is kept; each cut
/// is made in the middle of its pause. Returns the samples unchanged when there is nothing to
/// take.
pub fn tighten_pauses(samples: &[f32], rate: u32, remove_ms: u64) -> Vec<f32> {
    let spans = pauses(samples, rate);
    let floor = ms_to_samples(PAUSE_FLOOR_MS, rate);
    let want = ms_to_samples(remove_ms, rate);
    let lens: Vec<usize> = spans.iter().map(|(a, b)| b - a).collect();
    let spare: usize = lens.iter().map(|&l| l.saturating_sub(floor)).sum();
    if want == 0 || spare == 0 {
        return samples.to_vec();
    }
    // The common length `level` the long pauses are cut to: the smallest level ≥ floor at which
    // Σ max(0, len − level) ≤ want, found by bisection on sample counts.
    let cut_at = |level: usize| lens.iter().map(|&l| l.saturating_sub(level)).sum::<usize>();
    let level = if spare <= want {
        floor
    } else {
        let (mut lo, mut hi) = (floor, lens.iter().copied().max().unwrap_or(floor));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cut_at(mid) <= want {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    let join = ms_to_samples(JOIN_MS, rate);
    let mut out = Vec::with_capacity(samples.len());
    let mut pos = 0;
    for &(a, b) in &spans {
        let len = b - a;
        if len <= level {
            continue;
        }
        let cut = len - level;
        // Keep the first and last halves of the new length; drop the middle.
        let keep_head = level / 2;
        let (drop_a, drop_b) = (a + keep_head, a + keep_head + cut);
        out.extend_from_slice(&samples[pos..drop_a]);
        // Crossfade the samples just before the cut into the last ones it drops, so the join
        // is smooth and exactly `cut` samples go.
        let n = join.min(cut).min(out.len());
        let start = out.len() - n;
        for k in 0..n {
            let t = (k + 1) as f32 / (n + 1) as f32;
            out[start + k] = out[start + k] * (1.0 - t) + samples[drop_b - n + k] * t;
        }
        pos = drop_b;
    }
    out.extend_from_slice(&samples[pos..]);
    out
}

/// Total pause length in `samples`, in milliseconds.
pub fn pause_ms(samples: &[f32], rate: u32) -> u64 {
    samples_to_ms(pauses(samples, rate).iter().map(|(a, b)| b - a).sum(), rate)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::sine;

    const RATE: u32 = 16_000;

    /// Tone bursts (speech) with silences of the given lengths between them, plus a lead-in and
    /// a tail of silence.
    fn line(gaps_ms: &[u64]) -> Vec<f32> {
        let burst = sine(220.0, 0.5, RATE, 0.3);
        let mut s = vec![0.0; ms_to_samples(200, RATE)];
        s.extend(&burst);
        for &g in gaps_ms {
            s.extend(vec![0.0005f32; ms_to_samples(g, RATE)]);
            s.extend(&burst);
        }
        s.extend(vec![0.0; ms_to_samples(300, RATE)]);
        s
    }

    fn ms(n: usize) -> u64 {
        samples_to_ms(n, RATE)
    }

    #[test]
    fn finds_pauses_but_not_edges_or_short_gaps() {
        let s = line(&[400, 50, 200]);
        let p = pauses(&s, RATE);
        let lens: Vec<u64> = p.iter().map(|(a, b)| ms(b - a)).collect();
        assert_eq!(lens.len(), 2, "the 50 ms gap and the edges are not pauses: {lens:?}");
        assert!((390..=410).contains(&lens[0]) && (190..=210).contains(&lens[1]), "{lens:?}");
        assert!(pauses(&vec![0.0; 1600], RATE).is_empty());
    }

    #[test]
    fn longest_pauses_shorten_first_and_speech_is_kept() {
        let s = line(&[400, 200]);
        // 100 ms: only the 400 ms pause gives, down to 300.
        let t = tighten_pauses(&s, RATE, 100);
        assert!((ms(s.len() - t.len()) as i64 - 100).abs() <= 10, "removed {} ms", ms(s.len() - t.len()));
        let lens: Vec<u64> = pauses(&t, RATE).iter().map(|(a, b)| ms(b - a)).collect();
        assert!((290..=310).contains(&lens[0]) && (190..=210).contains(&lens[1]), "{lens:?}");
        // 300 ms: both meet at 150.
        let t = tighten_pauses(&s, RATE, 300);
        let lens: Vec<u64> = pauses(&t, RATE).iter().map(|(a, b)| ms(b - a)).collect();
        assert!(lens.iter().all(|l| (140..=160).contains(l)), "{lens:?}");
        // Speech energy is untouched: the three bursts are all still there.
        let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>();
        assert!((energy(&t) / energy(&s) - 1.0).abs() < 0.01);
    }

    #[test]
    fn never_below_the_floor_and_nothing_to_take_is_a_no_op() {
        let s = line(&[400, 200]);
        let t = tighten_pauses(&s, RATE, 5_000);
        let lens: Vec<u64> = pauses(&t, RATE).iter().map(|(a, b)| ms(b - a)).collect();
        assert!(lens.iter().all(|&l| l >= PAUSE_FLOOR_MS - 10), "{lens:?}");
        assert!((ms(s.len() - t.len()) as i64 - 300).abs() <= 10);
        let short = line(&[120]);
        assert_eq!(tighten_pauses(&short, RATE, 500), short);
        assert_eq!(tighten_pauses(&s, RATE, 0), s);
        assert!(tighten_pauses(&[], RATE, 100).is_empty());
    }
}
