#![allow(clippy::unwrap_used)]
//! Settings: defaults, config parsing, the environment on top, and the cheap checks.

use redub_elevenlabs::{ElevenLabs, ElevenLabsSettings};
use std::collections::HashMap;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults() {
    let s = ElevenLabsSettings::default();
    assert_eq!(s.base_url, "https://api.elevenlabs.io");
    assert_eq!(s.model_id, "eleven_multilingual_v2");
    assert_eq!((s.stability, s.similarity_boost), (0.5, 0.75));
    assert_eq!(s.output_format, "pcm_44100");
    assert!(!s.remove_background_noise);
    assert_eq!(s.api_key, None);
    assert_eq!((s.timeout_ms, s.max_retries, s.backoff_ms), (120_000, 4, 1000));
}

#[test]
fn config_fills_in_defaults_and_refuses_unknown_fields() {
    let s: ElevenLabsSettings = serde_json::from_str(r#"{"stability": 0.4, "output_format": "pcm_24000"}"#).unwrap();
    assert_eq!((s.stability, s.output_format.as_str()), (0.4, "pcm_24000"));
    assert_eq!(s.similarity_boost, 0.75);
    let typo = serde_json::from_str::<ElevenLabsSettings>(r#"{"stabilty": 0.4}"#).unwrap_err().to_string();
    assert!(typo.contains("unknown field `stabilty`"), "{typo}");
}

#[test]
fn key_is_read_but_never_written_or_shown() {
    let s: ElevenLabsSettings = serde_json::from_str(r#"{"api_key": "xi-from-config"}"#).unwrap();
    assert_eq!(s.api_key.as_deref(), Some("xi-from-config"));
    let written = serde_json::to_string(&s).unwrap();
    assert!(!written.contains("xi-from-config") && !written.contains("api_key"), "{written}");
    let debug = format!("{s:?}");
    assert!(!debug.contains("xi-from-config") && debug.contains("<set>"), "{debug}");
}

#[test]
fn environment_overrides_config() {
    let base = ElevenLabsSettings { api_key: Some("xi-config".into()), ..ElevenLabsSettings::default() };
    let s = ElevenLabsSettings::from_vars(
        base.clone(),
        vars(&[
            ("ELEVENLABS_API_KEY", " xi-env\n"),
            ("REDUB_ELEVENLABS_BASE_URL", "http://127.0.0.1:9000"),
            ("REDUB_ELEVENLABS_MODEL", "eleven_turbo_v2_5"),
        ]),
    );
    assert_eq!(s.api_key.as_deref(), Some("xi-env"));
    assert_eq!((s.base_url.as_str(), s.model_id.as_str()), ("http://127.0.0.1:9000", "eleven_turbo_v2_5"));
    let s = ElevenLabsSettings::from_vars(base.clone(), vars(&[("ELEVENLABS_API_KEY", "")]));
    assert_eq!(s, base, "empty variables are unset");
}

#[test]
fn check_wants_a_key_for_elevenlabs_itself() {
    let e = ElevenLabsSettings::default().check().unwrap_err().to_string();
    assert!(e.starts_with("elevenlabs: ") && e.contains("ELEVENLABS_API_KEY"), "{e}");
    let e = ElevenLabs::new(ElevenLabsSettings::default()).unwrap_err().to_string();
    assert!(e.contains("ELEVENLABS_API_KEY"), "{e}");
    ElevenLabsSettings { api_key: Some("xi-1".into()), ..ElevenLabsSettings::default() }.check().unwrap();
    ElevenLabsSettings { base_url: "http://127.0.0.1:9000".into(), ..ElevenLabsSettings::default() }.check().unwrap();
}

#[test]
fn check_refuses_bad_settings_with_what_to_do() {
    let ok = ElevenLabsSettings { api_key: Some("xi-1".into()), ..ElevenLabsSettings::default() };
    for (bad, expect) in [
        (ElevenLabsSettings { base_url: "api.elevenlabs.io".into(), ..ok.clone() }, "http"),
        (ElevenLabsSettings { base_url: "ftp://host".into(), ..ok.clone() }, "not an http"),
        (ElevenLabsSettings { base_url: "".into(), ..ok.clone() }, "is empty"),
        (ElevenLabsSettings { model_id: " ".into(), ..ok.clone() }, "REDUB_ELEVENLABS_MODEL"),
        (ElevenLabsSettings { stability: 1.5, ..ok.clone() }, "stability"),
        (ElevenLabsSettings { similarity_boost: -0.1, ..ok.clone() }, "similarity_boost"),
        (ElevenLabsSettings { output_format: "mp3_44100_128".into(), ..ok.clone() }, "pcm_24000"),
        (ElevenLabsSettings { timeout_ms: 0, ..ok.clone() }, "timeout_ms"),
        (ElevenLabsSettings { api_key: Some("xi a".into()), ..ok.clone() }, "spaces"),
    ] {
        let e = bad.check().unwrap_err().to_string();
        assert!(e.starts_with("elevenlabs: ") && e.contains(expect), "{bad:?}: {e}");
        assert!(!e.contains("xi a"), "{e}");
    }
}

#[test]
fn pasted_v1_is_tolerated() {
    let s = ElevenLabsSettings {
        base_url: "https://api.elevenlabs.io/v1/".into(),
        api_key: Some("xi-1".into()),
        ..ElevenLabsSettings::default()
    };
    assert_eq!(ElevenLabs::new(s).unwrap().name(), "elevenlabs:eleven_multilingual_v2@https://api.elevenlabs.io");
}

#[test]
fn languages_of_the_model() {
    let s = ElevenLabsSettings::default();
    for lang in ["en", "es", "pt-BR", "fr", "ja", "zh", "hi", "fil"] {
        assert!(s.speaks(lang), "{lang}");
    }
    for lang in ["eu", "ca", "sw"] {
        assert!(!s.speaks(lang), "{lang}");
    }
    let other = ElevenLabsSettings { model_id: "eleven_v3".into(), ..s };
    assert!(other.speaks("eu"), "other models are not second-guessed");
}
