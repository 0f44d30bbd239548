//! Silero VAD on the real two-speaker call, compared with the reference utterance times.

#![allow(clippy::unwrap_used)]

use redub_core::{Audio, Ctx, Span, VoiceActivityDetector};
use redub_vad::{SileroVad, VadSettings};

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech-2spk")
}

fn reference() -> Vec<Span> {
    std::fs::read_to_string(fixture().join("sample.stm"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let s: f64 = f[3].parse().unwrap();
            let e: f64 = f[4].parse().unwrap();
            Span::new((s * 1000.0) as u64, (e * 1000.0) as u64)
        })
        .collect()
}

fn overlap(a: &[Span], b: &[Span]) -> u64 {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| x.end_ms.min(y.end_ms).saturating_sub(x.start_ms.max(y.start_ms))))
        .sum()
}

#[test]
fn finds_the_speech_of_the_call() {
    let audio = redub_media::read_wav_mono(&fixture().join("sample.wav")).unwrap();
    let mut vad = SileroVad::load(VadSettings::default()).unwrap();
    let found = vad.detect(&audio, &Ctx::quiet()).unwrap();
    let refs = reference();
    let ref_total: u64 = refs.iter().map(|s| s.duration_ms()).sum();
    let found_total: u64 = found.iter().map(|s| s.duration_ms()).sum();
    let covered = overlap(&found, &refs);
    let recall = covered as f64 / ref_total as f64;
    let precision = covered as f64 / found_total as f64;
    println!(
        "VAD on sample.wav: {} regions, recall {:.1}%, precision {:.1}%",
        found.len(),
        recall * 100.0,
        precision * 100.0
    );
    assert!(recall >= 0.9, "VAD missed reference speech: recall {recall:.3}");
    assert!(precision >= 0.7, "VAD marked too much non-speech: precision {precision:.3}");
    assert!(found.windows(2).all(|w| w[0].end_ms <= w[1].start_ms), "regions overlap: {found:?}");
}

#[test]
fn silence_has_no_speech() {
    let audio = Audio::new(16_000, vec![0.0; 16_000 * 3]);
    let mut vad = SileroVad::load(VadSettings::default()).unwrap();
    assert!(vad.detect(&audio, &Ctx::quiet()).unwrap().is_empty());
}
