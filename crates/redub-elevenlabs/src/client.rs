//! The ElevenLabs client: clones, speech, and the clean-up that deletes every clone it made.

use crate::audio::{decode_pcm_s16le, wav_bytes};
use crate::reply::{error_status, server_message, snippet, status_is};
use crate::{
    pcm_rate, redact_url, ElevenLabsSettings, BACKEND, ENV_API_KEY, ENV_BASE_URL, FALLBACK_OUTPUT_FORMAT, MAX_SPEED,
    MIN_SPEED,
};
use redub_core::{Audio, Error, Result, Synthesizer, VoiceCloner};
use redub_dsp::{prepare_reference, trim_silence};
use redub_http::multipart::Form;
use redub_http::request::{self, Attempt, Method, Reply, Request};
use redub_http::retry::{self, Policy, MAX_RETRY_AFTER};
use redub_http::transport::Transport;
use serde_json::{json, Map, Value};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};
use ureq::Agent;

/// Where a user deletes clones by hand when Redub could not.
const VOICE_LAB: &str = "https://elevenlabs.io/app/voice-lab";

/// The largest reply read (10 minutes of 48 kHz PCM is 58 MB).
const MAX_BODY_BYTES: u64 = 256 << 20;

/// What every clone says about itself in the user's voice list, so a leftover is recognisable.
const DESCRIPTION: &str = "Temporary clone made by Redub for one dubbing job; deleted when the job ends.";

/// Clean-up from `Drop` tries this often and waits at most this long, so that a failing job
/// does not hang on its way out.
const DROP_MAX_RETRIES: u32 = 2;
const DROP_MAX_WAIT: Duration = Duration::from_secs(10);
const DROP_TIMEOUT: Duration = Duration::from_secs(15);
/// The whole clean-up from `Drop` stops starting new deletes after this long.
const DROP_BUDGET: Duration = Duration::from_secs(60);

/// ElevenLabs with one API key: makes instant clones, speaks with them, and deletes them.
///
/// Every voice made by [`create_voice`](VoiceCloner::create_voice) is remembered until it is
/// deleted, by [`delete_voice`](VoiceCloner::delete_voice), by [`delete_all`](Self::delete_all)
/// (call it when the job ends, whatever the outcome) or, as a last resort, when the value is
/// dropped: `Drop` deletes whatever is left (a panic, an early `?`), reporting failures on
/// stderr only.
pub struct ElevenLabs {
    settings: ElevenLabsSettings,
    /// `base_url` normalised: no trailing slash, no `/v1`.
    base: String,
    /// The base as errors show it.
    shown_base: String,
    agent: Agent,
    /// The `output_format` in use: the configured one, or [`FALLBACK_OUTPUT_FORMAT`] once the
    /// account refused it.
    output_format: String,
    /// Clones made and not yet deleted, oldest first.
    created: Vec<Made>,
}

/// One clone this object made.
#[derive(Clone, Debug)]
struct Made {
    id: String,
    name: String,
    /// Hash of the name and the WAV sent, so the same speaker with the same sample is cloned once.
    key: u64,
}

impl ElevenLabs {
    /// A client for `settings`, after [`ElevenLabsSettings::check`]. Opens no connection.
    pub fn new(settings: ElevenLabsSettings) -> Result<Self> {
        settings.check()?;
        let base = settings.normalized_base_url();
        let shown_base = redact_url(&base);
        let agent = request::agent(Duration::from_millis(settings.timeout_ms));
        let output_format = settings.output_format.trim().to_string();
        Ok(Self { settings, base, shown_base, agent, output_format, created: Vec::new() })
    }

    /// A client from the default settings with the environment on top ([`ENV_API_KEY`], …).
    pub fn from_env() -> Result<Self> {
        Self::new(ElevenLabsSettings::from_env(ElevenLabsSettings::default()))
    }

    /// The settings in use.
    pub fn settings(&self) -> &ElevenLabsSettings {
        &self.settings
    }

    /// `elevenlabs:<model>@<base url>`, for logs and cache keys (no key, no credentials).
    pub fn name(&self) -> String {
        format!("{BACKEND}:{}@{}", self.settings.model_id, self.shown_base)
    }

    /// The `output_format` requests use now: the configured one, or `pcm_24000` after the
    /// account refused it.
    pub fn output_format(&self) -> &str {
        &self.output_format
    }

    /// The ids of the clones made and not yet deleted, oldest first.
    pub fn created_voices(&self) -> Vec<String> {
        self.created.iter().map(|c| c.id.clone()).collect()
    }

