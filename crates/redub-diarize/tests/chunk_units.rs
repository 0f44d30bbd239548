#![allow(clippy::unwrap_used)]
//! A chunk's share of diarization as a unit another process can run
//! ([`SpeakerDiarizer::diarize_chunk`]): its task and result go through JSON unchanged, and a
//! diarization made from chunk results computed by a second diarizer (as a worker would) is
//! the one [`SpeakerDiarizer::run`] makes. Needs `make setup` (the models).

use redub_core::{Ctx, VoiceActivityDetector};
use redub_diarize::chunks::ChunkSettings;
use redub_diarize::{ChunkResult, ChunkTask, DiarizeSettings, SpeakerDiarizer};
use std::path::Path;

/// Through JSON and back, as a farm carries it.
fn across<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

#[test]
fn chunks_run_elsewhere_give_the_same_diarization() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech-2spk/sample.wav");
    let audio = redub_media::read_wav_mono(&path).unwrap();
    let regions =
        redub_vad::SileroVad::load(redub_vad::VadSettings::default()).unwrap().detect(&audio, &Ctx::quiet()).unwrap();
    // 12 s chunks: the 30 s call in three, so the matching across chunks has work to do.
    let settings = DiarizeSettings { chunk: ChunkSettings { max_ms: 12_000, overlap_ms: 2_000 }, ..Default::default() };
    let mut coordinator = SpeakerDiarizer::load(settings.clone()).unwrap();
    let here = coordinator.run(&audio, &regions, &[], &Ctx::quiet()).unwrap();

    // The worker's settings are not the job's: the task carries what the unit reads.
    let mut worker = SpeakerDiarizer::load(DiarizeSettings { step_ms: 1_000, ..Default::default() }).unwrap();
    let mut seen = 0;
    let elsewhere = coordinator
        .run_with(&audio, &regions, &[], &Ctx::quiet(), &mut |tasks: &[ChunkTask]| {
            seen = tasks.len();
            Ok(tasks
                .iter()
                .map(|t| {
                    let t = across(t);
                    let r = worker.diarize_chunk(&audio, &t, &Ctx::quiet()).unwrap();
                    let back: ChunkResult = across(&r);
                    assert_eq!(back, r, "chunk {} changed through JSON", t.chunk.index);
                    back
                })
                .collect())
        })
        .unwrap();
    println!("{seen} chunks, {} speakers, {} turns", here.speakers.len(), here.turns.len());
    assert!(seen >= 3, "{seen} chunks");
    assert_eq!(elsewhere, here);
}

/// Embeddings cross as JSON numbers: every f32 must come back to the same bits.
#[test]
fn f32_values_survive_json() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = f32::from_bits(x as u32);
        if !v.is_finite() {
            continue;
        }
        let back: f32 = across(&v);
        assert_eq!(back.to_bits(), v.to_bits(), "{v:e}");
    }
}
