//! Timbre: a voice's long-term spectral envelope, a distance between envelopes, an estimate of
//! the formant scaling between two voices, and a smooth EQ that moves one voice's long-term
//! spectrum toward another's.
//!
//! The envelope is the average, over voiced frames, of cepstrally smoothed log spectra: the
//! liftering removes the harmonics (the pitch), the averaging over many frames removes what
//! was said, and what remains is the speaker's vocal tract, voice quality and channel. It is
//! kept on the analysis FFT's bins and read at any frequency by interpolation, so voices
//! measured at different sample rates (16 kHz source speech, 24 kHz synthesis) compare
//! directly. Absolute level is not part of timbre: every comparison and the EQ remove the mean
//! difference in dB over the band they look at.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use redub_core::Audio;

use crate::pitch::{f0_track, F0Track};

/// Analysis frames are about this long (rounded up to a power of two): several pitch periods,
/// short enough that one frame is one sound.
const FRAME_MS: f64 = 30.0;
/// The lifter keeps quefrencies below 1.5 ms and tapers to zero at 2.5 ms, under the shortest
/// pitch period searched (400 Hz), so harmonics do not leak into the envelope.
const LIFTER_FLAT_MS: f64 = 1.5;
const LIFTER_END_MS: f64 = 2.5;
/// Frames this far below the loudest one are pauses.
const GATE_DB: f64 = 40.0;
/// With fewer voiced frames than this (noise, whispering, very short clips) the envelope is
/// taken over all frames with sound instead.
const MIN_VOICED_FRAMES: usize = 8;
/// Band compared and equalised: from 100 Hz (below it there is little voice and much hum) or
/// 1.25 × the higher of the two voices' median F0 if that is higher (below its fundamental a
/// voice has no harmonics, so the envelope there says more about pitch than timbre), up to 90 %
/// of the lower top frequency (the last 10 % is the resampler's roll-off, not the voice).
const BAND_LO_HZ: f64 = 100.0;
const BAND_LO_F0: f64 = 1.25;
const BAND_TOP: f64 = 0.9;
/// Comparisons and EQ curves are evaluated on a log-frequency grid with this many points per
/// octave, so each octave counts the same, as it does for the ear.
const POINTS_PER_OCTAVE: f64 = 24.0;
/// The EQ curve is smoothed over ±1/6 octave (a third-octave wide) and limited to ±12 dB, so it
/// corrects the balance of a voice without carving in resonances it does not have.
const SMOOTH_OCTAVES: f64 = 1.0 / 6.0;
const MAX_EQ_DB: f64 = 12.0;
/// The EQ filter is a linear-phase FIR about this long (rounded up to a power of two).
const FIR_MS: f64 = 50.0;
/// Formant scalings searched by [`Envelope::formant_ratio_to`], as a ratio either way.
const MAX_WARP: f64 = 1.25;

/// The long-term spectral envelope of a voice: dB per frequency, level included (see the
/// module doc for why level is ignored when envelopes are compared).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Spacing of `db` in Hz: `db[k]` is the level at `k * bin_hz`.
    pub bin_hz: f32,
    pub db: Vec<f32>,
    /// How many analysis frames went into the average.
    pub frames: usize,
    /// Median F0 of the measured audio, when it was voiced: below about the fundamental a voice
    /// has no envelope to speak of, so comparisons start above it.
    pub f0_hz: Option<f32>,
}

impl Envelope {
    /// The long-term envelope of `audio`: voiced frames within 40 dB of the loudest, or all
    /// frames with sound when fewer than eight are voiced. `None` for silence, an empty clip or
    /// a zero sample rate.
    pub fn measure(audio: &Audio) -> Option<Envelope> {
        Self::measure_with(audio, &f0_track(&audio.samples, audio.rate))
    }

