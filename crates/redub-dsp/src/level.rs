//! Levels: RMS, peak, decibel conversions, speech-level matching and EBU R128 loudness.

use redub_core::{Audio, Error, Result};

/// Frame length for the speech-activity gate of [`active_rms`]: 1024 samples is 21–64 ms at
/// the usual 16–48 kHz, short enough to separate words from pauses.
const GATE_FRAME: usize = 1024;
/// Frames this far below the loudest one count as pauses, not speech.
const GATE_DB: f32 = 30.0;
/// Mean square below which a frame is digital silence whatever the loudest frame is (-100 dBFS).
const SILENCE_MEAN_SQUARE: f64 = 1e-10;

/// Root mean square of `samples`; 0 for an empty slice. Sums in f64 so long clips stay exact.
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (mean_square(samples)).sqrt() as f32
}

/// Largest absolute sample value; 0 for an empty slice.
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, &s| m.max(s.abs()))
}

/// Linear gain of a level change in dB (`-6.02` → `0.5`).
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// The change in dB that takes a level of `from_rms` to `to_rms`. 0 (no change) when either is
/// not a positive number, since silence cannot be brought to a level by gain.
pub fn gain_db(from_rms: f32, to_rms: f32) -> f32 {
    let usable = |x: f32| x.is_finite() && x > 0.0; // false for NaN too
    if !usable(from_rms) || !usable(to_rms) {
        return 0.0;
    }
    20.0 * (to_rms / from_rms).log10()
}

/// RMS over the frames that carry sound: frames within 30 dB of the loudest one, so that pauses
/// between words do not pull a speaker's level down. `None` for silence.
pub fn active_rms(samples: &[f32]) -> Option<f32> {
    // A short tail chunk says little about the level; keep it only if it is all there is.
    let frames: Vec<&[f32]> = samples
        .chunks(GATE_FRAME)
        .enumerate()
        .filter(|(i, c)| *i == 0 || c.len() >= GATE_FRAME / 2)
        .map(|(_, c)| c)
        .collect();
    let energies: Vec<(f64, usize)> = frames.iter().map(|f| (mean_square(f), f.len())).collect();
    let loudest = energies.iter().fold(0.0f64, |m, e| m.max(e.0));
    if loudest <= SILENCE_MEAN_SQUARE {
        return None;
    }
    let gate = loudest * 10f64.powf(-(GATE_DB as f64) / 10.0);
    let (sum, n) =
        energies.iter().filter(|e| e.0 >= gate).fold((0.0f64, 0usize), |(s, n), e| (s + e.0 * e.1 as f64, n + e.1));
    Some((sum / n as f64).sqrt() as f32)
}

/// Linear gain that brings `clip`'s speech level ([`active_rms`]) to `reference`'s, limited to
/// ±`max_db` so a quiet or clipped reference cannot make a dubbed line whisper or blast. 1.0 when
/// either is silent.
pub fn gain_to_match(clip: &[f32], reference: &[f32], max_db: f32) -> f32 {
    let (Some(from), Some(to)) = (active_rms(clip), active_rms(reference)) else {
        return 1.0;
    };
    let limit = max_db.abs();
    db_to_gain(gain_db(from, to).clamp(-limit, limit))
}

/// Integrated loudness of mono `audio` in LUFS (EBU R128 / ITU-R BS.1770, gated).
/// `f64::NEG_INFINITY` for silence or a clip shorter than one 400 ms measuring block.
pub fn integrated_loudness(audio: &Audio) -> Result<f64> {
    let fail = |e: ebur128::Error| Error::backend("loudness", format!("{} Hz audio: {e}", audio.rate));
    let mut meter = ebur128::EbuR128::new(1, audio.rate, ebur128::Mode::I).map_err(fail)?;
    meter.add_frames_f32(&audio.samples).map_err(fail)?;
    meter.loudness_global().map_err(fail)
}

/// EBU R128 loudness (and optionally true peak) of interleaved audio fed a block at a time, over
/// all its channels (BS.1770 weights: each channel's power summed).
pub struct LoudnessMeter {
    meter: ebur128::EbuR128,
    channels: u32,
}

impl LoudnessMeter {
    /// `true_peak`: also track the true peak (4× oversampled), which costs more.
    pub fn new(channels: u16, rate: u32, true_peak: bool) -> Result<Self> {
        let mode = if true_peak { ebur128::Mode::I | ebur128::Mode::TRUE_PEAK } else { ebur128::Mode::I };
        let channels = u32::from(channels.max(1));
        let meter = ebur128::EbuR128::new(channels, rate, mode)
            .map_err(|e| Error::backend("loudness", format!("{rate} Hz, {channels} channels: {e}")))?;
        Ok(Self { meter, channels })
    }

    /// Add interleaved frames.
    pub fn add(&mut self, interleaved: &[f32]) -> Result<()> {
        self.meter.add_frames_f32(interleaved).map_err(|e| Error::backend("loudness", e.to_string()))
    }

    /// Integrated loudness so far, LUFS (`-inf` for silence).
    pub fn integrated(&self) -> Result<f64> {
        self.meter.loudness_global().map_err(|e| Error::backend("loudness", e.to_string()))
    }

