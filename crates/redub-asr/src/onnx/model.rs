//! The three ONNX graphs of `scripts/ct2_whisper_to_onnx.py` (encoder, cross K/V, decoder with
//! a KV cache) as one set of ONNX Runtime sessions, and the decoder's KV cache.

use redub_core::{Error, Result};
use redub_onnx::ort::session::Session;
use redub_onnx::ort::value::{DynValue, Tensor};
use std::borrow::Cow;
use std::path::Path;

use super::mel::{FRAMES, N_MELS};

const HEADS: usize = 8;
const HEAD_DIM: usize = 64;

fn fail(e: impl std::fmt::Display) -> Error {
    Error::backend("whisper-onnx", e)
}

/// Encoder, cross K/V and decoder sessions with the same intra-op thread count. A set serves
/// one window at a time (`Session::run` takes `&mut self`).
pub struct Sessions {
    encoder: Session,
    cross_kv: Session,
    decoder: Session,
    layers: usize,
    pub threads: usize,
    /// Decoder calls made and their time (for `OnnxStats`).
    pub steps: usize,
    pub step_s: f64,
}

/// The cross-attention keys and values of one encoded window (batch 1): decoder rows of any
/// batch attend to it without copies.
pub struct Cross {
    values: Vec<(String, DynValue)>,
}

/// The decoder's self-attention cache: `present_k_i`/`present_v_i` of the last step,
/// [batch, 8, len, 64] each, in layer order (k, v, k, v, …).
pub struct Kv {
    values: Vec<DynValue>,
    batch: usize,
    len: usize,
}

/// What one decoder call gives back.
pub struct Step {
    /// Logits of each row's last position, [batch][vocab] flattened.
    pub last_logits: Vec<f32>,
    /// Logits of the first row at `probe` (the `<|startoftranscript|>` position, for the
    /// no-speech probability), when asked for.
    pub probe_logits: Option<Vec<f32>>,
    pub kv: Kv,
    /// Alignment heads' cross-attention of row 0, [heads, tokens, frames], when asked for.
    pub alignment: Option<(Vec<f32>, [usize; 3])>,
}

