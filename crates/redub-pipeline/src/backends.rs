//! Which backend serves each stage. [`OfflineBackends`] is the default stack (Silero VAD,
//! Whisper, pyannote segmentation + CAM++, Apertium, Kokoro/espeak-ng); tests substitute their own. Backends are built lazily,
//! so a rerun whose stages are all finished loads no model.

use crate::config::{CloningService, TranslatorConfig, VoiceConfig};
use redub_core::{
    Diarizer, Result, SpeakerEmbedder, SpeechSeparator, Synthesizer, Transcriber, Translator, VoiceActivityDetector,
};
use redub_diarize::DiarizeSettings;
use redub_translate::LlmSettings;

pub trait Backends {
    fn vad(&self) -> Result<Box<dyn VoiceActivityDetector>>;
    fn transcriber(&self) -> Result<Box<dyn Transcriber>>;
    fn diarizer(&self, settings: &DiarizeSettings) -> Result<Box<dyn Diarizer>>;
    /// The diarizer as chunks and a combination of them, for a job that hands its chunks to a
    /// farm ([`redub_diarize::SpeakerDiarizer::run_with`]); `None` (the default, and stand-ins
    /// for tests): [`diarizer`](Self::diarizer) diarizes the whole input here.
    fn chunked_diarizer(&self, _settings: &DiarizeSettings) -> Result<Option<redub_diarize::SpeakerDiarizer>> {
        Ok(None)
    }
    /// The Whisper that reads the dubbed track back in the qa stage (default: the job's own).
    fn round_trip_transcriber(&self) -> Result<Box<dyn Transcriber>> {
        self.transcriber()
    }
    /// The translator `config` names, with the job's glossary and register in `settings`.
    fn translator(
        &self,
        config: &TranslatorConfig,
        settings: &LlmSettings,
        from: &str,
        to: &str,
    ) -> Result<Box<dyn Translator>>;
    fn synthesizer(&self, lang: &str) -> Result<Box<dyn Synthesizer>>;
    /// The engine that reads the stock voices' probes and measures their speaking rate (07-voices
    /// and 06-translate), and what the probe cache is keyed by. Default: the job's own engine.
    /// Offline it is Kokoro's int8 graph whichever graph speaks (`REDUB_KOKORO_GRAPH`), so which
    /// voice a speaker gets does not depend on it: the choice's margins are within what another
    /// exact computation of the same voice moves them (bench/RESULTS.md, 2026-12-04).
    fn probe_synthesizer(&self, lang: &str) -> Result<Box<dyn Synthesizer>> {
        self.synthesizer(lang)
    }
    fn probe_identity(&self) -> serde_json::Value {
        self.identity("synthesize")
    }
    /// Engines that speak lines side by side, each on its own core; fewer than two: lines are
    /// spoken one at a time by [`synthesizer`](Self::synthesizer) (the default).
    fn parallel_synthesizers(&self, _lang: &str) -> Result<Vec<Box<dyn Synthesizer + Send>>> {
        Ok(Vec::new())
    }
    /// The speech/background separator; without one, a job that asks for separation ducks the
    /// original instead (with a warning). Stand-ins for tests have none.
    fn separator(&self) -> Result<Option<Box<dyn SpeechSeparator>>> {
        Ok(None)
    }
    /// The settings [`separator`](Self::separator) cuts the mix into pieces and joins their
    /// estimates with, for a job that hands the pieces to a farm
    /// ([`redub_separate::plan_pieces`]); `None` (the default): the separator runs here.
    fn piecewise_separation(&self) -> Option<redub_separate::SeparateSettings> {
        None
    }
    /// Speaker embeddings for choosing stock voices; without one, voices are chosen by pitch.
    fn embedder(&self) -> Result<Option<Box<dyn SpeakerEmbedder>>> {
        Ok(None)
    }
    /// The cloning service `config` names (`None`: stock voices).
    fn voice_service(&self, config: &VoiceConfig) -> Result<Option<Box<dyn CloningService>>> {
        config.build()
    }
    /// Where results that are the same for every job are kept (a stock voice reading the fixed
    /// probe text); `None` keeps nothing across jobs (the default, so stand-ins never share).
    fn shared_cache(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Names and model identities that go into the cache keys of each stage.
    fn identity(&self, stage: &str) -> serde_json::Value;
    /// Fail before any work if the pair cannot be served (`from` may be unknown yet).
    fn check_pair(&self, config: &TranslatorConfig, from: Option<&str>, to: &str) -> Result<()>;
}

/// The default offline stack: every stage a real model, nothing fetched at run time.
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineBackends {
    /// Which Whisper runtime transcribes (`--asr`).
    pub asr: Asr,
}

/// The Whisper base runtimes (docs/asr.md, docs/asr-onnx.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Asr {
    /// whisper.cpp with q8_0 weights: 17.3% word error rate on the sample, about 3.4× slower on
    /// this AVX2 machine (11.9 s against 3.5 s on the sample).
    WhisperCpp,
    /// Our own decoder on ONNX Runtime (fp32 encoder, int8 decoder): the default. Faster than
    /// faster-whisper on the same model here, word times close to its own; text-only decoding
    /// at beam 8 reads the sample at 13.6% (faster-whisper: 21.0%; docs/asr-onnx.md).
    #[default]
    Onnx,
}

