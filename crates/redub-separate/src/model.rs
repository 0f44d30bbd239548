//! DeepFilterNet3 through libDF: loading, and one aligned speech estimate of a 48 kHz signal.

use crate::ffi;
use redub_core::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The model's sample rate.
pub const RATE: u32 = 48_000;

/// Samples per model frame at [`RATE`] (10 ms).
pub const HOP: usize = 480;

/// How many samples libDF's output lags its input at [`RATE`]: the STFT's overlap-add (FFT 960,
/// hop 480: 480 samples) plus the model's two frames of look-ahead (960). Measured by
/// cross-correlating input and output (tests/delay.rs), not only derived from the config.
pub const DELAY: usize = 1440;

/// Files under `$REDUB_HOME/models/deepfilternet3/`, as setup installs them.
pub const LIBRARY_FILE: &str = "libdeepfilter.so";
pub const MODEL_FILE: &str = "DeepFilterNet3_onnx.tar.gz";

/// sha256 of [`MODEL_FILE`] (scripts/models.lock, `deepfilter.model`). Checked at load because
/// libDF aborts the process, rather than returning an error, on an archive it cannot read.
const MODEL_SHA256: &str = "c94d91f70911001c946e0fabb4aa9adc37045f45a03b56008cb0c8244cb63616";

/// Frames between two progress/cancel checks (1 s of audio).
const TICK_FRAMES: usize = 100;

/// DeepFilterNet3 loaded once: the C library and the checked model path. Each call makes its own
/// model state, so one `DeepFilter` serves several threads at once.
#[derive(Debug)]
pub struct DeepFilter {
    lib: ffi::Library,
    model: PathBuf,
}

impl DeepFilter {
    /// Load from `dir` (default `$REDUB_HOME/models/deepfilternet3`), which must hold
    /// `libdeepfilter.so` and `DeepFilterNet3_onnx.tar.gz` as `make setup` installs them.
    pub fn load(dir: Option<PathBuf>) -> Result<Self> {
        let dir = dir.unwrap_or_else(|| redub_core::paths::models_dir().join("deepfilternet3"));
        let lib_path = existing(&dir, LIBRARY_FILE, "DeepFilterNet's C library (libDF)")?;
        let model = existing(&dir, MODEL_FILE, "the DeepFilterNet3 model")?;
        check_model(&model)?;
        let lib = ffi::Library::open(&lib_path)?;
        let df = Self { lib, model };
        // One state up front: a library or model that does not work fails here, not mid-job.
        let hop = df.lib.create(&df.model)?.hop();
        if hop != HOP {
            return Err(Error::backend(
                "deepfilter",
                format!("{}: frames of {hop} samples, expected {HOP} (48 kHz DeepFilterNet3)", df.model.display()),
            ));
        }
        Ok(df)
    }

    /// The model archive in use.
    pub fn model_path(&self) -> &Path {
        &self.model
    }

    /// The model's output for `x` (48 kHz) exactly as libDF produces it: `x` zero-padded to whole
    /// frames, output delayed by [`DELAY`]. For measuring; [`speech_estimate`](Self::speech_estimate)
    /// is the aligned form.
    pub fn raw_output(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.run(x, 0, &mut |_| Ok(()))
    }

    /// The speech in `x` (48 kHz), sample-aligned with it and of the same length: the input is
    /// followed by [`DELAY`] samples of silence so that its last samples come out too, and the
    /// first [`DELAY`] output samples (the model's latency) are dropped. A fresh model state per
    /// call, so the result depends only on `x`. `tick(frames)` runs every second of audio and
    /// may stop the work by returning an error.
    pub fn speech_estimate(&self, x: &[f32], tick: &mut dyn FnMut(usize) -> Result<()>) -> Result<Vec<f32>> {
        let mut out = self.run(x, DELAY, tick)?;
        out.drain(..DELAY.min(out.len()));
        out.truncate(x.len());
        Ok(out)
    }

    /// `x` then `tail` zeros, through a fresh state, in whole frames.
    fn run(&self, x: &[f32], tail: usize, tick: &mut dyn FnMut(usize) -> Result<()>) -> Result<Vec<f32>> {
        let mut state = self.lib.create(&self.model)?;
        let frames = (x.len() + tail).div_ceil(HOP);
        let mut input = Vec::with_capacity(frames * HOP);
        input.extend_from_slice(x);
        input.resize(frames * HOP, 0.0);
        let mut out = vec![0.0f32; frames * HOP];
        for (i, (inp, outp)) in input.chunks_exact(HOP).zip(out.chunks_exact_mut(HOP)).enumerate() {
            if i % TICK_FRAMES == 0 && i > 0 {
                tick(TICK_FRAMES)?;
            }
            state.process(inp, outp)?;
        }
        // What the loop has not reported yet: frames after the last tick.
        tick(frames - frames.saturating_sub(1) / TICK_FRAMES * TICK_FRAMES)?;
        Ok(out)
    }
}

fn existing(dir: &Path, file: &str, what: &str) -> Result<PathBuf> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingModel { what: what.to_string(), path })
    }
}

fn check_model(path: &Path) -> Result<()> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let got = hex::encode(Sha256::digest(&data));
    if got == MODEL_SHA256 {
        return Ok(());
    }
    Err(Error::backend(
        "deepfilter",
        format!(
            "{}: not the pinned DeepFilterNet3 archive (sha256 {got}, expected {MODEL_SHA256}). Run `make setup` to reinstall it",
            path.display()
        ),
    ))
}
