#![allow(clippy::unwrap_used)]
//! The client against a local server that speaks ElevenLabs' protocol: what it sends to clone,
//! speak and delete, that every clone is deleted however the job ends, and how it behaves when
//! the service rate-limits, fails, or refuses the key, the quota or the output format.

mod support;

use redub_core::{Audio, Synthesizer, VoiceCloner};
use redub_elevenlabs::{ElevenLabs, ElevenLabsSettings};
use std::time::{Duration, Instant};
use support::{pcm_bytes, read_wav, ElevenLabsReplies, MockServer, Recorded, Reply};

const KEY: &str = "xi-test-0123456789secret";

fn settings(server: &MockServer) -> ElevenLabsSettings {
    ElevenLabsSettings {
        base_url: server.base_url(),
        api_key: Some(KEY.into()),
        timeout_ms: 5_000,
        max_retries: 3,
        backoff_ms: 10,
        ..ElevenLabsSettings::default()
    }
}

fn client(server: &MockServer) -> ElevenLabs {
    ElevenLabs::new(settings(server)).unwrap()
}

/// PCM the fake sends for one line: a ramp of `n` samples.
fn line_pcm(n: usize) -> Vec<i16> {
    (0..n).map(|i| (i % 1000) as i16 * 16).collect()
}

/// Samples per spoken line at the fake's "speaking rate": 0.5 s at the requested rate.
fn line_len(rate: u32) -> usize {
    rate as usize / 2
}

/// ElevenLabs as far as these tests need it: clones get ids `voice-1`, `voice-2`, …, speech is
/// half a second of PCM at the requested rate, deletes succeed.
fn eleven(request: &Recorded, earlier: &[Recorded]) -> Reply {
    let route = request.route();
    match request.method.as_str() {
        "POST" if route == "/v1/voices/add" => {
            let n = earlier.iter().filter(|r| r.route() == "/v1/voices/add").count() + 1;
            Reply::json(200, serde_json::json!({"voice_id": format!("voice-{n}"), "requires_verification": false}))
        }
        "POST" if route.starts_with("/v1/text-to-speech/") => {
            let rate: u32 = request.query("output_format").unwrap().strip_prefix("pcm_").unwrap().parse().unwrap();
            Reply::bytes(200, "audio/pcm", pcm_bytes(&line_pcm(line_len(rate))))
        }
        "DELETE" if route.starts_with("/v1/voices/") => Reply::json(200, serde_json::json!({"status": "ok"})),
        _ => Reply::detail(404, "not_found", "no such route"),
    }
}

/// A speaker's sample: a 220 Hz tone of `ms` at `rate`.
fn sample(rate: u32, ms: u64) -> Audio {
    let n = (rate as u64 * ms / 1000) as usize;
    Audio::new(rate, (0..n).map(|i| 0.3 * (i as f32 * 220.0 * std::f32::consts::TAU / rate as f32).sin()).collect())
}

fn deleted_ids(server: &MockServer) -> Vec<String> {
    let mut ids: Vec<String> = server
        .requests_to("DELETE", "/v1/voices/")
        .iter()
        .map(|r| r.route().trim_start_matches("/v1/voices/").to_string())
        .collect();
    ids.sort();
    ids
}

fn error_text<T: std::fmt::Debug>(result: redub_core::Result<T>) -> String {
    let text = result.unwrap_err().to_string();
    assert!(text.starts_with("elevenlabs: "), "error does not name the backend: {text}");
    assert!(!text.contains(KEY), "the key leaked into an error: {text}");
    text
}

#[test]
fn create_voice_sends_one_add_voice_with_a_mono_44k_wav() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    let id = el.create_voice("S1", &sample(44_100, 3000)).unwrap();
    assert_eq!(id, "voice-1");

    let adds = server.requests_to("POST", "/v1/voices/add");
    assert_eq!(adds.len(), 1);
    let r = &adds[0];
    assert_eq!(r.path, "/v1/voices/add");
    assert_eq!(r.header("xi-api-key"), Some(KEY));
    assert!(r.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    assert_eq!(r.part("name").unwrap().text(), "S1");
    assert!(r.part("description").unwrap().text().contains("Redub"));
    assert!(r.part("remove_background_noise").is_none());
    let file = r.part("files").unwrap();
    assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    assert!(file.filename.unwrap().ends_with(".wav"));
    let wav = read_wav(&file.data);
    assert_eq!((wav.channels, wav.rate, wav.bits), (1, 44_100, 16));
    assert_eq!(wav.samples.len(), 132_300, "3.0 s at 44.1 kHz, unpadded");
    assert!(wav.samples.iter().any(|&s| s.abs() > 8000), "the tone arrives");

    el.delete_all().unwrap();
    drop(el);
    assert_eq!(deleted_ids(&server), vec!["voice-1"]);
}

