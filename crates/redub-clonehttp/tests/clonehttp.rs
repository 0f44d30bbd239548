#![allow(clippy::unwrap_used)]
//! The client against a local server that speaks the clone-http protocol: what a synthesis
//! request carries, what replies it reads, and how clear its errors are when the server is busy,
//! broken, elsewhere or not a clone-http server at all.

mod support;

use redub_clonehttp::{CloneHttp, CloneHttpSettings};
use redub_core::{Audio, Synthesizer, VoiceCloner};
use std::time::{Duration, Instant};
use support::{read_wav, wav_f32, wav_i16, CloneHttpReplies, MockServer, Recorded, Reply};

const KEY: &str = "ch-test-0123456789secret";

fn settings(server: &MockServer) -> CloneHttpSettings {
    CloneHttpSettings {
        base_url: server.base_url(),
        timeout_ms: 5_000,
        max_retries: 3,
        backoff_ms: 10,
        ..CloneHttpSettings::default()
    }
}

fn client(server: &MockServer) -> CloneHttp {
    CloneHttp::new(settings(server)).unwrap()
}

/// A cloning server: every line is 0.5 s of 22.05 kHz stereo, left at +0.5, right at 0.
fn server_reply(_: &Recorded, _: &[Recorded]) -> Reply {
    let frames = 11_025;
    let samples: Vec<i16> = (0..frames).flat_map(|_| [16_384i16, 0]).collect();
    Reply::wav(wav_i16(22_050, 2, &samples))
}

/// A speaker's sample: a 220 Hz tone of `ms` at `rate`.
fn sample(rate: u32, ms: u64) -> Audio {
    let n = (rate as u64 * ms / 1000) as usize;
    Audio::new(rate, (0..n).map(|i| 0.3 * (i as f32 * 220.0 * std::f32::consts::TAU / rate as f32).sin()).collect())
}

fn error_text<T: std::fmt::Debug>(result: redub_core::Result<T>) -> String {
    let text = result.unwrap_err().to_string();
    assert!(text.starts_with("clone-http: "), "error does not name the backend: {text}");
    assert!(!text.contains(KEY), "the key leaked into an error: {text}");
    text
}

#[test]
fn synthesis_sends_text_language_speed_voice_and_the_reference_wav() {
    let server = MockServer::start(server_reply);
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(16_000, 800)).unwrap();
    assert!(server.requests().is_empty(), "making a voice needs no request");
    let audio = ch.synthesize("Hola, ¿qué tal?", "es", &voice, 1.0).unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/synthesize"));
    assert!(r.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    assert!(r.header("authorization").is_none(), "no key, no header");
    assert_eq!(r.part("text").unwrap().text(), "Hola, ¿qué tal?");
    assert_eq!(r.part("language").unwrap().text(), "es");
    assert_eq!(r.part("speed").unwrap().text(), "1");
    assert_eq!(r.part("voice").unwrap().text(), voice);
    let reference = r.part("reference").unwrap();
    assert_eq!(reference.content_type.as_deref(), Some("audio/wav"));
    assert_eq!(reference.filename.as_deref(), Some("reference.wav"));
    let wav = read_wav(&reference.data);
    assert_eq!((wav.channels, wav.rate, wav.bits), (1, 44_100, 16));
    assert_eq!(wav.samples.len(), 88_200, "a 0.8 s reference is padded with silence to 2.0 s");
    assert!(wav.samples[..35_000].iter().any(|&s| s.abs() > 8000));
    assert!(wav.samples[36_000..].iter().all(|&s| s == 0));

    // The reply: 0.5 s of 22.05 kHz stereo, down-mixed.
    assert_eq!((audio.rate, audio.samples.len()), (22_050, 11_025));
    assert!(audio.samples.iter().all(|&s| (s - 0.25).abs() < 1e-6));
}

