//! Whisper through whisper.cpp. The model is loaded once per process (the context is the big
//! part); each call makes a fresh decoding state.

use crate::pack::{self, Packed};
use crate::shared::{self, Threads, Token, WindowDecoder, RATE};
use redub_core::{Audio, Ctx, Error, Result, Segment, Span, Transcriber, Word};
use std::path::{Path, PathBuf};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
    WhisperState,
};

/// The model setup builds: Whisper base with q8_0 weights (docs/asr.md: as accurate as f16 on
/// the sample, a third less compute).
pub const MODEL: &str = "whisper-base/ggml-base-q8_0.bin";

#[derive(Clone, Debug, PartialEq)]
pub struct WhisperSettings {
    /// ggml model file (default: [`MODEL`] under `$REDUB_HOME/models`).
    pub model: Option<PathBuf>,
    /// Threads for a call in all (default: all cores).
    pub threads: usize,
    /// whisper.cpp threads inside one window. `None` (default): a call with one window gives it
    /// all `threads`; a call with several decodes up to `threads` windows side by side, one
    /// thread each. `Some(1)` is the robust choice on a machine shared with other work (see
    /// `Whisper::decode_all`).
    pub window_threads: Option<usize>,
    /// Beam size; 1 means greedy with temperature fallback (default 5, as faster-whisper).
    pub beam_size: usize,
    /// Most regions and shortened pauses packed into one window (default 28 s; the window's two
    /// edges add up to `pause_ms` each, so it stays under Whisper's 30 s).
    pub max_window_ms: u64,
    /// A pause between two regions packed into one window is shortened to this much of its own
    /// audio (default 400 ms; see `pack.rs`).
    pub pause_ms: u64,
    /// whisper.cpp's flash attention. Off: whisper.cpp then disables DTW, and word times fall
    /// back to the timestamp tokens, which drift by up to a second.
    pub flash_attn: bool,
    /// Decode again at higher temperatures when a result looks like a hallucination (average
    /// log probability under -1 or too repetitive), as Whisper's reference decoder does.
    pub fallback: bool,
}

impl Default for WhisperSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self {
            model: None,
            threads,
            window_threads: None,
            beam_size: 5,
            max_window_ms: 28_000,
            pause_ms: 400,
            flash_attn: false,
            fallback: true,
        }
    }
}

pub struct Whisper {
    ctx: WhisperContext,
    settings: WhisperSettings,
    model: PathBuf,
}

impl std::fmt::Debug for Whisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whisper").field("model", &self.model).finish_non_exhaustive()
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::backend("whisper", e)
}

impl Whisper {
    pub fn load(settings: WhisperSettings) -> Result<Self> {
        let model = match &settings.model {
            Some(p) => p.clone(),
            None => redub_core::paths::model_file(MODEL, "Whisper base model")?,
        };
        if !model.is_file() {
            return Err(Error::MissingModel { what: "Whisper model".into(), path: model });
        }
        // whisper.cpp logs every tensor it loads; route its logging to nowhere.
        whisper_rs::install_logging_hooks();
        let path = model.to_str().ok_or_else(|| fail(format!("{}: path is not UTF-8", model.display())))?;
        // Word times come from DTW over the cross-attention of Whisper base's alignment heads:
        // the timestamp tokens alone drift by up to a second on conversational speech.
        let mut cparams = WhisperContextParameters::default();
        cparams.flash_attn(settings.flash_attn);
        cparams.dtw_parameters(DtwParameters {
            mode: DtwMode::ModelPreset { model_preset: DtwModelPreset::Base },
            ..Default::default()
        });
        let ctx = WhisperContext::new_with_params(path, cparams)
            .map_err(|e| fail(format!("cannot load {}: {e}. Rerun `make setup` to rebuild it", model.display())))?;
        Ok(Self { ctx, settings, model })
    }

    pub fn model_path(&self) -> &Path {
        &self.model
    }

    pub fn settings(&self) -> &WhisperSettings {
        &self.settings
    }

