#![allow(clippy::unwrap_used)]
//! Settings: defaults, config parsing, the environment on top, and the cheap checks.

use redub_openai::OpenAiSettings;
use std::collections::HashMap;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults() {
    let s = OpenAiSettings::default();
    assert_eq!(s.base_url, "https://api.openai.com/v1");
    assert_eq!(s.model, "gpt-4o");
    assert_eq!(s.api_key, None);
    assert_eq!((s.timeout_ms, s.max_retries, s.backoff_ms), (120_000, 4, 1000));
}

#[test]
fn config_fills_in_defaults_and_refuses_unknown_fields() {
    let s: OpenAiSettings =
        serde_json::from_str(r#"{"base_url": "http://localhost:11434/v1", "model": "llama3.1:8b"}"#).unwrap();
    assert_eq!(s.model, "llama3.1:8b");
    assert_eq!(s.timeout_ms, 120_000);
    let typo = serde_json::from_str::<OpenAiSettings>(r#"{"modle": "x"}"#).unwrap_err().to_string();
    assert!(typo.contains("unknown field `modle`"), "{typo}");
}

#[test]
fn key_is_read_but_never_written_or_shown() {
    let s: OpenAiSettings = serde_json::from_str(r#"{"api_key": "sk-from-config"}"#).unwrap();
    assert_eq!(s.api_key.as_deref(), Some("sk-from-config"));
    let written = serde_json::to_string(&s).unwrap();
    assert!(!written.contains("sk-from-config") && !written.contains("api_key"), "{written}");
    let debug = format!("{s:?}");
    assert!(!debug.contains("sk-from-config") && debug.contains("<set>"), "{debug}");
}

#[test]
fn environment_overrides_config() {
    let base = OpenAiSettings { api_key: Some("sk-config".into()), ..OpenAiSettings::default() };
    let s = OpenAiSettings::from_vars(
        base.clone(),
        vars(&[
            ("REDUB_OPENAI_BASE_URL", "http://localhost:8080/v1"),
            ("REDUB_OPENAI_MODEL", "qwen2.5"),
            ("OPENAI_API_KEY", "sk-openai"),
        ]),
    );
    assert_eq!((s.base_url.as_str(), s.model.as_str()), ("http://localhost:8080/v1", "qwen2.5"));
    assert_eq!(s.api_key.as_deref(), Some("sk-openai"));

    let s = OpenAiSettings::from_vars(
        base.clone(),
        vars(&[("OPENAI_API_KEY", "sk-openai"), ("REDUB_OPENAI_API_KEY", " sk-redub\n")]),
    );
    assert_eq!(s.api_key.as_deref(), Some("sk-redub"), "Redub's own variable wins, trimmed");

    let s = OpenAiSettings::from_vars(base.clone(), vars(&[("OPENAI_API_KEY", ""), ("REDUB_OPENAI_MODEL", " ")]));
    assert_eq!(s, base, "empty variables are unset");
}

#[test]
fn check_wants_a_key_for_openai_only() {
    let e = OpenAiSettings::default().check().unwrap_err().to_string();
    assert!(e.contains("needs an API key") && e.contains("OPENAI_API_KEY"), "{e}");
    let with_key = OpenAiSettings { api_key: Some("sk-x".into()), ..OpenAiSettings::default() };
    with_key.check().unwrap();
    let local = OpenAiSettings { base_url: "http://localhost:11434/v1".into(), ..OpenAiSettings::default() };
    local.check().unwrap();
}

#[test]
fn check_refuses_bad_settings_with_what_to_do() {
    let local = OpenAiSettings { base_url: "http://localhost:11434/v1".into(), ..OpenAiSettings::default() };
    for (bad, expect) in [
        (OpenAiSettings { base_url: "localhost:11434".into(), ..local.clone() }, "http"),
        (OpenAiSettings { base_url: "ftp://host/v1".into(), ..local.clone() }, "not an http"),
        (OpenAiSettings { base_url: "http://exa mple/v1".into(), ..local.clone() }, "not a valid URL"),
        (OpenAiSettings { base_url: "".into(), ..local.clone() }, "is empty"),
        (OpenAiSettings { model: " ".into(), ..local.clone() }, "REDUB_OPENAI_MODEL"),
        (OpenAiSettings { timeout_ms: 0, ..local.clone() }, "timeout_ms"),
        (OpenAiSettings { api_key: Some("sk-a b".into()), ..local.clone() }, "spaces"),
    ] {
        let e = bad.check().unwrap_err().to_string();
        assert!(e.starts_with("openai: ") && e.contains(expect), "{bad:?}: {e}");
        assert!(!e.contains("sk-a b"), "{e}");
    }
}

#[test]
fn errors_never_show_credentials_in_the_url() {
    let s = OpenAiSettings { base_url: "ftp://user:hunter2@host/v1?key=abc".into(), ..OpenAiSettings::default() };
    let e = s.check().unwrap_err().to_string();
    assert!(!e.contains("hunter2") && !e.contains("key=abc") && e.contains("ftp://host/v1"), "{e}");
}

/// The pipeline embeds the settings in a config tagged by `backend`; the tag must not count as
/// an unknown field, while typos still must.
#[test]
fn works_inside_a_config_tagged_by_backend() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(tag = "backend", rename_all = "kebab-case")]
    enum Config {
        Openai(OpenAiSettings),
    }
    let Config::Openai(s) = serde_json::from_str(
        r#"{"backend": "openai", "base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5:7b"}"#,
    )
    .unwrap();
    assert_eq!((s.base_url.as_str(), s.model.as_str()), ("http://127.0.0.1:11434/v1", "qwen2.5:7b"));
    assert!(serde_json::from_str::<Config>(r#"{"backend": "openai", "modle": "x"}"#).is_err());
}
