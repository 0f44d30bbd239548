//! The `openai` translator inside a real job, against an OpenAI-compatible server on loopback
//! started by the test: windows of 5 with context, budgets in the request, the retry at
//! temperature 0.2, glossary enforcement, and failures (500, 429, malformed replies) that keep
//! the finished stages and resume.

#![allow(clippy::unwrap_used)]

mod support;

use support::{AlternatingSpeakers, Regions, Transcript};

use redub_core::{Diarizer, Flag, Result, Span, Synthesizer, Transcriber, Translator, VoiceActivityDetector};
use redub_pipeline::translate::TranslatedLine;
use redub_pipeline::{dub, Backends, DubRequest, EventSink, TranslatorConfig};
use redub_testserver::{MockServer, Recorded, Reply};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

const LINES: [&str; 7] = [
    "Captain, Starfleet is calling.",
    "Put them on screen.",
    "They say the long one will not fit.",
    "Tell them we are on our way.",
    "Is the Enterprise ready?",
    "She has never been more ready.",
    "Then let's go.",
];

/// One recorded request: its body and headers.
#[derive(Clone, Debug)]
struct Seen {
    body: Value,
    auth: Option<String>,
}

type Responder = dyn Fn(usize, &Value) -> (u16, Vec<(String, String)>, String) + Send + Sync;

/// A chat-completions server on 127.0.0.1 (the shared loopback server): answers the n-th
/// request (from 0) with `respond(n, body)`.
fn serve(respond: Arc<Responder>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let server = MockServer::start(move |r: &Recorded, earlier: &[Recorded]| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        log.lock().unwrap().push(Seen { body: body.clone(), auth: r.header("authorization").map(str::to_string) });
        let (code, headers, text) = respond(earlier.len(), &body);
        let reply = Reply::json_text(code, &text);
        headers.iter().fold(reply, |reply, (k, v)| reply.with_header(k, v))
    });
    (server.url("/v1"), seen)
}

fn completion(content: &str) -> String {
    json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }] })
        .to_string()
}

/// A translator that behaves: "es:" + the line, except that the line with "long one" comes back
/// far too long at first and short on the stricter retry, and "Starfleet" is not rendered with
/// the glossary's term.
fn good_reply(body: &Value) -> String {
    let user: Value = serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    let strict = body["temperature"].as_f64().unwrap() < 0.25;
    let lines: Vec<Value> = user["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let text = l["text"].as_str().unwrap();
            let t = if text.contains("long one") && !strict {
                "Dicen que la muy larga y extensa frase de ninguna manera va a caber en el tiempo que tenemos".into()
            } else if text.contains("long one") {
                "No cabe.".to_string()
            } else {
                format!("es: {}", text.replace("Starfleet", "la Flota"))
            };
            json!({ "id": l["id"], "text": t, "names": if text.contains("Enterprise") { json!(["Enterprise"]) } else { json!([]) } })
        })
        .collect();
    completion(&json!({ "lines": lines }).to_string())
}

/// Stand-ins for every stage but translation, which is the real `openai` backend.
struct Job;
impl Backends for Job {
    fn vad(&self) -> Result<Box<dyn VoiceActivityDetector>> {
        Ok(Box::new(Regions(
            (0..LINES.len() as u64).map(|i| Span::new(200 + i * 3_200, 200 + i * 3_200 + 3_000)).collect(),
        )))
    }
    fn transcriber(&self) -> Result<Box<dyn Transcriber>> {
        Ok(Box::new(Transcript(LINES.iter().map(|l| l.to_string()).collect())))
    }
    fn diarizer(&self, _s: &redub_diarize::DiarizeSettings) -> Result<Box<dyn Diarizer>> {
        Ok(Box::new(AlternatingSpeakers))
    }
    fn translator(
        &self,
        config: &TranslatorConfig,
        settings: &redub_translate::LlmSettings,
        from: &str,
        to: &str,
    ) -> Result<Box<dyn Translator>> {
        config.build(settings, from, to)
    }
    fn synthesizer(&self, _lang: &str) -> Result<Box<dyn Synthesizer>> {
        Ok(Box::new(redub_tts::ToneSynth::default()))
    }
    fn identity(&self, stage: &str) -> Value {
        json!({ "stand-in": stage })
    }
    fn check_pair(&self, config: &TranslatorConfig, from: Option<&str>, to: &str) -> Result<()> {
        config.check(from, to)
    }
}

fn input(dir: &Path) -> std::path::PathBuf {
    support::make_input(dir, 24)
}

fn request(dir: &Path, url: &str) -> DubRequest {
    let glossary = dir.join("glossary.tsv");
    std::fs::write(&glossary, "Starfleet\tFlota Estelar\nEnterprise\n").unwrap();
    DubRequest {
        from: Some("en".into()),
        translator: TranslatorConfig::Openai(redub_openai::OpenAiSettings {
            base_url: url.into(),
            model: "test-model".into(),
            api_key: Some("sk-test".into()),
            timeout_ms: 10_000,
            max_retries: 2,
            backoff_ms: 10,
        }),
        glossary: Some(glossary),
        register: redub_translate::Register { default: Some(redub_translate::Formality::Formal), ..Default::default() },
        ..DubRequest::new(input(dir), dir.join("out.mp4"), "es", dir.join("jobs"))
    }
}

fn translations(job_dir: &Path) -> Vec<TranslatedLine> {
    serde_json::from_slice(&std::fs::read(job_dir.join("06-translate/translations.json")).unwrap()).unwrap()
}

fn job_dir(req: &DubRequest) -> std::path::PathBuf {
    std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path()
}

