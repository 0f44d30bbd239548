//! Audio bodies: WAV files and raw PCM as the fakes send them, and WAV uploads decoded.

use std::io::Cursor;

/// A decoded WAV file.
#[derive(Debug)]
pub struct Wav {
    pub channels: u16,
    pub rate: u32,
    pub bits: u16,
    pub samples: Vec<i32>,
}

pub fn read_wav(bytes: &[u8]) -> Wav {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    let samples = reader.samples::<i32>().map(|s| s.unwrap()).collect();
    Wav { channels: spec.channels, rate: spec.sample_rate, bits: spec.bits_per_sample, samples }
}

/// `samples` as 16-bit little-endian PCM bytes.
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A 16-bit WAV file of interleaved `samples`.
pub fn wav_i16(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    write(spec, samples)
}

/// A 32-bit float mono WAV file.
pub fn wav_f32(rate: u32, samples: &[f32]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write(spec, samples)
}

fn write<S: hound::Sample + Copy>(spec: hound::WavSpec, samples: &[S]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    for &s in samples {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}