#[test]
fn short_sample_at_another_rate_arrives_resampled_and_padded_to_two_seconds() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    el.create_voice("S2", &sample(16_000, 800)).unwrap();
    let file = server.requests_to("POST", "/v1/voices/add")[0].part("files").unwrap();
    // RIFF header: mono, 44.1 kHz, 16-bit PCM; data chunk of 2.0 s.
    assert_eq!(&file.data[..4], b"RIFF");
    assert_eq!(&file.data[8..12], b"WAVE");
    let wav = read_wav(&file.data);
    assert_eq!((wav.channels, wav.rate, wav.bits), (1, 44_100, 16));
    assert_eq!(wav.samples.len(), 88_200, "0.8 s padded with silence to 2.0 s");
    assert_eq!(file.data.len(), 44 + 88_200 * 2);
    let speech = 35_280; // 0.8 s at 44.1 kHz
    assert!(wav.samples[..speech].iter().any(|&s| s.abs() > 8000), "the speech comes first");
    assert!(wav.samples[speech + 100..].iter().all(|&s| s == 0), "then silence");
}

#[test]
fn a_sample_of_at_least_one_and_a_half_seconds_is_not_padded() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    el.create_voice("S1", &sample(44_100, 1500)).unwrap();
    let file = server.requests_to("POST", "/v1/voices/add")[0].part("files").unwrap();
    assert_eq!(read_wav(&file.data).samples.len(), 66_150);
}

#[test]
fn one_clone_per_speaker_and_sample() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    let a = el.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let again = el.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let b = el.create_voice("S2", &sample(44_100, 2000)).unwrap();
    assert_eq!(a, again, "the same speaker with the same sample is not cloned twice");
    assert_ne!(a, b);
    assert_eq!(server.requests_to("POST", "/v1/voices/add").len(), 2);
    assert_eq!(el.created_voices(), vec!["voice-1", "voice-2"]);
}

#[test]
fn bad_samples_are_refused_before_any_request() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    let e = el.create_voice("S1", &Audio::new(44_100, vec![])).unwrap_err().to_string();
    assert!(e.contains("S1") && e.contains("empty"), "{e}");
    assert!(server.requests().is_empty());
}

#[test]
fn synthesis_sends_the_model_and_voice_settings_and_decodes_the_pcm() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    let voice = el.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let audio = el.synthesize("Hola, ¿qué tal?", "es", &voice, 1.0).unwrap();
    assert_eq!(audio.rate, 44_100);
    assert_eq!(audio.samples.len(), line_len(44_100));
    let want: Vec<f32> = line_pcm(line_len(44_100)).iter().map(|&s| f32::from(s) / 32768.0).collect();
    assert_eq!(audio.samples, want);

    let tts = server.requests_to("POST", "/v1/text-to-speech/");
    assert_eq!(tts.len(), 1);
    let r = &tts[0];
    assert_eq!(r.route(), "/v1/text-to-speech/voice-1");
    assert_eq!(r.query("output_format").as_deref(), Some("pcm_44100"));
    assert_eq!(r.header("xi-api-key"), Some(KEY));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["text"], "Hola, ¿qué tal?");
    assert_eq!(body["model_id"], "eleven_multilingual_v2");
    assert_eq!(body["voice_settings"]["stability"], 0.5);
    assert_eq!(body["voice_settings"]["similarity_boost"], 0.75);
    assert!(body["voice_settings"].get("speed").is_none(), "natural speed sends no speed: {body}");
    assert!(body.get("language_code").is_none(), "multilingual v2 reads the language from the text");
}

