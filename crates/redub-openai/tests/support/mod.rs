#![allow(dead_code)]
//! The shared loopback server (`redub-testserver`), and the replies an OpenAI-compatible chat
//! server sends, so each test can play a rate-limiting, failing, hanging or broken server.

pub use redub_testserver::{MockServer, Reply};

/// Chat-completions replies, as constructors on [`Reply`].
pub trait ChatReplies {
    /// A JSON-labelled body as given (possibly not JSON at all).
    fn status(status: u16, body: &str) -> Reply {
        Reply::json_text(status, body)
    }

    /// A successful completion whose assistant message is `content`.
    fn ok(content: &str) -> Reply {
        Self::finished(content, "stop")
    }

    fn finished(content: &str, finish_reason: &str) -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "test-model",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }),
        )
    }

    /// An OpenAI-style error body.
    fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, serde_json::json!({"error": {"message": message, "type": "invalid_request_error"}}))
    }
}

impl ChatReplies for Reply {}
