//! What crosses the wire: a task as JSON with its files named by content, and a reply that is
//! either the result or a plain error (never a language-specific object).

use redub_pipeline::Task;
use serde::{Deserialize, Serialize};

/// A file as the wire names it: its name for the unit and the sha256 of its bytes, which are
/// stored once under [`file_object`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFile {
    pub name: String,
    pub sha256: String,
}

/// A task on the work queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The job it belongs to (for the workers' logs and events).
    pub job: String,
    pub kind: String,
    pub key: String,
    pub label: String,
    pub input: serde_json::Value,
    pub files: Vec<WireFile>,
}

impl Envelope {
    pub fn new(job: &str, task: &Task, files: Vec<WireFile>) -> Self {
        Self {
            job: job.to_string(),
            kind: task.kind.clone(),
            key: task.key.clone(),
            label: task.label.clone(),
            input: task.input.clone(),
            files,
        }
    }
}

/// An error as it travels: what kind of failure and the message a person reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlainError {
    /// `usage` (a setting or a version mismatch: retrying does not help), `input`, `backend`,
    /// `io`, …
    pub kind: String,
    pub message: String,
    /// The worker that hit it.
    pub worker: String,
}

/// A finished task, stored under [`result_object`]: its output, or the error it ended with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Done { output: serde_json::Value, files: Vec<WireFile>, worker: String },
    Failed { error: PlainError },
}

/// Object names in the bucket. Files by content; results and parts by task key.
pub fn file_object(sha256: &str) -> String {
    format!("file/{sha256}")
}

pub fn result_object(key: &str) -> String {
    format!("result/{key}")
}

/// The list of parts a task kept so far (a JSON list of [`WireFile`]).
pub fn parts_object(key: &str) -> String {
    format!("parts/{key}")
}

/// The subject a task of `kind` is published on.
pub fn task_subject(kind: &str) -> String {
    format!("redub.tasks.{kind}")
}

/// Told when a task's result is stored.
pub fn done_subject(key: &str) -> String {
    format!("redub.done.{key}")
}

/// Progress of a task (started, parts kept, finished), for the coordinator's events.
pub fn event_subject(key: &str) -> String {
    format!("redub.events.{key}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_plain_json() {
        let r = Reply::Failed {
            error: PlainError { kind: "usage".into(), message: "no such voice".into(), worker: "w1".into() },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"failed":{"error":{"kind":"usage","message":"no such voice","worker":"w1"}}}"#);
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), r);
    }
}
