//! Audio in and out: the reference (prepared by [`redub_dsp::prepare_reference`]) as the WAV
//! the protocol sends, and any WAV a server answers with as mono [`Audio`].

use redub_core::{Audio, Error, Result};
use std::io::Cursor;

/// `audio` as a mono 16-bit PCM WAV file in memory.
pub(crate) fn wav_bytes(audio: &Audio) -> Result<Vec<u8>> {
    redub_http::wav::mono_i16(audio.rate, &audio.samples)
        .map_err(|e| Error::backend(crate::BACKEND, format!("cannot encode the reference as WAV: {e}")))
}

/// A WAV file (integer PCM of 8–32 bits or 32-bit float, any rate, any channel count) as mono
/// audio: channels are averaged. The error says what is wrong with the file.
pub(crate) fn decode_wav(bytes: &[u8]) -> std::result::Result<Audio, String> {
    let mut reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| format!("not a WAV file we can read: {e}"))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(format!("a WAV with {} channels at {} Hz", spec.channels, spec.sample_rate));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<std::result::Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<std::result::Result<_, _>>()
        }
    }
    .map_err(|e| format!("a WAV file cut short or damaged ({e})"))?;
    let channels = usize::from(spec.channels);
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect()
    };
    Ok(Audio::new(spec.sample_rate, samples))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn wav(spec: hound::WavSpec, write: impl FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
        write(&mut writer);
        writer.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_stereo_16_bit_as_mono() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let bytes = wav(spec, |w| {
            for (l, r) in [(16384i16, 0i16), (-16384, -16384)] {
                w.write_sample(l).unwrap();
                w.write_sample(r).unwrap();
            }
        });
        let a = decode_wav(&bytes).unwrap();
        assert_eq!(a.rate, 22_050);
        assert_eq!(a.samples, vec![0.25, -0.5]);
    }

    #[test]
    fn decodes_float_and_24_bit() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 24_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let a = decode_wav(&wav(spec, |w| w.write_sample(0.25f32).unwrap())).unwrap();
        assert_eq!((a.rate, a.samples.clone()), (24_000, vec![0.25]));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let a = decode_wav(&wav(spec, |w| w.write_sample(-(1i32 << 22)).unwrap())).unwrap();
        assert_eq!(a.samples, vec![-0.5]);
    }

    #[test]
    fn refuses_what_is_not_wav() {
        let e = decode_wav(b"ID3\x04mp3 data").unwrap_err();
        assert!(e.contains("not a WAV"), "{e}");
    }
}
