//! Audio in and out: the reference sample (prepared by [`redub_dsp::prepare_reference`]) as the
//! WAV ElevenLabs wants, and the raw PCM it sends back as [`Audio`].

use redub_core::{Audio, Error, Result};

/// `audio` as a mono 16-bit PCM WAV file in memory.
pub(crate) fn wav_bytes(audio: &Audio) -> Result<Vec<u8>> {
    redub_http::wav::mono_i16(audio.rate, &audio.samples)
        .map_err(|e| Error::backend(crate::BACKEND, format!("cannot encode the sample as WAV: {e}")))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Cursor;

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
}
