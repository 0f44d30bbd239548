//! Kaldi-compatible log mel filterbank features, the input CAM++ was trained on.
//!
//! The settings are Kaldi's `compute-fbank-feats` defaults as 3D-Speaker calls them (through
//! torchaudio's `kaldi.fbank`): 25 ms frames every 10 ms with snipped edges, DC removed per
//! frame, pre-emphasis 0.97, the "povey" window (a Hann window raised to 0.85), a 512-point FFT,
//! power spectrum, 80 triangular filters spaced on Kaldi's mel scale (`1127 ln(1 + f/700)`)
//! from 20 Hz to Nyquist, and `ln(max(energy, f32::EPSILON))`. Dither is off so features are
//! deterministic. Using another window or mel formula (as some Rust ports do) measurably shifts
//! the embeddings, so this is written out rather than borrowed.

use realfft::RealFftPlanner;

pub const RATE: u32 = 16_000;
pub const MELS: usize = 80;
const FRAME: usize = 400;
const SHIFT: usize = 160;
const FFT: usize = 512;
const PREEMPH: f64 = 0.97;
const LOW_HZ: f64 = 20.0;

/// Reusable feature extractor: the FFT plan, window and filter bank are built once.
pub struct Fbank {
    fft: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    window: Vec<f64>,
    /// Per mel bin: the first FFT bin it touches and its weights from there.
    filters: Vec<(usize, Vec<f64>)>,
}

impl std::fmt::Debug for Fbank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fbank").field("mels", &self.filters.len()).finish()
    }
}

impl Default for Fbank {
    fn default() -> Self {
        Self::new()
    }
}

fn mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

impl Fbank {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(FFT);
        let window = (0..FRAME)
            .map(|i| {
                let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (FRAME - 1) as f64).cos();
                hann.powf(0.85)
            })
            .collect();
        // Kaldi's bank covers FFT bins 0..FFT/2 (the Nyquist bin gets no weight).
        let bins = FFT / 2;
        let bin_hz = f64::from(RATE) / FFT as f64;
        let (lo, hi) = (mel(LOW_HZ), mel(f64::from(RATE) / 2.0));
        let delta = (hi - lo) / (MELS + 1) as f64;
        let filters = (0..MELS)
            .map(|b| {
                let (left, centre, right) =
                    (lo + b as f64 * delta, lo + (b + 1) as f64 * delta, lo + (b + 2) as f64 * delta);
                let weights: Vec<f64> = (0..bins)
                    .map(|k| {
                        let m = mel(k as f64 * bin_hz);
                        let up = (m - left) / (centre - left);
                        let down = (right - m) / (right - centre);
                        up.min(down).max(0.0)
                    })
                    .collect();
                let first = weights.iter().position(|w| *w > 0.0).unwrap_or(0);
                let last = weights.iter().rposition(|w| *w > 0.0).map_or(first, |l| l + 1);
                (first, weights[first..last.max(first)].to_vec())
            })
            .collect();
        Self { fft, window, filters }
    }

    /// Number of frames Kaldi makes from `n` samples (edges snipped).
    pub fn frames(n: usize) -> usize {
        if n < FRAME {
            0
        } else {
            1 + (n - FRAME) / SHIFT
        }
    }

    /// Features of 16 kHz samples in [-1, 1], row-major `[frames][80]`. The sample scale only
    /// shifts every log energy by a constant, which the mean normalisation removes.
    pub fn compute(&self, samples: &[f32]) -> Vec<[f32; MELS]> {
        let n = Self::frames(samples.len());
        let mut out = Vec::with_capacity(n);
        let mut frame = vec![0.0f64; FFT];
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        for f in 0..n {
            let x = &samples[f * SHIFT..f * SHIFT + FRAME];
            let mean = x.iter().map(|v| f64::from(*v)).sum::<f64>() / FRAME as f64;
            // Pre-emphasis runs backwards so each sample uses its unmodified predecessor; the
            // first sample is emphasised against itself, as Kaldi does.
            for i in (0..FRAME).rev() {
                let cur = f64::from(x[i]) - mean;
                let prev = if i == 0 { cur } else { f64::from(x[i - 1]) - mean };
                frame[i] = (cur - PREEMPH * prev) * self.window[i];
            }
            frame[FRAME..].iter_mut().for_each(|v| *v = 0.0);
            // Lengths are fixed by construction, so the FFT cannot fail.
            let _ = self.fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch);
            let mut row = [0.0f32; MELS];
            for (m, (first, weights)) in self.filters.iter().enumerate() {
                let energy: f64 = weights.iter().zip(&spectrum[*first..]).map(|(w, c)| w * c.norm_sqr()).sum();
                row[m] = energy.max(f64::from(f32::EPSILON)).ln() as f32;
            }
            out.push(row);
        }
        out
    }

    /// Features with each bin's mean over time subtracted (CAM++'s input normalisation).
    pub fn compute_normalized(&self, samples: &[f32]) -> Vec<[f32; MELS]> {
        let mut feats = self.compute(samples);
        if feats.is_empty() {
            return feats;
        }
        let mut mean = [0.0f64; MELS];
        for row in &feats {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v);
            }
        }
        let n = feats.len() as f64;
        for row in &mut feats {
            for (v, m) in row.iter_mut().zip(&mean) {
                *v = (f64::from(*v) - m / n) as f32;
            }
        }
        feats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_snips_edges() {
        assert_eq!(Fbank::frames(399), 0);
        assert_eq!(Fbank::frames(400), 1);
        assert_eq!(Fbank::frames(16_000), 98);
    }

    #[test]
    fn a_tone_lights_the_mel_bin_of_its_frequency() {
        let fb = Fbank::new();
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 16_000.0).sin()) as f32)
            .collect();
        let feats = fb.compute(&tone);
        assert_eq!(feats.len(), 98);
        let row = &feats[50];
        let best = (0..MELS).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap();
        // Bin b is centred on mel lo + (b + 1) Δ; find the one nearest 1 kHz.
        let (lo, hi) = (mel(LOW_HZ), mel(8000.0));
        let delta = (hi - lo) / (MELS + 1) as f64;
        let expected = ((mel(1000.0) - lo) / delta - 1.0).round() as usize;
        assert!(best.abs_diff(expected) <= 1, "peak in bin {best}, expected about {expected}");
        // Far bins are tens of nepers below the peak.
        assert!(row[best] - row[MELS - 1] > 5.0);
    }

    #[test]
    fn silence_gives_the_floor_and_normalisation_centres_bins() {
        let fb = Fbank::new();
        let feats = fb.compute(&[0.0; 4000]);
        assert!(feats.iter().flatten().all(|v| (*v - f32::EPSILON.ln()).abs() < 1e-4));
        let noise: Vec<f32> =
            (0..8000u32).map(|i| ((i.wrapping_mul(2_654_435_761) >> 16) as f32 / 65_536.0) - 0.5).collect();
        let norm = fb.compute_normalized(&noise);
        for m in 0..MELS {
            let mean: f32 = norm.iter().map(|r| r[m]).sum::<f32>() / norm.len() as f32;
            assert!(mean.abs() < 1e-4, "bin {m} mean {mean}");
        }
    }
}
