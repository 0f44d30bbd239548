//! The chat-completions client: one blocking request per [`ChatModel::complete`], with the
//! retries and fallbacks that make a remote or local server usable for a whole film.

use crate::reply::{self, Problem};
use crate::{redact_url, OpenAiSettings, BACKEND, ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, ENV_OPENAI_API_KEY};
use redub_core::{ChatMessage, ChatModel, ChatOptions, Error, Result};
use redub_http::retry::{self, MAX_RETRY_AFTER};
use redub_http::transport::Transport;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant, SystemTime};
use ureq::http::Response;
use ureq::{Agent, Body};

/// Talks to one OpenAI-compatible server with one model.
pub struct OpenAiChat {
    settings: OpenAiSettings,
    /// `{base_url}/chat/completions`, as requested.
    endpoint: String,
    /// The endpoint as errors show it (no credentials, no query).
    shown_endpoint: String,
    agent: Agent,
    compat: Compat,
}

/// Request fields this server turned out not to accept. Learned from a 400 once and kept for
/// the session, so that every later request goes right the first time.
#[derive(Clone, Copy, Debug)]
struct Compat {
    /// Send `response_format: {"type": "json_object"}` when the options ask for JSON. Older
    /// llama.cpp and vLLM builds and some gateways reject the field.
    json_mode: bool,
    /// Send the limit as `max_completion_tokens`: OpenAI's reasoning models (o1, o3, …) refuse
    /// `max_tokens`, which every other server expects.
    max_completion_tokens: bool,
    /// Send `temperature`: the same reasoning models accept only their default.
    temperature: bool,
}

/// What one request led to.
enum Step {
    Done(String),
    /// Worth trying again after a wait: rate limits, 5xx, dropped connections, timeouts.
    Transient {
        problem: String,
        hint: String,
        /// What the server asked us to wait (`Retry-After`).
        server_delay: Option<Duration>,
    },
    /// A 2xx body that could not be read; tried again once.
    Malformed(String),
    /// The request was changed to suit the server (see [`Compat`]); send it again at once.
    Adapted,
    /// Trying again cannot help: the message says what to do.
    Fail(String),
}

impl OpenAiChat {
    /// A client for `settings`, after [`OpenAiSettings::check`]. Opens no connection: the first
    /// request does.
    pub fn new(settings: OpenAiSettings) -> Result<Self> {
        settings.check()?;
        let base = settings.normalized_base_url();
        // Keep a query string (some gateways want `?api-version=…`) after the path.
        let (path, query) = base.split_at(base.find('?').unwrap_or(base.len()));
        let endpoint = format!("{}/chat/completions{query}", path.trim_end_matches('/'));
        let shown_endpoint = redact_url(&endpoint);
        // Statuses as replies, the timeout per request, no redirects: as every HTTP backend.
        let agent = redub_http::request::agent(Duration::from_millis(settings.timeout_ms));
        Ok(Self {
            settings,
            endpoint,
            shown_endpoint,
            agent,
            compat: Compat { json_mode: true, max_completion_tokens: false, temperature: true },
        })
    }

    /// The settings in use (base URL normalised only in requests, not here).
    pub fn settings(&self) -> &OpenAiSettings {
        &self.settings
    }

    /// Whether `response_format` is still sent when JSON is asked for; false once the server
    /// rejected it. The reply is then only as JSON as the prompt makes it.
    pub fn json_mode(&self) -> bool {
        self.compat.json_mode
    }

