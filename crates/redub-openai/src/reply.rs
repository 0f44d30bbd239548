//! Reading what the server sent back: the assistant's text from a successful reply, or the
//! human-readable message from an error body. Servers differ (OpenAI and llama.cpp nest the
//! message in `error.message`, Ollama sends `error` as a string, vLLM a top-level `message`,
//! FastAPI-based proxies `detail`), so every shape seen in the wild is read.

use serde_json::Value;

/// Why a 2xx reply gave no usable text.
#[derive(Debug, PartialEq)]
pub(crate) enum Problem {
    /// The body was broken in a way a second try may not repeat (a proxy cut it, the server was
    /// restarting): worth one more request.
    Malformed(String),
    /// The body is not a chat completion at all (HTML, another API's JSON): also tried once
    /// more, but the likelier cause is a base URL that points at something else.
    NotChat(String),
    /// The model answered, but the answer cannot be used and asking again the same way gives
    /// the same result (cut at `max_tokens`, refused, filtered).
    Unusable(String),
}

/// The assistant's text in `choices[0].message.content`.
pub(crate) fn content(body: &str, max_tokens: u32) -> Result<String, Problem> {
    let json: Value = serde_json::from_str(body)
        .map_err(|e| Problem::NotChat(format!("the reply is not JSON ({e}): {}", snippet(body))))?;
    let Some(choices) = json.get("choices") else {
        return Err(Problem::Malformed(match error_message(&json) {
            Some(message) => format!(
                "the reply is an error instead of a completion: {message}. Rerun later; if it persists, check the \
                 server"
            ),
            None => return Err(Problem::NotChat(format!("the reply has no `choices`: {}", snippet(body)))),
        }));
    };
    let Some(choice) = choices.as_array().and_then(|c| c.first()) else {
        return Err(Problem::Malformed("the reply's `choices` is empty".to_string()));
    };
    let finish_reason = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("");
    let message = choice.get("message");
    if let Some(refusal) = message.and_then(|m| m.get("refusal")).and_then(Value::as_str) {
        if !refusal.trim().is_empty() {
            return Err(Problem::Unusable(format!("the model refused to answer: {}", clip(refusal))));
        }
    }
    match finish_reason {
        "length" => {
            return Err(Problem::Unusable(format!(
                "the reply was cut off at max_tokens ({max_tokens}) before it was complete: raise max_tokens \
                 or send fewer lines per request"
            )))
        }
        "content_filter" => {
            return Err(Problem::Unusable(
                "the server's content filter stopped the reply: rephrase the input or use another model".to_string(),
            ))
        }
        _ => {}
    }
    let Some(message) = message else {
        return Err(Problem::Malformed("the reply's first choice has no `message`".to_string()));
    };
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // Some servers send content as a list of parts: [{"type": "text", "text": "…"}].
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str())).collect()
        }
        _ => String::new(),
    };
    if text.trim().is_empty() {
        let why = if message.get("tool_calls").is_some_and(|t| !t.is_null()) {
            "the model called a tool instead of answering"
        } else {
            "the model's message is empty"
        };
        return Err(Problem::Malformed(format!(
            "{why} (finish_reason {finish_reason:?}): try another model, or check the server's log"
        )));
    }
    Ok(text)
}

/// The server's own explanation in an error body, else the start of the body itself.
pub(crate) fn server_message(body: &str) -> String {
    if body.trim().is_empty() {
        return "(empty body)".to_string();
    }
    serde_json::from_str::<Value>(body).ok().and_then(|json| error_message(&json)).unwrap_or_else(|| snippet(body))
}

/// `error.code` or `error.type` (OpenAI's machine-readable reason, e.g. `insufficient_quota`).
pub(crate) fn error_code(body: &str) -> Option<String> {
    let json: Value = serde_json::from_str(body).ok()?;
    let error = json.get("error")?;
    ["code", "type"].iter().find_map(|k| error.get(*k).and_then(Value::as_str)).map(str::to_string)
}

fn error_message(json: &Value) -> Option<String> {
    let text = match json.get("error") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(e)) => e.get("message").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
    .or_else(|| json.get("message").and_then(Value::as_str).map(str::to_string))
    .or_else(|| match json.get("detail") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(detail @ (Value::Array(_) | Value::Object(_))) => Some(detail.to_string()),
        _ => None,
    })?;
    let text = text.trim();
    (!text.is_empty()).then(|| clip(text))
}

/// The start of a body, on one line.
pub(crate) fn snippet(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".to_string();
    }
    format!("`{}`", clip(body))
}

/// `text` on one line and at most [`redub_http::reply::SNIPPET_CHARS`] characters.
fn clip(text: &str) -> String {
    redub_http::reply::snippet(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_content() {
        let body = r#"{"choices":[{"message":{"role":"assistant","content":"{\"a\":1}"},"finish_reason":"stop"}]}"#;
        assert_eq!(content(body, 10).unwrap(), r#"{"a":1}"#);
        let parts =
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"he"},{"type":"text","text":"llo"}]}}]}"#;
        assert_eq!(content(parts, 10).unwrap(), "hello");
    }

    #[test]
    fn classifies_problems() {
        assert!(matches!(content("<html>", 10), Err(Problem::NotChat(m)) if m.contains("not JSON")));
        assert!(matches!(content("{}", 10), Err(Problem::NotChat(m)) if m.contains("no `choices`")));
        assert!(matches!(content(r#"{"choices":[]}"#, 10), Err(Problem::Malformed(m)) if m.contains("empty")));
        let cut = r#"{"choices":[{"message":{"content":"{\"a\""},"finish_reason":"length"}]}"#;
        assert!(matches!(content(cut, 7), Err(Problem::Unusable(m)) if m.contains("max_tokens (7)")));
        let refused = r#"{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"stop"}]}"#;
        assert!(matches!(content(refused, 7), Err(Problem::Unusable(m)) if m.contains("refused")));
        let empty = r#"{"choices":[{"message":{"content":"  "},"finish_reason":"stop"}]}"#;
        assert!(matches!(content(empty, 7), Err(Problem::Malformed(m)) if m.contains("empty")));
    }

    #[test]
    fn server_messages_of_every_shape() {
        assert_eq!(server_message(r#"{"error":{"message":"bad model","type":"x"}}"#), "bad model");
        assert_eq!(server_message(r#"{"error":"model not found"}"#), "model not found");
        assert_eq!(server_message(r#"{"object":"error","message":"vllm says"}"#), "vllm says");
        assert_eq!(server_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(server_message("Bad\n  Gateway"), "`Bad Gateway`");
        assert_eq!(server_message(""), "(empty body)");
        assert_eq!(
            error_code(r#"{"error":{"message":"m","code":"insufficient_quota"}}"#).unwrap(),
            "insufficient_quota"
        );
        assert!(server_message(&"x".repeat(1000)).chars().count() < 310);
    }
}
