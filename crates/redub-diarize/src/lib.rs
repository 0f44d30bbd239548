//! Speakers: who speaks when, with one id per person across a whole film. Owns the models
//! (pyannote segmentation-3.0 and CAM++ embeddings, both ONNX), the clustering inside a chunk,
//! the matching of chunks' local speakers to global speakers, chunk planning, RTTM, the
//! diarization error rate, and the dub lines made from labelled sentences (`lines`). Knows nothing about files beyond RTTM text, or about the stages around it.

pub mod chunks;
pub mod cluster;
pub mod der;
pub mod diarizer;
pub mod embed;
pub mod fbank;
pub mod global;
pub mod hungarian;
pub mod label;
pub mod lines;
pub mod rttm;
pub mod segmentation;
pub mod whole;

pub use diarizer::{ChunkResult, ChunkSpeaker, ChunkTask, Diarization, DiarizeSettings, SpeakerDiarizer};

pub use redub_core::Turn;

/// Intra-op threads of the segmentation and CAM++ sessions. Nothing else runs beside them in a
/// job (the stages run in turn), and one thread left the second core idle: on 132 s of speech
/// on the 2-core EPYC, segmentation took 1.83 s at 1 thread and 0.89 s at 2 (in batches of
/// 4), CAM++ 1.85 s and 1.17 s for 44 three-second embeddings, with the same count of active
/// frames (27098) and the same DER on every test input.
/// Both models are small, so more threads would buy little on a bigger machine.
pub(crate) const MODEL_THREADS: usize = 2;

/// Cosine similarity of two vectors (in `redub-dsp`, which the qa crate shares).
pub use redub_dsp::cosine;

/// `v` scaled to unit length (unchanged when all zeros).
pub fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if n == 0.0 {
        v.to_vec()
    } else {
        v.iter().map(|x| (f64::from(*x) / n) as f32).collect()
    }
}