    fn request_body(&self, messages: &[ChatMessage], options: &ChatOptions, json_mode: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.settings.model));
        body.insert("messages".into(), json!(messages));
        if self.compat.temperature {
            // f32 → f64 would send 0.2 as 0.20000000298023224; servers get the decimal we mean.
            let t = (f64::from(options.temperature) * 1000.0).round() / 1000.0;
            body.insert("temperature".into(), json!(t));
        }
        let limit_field = if self.compat.max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
        body.insert(limit_field.into(), json!(options.max_tokens));
        if json_mode {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Value::Object(body)
    }

    /// Sends one request and decides what it means.
    fn attempt(&mut self, messages: &[ChatMessage], options: &ChatOptions, json_once: &mut bool) -> Step {
        let json_mode = options.json && self.compat.json_mode && *json_once;
        let body = self.request_body(messages, options, json_mode).to_string();
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(key) = self.settings.key() {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = match request.send(body.as_bytes()) {
            Ok(response) => response,
            Err(e) => return self.transport_step(e),
        };
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let server_delay = retry::server_delay(
            header("retry-after-ms").as_deref(),
            header("retry-after").as_deref(),
            SystemTime::now(),
        );
        let location = header("location");
        let text = match read_body(&mut response) {
            Ok(text) => text,
            Err(e) => return self.transport_step(e),
        };
        if (200..300).contains(&status) {
            return match reply::content(&text, options.max_tokens) {
                Ok(content) => Step::Done(content),
                Err(Problem::Malformed(why)) => Step::Malformed(why),
                Err(Problem::NotChat(why)) => Step::Malformed(format!(
                    "{why}. Check that base_url ({}) is an OpenAI-compatible API root, usually ending in /v1",
                    self.settings.display_base_url()
                )),
                Err(Problem::Unusable(why)) => Step::Fail(why),
            };
        }
        let message = self.scrub(&reply::server_message(&text));
        let (base, model) = (self.settings.display_base_url(), self.settings.model.clone());
        match status {
            400 | 422 => match self.adapt(&text, json_mode) {
                Some(Adapt::JsonThisRequest) => {
                    *json_once = false;
                    Step::Adapted
                }
                Some(Adapt::Session) => Step::Adapted,
                None => Step::Fail(format!(
                    "the server rejected the request (HTTP {status}): {message}. Check the model ({model}) and, if \
                     the prompt is too long for it, send fewer lines per request"
                )),
            },
            401 | 403 => Step::Fail(match self.settings.key() {
                Some(_) => format!(
                    "the server refused the API key (HTTP {status}: {message}). Set a valid key in \
                     {ENV_OPENAI_API_KEY} (or {ENV_API_KEY}); for a local server that needs none, unset both"
                ),
                None => format!(
                    "the server wants an API key (HTTP {status}: {message}) and none is set: export \
                     {ENV_OPENAI_API_KEY} (or {ENV_API_KEY})"
                ),
            }),
            404 => Step::Fail(format!(
                "not found (HTTP 404: {message}): the base URL or the model is wrong (base_url {base}, model \
                 {model}). OpenAI-compatible servers answer under /v1 (Ollama: http://localhost:11434/v1); set \
                 {ENV_BASE_URL} and {ENV_MODEL} to a URL and a model the server lists at {base}/models"
            )),
            429 if reply::error_code(&text).as_deref() == Some("insufficient_quota") => Step::Fail(format!(
                "the account is out of quota (HTTP 429: {message}). Add credit or use another key ({ENV_OPENAI_API_KEY})"
            )),
            408 | 409 | 429 | 500..=599 => Step::Transient {
                problem: format!("HTTP {status}: {message}"),
                hint: if status == 429 {
                    "The server is rate-limiting these requests: rerun later, or raise the rate limit of the key"
                        .to_string()
                } else {
                    "The server is failing or overloaded: check that it is healthy (for a local server, its log) \
                     and rerun"
                        .to_string()
                },
                server_delay,
            },
            300..=399 => Step::Fail(format!(
                "the server redirects (HTTP {status}) to {}: set base_url ({ENV_BASE_URL}) to the final address",
                location.as_deref().map(redact_url).unwrap_or_else(|| "an address it does not give".to_string())
            )),
            _ => Step::Fail(format!("the server answered HTTP {status}: {message}")),
        }
    }

    /// Learns from a 400/422 which field the server does not take, if that is what it says.
    fn adapt(&mut self, body: &str, sent_json_mode: bool) -> Option<Adapt> {
        let lower = body.to_ascii_lowercase();
        if sent_json_mode && lower.contains("response_format") {
            // OpenAI rejects json_object when no message mentions JSON: the server supports the
            // field, so drop it for this request only.
            if lower.contains("must contain the word 'json'") {
                return Some(Adapt::JsonThisRequest);
            }
            self.compat.json_mode = false;
            return Some(Adapt::Session);
        }
        if !self.compat.max_completion_tokens && lower.contains("max_completion_tokens") {
            self.compat.max_completion_tokens = true;
            return Some(Adapt::Session);
        }
        let refuses = ["unsupported", "not support", "only the default"].iter().any(|w| lower.contains(w));
        if self.compat.temperature && lower.contains("temperature") && refuses {
            self.compat.temperature = false;
            return Some(Adapt::Session);
        }
        None
    }

    /// What a failure below HTTP (connecting, sending, reading) means.
    fn transport_step(&self, e: ureq::Error) -> Step {
        let timeout = || Step::Transient {
            problem: format!("no complete reply within timeout_ms = {} ms", self.settings.timeout_ms),
            hint: "Raise timeout_ms in the config (a local model on a CPU can need minutes per request) or use a \
                   faster model"
                .to_string(),
            server_delay: None,
        };
        let dropped = |what: String| Step::Transient {
            problem: what,
            hint: "Check the server (and any proxy in between) and rerun".to_string(),
            server_delay: None,
        };
        let unreachable = |what: String| {
            Step::Fail(format!(
                "{what}: start the server (e.g. `ollama serve`) or set {ENV_BASE_URL} to where it runs (now {})",
                self.settings.display_base_url()
            ))
        };
        match redub_http::transport::classify(&e, |t| self.scrub(t)) {
            Transport::Timeout => timeout(),
            Transport::Dropped(what) => dropped(what),
            Transport::Unreachable(what) => unreachable(what),
            Transport::NotHttp(p) => Step::Malformed(format!(
                "the reply is not valid HTTP ({p}); if the server has no TLS, base_url must start with http://"
            )),
            Transport::Tls => Step::Fail(format!(
                "TLS failed ({}): a local server without TLS needs an http:// base_url",
                self.scrub(&e.to_string())
            )),
            // A body limit is not set for chat replies; like anything else, it is reported as is.
            Transport::TooLarge(_) | Transport::Other => {
                Step::Fail(format!("the request could not be sent ({})", self.scrub(&e.to_string())))
            }
        }
    }

    /// `text` without the key and without the raw endpoint (which may carry credentials).
    fn scrub(&self, text: &str) -> String {
        redub_http::reply::scrub(text, &self.endpoint, &self.shown_endpoint, self.settings.key())
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::backend(BACKEND, format!("POST {} (model {}): {message}", self.shown_endpoint, self.settings.model))
    }
}

