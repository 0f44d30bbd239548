//! Reading a cloning server's error bodies. The protocol asks for `{"error": "message"}`, but
//! servers built on common frameworks send other shapes (`{"detail": "…"}` or FastAPI's
//! validation list, `{"error": {"message": "…"}}`, `{"message": "…"}`, plain text, an HTML page
//! from a proxy); every one is read.

pub(crate) use redub_http::reply::snippet;
use redub_http::reply::validation_list;
use serde_json::Value;

/// The human-readable message of an error body, or a snippet of the body itself.
pub(crate) fn server_message(body: &[u8]) -> String {
    redub_http::reply::server_message(body, message_of)
}

fn message_of(json: &Value) -> Option<String> {
    let field = json.get("error").or_else(|| json.get("detail")).or_else(|| json.get("message"))?;
    match field {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("message").or_else(|| o.get("msg")).and_then(Value::as_str).map(str::to_string),
        Value::Array(items) => validation_list(items),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_shape() {
        assert_eq!(server_message(br#"{"error": "language xx is not supported"}"#), "language xx is not supported");
        assert_eq!(server_message(br#"{"error": {"message": "out of memory"}}"#), "out of memory");
        assert_eq!(server_message(br#"{"detail": "Not Found"}"#), "Not Found");
        let validation = br#"{"detail": [{"loc": ["body", "reference"], "msg": "field required"}]}"#;
        assert_eq!(server_message(validation), "reference: field required");
        assert_eq!(server_message(br#"{"message": "busy"}"#), "busy");
        assert_eq!(server_message(b"Internal Server Error\n"), "Internal Server Error");
        assert_eq!(server_message(b""), "no message");
    }
}
