//! Whisper base on ONNX Runtime: the three graphs `scripts/ct2_whisper_to_onnx.py` writes from
//! the CTranslate2 export (float32 encoder, int8 cross K/V and decoder), with the log-mel,
//! beam search, token rules, temperature fallback, BPE decoding and DTW word timing done here.
//! It plans, packs and post-processes windows exactly as the whisper.cpp backend does
//! (`shared.rs`); numbers in docs/asr-onnx.md.

mod align;
mod mel;
mod model;
mod search;
mod vocab;

pub use mel::{log_mel, MelFilters};

use crate::pack::{self, Packed};
use crate::shared::{self, Threads, Token, WindowDecoder, RATE};
use model::{Cross, Sessions};
use redub_core::{Audio, Ctx, Error, Result, Segment, Span, Transcriber};
use search::{Hyp, Rules, Strategy};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;
use vocab::Vocab;

/// Where setup puts the graphs, the vocabulary, the mel filters and config.json, under
/// `$REDUB_HOME/models`.
pub const ONNX_MODEL_DIR: &str = "whisper-base/onnx";

/// Most tokens sampled per window (Whisper's `sample_len`: half the text context).
const MAX_TOKENS: usize = 224;
/// Whisper's thresholds: a result whose average log-probability is below this is decoded again
/// at a higher temperature, and one with a likely `<|nospeech|>` as well is dropped as silence.
const LOGPROB_MIN: f64 = -1.0;
const NO_SPEECH_MIN: f32 = 0.6;
/// Whisper's fallback temperatures and its `best_of` for the ones above 0.
const TEMPERATURES: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
const BEST_OF: usize = 5;

#[derive(Clone, Debug, PartialEq)]
pub struct OnnxWhisperSettings {
    /// Folder with encoder.onnx, cross_kv.onnx, decoder.onnx, vocabulary.txt, mel_filters.bin
    /// and config.json (default: [`ONNX_MODEL_DIR`] under `$REDUB_HOME/models`).
    pub model_dir: Option<PathBuf>,
    /// Threads for a call in all (default: all cores).
    pub threads: usize,
    /// ONNX Runtime threads inside one window. `None` (default): a call with one window gives
    /// it all `threads`; a call with several decodes up to `threads` windows side by side, one
    /// thread each (as `WhisperSettings::window_threads`).
    pub window_threads: Option<usize>,
    /// Beam size; 1 means greedy (default 8; faster-whisper's is 5: on 1420 words of 12
    /// inputs in 4 languages, 8 made 283 errors against 294, in 7% more time, about what the
    /// timestamp tokens cost before; docs/asr-onnx.md "Decoding without timestamps").
    pub beam_size: usize,
    /// Most regions and shortened pauses packed into one window (default 28 s, see `pack.rs`).
    pub max_window_ms: u64,
    /// A pause between two packed regions is shortened to this much of its own audio (400 ms).
    pub pause_ms: u64,
    /// Decode again at higher temperatures when a result looks like a hallucination (average
    /// log-probability under -1, or repetitive), as Whisper's reference decoder does.
    pub fallback: bool,
    /// ONNX Runtime's intra-op threads spin while waiting for work (ORT's own default). Default
    /// off here: on a busy 2-core machine, 2 spinning threads inside a window took 1.6–1.8× as
    /// long as 1 thread, and 2 threads without spinning as long as 1 (docs/asr-onnx.md; a quiet
    /// machine was not measured).
    pub spin: bool,
    /// Decode Whisper's timestamp tokens. Off by default: word times come from the alignment
    /// pass, and lines from sentence punctuation, so the timestamps only added segment breaks,
    /// and cost words: text-only decoding made 294 errors against 334 on the same 12 inputs
    /// (the sample: 13 against 15), in 3% less time (docs/asr-onnx.md).
    pub timestamps: bool,
}

impl Default for OnnxWhisperSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self {
            model_dir: None,
            threads,
            window_threads: None,
            beam_size: 8,
            max_window_ms: 28_000,
            pause_ms: 400,
            fallback: true,
            spin: false,
            timestamps: false,
        }
    }
}