fn load_one(path: &Path, threads: usize, spin: bool) -> Result<Session> {
    if !path.is_file() {
        return Err(Error::MissingModel {
            what: "Whisper ONNX graph (run `make setup`)".into(),
            path: path.to_path_buf(),
        });
    }
    let env = redub_onnx::environment()?;
    let bad = |e: String| fail(format!("{}: {e}. Rerun `make setup` to rebuild it", path.display()));
    // No memory pattern: ORT then does not plan (and keep) one arena block per run shape. With
    // two windows side by side the process peaked at 1.25 GB instead of 1.6 GB, at no measured
    // cost in speed (docs/asr-onnx.md).
    Session::builder(env)
        .map_err(|e| bad(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| bad(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| bad(e.to_string()))?
        .with_intra_op_spinning(spin)
        .map_err(|e| bad(e.to_string()))?
        .with_memory_pattern(false)
        .map_err(|e| bad(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| bad(e.to_string()))
}

impl Sessions {
    pub fn load(dir: &Path, threads: usize, spin: bool) -> Result<Self> {
        let threads = threads.max(1);
        // The three sessions are built side by side: ONNX Runtime optimizes a graph on the
        // calling thread, so one after another the build is the sum of three single-core waits.
        let (encoder, cross_kv, decoder) = std::thread::scope(|s| {
            let load = |name: &'static str| s.spawn(move || load_one(&dir.join(name), threads, spin));
            let (e, c, d) = (load("encoder.onnx"), load("cross_kv.onnx"), load("decoder.onnx"));
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<Session>>| {
                h.join().unwrap_or_else(|_| Err(fail("a thread building a Whisper ONNX session panicked")))
            };
            (join(e), join(c), join(d))
        });
        let (encoder, cross_kv, decoder) = (encoder?, cross_kv?, decoder?);
        let layers = decoder.inputs().iter().filter(|i| i.name().starts_with("past_k_")).count();
        if layers == 0 || !decoder.outputs().iter().any(|o| o.name() == "alignment") {
            return Err(fail(format!(
                "{}: not a decoder graph of ct2_whisper_to_onnx.py (no past_k_*/alignment). Rerun `make setup`",
                dir.join("decoder.onnx").display()
            )));
        }
        Ok(Self { encoder, cross_kv, decoder, layers, threads, steps: 0, step_s: 0.0 })
    }

    /// Encoder and cross K/V of one [80, 3000] log-mel.
    pub fn encode(&mut self, mel: Vec<f32>) -> Result<Cross> {
        if mel.len() != N_MELS * FRAMES {
            return Err(fail(format!("log-mel of {} values, expected {}", mel.len(), N_MELS * FRAMES)));
        }
        let mel = Tensor::from_array(([1usize, N_MELS, FRAMES], mel)).map_err(fail)?;
        let mut enc = self.encoder.run(redub_onnx::ort::inputs!["mel" => mel]).map_err(fail)?;
        let out = enc.remove("encoder_output").ok_or_else(|| fail("encoder.onnx has no encoder_output"))?;
        drop(enc);
        let outputs = self.cross_kv.run(redub_onnx::ort::inputs!["encoder_output" => out]).map_err(fail)?;
        let mut values = Vec::with_capacity(2 * self.layers);
        for (name, value) in outputs {
            values.push((name.to_string(), value));
        }
        if values.len() != 2 * self.layers {
            return Err(fail(format!("cross_kv.onnx gave {} outputs, expected {}", values.len(), 2 * self.layers)));
        }
        Ok(Cross { values })
    }

    /// An empty cache for `batch` rows (the first call).
    pub fn empty_kv(&self, batch: usize) -> Result<Kv> {
        let values = (0..2 * self.layers)
            .map(|_| Tensor::<f32>::from_array(([batch, HEADS, 0, HEAD_DIM], Vec::new())).map(|t| t.into_dyn()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(fail)?;
        Ok(Kv { values, batch, len: 0 })
    }

    /// One decoder call: `tokens` is [batch, t] row-major; every row attends to `cross`.
    pub fn step(
        &mut self,
        cross: &Cross,
        tokens: &[i64],
        past: &Kv,
        probe: Option<usize>,
        align: bool,
    ) -> Result<Step> {
        let batch = past.batch;
        let t = tokens.len() / batch.max(1);
        if t == 0 || t * batch != tokens.len() {
            return Err(fail(format!("{} tokens do not fill {batch} rows", tokens.len())));
        }
        let tok = Tensor::from_array(([batch, t], tokens.to_vec())).map_err(fail)?;
        let mut inputs: Vec<(Cow<'_, str>, redub_onnx::ort::session::SessionInputValue<'_>)> =
            Vec::with_capacity(1 + 4 * self.layers);
        inputs.push(("tokens".into(), tok.into()));
        for (i, v) in past.values.iter().enumerate() {
            let name = format!("past_{}_{}", if i % 2 == 0 { "k" } else { "v" }, i / 2);
            inputs.push((name.into(), v.into()));
        }
        for (name, v) in &cross.values {
            inputs.push((name.as_str().into(), v.into()));
        }
        let t0 = std::time::Instant::now();
        let mut out = self.decoder.run(inputs).map_err(fail)?;
        self.steps += 1;
        self.step_s += t0.elapsed().as_secs_f64();
        let (shape, logits) = out["logits"].try_extract_tensor::<f32>().map_err(fail)?;
        let vocab = shape.last().copied().unwrap_or(0) as usize;
        if shape.len() != 3 || shape[0] as usize != batch || shape[1] as usize != t || logits.len() != batch * t * vocab
        {
            return Err(fail(format!("decoder.onnx gave logits of shape {shape}, expected [{batch}, {t}, vocab]")));
        }
        let mut last_logits = Vec::with_capacity(batch * vocab);
        for b in 0..batch {
            let at = (b * t + t - 1) * vocab;
            last_logits.extend_from_slice(&logits[at..at + vocab]);
        }
        let probe_logits = probe.filter(|&p| p < t).map(|p| logits[p * vocab..(p + 1) * vocab].to_vec());
        let alignment = if align {
            let (s, a) = out["alignment"].try_extract_tensor::<f32>().map_err(fail)?;
            if s.len() != 4 || s[2] as usize != t {
                return Err(fail(format!(
                    "decoder.onnx gave an alignment of shape {s}, expected [{batch}, heads, {t}, frames]"
                )));
            }
            let dims = [s[1] as usize, s[2] as usize, s[3] as usize];
            Some((a[..dims[0] * dims[1] * dims[2]].to_vec(), dims))
        } else {
            None
        };
        let mut values = Vec::with_capacity(2 * self.layers);
        for i in 0..2 * self.layers {
            let name = format!("present_{}_{}", if i % 2 == 0 { "k" } else { "v" }, i / 2);
            values.push(out.remove(&name).ok_or_else(|| fail(format!("decoder.onnx has no {name}")))?);
        }
        Ok(Step { last_logits, probe_logits, kv: Kv { values, batch, len: past.len + t }, alignment })
    }
}

impl Kv {
    /// The cache for the rows `src` (beam search's source beams): row j of the result is row
    /// `src[j]` of this one. The identity keeps the tensors as they are.
    pub fn select(self, src: &[usize]) -> Result<Kv> {
        if src.len() == self.batch && src.iter().enumerate().all(|(j, &s)| j == s) {
            return Ok(self);
        }
        if let Some(&bad) = src.iter().find(|&&s| s >= self.batch) {
            return Err(fail(format!("beam row {bad} of {}", self.batch)));
        }
        let row = HEADS * self.len * HEAD_DIM;
        let mut values = Vec::with_capacity(self.values.len());
        for v in &self.values {
            let (shape, data) = v.try_extract_tensor::<f32>().map_err(fail)?;
            if data.len() != self.batch * row {
                return Err(fail(format!(
                    "decoder.onnx gave a KV cache of shape {shape}, expected [{}, {HEADS}, {}, {HEAD_DIM}]",
                    self.batch, self.len
                )));
            }
            let mut out = Vec::with_capacity(src.len() * row);
            for &s in src {
                out.extend_from_slice(&data[s * row..(s + 1) * row]);
            }
            values.push(Tensor::from_array(([src.len(), HEADS, self.len, HEAD_DIM], out)).map_err(fail)?.into_dyn());
        }
        Ok(Kv { values, batch: src.len(), len: self.len })
    }
}
