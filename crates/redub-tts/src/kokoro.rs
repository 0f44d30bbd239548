//! Kokoro-82M (v1.0, int8 ONNX): espeak-ng IPA → Kokoro phoneme ids → 24 kHz speech.

use crate::phonemize::{self, TIE};
use redub_core::paths::model_file;
use redub_core::{Audio, Error, LengthPlan, Result, Synthesizer};
use redub_onnx::ort::value::Tensor;
use redub_onnx::Session;
use std::collections::HashMap;
use std::path::Path;

/// Output sample rate of Kokoro.
pub const RATE: u32 = 24_000;

/// Languages whose espeak-ng IPA maps well enough onto Kokoro's phoneme inventory.
pub const LANGUAGES: &[&str] = &["es", "en", "fr", "it", "pt", "hi", "ja"];

/// Width of one style vector.
const STYLE_DIM: usize = 256;
/// Rows of a voice file: one style per phoneme count 0..=509.
const STYLE_ROWS: usize = 510;
/// Most phoneme ids in one model call: the model has 512 positions, two go to the pad tokens.
const MAX_IDS: usize = 510;
/// One frame of Kokoro's decoder: 600 samples at 24 kHz.
const FRAME_MS: f64 = 25.0;
/// Kokoro gives a piece's last sound a long duration (about 22 frames in the sample's lines)
/// that ends in silence, which the trimming removes; about this many frames of it sound
/// (measured on the sample's lines: 5.9 and 6.1).
const LAST_SOUND_FRAMES: f32 = 6.0;
/// Pause put between pieces of a text too long for one call.
const PIECE_GAP_MS: u64 = 150;
/// Kokoro's quality falls off outside this range; requests beyond it are clamped.
const SPEED_RANGE: (f32, f32) = (0.5, 2.0);

/// espeak-ng IPA → Kokoro's inventory, longest first. Kokoro v1.0 has one token for each
/// diphthong (A I O Q W Y) and affricate (ʤ ʧ ʦ ʣ ʨ ʥ) where espeak-ng writes two tied letters;
/// the other tied pairs are just untied. Its `g` is U+0261 only, and espeak-ng's Japanese writes
/// a precomposed `ä` for its central /a/. Anything else outside the vocabulary is dropped later.
const IPA_TO_KOKORO: &[(&str, &str)] = &[
    ("a^ɪ", "I"),
    ("a^ʊ", "W"),
    ("e^ɪ", "A"),
    ("o^ʊ", "O"),
    ("ə^ʊ", "Q"),
    ("ɔ^ɪ", "Y"),
    ("d^ʒ", "ʤ"),
    ("t^ʃ", "ʧ"),
    ("t^s", "ʦ"),
    ("d^z", "ʣ"),
    ("t^ɕ", "ʨ"),
    ("d^ʑ", "ʥ"),
    ("^", ""),
    ("g", "ɡ"),
    ("ä", "a"),
];

/// Kokoro v1.0's int8 graph as it ships: its convolutions are `ConvInteger`, uint8 × uint8.
pub const GRAPH_INT8: &str = "kokoro/kokoro-v1.0.int8.onnx";
/// The same graph with those convolutions as uint8 × int8 matrix products, made at setup by
/// `scripts/kokoro_vnni.py` (the same integer products; the bias is added in float). ONNX
/// Runtime runs uint8 × int8 with the CPU's VNNI dot products, about 1.5× faster per line on
/// the 2-core Xeon; without VNNI its int16 sums saturate, so it is only for CPUs that have it.
pub const GRAPH_VNNI: &str = "kokoro/kokoro-v1.0.vnni.onnx";
/// Picks the graph by name: `int8` (the default) or `vnni`.
pub const GRAPH_ENV: &str = "REDUB_KOKORO_GRAPH";

