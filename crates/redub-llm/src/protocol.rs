//! What the client and the worker say to each other: one JSON object per line. The worker
//! answers its start with [`WorkerMessage::Ready`] (or [`WorkerMessage::Failed`] and exits),
//! then each [`Request`] on its stdin with one [`WorkerMessage`] on its stdout. It exits when
//! its stdin closes.

use redub_core::{ChatMessage, ChatOptions};
use serde::{Deserialize, Serialize};

/// One chat completion to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub messages: Vec<ChatMessage>,
    pub options: ChatOptions,
}

/// Why a reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The model ended its turn.
    End,
    /// `max_tokens` was reached (a JSON reply is then usually cut short).
    MaxTokens,
}

/// One reply and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub stop: Stop,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Time spent reading the prompt.
    pub prompt_ms: u64,
    /// Time spent generating the reply.
    pub generation_ms: u64,
}

impl Completion {
    /// Generated tokens per second (0 when nothing was generated).
    pub fn tokens_per_second(&self) -> f64 {
        if self.generation_ms == 0 {
            return 0.0;
        }
        f64::from(self.completion_tokens) * 1000.0 / self.generation_ms as f64
    }

    /// Prompt tokens read per second.
    pub fn prompt_tokens_per_second(&self) -> f64 {
        if self.prompt_ms == 0 {
            return 0.0;
        }
        f64::from(self.prompt_tokens) * 1000.0 / self.prompt_ms as f64
    }
}

/// A line from the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The model is loaded.
    Ready { model: String, load_ms: u64 },
    /// The answer to a request.
    Done(Completion),
    /// The model could not be loaded (the worker then exits) or a request failed (the worker
    /// carries on).
    Failed { message: String },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_single_json_lines() {
        let r = Request {
            messages: vec![ChatMessage::system("s"), ChatMessage::user("line one\nline two")],
            options: ChatOptions { temperature: 0.0, max_tokens: 8, json: true },
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), r);
        let done = WorkerMessage::Done(Completion {
            text: "{\"a\": 1}".into(),
            stop: Stop::End,
            prompt_tokens: 10,
            completion_tokens: 4,
            prompt_ms: 100,
            generation_ms: 500,
        });
        let line = serde_json::to_string(&done).unwrap();
        assert!(line.starts_with("{\"done\":"), "{line}");
        assert_eq!(serde_json::from_str::<WorkerMessage>(&line).unwrap(), done);
        let ready: WorkerMessage = serde_json::from_str(r#"{"ready":{"model":"m.gguf","load_ms":3}}"#).unwrap();
        assert_eq!(ready, WorkerMessage::Ready { model: "m.gguf".into(), load_ms: 3 });
    }

    #[test]
    fn rates() {
        let c = Completion {
            text: String::new(),
            stop: Stop::End,
            prompt_tokens: 100,
            completion_tokens: 20,
            prompt_ms: 2000,
            generation_ms: 4000,
        };
        assert!((c.tokens_per_second() - 5.0).abs() < 1e-9);
        assert!((c.prompt_tokens_per_second() - 50.0).abs() < 1e-9);
        assert_eq!(Completion { generation_ms: 0, ..c }.tokens_per_second(), 0.0);
    }
}
