//! Gain shapes over time: fades at clip edges, mixing one clip into another, and the ducking
//! envelope that lowers the original soundtrack under dubbed lines.

use redub_core::ms_to_samples;

/// Fade both ends of `samples` in place over `fade_ms` with a raised-cosine curve, so a clip cut
/// out of longer audio starts and ends at zero and does not click. If the clip is shorter than
/// two fades, each fade covers half of it.
pub fn fade_in_out(samples: &mut [f32], rate: u32, fade_ms: u64) {
    let len = samples.len();
    let n = ms_to_samples(fade_ms, rate).min(len / 2);
    for i in 0..n {
        // 0 at the very first and last sample, rising smoothly towards 1 at the fade's end.
        let g = (0.5 - 0.5 * (std::f64::consts::PI * i as f64 / n as f64).cos()) as f32;
        samples[i] *= g;
        samples[len - 1 - i] *= g;
    }
}

/// Add `src * gain` into `dst` starting at sample `offset`. Samples that would fall past the
/// end of `dst` are dropped; nothing is clamped, so the caller decides how to handle overs.
pub fn mix_into(dst: &mut [f32], src: &[f32], offset: usize, gain: f32) {
    let Some(tail) = dst.get_mut(offset..) else {
        return;
    };
    for (d, &s) in tail.iter_mut().zip(src) {
        *d += s * gain;
    }
}

/// A gain envelope of `len` samples: `duck_gain` inside each `(start, end)` span (end
/// exclusive), 1.0 far from them, with linear ramps of `ramp_ms` just outside each span so the
/// original audio dips before a dubbed line starts and recovers after it ends. Where spans or
/// their ramps overlap the lowest gain wins (the dips do not multiply). Spans may extend past
/// `len`; empty spans are ignored.
pub fn duck_envelope(len: usize, rate: u32, spans: &[(usize, usize)], duck_gain: f32, ramp_ms: u64) -> Vec<f32> {
    let ramp = ms_to_samples(ramp_ms, rate);
    // Spans past the end duck nothing, and their ramps do not reach back into the track.
    let inside: Vec<(usize, usize)> = spans.iter().filter(|s| s.0 < len).map(|&(a, b)| (a, b.min(len))).collect();
    duck_depth(&inside, 0, len, ramp).iter().map(|&d| 1.0 - d * (1.0 - duck_gain)).collect()
}