/// Whether this CPU has the VNNI dot-product instructions ONNX Runtime's uint8 × int8 products need.
pub fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni") || std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The graph Kokoro speaks with: [`GRAPH_INT8`] unless [`GRAPH_ENV`] is `vnni`, which needs a
/// CPU with VNNI and the file setup makes. Not the default yet: on the sample its dub is as long
/// and as loud line by line, but Whisper hears it differently enough that the `dub_sample`
/// test's two round-trip measurements (per line and over the whole track) drift 7.1 points
/// apart against a bound of 5 (docs/voices.md, "Engine speed").
pub fn graph() -> Result<&'static str> {
    match std::env::var(GRAPH_ENV).ok().as_deref().map(str::trim) {
        None | Some("") | Some("int8") => Ok(GRAPH_INT8),
        Some("vnni") if cpu_has_vnni() => Ok(GRAPH_VNNI),
        Some("vnni") => Err(Error::Usage(format!(
            "{GRAPH_ENV}=vnni: this CPU has no VNNI (AVX-512 VNNI or AVX-VNNI), and without it the VNNI graph's \
             uint8 x int8 sums saturate; unset {GRAPH_ENV}"
        ))),
        Some(other) => Err(Error::Usage(format!("{GRAPH_ENV}={other}: the Kokoro graphs are `int8` and `vnni`"))),
    }
}

/// Kokoro-82M through ONNX Runtime. Only Japanese voice styles ship with the model files setup
/// installs, so other languages are spoken with a Japanese accent (known and accepted).
pub struct Kokoro {
    /// Made on the first synthesis, not at load: building it takes over a second on 2 cores, and
    /// a job's translate and voices stages load an engine for its voice names and usually
    /// read only cached probes with it.
    session: Option<Session>,
    model: std::path::PathBuf,
    /// The duration predictor cut out of the model at setup (scripts/kokoro_durations.py), for
    /// [`Synthesizer::plan`]; made on first use like `session`. `None` in a models folder made
    /// before it existed: lines are then fitted by measuring takes.
    durations: Option<Session>,
    durations_model: Option<std::path::PathBuf>,
    threads: usize,
    vocab: HashMap<char, i64>,
    /// Voice name → its `[STYLE_ROWS, STYLE_DIM]` style table, in `voices.json` order.
    voices: Vec<(String, Vec<f32>)>,
}

impl std::fmt::Debug for Kokoro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kokoro").field("voices", &self.voice_names()).finish_non_exhaustive()
    }
}

impl Kokoro {
    /// Load the model, vocabulary and voices from `models/kokoro/`, using all cores.
    pub fn load() -> Result<Self> {
        Self::load_with_threads(0)
    }

    /// Like [`Kokoro::load`] with `threads` ONNX Runtime threads (0 = all cores). The files are
    /// checked and the voices read here; the ONNX Runtime session is built on the first
    /// synthesis, so engines loaded side by side build theirs side by side too.
    pub fn load_with_threads(threads: usize) -> Result<Self> {
        Self::load_graph(graph()?, threads)
    }

    /// Like [`Kokoro::load_with_threads`] with the graph `rel` under the models folder
    /// ([`GRAPH_INT8`] or [`GRAPH_VNNI`]) whatever this CPU has.
    pub fn load_graph(rel: &str, threads: usize) -> Result<Self> {
        let model = model_file(rel, "Kokoro TTS model")?;
        let vocab = load_vocab(&model_file("kokoro/vocab.json", "Kokoro vocabulary")?)?;
        let list = model_file("kokoro/voices.json", "Kokoro voice list")?;
        let names = load_voice_names(&list)?;
        let mut voices = Vec::with_capacity(names.len());
        for name in names {
            let file = model_file(&format!("kokoro/voices/{name}.f32"), &format!("Kokoro voice {name}"))?;
            voices.push((name, load_style(&file)?));
        }
        if voices.is_empty() {
            return Err(Error::backend("kokoro", format!("{} lists no voices; run `make setup`", list.display())));
        }
        // The session itself waits for the first line (a job that has nothing left to speak
        // never pays for it), but a missing runtime library should fail here, when the engine is
        // chosen, and loading it is only a dlopen.
        redub_onnx::environment()?;
        let durations_model = model_file("kokoro/kokoro-durations.onnx", "Kokoro duration predictor").ok();
        Ok(Self { session: None, model, threads, durations: None, durations_model, vocab, voices })
    }

