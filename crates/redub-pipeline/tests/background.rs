//! The background under the dub (issue 12): real speech from the fixtures, each utterance at
//! its own gain, over a stereo music-like bed 12 dB under it, in a lossless input; dubbed with
//! `--background separate`, `duck` and `drop` (stand-in transcript, translation and tone
//! voices; real DeepFilterNet3). Measured on the rendered track against the true stems:
//!
//! - how much of the original speech is left in the output, relative to the output's gain on
//!   the background where nobody speaks (least-squares projection onto the true speech);
//! - the background's gain under the dubbed lines against that gain elsewhere.

#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

mod support;

use redub_core::Span;
use redub_pipeline::{dub, Background, DubRequest, EventSink};
use std::path::Path;
use support::StandIns;

const RATE: u32 = 48_000;

fn fixture(rel: &str) -> Vec<f32> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(rel);
    let a = redub_media::read_wav_mono(&p).unwrap();
    redub_dsp::resample(&a, RATE).unwrap().samples
}

/// Speech (mono, centred), the stereo bed, and the speech regions in ms.
fn content() -> (Vec<f32>, [Vec<f32>; 2], Vec<Span>) {
    // Two readers, several takes, each at its own level, with pauses of 0.8-2.5 s.
    let takes = [
        ("librivox/sense_and_sensibility_01_austen_64kb-0870.wav", 0.0, 1.0),
        ("cards/002.wav", -4.0, 0.8),
        ("librivox/sense_and_sensibility_01_austen_64kb-0880.wav", 3.0, 2.5),
        ("cards/004.wav", -2.0, 1.2),
        ("librivox/sense_and_sensibility_01_austen_64kb-0920.wav", -5.0, 1.0),
    ];
    let mut speech = vec![0.0f32; RATE as usize * 3 / 2];
    let mut regions = Vec::new();
    for (file, gain_db, pause_s) in takes {
        let g = redub_dsp::db_to_gain(gain_db);
        let start = speech.len();
        speech.extend(fixture(file).iter().map(|x| x * g));
        regions.push(Span::new(ms(start), ms(speech.len())));
        speech.extend(std::iter::repeat_n(0.0, (pause_s * RATE as f64) as usize));
    }
    let n = speech.len();
    let left = redub_testserver::beds::music_bed(n, RATE, 7, 0.0);
    let right = redub_testserver::beds::music_bed(n, RATE, 11, 0.003);
    // The bed 12 dB under the speech (RMS inside the speech).
    let rms = |x: &[f32]| -> f64 {
        let (s, c) = regions.iter().fold((0.0, 0usize), |(s, c), r| {
            let a = redub_core::ms_to_samples(r.start_ms, RATE);
            let b = redub_core::ms_to_samples(r.end_ms, RATE).min(x.len());
            (s + x[a..b].iter().map(|&v| v as f64 * v as f64).sum::<f64>(), c + b - a)
        });
        (s / c.max(1) as f64).sqrt()
    };
    let scale = (rms(&speech) * 10f64.powf(-12.0 / 20.0) / rms(&left)) as f32;
    let bed = [left.iter().map(|v| v * scale).collect(), right.iter().map(|v| v * scale).collect()];
    (speech, bed, regions)
}

fn ms(samples: usize) -> u64 {
    redub_core::samples_to_ms(samples, RATE)
}