#[test]
fn every_line_carries_its_reference_and_speed() {
    let server = MockServer::start(server_reply);
    let mut ch = client(&server);
    let s1 = ch.create_voice("S1", &sample(44_100, 2500)).unwrap();
    let s2 = ch.create_voice("S2", &sample(48_000, 3000)).unwrap();
    ch.synthesize("Uno", "es", &s1, 1.15).unwrap();
    ch.synthesize("Dos", "es", &s2, 0.9).unwrap();
    ch.synthesize("Tres", "es", &s1, 1.0).unwrap();
    let requests = server.requests();
    let voices: Vec<String> = requests.iter().map(|r| r.part("voice").unwrap().text()).collect();
    assert_eq!(voices, vec![s1.clone(), s2.clone(), s1.clone()]);
    let speeds: Vec<String> = requests.iter().map(|r| r.part("speed").unwrap().text()).collect();
    assert_eq!(speeds, vec!["1.15", "0.9", "1"]);
    let lengths: Vec<usize> =
        requests.iter().map(|r| read_wav(&r.part("reference").unwrap().data).samples.len()).collect();
    assert_eq!(lengths, vec![110_250, 132_300, 110_250], "2.5 s and 3 s references, resampled to 44.1 kHz");
    assert_eq!(requests[0].part("reference").unwrap().data, requests[2].part("reference").unwrap().data);
}

#[test]
fn voice_ids_come_from_the_reference_and_deleting_forgets_it() {
    let server = MockServer::start(server_reply);
    let mut ch = client(&server);
    let a = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let again = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let b = ch.create_voice("S2", &sample(44_100, 2100)).unwrap();
    assert!(a.starts_with("clone-") && a.len() == 22, "{a}");
    assert_eq!(a, again, "the same reference is the same voice");
    assert_ne!(a, b);
    let other = CloneHttp::new(settings(&server)).unwrap().create_voice("S1", &sample(44_100, 2000)).unwrap();
    assert_eq!(a, other, "stable across instances (and runs), so clip caches keep working");
    assert_eq!(ch.voices("es"), vec![a.clone(), b.clone()]);

    ch.delete_voice(&a).unwrap();
    ch.delete_voice(&a).unwrap();
    assert_eq!(ch.voices("es"), vec![b]);
    let e = error_text(ch.synthesize("Hola", "es", &a, 1.0));
    assert!(e.contains("create_voice"), "{e}");
    assert!(server.requests().is_empty());
}

#[test]
fn float_wav_replies_decode() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::wav(wav_f32(24_000, &[0.25; 12_000])));
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let audio = ch.synthesize("Hola", "es", &voice, 1.0).unwrap();
    assert_eq!((audio.rate, audio.samples.len()), (24_000, 12_000));
    assert!(audio.samples.iter().all(|&s| s == 0.25));
}

#[test]
fn silent_edges_of_the_reply_are_trimmed_keeping_30_ms() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        // 0.2 s of silence, 0.5 s of speech, 0.3 s of silence at 24 kHz.
        let mut samples = vec![0.0f32; 4800];
        samples.extend(std::iter::repeat_n(0.3f32, 12_000));
        samples.extend(std::iter::repeat_n(0.0f32, 7200));
        Reply::wav(wav_f32(24_000, &samples))
    });
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let audio = ch.synthesize("Hola", "es", &voice, 1.0).unwrap();
    assert_eq!(audio.samples.len(), 12_000 + 2 * 720);
}

#[test]
fn a_refused_request_shows_the_server_message_and_is_not_retried() {
    let server =
        MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::error(400, "language xx is not supported by xtts"));
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "xx", &voice, 1.0));
    assert!(e.contains("POST http://127.0.0.1:") && e.contains("/synthesize"), "{e}");
    assert!(e.contains("voice `S1`, language xx") && e.contains("language xx is not supported by xtts"), "{e}");
    assert!(e.contains("HTTP 400"), "{e}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn key_goes_out_as_a_bearer_token_and_a_refusal_names_the_variable() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::error(401, "bad token"));
    let mut ch = CloneHttp::new(CloneHttpSettings { api_key: Some(KEY.into()), ..settings(&server) }).unwrap();
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("refused the API key") && e.contains("REDUB_CLONE_HTTP_API_KEY"), "{e}");
    assert_eq!(server.requests()[0].header("authorization"), Some(&*format!("Bearer {KEY}")));

    let mut no_key = client(&server);
    let voice = no_key.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(no_key.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("wants an API key") && e.contains("export REDUB_CLONE_HTTP_API_KEY"), "{e}");
}

#[test]
fn a_server_that_is_not_clone_http_is_named_as_such() {
    let server =
        MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::bytes(404, "text/html", b"<h1>404</h1>".to_vec()));
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("HTTP 404") && e.contains("REDUB_CLONE_HTTP_URL") && e.contains("docs/clone-http.md"), "{e}");
}