#[test]
fn silent_edges_of_the_reply_are_trimmed_keeping_30_ms() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        // 0.2 s of silence, 0.5 s of speech, 0.3 s of silence at 44.1 kHz.
        let mut pcm = vec![0i16; 8820];
        pcm.extend(std::iter::repeat_n(8000i16, 22_050));
        pcm.extend(std::iter::repeat_n(0i16, 13_230));
        Reply::bytes(200, "audio/pcm", pcm_bytes(&pcm))
    });
    let mut el = client(&server);
    let audio = el.synthesize("Hola", "es", "voice-1", 1.0).unwrap();
    assert_eq!(audio.samples.len(), 22_050 + 2 * 1323);
}

#[test]
fn speed_goes_out_as_the_speed_voice_setting_clamped_to_what_elevenlabs_takes() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    for speed in [1.1, 1.25, 0.5] {
        el.synthesize("Hola", "es", "voice-x", speed).unwrap();
    }
    let sent: Vec<f64> = server
        .requests_to("POST", "/v1/text-to-speech/")
        .iter()
        .map(|r| r.json()["voice_settings"]["speed"].as_f64().unwrap())
        .collect();
    assert_eq!(sent, vec![1.1, 1.2, 0.7]);
    let e = error_text(el.synthesize("Hola", "es", "voice-x", f32::NAN));
    assert!(e.contains("speed"), "{e}");
}

#[test]
fn voices_lists_the_clones_made_for_languages_the_model_speaks() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    assert!(el.voices("es").is_empty());
    el.create_voice("S1", &sample(44_100, 2000)).unwrap();
    el.create_voice("S2", &sample(22_050, 2500)).unwrap();
    assert_eq!(el.voices("es"), vec!["voice-1", "voice-2"]);
    assert_eq!(el.voices("pt-BR"), vec!["voice-1", "voice-2"]);
    assert!(el.voices("eu").is_empty(), "Basque is not among eleven_multilingual_v2's languages");
    el.delete_voice("voice-1").unwrap();
    assert_eq!(el.voices("es"), vec!["voice-2"]);
}

#[test]
fn delete_all_deletes_every_clone_and_drop_then_has_nothing_left() {
    let server = MockServer::start(eleven);
    let mut el = client(&server);
    for speaker in ["S1", "S2", "S3"] {
        el.create_voice(speaker, &sample(44_100, 2000)).unwrap();
    }
    el.delete_all().unwrap();
    assert!(el.created_voices().is_empty());
    assert_eq!(deleted_ids(&server), vec!["voice-1", "voice-2", "voice-3"]);
    for r in server.requests_to("DELETE", "/v1/voices/") {
        assert_eq!(r.header("xi-api-key"), Some(KEY));
    }
    drop(el);
    assert_eq!(server.requests_to("DELETE", "/v1/voices/").len(), 3, "nothing is deleted twice");
}

#[test]
fn drop_deletes_every_clone_left() {
    let server = MockServer::start(eleven);
    {
        let mut el = client(&server);
        el.create_voice("S1", &sample(44_100, 2000)).unwrap();
        el.create_voice("S2", &sample(44_100, 2000)).unwrap();
        el.synthesize("Hola", "es", "voice-1", 1.0).unwrap();
    }
    assert_eq!(deleted_ids(&server), vec!["voice-1", "voice-2"]);
}

#[test]
fn a_job_that_fails_half_way_still_deletes_its_clones_on_drop() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        if r.route().starts_with("/v1/text-to-speech/") {
            return Reply::detail(500, "internal_error", "synthesis broke");
        }
        eleven(r, earlier)
    });
    let result = std::panic::catch_unwind(|| {
        let mut el = client(&server);
        el.create_voice("S1", &sample(44_100, 2000)).unwrap();
        el.create_voice("S2", &sample(44_100, 2000)).unwrap();
        // The job's synthesis fails after its retries, and the job returns early with `?`.
        let e = el.synthesize("Hola", "es", "voice-1", 1.0).unwrap_err().to_string();
        assert!(e.contains("HTTP 500") && e.contains("synthesis broke") && e.contains("4 attempts"), "{e}");
        panic!("the job failed");
    });
    assert!(result.is_err());
    assert_eq!(server.requests_to("POST", "/v1/text-to-speech/").len(), 4, "max_retries = 3");
    assert_eq!(deleted_ids(&server), vec!["voice-1", "voice-2"]);
}

