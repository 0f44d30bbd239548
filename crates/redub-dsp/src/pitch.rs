//! Pitch: a frame-wise F0 track by YIN (de Cheveigné & Kawahara 2002) with a voicing decision,
//! and the statistics a voice is matched on (median and the 10–90 % spread).
//!
//! The difference function is computed through FFT cross-correlation, so a frame costs
//! O(N log N) instead of O(N²); at 16–48 kHz a second of audio takes well under a millisecond
//! of arithmetic per frame either way, but pitch-shifting analyses every clip of a dub.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Speech F0 range searched.
const F0_MIN: f64 = 60.0;
const F0_MAX: f64 = 400.0;
/// YIN's aperiodicity threshold: a frame is voiced when its normalised difference dips below.
const YIN_THRESHOLD: f64 = 0.15;
/// Frames more than this far below the loudest one are treated as pauses.
const GATE_DB: f64 = 40.0;
/// The estimator works at about this rate; pitch needs no more, and it keeps the cost down.
const WORK_RATE: u32 = 16_000;
/// Track frames are this far apart.
const HOP_MS: f64 = 10.0;
/// Voiced stretches shorter than this many frames are dropped: a real syllable nucleus lasts
/// longer than 40 ms, while isolated "voiced" frames are mostly periodic-looking noise.
const MIN_RUN: usize = 4;
/// Inside a voiced stretch, F0 is median-filtered over this many frames, which removes single
/// octave slips without flattening intonation (5 frames = 50 ms).
const SMOOTH_FRAMES: usize = 5;
/// Fewer voiced frames than this is too little to call a median.
const MIN_VOICED: usize = 3;

/// F0 of `samples` every 10 ms, with a voicing decision per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct F0Track {
    /// Sample rate of the analysed audio.
    pub rate: u32,
    /// Frame spacing in samples of the analysed audio; frame `k` is centred on sample `k * hop`.
    pub hop: usize,
    /// F0 in Hz per frame; `None` where the frame is unvoiced or a pause.
    pub f0: Vec<Option<f32>>,
    /// Whether each frame carries sound at all (within 40 dB of the loudest frame), voiced or
    /// not; the denominator of [`F0Stats::voiced_share`].
    pub active: Vec<bool>,
}

/// What a voice's pitch is like: where it sits and how far it moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F0Stats {
    /// Median F0 over voiced frames, Hz.
    pub median_hz: f32,
    /// 10th and 90th percentiles of F0 over voiced frames, Hz: the intonation range without
    /// the odd outlier frame.
    pub p10_hz: f32,
    pub p90_hz: f32,
    /// Voiced frames as a share of the frames with sound (0–1).
    pub voiced_share: f32,
}

impl F0Stats {
    /// The 10–90 % spread in semitones; semitones because a range is heard as a ratio, so a
    /// 100 Hz and a 200 Hz voice with equally lively intonation have the same spread.
    pub fn range_semitones(&self) -> f32 {
        12.0 * (self.p90_hz / self.p10_hz).log2()
    }

    /// Signed distance in semitones from `self`'s median to `other`'s.
    pub fn semitones_to(&self, other: &F0Stats) -> f32 {
        12.0 * (other.median_hz / self.median_hz).log2()
    }
}

impl F0Track {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.f0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.f0.is_empty()
    }

    /// The voiced frames' F0 values, in order.
    pub fn voiced(&self) -> impl Iterator<Item = f32> + '_ {
        self.f0.iter().flatten().copied()
    }

    /// F0 at a (fractional) sample position: `None` when the nearest frame is unvoiced,
    /// otherwise interpolated between the two frames around it (the nearest one's value where
    /// the other is unvoiced), so marks placed from it follow glides smoothly.
    pub fn at(&self, sample: f64) -> Option<f32> {
        if self.f0.is_empty() || self.hop == 0 || sample < 0.0 {
            return None;
        }
        let pos = sample / self.hop as f64;
        let nearest = (pos.round() as usize).min(self.f0.len() - 1);
        let own = self.f0[nearest]?;
        let k0 = (pos.floor() as usize).min(self.f0.len() - 1);
        let k1 = (k0 + 1).min(self.f0.len() - 1);
        match (self.f0[k0], self.f0[k1]) {
            (Some(a), Some(b)) => {
                let w = (pos - k0 as f64).clamp(0.0, 1.0) as f32;
                Some(a + (b - a) * w)
            }
            _ => Some(own),
        }
    }

    /// Median, 10–90 % range and voiced share; `None` when fewer than three frames are voiced.
    pub fn stats(&self) -> Option<F0Stats> {
        let mut v: Vec<f32> = self.voiced().collect();
        if v.len() < MIN_VOICED {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let active = self.active.iter().filter(|&&a| a).count().max(v.len());
        Some(F0Stats {
            median_hz: percentile(&v, 0.5),
            p10_hz: percentile(&v, 0.1),
            p90_hz: percentile(&v, 0.9),
            voiced_share: v.len() as f32 / active as f32,
        })
    }
}