/// `dir/in.mkv`: a test picture and the stereo mix in FLAC (lossless, so the stems stay true).
fn make_input(dir: &Path, mix: &[f32]) -> std::path::PathBuf {
    let wav = dir.join("mix.wav");
    redub_media::write_wav_as(&wav, RATE, 2, mix, redub_media::WavFormat::I16).unwrap();
    let out = dir.join("in.mkv");
    let secs = mix.len() as f64 / 2.0 / RATE as f64;
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=duration={secs:.3}:size=64x64:rate=10"))
        .arg("-i")
        .arg(&wav)
        .args(["-c:v", "libx264", "-c:a", "flac", "-shortest"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg could not make the test input");
    out
}

/// The rendered track (interleaved stereo at 48 kHz) and the dubbed clips' spans in ms.
fn render(dir: &Path, input: &Path, regions: &[Span], background: Background) -> (Vec<f32>, Vec<Span>) {
    let mut backends = StandIns::new(false);
    backends.regions = regions.iter().map(|r| (r.start_ms, r.end_ms)).collect();
    backends.separate = true;
    let out = dir.join(format!("out-{}.mp4", background.name()));
    let req = DubRequest { background, ..DubRequest::new(input.into(), out, "es", dir.join("jobs")) };
    let summary = dub(&req, &backends, EventSink::silent()).unwrap();
    if background == Background::Separate {
        let (li, _) = ebur128(input, "0:a:0");
        let (lo, tp) = ebur128(&summary.output, "0:a:0");
        println!("loudness (ffmpeg ebur128): input {li:.1} LUFS, output {lo:.1} LUFS, output true peak {tp:.1} dBTP");
        assert!((lo - li).abs() <= 1.0, "output {lo:.1} LUFS against the input's {li:.1} (bar: within 1 LU)");
        assert!(tp <= -1.0, "output true peak {tp:.1} dBTP (bar: -1 dBTP)");
    }
    let stem = summary.job_dir.join("03-separate/background.wav");
    assert_eq!(stem.is_file(), background == Background::Separate, "a background stem only when separating");
    let (rate, channels, track) = redub_media::read_wav(&summary.job_dir.join("09-render/dub.wav")).unwrap();
    assert_eq!((rate, channels), (RATE, 2), "the render keeps the input's rate and channels");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary.job_dir.join("09-render/report.json")).unwrap()).unwrap();
    let clips = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let a = l["clip_start_ms"].as_u64().unwrap();
            Span::new(a, a + l["clip_ms"].as_u64().unwrap())
        })
        .collect();
    (track, clips)
}

/// Least-squares coefficients of `y` on the `xs` over the samples where `keep` holds.
fn fit(y: &[f32], xs: &[&[f32]], keep: &dyn Fn(usize) -> bool) -> Vec<f64> {
    let k = xs.len();
    let (mut a, mut b) = (vec![vec![0.0f64; k]; k], vec![0.0f64; k]);
    for i in (0..y.len()).filter(|&i| keep(i)) {
        for r in 0..k {
            b[r] += xs[r][i] as f64 * y[i] as f64;
            for c in 0..k {
                a[r][c] += xs[r][i] as f64 * xs[c][i] as f64;
            }
        }
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..k {
        let piv = (col..k).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs())).unwrap();
        a.swap(col, piv);
        b.swap(col, piv);
        for r in 0..k {
            if r != col && a[col][col].abs() > 1e-18 {
                let f = a[r][col] / a[col][col];
                for c in 0..k {
                    a[r][c] -= f * a[col][c];
                }
                b[r] -= f * b[col];
            }
        }
    }
    (0..k).map(|i| if a[i][i].abs() > 1e-18 { b[i] / a[i][i] } else { 0.0 }).collect()
}

fn inside(spans: &[Span], i: usize, margin_ms: u64) -> bool {
    let t = redub_core::samples_to_ms(i, RATE);
    spans.iter().any(|s| t + margin_ms >= s.start_ms && t <= s.end_ms + margin_ms)
}