/// How [`OpenAiChat::adapt`] changed the request.
enum Adapt {
    /// For every later request too.
    Session,
    /// Leave out `response_format` for this request only.
    JsonThisRequest,
}

fn read_body(response: &mut Response<Body>) -> std::result::Result<String, ureq::Error> {
    response.body_mut().read_to_string()
}

impl ChatModel for OpenAiChat {
    fn complete(&mut self, messages: &[ChatMessage], options: &ChatOptions) -> Result<String> {
        let started = Instant::now();
        let base_backoff = Duration::from_millis(self.settings.backoff_ms);
        let mut attempts = 0u32;
        let mut retries = 0u32;
        let mut adaptations = 0u32;
        let mut malformed_retried = false;
        let mut json_once = true;
        loop {
            attempts += 1;
            match self.attempt(messages, options, &mut json_once) {
                Step::Done(text) => return Ok(text),
                Step::Fail(why) => {
                    let tries = if attempts > 1 { format!(" ({attempts} attempts)") } else { String::new() };
                    return Err(self.error(format!("{why}{tries}")));
                }
                Step::Adapted => {
                    adaptations += 1;
                    // Each adaptation turns one field off, so this bounds a server that keeps
                    // answering 400 with the same words.
                    if adaptations > 3 {
                        return Err(self.error(format!(
                            "the server keeps rejecting the request's fields ({attempts} attempts): check that it \
                             speaks the OpenAI chat-completions API"
                        )));
                    }
                }
                Step::Malformed(why) => {
                    if malformed_retried {
                        return Err(self.error(format!("{why} ({attempts} attempts)")));
                    }
                    malformed_retried = true;
                    std::thread::sleep(retry::backoff(base_backoff, 0));
                }
                Step::Transient { problem, hint, server_delay } => {
                    // A server that asks for more than we are willing to wait (an hourly or daily
                    // quota) will refuse every retry before then: stop now and say so.
                    let too_long = server_delay.filter(|d| *d > MAX_RETRY_AFTER);
                    if retries >= self.settings.max_retries || too_long.is_some() {
                        let longer = too_long
                            .map(|d| {
                                format!(
                                    " The server asked to wait {} s before retrying, longer than the {} s Redub \
                                     waits: rerun after that.",
                                    d.as_secs(),
                                    MAX_RETRY_AFTER.as_secs()
                                )
                            })
                            .unwrap_or_default();
                        return Err(self.error(format!(
                            "{problem}; gave up after {attempts} attempt{} in {:.1} s (max_retries = {}). {hint}.{longer}",
                            if attempts == 1 { "" } else { "s" },
                            started.elapsed().as_secs_f64(),
                            self.settings.max_retries
                        )));
                    }
                    let wait = match server_delay {
                        Some(asked) if !asked.is_zero() => asked,
                        _ => retry::backoff(base_backoff, retries),
                    };
                    retries += 1;
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn name(&self) -> String {
        format!("openai:{}@{}", self.settings.model, self.settings.display_base_url())
    }
}

/// By hand, like [`OpenAiSettings`]'s, so the key stays out of `{:?}`.
impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("endpoint", &self.shown_endpoint)
            .field("settings", &self.settings)
            .field("compat", &self.compat)
            .finish_non_exhaustive()
    }
}
