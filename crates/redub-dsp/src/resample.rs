//! Sample-rate conversion with rubato's synchronous FFT resampler, trimmed so that the output is
//! sample-aligned with the input (no resampler delay) and has exactly the expected length.

use redub_core::{Audio, Error, Result};
use rubato::{FftFixedInOut, Resampler};

/// Input chunk the resampler works in, at least. Longer chunks mean a longer (sharper)
/// anti-aliasing filter, since rubato's filter spans one chunk, and fewer FFT calls.
const MIN_CHUNK: usize = 1024;

/// Convert `audio` to `to_rate` Hz.
///
/// The output has exactly `round(len * to_rate / rate)` samples and sample `n` of the input
/// lands at `n * to_rate / rate` in the output: the resampler's delay is cut off and its tail
/// flushed, so callers can mix the result at the same time offsets as the original. Equal rates
/// return a copy.
pub fn resample(audio: &Audio, to_rate: u32) -> Result<Audio> {
    if audio.rate == 0 || to_rate == 0 {
        return Err(Error::Unsupported(format!("cannot resample from {} Hz to {} Hz", audio.rate, to_rate)));
    }
    if audio.rate == to_rate {
        return Ok(audio.clone());
    }
    let (from, to) = (audio.rate as usize, to_rate as usize);
    let out_len = ((audio.samples.len() as u128 * to as u128 + from as u128 / 2) / from as u128) as usize;
    if out_len == 0 {
        return Ok(Audio::new(to_rate, Vec::new()));
    }

    // rubato's FFT resampler processes whole multiples of `from/gcd` input frames. Use an even
    // multiple so both chunk sizes are even: its delay is `chunk_out / 2`, which is then a whole
    // number of output samples and exactly half a chunk of input (the filter's centre).
    let g = gcd(from, to);
    let unit_in = from / g;
    let mut units = MIN_CHUNK.div_ceil(unit_in).max(1);
    units += units % 2;
    let mut resampler = FftFixedInOut::<f32>::new(from, to, units * unit_in, 1)
        .map_err(|e| Error::backend("resample", format!("{} Hz -> {} Hz: {e}", from, to)))?;

    let chunk_in = resampler.input_frames_next();
    let chunk_out = resampler.output_frames_next();
    let delay = resampler.output_delay();
    let wanted = delay + out_len;

    let mut out = Vec::with_capacity(wanted + chunk_out);
    let mut in_buf = vec![0.0f32; chunk_in];
    let mut out_buf = vec![vec![0.0f32; chunk_out]];
    let mut pos = 0;
    while out.len() < wanted {
        // Past the end of the input, feed zeros to flush the filter's tail.
        let rest = audio.samples.get(pos..).unwrap_or_default();
        let take = rest.len().min(chunk_in);
        in_buf[..take].copy_from_slice(&rest[..take]);
        in_buf[take..].fill(0.0);
        pos += chunk_in;
        let (_, produced) = resampler
            .process_into_buffer(&[&in_buf], &mut out_buf, None)
            .map_err(|e| Error::backend("resample", format!("{} Hz -> {} Hz: {e}", from, to)))?;
        out.extend_from_slice(&out_buf[0][..produced]);
    }
    out.truncate(wanted);
    out.drain(..delay);
    Ok(Audio::new(to_rate, out))
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{naive_rms, sine, snr_db};

    /// Resample a 1 kHz sine and compare with the sine generated directly at the new rate.
    fn sine_snr(from: u32, to: u32, freq: f64) -> f64 {
        let input = Audio::new(from, sine(freq, 0.5, from, 1.0));
        let out = resample(&input, to).unwrap();
        assert_eq!(out.rate, to);
        assert_eq!(out.samples.len(), to as usize, "{from}->{to}: length");
        let want = sine(freq, 0.5, to, 1.0);
        // Skip 50 ms at each end, where the filter sees the zeros outside the clip.
        let edge = to as usize / 20;
        snr_db(&out.samples[edge..want.len() - edge], &want[edge..want.len() - edge])
    }

    #[test]
    fn sine_survives_common_rate_changes() {
        for (from, to) in [(16_000, 48_000), (24_000, 44_100), (44_100, 16_000), (48_000, 16_000), (22_050, 24_000)] {
            let snr = sine_snr(from, to, 1000.0);
            assert!(snr > 40.0, "{from}->{to}: SNR {snr:.1} dB");
        }
        // An awkward ratio (gcd 1) works too.
        let snr = sine_snr(16_001, 22_050, 1000.0);
        assert!(snr > 40.0, "16001->22050: SNR {snr:.1} dB");
    }

    #[test]
    fn downsampling_removes_what_does_not_fit() {
        // 12 kHz cannot exist at 16 kHz; it must be filtered out, not aliased to 4 kHz.
        let input = Audio::new(48_000, sine(12_000.0, 0.5, 48_000, 1.0));
        let out = resample(&input, 16_000).unwrap();
        let mid = &out.samples[800..out.samples.len() - 800];
        let level = 20.0 * (naive_rms(mid) / (0.5 / 2f64.sqrt())).log10();
        assert!(level < -40.0, "alias at {level:.1} dB");
    }

    #[test]
    fn clicks_land_at_scaled_positions() {
        for (from, to) in [(16_000u32, 48_000u32), (24_000, 44_100), (48_000, 16_000), (44_100, 22_050)] {
            for at in [0usize, 1, 777, 5_000, 11_999] {
                let mut samples = vec![0.0f32; 12_000];
                samples[at] = 1.0;
                let out = resample(&Audio::new(from, samples), to).unwrap();
                assert_eq!(out.samples.len(), (12_000 * to as usize + from as usize / 2) / from as usize);
                let got = out
                    .samples
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .map(|(i, _)| i)
                    .unwrap();
                let want = at as f64 * to as f64 / from as f64;
                assert!(
                    (got as f64 - want).abs() <= 1.0,
                    "{from}->{to}: click at {at} landed at {got}, want {want:.1}"
                );
            }
        }
    }

    #[test]
    fn lengths_are_exact_and_equal_rates_are_identity() {
        for len in [0usize, 1, 2, 3, 100, 1023, 1024, 1025, 48_001] {
            let a = Audio::new(48_000, (0..len).map(|i| (i as f32 * 0.01).sin()).collect());
            assert_eq!(resample(&a, 48_000).unwrap(), a);
            for to in [8_000u32, 16_000, 22_050, 44_100] {
                let want = (len as u128 * to as u128 + 24_000) / 48_000;
                assert_eq!(resample(&a, to).unwrap().samples.len() as u128, want, "len {len} to {to}");
            }
        }
    }

    #[test]
    fn zero_rates_are_errors() {
        assert!(resample(&Audio::new(0, vec![0.0; 10]), 16_000).is_err());
        assert!(resample(&Audio::new(16_000, vec![0.0; 10]), 0).is_err());
    }
}