/// `q`-quantile of sorted, non-empty `v`, linear between order statistics.
fn percentile(v: &[f32], q: f64) -> f32 {
    let pos = q * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(v.len() - 1);
    let w = (pos - i as f64) as f32;
    v[i] + (v[j] - v[i]) * w
}

/// Median fundamental frequency in Hz over the voiced 10 ms frames of `samples`, searched in
/// 60–400 Hz. `None` when fewer than three frames are voiced (silence, noise, very short clips).
pub fn f0_median(samples: &[f32], rate: u32) -> Option<f32> {
    f0_stats(samples, rate).map(|s| s.median_hz)
}

/// [`F0Stats`] of `samples`: shorthand for `f0_track(samples, rate).stats()`.
pub fn f0_stats(samples: &[f32], rate: u32) -> Option<F0Stats> {
    f0_track(samples, rate).stats()
}

/// YIN's cumulative-mean-normalised difference d'(τ) for τ in `0..=tau_max + 1`, by FFT.
struct Yin {
    win: usize,
    tau_max: usize,
    fwd: Arc<dyn RealToComplex<f64>>,
    inv: Arc<dyn ComplexToReal<f64>>,
    buf: Vec<f64>,
    spec_a: Vec<Complex<f64>>,
    spec_b: Vec<Complex<f64>>,
    corr: Vec<f64>,
    squares: Vec<f64>,
    cmnd: Vec<f64>,
}

impl Yin {
    fn new(win: usize, tau_max: usize) -> Self {
        // Lags only go forward, so a circular correlation of this length never wraps onto them.
        let n = (win + tau_max + 2).next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        Self {
            win,
            tau_max,
            buf: vec![0.0; n],
            spec_a: fwd.make_output_vec(),
            spec_b: fwd.make_output_vec(),
            corr: vec![0.0; n],
            squares: vec![0.0; win + tau_max + 3],
            cmnd: vec![1.0; tau_max + 2],
            fwd,
            inv,
        }
    }

    /// Fills `cmnd` from `frame` (length `win + tau_max + 2`).
    fn run(&mut self, frame: &[f64]) {
        let (win, n) = (self.win, self.buf.len());
        // r(τ) = Σ_{j<win} x_j x_{j+τ} as the inverse transform of conj(A)·B.
        self.buf.fill(0.0);
        self.buf[..win].copy_from_slice(&frame[..win]);
        // The buffers have the planner's lengths, so these cannot fail.
        let _ = self.fwd.process(&mut self.buf, &mut self.spec_a);
        self.buf.fill(0.0);
        self.buf[..frame.len()].copy_from_slice(frame);
        let _ = self.fwd.process(&mut self.buf, &mut self.spec_b);
        for (a, b) in self.spec_a.iter_mut().zip(&self.spec_b) {
            *a = a.conj() * b / n as f64;
        }
        // The DC and Nyquist bins of a real signal's spectrum are real; rounding can leave a
        // trace of imaginary part, which realfft rejects.
        self.spec_a[0].im = 0.0;
        if let Some(last) = self.spec_a.last_mut() {
            last.im = 0.0;
        }
        let _ = self.inv.process(&mut self.spec_a, &mut self.corr);
        // Prefix sums of squares give both energy terms of d(τ) = e(0) + e(τ) − 2 r(τ).
        self.squares[0] = 0.0;
        for (i, &v) in frame.iter().enumerate() {
            self.squares[i + 1] = self.squares[i] + v * v;
        }
        let e0 = self.squares[win];
        let mut running = 0.0;
        self.cmnd[0] = 1.0;
        for tau in 1..self.tau_max + 2 {
            let et = self.squares[tau + win] - self.squares[tau];
            let d = (e0 + et - 2.0 * self.corr[tau]).max(0.0);
            running += d;
            self.cmnd[tau] = if running > 0.0 { d * tau as f64 / running } else { 1.0 };
        }
    }
}

