//! Criterion benches for the DSP the render and the voices stage spend their time in: mixing a
//! clip into a bed, WSOLA time stretch, TD-PSOLA pitch shift, resampling, EBU R128 loudness with
//! true peak, and the look-ahead limiter. `make bench-dsp` runs them with the dev profile (the one
//! `make build` makes, so nothing is built twice); the figures are in bench/DSP.md.
//!
//! The input is a synthetic voiced signal (a glottal buzz with a slow pitch glide) so the
//! pitch-dependent code paths do real work; 10 s at the rates the pipeline uses.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use redub_core::Audio;

/// 10 s of a 120–180 Hz glide with harmonics and a little noise, at `rate`.
fn voice(rate: u32, secs: f64) -> Vec<f32> {
    let n = (f64::from(rate) * secs) as usize;
    let mut phase = 0.0f64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 150.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.3 * t).sin();
            phase += f0 / f64::from(rate);
            let tone: f64 = (1..=12).map(|k| (2.0 * std::f64::consts::PI * k as f64 * phase).sin() / k as f64).sum();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = ((seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            (0.1 * tone + 0.005 * noise) as f32
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let secs = 10.0;
    let v24 = voice(24_000, secs);
    let v48 = voice(48_000, secs);
    let mut g = c.benchmark_group("dsp_10s");
    g.sample_size(10);

    g.bench_function("mix_into_48k", |b| {
        let mut bed = vec![0.0f32; v48.len() + 48_000];
        b.iter(|| redub_dsp::mix_into(black_box(&mut bed), black_box(&v48), 24_000, 0.7));
    });
    g.bench_function("time_stretch_1.15_24k", |b| {
        b.iter(|| redub_dsp::time_stretch(black_box(&v24), 24_000, 1.15));
    });
    let a24 = Audio::new(24_000, v24.clone());
    g.bench_function("psola_shift_1.2_24k", |b| {
        let map = redub_dsp::PitchMap::scale(1.2);
        b.iter(|| redub_dsp::shift_pitch(black_box(&a24), &map));
    });
    let a48 = Audio::new(48_000, v48.clone());
    g.bench_function("resample_48k_to_16k", |b| {
        b.iter(|| redub_dsp::resample(black_box(&a48), 16_000).map(|a| a.samples.len()));
    });
    g.bench_function("loudness_true_peak_48k_mono", |b| {
        b.iter(|| {
            let mut m = redub_dsp::LoudnessMeter::new(1, 48_000, true).map_err(|e| e.to_string())?;
            m.add(black_box(&v48)).map_err(|e| e.to_string())?;
            m.integrated().map_err(|e| e.to_string())
        });
    });
    g.bench_function("limiter_48k_mono", |b| {
        b.iter(|| {
            let mut l = redub_dsp::Limiter::new(1, 48_000, -1.6, 3, 50);
            let mut out = l.push(black_box(&v48));
            out.extend(l.finish());
            out.len()
        });
    });
    g.finish();
}

criterion_group!(dsp, benches);
criterion_main!(dsp);