    /// Delete every clone this object made and has not deleted yet. Tries all of them even when
    /// some fail; the ones that could not be deleted stay listed (and `Drop` tries them once
    /// more), and the error names them.
    pub fn delete_all(&mut self) -> Result<()> {
        let policy = self.policy();
        let mut failed = Vec::new();
        for clone in self.created.clone() {
            if let Err(message) = self.delete_inner(&clone.id, policy) {
                failed.push((clone, message));
            }
        }
        let Some((first, message)) = failed.first() else {
            return Ok(());
        };
        let ids: Vec<String> = failed.iter().map(|(c, _)| format!("{} ({})", c.id, c.name)).collect();
        Err(Error::backend(
            BACKEND,
            format!(
                "could not delete {} cloned voice{}: {}. First error, for {}: {message}. Rerun to try again, or \
                 delete them at {VOICE_LAB}",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" },
                ids.join(", "),
                first.id
            ),
        ))
    }

    fn policy(&self) -> Policy {
        Policy {
            max_retries: self.settings.max_retries,
            backoff: Duration::from_millis(self.settings.backoff_ms),
            max_wait: MAX_RETRY_AFTER,
            timeout: Duration::from_millis(self.settings.timeout_ms),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `METHOD url` as errors show it (no query: it holds only the output format).
    fn shown(&self, method: Method, path: &str) -> String {
        let path = path.split('?').next().unwrap_or(path);
        format!("{} {}{path}", method.as_str(), self.shown_base)
    }

    fn error(&self, method: Method, path: &str, message: impl std::fmt::Display) -> Error {
        Error::backend(BACKEND, format!("{}: {message}", self.shown(method, path)))
    }

    /// DELETE one voice; gone already counts as deleted. Forgets it on success.
    fn delete_inner(&mut self, id: &str, policy: Policy) -> std::result::Result<(), String> {
        let request = Request {
            method: Method::Delete,
            path: format!("/v1/voices/{}", encode_segment(id)),
            content_type: None,
            body: &[],
        };
        let reply = self.send(&request, policy)?;
        let gone = reply.status == 404
            || (reply.status == 400 && status_is(&reply.body, &["voice_not_found", "voice_does_not_exist"]));
        if reply.ok() || gone {
            self.created.retain(|c| c.id != id);
            return Ok(());
        }
        Err(self.failure(&reply, Some(id)))
    }

    /// Sends `request`, retrying what is worth retrying; returns the first reply that is not.
    fn send(&self, request: &Request, policy: Policy) -> std::result::Result<Reply, String> {
        request::send(policy, "ElevenLabs", |timeout| self.attempt(request, timeout))
    }

    /// Sends `request` once and sorts the outcome.
    fn attempt(&self, request: &Request, timeout: Duration) -> Attempt {
        let url = self.url(&request.path);
        let accept = match request.method {
            Method::Post => "audio/*, application/json",
            Method::Get | Method::Delete => "application/json",
        };
        let mut headers = vec![("Accept", accept)];
        if let Some(key) = self.settings.key() {
            headers.push(("xi-api-key", key));
        }
        let reply = match request::call(&self.agent, &url, request, &headers, timeout, MAX_BODY_BYTES) {
            Ok(reply) => reply,
            Err(e) => return self.transport(e),
        };
        let (status, server_delay) = (reply.status, reply.retry_after);
        let quota = status_is(&reply.body, &["quota_exceeded"]);
        match status {
            429 if !quota => Attempt::Transient {
                problem: format!("HTTP 429: {}", self.scrub(&server_message(&reply.body))),
                hint: "ElevenLabs is rate-limiting these requests (more at once than the plan allows, or the service \
                       is busy): rerun later, or run fewer jobs with this key at the same time",
                server_delay,
            },
            408 | 500..=599 => Attempt::Transient {
                problem: format!("HTTP {status}: {}", self.scrub(&server_message(&reply.body))),
                hint: "ElevenLabs is failing or overloaded: check https://status.elevenlabs.io and rerun",
                server_delay,
            },
            _ => Attempt::Reply(reply),
        }
    }

    /// What a reply that is not a success means for the user, for any endpoint. `voice` is the
    /// voice the request was about, if any.
    fn failure(&self, reply: &Reply, voice: Option<&str>) -> String {
        let status = reply.status;
        let message = self.scrub(&server_message(&reply.body));
        let code = error_status(&reply.body).unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        match status {
            _ if code == "quota_exceeded" || (status == 401 && lower.contains("quota")) => format!(
                "the account is out of credits (HTTP {status}: {message}). Add credits or enable usage-based billing \
                 in your ElevenLabs subscription, then rerun (finished stages are kept)"
            ),
            401 | 403 if code == "missing_permissions" || lower.contains("permission") => format!(
                "the API key lacks a permission this needs (HTTP {status}: {message}). Allow text-to-speech and \
                 voices (write) for the key in ElevenLabs' API key settings, or put another key in {ENV_API_KEY}"
            ),
            401 | 403 if lower.contains("voice_cloning") || lower.contains("voice cloning") => format!(
                "the plan does not include instant voice cloning (HTTP {status}: {message}). Upgrade the ElevenLabs \
                 plan, or use the clone-http backend with a cloning server of your own"
            ),
            401 | 403 => match self.settings.key() {
                Some(_) => format!(
                    "ElevenLabs refused the API key (HTTP {status}: {message}). Put a valid key in {ENV_API_KEY} \
                     (your ElevenLabs profile → API keys)"
                ),
                None => format!(
                    "ElevenLabs wants an API key (HTTP {status}: {message}) and none is set: export {ENV_API_KEY} \
                     with your key"
                ),
            },
            400 | 422 if code == "voice_limit_reached" || lower.contains("voice limit") || lower.contains("maximum amount of custom voices") => format!(
                "the account has no free custom voice slot (HTTP {status}: {message}). Delete voices you no longer \
                 need at {VOICE_LAB} (leftover clones described as made by Redub are safe to delete), or upgrade the plan"
            ),
            404 => match voice {
                Some(voice) => format!(
                    "voice {voice} was not found (HTTP 404: {message}): it was deleted, or belongs to another account. \
                     If every request says this, base_url ({}) is wrong: it should be the API root, e.g. \
                     https://api.elevenlabs.io ({ENV_BASE_URL})",
                    self.shown_base
                ),
                None => format!(
                    "not found (HTTP 404: {message}): base_url ({}) is wrong; it should be the API root, e.g. \
                     https://api.elevenlabs.io ({ENV_BASE_URL})",
                    self.shown_base
                ),
            },
            400 | 413 | 422 => format!("ElevenLabs rejected the request (HTTP {status}: {message})"),
            300..=399 => format!(
                "the server redirects (HTTP {status}) to {}: set base_url ({ENV_BASE_URL}) to the final address",
                reply.location.as_deref().map(redact_url).unwrap_or_else(|| "an address it does not give".to_string())
            ),
            _ => format!("ElevenLabs answered HTTP {status}: {message}"),
        }
    }

    /// What a failure below HTTP (connecting, sending, reading) means.
    fn transport(&self, e: ureq::Error) -> Attempt {
        let timeout = || Attempt::Transient {
            problem: "no complete reply within the timeout (timeout_ms)".to_string(),
            hint: "Raise timeout_ms (long lines take longer to speak), or rerun later",
            server_delay: None,
        };
        let dropped = |what: String| Attempt::Transient {
            problem: what,
            hint: "Check the network (and any proxy in between) and rerun",
            server_delay: None,
        };
        let unreachable = |what: String| {
            Attempt::Fail(format!(
                "{what}: check the network, or set {ENV_BASE_URL} to where the API is (now {})",
                self.shown_base
            ))
        };
        match redub_http::transport::classify(&e, |t| self.scrub(t)) {
            Transport::Timeout => timeout(),
            Transport::Dropped(what) => dropped(what),
            Transport::Unreachable(what) => unreachable(what),
            Transport::NotHttp(p) => dropped(format!("the reply is not valid HTTP ({p})")),
            Transport::TooLarge(limit) => {
                Attempt::Fail(format!("the reply is larger than {limit} bytes: send shorter lines"))
            }
            Transport::Tls => Attempt::Fail(format!("TLS failed ({})", self.scrub(&e.to_string()))),
            Transport::Other => {
                Attempt::Fail(format!("the request could not be sent ({})", self.scrub(&e.to_string())))
            }
        }
    }

    /// `text` without the key and without a raw base URL (which may carry credentials).
    fn scrub(&self, text: &str) -> String {
        redub_http::reply::scrub(text, &self.base, &self.shown_base, self.settings.key())
    }

    /// The `text-to-speech` request body.
    fn tts_body(&self, text: &str, speed: f32) -> Value {
        let mut voice_settings = Map::new();
        voice_settings.insert("stability".into(), json!(self.settings.stability));
        voice_settings.insert("similarity_boost".into(), json!(self.settings.similarity_boost));
        let speed = engine_speed(speed);
        if speed != 1.0 {
            voice_settings.insert("speed".into(), json!(speed));
        }
        json!({
            "text": text,
            "model_id": self.settings.model_id.trim(),
            "voice_settings": Value::Object(voice_settings),
        })
    }

    /// Whether a refusal is about the output format (44.1 kHz PCM needs the Pro plan) and a
    /// format every plan has is left to try.
    fn format_refused(&self, reply: &Reply) -> bool {
        let lower = String::from_utf8_lossy(&reply.body).to_ascii_lowercase();
        let about_format = status_is(&reply.body, &["output_format_not_allowed"])
            || (matches!(reply.status, 400 | 401 | 403 | 422)
                && (lower.contains("output_format") || lower.contains("output format")));
        let fallback_rate = pcm_rate(FALLBACK_OUTPUT_FORMAT).unwrap_or(0);
        about_format && pcm_rate(&self.output_format).is_some_and(|r| r > fallback_rate)
    }
}

/// The `speed` voice setting sent for `speed`: ElevenLabs takes 0.7–1.2, so a request outside is
/// clamped and the caller time-stretches what remains (it measures every clip anyway). Rounded
/// to 3 decimals so that 1.1 goes out as 1.1, not 1.100000023841858.
pub(crate) fn engine_speed(speed: f32) -> f64 {
    let clamped = speed.clamp(MIN_SPEED, MAX_SPEED);
    (f64::from(clamped) * 1000.0).round() / 1000.0
}

/// `s` safe as one URL path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl VoiceCloner for ElevenLabs {
    /// An instant clone from `sample` (mono, any rate; resampled to 44.1 kHz and padded to 2.0 s
    /// when shorter than 1.5 s). The same `name` with the same sample returns the clone already
    /// made instead of paying for a second one.
    fn create_voice(&mut self, name: &str, sample: &Audio) -> Result<String> {
        let name = match name.trim() {
            "" => "redub",
            name => name,
        };
        let prepared = prepare_reference(sample)
            .map_err(|e| Error::Usage(format!("{BACKEND}: cannot clone the voice `{name}`: {e}")))?;
        let wav = wav_bytes(&prepared)?;
        let mut hasher = DefaultHasher::new();
        (name, &wav).hash(&mut hasher);
        let key = hasher.finish();
        if let Some(existing) = self.created.iter().find(|c| c.key == key && c.name == name) {
            return Ok(existing.id.clone());
        }
        let mut form = Form::new().text("name", name).text("description", DESCRIPTION);
        if self.settings.remove_background_noise {
            form = form.text("remove_background_noise", "true");
        }
        let (content_type, body) = form.file("files", "sample.wav", "audio/wav", &wav).finish();
        let request = Request {
            method: Method::Post,
            path: "/v1/voices/add".to_string(),
            content_type: Some(content_type),
            body: &body,
        };
        let policy = self.policy();
        let reply = self.send(&request, policy).map_err(|m| self.error(Method::Post, &request.path, m))?;
        if !reply.ok() {
            return Err(self.error(
                Method::Post,
                &request.path,
                format!("cloning `{name}` failed: {}", self.failure(&reply, None)),
            ));
        }
        let id = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("voice_id").and_then(Value::as_str).map(str::to_string))
            .filter(|id| !id.trim().is_empty());
        let Some(id) = id else {
            return Err(self.error(
                Method::Post,
                &request.path,
                format!(
                    "cloning `{name}` answered without a voice_id ({}). A clone may have been made anyway: check \
                     {VOICE_LAB} for a voice named `{name}`",
                    snippet(&String::from_utf8_lossy(&reply.body))
                ),
            ));
        };
        self.created.push(Made { id: id.clone(), name: name.to_string(), key });
        Ok(id)
    }