/// F0 every 10 ms over `samples` (mono, `rate` Hz), searched in 60–400 Hz.
///
/// A frame is voiced when it is within 40 dB of the loudest frame and YIN's normalised
/// difference dips below 0.15; voiced stretches shorter than 40 ms are dropped and the rest are
/// median-filtered over 50 ms, which removes isolated octave slips. A zero `rate` gives an empty
/// track.
pub fn f0_track(samples: &[f32], rate: u32) -> F0Track {
    if rate == 0 || samples.is_empty() {
        return F0Track { rate, hop: 1, f0: Vec::new(), active: Vec::new() };
    }
    // Average groups of `d` samples and keep one per group: a crude low-pass that is enough to
    // avoid aliasing trouble for periodicity detection.
    let d = (rate / WORK_RATE).max(1) as usize;
    let r = rate as f64 / d as f64;
    let tau_min = ((r / F0_MAX).floor() as usize).max(2);
    let tau_max = (r / F0_MIN).ceil() as usize;
    let win = tau_max;
    let hop_work = ((r * HOP_MS / 1000.0).round() as usize).max(1);
    let hop = hop_work * d;
    let span = win + tau_max + 2;

    // Zero-pad so that frame k, which reads `span` samples, is centred on work sample k*hop_work.
    let pad = span / 2;
    let mut x = vec![0.0f64; pad];
    x.extend(samples.chunks(d).map(|c| c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64));
    x.resize(x.len() + span, 0.0);
    let frames = samples.len().div_ceil(hop);

    let energies: Vec<f64> =
        (0..frames).map(|k| x[k * hop_work..][..span].iter().map(|v| v * v).sum::<f64>() / span as f64).collect();
    let loudest = energies.iter().fold(0.0f64, |m, &e| m.max(e));
    let gate = (loudest * 10f64.powf(-GATE_DB / 10.0)).max(1e-10);
    let active: Vec<bool> = energies.iter().map(|&e| e >= gate).collect();

    let mut yin = Yin::new(win, tau_max);
    let mut f0: Vec<Option<f32>> = vec![None; frames];
    for (k, slot) in f0.iter_mut().enumerate() {
        if !active[k] {
            continue;
        }
        yin.run(&x[k * hop_work..][..span]);
        let cmnd = &yin.cmnd;
        // The first dip below the threshold, followed down to its minimum: taking the first
        // rather than the global minimum is what keeps YIN off sub-harmonics.
        let Some(mut tau) = (tau_min..=tau_max).find(|&t| cmnd[t] < YIN_THRESHOLD) else {
            continue;
        };
        while tau < tau_max && cmnd[tau + 1] < cmnd[tau] {
            tau += 1;
        }
        // Parabolic interpolation between lags for sub-sample precision.
        let (a, b, c) = (cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]);
        let den = a - 2.0 * b + c;
        let shift = if den.abs() > 1e-12 { ((a - c) / (2.0 * den)).clamp(-1.0, 1.0) } else { 0.0 };
        let hz = r / (tau as f64 + shift);
        if (F0_MIN * 0.95..=F0_MAX * 1.05).contains(&hz) {
            *slot = Some(hz as f32);
        }
    }
    clean_runs(&mut f0);
    F0Track { rate, hop, f0, active }
}