/// How far each frame of `[start, start + n)` is ducked, 0 (untouched) to 1 (at the duck
/// gain): 1 inside a span, falling linearly to 0 over `ramp` frames outside it. One block of
/// [`duck_envelope`]'s depth, so a track rendered a block at a time is ducked the same way.
pub fn duck_depth(spans: &[(usize, usize)], start: usize, n: usize, ramp: usize) -> Vec<f32> {
    let mut depth = vec![0.0f32; n];
    let end = start + n;
    for &(a, b) in spans.iter().filter(|&&(a, b)| a < b) {
        // Only the frames this span and its ramps reach.
        let from = a.saturating_sub(ramp).max(start);
        let to = (b + ramp).min(end);
        for i in from..to {
            let dist = if i < a {
                a - i
            } else if i >= b {
                i - b + 1
            } else {
                0
            };
            if dist == 0 || dist < ramp {
                let v = if dist == 0 { 1.0 } else { 1.0 - dist as f32 / ramp as f32 };
                depth[i - start] = depth[i - start].max(v);
            }
        }
    }
    depth
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::sine;

    #[test]
    fn fades_reach_zero_and_spare_the_middle() {
        let orig = vec![0.5f32; 1000];
        let mut x = orig.clone();
        fade_in_out(&mut x, 1000, 100);
        assert_eq!(x[0], 0.0);
        assert_eq!(x[999], 0.0);
        assert_eq!(&x[100..900], &orig[100..900]);
        // Rising, symmetric, and halfway at the fade's midpoint.
        assert!(x[..100].windows(2).all(|w| w[1] > w[0]));
        for i in 0..100 {
            assert!((x[i] - x[999 - i]).abs() < 1e-6);
        }
        assert!((x[50] - 0.25).abs() < 1e-3);
        assert!(x[99] > 0.49 && x[99] < 0.5);

        let s = sine(440.0, 0.9, 16_000, 0.5);
        let mut y = s.clone();
        fade_in_out(&mut y, 16_000, 10);
        assert_eq!(&y[160..y.len() - 160], &s[160..s.len() - 160]);
        assert!(y[y.len() - 1].abs() < 1e-6);
    }

    #[test]
    fn short_clips_fade_over_half_each() {
        let mut x = vec![1.0f32; 11];
        fade_in_out(&mut x, 1000, 50);
        assert_eq!(x[0], 0.0);
        assert_eq!(x[10], 0.0);
        assert_eq!(x[5], 1.0); // the odd middle sample is outside both fades
        assert!(x[..5].windows(2).all(|w| w[1] > w[0]));
        assert!(x[6..].windows(2).all(|w| w[1] < w[0]));
        let mut one = vec![1.0f32];
        fade_in_out(&mut one, 1000, 50);
        assert_eq!(one, [1.0]);
        fade_in_out(&mut [], 1000, 50);
    }

    #[test]
    fn mixing() {
        let base: Vec<f32> = (0..100).map(|i| i as f32 * 0.01).collect();
        let mut x = base.clone();
        mix_into(&mut x, &[0.0; 100], 0, 5.0);
        assert_eq!(x, base);
        mix_into(&mut x, &[1.0; 30], 80, 0.5);
        for (i, (&got, &b)) in x.iter().zip(&base).enumerate() {
            let want = if i >= 80 { b + 0.5 } else { b };
            assert_eq!(got, want, "sample {i}");
        }
        // Past the end: nothing happens, nothing panics.
        mix_into(&mut x, &[1.0; 10], 100, 1.0);
        mix_into(&mut x, &[1.0; 10], 5000, 1.0);
        assert_eq!(x.len(), 100);
        assert_eq!(x[99], base[99] + 0.5);
    }

    #[test]
    fn duck_envelope_values() {
        // 1 kHz so samples are milliseconds; 10 ms ramps.
        let env = duck_envelope(1000, 1000, &[(300, 500)], 0.25, 10);
        assert_eq!(env.len(), 1000);
        assert!(env[..=290].iter().all(|&g| g == 1.0));
        assert!(env[300..500].iter().all(|&g| g == 0.25));
        assert!(env[509..].iter().all(|&g| g == 1.0));
        // Halfway down the ramp on either side: 1 - 0.5 * 0.75.
        assert!((env[295] - 0.625).abs() < 1e-6);
        assert!((env[504] - 0.625).abs() < 1e-6);
        assert!(env[290..=300].windows(2).all(|w| w[1] < w[0]));
        assert!(env[499..=509].windows(2).all(|w| w[1] > w[0]));

        // Ramps that overlap take the lower gain instead of multiplying.
        let env = duck_envelope(100, 1000, &[(10, 20), (26, 40)], 0.5, 10);
        assert!(env.iter().all(|&g| (0.5..=1.0).contains(&g)));
        // Sample 23 is 4 past the first span (depth 0.6) and 3 before the second (depth 0.7).
        assert!((env[23] - (1.0 - 0.7 * 0.5)).abs() < 1e-6, "{}", env[23]);
        // Clamped at the end, empty and zero-ramp spans behave.
        let env = duck_envelope(50, 1000, &[(45, 500), (30, 30)], 0.0, 0);
        assert!(env[..45].iter().all(|&g| g == 1.0));
        assert!(env[45..].iter().all(|&g| g == 0.0));
        assert!(duck_envelope(0, 1000, &[(0, 10)], 0.1, 5).is_empty());
    }

    #[test]
    fn the_block_envelope_is_the_whole_envelope() {
        let spans = [(1000, 2000), (2100, 2500), (9000, 9001)];
        let whole = duck_envelope(10_000, 1000, &spans, 0.0, 150);
        for (start, n) in [(0, 10_000), (0, 777), (777, 1500), (2400, 4000), (8990, 1010)] {
            let depth = duck_depth(&spans, start, n, 150);
            for (k, d) in depth.iter().enumerate() {
                assert!((1.0 - d - whole[start + k]).abs() < 1e-6, "frame {}", start + k);
            }
        }
    }
}
