//! [`ChatModel`](redub_core::ChatModel) over the OpenAI chat-completions protocol: OpenAI
//! itself, or any server that speaks it (Ollama, llama.cpp's `llama-server`, vLLM, …).
//!
//! This crate is only the transport. It sends `POST {base_url}/chat/completions`, survives what
//! such servers do in practice (rate limits with `Retry-After`, overloaded or restarting servers,
//! dropped connections, servers that reject `response_format`), and turns everything else into
//! one error that names the backend, the URL and what to do. The prompts and the parsing of the
//! translation inside the reply live above it, in `redub-translate`.
//!
//! The client is blocking (`ureq`), like every other backend trait in Redub: a translation window
//! waits for its reply anyway, and an async runtime would cost more to build than it saves.
//!
//! The API key never leaves the `Authorization` header: it is not in `name()`, in any error, in
//! the `Debug` output, or in serialized settings (it belongs in the environment, not in job
//! manifests).

mod client;
mod reply;

pub use client::OpenAiChat;

use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};
use ureq::http::Uri;

/// What errors are reported as.
pub(crate) const BACKEND: &str = "openai";

/// OpenAI's own API, the default server.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model: good at following a JSON format and at fitting lines to a word budget.
pub const DEFAULT_MODEL: &str = "gpt-4o";
/// Overrides `base_url`, e.g. `http://localhost:11434/v1` for Ollama.
pub const ENV_BASE_URL: &str = "REDUB_OPENAI_BASE_URL";
/// Overrides `model`.
pub const ENV_MODEL: &str = "REDUB_OPENAI_MODEL";
/// The key, Redub's own name. Wins over [`ENV_OPENAI_API_KEY`] so that Redub can use a
/// different key from other tools on the same machine.
pub const ENV_API_KEY: &str = "REDUB_OPENAI_API_KEY";
/// The key, under the name every OpenAI tool reads.
pub const ENV_OPENAI_API_KEY: &str = "OPENAI_API_KEY";

/// The host that always needs a key; local servers usually need none.
const OPENAI_HOST: &str = "api.openai.com";

/// Where the chat server is and how patient to be with it.
///
/// Comes from the config file, then [`OpenAiSettings::from_env`] lets the environment override
/// it (so a key never has to be written into a file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiSettings {
    /// The API root, up to and including `/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// The model name as the server knows it (`gpt-4o`, `llama3.1:8b`, …).
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set. Never serialized: keys live in the
    /// environment ([`ENV_API_KEY`] or [`ENV_OPENAI_API_KEY`]), not in config files or manifests.
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    /// Budget for one request, from connecting to the last byte of the reply. Generous by
    /// default because a local model on a CPU can take minutes for one window.
    pub timeout_ms: u64,
    /// Retries after a rate limit, a 5xx, a dropped connection or a timeout; the request is
    /// tried at most `max_retries + 1` times.
    pub max_retries: u32,
    /// First wait between retries; it doubles each time (capped at 30 s) unless the server says
    /// how long with `Retry-After`.
    pub backoff_ms: u64,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            api_key: None,
            timeout_ms: 120_000,
            max_retries: 4,
            backoff_ms: 1000,
        }
    }
}

/// Written by hand so that the key never reaches a log line through `{:?}`.
impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("backoff_ms", &self.backoff_ms)
            .finish()
    }
}

impl OpenAiSettings {
    /// `base` with the environment on top: [`ENV_BASE_URL`], [`ENV_MODEL`], and the key from
    /// [`ENV_API_KEY`], else [`ENV_OPENAI_API_KEY`]. Empty variables count as unset, so
    /// `OPENAI_API_KEY= redub …` does not wipe a key from elsewhere by accident.
    pub fn from_env(base: Self) -> Self {
        Self::from_vars(base, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `var`, so callers and tests
    /// can supply them without touching the process environment.
    pub fn from_vars(base: Self, var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut s = base;
        if let Some(url) = get(ENV_BASE_URL) {
            s.base_url = url;
        }
        if let Some(model) = get(ENV_MODEL) {
            s.model = model;
        }
        if let Some(key) = get(ENV_API_KEY).or_else(|| get(ENV_OPENAI_API_KEY)) {
            s.api_key = Some(key);
        }
        s
    }

    /// Cheap checks that need no network, so a bad setting fails before a job starts: the URL
    /// parses as http(s) with a host, the model is named, the timeout is not zero, and a key is
    /// present when the server is OpenAI's (which always needs one).
    pub fn check(&self) -> Result<()> {
        let uri = self.parsed_base_url()?;
        if self.model.trim().is_empty() {
            return Err(Error::Usage(format!(
                "openai: no model is set for {}: set `model` in the config or {ENV_MODEL}",
                self.display_base_url()
            )));
        }
        if self.timeout_ms == 0 {
            return Err(Error::Usage(
                "openai: timeout_ms is 0, so every request would time out at once: set it to the longest a \
                 reply may take (default 120000)"
                    .to_string(),
            ));
        }
        match self.key() {
            Some(key) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(Error::Usage(format!(
                    "openai: the API key contains spaces or control characters, so it cannot be sent: check \
                     {ENV_API_KEY} (or {ENV_OPENAI_API_KEY})"
                )));
            }
            None if uri.host().is_some_and(|h| h.eq_ignore_ascii_case(OPENAI_HOST)) => {
                return Err(Error::Usage(format!(
                    "openai: {} needs an API key and none is set: export {ENV_OPENAI_API_KEY} (or \
                     {ENV_API_KEY}) with your key, or point {ENV_BASE_URL} at a local server such as \
                     http://localhost:11434/v1",
                    self.display_base_url()
                )));
            }
            _ => {}
        }
        Ok(())
    }

    /// The key if one is set and not blank.
    pub(crate) fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    /// `base_url` without trailing slashes, and without `/chat/completions` when someone pasted
    /// the whole endpoint (a common slip that would otherwise end in a confusing 404).
    pub(crate) fn normalized_base_url(&self) -> String {
        redub_http::url::trim_pasted_suffix(&self.base_url, "/chat/completions")
    }

    /// The base URL as shown in names and errors: no user:password part, no query (where some
    /// gateways put keys).
    pub(crate) fn display_base_url(&self) -> String {
        redact_url(&self.normalized_base_url())
    }

    fn parsed_base_url(&self) -> Result<Uri> {
        let shown = self.display_base_url();
        let bad = |why: &str| {
            Error::Usage(format!(
                "openai: base_url `{shown}` {why}: set it (in the config or {ENV_BASE_URL}) to the API root, e.g. \
                 {DEFAULT_BASE_URL} or http://localhost:11434/v1"
            ))
        };
        redub_http::url::parse_base_url(&self.normalized_base_url(), true).map_err(bad)
    }
}

/// How base URLs are shown: without credentials, query or fragment.
pub(crate) use redub_http::url::redact_url;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redacts_credentials_and_query() {
        assert_eq!(redact_url("https://u:secret@host:8080/v1?key=abc"), "https://host:8080/v1");
        assert_eq!(redact_url("http://localhost:11434/v1"), "http://localhost:11434/v1");
    }

    #[test]
    fn normalizes_pasted_endpoint() {
        let s = OpenAiSettings { base_url: "http://h/v1/chat/completions/".into(), ..Default::default() };
        assert_eq!(s.normalized_base_url(), "http://h/v1");
    }
}
