//! What the separation tests share: the model, a mix of real speech over a generated music bed,
//! and today's ducking as the baseline.
//!
//! These tests need the model `make setup` installs and fail (not skip) without it, like the
//! other model-backed tests of the workspace (`make test` runs setup first).

#![allow(dead_code, clippy::unwrap_used)]

use redub_core::{Audio, Span};
use redub_separate::DeepFilter;
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The installed model, or a failure that says how to install it.
pub fn model() -> DeepFilter {
    match DeepFilter::load(None) {
        Ok(df) => df,
        Err(e) => panic!("{e:#}\n(these tests need DeepFilterNet3: run `make setup`, or scripts/setup.sh)"),
    }
}

/// A fixture WAV resampled to `rate`, mono.
pub fn speech(rel: &str, rate: u32) -> Vec<f32> {
    let audio = redub_media::read_wav_mono(&fixtures().join(rel)).unwrap();
    redub_dsp::resample(&audio, rate).unwrap().samples
}

/// Real speech, four utterances by two speakers (three LibriVox clips of one reader, one
/// "cards" clip of another), placed with pauses between them: the speech track alone and the
/// regions (each clip's extent, as a padded VAD region would be).
pub fn speech_track(rate: u32) -> (Vec<f32>, Vec<Span>) {
    let clips = [
        "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "cards/005.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
    ];
    let gap = rate as usize * 3 / 2;
    let mut track = vec![0.0f32; rate as usize];
    let mut regions = Vec::new();
    for c in clips {
        let s = speech(c, rate);
        let start = track.len();
        track.extend_from_slice(&s);
        regions.push(Span::new(ms(start, rate), ms(track.len(), rate)));
        track.extend(std::iter::repeat_n(0.0, gap));
    }
    (track, regions)
}

pub fn ms(samples: usize, rate: u32) -> u64 {
    redub_core::samples_to_ms(samples, rate)
}

/// A music-like bed of `n` samples: sustained chords (a few partials per note) that change
/// every 3 s under slow swells, plus pink-ish noise at a quarter of the chords' level.
/// `seed` and `detune` make the channels of a stereo bed differ.
pub fn music_bed(n: usize, rate: u32, seed: u64, detune: f64) -> Vec<f32> {
    let chords: [[f64; 3]; 4] =
        [[220.0, 261.63, 329.63], [174.61, 220.0, 261.63], [196.0, 246.94, 293.66], [164.81, 207.65, 246.94]];
    let fs = rate as f64;
    let noise = pink_noise(n, seed);
    (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            let chord = &chords[(t / 3.0) as usize % chords.len()];
            // Each chord swells in and out over its 3 s (never quite to silence).
            let env = 0.35 + 0.65 * (std::f64::consts::PI * (t % 3.0) / 3.0).sin().powi(2);
            let slow = 1.0 + 0.2 * (2.0 * std::f64::consts::PI * 0.13 * t).sin();
            let tone: f64 = chord
                .iter()
                .map(|&f| {
                    let f = f * (1.0 + detune);
                    (1..=4).map(|k| (2.0 * std::f64::consts::PI * f * k as f64 * t).sin() / (k * k) as f64).sum::<f64>()
                })
                .sum();
            (0.1 * env * slow * tone + 0.25 * noise[i] as f64) as f32
        })
        .collect()
}

/// Pink-ish noise (three one-pole filters over white noise from a fixed LCG), RMS about 0.1.
pub fn pink_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    let raw: Vec<f64> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let white = ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            b0 = 0.997 * b0 + 0.03 * white;
            b1 = 0.96 * b1 + 0.15 * white;
            b2 = 0.6 * b2 + 0.5 * white;
            b0 + b1 + b2 + 0.2 * white
        })
        .collect();
    let rms = (raw.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64).sqrt().max(1e-12);
    raw.iter().map(|v| (0.1 * v / rms) as f32).collect()
}

/// RMS of the samples inside `regions`.
pub fn rms_in(x: &[f32], regions: &[Span], rate: u32) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for r in regions {
        for &v in Audio::new(rate, x.to_vec()).slice_ms(r.start_ms, r.end_ms) {
            sum += v as f64 * v as f64;
            n += 1;
        }
    }
    (sum / n.max(1) as f64).sqrt()
}

/// `bed` scaled so that its RMS is `below_db` under the speech's RMS inside the regions.
pub fn scale_under(bed: &[f32], speech: &[f32], regions: &[Span], rate: u32, below_db: f64) -> Vec<f32> {
    let want = rms_in(speech, regions, rate) * 10f64.powf(-below_db / 20.0);
    let got = rms_in(bed, regions, rate).max(1e-12);
    bed.iter().map(|&v| (v as f64 * want / got) as f32).collect()
}

/// Today's background: the mix ducked by 18 dB under the speech regions with 150 ms ramps, as
/// the render does without separation.
pub fn ducked(mix: &[f32], regions: &[Span], rate: u32) -> Vec<f32> {
    let spans: Vec<(usize, usize)> = regions
        .iter()
        .map(|r| (redub_core::ms_to_samples(r.start_ms, rate), redub_core::ms_to_samples(r.end_ms, rate)))
        .collect();
    let env = redub_dsp::duck_envelope(mix.len(), rate, &spans, redub_dsp::db_to_gain(-18.0), 150);
    mix.iter().zip(env).map(|(m, g)| m * g).collect()
}

/// The samples of `x` inside `regions`, joined.
pub fn inside(x: &[f32], regions: &[Span], rate: u32) -> Vec<f32> {
    let a = Audio::new(rate, x.to_vec());
    regions.iter().flat_map(|r| a.slice_ms(r.start_ms, r.end_ms).to_vec()).collect()
}

/// Index of the largest absolute sample.
pub fn peak_at(x: &[f32]) -> usize {
    x.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).map(|(i, _)| i).unwrap_or(0)
}
