//! Whisper's log-mel spectrogram, computed as faster-whisper computes it: 160 samples of zero
//! padding after the audio, a centred 400-point STFT (reflect padding) with a periodic Hann
//! window and a hop of 160, the power spectrum without the last frame, the 80 mel filters of
//! openai-whisper's `mel_filters.npz`, log10 clamped at 1e-10 and at (max − 8), (x + 4) / 4, and
//! zeros after the content up to 3000 frames (30 s).

use realfft::RealFftPlanner;
use redub_core::{Error, Result};
use std::path::Path;

pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 80;
/// Frames of one encoder pass (30 s).
pub const FRAMES: usize = 3000;
const BINS: usize = N_FFT / 2 + 1;

/// The mel filter bank, [80, 201], each filter kept as its nonzero run of bins.
#[derive(Clone, Debug)]
pub struct MelFilters {
    filters: Vec<(usize, Vec<f64>)>,
}

impl MelFilters {
    /// Raw little-endian f32 [80, 201] (setup writes `mel_filters.bin` from `mel_80` of
    /// openai-whisper's `mel_filters.npz`).
    pub fn load(path: &Path) -> Result<Self> {
        let raw = std::fs::read(path).map_err(|e| {
            Error::backend("whisper-onnx", format!("cannot read {}: {e}. Run `make setup`", path.display()))
        })?;
        if raw.len() != N_MELS * BINS * 4 {
            return Err(Error::backend(
                "whisper-onnx",
                format!(
                    "{}: {} bytes, expected {} (80 × 201 f32). Run `make setup`",
                    path.display(),
                    raw.len(),
                    N_MELS * BINS * 4
                ),
            ));
        }
        let w: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Self::from_rows(&w))
    }

    /// From the row-major [80, 201] matrix.
    pub fn from_rows(w: &[f32]) -> Self {
        let filters = w
            .chunks(BINS)
            .map(|row| {
                let first = row.iter().position(|&x| x != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&x| x != 0.0).map(|i| i + 1).unwrap_or(first);
                (first, row[first..last].iter().map(|&x| f64::from(x)).collect())
            })
            .collect();
        Self { filters }
    }
}

/// The log-mel of `samples` (16 kHz), row-major [80, 3000], and the number of content frames
/// (faster-whisper's `content_frames`: the frames of the audio itself, which DTW may use).
pub fn log_mel(samples: &[f32], filters: &MelFilters) -> (Vec<f32>, usize) {
    let mut x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    x.resize(x.len() + HOP, 0.0);
    let padded = reflect_pad(&x, N_FFT / 2);
    // Frames of the centred STFT, less the last one (as Whisper drops it).
    let n_frames = (1 + (padded.len() - N_FFT) / HOP).saturating_sub(1);
    let window: Vec<f64> =
        (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()).collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
    let (mut frame, mut spec) = (fft.make_input_vec(), fft.make_output_vec());
    let used = n_frames.min(FRAMES);
    let mut logs = vec![0f64; N_MELS * used];
    let mut power = vec![0f64; BINS];
    for f in 0..used {
        for (i, v) in frame.iter_mut().enumerate() {
            *v = padded[f * HOP + i] * window[i];
        }
        // The buffers have the planned lengths, so this cannot fail.
        if fft.process(&mut frame, &mut spec).is_err() {
            continue;
        }
        for (p, c) in power.iter_mut().zip(&spec) {
            *p = c.norm_sqr();
        }
        for (m, (first, w)) in filters.filters.iter().enumerate() {
            let e: f64 = w.iter().zip(&power[*first..]).map(|(a, b)| a * b).sum();
            logs[m * used + f] = e.max(1e-10).log10();
        }
    }
    // faster-whisper takes the maximum over all of the audio's frames; a window here is at most
    // 30 s, so over the frames kept.
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut out = vec![0f32; N_MELS * FRAMES];
    for m in 0..N_MELS {
        for f in 0..used {
            out[m * FRAMES + f] = ((logs[m * used + f].max(max - 8.0) + 4.0) / 4.0) as f32;
        }
    }
    (out, (samples.len() / HOP).min(FRAMES))
}

/// numpy's `reflect` padding (the edge sample not repeated); short inputs reflect repeatedly.
fn reflect_pad(x: &[f64], pad: usize) -> Vec<f64> {
    if x.len() < 2 {
        return vec![x.first().copied().unwrap_or(0.0); x.len() + 2 * pad];
    }
    let n = x.len() as i64;
    let period = 2 * (n - 1);
    (-(pad as i64)..n + pad as i64)
        .map(|i| {
            let j = i.rem_euclid(period);
            x[(if j < n { j } else { period - j }) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_padding_matches_numpy() {
        // np.pad([1, 2, 3, 4], 2, mode="reflect") == [3, 2, 1, 2, 3, 4, 3, 2]
        assert_eq!(reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
    }

    #[test]
    fn silence_is_flat_and_padding_is_zero() {
        let filters = MelFilters::from_rows(&vec![0.01; N_MELS * BINS]);
        let (mel, content) = log_mel(&vec![0.0; 16_000], &filters);
        assert_eq!(content, 100);
        // All frames clamp at log10(1e-10) = -10, which is also the max: (-10 + 4) / 4.
        assert!((mel[0] - -1.5).abs() < 1e-6, "{}", mel[0]);
        assert_eq!(mel[FRAMES - 1], 0.0, "past the content");
    }
}
