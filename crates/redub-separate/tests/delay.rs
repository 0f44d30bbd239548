//! The model's delay, measured: how far libDF's raw output lags its input, found by
//! cross-correlation on real speech and on an impulse train, must be the `DELAY` the crate
//! compensates; and the compensated estimate must line up with its input to the sample.

#![allow(clippy::unwrap_used)]

mod support;

use redub_separate::{DELAY, RATE};
use std::time::Instant;

/// The lag in `0..max_lag` at which `out` correlates best with `inp` (out[i + lag] ~ inp[i]),
/// and the normalised correlation there.
fn best_lag(inp: &[f32], out: &[f32], max_lag: usize) -> (usize, f64) {
    let n = inp.len().min(out.len()).saturating_sub(max_lag);
    let energy = |x: &[f32]| x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt().max(1e-12);
    let mut best = (0, f64::MIN);
    for lag in 0..max_lag {
        let c: f64 = (0..n).map(|i| inp[i] as f64 * out[i + lag] as f64).sum();
        let c = c / (energy(&inp[..n]) * energy(&out[lag..lag + n]));
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

#[test]
fn raw_output_lags_by_delay_and_the_estimate_does_not() {
    let df = support::model();
    // 6 s of real speech at 48 kHz, with a little noise so that the model has work to do.
    let clean = support::speech("librivox/sense_and_sensibility_01_austen_64kb-0870.wav", RATE);
    let noise = support::pink_noise(clean.len(), 7);
    let x: Vec<f32> = clean.iter().zip(&noise).map(|(s, n)| s + 0.05 * n).take(RATE as usize * 6).collect();

    let t = Instant::now();
    let raw = df.raw_output(&x).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "raw model: {:.2} s of audio in {secs:.2} s (real-time factor {:.2}, 1 thread)",
        x.len() as f64 / 48e3,
        secs * 48e3 / x.len() as f64
    );

    let (lag, corr) = best_lag(&x, &raw, 4800);
    println!("speech: raw output lags the input by {lag} samples ({:.2} ms), correlation {corr:.3}", lag as f64 / 48.0);
    assert_eq!(lag, DELAY, "the crate compensates {DELAY} samples, the model lags {lag}");

    let est = df.speech_estimate(&x, &mut |_| Ok(())).unwrap();
    assert_eq!(est.len(), x.len());
    let (lag0, corr0) = best_lag(&x, &est, 480);
    println!("speech: compensated estimate lags by {lag0} samples, correlation {corr0:.3}");
    assert_eq!(lag0, 0);
    // And it does not lead either: the input shifted against the estimate.
    let (lead, _) = best_lag(&est, &x, 480);
    assert_eq!(lead, 0);
}

#[test]
fn an_impulse_train_shows_the_same_delay() {
    let df = support::model();
    // Clicks every 250 ms (not a multiple of the 480-sample hop), over quiet pink noise.
    let n = RATE as usize * 4;
    let mut x: Vec<f32> = support::pink_noise(n, 3).iter().map(|v| v * 0.02).collect();
    let clicks: Vec<usize> = (1..16).map(|k| k * 12_007).filter(|&i| i < n).collect();
    for &i in &clicks {
        x[i] += 0.8;
    }
    let raw = df.raw_output(&x).unwrap();
    let (lag, corr) = best_lag(&x, &raw, 4800);
    println!("impulse train: raw output lags by {lag} samples ({:.2} ms), correlation {corr:.3}", lag as f64 / 48.0);
    let est = df.speech_estimate(&x, &mut |_| Ok(())).unwrap();
    let offsets: Vec<i64> = clicks
        .iter()
        .map(|&c| {
            let (a, b) = (c.saturating_sub(2400), (c + 2400).min(est.len()));
            (a + support::peak_at(&est[a..b])) as i64 - c as i64
        })
        .collect();
    println!("impulse train: each click's peak in the compensated estimate, offset in samples: {offsets:?}");
    assert_eq!(lag, DELAY);
}