/// Drops voiced runs shorter than [`MIN_RUN`] frames and median-filters the rest within each run
/// (never across a pause, so one phrase's pitch does not leak into the next).
fn clean_runs(f0: &mut [Option<f32>]) {
    let mut k = 0;
    while k < f0.len() {
        if f0[k].is_none() {
            k += 1;
            continue;
        }
        let start = k;
        while k < f0.len() && f0[k].is_some() {
            k += 1;
        }
        let run: Vec<f32> = f0[start..k].iter().flatten().copied().collect();
        if run.len() < MIN_RUN {
            f0[start..k].fill(None);
            continue;
        }
        let half = SMOOTH_FRAMES / 2;
        for (i, slot) in f0[start..k].iter_mut().enumerate() {
            let mut w: Vec<f32> = run[i.saturating_sub(half)..(i + half + 1).min(run.len())].to_vec();
            w.sort_by(f32::total_cmp);
            *slot = Some(w[w.len() / 2]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{buzz, glottal_vowel, sine, VOWEL_A};

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
        assert!(f0_track(&noise, 16_000).voiced().count() < 3);
    }

    /// The FFT difference function equals the textbook double loop.
    #[test]
    fn fft_difference_matches_the_direct_sum() {
        let (win, tau_max) = (50, 60);
        let frame: Vec<f64> = (0..win + tau_max + 2).map(|i| ((i * 37 % 101) as f64 / 50.0 - 1.0).sin()).collect();
        let mut yin = Yin::new(win, tau_max);
        yin.run(&frame);
        let mut running = 0.0;
        for tau in 1..tau_max + 2 {
            let d: f64 = (0..win).map(|j| (frame[j] - frame[j + tau]).powi(2)).sum();
            running += d;
            let want = d * tau as f64 / running;
            assert!((yin.cmnd[tau] - want).abs() < 1e-9, "tau {tau}: {} vs {want}", yin.cmnd[tau]);
        }
    }

    #[test]
    fn track_follows_a_glide_and_marks_pauses() {
        // 0.2 s pause, 1 s vowel gliding 150 → 250 Hz, 0.2 s pause.
        let rate = 24_000u32;
        let glide = |t: f64| 150.0 + 100.0 * t;
        let mut x = vec![0.0f32; rate as usize / 5];
        x.extend(glottal_vowel(&glide, &VOWEL_A, rate, 1.0));
        x.extend(vec![0.0f32; rate as usize / 5]);
        let track = f0_track(&x, rate);
        assert_eq!(track.hop, 240);
        assert_eq!(track.len(), x.len().div_ceil(240));
        let mut checked = 0;
        for (k, f) in track.f0.iter().enumerate() {
            let t = (k * track.hop) as f64 / rate as f64;
            if !(0.25..=1.15).contains(&t) {
                if !(0.15..=1.25).contains(&t) {
                    assert!(f.is_none(), "frame {k} at {t:.2} s voiced in the pause: {f:?}");
                }
                continue;
            }
            let want = glide(t - 0.2);
            let got = f.unwrap_or_else(|| panic!("frame {k} at {t:.2} s unvoiced")) as f64;
            assert!((got / want - 1.0).abs() < 0.02, "frame {k} at {t:.2} s: {got:.1} Hz, want {want:.1}");
            checked += 1;
        }
        assert!(checked > 85, "{checked}");
        // Interpolated lookups sit between neighbouring frames.
        let at = track.at(0.7 * rate as f64).unwrap() as f64;
        assert!((at / glide(0.5) - 1.0).abs() < 0.02, "{at}");
        assert_eq!(track.at(0.05 * rate as f64), None);

        let s = track.stats().unwrap();
        assert!((s.median_hz / 200.0 - 1.0).abs() < 0.02, "{s:?}");
        assert!((s.p10_hz / 160.0 - 1.0).abs() < 0.03, "{s:?}");
        assert!((s.p90_hz / 240.0 - 1.0).abs() < 0.03, "{s:?}");
        let want_range = 12.0 * (240.0f32 / 160.0).log2();
        assert!((s.range_semitones() - want_range).abs() < 0.5, "{} vs {want_range}", s.range_semitones());
        assert!(s.voiced_share > 0.95, "{s:?}");
    }

    #[test]
    fn percentiles_and_semitones() {
        let v = [100.0f32, 200.0, 300.0, 400.0, 500.0];
        assert_eq!(percentile(&v, 0.5), 300.0);
        assert_eq!(percentile(&v, 0.1), 140.0);
        assert_eq!(percentile(&v, 0.9), 460.0);
        assert_eq!(percentile(&[7.0], 0.9), 7.0);
        let a = F0Stats { median_hz: 100.0, p10_hz: 100.0, p90_hz: 200.0, voiced_share: 1.0 };
        let b = F0Stats { median_hz: 200.0, ..a };
        assert!((a.range_semitones() - 12.0).abs() < 1e-5);
        assert!((a.semitones_to(&b) - 12.0).abs() < 1e-5);
        assert!((b.semitones_to(&a) + 12.0).abs() < 1e-5);
    }
}
