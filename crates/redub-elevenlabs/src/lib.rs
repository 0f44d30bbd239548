//! ElevenLabs as a cloning backend: [`VoiceCloner`](redub_core::VoiceCloner) makes an instant
//! voice clone from a speaker's reference sample, [`Synthesizer`](redub_core::Synthesizer) speaks
//! with it through `eleven_multilingual_v2`, and every clone this object made is deleted again
//! when the job ends: [`ElevenLabs::delete_all`] on the normal path, and `Drop` as a best-effort
//! safety net when the job fails, is cancelled or panics.
//!
//! The HTTP API used (all with the `xi-api-key` header):
//!
//! - `POST {base}/v1/voices/add`, multipart/form-data with `name`, `description` and one `files`
//!   part (the sample as a mono 16-bit 44.1 kHz WAV of at least 1.5 s) → `{"voice_id": …}`;
//! - `POST {base}/v1/text-to-speech/{voice_id}?output_format=pcm_44100` with
//!   `{"text", "model_id", "voice_settings": {"stability", "similarity_boost"[, "speed"]}}` → raw
//!   16-bit little-endian mono PCM at the format's rate (no decoder needed). 44.1 kHz PCM is
//!   reserved to the Pro plan and above: when the account refuses it, the client switches to
//!   `pcm_24000` (every plan) for the rest of the session;
//! - `DELETE {base}/v1/voices/{voice_id}`; a voice that is already gone counts as deleted.
//!
//! Rate limits (`429`, including `too_many_concurrent_requests` and `system_busy`) and server
//! errors are retried with exponential backoff, waiting what `Retry-After` asks when the server
//! sends it. A refused key, an exhausted quota or a plan without instant cloning fail at once with
//! what to do.
//!
//! The key comes from [`ENV_API_KEY`] (`ELEVENLABS_API_KEY`). It is never serialized and never
//! appears in `Debug` output or in errors.

mod audio;
mod client;
mod reply;

pub use client::ElevenLabs;
pub use redub_dsp::{prepare_reference, MIN_REFERENCE_MS, PADDED_REFERENCE_MS, REFERENCE_RATE};

use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};
use ureq::http::Uri;

/// What errors are reported as.
pub(crate) const BACKEND: &str = "elevenlabs";

/// ElevenLabs' API root (without `/v1`).
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// The multilingual model: 29 languages, the one that carries a clone's voice across languages.
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";
/// Raw 16-bit PCM at 44.1 kHz (Pro plan and above; see [`FALLBACK_OUTPUT_FORMAT`]).
pub const DEFAULT_OUTPUT_FORMAT: &str = "pcm_44100";
/// What the client switches to when the account refuses the configured PCM rate: 24 kHz PCM is
/// available on every plan.
pub const FALLBACK_OUTPUT_FORMAT: &str = "pcm_24000";
/// The PCM rates ElevenLabs offers as `pcm_<rate>`.
pub const PCM_RATES: [u32; 6] = [8000, 16_000, 22_050, 24_000, 44_100, 48_000];
/// The slowest `speed` voice setting ElevenLabs accepts.
pub const MIN_SPEED: f32 = 0.7;
/// The fastest `speed` voice setting ElevenLabs accepts; the caller time-stretches the rest.
pub const MAX_SPEED: f32 = 1.2;
/// The API key.
pub const ENV_API_KEY: &str = "ELEVENLABS_API_KEY";
/// Overrides `base_url` (a proxy, or a test server).
pub const ENV_BASE_URL: &str = "REDUB_ELEVENLABS_BASE_URL";
/// Overrides `model_id`.
pub const ENV_MODEL: &str = "REDUB_ELEVENLABS_MODEL";

/// The host that always needs a key.
const ELEVENLABS_HOST: &str = "api.elevenlabs.io";

/// The languages `eleven_multilingual_v2` speaks (ISO 639-1, plus `fil` for Filipino).
const MULTILINGUAL_V2_LANGS: [&str; 30] = [
    "en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "tl", "pl", "sv", "bg", "ro",
    "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru",
];

/// Where ElevenLabs is, how the clones should sound, and how patient to be.
///
/// Comes from a config file, then [`ElevenLabsSettings::from_env`] lets the environment override
/// it (the key belongs in the environment, not in a file or a job manifest).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElevenLabsSettings {
    /// The API root, without `/v1` (a pasted `…/v1` is tolerated).
    pub base_url: String,
    /// The synthesis model.
    pub model_id: String,
    /// `voice_settings.stability` (0–1): lower is more expressive, higher more even.
    pub stability: f64,
    /// `voice_settings.similarity_boost` (0–1): how closely the output keeps to the clone.
    pub similarity_boost: f64,
    /// `pcm_<rate>`, one of [`PCM_RATES`]: raw PCM, so no audio decoder is needed.
    pub output_format: String,
    /// Ask ElevenLabs to remove background noise from the sample before cloning (its audio
    /// isolation model). Off by default: on a clean sample it makes the clone worse.
    pub remove_background_noise: bool,
    /// Sent as `xi-api-key`. Never serialized: set [`ENV_API_KEY`] instead.
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    /// Budget for one request, from connecting to the last byte of the reply.
    pub timeout_ms: u64,
    /// Retries after a rate limit, a 5xx, a dropped connection or a timeout; a request is tried
    /// at most `max_retries + 1` times.
    pub max_retries: u32,
    /// First wait between retries; it doubles each time (capped at 30 s) unless the server says
    /// how long with `Retry-After`.
    pub backoff_ms: u64,
}

impl Default for ElevenLabsSettings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            model_id: DEFAULT_MODEL.to_string(),
            stability: 0.5,
            similarity_boost: 0.75,
            output_format: DEFAULT_OUTPUT_FORMAT.to_string(),
            remove_background_noise: false,
            api_key: None,
            timeout_ms: 120_000,
            max_retries: 4,
            backoff_ms: 1000,
        }
    }
}