    /// [`Envelope::measure`] with the F0 track the caller already has for `audio`.
    pub fn measure_with(audio: &Audio, track: &F0Track) -> Option<Envelope> {
        let (x, rate) = (&audio.samples, audio.rate);
        if rate == 0 || x.is_empty() || track.rate != rate {
            return None;
        }
        let n = ((rate as f64 * FRAME_MS / 1000.0) as usize).next_power_of_two().max(64);
        let hop = n / 4;
        let window: Vec<f64> =
            (0..n).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()).collect();
        let frame_at =
            |s: usize| -> Vec<f64> { (0..n).map(|i| x.get(s + i).map_or(0.0, |&v| v as f64) * window[i]).collect() };
        let starts: Vec<usize> = (0..x.len().saturating_sub(n / 2).max(1)).step_by(hop).collect();
        let energies: Vec<f64> = starts.iter().map(|&s| frame_at(s).iter().map(|v| v * v).sum()).collect();
        let loudest = energies.iter().fold(0.0f64, |m, &e| m.max(e));
        if loudest <= 1e-12 {
            return None;
        }
        let gate = loudest * 10f64.powf(-GATE_DB / 10.0);
        let f0_hz = track.stats().map(|s| s.median_hz);
        // F0 of the track frame nearest a frame's centre, if voiced.
        let f0_of = |s: usize| {
            let k = ((s + n / 2) as f64 / track.hop.max(1) as f64).round() as usize;
            track.f0.get(k).copied().flatten()
        };
        let loud: Vec<usize> = starts.iter().zip(&energies).filter(|(_, &e)| e >= gate).map(|(&s, _)| s).collect();
        let mut chosen: Vec<(usize, Option<f32>)> =
            loud.iter().filter_map(|&s| f0_of(s).map(|f| (s, Some(f)))).collect();
        if chosen.len() < MIN_VOICED_FRAMES {
            chosen = loud.iter().map(|&s| (s, None)).collect();
        }

        let mut cep = Cepstrum::new(n, rate);
        // A floor 100 dB under the loudest frame's mean bin power keeps silent bins finite.
        let floor = loudest / n as f64 * 1e-10;
        let bin_hz = rate as f64 / n as f64;
        let mut sum = vec![0.0f64; n / 2 + 1];
        for &(s, f0) in &chosen {
            let reach = f0.map_or(0, |f| (0.5 * f as f64 / bin_hz).round() as usize);
            for (acc, v) in sum.iter_mut().zip(cep.smoothed_db(&frame_at(s), floor, reach)) {
                *acc += v;
            }
        }
        let frames = chosen.len();
        Some(Envelope {
            bin_hz: rate as f32 / n as f32,
            db: sum.iter().map(|&v| (v / frames as f64) as f32).collect(),
            frames,
            f0_hz,
        })
    }

    /// This envelope with its frequency axis scaled by `ratio` (what [`crate::shift_pitch`]
    /// does to a voice with `formants: ratio`), and its F0 set to `f0_hz`: the envelope a voice
    /// will have after being adapted, without measuring it again.
    pub fn warped(&self, ratio: f32, f0_hz: Option<f32>) -> Envelope {
        let ratio = if ratio.is_finite() && ratio > 0.0 { ratio as f64 } else { 1.0 };
        let db = (0..self.db.len()).map(|k| self.db_at(k as f64 * self.bin_hz as f64 / ratio) as f32).collect();
        Envelope { bin_hz: self.bin_hz, db, frames: self.frames, f0_hz }
    }

    /// Highest frequency the envelope covers (the Nyquist frequency of its analysis).
    pub fn max_hz(&self) -> f32 {
        self.bin_hz * self.db.len().saturating_sub(1) as f32
    }

    /// Level in dB at `hz`, linear between bins, held at the ends.
    pub fn db_at(&self, hz: f64) -> f64 {
        if self.db.is_empty() {
            return 0.0;
        }
        let pos = (hz / self.bin_hz as f64).max(0.0);
        let k = (pos.floor() as usize).min(self.db.len() - 1);
        let next = (k + 1).min(self.db.len() - 1);
        let w = pos - k as f64;
        self.db[k] as f64 + (self.db[next] as f64 - self.db[k] as f64) * w.min(1.0)
    }

    /// The band two envelopes are compared over (see [`BAND_LO_HZ`]).
    fn band(&self, other: &Envelope) -> (f64, f64) {
        let f0 = self.f0_hz.unwrap_or(0.0).max(other.f0_hz.unwrap_or(0.0)) as f64;
        (BAND_LO_HZ.max(BAND_LO_F0 * f0), BAND_TOP * self.max_hz().min(other.max_hz()) as f64)
    }

    /// Log-spectral distance to `other` in dB: the RMS difference over the band both cover
    /// (above the fundamentals, below 90 % of the lower top frequency), on a log-frequency
    /// grid, after removing the mean difference (level). 0 for identical shapes; a few dB
    /// separates different voices.
    pub fn distance_db(&self, other: &Envelope) -> f32 {
        let (lo, hi) = self.band(other);
        let grid = log_grid(lo, hi);
        let diff: Vec<f64> = grid.iter().map(|&f| self.db_at(f) - other.db_at(f)).collect();
        rms_about_mean(&diff) as f32
    }

    /// The formant scaling that best turns `self` into `other`: the `a` (0.8–1.25) for which
    /// `self` read at `f / a` looks most like `other` at `f`, both with level and overall tilt
    /// removed (the EQ handles tilt). Above 1 `other` has higher formants (a shorter vocal
    /// tract); pass it to [`crate::PitchMap::formants`]. A rough, long-term estimate: it says
    /// which way and about how far, not a precise vocal-tract length.
    pub fn formant_ratio_to(&self, other: &Envelope) -> f32 {
        let (lo, hi) = self.band(other);
        let grid = log_grid(lo * MAX_WARP, hi / MAX_WARP);
        let target = detrend(&grid, &grid.iter().map(|&f| other.db_at(f)).collect::<Vec<_>>());
        let steps = 100;
        let (mut best, mut best_a) = (f64::MAX, 1.0);
        for s in -steps..=steps {
            let a = MAX_WARP.powf(s as f64 / steps as f64);
            let warped = detrend(&grid, &grid.iter().map(|&f| self.db_at(f / a)).collect::<Vec<_>>());
            let cost: f64 = warped.iter().zip(&target).map(|(p, q)| (p - q) * (p - q)).sum();
            if cost < best {
                (best, best_a) = (cost, a);
            }
        }
        best_a as f32
    }
}

