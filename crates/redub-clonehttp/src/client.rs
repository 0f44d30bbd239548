//! The clone-http client: references kept in memory, one multipart request per line.

use crate::audio::{decode_wav, wav_bytes};
use crate::reply::{server_message, snippet};
use crate::{primary_language, redact_url, CloneHttpSettings, BACKEND, ENV_API_KEY, ENV_BASE_URL};
use redub_core::{Audio, Error, Result, Synthesizer, VoiceCloner};
use redub_dsp::{prepare_reference, trim_silence, REFERENCE_RATE};
use redub_http::multipart::Form;
use redub_http::request::{self, Attempt, Method, Reply, Request};
use redub_http::retry::{self, Policy, MAX_RETRY_AFTER};
use redub_http::transport::Transport;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;
use ureq::Agent;

/// The largest reply read (10 minutes of 48 kHz stereo float is 230 MB; lines are far shorter).
const MAX_BODY_BYTES: u64 = 256 << 20;

/// Where the protocol is described, for errors that suspect the server does not speak it.
const PROTOCOL_DOC: &str = "docs/clone-http.md";

/// A cloning server of your own, spoken to with the clone-http protocol.
///
/// Voices are references held in memory: [`create_voice`](VoiceCloner::create_voice) stores the
/// prepared sample and returns an id derived from its content, and every
/// [`synthesize`](Synthesizer::synthesize) sends that reference along with the text.
pub struct CloneHttp {
    settings: CloneHttpSettings,
    /// `base_url` normalised: no trailing slash, no pasted `/synthesize`.
    base: String,
    /// The base as errors show it (no credentials).
    shown_base: String,
    agent: Agent,
    /// The references, oldest first.
    references: Vec<Reference>,
    /// What `/health` said the server speaks, once asked.
    server_languages: Vec<String>,
}

/// One voice: a speaker's reference, ready to send.
struct Reference {
    id: String,
    name: String,
    wav: Vec<u8>,
}

/// What `GET /health` says about the server. Every field is optional in the protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Health {
    /// `ok` when the server is ready.
    pub status: Option<String>,
    /// The model the server runs, for logs.
    pub model: Option<String>,
    /// The languages it speaks; empty when it does not say.
    pub languages: Vec<String>,
    /// False when the server has no `/health` (it is optional).
    #[serde(skip)]
    pub implemented: bool,
}

impl CloneHttp {
    /// A client for `settings`, after [`CloneHttpSettings::check`]. Opens no connection.
    pub fn new(settings: CloneHttpSettings) -> Result<Self> {
        settings.check()?;
        let base = settings.normalized_base_url();
        let shown_base = redact_url(&base);
        let agent = request::agent(Duration::from_millis(settings.timeout_ms));
        Ok(Self { settings, base, shown_base, agent, references: Vec::new(), server_languages: Vec::new() })
    }

    /// A client from the default settings with the environment on top ([`ENV_BASE_URL`], …).
    pub fn from_env() -> Result<Self> {
        Self::new(CloneHttpSettings::from_env(CloneHttpSettings::default()))
    }

    /// The settings in use.
    pub fn settings(&self) -> &CloneHttpSettings {
        &self.settings
    }

    /// `clone-http@<base url>`, for logs and cache keys (no key, no credentials).
    pub fn name(&self) -> String {
        format!("{BACKEND}@{}", self.shown_base)
    }

    /// The ids of the voices (references) held, oldest first.
    pub fn created_voices(&self) -> Vec<String> {
        self.references.iter().map(|r| r.id.clone()).collect()
    }

    /// Asks `GET /health` whether the server is up and what it speaks; the languages it lists
    /// then limit [`voices`](Synthesizer::voices) unless the settings list their own. A server
    /// without `/health` (404/405) is fine: the endpoint is optional, and the result says
    /// `implemented: false`.
    pub fn health(&mut self) -> Result<Health> {
        let request = Request { method: Method::Get, path: "/health".to_string(), content_type: None, body: &[] };
        let reply = self.send(&request).map_err(|m| self.error(&request, m))?;
        if matches!(reply.status, 404 | 405) {
            return Ok(Health::default());
        }
        if !reply.ok() {
            return Err(self.error(&request, self.failure(&reply)));
        }
        let mut health = serde_json::from_slice::<Health>(&reply.body).map_err(|e| {
            self.error(
                &request,
                format!(
                    "the reply is not the JSON the protocol describes ({e}): {} (see {PROTOCOL_DOC})",
                    snippet(&String::from_utf8_lossy(&reply.body))
                ),
            )
        })?;
        health.implemented = true;
        self.server_languages = health.languages.clone();
        Ok(health)
    }

    fn policy(&self) -> Policy {
        Policy {
            max_retries: self.settings.max_retries,
            backoff: Duration::from_millis(self.settings.backoff_ms),
            max_wait: MAX_RETRY_AFTER,
            timeout: Duration::from_millis(self.settings.timeout_ms),
        }
    }

    fn error(&self, request: &Request, message: impl std::fmt::Display) -> Error {
        Error::backend(BACKEND, format!("{} {}{}: {message}", request.method.as_str(), self.shown_base, request.path))
    }