    /// Deletes the voice `id` (any voice of the account, normally one this object made). A voice
    /// that is already gone is not an error.
    fn delete_voice(&mut self, id: &str) -> Result<()> {
        let policy = self.policy();
        self.delete_inner(id, policy)
            .map_err(|m| self.error(Method::Delete, &format!("/v1/voices/{}", encode_segment(id)), m))
    }
}

impl Synthesizer for ElevenLabs {
    /// `text` spoken by the voice `voice` (a clone id) as mono audio at the output format's rate
    /// (44.1 kHz, or 24 kHz after a fallback), trimmed of silent edges (30 ms kept) like Redub's
    /// own engines. `speed` is sent as ElevenLabs' `speed` voice
    /// setting, clamped to 0.7–1.2; the caller stretches what remains. `lang` is not sent:
    /// `eleven_multilingual_v2` reads the language from the text.
    fn synthesize(&mut self, text: &str, _lang: &str, voice: &str, speed: f32) -> Result<Audio> {
        if !speed.is_finite() || speed <= 0.0 {
            return Err(Error::Usage(format!("{BACKEND}: speed {speed} is not a positive number")));
        }
        if voice.trim().is_empty() {
            return Err(Error::Usage(format!(
                "{BACKEND}: no voice id was given: clone a voice with create_voice first"
            )));
        }
        let fallback_rate = pcm_rate(&self.output_format).unwrap_or(44_100);
        if text.trim().is_empty() {
            return Ok(Audio::new(fallback_rate, Vec::new()));
        }
        let body = self.tts_body(text, speed).to_string();
        let policy = self.policy();
        let mut malformed_retried = false;
        loop {
            let rate = pcm_rate(&self.output_format).unwrap_or(44_100);
            let path = format!("/v1/text-to-speech/{}?output_format={}", encode_segment(voice), self.output_format);
            let request = Request {
                method: Method::Post,
                path,
                content_type: Some("application/json".to_string()),
                body: body.as_bytes(),
            };
            let reply = self.send(&request, policy).map_err(|m| self.error(Method::Post, &request.path, m))?;
            if reply.ok() {
                let problem = if reply.is_json() {
                    format!("the reply is JSON, not audio: {}", snippet(&String::from_utf8_lossy(&reply.body)))
                } else {
                    match decode_pcm_s16le(&reply.body, rate) {
                        Some(audio) if !audio.samples.is_empty() => {
                            return Ok(Audio::new(audio.rate, trim_silence(&audio.samples, audio.rate).to_vec()))
                        }
                        Some(_) => "the reply has no audio".to_string(),
                        None => format!("the reply is not 16-bit PCM ({} bytes, an odd count)", reply.body.len()),
                    }
                };
                if malformed_retried {
                    return Err(self.error(Method::Post, &request.path, format!("{problem} (2 attempts)")));
                }
                malformed_retried = true;
                std::thread::sleep(retry::backoff(policy.backoff, 0));
                continue;
            }
            if self.format_refused(&reply) {
                // 44.1 kHz PCM needs the Pro plan; 24 kHz is on every plan. Keep it for the session.
                self.output_format = FALLBACK_OUTPUT_FORMAT.to_string();
                continue;
            }
            return Err(self.error(Method::Post, &request.path, self.failure(&reply, Some(voice))));
        }
    }

