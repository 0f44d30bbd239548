//! Speed of separation on this machine (a measurement, not a test): model load, one model
//! state, and the real-time factor of `separate` on the tests' mix with 1 and 2 threads, the
//! best of three runs each. `cargo run --release -p redub-separate --example rtf`
//! (the workspace's dev profile is optimised too). Needs `make setup`.

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use redub_core::{Audio, Ctx};
use redub_separate::{DeepFilter, SeparateSettings};
use std::time::Instant;

/// CPU seconds this process has used (user + system), from /proc/self/stat: with wall time it
/// shows whether two threads really ran at once (another process may hold a core).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    // Fields 14 and 15 of the line (utime, stime, clock ticks of 1/100 s); field 3 follows ')'.
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn main() {
    let t = Instant::now();
    let df = DeepFilter::load(None).unwrap();
    println!("load (library, model check, one state): {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    df.raw_output(&[0.0; 480]).unwrap();
    println!("one fresh model state and one frame: {:.3} s", t.elapsed().as_secs_f64());

    let rate = 48_000;
    let (speech, regions) = support::speech_track(rate);
    let bed = support::scale_under(&support::music_bed(speech.len(), rate, 11, 0.0), &speech, &regions, rate, 12.0);
    let mix = Audio::new(rate, speech.iter().zip(&bed).map(|(s, b)| s + b).collect());
    let secs = mix.samples.len() as f64 / rate as f64;
    let s = SeparateSettings::default();
    let (len, before, after) =
        (mix.samples.len(), redub_core::ms_to_samples(s.preroll_ms, rate), redub_core::ms_to_samples(100, rate));
    let heard: f64 = redub_separate::widened_regions(&regions, s.margin_ms, rate, len)
        .iter()
        .map(|&(a, b)| ((b + after).min(len) - a.saturating_sub(before)) as f64 / rate as f64)
        .sum();
    println!("mix {secs:.1} s, {} regions, the model hears {heard:.1} s", regions.len());
    for threads in [1, 2] {
        let settings = SeparateSettings { threads, ..Default::default() };
        let (best, cpu) = (0..3)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_secs());
                df.separate(&mix, &regions, &settings, &Ctx::quiet()).unwrap();
                (t.elapsed().as_secs_f64(), cpu_secs() - c)
            })
            .fold((f64::MAX, 0.0), |a, b| if b.0 < a.0 { b } else { a });
        println!(
            "{threads} thread(s): {best:.2} s ({cpu:.2} CPU s), real-time factor {:.3} of the mix, {:.3} of the audio the model hears",
            best / secs,
            best / heard
        );
    }
    // The model alone on one long signal (no regions, no resampling): 20 s of the mix.
    let x = &mix.samples[..rate as usize * 20];
    let t = Instant::now();
    df.raw_output(x).unwrap();
    println!(
        "model alone, 20 s in one state: {:.2} s (real-time factor {:.3})",
        t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64() / 20.0
    );
}