    /// Sends `request`, retrying what is worth retrying; returns the first reply that is not.
    fn send(&self, request: &Request) -> std::result::Result<Reply, String> {
        request::send(self.policy(), "The server", |timeout| self.attempt(request, timeout))
    }

    /// Sends `request` once and sorts the outcome.
    fn attempt(&self, request: &Request, timeout: Duration) -> Attempt {
        let url = format!("{}{}", self.base, request.path);
        let auth = self.settings.key().map(|k| format!("Bearer {k}"));
        let accept = match request.method {
            Method::Post => "audio/wav, application/json",
            Method::Get | Method::Delete => "application/json",
        };
        let mut headers = vec![("Accept", accept)];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let reply = match request::call(&self.agent, &url, request, &headers, timeout, MAX_BODY_BYTES) {
            Ok(reply) => reply,
            Err(e) => return self.transport(e),
        };
        match reply.status {
            status @ (408 | 429 | 500..=599) => Attempt::Transient {
                problem: format!("HTTP {status}: {}", self.scrub(&server_message(&reply.body))),
                hint: if matches!(status, 429 | 503) {
                    "The server is busy (its queue is full, or the model is still loading): rerun when it has room"
                } else {
                    "The server is failing: look at its log (out of GPU memory? a crash in the model?) and rerun"
                },
                server_delay: reply.retry_after,
            },
            _ => Attempt::Reply(reply),
        }
    }

    /// What a reply that is not a success means for the user.
    fn failure(&self, reply: &Reply) -> String {
        let status = reply.status;
        let message = self.scrub(&server_message(&reply.body));
        match status {
            400 | 422 => format!("the server refused the request (HTTP {status}: {message})"),
            401 | 403 => match self.settings.key() {
                Some(_) => format!(
                    "the server refused the API key (HTTP {status}: {message}): put the right one in {ENV_API_KEY}"
                ),
                None => format!(
                    "the server wants an API key (HTTP {status}: {message}) and none is set: export {ENV_API_KEY}"
                ),
            },
            404 | 405 => format!(
                "the server has no such endpoint (HTTP {status}: {message}): base_url ({}, {ENV_BASE_URL}) must be \
                 the server's root, and the server must speak the clone-http protocol ({PROTOCOL_DOC})",
                self.shown_base
            ),
            413 => format!(
                "the server refused the request as too large (HTTP 413: {message}): raise its upload limit (the \
                 reference WAV is sent with every line)"
            ),
            300..=399 => format!(
                "the server redirects (HTTP {status}) to {}: set base_url ({ENV_BASE_URL}) to the final address",
                reply.location.as_deref().map(redact_url).unwrap_or_else(|| "an address it does not give".to_string())
            ),
            _ => format!("the server answered HTTP {status}: {message}"),
        }
    }

    /// What a failure below HTTP (connecting, sending, reading) means.
    fn transport(&self, e: ureq::Error) -> Attempt {
        let timeout = || Attempt::Transient {
            problem: format!("no complete reply within timeout_ms = {} ms", self.settings.timeout_ms),
            hint: "Raise timeout_ms (a zero-shot model on a small GPU can need minutes for a long line), or check \
                   that the server is not stuck",
            server_delay: None,
        };
        let dropped = |what: String| Attempt::Transient {
            problem: what,
            hint: "Check the server (did it crash or restart?) and any proxy in between, and rerun",
            server_delay: None,
        };
        let unreachable = |what: String| {
            Attempt::Fail(format!(
                "{what}: start the cloning server, or set {ENV_BASE_URL} to where it runs (now {})",
                self.shown_base
            ))
        };
        match redub_http::transport::classify(&e, |t| self.scrub(t)) {
            Transport::Timeout => timeout(),
            Transport::Dropped(what) => dropped(what),
            Transport::Unreachable(what) => unreachable(what),
            Transport::NotHttp(p) => dropped(format!(
                "the reply is not valid HTTP ({p}); if the server has no TLS, base_url must start with http://"
            )),
            Transport::TooLarge(limit) => {
                Attempt::Fail(format!("the reply is larger than {limit} bytes: the server sent far too much audio"))
            }
            Transport::Tls => Attempt::Fail(format!(
                "TLS failed ({}): a server without TLS needs an http:// base_url",
                self.scrub(&e.to_string())
            )),
            Transport::Other => {
                Attempt::Fail(format!("the request could not be sent ({})", self.scrub(&e.to_string())))
            }
        }
    }

    /// `text` without the key and without a raw base URL (which may carry credentials).
    fn scrub(&self, text: &str) -> String {
        redub_http::reply::scrub(text, &self.base, &self.shown_base, self.settings.key())
    }

    /// The languages `voices` is limited to: the settings', else what `/health` said.
    fn languages(&self) -> &[String] {
        if self.settings.languages.is_empty() {
            &self.server_languages
        } else {
            &self.settings.languages
        }
    }
}

