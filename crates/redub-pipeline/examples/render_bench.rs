//! The render stage on a generated long input, for `make bench`: a stereo 48 kHz bed of tones
//! (16-bit, written a block at a time) and one short tone clip every few seconds, rendered by
//! the same code as 09-render (`stages::render::render_files`, background-stem mode). Prints
//! one JSON line: length, clips, wall and CPU time and peak memory of the render alone.
//!
//! `cargo run -p redub-pipeline --example render_bench -- DIR [SECONDS] [CLIPS]`
//! (defaults: 7200 s, 1200 clips). DIR receives about 7 GB for two hours (bed, dub, stems);
//! the inputs are kept and reused when they are already there.

#![allow(clippy::unwrap_used)]

use redub_core::{Audio, Segment};
use redub_media::{WavFormat, WavSink};
use redub_pipeline::stages::render::{render_files, RenderFiles};
use redub_pipeline::usage::Meter;
use redub_pipeline::Background;
use std::path::Path;

const RATE: u32 = 48_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(std::path::PathBuf::from) else {
        eprintln!("usage: render_bench DIR [SECONDS] [CLIPS]");
        std::process::exit(2);
    };
    let secs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7200);
    let n_clips: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1200);
    std::fs::create_dir_all(dir.join("clips")).unwrap();
    let bed = dir.join(format!("bed-{secs}s.wav"));
    if !bed.is_file() {
        write_bed(&bed, secs);
    }
    let (segments, clips) = make_clips(&dir, secs, n_clips);
    let files = RenderFiles {
        mix: bed.clone(),
        reference: bed.clone(),
        background: (Background::Separate, Some(bed.clone())),
        segments,
        speakers: vec!["S1".into(), "S2".into(), "S3".into()],
        clips,
    };
    let out = dir.join("render");
    std::fs::create_dir_all(&out).unwrap();
    let meter = Meter::start();
    let report = render_files(&files, &out).unwrap();
    let usage = meter.finish();
    let line = serde_json::json!({
        "seconds": secs,
        "clips": report.lines.len(),
        "wall_ms": usage.wall_ms,
        "cpu_ms": usage.cpu_ms,
        "peak_rss_kb": usage.peak_rss_kb,
        "output_lufs": report.output_lufs,
        "output_true_peak_db": report.output_true_peak_db,
    });
    println!("{line}");
}

/// `secs` of a slowly changing three-tone chord in stereo, at about -20 dBFS.
fn write_bed(path: &Path, secs: usize) {
    let mut sink = WavSink::create(path, RATE, 2, WavFormat::I16).unwrap();
    let block = RATE as usize;
    for s in 0..secs {
        let mut frames = Vec::with_capacity(block * 2);
        for i in 0..block {
            let t = (s * block + i) as f64 / RATE as f64;
            let root = [220.0, 196.0, 174.6][(t / 7.0) as usize % 3];
            let v: f64 = [1.0, 1.26, 1.5].iter().map(|k| (std::f64::consts::TAU * root * k * t).sin()).sum::<f64>();
            let l = (0.03 * v) as f32;
            let r = (0.03 * v * (1.0 + 0.1 * (0.3 * t).sin())) as f32;
            frames.extend([l, r]);
        }
        sink.write(&frames).unwrap();
    }
    sink.finish().unwrap();
}

/// One 24 kHz tone clip every `secs / n` seconds, some longer than their slot (so the render
/// stretches them), for three speakers in turn.
fn make_clips(dir: &Path, secs: usize, n: usize) -> (Vec<Segment>, Vec<(u32, std::path::PathBuf, f32)>) {
    let spacing_ms = (secs as u64 * 1000) / n.max(1) as u64;
    let mut segments = Vec::new();
    let mut clips = Vec::new();
    for i in 0..n {
        let start_ms = i as u64 * spacing_ms + 200;
        let slot_ms = spacing_ms * 6 / 10;
        let len_ms = slot_ms * [90, 105, 120][i % 3] / 100;
        let file = dir.join("clips").join(format!("{i}-{len_ms}.wav"));
        if !file.is_file() {
            let f = 150.0 + 40.0 * (i % 3) as f32;
            let samples: Vec<f32> = (0..(len_ms as usize * 24))
                .map(|k| 0.3 * (std::f32::consts::TAU * f * k as f32 / 24_000.0).sin())
                .collect();
            redub_media::write_wav(&file, &Audio::new(24_000, samples)).unwrap();
        }
        segments.push(Segment {
            id: i as u32,
            speaker: Some(format!("S{}", i % 3 + 1)),
            start_ms,
            end_ms: start_ms + slot_ms,
            text: String::new(),
            words: vec![],
            confidence: 1.0,
            lang: "es".into(),
        });
        clips.push((i as u32, file, 1.0));
    }
    (segments, clips)
}