    /// Highest true peak over the channels so far, dBTP (needs `true_peak`).
    pub fn true_peak_db(&self) -> Result<f64> {
        let mut peak = 0.0f64;
        for c in 0..self.channels {
            peak = peak.max(self.meter.true_peak(c).map_err(|e| Error::backend("loudness", e.to_string()))?);
        }
        Ok(20.0 * peak.max(1e-12).log10())
    }
}

pub(crate) fn mean_square(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|&s| s as f64 * s as f64).sum::<f64>() / samples.len() as f64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{naive_rms, sine};

    #[test]
    fn rms_and_peak_match_naive() {
        let x = sine(440.0, 0.8, 16_000, 0.5);
        assert!((rms(&x) as f64 - naive_rms(&x)).abs() < 1e-6);
        assert!((rms(&x) - 0.8 / 2f32.sqrt()).abs() < 1e-3);
        assert!((peak(&x) - 0.8).abs() < 1e-3);
        assert_eq!(peak(&[0.1, -0.7, 0.3]), 0.7);
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(peak(&[]), 0.0);
    }

    #[test]
    fn decibels() {
        assert!((db_to_gain(0.0) - 1.0).abs() < 1e-6);
        assert!((db_to_gain(-20.0) - 0.1).abs() < 1e-6);
        assert!((db_to_gain(6.0206) - 2.0).abs() < 1e-4);
        assert!((gain_db(0.1, 0.2) - 6.0206).abs() < 1e-3);
        assert!((gain_db(0.2, 0.1) + 6.0206).abs() < 1e-3);
        assert_eq!(gain_db(0.0, 0.1), 0.0);
        assert_eq!(gain_db(0.1, 0.0), 0.0);
        assert_eq!(gain_db(f32::NAN, 0.1), 0.0);
        for db in [-30.0f32, -3.0, 0.5, 12.0] {
            assert!((gain_db(1.0, db_to_gain(db)) - db).abs() < 1e-4);
        }
    }

    #[test]
    fn gain_to_match_levels_and_clamps() {
        let quiet = sine(300.0, 0.1, 16_000, 1.0);
        let loud = sine(500.0, 0.2, 16_000, 1.0);
        assert!((gain_to_match(&quiet, &loud, 12.0) - 2.0).abs() < 0.02);
        assert!((gain_to_match(&loud, &quiet, 12.0) - 0.5).abs() < 0.01);
        // Clamped in both directions.
        assert!((gain_to_match(&quiet, &loud, 3.0) - db_to_gain(3.0)).abs() < 1e-4);
        assert!((gain_to_match(&loud, &quiet, 3.0) - db_to_gain(-3.0)).abs() < 1e-4);
        let very_quiet = sine(300.0, 0.001, 16_000, 1.0);
        assert!((gain_to_match(&very_quiet, &loud, 10.0) - db_to_gain(10.0)).abs() < 1e-4);
        // Silence on either side leaves the clip alone.
        assert_eq!(gain_to_match(&vec![0.0; 16_000], &loud, 12.0), 1.0);
        assert_eq!(gain_to_match(&quiet, &[], 12.0), 1.0);
    }

    #[test]
    fn pauses_do_not_count_as_quiet_speech() {
        // Same tone level, but the clip is mostly pause: plain RMS would ask for +6 dB.
        let tone = sine(300.0, 0.1, 16_000, 1.0);
        let mut with_pause = tone.clone();
        with_pause.extend(vec![0.0; 48_000]);
        assert!((rms(&tone) / rms(&with_pause) - 2.0).abs() < 0.01);
        let g = gain_to_match(&with_pause, &tone, 12.0);
        assert!((g - 1.0).abs() < 0.02, "gain {g}");
        // A faint hum 40 dB down in the pause is gated out too.
        let mut with_hum = tone.clone();
        with_hum.extend(sine(50.0, 0.001, 16_000, 3.0));
        // (The frame straddling tone and hum is half tone, so allow 2%.)
        assert!((active_rms(&with_hum).unwrap() / active_rms(&tone).unwrap() - 1.0).abs() < 0.02);
        assert_eq!(active_rms(&vec![0.0; 5000]), None);
    }

    #[test]
    fn loudness_of_a_sine() {
        // A full-scale 1 kHz sine measures -3.01 LUFS on one channel, so -20 dBFS is -23.01.
        for rate in [16_000u32, 44_100, 48_000] {
            let audio = Audio::new(rate, sine(1000.0, 0.1, rate, 5.0));
            let lufs = integrated_loudness(&audio).unwrap();
            assert!((lufs + 23.01).abs() < 0.5, "{rate} Hz: {lufs:.2} LUFS");
        }
        let quieter = Audio::new(48_000, sine(1000.0, 0.05, 48_000, 5.0));
        let lufs = integrated_loudness(&quieter).unwrap();
        assert!((lufs + 29.03).abs() < 0.5, "{lufs:.2} LUFS");
        let silence = Audio::new(48_000, vec![0.0; 48_000]);
        assert_eq!(integrated_loudness(&silence).unwrap(), f64::NEG_INFINITY);
        assert!(integrated_loudness(&Audio::new(0, vec![0.0; 10])).is_err());
    }
}
