//! `clone-http`: zero-shot voice cloning through a cloning server of your own (a GPU running
//! XTTS, F5-TTS, CosyVoice, OpenVoice, …), spoken to over a small HTTP protocol so that any model
//! can be plugged in with a few lines of server code. The protocol is in `docs/clone-http.md`:
//!
//! - `POST {base}/synthesize`, multipart/form-data with `text`, `language`, `speed`, `voice` and
//!   `reference` (the speaker's sample: a mono 16-bit 44.1 kHz WAV of at least 1.5 s) → a WAV
//!   body (`audio/wav`; any rate, any channel count, integer or float samples);
//! - `GET {base}/health` (optional) → `{"status": "ok", "model": …, "languages": […]}`.
//!
//! [`VoiceCloner::create_voice`](redub_core::VoiceCloner::create_voice) only keeps the reference
//! in memory, under an id derived from its content (`clone-` + 16 hex digits of its SHA-256), so
//! the same reference gets the same id in every run; `delete_voice` forgets it. Nothing lives on
//! the server: every synthesis request carries its reference, and a server may cache what it
//! derives from it under `voice`.
//!
//! Errors and retries follow the other HTTP backends: `429`, `503` and other 5xx are retried with
//! exponential backoff, honouring `Retry-After`; everything else fails at once with what to do.
//! An optional key ([`ENV_API_KEY`]) is sent as `Authorization: Bearer …`, for servers behind an
//! authenticating proxy; it is never serialized or shown.

mod audio;
mod client;
mod reply;

pub use client::{CloneHttp, Health};
pub use redub_dsp::{prepare_reference, MIN_REFERENCE_MS, PADDED_REFERENCE_MS, REFERENCE_RATE};

use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};
use ureq::http::Uri;

/// What errors are reported as.
pub(crate) const BACKEND: &str = "clone-http";

/// The server's root URL; `/synthesize` and `/health` are appended.
pub const ENV_BASE_URL: &str = "REDUB_CLONE_HTTP_URL";
/// A key sent as `Authorization: Bearer …` (optional).
pub const ENV_API_KEY: &str = "REDUB_CLONE_HTTP_API_KEY";

/// Where the cloning server is and how patient to be with it.
///
/// Comes from a config file, then [`CloneHttpSettings::from_env`] lets the environment override
/// it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloneHttpSettings {
    /// The server's root, e.g. `http://gpu-box:8020`; no default, since it is your server.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when set. Never serialized: use [`ENV_API_KEY`].
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    /// The languages the server's model speaks (language codes such as `es`). Empty: what the
    /// server's `/health` says, once [`CloneHttp::health`] has asked; else any language.
    pub languages: Vec<String>,
    /// Budget for one request, from connecting to the last byte. Generous by default: a
    /// zero-shot model on a small GPU can take a while for a long line.
    pub timeout_ms: u64,
    /// Retries after a rate limit, a 5xx, a dropped connection or a timeout; a request is tried
    /// at most `max_retries + 1` times.
    pub max_retries: u32,
    /// First wait between retries; it doubles each time (capped at 30 s) unless the server says
    /// how long with `Retry-After`.
    pub backoff_ms: u64,
}

impl Default for CloneHttpSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            languages: Vec::new(),
            timeout_ms: 300_000,
            max_retries: 4,
            backoff_ms: 1000,
        }
    }
}

/// Written by hand so that the key never reaches a log line through `{:?}`.
impl std::fmt::Debug for CloneHttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloneHttpSettings")
            .field("base_url", &redact_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("languages", &self.languages)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("backoff_ms", &self.backoff_ms)
            .finish()
    }
}

impl CloneHttpSettings {
    /// `base` with the environment on top: [`ENV_BASE_URL`] and [`ENV_API_KEY`]. Empty variables
    /// count as unset.
    pub fn from_env(base: Self) -> Self {
        Self::from_vars(base, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `var`.
    pub fn from_vars(base: Self, var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut s = base;
        if let Some(url) = get(ENV_BASE_URL) {
            s.base_url = url;
        }
        if let Some(key) = get(ENV_API_KEY) {
            s.api_key = Some(key);
        }
        s
    }

    /// Cheap checks that need no network, so that a bad setting fails before a job starts.
    pub fn check(&self) -> Result<()> {
        self.parsed_base_url()?;
        if self.timeout_ms == 0 {
            return Err(Error::Usage(format!(
                "{BACKEND}: timeout_ms is 0, so every request would time out at once: set it to the longest a line \
                 may take (default 300000)"
            )));
        }
        if self.key().is_some_and(|k| k.chars().any(|c| c.is_whitespace() || c.is_control())) {
            return Err(Error::Usage(format!(
                "{BACKEND}: the API key contains spaces or control characters, so it cannot be sent: check \
                 {ENV_API_KEY}"
            )));
        }
        Ok(())
    }

    /// The key if one is set and not blank.
    pub(crate) fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    /// `base_url` without trailing slashes, and without `/synthesize` when someone pasted the
    /// whole endpoint.
    pub(crate) fn normalized_base_url(&self) -> String {
        redub_http::url::trim_pasted_suffix(&self.base_url, "/synthesize")
    }

    fn parsed_base_url(&self) -> Result<Uri> {
        let shown = redact_url(&self.normalized_base_url());
        let bad = |why: &str| {
            Error::Usage(format!(
                "{BACKEND}: base_url `{shown}` {why}: set it (in the config or {ENV_BASE_URL}) to your cloning \
                 server's root, e.g. http://localhost:8020 (the protocol is in docs/clone-http.md)"
            ))
        };
        redub_http::url::parse_base_url(&self.normalized_base_url(), false).map_err(bad)
    }
}

/// The primary subtag of a language code, lower-cased (`pt-BR` → `pt`).
pub(crate) fn primary_language(lang: &str) -> String {
    lang.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase()
}

/// How base URLs are shown: without credentials, query or fragment.
pub(crate) use redub_http::url::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_query() {
        assert_eq!(redact_url("http://u:secret@gpu:8020/x?key=abc"), "http://gpu:8020/x");
    }

    #[test]
    fn normalizes_pasted_endpoint() {
        let s = CloneHttpSettings { base_url: "http://gpu:8020/synthesize/".into(), ..Default::default() };
        assert_eq!(s.normalized_base_url(), "http://gpu:8020");
    }

    #[test]
    fn primary_subtags() {
        assert_eq!(primary_language("pt-BR"), "pt");
        assert_eq!(primary_language(" ES "), "es");
    }
}