/// Real cepstrum smoothing of one frame's spectrum.
struct Cepstrum {
    fwd: Arc<dyn RealToComplex<f64>>,
    inv: Arc<dyn ComplexToReal<f64>>,
    lifter: Vec<f64>,
}

impl Cepstrum {
    fn new(n: usize, rate: u32) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let q = |ms: f64| rate as f64 * ms / 1000.0;
        let (flat, end) = (q(LIFTER_FLAT_MS), q(LIFTER_END_MS).min(n as f64 / 2.0));
        // Symmetric in quefrency (the cepstrum of a real log spectrum is even).
        let lifter = (0..n)
            .map(|i| {
                let k = i.min(n - i) as f64;
                if k <= flat {
                    1.0
                } else if k >= end {
                    0.0
                } else {
                    0.5 + 0.5 * (std::f64::consts::PI * (k - flat) / (end - flat)).cos()
                }
            })
            .collect();
        Self { fwd: planner.plan_fft_forward(n), inv: planner.plan_fft_inverse(n), lifter }
    }

    /// The cepstrally smoothed power spectrum of `frame` in dB, bins 0..=n/2. With `reach` > 0
    /// (half the F0 in bins, for a voiced frame) each bin first takes the largest log power
    /// within `reach` bins, so the smoothing runs through the harmonic peaks instead of
    /// averaging them with the valleys between them: plain cepstral smoothing of a voiced frame
    /// sits lower the sparser the harmonics are, which made the same vocal tract measure about
    /// 10 dB apart at 110 and 220 Hz (an F0-dependent tilt once the level is removed).
    fn smoothed_db(&mut self, frame: &[f64], floor: f64, reach: usize) -> Vec<f64> {
        let n = frame.len();
        let mut buf = frame.to_vec();
        let mut spec = self.fwd.make_output_vec();
        // Buffers come from the plans, so the transforms cannot fail on length.
        let _ = self.fwd.process(&mut buf, &mut spec);
        let raw: Vec<f64> = spec.iter().map(|c| (c.norm_sqr() + floor).ln()).collect();
        let mut log: Vec<Complex<f64>> = (0..raw.len())
            .map(|k| {
                let window = &raw[k.saturating_sub(reach)..(k + reach + 1).min(raw.len())];
                Complex::new(window.iter().fold(f64::MIN, |m, &v| m.max(v)), 0.0)
            })
            .collect();
        let _ = self.inv.process(&mut log, &mut buf);
        for (c, &w) in buf.iter_mut().zip(&self.lifter) {
            *c *= w / n as f64;
        }
        let _ = self.fwd.process(&mut buf, &mut spec);
        spec.iter().map(|c| c.re * 10.0 / std::f64::consts::LN_10).collect()
    }
}

