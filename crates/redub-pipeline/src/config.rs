//! Which backend serves a stage, as configuration: one serde enum per stage tagged by `backend`
//! (kebab-case names that never change). `check()` is cheap and runs before a job folder exists;
//! building happens in [`crate::Backends`]. The `match` in the builder is the whole registry.

use redub_core::{Error, Result, Translator};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TranslatorConfig {
    /// Debian's rule-based Apertium: offline, fast, literal; cannot shorten lines.
    #[default]
    Apertium,
    /// Any OpenAI-compatible chat-completions server (OpenAI, Ollama, llama.cpp server, vLLM).
    Openai(redub_openai::OpenAiSettings),
    /// The GGUF chat model setup installs, run by llama.cpp in Redub's `redub-llm` worker.
    Local(LocalConfig),
}

/// Settings of the local model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Another GGUF file (default: the one setup installs).
    pub model: Option<std::path::PathBuf>,
    /// CPU threads (default: all cores).
    pub threads: Option<usize>,
}

impl LocalConfig {
    fn settings(&self) -> redub_llm::LocalLlmSettings {
        let mut s = redub_llm::LocalLlmSettings { model: self.model.clone(), ..Default::default() };
        if let Some(t) = self.threads {
            s.threads = t.max(1);
        }
        s
    }
}

impl TranslatorConfig {
    /// The stable name, as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Apertium => "apertium",
            Self::Openai(_) => "openai",
            Self::Local(_) => "local",
        }
    }

    /// Read a config file (JSON: `{"backend": "openai", "base_url": …, "model": …}`).
    pub fn read(path: &std::path::Path) -> Result<Self> {
        read_config(
            path,
            "translator",
            r#"{"backend": "openai", "base_url": "http://localhost:11434/v1", "model": "qwen2.5:7b"}"#,
        )
    }

    /// Parse a `--translator` value into the default config of that backend.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "apertium" => Ok(Self::Apertium),
            "openai" => Ok(Self::Openai(redub_openai::OpenAiSettings::default())),
            "local" => Ok(Self::Local(LocalConfig::default())),
            other => Err(Error::Usage(format!("unknown translator `{other}`; known: local, openai, apertium"))),
        }
    }

    /// What goes into the translate stage's cache key (never a secret).
    pub fn identity(&self) -> serde_json::Value {
        match self {
            Self::Apertium => serde_json::json!({ "backend": "apertium" }),
            // Where and which model; never the key.
            Self::Openai(s) => {
                serde_json::json!({ "backend": "openai", "base_url": without_userinfo(&s.base_url), "model": s.model })
            }
            // The model file by name and size: another GGUF is another translator.
            Self::Local(c) => {
                let path = c.settings().model_path().ok();
                let bytes = path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
                let name = path.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
                serde_json::json!({ "backend": "local", "model": name, "bytes": bytes })
            }
        }
    }

    /// The environment on top of the configured values (`REDUB_OPENAI_*`, `OPENAI_API_KEY`).
    pub fn with_env(self) -> Self {
        match self {
            Self::Openai(s) => Self::Openai(redub_openai::OpenAiSettings::from_env(s)),
            other => other,
        }
    }

    /// Build the translator, with the job's glossary and register.
    pub fn build(&self, settings: &redub_translate::LlmSettings, from: &str, to: &str) -> Result<Box<dyn Translator>> {
        match self {
            Self::Apertium => Ok(Box::new(redub_translate::Apertium::new(from, to)?)),
            Self::Openai(s) => {
                let chat = redub_openai::OpenAiChat::new(s.clone())?;
                Ok(Box::new(redub_translate::LlmTranslator::new(Box::new(chat), settings.clone())))
            }
            Self::Local(c) => {
                let chat = redub_llm::LocalLlm::load(c.settings())?;
                Ok(Box::new(redub_translate::LlmTranslator::new(Box::new(chat), settings.clone())))
            }
        }
    }

    /// Cheap checks before any work: is the pair served, is the configuration complete?
    pub fn check(&self, from: Option<&str>, to: &str) -> Result<()> {
        // Every backend refuses "into the same language"; chat models take any other pair.
        if let Some(f) = from {
            redub_translate::check_pair("fixed", f, to)?;
        }
        match self {
            Self::Openai(s) => s.check(),
            Self::Local(c) => {
                let s = c.settings();
                s.model_path()?;
                s.worker_path().map(|_| ())
            }
            Self::Apertium => match from {
                Some(from) => redub_translate::check_pair("apertium", from, to),
                None => {
                    let pairs = redub_translate::available_pairs()?;
                    if pairs.iter().any(|(_, t)| t == to) {
                        Ok(())
                    } else {
                        redub_translate::check_pair("apertium", "en", to)
                    }
                }
            },
        }
    }
}

