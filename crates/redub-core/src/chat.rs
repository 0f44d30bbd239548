//! Chat models: what the LLM translation backends share. A remote OpenAI-compatible server and
//! the local GGUF model both implement [`ChatModel`]; the prompts, budgets and retries are
//! written once above it (`redub-translate`).

use crate::Result;
use serde::{Deserialize, Serialize};

/// Who speaks a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// How to sample one reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatOptions {
    pub temperature: f32,
    /// Most tokens in the reply.
    pub max_tokens: u32,
    /// The reply must be one JSON object (servers get `response_format: json_object`; the
    /// local model is constrained by a grammar).
    pub json: bool,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self { temperature: 0.3, max_tokens: 1024, json: true }
    }
}

/// A model that answers a conversation with one message.
pub trait ChatModel {
    /// The assistant's reply to `messages`. Transport problems (timeouts, rate limits after the
    /// backend's own retries, refused keys) are errors that name the backend and what to do.
    fn complete(&mut self, messages: &[ChatMessage], options: &ChatOptions) -> Result<String>;

    /// A stable name for cache keys and messages, e.g. `openai:gpt-4o@https://api.openai.com/v1`.
    fn name(&self) -> String;
}