    /// Whether Kokoro is the engine for `lang` (its primary subtag, so `pt-br` counts).
    pub fn speaks(lang: &str) -> bool {
        let code = lang.trim().to_ascii_lowercase().replace('_', "-");
        LANGUAGES.contains(&phonemize::base(&code))
    }

    fn voice_names(&self) -> Vec<String> {
        self.voices.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The phoneme ids of `text`; characters outside the vocabulary are skipped.
    pub fn ids(&self, text: &str, lang: &str) -> Result<Vec<i64>> {
        let mut ps = phonemize::ipa_tied(text, lang)?;
        for (from, to) in IPA_TO_KOKORO {
            ps = ps.replace(from, to);
        }
        debug_assert!(!ps.contains(TIE));
        Ok(ps.chars().filter_map(|c| self.vocab.get(&c).copied()).collect())
    }

    /// One model call: ids (at most MAX_IDS) and their style row → trimmed waveform.
    fn infer(&mut self, ids: &[i64], style: Vec<f32>, speed: f32) -> Result<Vec<f32>> {
        let fail = |e: redub_onnx::ort::Error| Error::backend("kokoro", e);
        // The session first: building it loads ONNX Runtime's library (`redub_onnx`), which
        // the tensors below need. In a process whose first ONNX call is this one (a job
        // resumed at 08-synthesize), tensors made before it panicked in `ort`.
        let session = match self.session {
            Some(ref mut s) => s,
            None => self.session.insert(redub_onnx::session(&self.model, self.threads)?),
        };
        let tokens = Tensor::from_array(([1usize, ids.len() + 2], padded(ids))).map_err(fail)?;
        let style = Tensor::from_array(([1usize, STYLE_DIM], style)).map_err(fail)?;
        let speed = Tensor::from_array(([1usize], vec![speed])).map_err(fail)?;
        let outputs = session
            .run(redub_onnx::ort::inputs!["tokens" => tokens, "style" => style, "speed" => speed])
            .map_err(fail)?;
        let wave = outputs.values().next().ok_or_else(|| Error::backend("kokoro", "the model returned no output"))?;
        let (_, samples) = wave.try_extract_tensor::<f32>().map_err(fail)?;
        Ok(crate::trim_silence(samples, RATE).to_vec())
    }
}

impl Synthesizer for Kokoro {
    /// `voice` is one of [`Synthesizer::voices`] (empty: the first); `speed` is clamped to
    /// 0.5–2.0. Text too long for one model call is spoken in pieces cut at sentence, clause or
    /// word boundaries and joined with 150 ms pauses.
    fn synthesize(&mut self, text: &str, lang: &str, voice: &str, speed: f32) -> Result<Audio> {
        if !speed.is_finite() || speed <= 0.0 {
            return Err(Error::backend("kokoro", format!("speed must be a positive number, got {speed}")));
        }
        let speed = speed.clamp(SPEED_RANGE.0, SPEED_RANGE.1);
        let Some(calls) = self.calls(text, lang, voice)? else { return Ok(Audio::new(RATE, Vec::new())) };
        let mut samples = Vec::new();
        for (piece, row) in calls {
            let wave = self.infer(&piece, row, speed)?;
            if !samples.is_empty() && !wave.is_empty() {
                samples.extend(Audio::silence(RATE, PIECE_GAP_MS).samples);
            }
            samples.extend(wave);
        }
        Ok(Audio::new(RATE, samples))
    }

