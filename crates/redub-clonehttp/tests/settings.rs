#![allow(clippy::unwrap_used)]
//! Settings: defaults, config parsing, the environment on top, and the cheap checks.

use redub_clonehttp::{CloneHttp, CloneHttpSettings};
use std::collections::HashMap;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults() {
    let s = CloneHttpSettings::default();
    assert_eq!(s.base_url, "");
    assert_eq!(s.api_key, None);
    assert!(s.languages.is_empty());
    assert_eq!((s.timeout_ms, s.max_retries, s.backoff_ms), (300_000, 4, 1000));
}

#[test]
fn config_fills_in_defaults_and_refuses_unknown_fields() {
    let s: CloneHttpSettings =
        serde_json::from_str(r#"{"base_url": "http://gpu:8020", "languages": ["en", "es"]}"#).unwrap();
    assert_eq!((s.base_url.as_str(), s.languages.len(), s.timeout_ms), ("http://gpu:8020", 2, 300_000));
    let typo = serde_json::from_str::<CloneHttpSettings>(r#"{"base_ulr": "x"}"#).unwrap_err().to_string();
    assert!(typo.contains("unknown field `base_ulr`"), "{typo}");
}

#[test]
fn key_is_read_but_never_written_or_shown() {
    let s: CloneHttpSettings =
        serde_json::from_str(r#"{"base_url": "http://u:hunter2@gpu:8020", "api_key": "ch-from-config"}"#).unwrap();
    let written = serde_json::to_string(&s).unwrap();
    assert!(!written.contains("ch-from-config") && !written.contains("api_key"), "{written}");
    let debug = format!("{s:?}");
    assert!(!debug.contains("ch-from-config") && !debug.contains("hunter2") && debug.contains("<set>"), "{debug}");
}

#[test]
fn environment_overrides_config() {
    let base = CloneHttpSettings { base_url: "http://config:1".into(), ..CloneHttpSettings::default() };
    let s = CloneHttpSettings::from_vars(
        base.clone(),
        vars(&[("REDUB_CLONE_HTTP_URL", " http://gpu:8020 "), ("REDUB_CLONE_HTTP_API_KEY", "ch-env")]),
    );
    assert_eq!((s.base_url.as_str(), s.api_key.as_deref()), ("http://gpu:8020", Some("ch-env")));
    let s = CloneHttpSettings::from_vars(base.clone(), vars(&[("REDUB_CLONE_HTTP_URL", "")]));
    assert_eq!(s, base, "empty variables are unset");
}

#[test]
fn check_refuses_bad_settings_with_what_to_do() {
    let ok = CloneHttpSettings { base_url: "http://gpu:8020".into(), ..CloneHttpSettings::default() };
    ok.check().unwrap();
    for (bad, expect) in [
        (CloneHttpSettings::default(), "REDUB_CLONE_HTTP_URL"),
        (CloneHttpSettings { base_url: "gpu:8020".into(), ..ok.clone() }, "http"),
        (CloneHttpSettings { base_url: "ftp://gpu".into(), ..ok.clone() }, "not an http"),
        (CloneHttpSettings { timeout_ms: 0, ..ok.clone() }, "timeout_ms"),
        (CloneHttpSettings { api_key: Some("a b".into()), ..ok.clone() }, "spaces"),
    ] {
        let e = bad.check().unwrap_err().to_string();
        assert!(e.starts_with("clone-http: ") && e.contains(expect), "{bad:?}: {e}");
    }
    let e = CloneHttp::new(CloneHttpSettings::default()).unwrap_err().to_string();
    assert!(e.contains("is empty") && e.contains("docs/clone-http.md"), "{e}");
}

#[test]
fn pasted_endpoint_is_tolerated() {
    let s = CloneHttpSettings { base_url: "http://gpu:8020/synthesize".into(), ..CloneHttpSettings::default() };
    assert_eq!(CloneHttp::new(s).unwrap().name(), "clone-http@http://gpu:8020");
}
