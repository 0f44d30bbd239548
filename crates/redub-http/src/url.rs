//! Base URLs as the HTTP backends take them from users: a pasted endpoint trimmed back to the
//! root, checked before any request, and shown without credentials.

use ureq::http::Uri;

/// `url` trimmed, without trailing slashes, and without `suffix` (e.g. `/v1`,
/// `/chat/completions`) when someone pasted more than the root.
pub fn trim_pasted_suffix(url: &str, suffix: &str) -> String {
    let mut url = url.trim().trim_end_matches('/');
    if let Some(stripped) = url.strip_suffix(suffix) {
        url = stripped.trim_end_matches('/');
    }
    url.to_string()
}

/// `url` parsed as an http(s) root, or why it is not one ("is empty", "has no host", …), for
/// the backend to put in its own message. `allow_query`: whether a query or fragment may stay
/// (some gateways want one).
pub fn parse_base_url(url: &str, allow_query: bool) -> Result<Uri, &'static str> {
    if url.is_empty() {
        return Err("is empty");
    }
    if !allow_query && (url.contains('?') || url.contains('#')) {
        return Err("has a query or fragment");
    }
    let uri: Uri = url.parse().map_err(|_| "is not a valid URL")?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(_) => return Err("is not an http:// or https:// URL"),
        None => return Err("has no scheme (http:// or https://)"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    Ok(uri)
}

/// `url` without credentials (`user:pass@`) and without a query string or fragment (where
/// some gateways put keys): how a base URL is shown in names and errors.
pub fn redact_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{}://{}", &url[..scheme_end], &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_endpoints_are_trimmed_to_the_root() {
        assert_eq!(trim_pasted_suffix(" https://api.x.io/v1/ ", "/v1"), "https://api.x.io");
        assert_eq!(trim_pasted_suffix("http://h:1/chat/completions", "/chat/completions"), "http://h:1");
        assert_eq!(trim_pasted_suffix("http://h:1/v2", "/v1"), "http://h:1/v2");
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("http://localhost:8020", false).is_ok());
        assert_eq!(parse_base_url("", false).unwrap_err(), "is empty");
        assert_eq!(parse_base_url("http://h/?k=1", false).unwrap_err(), "has a query or fragment");
        assert!(parse_base_url("http://h/?k=1", true).is_ok());
        assert_eq!(parse_base_url("ftp://h", false).unwrap_err(), "is not an http:// or https:// URL");
        assert_eq!(parse_base_url("localhost", false).unwrap_err(), "has no scheme (http:// or https://)");
    }

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(redact_url("https://u:p@host:8080/v1?key=s#f"), "https://host:8080/v1");
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