    /// The clones this object made and has not deleted, oldest first, when the model speaks
    /// `lang`; none otherwise (so the caller falls back to a stock engine).
    fn voices(&self, lang: &str) -> Vec<String> {
        if self.settings.speaks(lang) {
            self.created_voices()
        } else {
            Vec::new()
        }
    }
}

impl Drop for ElevenLabs {
    /// Best-effort clean-up: deletes every clone still listed, with few retries and short waits,
    /// and reports failures on stderr (a destructor has no one to return an error to).
    fn drop(&mut self) {
        if self.created.is_empty() {
            return;
        }
        let policy = Policy {
            max_retries: self.settings.max_retries.min(DROP_MAX_RETRIES),
            backoff: Duration::from_millis(self.settings.backoff_ms),
            max_wait: DROP_MAX_WAIT,
            timeout: Duration::from_millis(self.settings.timeout_ms).min(DROP_TIMEOUT),
        };
        let started = Instant::now();
        for clone in self.created.clone() {
            let result = if started.elapsed() < DROP_BUDGET {
                self.delete_inner(&clone.id, policy)
            } else {
                Err("not tried: the clean-up ran out of time".to_string())
            };
            if let Err(message) = result {
                eprintln!(
                    "{BACKEND}: could not delete the cloned voice {} (`{}`): {message}. Delete it at {VOICE_LAB}",
                    clone.id, clone.name
                );
            }
        }
    }
}

/// By hand, like [`ElevenLabsSettings`]'s, so the key stays out of `{:?}`.
impl std::fmt::Debug for ElevenLabs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabs")
            .field("base", &self.shown_base)
            .field("settings", &self.settings)
            .field("output_format", &self.output_format)
            .field("created", &self.created_voices())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn speed_is_clamped_and_rounded() {
        assert_eq!(engine_speed(1.0), 1.0);
        assert_eq!(engine_speed(1.1), 1.1);
        assert_eq!(engine_speed(1.25), 1.2);
        assert_eq!(engine_speed(0.5), 0.7);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("21m00Tcm4TlvDq8ikWAM"), "21m00Tcm4TlvDq8ikWAM");
        assert_eq!(encode_segment("a/b c?"), "a%2Fb%20c%3F");
    }
}
