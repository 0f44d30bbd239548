//! Quoting what a server said: bodies and messages cut to a readable length, and FastAPI's
//! validation lists (`{"detail": [{"loc": […], "msg": "…"}]}`) as one line, and an error body's
//! message (`server_message`). Which fields hold the message stays with each backend.

use serde_json::Value;

/// Longest piece of a body or message quoted in an error: enough for the message, not a whole
/// HTML error page.
pub const SNIPPET_CHARS: usize = 300;

/// `text` cut to [`SNIPPET_CHARS`] characters (with `…` when cut), line breaks kept.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// `text` on one line (runs of whitespace become one space), cut like [`clip`].
pub fn snippet(text: &str) -> String {
    clip(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The human-readable message of an error `body`: what `message_of` (the backend's reading of
/// its JSON shapes) finds, clipped; else a snippet of the body itself, or `no message`.
pub fn server_message(body: &[u8], message_of: impl Fn(&Value) -> Option<String>) -> String {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        if let Some(message) = message_of(&json) {
            return clip(&message);
        }
    }
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        "no message".to_string()
    } else {
        snippet(&text)
    }
}

/// `text` (an error, a server's message) with the raw `url` shown as `shown_url` (the raw one
/// may carry credentials) and without the key, before a user sees it.
pub fn scrub(text: &str, url: &str, shown_url: &str, key: Option<&str>) -> String {
    let text = text.replace(url, shown_url);
    match key {
        Some(key) => text.replace(key, "<api key>"),
        None => text,
    }
}

/// FastAPI's validation errors as `field: message; …`; `None` when no item has a `msg`.
pub fn validation_list(items: &[Value]) -> Option<String> {
    let messages: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let msg = item.get("msg").and_then(Value::as_str)?;
            let field = item
                .get("loc")
                .and_then(Value::as_array)
                .and_then(|loc| loc.last())
                .map(|l| l.to_string().trim_matches('"').to_string());
            Some(match field {
                Some(field) => format!("{field}: {msg}"),
                None => msg.to_string(),
            })
        })
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_text_is_cut_and_put_on_one_line() {
        let long = "a\nb ".repeat(400);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…') && !s.contains('\n'));
        assert_eq!(clip("two\nlines"), "two\nlines");
        assert_eq!(snippet("  two\n lines "), "two lines");
    }

    #[test]
    fn messages_are_read_through_the_backend_and_scrubbed() {
        let message_of = |json: &Value| json.get("error").and_then(Value::as_str).map(str::to_string);
        assert_eq!(server_message(br#"{"error": "busy"}"#, message_of), "busy");
        assert_eq!(server_message(b"Bad\n gateway", message_of), "Bad gateway");
        assert_eq!(server_message(b" ", message_of), "no message");
        let text = "http://u:p@h/x failed for sk-1";
        assert_eq!(scrub(text, "http://u:p@h", "http://h", Some("sk-1")), "http://h/x failed for <api key>");
        assert_eq!(scrub(text, "http://u:p@h", "http://h", None), "http://h/x failed for sk-1");
    }

    #[test]
    fn validation_lists_name_the_field() {
        let items = json!([{"loc": ["body", "text"], "msg": "field required"}, {"msg": "bad"}, {"x": 1}]);
        assert_eq!(validation_list(items.as_array().unwrap()).as_deref(), Some("text: field required; bad"));
        assert_eq!(validation_list(&[json!({"x": 1})]), None);
    }
}