/// Written by hand so that the key never reaches a log line through `{:?}`.
impl std::fmt::Debug for ElevenLabsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsSettings")
            .field("base_url", &self.base_url)
            .field("model_id", &self.model_id)
            .field("stability", &self.stability)
            .field("similarity_boost", &self.similarity_boost)
            .field("output_format", &self.output_format)
            .field("remove_background_noise", &self.remove_background_noise)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("backoff_ms", &self.backoff_ms)
            .finish()
    }
}

impl ElevenLabsSettings {
    /// `base` with the environment on top: [`ENV_API_KEY`], [`ENV_BASE_URL`], [`ENV_MODEL`].
    /// Empty variables count as unset.
    pub fn from_env(base: Self) -> Self {
        Self::from_vars(base, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `var` (for callers and tests
    /// that must not touch the process environment).
    pub fn from_vars(base: Self, var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut s = base;
        if let Some(url) = get(ENV_BASE_URL) {
            s.base_url = url;
        }
        if let Some(model) = get(ENV_MODEL) {
            s.model_id = model;
        }
        if let Some(key) = get(ENV_API_KEY) {
            s.api_key = Some(key);
        }
        s
    }

    /// Cheap checks that need no network, so that a bad setting fails before a job starts.
    pub fn check(&self) -> Result<()> {
        let uri = self.parsed_base_url()?;
        let usage = |m: String| Err(Error::Usage(format!("{BACKEND}: {m}")));
        if self.model_id.trim().is_empty() {
            return usage(format!("no model is set: set `model_id` (default {DEFAULT_MODEL}) or {ENV_MODEL}"));
        }
        for (name, value) in [("stability", self.stability), ("similarity_boost", self.similarity_boost)] {
            if !(0.0..=1.0).contains(&value) {
                return usage(format!("{name} is {value}, outside 0–1"));
            }
        }
        if self.pcm_rate().is_none() {
            let allowed: Vec<String> = PCM_RATES.iter().map(|r| format!("pcm_{r}")).collect();
            return usage(format!(
                "output_format `{}` is not one Redub can decode: use one of {} (raw PCM)",
                self.output_format,
                allowed.join(", ")
            ));
        }
        if self.timeout_ms == 0 {
            return usage(
                "timeout_ms is 0, so every request would time out at once: set it to the longest a reply may take \
                 (default 120000)"
                    .to_string(),
            );
        }
        match self.key() {
            Some(key) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return usage(format!(
                    "the API key contains spaces or control characters, so it cannot be sent: check {ENV_API_KEY}"
                ));
            }
            None if uri.host().is_some_and(|h| h.eq_ignore_ascii_case(ELEVENLABS_HOST)) => {
                return usage(format!(
                    "ElevenLabs needs an API key and none is set: export {ENV_API_KEY} with your key (from your \
                     ElevenLabs profile, with text-to-speech and voices write access)"
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the model speaks `lang` (a language code such as `es` or `pt-BR`). Only
    /// `eleven_multilingual_v2`'s list is known; any other model is assumed to speak everything.
    pub fn speaks(&self, lang: &str) -> bool {
        if self.model_id.trim() != DEFAULT_MODEL {
            return true;
        }
        let primary = lang.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        MULTILINGUAL_V2_LANGS.contains(&primary.as_str())
    }

    /// The sample rate of `output_format`, if it is a PCM format we know.
    pub(crate) fn pcm_rate(&self) -> Option<u32> {
        pcm_rate(&self.output_format)
    }

    /// The key if one is set and not blank.
    pub(crate) fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    /// `base_url` without trailing slashes and without a pasted `/v1`.
    pub(crate) fn normalized_base_url(&self) -> String {
        redub_http::url::trim_pasted_suffix(&self.base_url, "/v1")
    }

    /// The base URL as errors show it (no credentials, no query).
    pub(crate) fn display_base_url(&self) -> String {
        redact_url(&self.normalized_base_url())
    }

    fn parsed_base_url(&self) -> Result<Uri> {
        let shown = self.display_base_url();
        let bad = |why: &str| {
            Error::Usage(format!(
                "{BACKEND}: base_url `{shown}` {why}: set it (in the config or {ENV_BASE_URL}) to the API root, e.g. \
                 {DEFAULT_BASE_URL}"
            ))
        };
        redub_http::url::parse_base_url(&self.normalized_base_url(), false).map_err(bad)
    }
}

/// The rate of a `pcm_<rate>` output format.
pub(crate) fn pcm_rate(format: &str) -> Option<u32> {
    let rate: u32 = format.trim().strip_prefix("pcm_")?.parse().ok()?;
    PCM_RATES.contains(&rate).then_some(rate)
}

/// How base URLs are shown: without credentials, query or fragment.
pub(crate) use redub_http::url::redact_url;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redacts_credentials_and_query() {
        assert_eq!(redact_url("https://u:secret@host:8080/x?key=abc"), "https://host:8080/x");
    }

    #[test]
    fn normalizes_pasted_v1() {
        let s = ElevenLabsSettings { base_url: "https://api.elevenlabs.io/v1/".into(), ..Default::default() };
        assert_eq!(s.normalized_base_url(), "https://api.elevenlabs.io");
    }

    #[test]
    fn pcm_formats() {
        assert_eq!(pcm_rate("pcm_44100"), Some(44_100));
        assert_eq!(pcm_rate("pcm_24000"), Some(24_000));
        assert_eq!(pcm_rate("pcm_11025"), None);
        assert_eq!(pcm_rate("mp3_44100_128"), None);
    }
}
