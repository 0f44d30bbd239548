//! Voice activity detection: where in the input people speak. Owns the Silero VAD model (ONNX)
//! and the rules that turn its per-frame probabilities into speech regions; knows nothing about
//! files or the stages around it.

use redub_core::{Audio, Ctx, Error, Result, Span, VoiceActivityDetector};
use redub_onnx::ort::value::Tensor;
use redub_onnx::Session;

/// Silero works on 16 kHz audio in frames of 512 samples (32 ms), each preceded by the last 64
/// samples of the previous frame as context; the recurrent state carries across frames.
const RATE: u32 = 16_000;
const FRAME: usize = 512;
const CONTEXT: usize = 64;

/// How probabilities become regions. Defaults follow Silero's own recommendations for speech.
#[derive(Clone, Debug, PartialEq)]
pub struct VadSettings {
    /// Probability above which a frame starts speech (default 0.5).
    pub threshold: f32,
    /// Speech ends when the probability falls below this (default threshold − 0.15).
    pub neg_threshold: f32,
    /// Regions shorter than this are dropped (default 250 ms).
    pub min_speech_ms: u64,
    /// Silence shorter than this does not end a region (default 300 ms).
    pub min_silence_ms: u64,
    /// Padding added on each side of a region (default 60 ms), clamped to the neighbours.
    pub pad_ms: u64,
}

impl Default for VadSettings {
    fn default() -> Self {
        Self { threshold: 0.5, neg_threshold: 0.35, min_speech_ms: 250, min_silence_ms: 300, pad_ms: 60 }
    }
}

/// Silero VAD v6 (from the PyPI `silero-vad` wheel) on ONNX Runtime.
pub struct SileroVad {
    session: Session,
    settings: VadSettings,
}

impl SileroVad {
    pub fn load(settings: VadSettings) -> Result<Self> {
        let model = redub_core::paths::model_file("silero-vad/silero_vad.onnx", "Silero VAD model")?;
        Ok(Self { session: redub_onnx::session(&model, 1)?, settings })
    }

    /// Speech probability of each 32 ms frame.
    pub fn probabilities(&mut self, audio: &Audio, ctx: &Ctx) -> Result<Vec<f32>> {
        if audio.rate != RATE {
            return Err(Error::backend("silero-vad", format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let fail = |e: redub_onnx::ort::Error| Error::backend("silero-vad", e);
        let n_frames = audio.samples.len().div_ceil(FRAME);
        let mut state = vec![0.0f32; 2 * 128];
        let mut context = vec![0.0f32; CONTEXT];
        let mut out = Vec::with_capacity(n_frames);
        for i in 0..n_frames {
            if i % 200 == 0 {
                ctx.check_cancel()?;
                ctx.progress(i as u64, n_frames as u64);
            }
            let mut input = Vec::with_capacity(CONTEXT + FRAME);
            input.extend_from_slice(&context);
            let frame = &audio.samples[i * FRAME..((i + 1) * FRAME).min(audio.samples.len())];
            input.extend_from_slice(frame);
            input.resize(CONTEXT + FRAME, 0.0);
            context.copy_from_slice(&input[FRAME..]);
            let x = Tensor::from_array(([1usize, CONTEXT + FRAME], input)).map_err(fail)?;
            let s = Tensor::from_array(([2usize, 1, 128], state.clone())).map_err(fail)?;
            let sr = Tensor::from_array(([1usize], vec![RATE as i64])).map_err(fail)?;
            let outputs =
                self.session.run(redub_onnx::ort::inputs!["input" => x, "state" => s, "sr" => sr]).map_err(fail)?;
            let (_, p) = outputs["output"].try_extract_tensor::<f32>().map_err(fail)?;
            out.push(p.first().copied().unwrap_or(0.0));
            let (_, st) = outputs["stateN"].try_extract_tensor::<f32>().map_err(fail)?;
            if st.len() == state.len() {
                state.copy_from_slice(st);
            }
        }
        ctx.progress(n_frames as u64, n_frames as u64);
        Ok(out)
    }
}

impl VoiceActivityDetector for SileroVad {
    fn detect(&mut self, audio: &Audio, ctx: &Ctx) -> Result<Vec<Span>> {
        let probs = self.probabilities(audio, ctx)?;
        Ok(regions(&probs, FRAME as u64 * 1000 / RATE as u64, audio.duration_ms(), &self.settings))
    }
}

/// Turn per-frame probabilities into padded speech regions (hysteresis between the two
/// thresholds, short gaps bridged, short blips dropped). Pure, so it is tested on its own.
pub fn regions(probs: &[f32], frame_ms: u64, total_ms: u64, s: &VadSettings) -> Vec<Span> {
    let mut raw: Vec<Span> = Vec::new();
    let mut start: Option<u64> = None;
    let mut last_speech_end = 0u64;
    for (i, &p) in probs.iter().enumerate() {
        let t0 = i as u64 * frame_ms;
        let t1 = t0 + frame_ms;
        match start {
            None if p >= s.threshold => {
                start = Some(t0);
                last_speech_end = t1;
            }
            Some(_) if p >= s.neg_threshold => last_speech_end = t1,
            Some(st) if t1.saturating_sub(last_speech_end) >= s.min_silence_ms => {
                raw.push(Span::new(st, last_speech_end));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        raw.push(Span::new(st, last_speech_end));
    }
    let kept: Vec<Span> = raw.into_iter().filter(|r| r.duration_ms() >= s.min_speech_ms).collect();
    // Pad each region, but never into the neighbour: split the gap between them instead.
    let mut out: Vec<Span> = Vec::with_capacity(kept.len());
    for (i, r) in kept.iter().enumerate() {
        let prev_end = if i == 0 { 0 } else { kept[i - 1].end_ms };
        let next_start = kept.get(i + 1).map(|n| n.start_ms).unwrap_or(total_ms.max(r.end_ms));
        let lo = r.start_ms.saturating_sub(s.pad_ms).max(prev_end + (r.start_ms - prev_end) / 2 * (i > 0) as u64);
        let hi =
            (r.end_ms + s.pad_ms).min(r.end_ms + (next_start.saturating_sub(r.end_ms)) / 2).min(total_ms.max(r.end_ms));
        out.push(Span::new(lo, hi));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_bridges_short_gaps_and_drops_blips() {
        let s = VadSettings { pad_ms: 0, ..Default::default() };
        // 32 ms frames: 20 frames speech, 5 frames dip (160 ms < 300 ms), 20 speech, 20 silence,
        // 3 frames blip (96 ms < 250 ms), 20 silence.
        let mut p = vec![0.9; 20];
        p.extend(vec![0.1; 5]);
        p.extend(vec![0.9; 20]);
        p.extend(vec![0.1; 20]);
        p.extend(vec![0.9; 3]);
        p.extend(vec![0.1; 20]);
        let r = regions(&p, 32, p.len() as u64 * 32, &s);
        assert_eq!(r, vec![Span::new(0, 45 * 32)]);
    }

    #[test]
    fn padding_never_overlaps_neighbours() {
        let s = VadSettings { pad_ms: 200, min_silence_ms: 100, ..Default::default() };
        let mut p = vec![0.9; 10];
        p.extend(vec![0.0; 5]);
        p.extend(vec![0.9; 10]);
        let r = regions(&p, 32, p.len() as u64 * 32, &s);
        assert_eq!(r.len(), 2);
        assert!(r[0].end_ms <= r[1].start_ms, "{r:?}");
        assert_eq!(r[0].start_ms, 0);
        assert_eq!(r[1].end_ms, 25 * 32);
    }
}
