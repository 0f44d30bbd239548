//! Audio in and out: the reference sample as the WAV ElevenLabs wants, and the raw PCM it sends
//! back as [`Audio`].

use redub_core::{ms_to_samples, Audio, Error, Result};
use std::io::Cursor;

/// The rate of the sample sent for cloning.
pub const SAMPLE_RATE: u32 = 44_100;
/// A sample shorter than this is padded with silence (ElevenLabs refuses very short samples).
pub const MIN_SAMPLE_MS: u64 = 1500;
/// What a too-short sample is padded to.
pub const PADDED_SAMPLE_MS: u64 = 2000;

/// The reference sample as it is sent for cloning: mono at 44.1 kHz (resampled if needed) and,
/// when shorter than 1.5 s, padded at the end with silence to 2.0 s.
///
/// `sample` must be mono (the [`VoiceCloner`](redub_core::VoiceCloner) contract), non-empty and
/// have a rate.
pub fn prepare_sample(sample: &Audio) -> Result<Audio> {
    if sample.rate == 0 {
        return Err(Error::Usage("the reference sample has a sample rate of 0 Hz".to_string()));
    }
    if sample.samples.is_empty() {
        return Err(Error::Usage("the reference sample is empty".to_string()));
    }
    let mut audio = redub_dsp::resample(sample, SAMPLE_RATE)?;
    if audio.samples.len() < ms_to_samples(MIN_SAMPLE_MS, SAMPLE_RATE) {
        audio.samples.resize(ms_to_samples(PADDED_SAMPLE_MS, SAMPLE_RATE), 0.0);
    }
    Ok(audio)
}

/// `audio` as a mono 16-bit PCM WAV file in memory.
pub(crate) fn wav_bytes(audio: &Audio) -> Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: audio.rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(44 + audio.samples.len() * 2));
    let fail = |e: hound::Error| Error::backend(crate::BACKEND, format!("cannot encode the sample as WAV: {e}"));
    let mut writer = hound::WavWriter::new(&mut out, spec).map_err(fail)?;
    for &s in &audio.samples {
        writer.write_sample(to_i16(s)).map_err(fail)?;
    }
    writer.finalize().map_err(fail)?;
    Ok(out.into_inner())
}

fn to_i16(s: f32) -> i16 {
    let s = if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 };
    (s * 32767.0).round() as i16
}

/// Raw 16-bit little-endian mono PCM at `rate`. `None` when the byte count is odd (not PCM, or
/// cut short).
pub(crate) fn decode_pcm_s16le(bytes: &[u8], rate: u32) -> Option<Audio> {
    let chunks = bytes.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let samples = chunks.map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
    Some(Audio::new(rate, samples))
}

/// Below this level a sample counts as silence when trimming clip edges (as Redub's own engines do).
const SILENCE: f32 = 0.01;
/// Silence kept on each side of a trimmed clip, so onsets and decays are not cut.
const EDGE_PAD_MS: u64 = 30;

/// `audio` without leading and trailing near-silence (|x| < 0.01), keeping 30 ms either side;
/// empty when nothing is louder. Services pad their output unevenly, and the pipeline fits clips
/// to slots by their length, so the length should be the speech.
pub(crate) fn trim_silence(audio: Audio) -> Audio {
    let samples = &audio.samples;
    let Some(first) = samples.iter().position(|x| x.abs() >= SILENCE) else {
        return Audio::new(audio.rate, Vec::new());
    };
    let last = samples.iter().rposition(|x| x.abs() >= SILENCE).unwrap_or(first);
    let pad = ms_to_samples(EDGE_PAD_MS, audio.rate);
    let (start, end) = (first.saturating_sub(pad), (last + 1 + pad).min(samples.len()));
    Audio::new(audio.rate, samples[start..end].to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_sample_is_resampled_and_padded_to_two_seconds() {
        let a = prepare_sample(&Audio::new(16_000, vec![0.1; 12_800])).unwrap(); // 0.8 s
        assert_eq!((a.rate, a.samples.len()), (44_100, 88_200));
        assert!(a.samples[..35_000].iter().any(|&s| s.abs() > 0.05));
        assert!(a.samples[36_000..].iter().all(|&s| s == 0.0));
    }

    #[test]
    fn long_enough_sample_keeps_its_length() {
        let a = prepare_sample(&Audio::new(44_100, vec![0.2; 66_150])).unwrap(); // exactly 1.5 s
        assert_eq!(a.samples.len(), 66_150);
        let b = prepare_sample(&Audio::new(48_000, vec![0.2; 144_000])).unwrap(); // 3 s at 48 kHz
        assert_eq!((b.rate, b.samples.len()), (44_100, 132_300));
    }

    #[test]
    fn empty_or_rateless_samples_are_refused() {
        assert!(prepare_sample(&Audio::new(44_100, vec![])).is_err());
        assert!(prepare_sample(&Audio::new(0, vec![0.0; 10])).is_err());
    }

    #[test]
    fn wav_round_trip() {
        let audio = Audio::new(44_100, vec![0.0, 0.5, -0.5, 1.5, f32::NAN]);
        let bytes = wav_bytes(&audio).unwrap();
        let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        let spec = reader.spec();
        assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 44_100, 16));
        let got: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(got, vec![0, 16384, -16384, 32767, 0]);
    }

    #[test]
    fn pcm_decoding() {
        let a = decode_pcm_s16le(&[0x00, 0x40, 0x00, 0xC0, 0xFF, 0x7F], 24_000).unwrap();
        assert_eq!(a.rate, 24_000);
        assert_eq!(a.samples, vec![0.5, -0.5, 32767.0 / 32768.0]);
        assert!(decode_pcm_s16le(&[0, 1, 2], 24_000).is_none());
    }

    #[test]
    fn trims_silent_edges_keeping_30_ms() {
        let mut s = vec![0.0; 1000];
        s[500] = 0.5;
        s[600] = -0.5;
        assert_eq!(trim_silence(Audio::new(1000, s)).samples.len(), 101 + 60);
        assert!(trim_silence(Audio::new(1000, vec![0.001; 10])).samples.is_empty());
        assert_eq!(trim_silence(Audio::new(1000, vec![0.5; 10])).samples.len(), 10);
    }
}