/// `audio` through a smooth, level-neutral, linear-phase EQ that moves its long-term spectrum
/// from `from` (the envelope of this voice, measured with [`Envelope::measure`]) toward `to`:
/// gain `strength × (to − from)` in dB (0 leaves the audio unchanged, 1 goes all the way),
/// with the mean over the band removed, smoothed over a third of an octave, limited to ±12 dB,
/// and faded to 0 dB outside the band both envelopes describe (from 100 Hz or 1.25 × the
/// higher median F0, to 90 % of the lower top frequency). Same length and timing as the input:
/// the filter's delay is taken out.
pub fn match_envelope(audio: &Audio, from: &Envelope, to: &Envelope, strength: f32) -> Audio {
    let (x, rate) = (&audio.samples, audio.rate);
    let strength = if strength.is_finite() { strength.clamp(0.0, 1.0) as f64 } else { 0.0 };
    if strength == 0.0 || x.is_empty() || rate == 0 || from.db.is_empty() || to.db.is_empty() {
        return audio.clone();
    }
    let nyquist = rate as f64 / 2.0;
    let (lo, hi) = from.band(to);
    let hi = hi.min(BAND_TOP * nyquist);
    if hi <= lo * 2.0 {
        return audio.clone();
    }
    let curve = eq_curve(from, to, strength, lo, hi, nyquist);

    // Frequency sampling → zero-phase impulse response → centred and windowed: linear phase,
    // delay n/2.
    let n = ((rate as f64 * FIR_MS / 1000.0) as usize).next_power_of_two().max(64);
    let mut planner = RealFftPlanner::<f64>::new();
    let mut spec: Vec<Complex<f64>> = (0..=n / 2)
        .map(|k| Complex::new(10f64.powf(curve.at(k as f64 * rate as f64 / n as f64) / 20.0), 0.0))
        .collect();
    let mut h = vec![0.0f64; n];
    let _ = planner.plan_fft_inverse(n).process(&mut spec, &mut h);
    let fir: Vec<f64> = (0..n)
        .map(|m| {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * m as f64 / n as f64).cos();
            h[(m + n / 2) % n] / n as f64 * w
        })
        .collect();

    let y = convolve(x, &fir, &mut planner);
    Audio::new(rate, y[n / 2..n / 2 + x.len()].iter().map(|&v| v as f32).collect())
}

/// Linear convolution of `x` with `h` by one large FFT (O(n log n)).
fn convolve(x: &[f32], h: &[f64], planner: &mut RealFftPlanner<f64>) -> Vec<f64> {
    let len = (x.len() + h.len()).next_power_of_two();
    let fwd = planner.plan_fft_forward(len);
    let inv = planner.plan_fft_inverse(len);
    let mut a = vec![0.0f64; len];
    for (d, &s) in a.iter_mut().zip(x) {
        *d = s as f64;
    }
    let mut b = vec![0.0f64; len];
    b[..h.len()].copy_from_slice(h);
    let (mut sa, mut sb) = (fwd.make_output_vec(), fwd.make_output_vec());
    let _ = fwd.process(&mut a, &mut sa);
    let _ = fwd.process(&mut b, &mut sb);
    for (p, q) in sa.iter_mut().zip(&sb) {
        *p = *p * q / len as f64;
    }
    sa[0].im = 0.0;
    if let Some(last) = sa.last_mut() {
        last.im = 0.0;
    }
    let _ = inv.process(&mut sa, &mut a);
    a
}

