//! The event envelope (DESIGN §5): the same JSON in `events.jsonl`, `--json` output, SSE and NATS.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub job: String,
    pub at_ms: u64,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it): events' `at_ms`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Event {
    pub fn new(kind: &str, job: &str, data: serde_json::Value) -> Self {
        Self { kind: kind.to_string(), job: job.to_string(), at_ms: now_ms(), data }
    }
}