    /// The durations Kokoro's predictor gives each token of each model call `synthesize` would
    /// make: one small model run per call, a few percent of speaking it.
    fn plan(&mut self, text: &str, lang: &str, voice: &str) -> Result<Option<LengthPlan>> {
        let Some(path) = self.durations_model.clone() else { return Ok(None) };
        let Some(calls) = self.calls(text, lang, voice)? else { return Ok(None) };
        let fail = |e: redub_onnx::ort::Error| Error::backend("kokoro", e);
        // What a take keeps once its silent edges are trimmed: not the pad tokens, nor the
        // pauses of leading or trailing punctuation and spaces.
        let kept: Vec<Option<(usize, usize)>> = calls
            .iter()
            .map(|(piece, _)| {
                let sounding = |k: &usize| !self.is_punct(piece[*k]);
                Some(((0..piece.len()).find(sounding)?, (0..piece.len()).rfind(sounding)?))
            })
            .collect();
        let session = match self.durations {
            Some(ref mut s) => s,
            // One thread: it is a small model, and the synthesis threads keep the cores busy.
            None => self.durations.insert(redub_onnx::session(&path, 1)?),
        };
        let mut pieces = Vec::with_capacity(calls.len());
        for ((piece, row), kept) in calls.into_iter().zip(kept) {
            let Some((a, b)) = kept else { continue };
            let tokens = Tensor::from_array(([1usize, piece.len() + 2], padded(&piece))).map_err(fail)?;
            let style = Tensor::from_array(([1usize, STYLE_DIM], row)).map_err(fail)?;
            let outputs = session.run(redub_onnx::ort::inputs!["tokens" => tokens, "style" => style]).map_err(fail)?;
            let d = outputs
                .values()
                .next()
                .ok_or_else(|| Error::backend("kokoro", "the duration model returned no output"))?;
            let (_, d) = d.try_extract_tensor::<f32>().map_err(fail)?;
            let mut kept = d.get(a + 1..=b + 1).unwrap_or_default().to_vec();
            if let Some(last) = kept.last_mut() {
                *last = last.min(LAST_SOUND_FRAMES);
            }
            pieces.push(kept);
        }
        Ok(Some(LengthPlan { pieces, frame_ms: FRAME_MS, gap_ms: PIECE_GAP_MS, speed_range: SPEED_RANGE }))
    }

    fn voices(&self, lang: &str) -> Vec<String> {
        if Self::speaks(lang) || phonemize::has_voice(lang).unwrap_or(false) {
            self.voice_names()
        } else {
            Vec::new()
        }
    }
}

impl Kokoro {
    /// The model calls that speak `text` in `voice`: each piece's ids and its style row;
    /// `None` for a text with nothing to say ("…").
    #[allow(clippy::type_complexity)]
    fn calls(&self, text: &str, lang: &str, voice: &str) -> Result<Option<Vec<(Vec<i64>, Vec<f32>)>>> {
        let style = match voice {
            "" => 0,
            v => self.voices.iter().position(|(n, _)| n == v).ok_or_else(|| {
                Error::Unsupported(format!("Kokoro has no voice '{v}'; it has {}", self.voice_names().join(", ")))
            })?,
        };
        if !text.chars().any(char::is_alphanumeric) {
            return Ok(None);
        }
        let ids = self.ids(text, lang)?;
        if ids.iter().all(|id| self.is_punct(*id)) {
            return Err(Error::Unsupported(format!("Kokoro: nothing pronounceable in {text:?} ({lang})")));
        }
        // The voice table has one style per utterance length (in phonemes).
        let table = &self.voices[style].1;
        let calls = pieces(&ids, MAX_IDS, |id| self.punct_rank(id))
            .into_iter()
            .map(|piece| {
                let row = piece.len().min(STYLE_ROWS - 1);
                (piece.to_vec(), table[row * STYLE_DIM..(row + 1) * STYLE_DIM].to_vec())
            })
            .collect();
        Ok(Some(calls))
    }

    fn id_of(&self, c: char) -> Option<i64> {
        self.vocab.get(&c).copied()
    }

    fn is_punct(&self, id: i64) -> bool {
        self.punct_rank(id) > 0 || self.id_of(' ') == Some(id)
    }