/// Where a transcriber's time went, summed over the windows decoded since it was loaded
/// (seconds of each window's own thread; for benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OnnxStats {
    pub windows: usize,
    /// Decodings at a fallback temperature (0 when every window passed at temperature 0).
    pub fallbacks: usize,
    pub mel_s: f64,
    /// Encoder and cross K/V.
    pub encode_s: f64,
    /// Search (beam, fallback), decoder calls included.
    pub decode_s: f64,
    /// The word-timing pass and DTW.
    pub align_s: f64,
    /// Decoder calls and their time (all of them, the timing pass's too).
    pub decoder_calls: usize,
    pub decoder_s: f64,
}

/// Whisper base through ONNX Runtime, a [`Transcriber`] that plans and post-processes like
/// [`crate::Whisper`].
pub struct OnnxWhisper {
    settings: OnnxWhisperSettings,
    dir: PathBuf,
    vocab: Vocab,
    rules: Rules,
    filters: MelFilters,
    /// Session sets not in use, each with its thread count (a set decodes one window at a time).
    idle: Mutex<Vec<Sessions>>,
    stats: Mutex<OnnxStats>,
}

impl std::fmt::Debug for OnnxWhisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxWhisper").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::backend("whisper-onnx", e)
}

/// The parts of config.json (CTranslate2's Whisper config) the decoder needs.
fn read_config(path: &Path) -> Result<(Vec<u32>, Vec<u32>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {}: {e}. Run `make setup`", path.display())))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("{}: {e}. Rerun `make setup`", path.display())))?;
    let ids = |key: &str| -> Result<Vec<u32>> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok())).collect())
            .ok_or_else(|| fail(format!("{}: no `{key}` list. Rerun `make setup`", path.display())))
    };
    Ok((ids("suppress_ids")?, ids("suppress_ids_begin")?))
}

impl OnnxWhisper {
    pub fn load(settings: OnnxWhisperSettings) -> Result<Self> {
        let dir = match &settings.model_dir {
            Some(p) => p.clone(),
            None => redub_core::paths::models_dir().join(ONNX_MODEL_DIR),
        };
        if !dir.is_dir() {
            return Err(Error::MissingModel { what: "Whisper ONNX model folder (run `make setup`)".into(), path: dir });
        }
        let vocab = Vocab::load(&dir.join("vocabulary.txt"))?;
        let (suppress, suppress_begin) = read_config(&dir.join("config.json"))?;
        let mut rules = Rules::new(&suppress, &suppress_begin, &vocab.specials);
        if !settings.timestamps {
            rules = rules.without_timestamps();
        }
        let filters = MelFilters::load(&dir.join("mel_filters.bin"))?;
        // One set now, so that a missing or broken graph fails at load, not at the first window.
        let first = Sessions::load(&dir, settings.threads.max(1), settings.spin)?;
        Ok(Self { settings, dir, vocab, rules, filters, idle: Mutex::new(vec![first]), stats: Mutex::default() })
    }

    pub fn model_dir(&self) -> &Path {
        &self.dir
    }

    pub fn settings(&self) -> &OnnxWhisperSettings {
        &self.settings
    }