#[test]
fn already_deleted_voices_are_not_an_error() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        if r.method == "DELETE" {
            return Reply::detail(404, "voice_not_found", "A voice with the voice_id was not found.");
        }
        eleven(r, earlier)
    });
    let mut el = client(&server);
    el.create_voice("S1", &sample(44_100, 2000)).unwrap();
    el.delete_voice("voice-1").unwrap();
    assert!(el.created_voices().is_empty());
    el.delete_voice("voice-1").unwrap();
}

#[test]
fn deletes_that_fail_are_reported_kept_and_tried_again_on_drop() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        let deletes = earlier.iter().filter(|e| e.method == "DELETE").count();
        if r.method == "DELETE" && r.route().ends_with("voice-2") && deletes < 2 {
            return Reply::detail(401, "invalid_api_key", "Invalid API key");
        }
        eleven(r, earlier)
    });
    let mut el = client(&server);
    el.create_voice("S1", &sample(44_100, 2000)).unwrap();
    el.create_voice("S2", &sample(44_100, 2000)).unwrap();
    let e = error_text(el.delete_all());
    assert!(e.contains("could not delete 1 cloned voice") && e.contains("voice-2 (S2)"), "{e}");
    assert!(e.contains("ELEVENLABS_API_KEY"), "{e}");
    assert_eq!(el.created_voices(), vec!["voice-2"]);
    drop(el);
    let deletes = server.requests_to("DELETE", "/v1/voices/");
    assert_eq!(deletes.len(), 3);
    assert!(deletes[2].route().ends_with("voice-2"), "Drop tried the one left");
}

#[test]
fn rate_limit_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        let tts_before = earlier.iter().filter(|e| e.route().starts_with("/v1/text-to-speech/")).count();
        if r.route().starts_with("/v1/text-to-speech/") && tts_before == 0 {
            return Reply::detail(429, "too_many_concurrent_requests", "Too many concurrent requests")
                .with_header("Retry-After", "1");
        }
        eleven(r, earlier)
    });
    let mut el = client(&server);
    let audio = el.synthesize("Hola", "es", "voice-1", 1.0).unwrap();
    assert_eq!(audio.samples.len(), line_len(44_100));
    let tts = server.requests_to("POST", "/v1/text-to-speech/");
    assert_eq!(tts.len(), 2);
    let waited = tts[1].at - tts[0].at;
    assert!(waited >= Duration::from_millis(950), "waited only {waited:?}");
}

#[test]
fn concurrency_limit_without_retry_after_backs_off_and_retries() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        let adds_before = earlier.iter().filter(|e| e.route() == "/v1/voices/add").count();
        if r.route() == "/v1/voices/add" && adds_before < 2 {
            return Reply::detail(429, "system_busy", "The system is busy");
        }
        let n = adds_before - 1; // ids count the failed attempts; keep voice-1 for the one that worked
        if r.route() == "/v1/voices/add" {
            return Reply::json(200, serde_json::json!({"voice_id": format!("voice-{n}")}));
        }
        eleven(r, earlier)
    });
    let mut el = client(&server);
    assert_eq!(el.create_voice("S1", &sample(44_100, 2000)).unwrap(), "voice-1");
    assert_eq!(server.requests_to("POST", "/v1/voices/add").len(), 3);
}

#[test]
fn rate_limited_forever_gives_up_with_what_to_do() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        Reply::detail(429, "too_many_concurrent_requests", "Too many concurrent requests")
    });
    let mut el = client(&server);
    let e = error_text(el.synthesize("Hola", "es", "voice-1", 1.0));
    assert!(e.contains("HTTP 429") && e.contains("too_many_concurrent_requests"), "{e}");
    assert!(e.contains("gave up after 4 attempts") && e.contains("rate-limiting"), "{e}");
}

#[test]
fn retry_after_longer_than_a_minute_stops_at_once_and_says_so() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        Reply::detail(429, "system_busy", "busy").with_header("Retry-After", "3600")
    });
    let mut el = client(&server);
    let started = Instant::now();
    let e = error_text(el.synthesize("Hola", "es", "voice-1", 1.0));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.contains("asked to wait 3600 s"), "{e}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn refused_key_fails_at_once_naming_the_variable() {
    let server =
        MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::detail(401, "invalid_api_key", "Invalid API key"));
    let mut el = client(&server);
    let e = error_text(el.create_voice("S1", &sample(44_100, 2000)));
    assert!(e.contains("refused the API key") && e.contains("ELEVENLABS_API_KEY"), "{e}");
    assert!(e.contains("HTTP 401") && e.contains("invalid_api_key"), "{e}");
    assert_eq!(server.requests().len(), 1, "a refused key is not retried");
    assert!(el.created_voices().is_empty());
}