impl std::str::FromStr for Asr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "whisper-cpp" | "whisper.cpp" => Ok(Self::WhisperCpp),
            "onnx" => Ok(Self::Onnx),
            other => Err(format!("unknown ASR runtime '{other}': use whisper-cpp or onnx")),
        }
    }
}

/// The qa stage's Whisper: the ONNX runtime's defaults, greedy.
fn round_trip_settings() -> redub_asr::OnnxWhisperSettings {
    redub_asr::OnnxWhisperSettings { beam_size: 1, ..Default::default() }
}

fn model_id(rel: &str) -> serde_json::Value {
    let p = redub_core::paths::models_dir().join(rel);
    let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    serde_json::json!({ "file": rel, "bytes": size })
}

impl Backends for OfflineBackends {
    fn vad(&self) -> Result<Box<dyn VoiceActivityDetector>> {
        Ok(Box::new(redub_vad::SileroVad::load(redub_vad::VadSettings::default())?))
    }

    fn transcriber(&self) -> Result<Box<dyn Transcriber>> {
        Ok(match self.asr {
            Asr::WhisperCpp => Box::new(redub_asr::Whisper::load(redub_asr::WhisperSettings::default())?),
            Asr::Onnx => Box::new(redub_asr::OnnxWhisper::load(redub_asr::OnnxWhisperSettings::default())?),
        })
    }

    fn diarizer(&self, settings: &DiarizeSettings) -> Result<Box<dyn Diarizer>> {
        Ok(Box::new(redub_diarize::SpeakerDiarizer::load(settings.clone())?))
    }

    /// The same diarizer as [`diarizer`](Backends::diarizer): whole or in chunks, one result.
    fn chunked_diarizer(&self, settings: &DiarizeSettings) -> Result<Option<redub_diarize::SpeakerDiarizer>> {
        Ok(Some(redub_diarize::SpeakerDiarizer::load(settings.clone())?))
    }

    /// Whisper base on ONNX Runtime, whichever runtime transcribes the source, greedy (with
    /// temperature fallback): on the sample it reads the dub back in 2.5 s against 4.0 s with
    /// beam 5 and 8.3 s with whisper.cpp, at the same round-trip WER (68.4%; docs/qa.md), and
    /// the qa stage should cost little next to the dub.
    fn round_trip_transcriber(&self) -> Result<Box<dyn Transcriber>> {
        Ok(Box::new(redub_asr::OnnxWhisper::load(round_trip_settings())?))
    }

    fn translator(
        &self,
        config: &TranslatorConfig,
        settings: &LlmSettings,
        from: &str,
        to: &str,
    ) -> Result<Box<dyn Translator>> {
        config.build(settings, from, to)
    }

    fn synthesizer(&self, lang: &str) -> Result<Box<dyn Synthesizer>> {
        let engine = redub_tts::engine_for(lang)?;
        Ok(engine)
    }

    fn probe_synthesizer(&self, lang: &str) -> Result<Box<dyn Synthesizer>> {
        Ok(redub_tts::probe_engine_for(lang)?)
    }

    fn probe_identity(&self) -> serde_json::Value {
        serde_json::json!({ "backend": "kokoro|espeak-ng", "model": model_id(redub_tts::kokoro::GRAPH_INT8) })
    }

