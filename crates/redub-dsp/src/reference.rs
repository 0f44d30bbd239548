//! Reference samples for voice cloning, and trimming synthesised speech to the speech itself:
//! rules the pipeline and every cloning client share (DESIGN §1, voices).

use redub_core::{ms_to_samples, Audio, Error, Result};

/// The rate of reference samples (what ElevenLabs and most cloning models take).
pub const REFERENCE_RATE: u32 = 44_100;
/// A reference shorter than this is padded with silence (services refuse very short samples).
pub const MIN_REFERENCE_MS: u64 = 1_500;
/// What a too-short reference is padded to.
pub const PADDED_REFERENCE_MS: u64 = 2_000;

/// `sample` (mono) as a reference is sent: at 44.1 kHz (resampled if needed) and, when shorter
/// than 1.5 s, padded at the end with silence to 2.0 s. An empty or rateless sample is refused.
pub fn prepare_reference(sample: &Audio) -> Result<Audio> {
    if sample.rate == 0 {
        return Err(Error::Usage("the reference sample has a sample rate of 0 Hz".to_string()));
    }
    if sample.samples.is_empty() {
        return Err(Error::Usage("the reference sample is empty".to_string()));
    }
    let mut audio = crate::resample(sample, REFERENCE_RATE)?;
    if audio.samples.len() < ms_to_samples(MIN_REFERENCE_MS, REFERENCE_RATE) {
        audio.samples.resize(ms_to_samples(PADDED_REFERENCE_MS, REFERENCE_RATE), 0.0);
    }
    Ok(audio)
}

/// Below this level a sample counts as silence when trimming clip edges.
const SILENCE: f32 = 0.01;
/// Silence kept on each side of a trimmed clip, so onsets and decays are not cut.
const EDGE_PAD_MS: u64 = 30;

/// `samples` without leading and trailing near-silence (|x| < 0.01), keeping 30 ms either side;
/// empty when nothing is louder. Engines and services pad their output unevenly, and the
/// pipeline fits clips to slots by their length, so the length should be the speech.
pub fn trim_silence(samples: &[f32], rate: u32) -> &[f32] {
    let Some(first) = samples.iter().position(|x| x.abs() >= SILENCE) else {
        return &[];
    };
    let last = samples.iter().rposition(|x| x.abs() >= SILENCE).unwrap_or(first);
    let pad = ms_to_samples(EDGE_PAD_MS, rate);
    &samples[first.saturating_sub(pad)..(last + 1 + pad).min(samples.len())]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn short_references_are_resampled_and_padded_to_two_seconds() {
        let a = prepare_reference(&Audio::new(16_000, vec![0.1; 12_800])).unwrap(); // 0.8 s
        assert_eq!((a.rate, a.samples.len()), (44_100, 88_200));
        assert!(a.samples[..35_000].iter().any(|&s| s.abs() > 0.05));
        assert!(a.samples[36_000..].iter().all(|&s| s == 0.0));
        let long = prepare_reference(&Audio::new(44_100, vec![0.2; 66_150])).unwrap(); // exactly 1.5 s
        assert_eq!(long.samples.len(), 66_150, "long enough: kept as is");
        let b = prepare_reference(&Audio::new(48_000, vec![0.2; 144_000])).unwrap(); // 3 s at 48 kHz
        assert_eq!((b.rate, b.samples.len()), (44_100, 132_300));
        let c = prepare_reference(&Audio::new(22_050, vec![0.1; 66_150])).unwrap(); // 3 s at 22.05 kHz
        assert_eq!((c.rate, c.samples.len()), (44_100, 132_300));
        assert!(prepare_reference(&Audio::new(16_000, vec![])).is_err());
        assert!(prepare_reference(&Audio::new(0, vec![0.1])).is_err());
    }

    #[test]
    fn trim_keeps_a_pad() {
        let mut s = vec![0.0; 1000];
        s[500] = 0.5;
        s[600] = -0.5;
        // 1000 Hz: 30 ms = 30 samples.
        assert_eq!(trim_silence(&s, 1000).len(), 101 + 60);
        assert!(trim_silence(&[0.001; 10], 1000).is_empty());
        assert_eq!(trim_silence(&[0.5; 10], 1000).len(), 10);
    }
}