    pub fn stats(&self) -> OnnxStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn add_stats(&self, f: impl FnOnce(&mut OnnxStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    /// Run `f` on an idle session set with `threads` threads (made on first need and kept).
    fn with_sessions<R>(&self, threads: usize, f: impl FnOnce(&mut Sessions) -> Result<R>) -> Result<R> {
        let found = {
            let mut idle = self.idle.lock().map_err(|_| fail("a decoding thread panicked"))?;
            idle.iter().position(|s| s.threads == threads).map(|i| idle.swap_remove(i))
        };
        let mut s = match found {
            Some(s) => s,
            None => Sessions::load(&self.dir, threads, self.settings.spin)?,
        };
        let r = f(&mut s);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(s);
        }
        r
    }

    /// Beam search at temperature 0, then sampling at the fallback temperatures while the result
    /// looks like a hallucination (Whisper's rules, with whisper.cpp's entropy test standing in
    /// for the compression ratio; docs/asr-onnx.md). `None`: the window is silence.
    fn decode_with_fallback(&self, s: &mut Sessions, cross: &Cross, prompt: &[i64]) -> Result<(Option<Hyp>, usize)> {
        let temps: &[f32] = if self.settings.fallback { &TEMPERATURES } else { &TEMPERATURES[..1] };
        let (mut last, mut tries) = (None, 0);
        for (i, &t) in temps.iter().enumerate() {
            tries = i;
            let strategy = if t == 0.0 {
                Strategy::Beam(self.settings.beam_size)
            } else {
                Strategy::Sample { n: BEST_OF, temperature: t, seed: i as u64 }
            };
            let d = search::decode(s, cross, &self.rules, &self.vocab.specials, prompt, strategy, MAX_TOKENS)?;
            let poor = d.best.avg_logprob() < LOGPROB_MIN || search::is_repetitive(&d.best.tokens);
            let done = !poor || d.no_speech > NO_SPEECH_MIN;
            last = Some(d);
            if done {
                break;
            }
        }
        let hyp = last.filter(|d| !(d.no_speech > NO_SPEECH_MIN && d.best.avg_logprob() < LOGPROB_MIN)).map(|d| d.best);
        Ok((hyp, tries))
    }

    /// The text tokens of `hyp` with their Whisper segment, start time (DTW over one decoder
    /// pass of the final tokens) and probability, joined where a character spans tokens.
    fn timed_tokens(
        &self,
        s: &mut Sessions,
        cross: &Cross,
        lang_token: i64,
        hyp: &Hyp,
        content: usize,
    ) -> Result<Vec<Token>> {
        let sp = &self.vocab.specials;
        let text = text_tokens(hyp, sp.eot, sp.timestamp_begin);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let mut tokens = vec![i64::from(sp.sot), lang_token, i64::from(sp.transcribe), i64::from(sp.no_timestamps)];
        let first = tokens.len() - 1; // the no-timestamps query predicts the first text token
        tokens.extend(text.iter().map(|t| i64::from(t.1)));
        tokens.push(i64::from(sp.eot));
        let empty = s.empty_kv(1)?;
        let step = s.step(cross, &tokens, &empty, None, true)?;
        let (a, dims) = step.alignment.ok_or_else(|| fail("decoder.onnx gave no alignment"))?;
        let starts = align::token_starts(&a, dims, first, text.len() + 1, content / 2);
        let mut out: Vec<Token> = Vec::new();
        let mut pending: Option<(Token, Vec<u8>, Vec<f32>)> = None;
        for (i, &(seg, tok, lp)) in text.iter().enumerate() {
            let (t, mut bytes, mut ps) = match pending.take() {
                Some(p) if p.0.seg == seg => p,
                other => {
                    out.extend(other.map(|(t, b, ps)| finish(t, &b, &ps)));
                    (Token { seg, text: String::new(), start_ms: starts[i], p: 0.0 }, Vec::new(), Vec::new())
                }
            };
            bytes.extend_from_slice(self.vocab.token_bytes(tok));
            ps.push(lp.exp());
            if std::str::from_utf8(&bytes).is_ok() {
                out.push(finish(t, &bytes, &ps));
            } else {
                pending = Some((t, bytes, ps)); // a character continues in the next token
            }
        }
        out.extend(pending.map(|(t, b, ps)| finish(t, &b, &ps)));
        Ok(out)
    }
}

fn finish(mut t: Token, bytes: &[u8], ps: &[f32]) -> Token {
    t.text = String::from_utf8_lossy(bytes).into_owned();
    t.p = ps.iter().sum::<f32>() / ps.len().max(1) as f32;
    t
}

/// (segment, token, log-probability) of each text token: a new Whisper segment starts at text
/// after a timestamp that closed text.
fn text_tokens(hyp: &Hyp, eot: u32, ts_begin: u32) -> Vec<(usize, u32, f32)> {
    let (mut seg, mut after_ts, mut has_text) = (0, false, false);
    let mut out = Vec::new();
    for (&t, &lp) in hyp.tokens.iter().zip(&hyp.logprobs) {
        if t >= ts_begin {
            after_ts = true;
            continue;
        }
        if t >= eot {
            continue;
        }
        if after_ts && has_text {
            seg += 1;
        }
        (after_ts, has_text) = (false, true);
        out.push((seg, t, lp));
    }
    out
}

impl WindowDecoder for OnnxWhisper {
    const NAME: &'static str = "whisper-onnx";