/// Who gives each speaker a voice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum VoiceConfig {
    /// Offline: the stock voice (Kokoro, espeak-ng) closest to each speaker, adapted toward
    /// their pitch and timbre.
    #[default]
    Stock,
    /// ElevenLabs instant voice cloning (one clone per speaker, deleted when synthesis ends).
    Elevenlabs(redub_elevenlabs::ElevenLabsSettings),
    /// A self-hosted zero-shot cloning server speaking the protocol in `docs/clone-http.md`.
    CloneHttp(redub_clonehttp::CloneHttpSettings),
}

/// A cloning service: makes a voice from a reference sample, then speaks with it.
pub trait CloningService: redub_core::VoiceCloner + redub_core::Synthesizer {}
impl<T: redub_core::VoiceCloner + redub_core::Synthesizer> CloningService for T {}

impl VoiceConfig {
    /// The stable name, as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Elevenlabs(_) => "elevenlabs",
            Self::CloneHttp(_) => "clone-http",
        }
    }

    /// Parse a `--voices` value into the default config of that backend.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "stock" => Ok(Self::Stock),
            "elevenlabs" => Ok(Self::Elevenlabs(Default::default())),
            "clone-http" => Ok(Self::CloneHttp(Default::default())),
            other => {
                Err(Error::Usage(format!("unknown voice backend `{other}`; known: stock, elevenlabs, clone-http")))
            }
        }
    }

    /// Read a config file (JSON: `{"backend": "elevenlabs", "stability": 0.5}`).
    pub fn read(path: &std::path::Path) -> Result<Self> {
        read_config(path, "voice", r#"{"backend": "clone-http", "base_url": "http://gpu-box:8020"}"#)
    }

    /// The environment on top (`ELEVENLABS_API_KEY`, `REDUB_ELEVENLABS_*`, `REDUB_CLONE_*`).
    pub fn with_env(self) -> Self {
        match self {
            Self::Elevenlabs(s) => Self::Elevenlabs(redub_elevenlabs::ElevenLabsSettings::from_env(s)),
            Self::CloneHttp(s) => Self::CloneHttp(redub_clonehttp::CloneHttpSettings::from_env(s)),
            Self::Stock => Self::Stock,
        }
    }

    /// What goes into cache keys (never a secret).
    pub fn identity(&self) -> serde_json::Value {
        match self {
            Self::Stock => serde_json::json!({ "backend": "stock" }),
            Self::Elevenlabs(s) => serde_json::json!({
                "backend": "elevenlabs",
                "base_url": without_userinfo(&s.base_url),
                "model": s.model_id,
                "stability": s.stability,
                "similarity_boost": s.similarity_boost,
            }),
            Self::CloneHttp(s) => {
                serde_json::json!({ "backend": "clone-http", "base_url": without_userinfo(&s.base_url) })
            }
        }
    }

    /// Cheap checks before any work: complete settings, and a service that speaks `to`.
    pub fn check(&self, to: &str) -> Result<()> {
        match self {
            Self::Stock => Ok(()),
            Self::Elevenlabs(s) => {
                s.check()?;
                if s.speaks(to) {
                    Ok(())
                } else {
                    Err(Error::Usage(format!(
                        "ElevenLabs model {} does not speak '{to}': pick another --to, or set model_id to a model that does",
                        s.model_id
                    )))
                }
            }
            Self::CloneHttp(s) => s.check(),
        }
    }

    /// The cloning service, or `None` for stock voices.
    pub fn build(&self) -> Result<Option<Box<dyn CloningService>>> {
        match self {
            Self::Stock => Ok(None),
            Self::Elevenlabs(s) => Ok(Some(Box::new(redub_elevenlabs::ElevenLabs::new(s.clone())?))),
            Self::CloneHttp(s) => Ok(Some(Box::new(redub_clonehttp::CloneHttp::new(s.clone())?))),
        }
    }
}

