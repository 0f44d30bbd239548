//! The reference sample the cloning backends upload, as a WAV file in memory.

use std::io::Cursor;

/// Mono `samples` at `rate` as a 16-bit PCM WAV file; samples are clamped to ±1 and a sample
/// that is not finite is sent as silence. The backend words the error.
pub fn mono_i16(rate: u32, samples: &[f32]) -> Result<Vec<u8>, hound::Error> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    let mut writer = hound::WavWriter::new(&mut out, spec)?;
    for &s in samples {
        let s = if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 };
        writer.write_sample((s * 32767.0).round() as i16)?;
    }
    writer.finalize()?;
    Ok(out.into_inner())
}