#[test]
fn a_busy_server_is_waited_for_as_retry_after_asks() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        if earlier.is_empty() {
            return Reply::error(503, "model is loading").with_header("Retry-After", "1");
        }
        server_reply(r, earlier)
    });
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let audio = ch.synthesize("Hola", "es", &voice, 1.0).unwrap();
    assert_eq!(audio.samples.len(), 11_025);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= Duration::from_millis(950), "waited only {waited:?}");
    assert_eq!(requests[1].part("reference").unwrap().data, requests[0].part("reference").unwrap().data);
}

#[test]
fn a_failing_server_is_retried_then_reported_with_what_to_do() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::error(500, "CUDA out of memory"));
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("HTTP 500: CUDA out of memory") && e.contains("gave up after 4 attempts"), "{e}");
    assert!(e.contains("log"), "{e}");
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn retry_after_longer_than_a_minute_stops_at_once() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| {
        Reply::error(429, "queue full").with_header("Retry-After", "600")
    });
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let started = Instant::now();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.contains("asked to wait 600 s"), "{e}");
}

#[test]
fn a_reply_that_is_not_wav_is_retried_once_then_reported() {
    let server =
        MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::bytes(200, "audio/mpeg", b"ID3\x04....".to_vec()));
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("not a WAV") && e.contains("audio/wav") && e.contains("2 attempts"), "{e}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_json_success_is_not_mistaken_for_audio() {
    let server =
        MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::json(200, serde_json::json!({"status": "queued"})));
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("JSON, not audio") && e.contains("queued"), "{e}");
}

#[test]
fn nothing_listening_fails_at_once_and_says_what_to_do() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut ch =
        CloneHttp::new(CloneHttpSettings { base_url: format!("http://{addr}"), ..CloneHttpSettings::default() })
            .unwrap();
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    let e = error_text(ch.synthesize("Hola", "es", &voice, 1.0));
    assert!(e.contains("nothing is listening") && e.contains("REDUB_CLONE_HTTP_URL"), "{e}");
}

#[test]
fn health_reports_the_model_and_limits_voices_to_its_languages() {
    let server = MockServer::start(|r: &Recorded, earlier: &[Recorded]| {
        if r.method == "GET" && r.path == "/health" {
            return Reply::json(
                200,
                serde_json::json!({"status": "ok", "model": "xtts-v2", "languages": ["en", "es"]}),
            );
        }
        server_reply(r, earlier)
    });
    let mut ch = client(&server);
    let voice = ch.create_voice("S1", &sample(44_100, 2000)).unwrap();
    assert_eq!(ch.voices("eu"), vec![voice.clone()], "before /health every language is assumed");
    let health = ch.health().unwrap();
    assert!(health.implemented);
    assert_eq!((health.status.as_deref(), health.model.as_deref()), (Some("ok"), Some("xtts-v2")));
    assert_eq!(health.languages, vec!["en", "es"]);
    assert_eq!(ch.voices("es-MX"), vec![voice.clone()]);
    assert!(ch.voices("eu").is_empty());

    let mut configured =
        CloneHttp::new(CloneHttpSettings { languages: vec!["eu".into()], ..settings(&server) }).unwrap();
    let voice = configured.create_voice("S1", &sample(44_100, 2000)).unwrap();
    configured.health().unwrap();
    assert_eq!(configured.voices("eu"), vec![voice], "the settings' languages win");
    assert!(configured.voices("es").is_empty());
}

#[test]
fn health_is_optional() {
    let server = MockServer::start(|_: &Recorded, _: &[Recorded]| Reply::error(404, "Not Found"));
    let mut ch = client(&server);
    let health = ch.health().unwrap();
    assert!(!health.implemented);
    assert_eq!(server.requests()[0].path, "/health");
}

#[test]
fn name_and_debug_never_show_the_key() {
    let server = MockServer::start(server_reply);
    let ch = CloneHttp::new(CloneHttpSettings { api_key: Some(KEY.into()), ..settings(&server) }).unwrap();
    assert_eq!(ch.name(), format!("clone-http@{}", server.base_url()));
    let debug = format!("{ch:?}");
    assert!(!debug.contains(KEY) && debug.contains("<set>"), "{debug}");
}
