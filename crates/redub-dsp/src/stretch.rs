//! Time-scale modification without pitch change by WSOLA (waveform-similarity overlap-add,
//! Verhelst & Roelands 1993): the output is built from Hann-windowed input frames laid at a
//! fixed hop; each frame is taken near where the time map says, shifted within a small
//! tolerance so that it best continues the waveform of the frame before. Speech keeps its pitch
//! and timbre because frames are copied, never resampled.

/// Frame length; 25 ms spans two or more pitch periods of most voices.
const FRAME_MS: f64 = 25.0;
/// How far a frame may move from its ideal position to find a better splice.
const TOLERANCE_MS: f64 = 10.0;
/// The similarity search runs on about this many samples per second first, then refines at
/// full rate; that keeps the search cost independent of the sample rate.
const COARSE_RATE: u32 = 8_000;

/// Stretch `samples` (mono, at `rate` Hz) in time by `factor` = output duration / input
/// duration, keeping pitch: 0.8 gives faster speech, 1.25 slower.
///
/// The output has exactly `round(len * factor)` samples, and input time `t` maps to output time
/// `t * factor` within the search tolerance (10 ms). A factor of exactly 1.0 returns the input
/// unchanged; so do a zero `rate` and a factor that is not a positive finite number, since there
/// is no sensible stretch to make.
pub fn time_stretch(samples: &[f32], rate: u32, factor: f64) -> Vec<f32> {
    if factor == 1.0 || !factor.is_finite() || factor <= 0.0 || rate == 0 || samples.is_empty() {
        return samples.to_vec();
    }
    let out_len = (samples.len() as f64 * factor).round() as usize;
    if out_len == 0 {
        return Vec::new();
    }

    // An even frame and a hop of half of it: periodic Hann windows at 50% overlap sum to
    // exactly 1, so overlap-adding well-aligned frames reproduces the waveform's level.
    let frame = ((rate as f64 * FRAME_MS / 1000.0).round() as usize).max(4) & !1;
    let half = frame / 2;
    let hop = half;
    let tol = (rate as f64 * TOLERANCE_MS / 1000.0).round() as usize;
    let stride = (rate / COARSE_RATE).max(1) as usize;
    let window: Vec<f32> =
        (0..frame).map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / frame as f64).cos()) as f32).collect();

    // Zero-pad the input so every frame the search can reach is a plain slice: frames are
    // centred on their time, so the first starts half a frame before zero, and the last ones
    // reach past the end by the hop, the tolerance and the rounding of the time map.
    let left = half + tol + 1;
    let right = ((frame + 2) as f64 / factor).ceil() as usize + frame + tol + 2;
    let mut input = vec![0.0f32; left + samples.len() + right];
    input[left..left + samples.len()].copy_from_slice(samples);
    let max_start = input.len() - frame;
    // Start index in `input` of the frame centred at input time `centre`, clamped into range.
    let start_of = |centre: isize| (centre + left as isize - half as isize).clamp(0, max_start as isize) as usize;

    // Output frame k is centred at output time k*hop; `acc` index j is output time j - half.
    let frames = (out_len + half).div_ceil(hop);
    let mut acc = vec![0.0f32; frames * hop + frame];
    let mut weight = vec![0.0f32; acc.len()];
    let mut prev_centre: isize = 0;
    for k in 0..frames {
        let ideal = (k as f64 * hop as f64 / factor).round() as isize;
        let centre = if k == 0 {
            0
        } else {
            // The input that would follow the previous frame seamlessly.
            let natural = &input[start_of(prev_centre + hop as isize)..][..frame];
            best_centre(&input, natural, ideal, tol, stride, &start_of)
        };
        let src = &input[start_of(centre)..][..frame];
        let dst = k * hop;
        for (i, (&s, &w)) in src.iter().zip(&window).enumerate() {
            acc[dst + i] += s * w;
            weight[dst + i] += w;
        }
        prev_centre = centre;
    }

    // The window sum is 1 wherever two frames overlap; dividing by it only matters if rounding
    // ever leaves a gap, and keeps such a spot from dipping in level.
    acc[half..half + out_len]
        .iter()
        .zip(&weight[half..half + out_len])
        .map(|(&a, &w)| if w > 1e-3 { a / w } else { a })
        .collect()
}