/// An EQ gain curve in dB on a log-frequency grid.
struct Curve {
    hz: Vec<f64>,
    db: Vec<f64>,
}

impl Curve {
    /// Gain at `hz`, linear in log frequency between grid points, 0 dB beyond the grid.
    fn at(&self, hz: f64) -> f64 {
        let (Some(&lo), Some(&hi)) = (self.hz.first(), self.hz.last()) else {
            return 0.0;
        };
        if hz <= lo || hz >= hi {
            return 0.0;
        }
        let pos = (hz / lo).log2() * POINTS_PER_OCTAVE;
        let k = (pos.floor() as usize).min(self.db.len() - 2);
        let w = pos - k as f64;
        self.db[k] + (self.db[k + 1] - self.db[k]) * w
    }
}

/// The EQ gain: `strength × (to − from)` over `lo..hi` with its mean removed, held at the band
/// edges and faded to 0 dB an octave below and half an octave above, smoothed, then limited.
fn eq_curve(from: &Envelope, to: &Envelope, strength: f64, lo: f64, hi: f64, nyquist: f64) -> Curve {
    let hz = log_grid(lo / 2.0, (hi * 2f64.sqrt()).min(nyquist));
    let band: Vec<f64> = hz.iter().filter(|&&f| (lo..=hi).contains(&f)).map(|&f| to.db_at(f) - from.db_at(f)).collect();
    let mean = band.iter().sum::<f64>() / band.len().max(1) as f64;
    let raw = |f: f64| to.db_at(f) - from.db_at(f) - mean;
    let (edge_lo, edge_hi) = (raw(lo), raw(hi));
    let top = (hi * 2f64.sqrt()).min(nyquist);
    let shaped: Vec<f64> = hz
        .iter()
        .map(|&f| {
            if f < lo {
                edge_lo * (f / (lo / 2.0)).log2().clamp(0.0, 1.0)
            } else if f > hi {
                edge_hi * ((top / f).log2() / (top / hi).log2()).clamp(0.0, 1.0)
            } else {
                raw(f)
            }
        })
        .collect();
    // Hann-weighted moving average over ±SMOOTH_OCTAVES.
    let reach = (SMOOTH_OCTAVES * POINTS_PER_OCTAVE).round() as isize;
    let kernel: Vec<f64> =
        (-reach..=reach).map(|k| 0.5 + 0.5 * (std::f64::consts::PI * k as f64 / (reach + 1) as f64).cos()).collect();
    let db = (0..shaped.len() as isize)
        .map(|i| {
            let (mut s, mut w) = (0.0, 0.0);
            for (j, &kw) in (-reach..=reach).zip(&kernel) {
                if let Some(&v) = shaped.get((i + j) as usize).filter(|_| i + j >= 0) {
                    s += v * kw;
                    w += kw;
                }
            }
            (strength * s / w).clamp(-MAX_EQ_DB, MAX_EQ_DB)
        })
        .collect();
    Curve { hz, db }
}

/// Frequencies from `lo` to at most `hi`, `POINTS_PER_OCTAVE` to the octave.
fn log_grid(lo: f64, hi: f64) -> Vec<f64> {
    (0..).map(|k| lo * 2f64.powf(k as f64 / POINTS_PER_OCTAVE)).take_while(|&f| f <= hi).collect()
}

fn rms_about_mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / v.len() as f64).sqrt()
}