/// A backend config file: JSON, refused with what it is for and an example when it does not parse.
fn read_config<T: serde::de::DeserializeOwned>(path: &std::path::Path, what: &str, example: &str) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        problem: format!("not a {what} config: {e}"),
        fix: format!("write JSON like {example}"),
    })
}

/// `scheme://user:pass@host/…` without `user:pass@`: credentials never reach a manifest.
fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn configs_read_from_json_and_never_keep_the_key() {
        let c: TranslatorConfig = serde_json::from_str(
            r#"{"backend": "openai", "base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5:7b"}"#,
        )
        .unwrap();
        let TranslatorConfig::Openai(s) = &c else { panic!("{c:?}") };
        assert_eq!(s.model, "qwen2.5:7b");
        assert!(serde_json::from_str::<TranslatorConfig>(r#"{"backend": "openai", "modle": "x"}"#).is_err());
        assert!(serde_json::from_str::<TranslatorConfig>(r#"{"backend": "babelfish"}"#).is_err());
        let mut with_key = s.clone();
        with_key.api_key = Some("sk-secret".into());
        let c = TranslatorConfig::Openai(with_key);
        assert!(!c.identity().to_string().contains("sk-secret"));
        assert!(!serde_json::to_string(&c).unwrap().contains("sk-secret"));
        assert_eq!(TranslatorConfig::from_name("apertium").unwrap(), TranslatorConfig::Apertium);
        assert!(TranslatorConfig::from_name("nope").is_err());
        assert_eq!(without_userinfo("https://u:p@host:8080/v1"), "https://host:8080/v1");
        assert_eq!(without_userinfo("http://127.0.0.1:1/v1"), "http://127.0.0.1:1/v1");
    }

    #[test]
    fn voice_configs_read_check_and_never_keep_the_key() {
        let c: VoiceConfig = serde_json::from_str(r#"{"backend": "elevenlabs", "stability": 0.4}"#).unwrap();
        let VoiceConfig::Elevenlabs(s) = &c else { panic!("{c:?}") };
        assert_eq!(s.stability, 0.4);
        assert_eq!(s.similarity_boost, 0.75, "the rest at their defaults");
        assert!(serde_json::from_str::<VoiceConfig>(r#"{"backend": "elevenlabs", "stabilty": 0.4}"#).is_err());
        assert_eq!(VoiceConfig::from_name("stock").unwrap(), VoiceConfig::Stock);
        assert_eq!(VoiceConfig::from_name("clone-http").unwrap().name(), "clone-http");
        let e = VoiceConfig::from_name("tacotron").unwrap_err().to_string();
        assert!(e.contains("stock, elevenlabs, clone-http"), "{e}");
        // The real ElevenLabs needs a key, and its model speaks a fixed list of languages.
        assert!(VoiceConfig::from_name("elevenlabs").unwrap().check("es").is_err());
        let mut with_key = s.clone();
        with_key.api_key = Some("xi-secret".into());
        let c = VoiceConfig::Elevenlabs(with_key);
        c.check("es").unwrap();
        let e = c.check("tlh").unwrap_err().to_string();
        assert!(e.contains("does not speak 'tlh'"), "{e}");
        assert!(!c.identity().to_string().contains("xi-secret"));
        assert!(!serde_json::to_string(&c).unwrap().contains("xi-secret"));
        assert!(VoiceConfig::Stock.build().unwrap().is_none());
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("voices.json");
        std::fs::write(&bad, "{\"backend\": ").unwrap();
        let e = VoiceConfig::read(&bad).unwrap_err().to_string();
        assert!(e.contains("not a voice config") && e.contains("clone-http"), "{e}");
    }
}
