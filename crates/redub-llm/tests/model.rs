//! The installed GGUF model through the worker, as the translator will use it. These tests need
//! the model that `make setup` installs and fail (not skip) without it.

#![allow(clippy::unwrap_used)]

use redub_core::{ChatMessage, ChatModel, ChatOptions, Error};
use redub_llm::{LocalLlm, LocalLlmSettings, Stop};
use serde_json::{json, Value};
use std::time::Instant;

fn settings() -> LocalLlmSettings {
    LocalLlmSettings { worker: Some(env!("CARGO_BIN_EXE_redub-llm").into()), ..Default::default() }
}

fn load() -> LocalLlm {
    let t = Instant::now();
    let llm = LocalLlm::load(settings()).unwrap();
    println!(
        "model {} loaded by the worker in {} ms ({} ms with the start)",
        llm.name(),
        llm.load_ms(),
        t.elapsed().as_millis()
    );
    llm
}

/// The two-speaker call of `fixtures/speech-2spk` (reference transcript), with each line's word
/// budget `floor(d × 3.0 × 0.85)` for Spanish.
fn sample_lines() -> Vec<Value> {
    let stm =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/speech-2spk/sample.stm")).unwrap();
    stm.lines()
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (start, end): (f64, f64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
            json!({
                "id": i + 1,
                "speaker": f[2],
                "text": f[5..].join(" "),
                "max_words": ((end - start) * 3.0 * 0.85).floor().max(1.0) as u32,
            })
        })
        .collect()
}

const SYSTEM: &str = "You translate film dialogue from English to Spanish for dubbing. Each translation must have at \
most `max_words` words; fewer is better when the meaning survives. Use natural, short, spoken Spanish and keep names \
as they are. Translate every entry of `lines`. Reply with one JSON object and nothing else: \
{\"lines\": [{\"id\": <id>, \"text\": \"<translation>\"}]}, one entry per line, in the same order.";

#[test]
fn translates_the_sample_call_in_windows_of_five_with_json_replies() {
    let mut llm = load();
    let lines = sample_lines();
    let options = ChatOptions { temperature: 0.3, max_tokens: 512, json: true };
    let started = Instant::now();
    let (mut generated, mut gen_ms, mut read, mut read_ms) = (0u64, 0u64, 0u64, 0u64);
    for window in lines.chunks(5) {
        let user = json!({ "target_language": "es", "lines": window }).to_string();
        let c = llm.chat(&[ChatMessage::system(SYSTEM), ChatMessage::user(user)], &options).unwrap();
        println!("{}", c.text);
        println!(
            "  prompt {} tokens in {} ms ({:.1}/s), reply {} tokens in {} ms ({:.1} tokens/s)",
            c.prompt_tokens,
            c.prompt_ms,
            c.prompt_tokens_per_second(),
            c.completion_tokens,
            c.generation_ms,
            c.tokens_per_second()
        );
        assert_eq!(c.stop, Stop::End, "the reply was cut at max_tokens: {}", c.text);
        let v: Value = serde_json::from_str(&c.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", c.text));
        assert!(v.is_object(), "{v}");
        (generated, gen_ms) = (generated + u64::from(c.completion_tokens), gen_ms + c.generation_ms);
        (read, read_ms) = (read + u64::from(c.prompt_tokens), read_ms + c.prompt_ms);
    }
    println!(
        "LLM on the {}-line sample (3 windows): {:.1} s; generation {:.1} tokens/s, prompt {:.1} tokens/s",
        lines.len(),
        started.elapsed().as_secs_f64(),
        generated as f64 * 1000.0 / gen_ms.max(1) as f64,
        read as f64 * 1000.0 / read_ms.max(1) as f64
    );
}

#[test]
fn temperature_zero_repeats_itself_exactly() {
    let messages = [
        ChatMessage::system("You translate English to Spanish. Reply with JSON: {\"text\": \"<translation>\"}."),
        ChatMessage::user(
            "Well, there isn't that much difference. At least, you know, they all call me a Yankee down here.",
        ),
    ];
    let options = ChatOptions { temperature: 0.0, max_tokens: 64, json: true };
    let mut llm = load();
    let a = llm.complete(&messages, &options).unwrap();
    let b = llm.complete(&messages, &options).unwrap();
    println!("{a}");
    assert_eq!(a, b, "the same worker answered differently at temperature 0");
    drop(llm);
    // A fresh worker (a new process, a new context) too.
    let c = load().complete(&messages, &options).unwrap();
    assert_eq!(a, c, "a new worker answered differently at temperature 0");
    // Above 0 the seed makes it repeatable as well.
    let warm = ChatOptions { temperature: 0.8, ..options };
    let mut llm = load();
    assert_eq!(llm.complete(&messages, &warm).unwrap(), llm.complete(&messages, &warm).unwrap());
}

#[test]
fn max_tokens_is_respected() {
    let mut llm = load();
    let story = [ChatMessage::user("Tell me a long story about a dubbing studio, in Spanish, with many details.")];
    for (max_tokens, json) in [(1, false), (12, false), (12, true)] {
        let c = llm.chat(&story, &ChatOptions { temperature: 0.0, max_tokens, json }).unwrap();
        println!("max_tokens {max_tokens}, json {json}: {} tokens, {:?}: {:?}", c.completion_tokens, c.stop, c.text);
        assert_eq!(c.completion_tokens, max_tokens);
        assert_eq!(c.stop, Stop::MaxTokens);
        assert!(!c.text.is_empty());
        if json {
            assert!(c.text.starts_with('{'), "{:?}", c.text);
        }
    }
}

#[test]
fn a_request_too_large_fails_and_the_worker_carries_on() {
    let mut llm = LocalLlm::load(LocalLlmSettings { max_context: 256, ..settings() }).unwrap();
    let long = "Hello there. ".repeat(200);
    let e = llm.complete(&[ChatMessage::user(long)], &ChatOptions::default()).unwrap_err();
    assert!(matches!(&e, Error::Backend { backend, .. } if backend == "llm"), "{e}");
    assert!(e.to_string().contains("context"), "{e}");
    let ok = llm.complete(&[ChatMessage::user("Say hola.")], &ChatOptions { max_tokens: 8, ..Default::default() });
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_missing_model_says_to_run_setup() {
    let e =
        LocalLlm::load(LocalLlmSettings { model: Some("/nonexistent/model.gguf".into()), ..settings() }).unwrap_err();
    assert!(matches!(e, Error::MissingModel { .. }), "{e}");
    assert!(e.to_string().contains("make setup"), "{e}");
}

#[test]
fn a_file_that_is_not_a_model_is_a_backend_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"GGUF but not really").unwrap();
    let e = LocalLlm::load(LocalLlmSettings { model: Some(bad), ..settings() }).unwrap_err();
    assert!(matches!(&e, Error::Backend { backend, .. } if backend == "llm"), "{e}");
    assert!(e.to_string().contains("cannot load"), "{e}");
}