    fn embedder(&self) -> Result<Option<Box<dyn SpeakerEmbedder>>> {
        Ok(Some(Box::new(redub_diarize::embed::Embedder::load()?)))
    }

    fn separator(&self) -> Result<Option<Box<dyn SpeechSeparator>>> {
        Ok(Some(Box::new(redub_separate::DeepFilterSeparator::load()?)))
    }

    /// `DeepFilterSeparator::load`'s settings: the pieces of `separator`'s own run.
    fn piecewise_separation(&self) -> Option<redub_separate::SeparateSettings> {
        Some(redub_separate::SeparateSettings::default())
    }

    fn parallel_synthesizers(&self, lang: &str) -> Result<Vec<Box<dyn Synthesizer + Send>>> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        if cores < 2 {
            return Ok(Vec::new());
        }
        // Past a few sessions the memory grows faster than the gain (one model copy each).
        redub_tts::engines_for(lang, cores.min(4))
    }

    fn shared_cache(&self) -> Option<std::path::PathBuf> {
        Some(redub_core::paths::redub_home().join("cache"))
    }

    fn identity(&self, stage: &str) -> serde_json::Value {
        match stage {
            "voices" => serde_json::json!({ "embedding": model_id(redub_diarize::embed::Embedder::MODEL) }),
            "vad" => serde_json::json!({ "backend": "silero-vad", "model": model_id("silero-vad/silero_vad.onnx") }),
            "transcribe" | "round_trip" if self.asr == Asr::Onnx || stage == "round_trip" => {
                // What changes the segments: the graphs and the decoding settings (threads do
                // not: a window's words are the same on 1 or 2, tested).
                let s = if stage == "round_trip" {
                    round_trip_settings()
                } else {
                    redub_asr::OnnxWhisperSettings::default()
                };
                let file = |f: &str| model_id(&format!("{}/{f}", redub_asr::ONNX_MODEL_DIR));
                serde_json::json!({
                    "backend": "whisper-onnx",
                    "models": [file("encoder.onnx"), file("cross_kv.onnx"), file("decoder.onnx")],
                    "beam": s.beam_size,
                    "window_ms": s.max_window_ms,
                    "pause_ms": s.pause_ms,
                    "fallback": s.fallback,
                    "timestamps": s.timestamps,
                })
            }
            "transcribe" => {
                // What changes the segments: the model file and the decoding settings (threads do
                // not: ggml gives the same result on any count).
                let s = redub_asr::WhisperSettings::default();
                serde_json::json!({
                    "backend": "whisper",
                    "model": model_id(redub_asr::MODEL),
                    "beam": s.beam_size,
                    "window_ms": s.max_window_ms,
                    "pause_ms": s.pause_ms,
                    "fallback": s.fallback,
                    "flash_attn": s.flash_attn,
                })
            }
            "diarize" => serde_json::json!({
                "backend": "pyannote-segmentation-3.0+campplus",
                "models": redub_diarize::SpeakerDiarizer::identity().into_iter().map(model_id).collect::<Vec<_>>(),
            }),
            "separate" => {
                let s = redub_separate::SeparateSettings::default();
                let file = |f: &str| format!("deepfilternet3/{f}");
                serde_json::json!({
                    "backend": "deepfilternet3",
                    "model": model_id(&file(redub_separate::MODEL_FILE)),
                    "library": model_id(&file(redub_separate::LIBRARY_FILE)),
                    "margin_ms": s.margin_ms,
                    "crossfade_ms": s.crossfade_ms,
                    "preroll_ms": s.preroll_ms,
                    "channels": format!("{:?}", s.channels),
                })
            }
            "synthesize" => {
                // The graph the engine speaks with (REDUB_KOKORO_GRAPH): the two render lines a little differently.
                let graph = redub_tts::kokoro::graph().unwrap_or(redub_tts::kokoro::GRAPH_INT8);
                serde_json::json!({ "backend": "kokoro|espeak-ng", "model": model_id(graph) })
            }
            _ => serde_json::Value::Null,
        }
    }

    fn check_pair(&self, config: &TranslatorConfig, from: Option<&str>, to: &str) -> Result<()> {
        config.check(from, to)
    }
}