/// `speed` as the protocol sends it: a plain decimal, rounded to 3 places (`1`, `1.1`, `0.85`).
pub(crate) fn speed_field(speed: f32) -> String {
    let rounded = (f64::from(speed) * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// `clone-` and the first 16 hex digits of the SHA-256 of the reference WAV.
fn reference_id(wav: &[u8]) -> String {
    let digest = Sha256::digest(wav);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("clone-{hex}")
}

impl VoiceCloner for CloneHttp {
    /// Keeps `sample` (mono, any rate; resampled to 44.1 kHz and padded to 2.0 s when shorter
    /// than 1.5 s) as a reference and returns its id. Makes no request.
    fn create_voice(&mut self, name: &str, sample: &Audio) -> Result<String> {
        let prepared = prepare_reference(sample)
            .map_err(|e| Error::Usage(format!("{BACKEND}: cannot make the voice `{name}`: {e}")))?;
        let wav = wav_bytes(&prepared)?;
        let id = reference_id(&wav);
        if !self.references.iter().any(|r| r.id == id) {
            self.references.push(Reference { id: id.clone(), name: name.to_string(), wav });
        }
        Ok(id)
    }

    /// Forgets the reference `id`; an unknown id is not an error.
    fn delete_voice(&mut self, id: &str) -> Result<()> {
        self.references.retain(|r| r.id != id);
        Ok(())
    }
}

impl Synthesizer for CloneHttp {
    /// `text` in `lang`, spoken by the server in the voice of the reference `voice`, as mono
    /// audio at the rate the server answers with, trimmed of silent edges (30 ms kept) like
    /// Redub's own engines. `speed` is passed on; a server that cannot
    /// honour it ignores it, and the caller time-stretches what the clip still lacks.
    fn synthesize(&mut self, text: &str, lang: &str, voice: &str, speed: f32) -> Result<Audio> {
        if !speed.is_finite() || speed <= 0.0 {
            return Err(Error::Usage(format!("{BACKEND}: speed {speed} is not a positive number")));
        }
        let Some(reference) = self.references.iter().find(|r| r.id == voice) else {
            return Err(Error::Usage(format!(
                "{BACKEND}: voice `{voice}` is not one this backend holds: make it with create_voice first (references \
                 live in memory, one run at a time)"
            )));
        };
        if text.trim().is_empty() {
            return Ok(Audio::new(REFERENCE_RATE, Vec::new()));
        }
        let (content_type, body) = Form::new()
            .text("text", text)
            .text("language", lang.trim())
            .text("speed", &speed_field(speed))
            .text("voice", &reference.id)
            .file("reference", "reference.wav", "audio/wav", &reference.wav)
            .finish();
        let name = reference.name.clone();
        let request = Request {
            method: Method::Post,
            path: "/synthesize".to_string(),
            content_type: Some(content_type),
            body: &body,
        };
        let mut malformed_retried = false;
        loop {
            let reply = self.send(&request).map_err(|m| self.error(&request, m))?;
            if !reply.ok() {
                return Err(self.error(&request, format!("voice `{name}`, language {lang}: {}", self.failure(&reply))));
            }
            let problem = if reply.is_json() {
                format!("the reply is JSON, not audio: {}", snippet(&String::from_utf8_lossy(&reply.body)))
            } else {
                match decode_wav(&reply.body) {
                    Ok(audio) if !audio.samples.is_empty() => {
                        return Ok(Audio::new(audio.rate, trim_silence(&audio.samples, audio.rate).to_vec()))
                    }
                    Ok(_) => "the reply is a WAV without samples".to_string(),
                    Err(why) => format!("the reply is {why}"),
                }
            };
            if malformed_retried {
                return Err(self.error(
                    &request,
                    format!("{problem} (2 attempts). The protocol wants an audio/wav body ({PROTOCOL_DOC})"),
                ));
            }
            malformed_retried = true;
            std::thread::sleep(retry::backoff(Duration::from_millis(self.settings.backoff_ms), 0));
        }
    }

    /// The references held, oldest first, when the server speaks `lang` (per the settings'
    /// `languages`, else `/health`'s, else assumed); none otherwise.
    fn voices(&self, lang: &str) -> Vec<String> {
        let languages = self.languages();
        let wanted = primary_language(lang);
        if languages.is_empty() || languages.iter().any(|l| primary_language(l) == wanted) {
            self.created_voices()
        } else {
            Vec::new()
        }
    }
}

/// By hand, like [`CloneHttpSettings`]'s, so the key stays out of `{:?}`.
impl std::fmt::Debug for CloneHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloneHttp")
            .field("base", &self.shown_base)
            .field("settings", &self.settings)
            .field("voices", &self.created_voices())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_a_plain_decimal() {
        assert_eq!(speed_field(1.0), "1");
        assert_eq!(speed_field(1.1), "1.1");
        assert_eq!(speed_field(0.85), "0.85");
    }

    #[test]
    fn ids_are_stable_and_content_derived() {
        assert_eq!(reference_id(b"abc"), "clone-ba7816bf8f01cfea");
        assert_ne!(reference_id(b"abd"), reference_id(b"abc"));
    }
}