/// The frame centre within `ideal ± tol` whose frame looks most like `natural`, by normalised
/// cross-correlation. Searches every `stride`-th lag on every `stride`-th sample, then every lag
/// near the best one on every sample. Ties (silence) keep the ideal position, so timing only
/// drifts where the waveform asks for it.
fn best_centre(
    input: &[f32],
    natural: &[f32],
    ideal: isize,
    tol: usize,
    stride: usize,
    start_of: &impl Fn(isize) -> usize,
) -> isize {
    let score = |centre: isize, step: usize| -> f32 {
        let cand = &input[start_of(centre)..][..natural.len()];
        let (mut xy, mut yy) = (0.0f32, 0.0f32);
        for (&x, &y) in natural.iter().step_by(step).zip(cand.iter().step_by(step)) {
            xy += x * y;
            yy += y * y;
        }
        // The small floor makes silent candidates score 0 instead of dividing by zero.
        xy / (yy + 1e-9).sqrt()
    };
    let tol = tol as isize;
    let mut best = (score(ideal, stride), ideal);
    let mut lag = -tol;
    while lag <= tol {
        let s = score(ideal + lag, stride);
        if s > best.0 {
            best = (s, ideal + lag);
        }
        lag += stride as isize;
    }
    if stride > 1 {
        let coarse = best.1;
        best = (score(coarse, 1), coarse);
        let reach = stride as isize - 1;
        for c in (coarse - reach).max(ideal - tol)..=(coarse + reach).min(ideal + tol) {
            let s = score(c, 1);
            if s > best.0 {
                best = (s, c);
            }
        }
    }
    best.1
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{buzz, dominant_freq, naive_rms, sine};

    /// Mean frequency from upward zero crossings (interpolated), the slow obvious way.
    fn zero_crossing_freq(x: &[f32], rate: u32) -> f64 {
        let mut crossings = Vec::new();
        for i in 1..x.len() {
            let (a, b) = (x[i - 1] as f64, x[i] as f64);
            if a < 0.0 && b >= 0.0 {
                crossings.push(i as f64 - 1.0 + a / (a - b));
            }
        }
        let n = crossings.len();
        assert!(n > 10, "too few zero crossings: {n}");
        (n - 1) as f64 * rate as f64 / (crossings[n - 1] - crossings[0])
    }

    #[test]
    fn sine_keeps_pitch_and_level() {
        for rate in [16_000u32, 44_100, 48_000] {
            let input = sine(200.0, 0.5, rate, 1.0);
            for factor in [0.8, 1.25, 0.6, 1.5] {
                let out = time_stretch(&input, rate, factor);
                assert_eq!(out.len(), (input.len() as f64 * factor).round() as usize);
                // Away from the edges, where the last frame meets the zero padding.
                let edge = rate as usize / 20;
                let mid = &out[edge..out.len() - edge];
                let zc = zero_crossing_freq(mid, rate);
                assert!((zc / 200.0 - 1.0).abs() < 0.02, "rate {rate} factor {factor}: {zc:.1} Hz by zero crossings");
                let dft = dominant_freq(mid, rate, 100.0, 400.0, 1.0);
                assert!((dft / 200.0 - 1.0).abs() < 0.02, "rate {rate} factor {factor}: {dft:.1} Hz by DFT");
                let ratio = naive_rms(mid) / naive_rms(&input);
                assert!((ratio - 1.0).abs() < 0.10, "rate {rate} factor {factor}: RMS ratio {ratio:.3}");
            }
        }
    }

    #[test]
    fn clicks_move_with_the_time_map() {
        let rate = 16_000u32;
        let (a, b) = (4_800usize, 11_200usize); // 0.3 s and 0.7 s
        let mut input = vec![0.0f32; rate as usize];
        input[a] = 1.0;
        input[b] = -1.0;
        for factor in [0.8, 1.25] {
            let out = time_stretch(&input, rate, factor);
            assert_eq!(out.len(), (input.len() as f64 * factor).round() as usize);
            let argmax = |x: &[f32]| {
                x.iter().enumerate().max_by(|p, q| p.1.abs().total_cmp(&q.1.abs())).map(|(i, _)| i).unwrap()
            };
            let split = ((a + b) as f64 / 2.0 * factor) as usize;
            let got_a = argmax(&out[..split]);
            let got_b = split + argmax(&out[split..]);
            let tolerance = 0.015 * rate as f64;
            for (got, at) in [(got_a, a), (got_b, b)] {
                let want = at as f64 * factor;
                assert!((got as f64 - want).abs() <= tolerance, "factor {factor}: click {at} at {got}, want {want}");
                assert!(out[got].abs() > 0.5, "factor {factor}: click {at} smeared to {}", out[got]);
            }
            let spacing = (got_b - got_a) as f64 / (b - a) as f64;
            assert!((spacing - factor).abs() < 0.05, "factor {factor}: spacing scaled by {spacing:.3}");
        }
    }

    #[test]
    fn unit_factor_and_degenerate_input() {
        let input = sine(200.0, 0.5, 16_000, 0.1);
        assert_eq!(time_stretch(&input, 16_000, 1.0), input);
        assert_eq!(time_stretch(&input, 16_000, f64::NAN), input);
        assert_eq!(time_stretch(&input, 16_000, -1.0), input);
        assert!(time_stretch(&[], 16_000, 0.8).is_empty());
        // Shorter than one frame still gives the exact length.
        for len in [1usize, 2, 7, 100, 399] {
            for factor in [0.5, 0.8, 1.3, 2.0] {
                let out = time_stretch(&input[..len], 16_000, factor);
                assert_eq!(out.len(), (len as f64 * factor).round() as usize, "len {len} factor {factor}");
            }
        }
    }

    #[test]
    fn splices_do_not_cancel() {
        // Badly aligned frames partly cancel where they overlap, which shows as level dips.
        // 200 Hz at 24 kHz is 120 samples a period, so each 120-sample block of a clean
        // result has the same RMS.
        let rate = 24_000u32;
        let input = sine(200.0, 0.5, rate, 1.0);
        for factor in [0.7, 0.8, 1.25, 1.3] {
            let out = time_stretch(&input, rate, factor);
            let edge = rate as usize / 20;
            let levels: Vec<f64> = out[edge..out.len() - edge].chunks_exact(120).map(naive_rms).collect();
            let (lo, hi) = levels.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &l| (lo.min(l), hi.max(l)));
            assert!(lo / hi > 0.97, "factor {factor}: block RMS from {lo:.3} to {hi:.3}");
        }
    }

    #[test]
    fn buzzy_voice_keeps_its_pitch() {
        let rate = 16_000u32;
        let input = buzz(130.0, rate, 1.0);
        for factor in [0.75, 1.3] {
            let f0 = crate::f0_median(&time_stretch(&input, rate, factor), rate).unwrap();
            assert!((f0 / 130.0 - 1.0).abs() < 0.02, "factor {factor}: f0 {f0}");
        }
    }
}
