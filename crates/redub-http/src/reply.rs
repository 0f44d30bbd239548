//! Quoting what a server said: bodies and messages cut to a readable length, and FastAPI's
//! validation lists (`{"detail": [{"loc": […], "msg": "…"}]}`) as one line. Which fields hold
//! the message stays with each backend.

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
    fn validation_lists_name_the_field() {
        let items = json!([{"loc": ["body", "text"], "msg": "field required"}, {"msg": "bad"}, {"x": 1}]);
        assert_eq!(validation_list(items.as_array().unwrap()).as_deref(), Some("text: field required; bad"));
        assert_eq!(validation_list(&[json!({"x": 1})]), None);
    }
}