#[test]
fn windows_context_budgets_retry_and_glossary_over_the_real_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, seen) = serve(Arc::new(|_, body: &Value| (200, vec![], good_reply(body))));
    let req = request(tmp.path(), &url);
    dub(&req, &Job, EventSink::silent()).unwrap();
    let seen = seen.lock().unwrap().clone();
    let users: Vec<Value> = seen
        .iter()
        .map(|s| serde_json::from_str(s.body["messages"][1]["content"].as_str().unwrap()).unwrap())
        .collect();
    let ids =
        |u: &Value| -> Vec<u64> { u["lines"].as_array().unwrap().iter().map(|l| l["id"].as_u64().unwrap()).collect() };
    for s in &seen {
        println!(
            "request: temperature {}, lines {:?}",
            s.body["temperature"],
            ids(&serde_json::from_str(s.body["messages"][1]["content"].as_str().unwrap()).unwrap())
        );
    }

    // Window 1 (5 lines, 2 after), its retry for the long line only, window 2 (2 lines, 2 before).
    assert_eq!(seen.len(), 3);
    assert_eq!(ids(&users[0]), vec![0, 1, 2, 3, 4]);
    assert_eq!(users[0]["before"].as_array().unwrap().len(), 0);
    assert_eq!(users[0]["after"][0]["text"], LINES[5]);
    assert_eq!(users[0]["after"][0]["speaker"], "S2");
    assert_eq!(ids(&users[1]), vec![2]);
    assert_eq!(seen[1].body["temperature"].as_f64().unwrap(), 0.2);
    assert!(seen[0].body["temperature"].as_f64().unwrap() > 0.2);
    assert!(users[1]["lines"][0]["previous_translation"].as_str().unwrap().starts_with("Dicen que"));
    assert_eq!(ids(&users[2]), vec![5, 6]);
    assert_eq!(users[2]["before"][1]["text"], LINES[4]);
    // The budget is in the request: a 3 s line in Spanish allows floor(3 × 3.0 × 0.85) = 7 words.
    for u in &users {
        for l in u["lines"].as_array().unwrap() {
            assert_eq!(l["max_words"], 7);
        }
    }
    // Protocol details: model, JSON output, the key as a bearer token; glossary and register
    // in the instructions.
    assert_eq!(seen[0].body["model"], "test-model");
    assert_eq!(seen[0].body["response_format"]["type"], "json_object");
    assert_eq!(seen[0].auth.as_deref(), Some("Bearer sk-test"));
    let system = seen[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("\"Starfleet\" → \"Flota Estelar\"") && system.contains("Enterprise"), "{system}");
    assert!(system.contains("usted"), "{system}");

    let lines = translations(&job_dir(&req));
    assert_eq!(lines[2].target_text, "No cabe.", "the stricter retry's shorter line is kept");
    assert!(lines[0].flags.contains(&Flag::GlossaryMiss), "{:?}", lines[0]);
    assert!(lines[0].note.as_deref().unwrap().contains("Starfleet → Flota Estelar"));
    assert!(lines[4].flags.contains(&Flag::ProperNoun));
    assert!(!lines[4].flags.contains(&Flag::GlossaryMiss), "Enterprise kept as is");
    assert!(lines.iter().all(|l| l.estimated_ms.is_some()), "every line has a timing estimate");
    let over: Vec<u32> = lines.iter().filter(|l| l.flags.contains(&Flag::OverBudget)).map(|l| l.id).collect();
    println!("over budget: {over:?}; flags: {:?}", lines.iter().map(|l| &l.flags).collect::<Vec<_>>());
}

#[test]
fn server_errors_fail_clearly_keep_the_finished_stages_and_resume() {
    for (name, responder) in [
        (
            "500",
            Arc::new(|_, _: &Value| (500u16, vec![], r#"{"error":{"message":"boom"}}"#.to_string())) as Arc<Responder>,
        ),
        ("429", Arc::new(|_, _: &Value| (429, vec![("Retry-After".into(), "0".into())], "{}".to_string()))),
        ("malformed", Arc::new(|_, _: &Value| (200, vec![], completion("this is not JSON at all")))),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (url, seen) = serve(responder);
        let req = request(tmp.path(), &url);
        let err = dub(&req, &Job, EventSink::silent()).unwrap_err().to_string();
        println!("{name}: {err}");
        match name {
            "500" => assert!(err.contains("500") && err.contains("3 attempts"), "{err}"),
            "429" => assert!(err.contains("429") || err.contains("rate"), "{err}"),
            _ => assert!(err.contains("not the expected JSON"), "{err}"),
        }
        assert!(!seen.lock().unwrap().is_empty());
        let dir = job_dir(&req);
        for stage in ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize"] {
            assert!(dir.join(stage).join("manifest.json").is_file(), "{name}: {stage} kept");
        }
        assert!(!dir.join("06-translate/manifest.json").exists());

        // The server recovers; the same command resumes at translation.
        let (url, _) = serve(Arc::new(|_, body: &Value| (200, vec![], good_reply(body))));
        let mut again = req.clone();
        if let TranslatorConfig::Openai(s) = &mut again.translator {
            s.base_url = url;
        }
        let summary = dub(&again, &Job, EventSink::silent()).unwrap();
        assert_eq!(
            summary.skipped_stages,
            ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize"],
            "{name}"
        );
        assert!(again.output.is_file());
    }
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, seen) = serve(Arc::new(|n, body: &Value| {
        if n == 0 {
            (429, vec![("Retry-After".into(), "1".into())], r#"{"error":{"message":"slow down"}}"#.into())
        } else {
            (200, vec![], good_reply(body))
        }
    }));
    let req = request(tmp.path(), &url);
    let t = std::time::Instant::now();
    dub(&req, &Job, EventSink::silent()).unwrap();
    assert!(t.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(seen.lock().unwrap().len(), 4, "the rate-limited request was sent again");
}