#[test]
fn missing_key_says_to_export_it() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::detail(401, "needs_authorization", "x"));
    let mut el = ElevenLabs::new(ElevenLabsSettings { api_key: None, ..settings(&server) }).unwrap();
    let e = error_text(el.synthesize("Hola", "es", "voice-1", 1.0));
    assert!(e.contains("none is set") && e.contains("export ELEVENLABS_API_KEY"), "{e}");
    assert!(server.requests()[0].header("xi-api-key").is_none());
}

#[test]
fn exhausted_quota_is_clear_and_not_retried() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        Reply::detail(401, "quota_exceeded", "This request exceeds your quota. You have 12 credits remaining.")
    });
    let mut el = client(&server);
    let e = error_text(el.synthesize("Hola", "es", "voice-1", 1.0));
    assert!(e.contains("out of credits") && e.contains("12 credits remaining"), "{e}");
    assert!(!e.contains("refused the API key"), "{e}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn full_voice_slots_say_what_to_delete() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        Reply::detail(400, "voice_limit_reached", "You have reached your maximum amount of custom voices")
    });
    let mut el = client(&server);
    let e = error_text(el.create_voice("S1", &sample(44_100, 2000)));
    assert!(e.contains("cloning `S1` failed") && e.contains("no free custom voice slot"), "{e}");
    assert!(e.contains("voice-lab"), "{e}");
}

#[test]
fn pcm_44k_refused_by_the_plan_falls_back_to_24k_for_the_session() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        if r.query("output_format").as_deref() == Some("pcm_44100") {
            return Reply::detail(
                403,
                "output_format_not_allowed",
                "Requested output format pcm_44100 (PCM at 44100hz) is only allowed for Pro tier and above.",
            );
        }
        eleven(r, earlier)
    });
    let mut el = client(&server);
    let first = el.synthesize("Hola", "es", "voice-1", 1.0).unwrap();
    assert_eq!((first.rate, first.samples.len()), (24_000, line_len(24_000)));
    assert_eq!(el.output_format(), "pcm_24000");
    el.synthesize("Adiós", "es", "voice-1", 1.0).unwrap();
    let formats: Vec<String> =
        server.requests_to("POST", "/v1/text-to-speech/").iter().map(|r| r.query("output_format").unwrap()).collect();
    assert_eq!(formats, vec!["pcm_44100", "pcm_24000", "pcm_24000"]);
}

#[test]
fn unknown_voice_is_named() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        Reply::detail(404, "voice_not_found", "A voice with voice_id gone-1 was not found.")
    });
    let mut el = client(&server);
    let e = error_text(el.synthesize("Hola", "es", "gone-1", 1.0));
    assert!(e.contains("voice gone-1 was not found"), "{e}");
}

#[test]
fn a_reply_that_is_not_pcm_is_retried_once_then_reported() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::bytes(200, "audio/pcm", vec![1, 2, 3]));
    let mut el = client(&server);
    let e = error_text(el.synthesize("Hola", "es", "voice-1", 1.0));
    assert!(e.contains("not 16-bit PCM") && e.contains("2 attempts"), "{e}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn nothing_listening_fails_at_once_and_says_what_to_do() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut el = ElevenLabs::new(ElevenLabsSettings {
        base_url: format!("http://{addr}"),
        api_key: Some(KEY.into()),
        backoff_ms: 10,
        ..ElevenLabsSettings::default()
    })
    .unwrap();
    let e = error_text(el.synthesize("Hola", "es", "voice-1", 1.0));
    assert!(e.contains("nothing is listening") && e.contains("REDUB_ELEVENLABS_BASE_URL"), "{e}");
}

#[test]
fn name_and_debug_never_show_the_key() {
    let server = MockServer::start(eleven);
    let el = client(&server);
    assert_eq!(el.name(), format!("elevenlabs:eleven_multilingual_v2@{}", server.base_url()));
    let debug = format!("{el:?}");
    assert!(!debug.contains(KEY) && debug.contains("<set>"), "{debug}");
}
