//! pyannote segmentation-3.0 (ONNX): who of up to three local speakers is active in each
//! 17 ms frame of a 10 s window, overlapped speech included.
//!
//! The model's output is a log-probability over 7 "powerset" classes per frame: silence, A, B,
//! C, A+B, A+C, B+C. We decode each frame to its most likely class (hard decoding, as pyannote
//! 3.x does), which gives per-speaker 0/1 activity with at most two speakers at once.

use redub_core::{Ctx, Error, Result};
use redub_onnx::ort::value::Tensor;
use redub_onnx::Session;

pub const RATE: u32 = 16_000;
/// The model was trained on 10 s windows.
pub const WINDOW: usize = 160_000;
/// Frame step and receptive field of the model's output frames, in samples.
pub const FRAME_STEP: usize = 270;
pub const FRAME_SPAN: usize = 991;
/// Local speakers per window.
pub const LOCAL: usize = 3;
/// Windows per model call (see `Segmenter::run_batch`). On 132 s of speech (50 windows) at 2
/// threads: 1.24 s one window at a time, 0.89 s in fours, 0.90 s in eights, 1.01 s in sixteens
/// (at 1 thread, eights only took 1.69 s against 1.83 s); the same count of active frames each
/// time.
const BATCH: usize = 4;

/// Which local speakers each powerset class switches on.
const POWERSET: [[bool; LOCAL]; 7] = [
    [false, false, false],
    [true, false, false],
    [false, true, false],
    [false, false, true],
    [true, true, false],
    [true, false, true],
    [false, true, true],
];

/// Number of output frames for `n` input samples.
pub fn frames(n: usize) -> usize {
    if n < FRAME_SPAN {
        0
    } else {
        (n - FRAME_SPAN) / FRAME_STEP + 1
    }
}

/// Centre of frame `i`, in samples from the window start (frames are reported at their centre).
pub fn frame_centre(i: usize) -> usize {
    i * FRAME_STEP + FRAME_SPAN / 2
}

/// One analysed window: where it starts in the audio and the per-frame activity of its three
/// local speakers.
#[derive(Clone, Debug)]
pub struct Window {
    pub start: usize,
    pub active: Vec<[bool; LOCAL]>,
}

pub struct Segmenter {
    session: Session,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

impl Segmenter {
    pub const MODEL: &'static str = "segmentation-3.0/segmentation-3.0.onnx";

    pub fn load() -> Result<Self> {
        let model = redub_core::paths::model_file(Self::MODEL, "pyannote segmentation-3.0 model")?;
        Ok(Self { session: redub_onnx::session(&model, crate::MODEL_THREADS)? })
    }

    /// Window starts covering `n` samples every `step` samples; the last window is aligned to the
    /// end so the tail is seen in full context. Audio shorter than a window gets one window.
    pub fn starts(n: usize, step: usize) -> Vec<usize> {
        if n <= WINDOW {
            return vec![0];
        }
        let mut starts: Vec<usize> = (0..=n - WINDOW).step_by(step.max(1)).collect();
        if starts.last() != Some(&(n - WINDOW)) {
            starts.push(n - WINDOW);
        }
        starts
    }

    /// Segment `samples` (16 kHz mono) in 10 s windows every `step` samples. Short audio is
    /// padded with silence to a full window, and frames past the real end are dropped.
    pub fn run(&mut self, samples: &[f32], step: usize, ctx: &Ctx) -> Result<Vec<Window>> {
        let starts = Self::starts(samples.len(), step);
        let mut out = Vec::with_capacity(starts.len());
        for batch in starts.chunks(BATCH) {
            ctx.check_cancel()?;
            out.extend(self.run_batch(samples, batch)?);
            ctx.progress(out.len() as u64, starts.len() as u64);
        }
        Ok(out)
    }

    /// The windows at `starts` in one model call, a [B, 1, 10 s] batch: one window per call
    /// leaves the second intra-op thread too little work per operation.
    fn run_batch(&mut self, samples: &[f32], starts: &[usize]) -> Result<Vec<Window>> {
        let fail = |e: redub_onnx::ort::Error| Error::backend("segmentation-3.0", e);
        let mut x = Vec::with_capacity(starts.len() * WINDOW);
        let mut real = Vec::with_capacity(starts.len());
        for &start in starts {
            let piece = &samples[start..(start + WINDOW).min(samples.len())];
            real.push(piece.len());
            x.extend_from_slice(piece);
            x.resize(x.len() + WINDOW - piece.len(), 0.0);
        }
        let input = Tensor::from_array(([starts.len(), 1, WINDOW], x)).map_err(fail)?;
        let outputs = self.session.run(redub_onnx::ort::inputs!["input_values" => input]).map_err(fail)?;
        let (shape, logits) = outputs["logits"].try_extract_tensor::<f32>().map_err(fail)?;
        let classes = POWERSET.len();
        if shape.len() != 3 || shape[0] as usize != starts.len() || shape[1] < 1 || shape[2] as usize != classes {
            return Err(Error::backend("segmentation-3.0", format!("unexpected output shape {shape:?}")));
        }
        let per_window = shape[1] as usize * classes;
        Ok(starts
            .iter()
            .zip(real)
            .zip(logits.chunks_exact(per_window))
            .map(|((&start, real), logits)| {
                // Keep frames whose centre lies inside the real audio.
                let keep = (0..shape[1] as usize).take_while(|f| frame_centre(*f) < real).count();
                let active = logits
                    .chunks_exact(classes)
                    .take(keep)
                    .map(|row| {
                        let best = (0..classes).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap_or(0);
                        POWERSET[best]
                    })
                    .collect();
                Window { start, active }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_matches_the_model() {
        // Measured on the ONNX model: 10 s → 589 frames.
        assert_eq!(frames(WINDOW), 589);
        assert_eq!(frames(16_000), 56);
    }

    #[test]
    fn windows_cover_the_end() {
        assert_eq!(Segmenter::starts(50_000, 40_000), vec![0]);
        assert_eq!(Segmenter::starts(WINDOW, 40_000), vec![0]);
        let s = Segmenter::starts(WINDOW + 50_000, 40_000);
        assert_eq!(s, vec![0, 40_000, 50_000]);
    }
}