    /// How good a place to cut a long text `id` is: 3 after a sentence, 2 after a clause,
    /// 1 at a word gap, 0 elsewhere.
    fn punct_rank(&self, id: i64) -> u8 {
        let is = |chars: &str| chars.chars().any(|c| self.id_of(c) == Some(id));
        if is(".!?…") {
            3
        } else if is(",;:—") {
            2
        } else if is(" ") {
            1
        } else {
            0
        }
    }
}

/// Cut `ids` into pieces of at most `max`, each ending at the best break `rank` offers in its
/// last three quarters (so no piece is tiny), or at `max` when there is none.
/// `ids` between the pad token (0) at either end, as the model takes them.
fn padded(ids: &[i64]) -> Vec<i64> {
    let mut tokens = Vec::with_capacity(ids.len() + 2);
    tokens.push(0);
    tokens.extend_from_slice(ids);
    tokens.push(0);
    tokens
}

fn pieces(ids: &[i64], max: usize, rank: impl Fn(i64) -> u8) -> Vec<&[i64]> {
    let mut out = Vec::new();
    let mut rest = ids;
    while rest.len() > max {
        let window = &rest[..max];
        let mut cut = max;
        for level in [3, 2, 1] {
            if let Some(i) = (max / 4..max).rev().find(|&i| rank(window[i]) >= level) {
                cut = i + 1;
                break;
            }
        }
        let mut piece = &rest[..cut];
        // A piece should neither end nor start with a word gap (it would be a pause).
        while piece.len() > 1 && piece.last().is_some_and(|&id| rank(id) == 1) {
            piece = &piece[..piece.len() - 1];
        }
        out.push(piece);
        rest = &rest[cut..];
        while rest.first().is_some_and(|&id| rank(id) == 1) {
            rest = &rest[1..];
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn load_vocab(path: &Path) -> Result<HashMap<char, i64>> {
    let map: HashMap<String, i64> =
        serde_json::from_slice(&read(path)?).map_err(|source| Error::Json { path: path.into(), source })?;
    // Keys are single characters; a longer key could never match one anyway.
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| (k.chars().count() == 1).then(|| k.chars().next().map(|c| (c, v)))?)
        .collect())
}

fn load_voice_names(path: &Path) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct List {
        voices: Vec<String>,
    }
    let list: List =
        serde_json::from_slice(&read(path)?).map_err(|source| Error::Json { path: path.into(), source })?;
    Ok(list.voices)
}

fn load_style(path: &Path) -> Result<Vec<f32>> {
    let bytes = read(path)?;
    if bytes.len() != STYLE_ROWS * STYLE_DIM * 4 {
        return Err(Error::backend(
            "kokoro",
            format!(
                "{}: {} bytes, expected {} ({STYLE_ROWS}×{STYLE_DIM} f32); run `make setup` again",
                path.display(),
                bytes.len(),
                STYLE_ROWS * STYLE_DIM * 4
            ),
        ));
    }
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cut_at_the_best_break() {
        // 9 = sentence end, 5 = space, others phonemes.
        let rank = |id: i64| match id {
            9 => 3,
            5 => 1,
            _ => 0,
        };
        let ids = [1, 1, 1, 5, 1, 1, 9, 5, 1, 1, 5, 1, 1, 1];
        let p = pieces(&ids, 8, rank);
        assert_eq!(p[0], &[1, 1, 1, 5, 1, 1, 9]);
        assert_eq!(p[1], &[1, 1, 5, 1, 1, 1]);
        let p = pieces(&[1, 1, 1, 5, 1, 1, 1, 1, 5, 1, 1], 8, rank);
        assert_eq!(p, vec![&[1, 1, 1][..], &[1, 1, 1, 1, 5, 1, 1][..]]);
        let long = [1i64; 20];
        let p = pieces(&long, 8, rank);
        assert_eq!(p.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![8, 8, 4]);
    }
}
