//! A speaker's typical pitch, by YIN (de Cheveigné & Kawahara 2002) on voiced frames.

/// Speech F0 range searched.
const F0_MIN: f64 = 60.0;
const F0_MAX: f64 = 400.0;
/// YIN's aperiodicity threshold: a frame is voiced when its normalised difference dips below.
const YIN_THRESHOLD: f32 = 0.15;
/// Frames more than this far below the loudest one are treated as pauses.
const GATE_DB: f64 = 40.0;
/// The estimator works at about this rate; pitch needs no more, and it keeps the cost down.
const WORK_RATE: u32 = 16_000;
/// Fewer voiced frames than this is too little to call a median.
const MIN_VOICED: usize = 3;

/// Median fundamental frequency in Hz over the voiced 10 ms frames of `samples`, searched in
/// 60–400 Hz. `None` when fewer than three frames are voiced (silence, noise, very short clips).
pub fn f0_median(samples: &[f32], rate: u32) -> Option<f32> {
    if rate == 0 {
        return None;
    }
    // Average groups of `d` samples and keep one per group: a crude low-pass that is enough to
    // avoid aliasing trouble for periodicity detection.
    let d = (rate / WORK_RATE).max(1) as usize;
    let x: Vec<f32> = samples.chunks_exact(d).map(|c| c.iter().sum::<f32>() / d as f32).collect();
    let r = rate as f64 / d as f64;

    let tau_min = ((r / F0_MAX).floor() as usize).max(2);
    let tau_max = (r / F0_MIN).ceil() as usize;
    let win = tau_max;
    let hop = ((r / 100.0).round() as usize).max(1);
    let need = win + tau_max + 2;
    if x.len() < need {
        return None;
    }
    let starts: Vec<usize> = (0..=x.len() - need).step_by(hop).collect();

    let energy = |s: usize| x[s..s + win].iter().map(|&v| v as f64 * v as f64).sum::<f64>() / win as f64;
    let energies: Vec<f64> = starts.iter().map(|&s| energy(s)).collect();
    let loudest = energies.iter().fold(0.0f64, |m, &e| m.max(e));
    let gate = (loudest * 10f64.powf(-GATE_DB / 10.0)).max(1e-8);

    let mut diff = vec![0.0f32; tau_max + 2];
    let mut cmnd = vec![1.0f32; tau_max + 2];
    let mut f0s = Vec::new();
    for (&s, &e) in starts.iter().zip(&energies) {
        if e < gate {
            continue;
        }
        // Difference function d(tau) and its cumulative-mean-normalised form d'(tau).
        let frame = &x[s..s + win + tau_max + 2];
        let mut running = 0.0f32;
        for tau in 1..tau_max + 2 {
            diff[tau] = frame[..win].iter().zip(&frame[tau..tau + win]).map(|(a, b)| (a - b) * (a - b)).sum();
            running += diff[tau];
            cmnd[tau] = if running > 0.0 { diff[tau] * tau as f32 / running } else { 1.0 };
        }
        // The first dip below the threshold, followed down to its minimum: taking the first
        // rather than the global minimum is what keeps YIN off sub-harmonics.
        let Some(mut tau) = (tau_min..=tau_max).find(|&t| cmnd[t] < YIN_THRESHOLD) else {
            continue;
        };
        while tau < tau_max && cmnd[tau + 1] < cmnd[tau] {
            tau += 1;
        }
        // Parabolic interpolation between lags for sub-sample precision.
        let (a, b, c) = (cmnd[tau - 1] as f64, cmnd[tau] as f64, cmnd[tau + 1] as f64);
        let den = a - 2.0 * b + c;
        let shift = if den.abs() > 1e-12 { ((a - c) / (2.0 * den)).clamp(-1.0, 1.0) } else { 0.0 };
        let f0 = r / (tau as f64 + shift);
        if (F0_MIN * 0.95..=F0_MAX * 1.05).contains(&f0) {
            f0s.push(f0);
        }
    }
    if f0s.len() < MIN_VOICED {
        return None;
    }
    f0s.sort_by(f64::total_cmp);
    Some(f0s[f0s.len() / 2] as f32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{buzz, sine};

    #[test]
    fn finds_the_fundamental() {
        for rate in [16_000u32, 44_100, 48_000] {
            for f0 in [85.0, 120.0, 210.0, 330.0] {
                let got = f0_median(&buzz(f0, rate, 0.5), rate).unwrap() as f64;
                assert!((got / f0 - 1.0).abs() < 0.02, "{rate} Hz, f0 {f0}: got {got:.1}");
            }
            let got = f0_median(&sine(150.0, 0.5, rate, 0.5), rate).unwrap() as f64;
            assert!((got / 150.0 - 1.0).abs() < 0.02, "{rate} Hz sine: got {got:.1}");
        }
    }

    #[test]
    fn median_ignores_pauses_and_outliers() {
        // Mostly 120 Hz with a short stretch of 250 Hz and some silence: the median is 120.
        let rate = 16_000;
        let mut x = buzz(120.0, rate, 0.6);
        x.extend(vec![0.0; 8_000]);
        x.extend(buzz(250.0, rate, 0.2));
        let got = f0_median(&x, rate).unwrap();
        assert!((got / 120.0 - 1.0).abs() < 0.02, "got {got}");
    }

    #[test]
    fn no_pitch_in_silence_noise_or_crumbs() {
        assert_eq!(f0_median(&vec![0.0; 16_000], 16_000), None);
        assert_eq!(f0_median(&buzz(120.0, 16_000, 0.02), 16_000), None);
        assert_eq!(f0_median(&[], 16_000), None);
        assert_eq!(f0_median(&[0.1; 100], 0), None);
        // White noise from a fixed linear congruential generator.
        let mut seed = 12345u64;
        let noise: Vec<f32> = (0..16_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        assert_eq!(f0_median(&noise, 16_000), None);
    }
}