/// Integrated loudness (LUFS) and true peak (dBTP) of `path`'s audio, by ffmpeg's `ebur128`.
fn ebur128(path: &Path, stream: &str) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-map", stream, "-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text.rsplit("Summary:").next().unwrap_or("");
    let value = |key: &str| -> f64 {
        let at = summary.find(key).unwrap_or_else(|| panic!("no {key} in ffmpeg's summary: {summary}"));
        summary[at + key.len()..].split_whitespace().next().unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

/// The click comes out of the background stem where it went in (±1 ms).
fn check_click(dir: &Path, click: usize) {
    let job = std::fs::read_dir(dir.join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("03-separate/background.wav").is_file());
    let Some(job) = job else {
        // The first call renders `drop`, which separates nothing; the separating job checks below.
        return;
    };
    let (_, channels, bg) = redub_media::read_wav(&job.join("03-separate/background.wav")).unwrap();
    let left: Vec<f32> = bg.iter().step_by(channels as usize).copied().collect();
    let window = RATE as usize / 2;
    let from = click - window;
    let peak = (from..click + window).max_by(|&a, &b| left[a].abs().total_cmp(&left[b].abs())).unwrap();
    let off = peak as i64 - click as i64;
    println!("click: in at sample {click}, out of the background stem at {peak} ({off:+} samples)");
    assert!(off.unsigned_abs() <= RATE as u64 / 1000, "the click moved by {off} samples");
}

#[test]
fn the_dub_keeps_the_background_and_loses_the_original_voices() {
    let tmp = tempfile::tempdir().unwrap();
    let (speech, bed, regions) = content();
    let mut mix: Vec<f32> = (0..speech.len()).flat_map(|i| [speech[i] + bed[0][i], speech[i] + bed[1][i]]).collect();
    // A click in the middle of the second utterance, in both channels.
    let click = redub_core::ms_to_samples((regions[1].start_ms + regions[1].end_ms) / 2, RATE);
    mix[2 * click] += 0.8;
    mix[2 * click + 1] += 0.8;
    let input = make_input(tmp.path(), &mix);
    // The dubbed voices alone (same clips, same places): a third regressor, so that the fits
    // below are not thrown off by the dub itself.
    let (voices, _) = render(tmp.path(), &input, &regions, Background::Drop);
    check_click(tmp.path(), click);
    for mode in [Background::Separate, Background::Duck] {
        let (track, clips) = render(tmp.path(), &input, &regions, mode);
        check_click(tmp.path(), click);
        let mut left = Vec::new();
        for c in 0..2 {
            let out: Vec<f32> = track.iter().skip(c).step_by(2).copied().collect();
            let dubbed: Vec<f32> = voices.iter().skip(c).step_by(2).copied().collect();
            let n = out.len().min(speech.len());
            let xs: [&[f32]; 3] = [&bed[c][..n], &speech[..n], &dubbed[..n]];
            // Nobody speaks: away from the source speech and the dubbed clips (300 ms margins).
            let quiet = fit(&out[..n], &xs, &|i| !inside(&regions, i, 300) && !inside(&clips, i, 300));
            let in_speech = fit(&out[..n], &xs, &|i| inside(&regions, i, 0));
            let under_lines = fit(&out[..n], &xs, &|i| inside(&clips, i, 0));
            let g = quiet[0];
            let residual_db = 20.0 * (in_speech[1].abs() / g).max(1e-9).log10();
            let under_db = 20.0 * (under_lines[0] / g).abs().max(1e-9).log10();
            println!(
                "{} ch{c}: background gain where nobody speaks {g:.3}; original speech left {residual_db:.1} dB; \
                 background under the dubbed lines {under_db:+.1} dB",
                mode.name()
            );
            left.push((residual_db, under_db));
        }
        if mode == Background::Separate {
            for (residual_db, under_db) in left {
                assert!(residual_db <= -25.0, "original speech at {residual_db:.1} dB (bar: -25 dB)");
                assert!(under_db.abs() <= 3.0, "background under the lines at {under_db:+.1} dB (bar: ±3 dB)");
            }
        } else {
            // Ducking is what separation replaces: it keeps the voices and dips the music.
            assert!(left.iter().all(|(r, u)| *r > -25.0 && *u < -3.0), "{left:?}");
        }
    }
}