    /// One 30 s encoder pass and one decoding of a packed group (a group is at most 28.8 s, so
    /// it never needs Whisper's seek; a window that ends early is handled by `decode_group`).
    fn decode_window(&self, audio: &Audio, group: &[Span], lang: Option<&str>, threads: usize) -> Result<Vec<Segment>> {
        // The same 400 ms edges as the whisper.cpp backend (see whisper.rs).
        let packed = Packed::with_edges(group, self.settings.pause_ms, self.settings.pause_ms);
        let samples = packed.samples(audio);
        if samples.len() < RATE as usize / 10 {
            return Ok(Vec::new()); // under 100 ms: nothing Whisper can read
        }
        let t0 = Instant::now();
        let (mel, content) = log_mel(&samples[..samples.len().min(RATE as usize * 30)], &self.filters);
        let mel_s = t0.elapsed().as_secs_f64();
        let (tokens, lang) = self.with_sessions(threads, |s| {
            let (calls, call_s) = (s.steps, s.step_s);
            let t0 = Instant::now();
            let cross = s.encode(mel)?;
            let t1 = Instant::now();
            let lang = match lang {
                Some(l) => l.to_string(),
                None => search::detect_language(s, &cross, &self.vocab.specials)?.0,
            };
            let lang_token = self.vocab.language_token(&lang).ok_or_else(|| {
                fail(format!("Whisper has no language `{lang}` (use a code such as en, fr, es, or leave it unset)"))
            })?;
            let sp = &self.vocab.specials;
            let mut prompt = vec![i64::from(sp.sot), i64::from(lang_token), i64::from(sp.transcribe)];
            if !self.rules.timestamps() {
                prompt.push(i64::from(sp.no_timestamps));
            }
            let (hyp, fallbacks) = self.decode_with_fallback(s, &cross, &prompt)?;
            let t2 = Instant::now();
            let tokens = match hyp {
                Some(hyp) => self.timed_tokens(s, &cross, i64::from(lang_token), &hyp, content)?,
                None => Vec::new(),
            };
            self.add_stats(|st| {
                st.windows += 1;
                st.fallbacks += fallbacks;
                st.mel_s += mel_s;
                st.encode_s += (t1 - t0).as_secs_f64();
                st.decode_s += (t2 - t1).as_secs_f64();
                st.align_s += t2.elapsed().as_secs_f64();
                st.decoder_calls += s.steps - calls;
                st.decoder_s += s.step_s - call_s;
            });
            Ok((tokens, lang))
        })?;
        let words = shared::assemble_words(tokens, packed.duration_ms());
        Ok(shared::finish_window(words, &packed, group, &lang))
    }
}

impl Transcriber for OnnxWhisper {
    /// As [`crate::Whisper`]: each planned group is decoded on its own; with `lang` unknown,
    /// each group's language is detected on that group.
    fn transcribe(&mut self, audio: &Audio, regions: &[Span], lang: Option<&str>, ctx: &Ctx) -> Result<Vec<Segment>> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let groups = self.plan(regions);
        let threads = Threads { total: self.settings.threads, per_window: self.settings.window_threads };
        let per_group = shared::decode_all(&*self, threads, audio, &groups, lang, ctx)?;
        let mut segments: Vec<Segment> = per_group.into_iter().flatten().collect();
        for (i, s) in segments.iter_mut().enumerate() {
            s.id = i as u32;
        }
        Ok(segments)
    }

    fn plan(&self, regions: &[Span]) -> Vec<Vec<Span>> {
        pack::plan(regions, self.settings.max_window_ms, self.settings.pause_ms)
    }

    /// The language of the first 30 s.
    fn detect_language(&mut self, audio: &Audio) -> Result<(String, f32)> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let n = audio.samples.len().min(RATE as usize * 30);
        let (mel, _) = log_mel(&audio.samples[..n], &self.filters);
        self.with_sessions(self.settings.threads.max(1), |s| {
            let cross = s.encode(mel)?;
            search::detect_language(s, &cross, &self.vocab.specials)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_timestamp_pairs() {
        // <0.00> a b <1.00><1.00> c <2.00> eot: two segments; 10 = end-of-text, 16.. timestamps.
        let toks = [16, 1, 2, 66, 66, 3, 116];
        let hyp = Hyp { tokens: toks.to_vec(), logprobs: vec![-0.1; toks.len()], sum: -0.7 };
        let segs: Vec<(usize, u32)> = text_tokens(&hyp, 10, 16).into_iter().map(|(s, t, _)| (s, t)).collect();
        assert_eq!(segs, vec![(0, 1), (0, 2), (1, 3)]);
    }
}