/// `v` (sampled at `hz`) minus its least-squares line in log frequency.
fn detrend(hz: &[f64], v: &[f64]) -> Vec<f64> {
    let n = v.len().max(1) as f64;
    let xs: Vec<f64> = hz.iter().map(|f| f.log2()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, v.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let sxy: f64 = xs.iter().zip(v).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    xs.iter().zip(v).map(|(x, y)| y - my - slope * (x - mx)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{glottal_vowel, peaking, pink_noise, snr_db, VOWEL_A, VOWEL_I, VOWEL_SCHWA};

    /// Filter A: warm (low-mid boost, highs down); filter B: bright and nasal-ish.
    fn filter_a(x: &[f32], rate: u32) -> Vec<f32> {
        peaking(&peaking(x, rate, 500.0, 9.0, 1.0), rate, 4000.0, -8.0, 0.7)
    }
    fn filter_b(x: &[f32], rate: u32) -> Vec<f32> {
        peaking(&peaking(x, rate, 2500.0, 9.0, 1.2), rate, 250.0, -6.0, 0.8)
    }

    #[test]
    fn noise_through_a_is_matched_toward_b() {
        for rate in [16_000u32, 24_000, 48_000] {
            let n = 3 * rate as usize;
            let a = Audio::new(rate, filter_a(&pink_noise(n, 1), rate));
            let b = Audio::new(rate, filter_b(&pink_noise(n, 2), rate));
            let (ea, eb) = (Envelope::measure(&a).unwrap(), Envelope::measure(&b).unwrap());
            let before = ea.distance_db(&eb);
            let mut last = before;
            for strength in [0.5f32, 1.0] {
                let m = match_envelope(&a, &ea, &eb, strength);
                assert_eq!(m.samples.len(), a.samples.len());
                let em = Envelope::measure(&m).unwrap();
                let (to_b, to_a) = (em.distance_db(&eb), em.distance_db(&ea));
                println!(
                    "{rate} Hz, strength {strength}: A–B {before:.2} dB; matched–B {to_b:.2} dB, matched–A {to_a:.2} dB"
                );
                assert!(to_b < last, "{rate}/{strength}: {to_b} not below {last}");
                last = to_b;
                if strength == 1.0 {
                    assert!(to_b < 0.25 * before, "{rate}: matched–B {to_b:.2} vs A–B {before:.2}");
                    assert!(to_a > 3.0 * to_b, "{rate}: matched–A {to_a:.2}, matched–B {to_b:.2}");
                }
            }
            // Level-neutral: the EQ moves balance, not loudness (within a dB).
            let m = match_envelope(&a, &ea, &eb, 1.0);
            let gain = crate::gain_db(crate::rms(&a.samples), crate::rms(&m.samples));
            assert!(gain.abs() < 1.5, "{rate}: level changed by {gain:.2} dB");
        }
    }

    #[test]
    fn eq_is_limited_smooth_linear_phase_and_neutral_at_zero() {
        let rate = 24_000u32;
        let noise = Audio::new(rate, pink_noise(rate as usize, 3));
        let flat = Envelope::measure(&noise).unwrap();
        // A target with a 40 dB spike at 1 kHz: the EQ may go no further than +12 dB.
        let mut spiky = flat.clone();
        for (k, v) in spiky.db.iter_mut().enumerate() {
            let f = k as f32 * spiky.bin_hz;
            if (900.0..1100.0).contains(&f) {
                *v += 40.0;
            }
        }
        // The impulse response, read straight off an impulse.
        let mut imp = vec![0.0f32; 8192];
        imp[4096] = 1.0;
        let out = match_envelope(&Audio::new(rate, imp.clone()), &flat, &spiky, 1.0).samples;
        // Linear phase: symmetric about the impulse (the delay is compensated).
        for d in 1..1000 {
            assert!((out[4096 + d] - out[4096 - d]).abs() < 1e-6, "asymmetric at ±{d}");
        }
        let gains = naive_gains_db(&out, rate, &[250.0, 1000.0, 4000.0, 8000.0]);
        println!("spike target: gains at 250/1k/4k/8k Hz {gains:.2?} dB");
        assert!(gains[1] <= MAX_EQ_DB + 0.5 && gains[1] > 6.0, "{gains:?}");
        assert!(gains.iter().all(|g| g.abs() <= MAX_EQ_DB + 0.5), "{gains:?}");
        // Strength 0, or matching an envelope to itself, changes nothing.
        assert_eq!(match_envelope(&noise, &flat, &spiky, 0.0), noise);
        let same = match_envelope(&noise, &flat, &flat, 1.0);
        let snr = snr_db(&same.samples, &noise.samples);
        assert!(snr > 80.0, "self-match SNR {snr:.1} dB");
        // Degenerate input.
        assert!(match_envelope(&Audio::new(rate, vec![]), &flat, &spiky, 1.0).samples.is_empty());
        assert!(Envelope::measure(&Audio::new(rate, vec![0.0; 4000])).is_none());
        assert!(Envelope::measure(&Audio::new(0, vec![0.1; 4000])).is_none());
    }

    /// Gain in dB of impulse response `h` at each frequency, by a naive DFT.
    fn naive_gains_db(h: &[f32], rate: u32, freqs: &[f64]) -> Vec<f64> {
        freqs
            .iter()
            .map(|&f| {
                let w = std::f64::consts::TAU * f / rate as f64;
                let (mut re, mut im) = (0.0, 0.0);
                for (i, &v) in h.iter().enumerate() {
                    re += v as f64 * (w * i as f64).cos();
                    im -= v as f64 * (w * i as f64).sin();
                }
                10.0 * (re * re + im * im).log10()
            })
            .collect()
    }

    /// A few seconds of "speech": vowels in turn, F0 gliding, formants scaled by `formants`.
    /// Each vowel gets a fourth and fifth formant so the spectrum stays up to 5 kHz like a
    /// real voice's, and the whole has a noise floor 50 dB down, as any recording does (without
    /// it the synthetic spectrum falls 100 dB by 7 kHz, far below anything a microphone
    /// gives, and the comparison would be about rounding noise up there).
    fn vowels(rate: u32, f0: f64, formants: f64) -> Vec<f32> {
        let mut x = Vec::new();
        for (i, v) in [VOWEL_A, VOWEL_I, VOWEL_SCHWA, VOWEL_I, VOWEL_A, VOWEL_SCHWA].iter().enumerate() {
            let scaled: Vec<(f64, f64)> = v
                .iter()
                .chain(&[(3500.0, 250.0), (4500.0, 300.0)])
                .map(|&(f, b)| (f * formants, b * formants))
                .collect();
            let base = f0 * (1.0 + 0.05 * i as f64);
            x.extend(glottal_vowel(&|t| base * (1.0 + 0.1 * t), &scaled, rate, 0.4));
            x.extend(vec![0.0f32; rate as usize / 20]);
        }
        let noise = pink_noise(x.len(), 7);
        let scale = crate::rms(&x) / crate::rms(&noise) * 10f32.powf(-50.0 / 20.0);
        x.iter().zip(&noise).map(|(&v, &n)| v + n * scale).collect()
    }

    #[test]
    fn envelope_ignores_pitch_and_sees_formants() {
        let rate = 24_000u32;
        let low = Envelope::measure(&Audio::new(rate, vowels(rate, 110.0, 1.0))).unwrap();
        let high = Envelope::measure(&Audio::new(rate, vowels(rate, 220.0, 1.0))).unwrap();
        let shorter = Envelope::measure(&Audio::new(rate, vowels(rate, 110.0, 1.15))).unwrap();
        // The same vocal tract at another pitch is near; another vocal tract is far.
        let (same, other) = (low.distance_db(&high), low.distance_db(&shorter));

        println!("envelope distance: same vowels an octave apart {same:.2} dB, formants ×1.15 {other:.2} dB");
        assert!(same < 0.5 * other, "{same} vs {other}");
        let warp = low.formant_ratio_to(&shorter);
        let back = shorter.formant_ratio_to(&low);
        let across = high.formant_ratio_to(&shorter);
        println!("formant ratio: ×1.15 found as {warp:.3}, back {back:.3}, across an octave {across:.3}");
        assert!((warp / 1.15 - 1.0).abs() < 0.03, "{warp}");
        assert!((back * 1.15 - 1.0).abs() < 0.03, "{back}");
        assert!((across / 1.15 - 1.0).abs() < 0.04, "{across}");
        assert!((low.formant_ratio_to(&high) - 1.0).abs() < 0.03);
        // Same envelope across sample rates.
        let at16 = Envelope::measure(&Audio::new(16_000, vowels(16_000, 110.0, 1.0))).unwrap();
        let across_rates = at16.distance_db(&low);
        println!("same voice at 16 and 24 kHz: {across_rates:.2} dB");
        assert!(across_rates < 0.5 * other, "{across_rates}");
    }
}
