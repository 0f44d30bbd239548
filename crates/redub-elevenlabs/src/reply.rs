//! Reading ElevenLabs' error bodies: `{"detail": {"status": "quota_exceeded", "message": "…"}}`,
//! FastAPI's `{"detail": "…"}` or `{"detail": [{"msg": "…"}, …]}` for validation errors, or
//! whatever a proxy in between sends (HTML, plain text).

pub(crate) use redub_http::reply::snippet;
use redub_http::reply::validation_list;
use serde_json::Value;

/// `detail.status`, the machine-readable reason (`invalid_api_key`, `quota_exceeded`,
/// `too_many_concurrent_requests`, `output_format_not_allowed`, …).
pub(crate) fn error_status(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let detail = json.get("detail")?;
    let status = detail.get("status").or_else(|| detail.get("code"))?.as_str()?;
    Some(status.to_string())
}

/// Whether `detail.status` is one of `statuses`.
pub(crate) fn status_is(body: &[u8], statuses: &[&str]) -> bool {
    error_status(body).is_some_and(|s| statuses.contains(&s.as_str()))
}

/// The human-readable message of an error body, or a snippet of the body itself.
pub(crate) fn server_message(body: &[u8]) -> String {
    redub_http::reply::server_message(body, message_of)
}

fn message_of(json: &Value) -> Option<String> {
    let detail = json.get("detail").or_else(|| json.get("error"))?;
    match detail {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let message = o.get("message").and_then(Value::as_str);
            let status = o.get("status").and_then(Value::as_str);
            match (status, message) {
                (Some(status), Some(message)) => Some(format!("{status}: {message}")),
                (None, Some(message)) => Some(message.to_string()),
                (Some(status), None) => Some(status.to_string()),
                (None, None) => None,
            }
        }
        Value::Array(items) => validation_list(items),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_every_shape() {
        let body = br#"{"detail": {"status": "quota_exceeded", "message": "You have 3 credits left."}}"#;
        assert_eq!(error_status(body).as_deref(), Some("quota_exceeded"));
        assert_eq!(server_message(body), "quota_exceeded: You have 3 credits left.");
        assert_eq!(server_message(br#"{"detail": "Not Found"}"#), "Not Found");
        let validation = br#"{"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "missing"}]}"#;
        assert_eq!(server_message(validation), "text: field required");
        assert_eq!(server_message(b"<html>\n<b>Bad gateway</b></html>"), "<html> <b>Bad gateway</b></html>");
        assert_eq!(server_message(b""), "no message");
        assert_eq!(error_status(b"oops"), None);
    }
}
