//! WAV files in and out (hound). Reading accepts 8/16/24/32-bit integer and 32-bit float PCM;
//! writing goes through a temporary file and a rename.

use redub_core::{Audio, Error, Result};
use std::path::Path;

/// Sample encoding of a written WAV file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WavFormat {
    /// 32-bit IEEE float: lossless for the pipeline's `f32` samples.
    #[default]
    F32,
    /// 16-bit signed integer, clamped to [-1, 1]: the most widely readable.
    I16,
}

/// Read a WAV file as `(sample rate, channels, interleaved samples in [-1, 1])`.
pub fn read_wav(path: &Path) -> Result<(u32, u16, Vec<f32>)> {
    let reader = hound::WavReader::open(path).map_err(|e| hound_error(path, e))?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => {
            reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(|e| hound_error(path, e))?
        }
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f64;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| (v as f64 * scale) as f32))
                .collect::<Result<_, _>>()
                .map_err(|e| hound_error(path, e))?
        }
    };
    Ok((spec.sample_rate, spec.channels, samples))
}

/// Read a WAV file as mono [`Audio`], averaging its channels.
pub fn read_wav_mono(path: &Path) -> Result<Audio> {
    let (rate, channels, samples) = read_wav(path)?;
    Ok(Audio::new(rate, downmix(&samples, channels)))
}

/// Average interleaved `channels` into one.
pub fn downmix(samples: &[f32], channels: u16) -> Vec<f32> {
    match channels {
        0 | 1 => samples.to_vec(),
        n => {
            let n = n as usize;
            samples.chunks(n).map(|frame| frame.iter().sum::<f32>() / frame.len() as f32).collect()
        }
    }
}

/// Write mono `audio` as 32-bit float WAV.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    write_wav_as(path, audio.rate, 1, &audio.samples, WavFormat::F32)
}

/// Write mono `audio` as 16-bit integer WAV.
pub fn write_wav_i16(path: &Path, audio: &Audio) -> Result<()> {
    write_wav_as(path, audio.rate, 1, &audio.samples, WavFormat::I16)
}

/// Write interleaved samples as 32-bit float WAV.
pub fn write_wav_interleaved(path: &Path, rate: u32, channels: u16, samples: &[f32]) -> Result<()> {
    write_wav_as(path, rate, channels, samples, WavFormat::F32)
}

/// Write interleaved samples in `format`, via a temporary file and a rename.
pub fn write_wav_as(path: &Path, rate: u32, channels: u16, samples: &[f32], format: WavFormat) -> Result<()> {
    if rate == 0 || channels == 0 || samples.len() % channels as usize != 0 {
        let msg = format!(
            "cannot write WAV: rate {rate}, {channels} channels, {} samples (not a whole number of frames)",
            samples.len()
        );
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)));
    }
    let mut sink = crate::WavSink::create(path, rate, channels, format)?;
    sink.write(samples)?;
    sink.finish()
}

pub(crate) fn hound_error(path: &Path, e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => Error::Input {
            path: path.to_path_buf(),
            problem: format!("is not a WAV file Redub can read ({other})"),
            fix: "Convert it to 16-bit PCM WAV, e.g. `ffmpeg -i in -c:a pcm_s16le out.wav`".to_string(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn float_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let a = Audio::new(24_000, vec![0.0, 0.25, -0.5, 1.0, -1.0, 0.123_456]);
        write_wav(&p, &a).unwrap();
        assert_eq!(read_wav_mono(&p).unwrap(), a);
    }

    #[test]
    fn int16_round_trip_is_close_and_clamped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        write_wav_i16(&p, &Audio::new(16_000, vec![0.0, 0.5, -0.5, 2.0, -2.0])).unwrap();
        let b = read_wav_mono(&p).unwrap();
        assert_eq!(b.rate, 16_000);
        for (x, y) in b.samples.iter().zip([0.0, 0.5, -0.5, 1.0, -1.0]) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    fn stereo_is_averaged() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.wav");
        write_wav_interleaved(&p, 48_000, 2, &[1.0, 0.0, 0.5, -0.5, -1.0, -1.0]).unwrap();
        let (rate, ch, s) = read_wav(&p).unwrap();
        assert_eq!((rate, ch, s.len()), (48_000, 2, 6));
        assert_eq!(read_wav_mono(&p).unwrap().samples, vec![0.5, 0.0, -1.0]);
    }

    #[test]
    fn int24_and_int32_are_scaled() {
        let dir = tempfile::tempdir().unwrap();
        for bits in [8u16, 24, 32] {
            let p = dir.path().join(format!("i{bits}.wav"));
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&p, spec).unwrap();
            let half = 1i32 << (bits - 2);
            w.write_sample(half).unwrap();
            w.write_sample(-2 * half).unwrap();
            w.finalize().unwrap();
            assert_eq!(read_wav_mono(&p).unwrap().samples, vec![0.5, -1.0], "{bits} bits");
        }
    }

    #[test]
    fn ragged_interleaved_is_rejected_and_garbage_is_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.wav");
        assert!(write_wav_interleaved(&p, 8000, 2, &[0.0; 3]).is_err());
        assert!(!p.exists());
        std::fs::write(&p, b"definitely not a wav file").unwrap();
        let err = read_wav(&p).unwrap_err();
        assert!(matches!(err, Error::Input { .. }), "{err}");
    }
}