    fn params<'a>(&self, lang: Option<&'a str>, threads: usize) -> FullParams<'a, 'a> {
        let strategy = if self.settings.beam_size > 1 {
            SamplingStrategy::BeamSearch { beam_size: self.settings.beam_size as i32, patience: -1.0 }
        } else {
            // Five samples per fallback temperature, as Whisper's reference decoder does.
            SamplingStrategy::Greedy { best_of: 5 }
        };
        let mut p = FullParams::new(strategy);
        p.set_n_threads(threads as i32);
        p.set_language(Some(lang.unwrap_or("auto")));
        p.set_token_timestamps(true);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_special(false);
        p.set_print_timestamps(false);
        p.set_no_context(true);
        p.set_suppress_nst(true);
        if !self.settings.fallback {
            p.set_temperature_inc(0.0);
        }
        p
    }

    /// Words of a decoded window in its own time, each tagged with the Whisper segment it came
    /// from.
    fn words(&self, state: &WhisperState, dur_ms: u64) -> Vec<(usize, Word)> {
        let eot = self.ctx.token_eot();
        let at = |ticks: i64| (ticks.max(0) as u64 * 10).min(dur_ms);
        let mut tokens = Vec::new();
        for (seg, s) in state.as_iter().enumerate() {
            for t in 0..s.n_tokens() {
                let Some(tok) = s.get_token(t) else { continue };
                if tok.token_id() >= eot {
                    continue; // special and timestamp tokens
                }
                let data = tok.token_data();
                let text = tok.to_str_lossy().map(|s| s.into_owned()).unwrap_or_default();
                // DTW time when available (it marks where the token starts), else Whisper's own.
                let start_ms = if data.t_dtw >= 0 { at(data.t_dtw) } else { at(data.t0) };
                tokens.push(Token { seg, text, start_ms, p: data.p });
            }
        }
        shared::assemble_words(tokens, dur_ms)
    }
}

impl WindowDecoder for Whisper {
    const NAME: &'static str = "whisper";

    /// One whisper.cpp call on a packed group.
    fn decode_window(&self, audio: &Audio, group: &[Span], lang: Option<&str>, threads: usize) -> Result<Vec<Segment>> {
        // Up to one kept pause (400 ms) of the source before the first region and after the last:
        // on the sample that moved the first "Hello?" from 1.14 s late to 0.26 s, and WER went
        // from 18.5% to 17.3%; 200 ms gave the same WER but left the first word late (docs/asr.md).
        let packed = Packed::with_edges(group, self.settings.pause_ms, self.settings.pause_ms);
        let samples = packed.samples(audio);
        if samples.len() < RATE as usize / 10 {
            return Ok(Vec::new()); // under 100 ms: nothing Whisper can read
        }
        let mut state = self.ctx.create_state().map_err(fail)?;
        state.full(self.params(lang, threads), &samples).map_err(fail)?;
        let detected = whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("en").to_string();
        let lang = lang.map(str::to_string).unwrap_or(detected);
        let words = self.words(&state, packed.duration_ms());
        Ok(shared::finish_window(words, &packed, group, &lang))
    }
}

impl Transcriber for Whisper {
    /// Each planned group is decoded on its own, so this gives for one group's regions exactly
    /// what it gives for that group inside a longer call. With `lang` unknown, each group's
    /// language is Whisper's own detection on that group (a packed group is up to 28 s, long
    /// enough for detection not to flip on short lines).
    fn transcribe(&mut self, audio: &Audio, regions: &[Span], lang: Option<&str>, ctx: &Ctx) -> Result<Vec<Segment>> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let groups = self.plan(regions);
        let threads = Threads { total: self.settings.threads, per_window: self.settings.window_threads };
        let per_group = shared::decode_all(self, threads, audio, &groups, lang, ctx)?;
        // Ids in time order, after all groups are in.
        let mut segments: Vec<Segment> = per_group.into_iter().flatten().collect();
        for (i, s) in segments.iter_mut().enumerate() {
            s.id = i as u32;
        }
        Ok(segments)
    }

    /// Regions packed into windows of at most `max_window_ms` of decoded audio, pauses
    /// shortened to `pause_ms` (see `pack.rs`).
    fn plan(&self, regions: &[Span]) -> Vec<Vec<Span>> {
        pack::plan(regions, self.settings.max_window_ms, self.settings.pause_ms)
    }

    fn detect_language(&mut self, audio: &Audio) -> Result<(String, f32)> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let mut state = self.ctx.create_state().map_err(fail)?;
        let n = audio.samples.len().min(RATE as usize * 30);
        state.pcm_to_mel(&audio.samples[..n], self.settings.threads).map_err(fail)?;
        let (id, probs) = state.lang_detect(0, self.settings.threads).map_err(fail)?;
        let code = whisper_rs::get_lang_str(id).ok_or_else(|| fail(format!("unknown language id {id}")))?;
        Ok((code.to_string(), probs.get(id as usize).copied().unwrap_or(0.0)))
    }
}
