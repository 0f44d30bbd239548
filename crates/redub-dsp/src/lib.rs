//! Redub's sample math: resampling, time stretching without pitch change, levels and loudness,
//! fades, mixing, ducking envelopes, pitch (an F0 track and its statistics), pitch and formant
//! modification (TD-PSOLA), long-term spectral envelopes with a matching EQ, and voice profiles
//! for adapting a stock voice toward a source speaker, cloning references, trimmed clip
//! edges and shortened pauses inside a line. Everything here is a pure function of
//! mono `f32` samples (or a [`redub_core::Audio`]); the crate reads no files and starts no
//! processes, so the pipeline can test and reuse each step on data in memory.
//!
//! Conventions: sample rates are Hz, spans are `(start, end)` sample indices with `end`
//! exclusive, gains are linear factors unless a name says `db`.

mod envelope;
mod level;
mod limiter;
mod pauses;
mod pitch;
mod psola;
mod reference;
mod resample;
mod stretch;
mod timbre;
mod vector;
mod voice;

pub use envelope::{duck_depth, duck_envelope, fade_in_out, mix_into};
pub use level::{active_rms, db_to_gain, gain_db, gain_to_match, integrated_loudness, peak, rms, LoudnessMeter};
pub use limiter::Limiter;
pub use pauses::{pause_ms, pauses, tighten_pauses, MIN_PAUSE_MS, PAUSE_FLOOR_MS};
pub use pitch::{f0_median, f0_stats, f0_track, F0Stats, F0Track};
pub use psola::{shift_pitch, shift_pitch_with, PitchMap};
pub use reference::{prepare_reference, trim_silence, MIN_REFERENCE_MS, PADDED_REFERENCE_MS, REFERENCE_RATE};
pub use resample::resample;
pub use stretch::time_stretch;
pub use timbre::{match_envelope, Envelope};
pub use vector::cosine;
pub use voice::{adapt_voice, Adaptation, VoiceProfile};

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

    /// Formants (centre Hz, bandwidth Hz) of an open vowel like the /a/ of "father".
    pub const VOWEL_A: [(f64, f64); 3] = [(730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0)];
    /// A closed front vowel like the /i/ of "see".
    pub const VOWEL_I: [(f64, f64); 3] = [(270.0, 60.0), (2290.0, 100.0), (3010.0, 150.0)];
    /// The neutral vowel of a uniform 17 cm tube, formants well apart: easy to measure.
    pub const VOWEL_SCHWA: [(f64, f64); 3] = [(500.0, 60.0), (1500.0, 90.0), (2500.0, 120.0)];

    /// A synthetic voiced vowel of `secs`: a glottal pulse train whose F0 at time `t` (seconds)
    /// is `f0(t)`, a glottal roll-off (two one-pole low-passes), one two-pole resonator per
    /// formant, and lip radiation (a first difference). Pulses sit at fractional sample
    /// positions (split between two samples), so F0 is exact on average. Peak 0.5.
    pub fn glottal_vowel(f0: &dyn Fn(f64) -> f64, formants: &[(f64, f64)], rate: u32, secs: f64) -> Vec<f32> {
        let n = (secs * rate as f64).round() as usize;
        let fs = rate as f64;
        let mut x = vec![0.0f64; n + 1];
        let mut phase = 0.0f64;
        for i in 0..n {
            let step = f0(i as f64 / fs) / fs;
            if phase + step >= 1.0 {
                let frac = (1.0 - phase) / step; // where between i and i+1 the pulse falls
                x[i] += 1.0 - frac;
                x[i + 1] += frac;
                phase += step - 1.0;
            } else {
                phase += step;
            }
        }
        x.truncate(n);
        for _ in 0..2 {
            let mut y = 0.0;
            for v in x.iter_mut() {
                y = 0.95 * y + *v;
                *v = y;
            }
        }
        for &(f, bw) in formants {
            let r = (-PI * bw / fs).exp();
            let (a1, a2) = (2.0 * r * (2.0 * PI * f / fs).cos(), -r * r);
            let g = 1.0 - a1 - a2; // unit gain at DC keeps the levels sane
            let (mut y1, mut y2) = (0.0, 0.0);
            for v in x.iter_mut() {
                let y = g * *v + a1 * y1 + a2 * y2;
                y2 = y1;
                y1 = y;
                *v = y;
            }
        }
        let mut prev = 0.0;
        for v in x.iter_mut() {
            let d = *v - prev;
            prev = *v;
            *v = d;
        }
        let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        x.iter().map(|v| (0.5 * v / peak) as f32).collect()
    }

    /// Formant estimates: peaks in `lo..hi` Hz of an all-pole (LPC, autocorrelation method,
    /// pre-emphasis, Hamming window) envelope fitted to all of `x` after resampling to 10 kHz, order 12 (the
    /// usual five formants below 5 kHz plus tilt), strongest first. Independent of the crate's
    /// own cepstral envelope, so it can referee it.
    pub fn lpc_peaks(x: &[f32], rate: u32, lo: f64, hi: f64) -> Vec<f64> {
        let x = crate::resample(&redub_core::Audio::new(rate, x.to_vec()), 10_000).expect("resample").samples;
        let (rate, order) = (10_000u32, 12usize);
        let n = x.len();
        // Pre-emphasis flattens the voice's roll-off, so the low-order fit spends its poles on
        // the resonances rather than on the tilt.
        let w: Vec<f64> = (0..n)
            .map(|i| {
                (x[i] as f64 - 0.97 * if i > 0 { x[i - 1] as f64 } else { 0.0 })
                    * (0.54 - 0.46 * (2.0 * PI * i as f64 / (n - 1) as f64).cos())
            })
            .collect();
        let r: Vec<f64> = (0..=order).map(|k| (k..n).map(|i| w[i] * w[i - k]).sum()).collect();
        // Levinson-Durbin.
        let mut a = vec![0.0f64; order + 1];
        a[0] = 1.0;
        let mut err = r[0] * (1.0 + 1e-9);
        for i in 1..=order {
            let acc: f64 = (1..i).map(|j| a[j] * r[i - j]).sum::<f64>() + r[i];
            let k = -acc / err;
            let prev = a.clone();
            for j in 1..i {
                a[j] = prev[j] + k * prev[i - j];
            }
            a[i] = k;
            err *= 1.0 - k * k;
        }
        let env = |f: f64| {
            let wv = 2.0 * PI * f / rate as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (j, &c) in a.iter().enumerate() {
                re += c * (wv * j as f64).cos();
                im -= c * (wv * j as f64).sin();
            }
            -(re * re + im * im).ln()
        };
        let grid: Vec<(f64, f64)> =
            (0..).map(|i| lo + i as f64).take_while(|&f| f <= hi).map(|f| (f, env(f))).collect();
        let mut peaks: Vec<(f64, f64)> =
            grid.windows(3).filter(|w| w[1].1 > w[0].1 && w[1].1 >= w[2].1).map(|w| (w[1].1, w[1].0)).collect();
        peaks.sort_by(|p, q| q.0.total_cmp(&p.0));
        peaks.into_iter().map(|p| p.1).collect()
    }

    /// `n` samples of pink-ish noise (Paul Kellet's economy filter over a fixed LCG), RMS ≈ 0.1.
    pub fn pink_noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
        let raw: Vec<f64> = (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let white = ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
                b0 = 0.99765 * b0 + white * 0.0990460;
                b1 = 0.96300 * b1 + white * 0.2965164;
                b2 = 0.57000 * b2 + white * 1.0526913;
                b0 + b1 + b2 + white * 0.1848
            })
            .collect();
        let rms = (raw.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64).sqrt().max(1e-12);
        raw.iter().map(|v| (0.1 * v / rms) as f32).collect()
    }

    /// `x` through an RBJ-cookbook peaking EQ: `gain_db` at `freq` Hz with quality `q`.
    pub fn peaking(x: &[f32], rate: u32, freq: f64, gain_db: f64, q: f64) -> Vec<f32> {
        let a = 10f64.powf(gain_db / 40.0);
        let w = 2.0 * PI * freq / rate as f64;
        let alpha = w.sin() / (2.0 * q);
        let (b0, b1, b2) = (1.0 + alpha * a, -2.0 * w.cos(), 1.0 - alpha * a);
        let (a0, a1, a2) = (1.0 + alpha / a, -2.0 * w.cos(), 1.0 - alpha / a);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&v| {
                let v = v as f64;
                let y = (b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
                (x2, x1, y2, y1) = (x1, v, y1, y);
                y as f32
            })
            .collect()
    }

    /// The two-speaker speech fixture (16 kHz mono) and its reference turns as
    /// `(start_s, end_s, speaker)`.
    pub fn speech_fixture() -> (Vec<f32>, u32, Vec<(f64, f64, String)>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech-2spk");
        let mut reader = hound::WavReader::open(dir.join("sample.wav")).expect("fixture WAV");
        let spec = reader.spec();
        assert_eq!((spec.channels, spec.bits_per_sample), (1, 16));
        let samples = reader.samples::<i16>().map(|s| s.expect("sample") as f32 / 32768.0).collect();
        let rttm = std::fs::read_to_string(dir.join("sample.rttm")).expect("fixture RTTM");
        let turns = rttm
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let (start, dur): (f64, f64) = (f.get(3)?.parse().ok()?, f.get(4)?.parse().ok()?);
                Some((start, start + dur, f.get(7)?.to_string()))
            })
            .collect();
        (samples, spec.sample_rate, turns)
    }

    /// Root mean square, computed the long way in f64.
    pub fn naive_rms(x: &[f32]) -> f64 {
        if x.is_empty() {
            return 0.0;
        }
        (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }
}
