//! Redub's sample math: resampling, time stretching without pitch change, levels and loudness,
//! fades, mixing, ducking envelopes and a pitch estimate. Everything here is a pure function of
//! mono `f32` samples (or a [`redub_core::Audio`]); the crate reads no files and starts no
//! processes, so the pipeline can test and reuse each step on data in memory.
//!
//! Conventions: sample rates are Hz, spans are `(start, end)` sample indices with `end`
//! exclusive, gains are linear factors unless a name says `db`.

mod envelope;
mod level;
mod pitch;
mod resample;
mod stretch;

pub use envelope::{duck_envelope, fade_in_out, mix_into};
pub use level::{active_rms, db_to_gain, gain_db, gain_to_match, integrated_loudness, peak, rms};
pub use pitch::f0_median;
pub use resample::resample;
pub use stretch::time_stretch;

/// Naive helpers shared by the unit tests: slow, obviously-correct references.
#[cfg(test)]
pub(crate) mod testutil {
    use std::f64::consts::PI;

    /// `secs` of a sine of `freq` Hz and amplitude `amp` at `rate`, computed in f64.
    pub fn sine(freq: f64, amp: f64, rate: u32, secs: f64) -> Vec<f32> {
        let n = (secs * rate as f64).round() as usize;
        (0..n).map(|i| (amp * (2.0 * PI * freq * i as f64 / rate as f64).sin()) as f32).collect()
    }

    /// Signal-to-noise ratio in dB of `got` against `want` (same length).
    pub fn snr_db(got: &[f32], want: &[f32]) -> f64 {
        assert_eq!(got.len(), want.len());
        let sig: f64 = want.iter().map(|&w| (w as f64).powi(2)).sum();
        let err: f64 = got.iter().zip(want).map(|(&g, &w)| (g as f64 - w as f64).powi(2)).sum();
        10.0 * (sig / err.max(1e-30)).log10()
    }

    /// Frequency in Hz of the strongest bin of a naive DFT between `lo` and `hi` Hz, scanned in
    /// `step` Hz steps.
    pub fn dominant_freq(x: &[f32], rate: u32, lo: f64, hi: f64, step: f64) -> f64 {
        let mut best = (0.0, lo);
        let mut f = lo;
        while f <= hi {
            let w = 2.0 * PI * f / rate as f64;
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (i, &s) in x.iter().enumerate() {
                re += s as f64 * (w * i as f64).cos();
                im -= s as f64 * (w * i as f64).sin();
            }
            let p = re * re + im * im;
            if p > best.0 {
                best = (p, f);
            }
            f += step;
        }
        best.1
    }

    /// A buzzy voice-like tone: the first 20 harmonics of `f0` at 1/k amplitude.
    pub fn buzz(f0: f64, rate: u32, secs: f64) -> Vec<f32> {
        let n = (secs * rate as f64) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / rate as f64;
                (0.3 * (1..=20).map(|k| (2.0 * PI * k as f64 * f0 * t).sin() / k as f64).sum::<f64>()) as f32
            })
            .collect()
    }

    /// Root mean square, computed the long way in f64.
    pub fn naive_rms(x: &[f32]) -> f64 {
        if x.is_empty() {
            return 0.0;
        }
        (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }
}
