//! Integrated loudness (EBU R128) and true peak of whole files, read a block at a time so a
//! film's track never has to be in memory.

use redub_core::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One track's level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Integrated loudness, LUFS (−99 for silence).
    pub lufs: f64,
    /// Highest true peak over the channels, dBTP (−99 for silence).
    pub true_peak_db: f64,
}

/// The source's level and the dub's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoudnessPair {
    pub source: Loudness,
    pub output: Loudness,
}

/// Frames read per block: a second at 48 kHz.
const BLOCK: usize = 48_000;

/// The loudness and true peak of a WAV file, over all its channels.
pub fn measure_file(path: &Path) -> Result<Loudness> {
    let mut wav = redub_media::WavBlocks::open(path)?;
    let mut meter = redub_dsp::LoudnessMeter::new(wav.channels, wav.rate, true)?;
    loop {
        let block = wav.read(BLOCK)?;
        if block.is_empty() {
            break;
        }
        meter.add(&block)?;
    }
    let finite = |v: f64| if v.is_finite() { v } else { -99.0 };
    Ok(Loudness { lufs: finite(meter.integrated()?), true_peak_db: finite(meter.true_peak_db()?) })
}
