//! One request to an HTTP API and its retries, as the cloning backends (`redub-elevenlabs`,
//! `redub-clonehttp`) send them: the agent, the request kept so that it can be sent again, one
//! attempt on the wire, and the loop that waits (`Retry-After`, else backoff) and tries again.
//! Which replies are worth another try, and every word a user reads, stay with each backend:
//! it sorts each attempt into an [`Attempt`] itself.

use crate::retry::{self, Policy};
use std::time::{Duration, Instant, SystemTime};
use ureq::{Agent, RequestBuilder};

/// The methods the backends use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One HTTP request, kept so that it can be sent again.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub method: Method,
    /// After the base URL, e.g. `/v1/voices/add`.
    pub path: String,
    pub content_type: Option<String>,
    /// Sent with `POST` only.
    pub body: &'a [u8],
}

/// A reply as read off the wire; once the loop returns it, one that was not retried: 2xx, or an
/// error that retrying cannot fix.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    /// Where a redirect points.
    pub location: Option<String>,
    /// What the server asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
    }
}

/// What one attempt led to, as the backend sorts it.
#[derive(Debug)]
pub enum Attempt {
    Reply(Reply),
    /// Worth trying again after a wait.
    Transient {
        problem: String,
        hint: &'static str,
        server_delay: Option<Duration>,
    },
    /// Trying again cannot help.
    Fail(String),
}

/// An agent for one backend: 4xx/5xx come back as replies (their bodies say what went wrong),
/// `timeout` from connecting to the last byte, no redirects (a redirected POST would lose its
/// body; the backend says where the server points instead), Redub's user agent.
pub fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .user_agent(concat!("redub/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Sends `request` to `url` once, with `headers` (`Accept`, the key, …) and `timeout` for this
/// attempt, and reads the reply up to `max_body` bytes. An error is a failure below HTTP, for
/// [`crate::transport::classify`].
pub fn call(
    agent: &Agent,
    url: &str,
    request: &Request,
    headers: &[(&str, &str)],
    timeout: Duration,
    max_body: u64,
) -> Result<Reply, ureq::Error> {
    fn prepare<B>(builder: RequestBuilder<B>, headers: &[(&str, &str)], timeout: Duration) -> RequestBuilder<B> {
        let builder = builder.config().timeout_global(Some(timeout)).build();
        headers.iter().fold(builder, |builder, (name, value)| builder.header(*name, *value))
    }
    let result = match request.method {
        Method::Post => {
            let mut builder = prepare(agent.post(url), headers, timeout);
            if let Some(ct) = &request.content_type {
                builder = builder.header("Content-Type", ct);
            }
            builder.send(request.body)
        }
        Method::Get => prepare(agent.get(url), headers, timeout).call(),
        Method::Delete => prepare(agent.delete(url), headers, timeout).call(),
    };
    let mut response = result?;
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let retry_after = retry::server_delay(None, header("retry-after").as_deref(), SystemTime::now());
    let content_type = header("content-type");
    let location = header("location");
    let body = response.body_mut().with_config().limit(max_body).read_to_vec()?;
    Ok(Reply { status, content_type, location, retry_after, body })
}

/// Runs `attempt` (given the timeout of one attempt) until it gives a reply or a failure,
/// retrying what it calls transient as `policy` allows; returns the first reply that is not
/// retried. The error says what went wrong, how often and how long it was tried, and the
/// attempt's hint; `who` ("ElevenLabs", "The server") is who asked to wait longer than Redub
/// waits, when that is why it stopped.
pub fn send(policy: Policy, who: &str, mut attempt: impl FnMut(Duration) -> Attempt) -> Result<Reply, String> {
    let started = Instant::now();
    let mut attempts = 0u32;
    let mut retries = 0u32;
    loop {
        attempts += 1;
        let (problem, hint, server_delay) = match attempt(policy.timeout) {
            Attempt::Reply(reply) => return Ok(reply),
            Attempt::Fail(message) => {
                let tries = if attempts > 1 { format!(" ({attempts} attempts)") } else { String::new() };
                return Err(format!("{message}{tries}"));
            }
            Attempt::Transient { problem, hint, server_delay } => (problem, hint, server_delay),
        };
        // A server that asks for more than we are willing to wait will refuse every retry
        // before then: stop now and say so.
        let too_long = server_delay.filter(|d| *d > policy.max_wait);
        if retries >= policy.max_retries || too_long.is_some() {
            let longer = too_long
                .map(|d| {
                    format!(
                        " {who} asked to wait {} s before retrying, longer than the {} s Redub waits: rerun after \
                         that.",
                        d.as_secs(),
                        policy.max_wait.as_secs()
                    )
                })
                .unwrap_or_default();
            return Err(format!(
                "{problem}; gave up after {attempts} attempt{} in {:.1} s (max_retries = {}). {hint}.{longer}",
                if attempts == 1 { "" } else { "s" },
                started.elapsed().as_secs_f64(),
                policy.max_retries
            ));
        }
        let wait = match server_delay {
            Some(asked) if !asked.is_zero() => asked,
            _ => retry::backoff(policy.backoff, retries).min(policy.max_wait),
        };
        retries += 1;
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_retries: u32) -> Policy {
        Policy {
            max_retries,
            backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
        }
    }

    fn transient(server_delay: Option<Duration>) -> Attempt {
        Attempt::Transient { problem: "HTTP 503: busy".into(), hint: "Rerun later", server_delay }
    }

    #[test]
    fn transient_failures_are_retried_then_reported() {
        let mut n = 0;
        let e = send(policy(2), "The server", |_| {
            n += 1;
            transient(None)
        })
        .unwrap_err();
        assert_eq!(n, 3);
        assert!(e.starts_with("HTTP 503: busy; gave up after 3 attempts in "), "{e}");
        assert!(e.ends_with("(max_retries = 2). Rerun later."), "{e}");
    }

    #[test]
    fn a_long_retry_after_stops_at_once_and_a_failure_counts_attempts() {
        let e = send(policy(4), "ElevenLabs", |_| transient(Some(Duration::from_secs(3600)))).unwrap_err();
        assert!(e.contains("after 1 attempt in "), "{e}");
        assert!(
            e.ends_with(
                " ElevenLabs asked to wait 3600 s before retrying, longer than the 60 s Redub waits: rerun after that."
            ),
            "{e}"
        );
        let mut n = 0;
        let e = send(policy(4), "x", |_| {
            n += 1;
            if n == 1 {
                transient(None)
            } else {
                Attempt::Fail("refused".into())
            }
        })
        .unwrap_err();
        assert_eq!(e, "refused (2 attempts)");
    }
}
