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

#[allow(unused_imports)]
pub use redub_testserver::beds::{music_bed, pink_noise};

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
