#![allow(clippy::unwrap_used)]
//! The client against a scripted local server: what it sends, and how it behaves when the server
//! rate-limits, fails, hangs, breaks its replies or rejects a field.

mod support;

use redub_core::{ChatMessage, ChatModel, ChatOptions, Role};
use redub_openai::{OpenAiChat, OpenAiSettings};
use std::time::{Duration, Instant};
use support::{ChatReplies, MockServer, Reply};

const KEY: &str = "sk-test-0123456789secret";

fn settings(server: &MockServer) -> OpenAiSettings {
    OpenAiSettings {
        base_url: server.url("/v1"),
        model: "test-model".into(),
        api_key: None,
        timeout_ms: 5_000,
        max_retries: 4,
        backoff_ms: 10,
    }
}

fn client(settings: OpenAiSettings) -> OpenAiChat {
    OpenAiChat::new(settings).unwrap()
}

fn messages() -> Vec<ChatMessage> {
    vec![ChatMessage::system("Translate to Spanish. Answer in JSON."), ChatMessage::user("Hello there")]
}

fn complete(chat: &mut OpenAiChat) -> redub_core::Result<String> {
    chat.complete(&messages(), &ChatOptions::default())
}

/// The error's text, which is what a user sees.
fn error_text(result: redub_core::Result<String>) -> String {
    let e = result.unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("openai: "), "error does not name the backend: {text}");
    text
}

#[test]
fn sends_the_chat_completions_request() {
    let server = MockServer::scripted(vec![Reply::ok(r#"{"lines":["Hola"]}"#)]);
    let mut chat = client(OpenAiSettings { api_key: Some(KEY.into()), ..settings(&server) });
    let options = ChatOptions { temperature: 0.25, max_tokens: 77, json: true };
    let reply = chat.complete(&messages(), &options).unwrap();
    assert_eq!(reply, r#"{"lines":["Hola"]}"#);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.headers.get("authorization").map(String::as_str), Some(&*format!("Bearer {KEY}")));
    assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"));
    let body = r.json();
    assert_eq!(body["model"], "test-model");
    let sent: Vec<ChatMessage> = serde_json::from_value(body["messages"].clone()).unwrap();
    assert_eq!(sent, messages());
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(sent[1].role, Role::User);
    assert!((body["temperature"].as_f64().unwrap() - 0.25).abs() < 1e-6);
    assert_eq!(body["max_tokens"], 77);
    assert_eq!(body["response_format"], serde_json::json!({"type": "json_object"}));
}

#[test]
fn no_key_means_no_auth_header_and_plain_text_means_no_response_format() {
    let server = MockServer::scripted(vec![Reply::ok("Hola")]);
    let mut chat = client(settings(&server));
    let options = ChatOptions { json: false, ..ChatOptions::default() };
    assert_eq!(chat.complete(&messages(), &options).unwrap(), "Hola");
    let r = &server.requests()[0];
    assert!(!r.headers.contains_key("authorization"));
    assert!(r.json().get("response_format").is_none());
}

#[test]
fn base_url_with_trailing_slash_or_full_endpoint_reaches_the_same_path() {
    let server = MockServer::scripted(vec![Reply::ok("x")]);
    for base in [format!("{}/", server.url("/v1")), format!("{}/chat/completions", server.url("/v1"))] {
        let mut chat = client(OpenAiSettings { base_url: base, ..settings(&server) });
        complete(&mut chat).unwrap();
    }
    assert!(server.requests().iter().all(|r| r.path == "/v1/chat/completions"));
}

#[test]
fn rate_limit_waits_for_retry_after() {
    let server = MockServer::scripted(vec![
        Reply::error(429, "Rate limit reached for requests").with_header("Retry-After", "1"),
        Reply::ok("done"),
    ]);
    let mut chat = client(settings(&server));
    let started = Instant::now();
    assert_eq!(complete(&mut chat).unwrap(), "done");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "retried after {elapsed:?}, not after Retry-After: 1");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(900));
}

#[test]
fn server_errors_back_off_then_succeed() {
    let server =
        MockServer::scripted(vec![Reply::error(500, "boom"), Reply::error(502, "bad gateway"), Reply::ok("fine")]);
    let mut chat = client(OpenAiSettings { backoff_ms: 40, ..settings(&server) });
    assert_eq!(complete(&mut chat).unwrap(), "fine");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    // base × 2^n: 40 ms, then 80 ms.
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(40));
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(80));
}

#[test]
fn server_errors_forever_give_up_after_max_retries_plus_one_attempts() {
    let server = MockServer::scripted(vec![Reply::error(503, "overloaded")]);
    let mut chat = client(OpenAiSettings { max_retries: 3, ..settings(&server) });
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 4);
    assert!(text.contains("gave up after 4 attempts"), "{text}");
    assert!(text.contains("HTTP 503: overloaded"), "{text}");
    assert!(text.contains(&format!("{}/chat/completions", server.url("/v1"))), "{text}");
    assert!(text.contains("failing or overloaded"), "{text}");
}

#[test]
fn retry_after_longer_than_we_wait_stops_at_once_and_says_so() {
    let server = MockServer::scripted(vec![Reply::error(429, "slow down").with_header("Retry-After", "3600")]);
    let mut chat = client(settings(&server));
    let started = Instant::now();
    let text = error_text(complete(&mut chat));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.requests().len(), 1, "retrying before the server's time would only be refused");
    assert!(text.contains("gave up after 1 attempt "), "{text}");
    assert!(text.contains("asked to wait 3600 s"), "{text}");
    assert!(text.contains("rate-limiting"), "{text}");
}

#[test]
fn out_of_quota_is_not_retried() {
    let body = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
    let server = MockServer::scripted(vec![Reply::status(429, body)]);
    let mut chat = client(settings(&server));
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 1);
    assert!(text.contains("out of quota") && text.contains("You exceeded your current quota"), "{text}");
}

#[test]
fn refused_key_fails_at_once_without_showing_the_key() {
    // Some servers echo the key back in the message; it must not reach ours.
    let server = MockServer::scripted(vec![Reply::error(401, &format!("Incorrect API key provided: {KEY}."))]);
    let mut chat = client(OpenAiSettings { api_key: Some(KEY.into()), ..settings(&server) });
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 1);
    assert!(text.contains("refused the API key"), "{text}");
    assert!(text.contains("OPENAI_API_KEY") && text.contains("REDUB_OPENAI_API_KEY"), "{text}");
    assert!(!text.contains(KEY) && !text.contains("0123456789secret"), "{text}");
    assert!(!format!("{chat:?}").contains(KEY));
    assert!(!chat.name().contains(KEY));
}

#[test]
fn missing_key_on_a_server_that_wants_one() {
    let server = MockServer::scripted(vec![Reply::error(403, "forbidden")]);
    let mut chat = client(settings(&server));
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 1);
    assert!(text.contains("none is set") && text.contains("OPENAI_API_KEY"), "{text}");
}

#[test]
fn not_found_names_base_url_and_model() {
    let server = MockServer::scripted(vec![Reply::error(404, "The model `test-model` does not exist")]);
    let mut chat = client(settings(&server));
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 1);
    assert!(text.contains("base URL or the model is wrong"), "{text}");
    assert!(text.contains(&format!("base_url {}", server.url("/v1"))), "{text}");
    assert!(text.contains("model test-model") && text.contains("does not exist"), "{text}");
}

#[test]
fn other_client_errors_show_the_server_message() {
    let server = MockServer::scripted(vec![Reply::error(400, "This model's maximum context length is 8192 tokens")]);
    let mut chat = client(settings(&server));
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 1);
    assert!(text.contains("HTTP 400") && text.contains("maximum context length is 8192 tokens"), "{text}");
    // Ollama's shape: `error` is a plain string.
    let server = MockServer::scripted(vec![Reply::status(400, r#"{"error":"invalid message format"}"#)]);
    let text = error_text(complete(&mut client(settings(&server))));
    assert!(text.contains("invalid message format"), "{text}");
}

#[test]
fn body_that_is_not_json_is_retried_once_then_reported() {
    let server = MockServer::scripted(vec![Reply::status(200, "<html>Bad gateway</html>")]);
    let mut chat = client(settings(&server));
    let text = error_text(complete(&mut chat));
    assert_eq!(server.requests().len(), 2);
    assert!(text.contains("not JSON") && text.contains("<html>Bad gateway</html>"), "{text}");
    assert!(text.contains("2 attempts") && text.contains("/v1"), "{text}");
}

#[test]
fn one_broken_body_then_a_good_one_succeeds() {
    let server = MockServer::scripted(vec![Reply::status(200, r#"{"choices":[{"mess"#), Reply::ok("ok")]);
    assert_eq!(complete(&mut client(settings(&server))).unwrap(), "ok");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn reply_without_choices_is_reported() {
    let server = MockServer::scripted(vec![Reply::status(200, r#"{"id":"x","object":"chat.completion"}"#)]);
    let text = error_text(complete(&mut client(settings(&server))));
    assert_eq!(server.requests().len(), 2);
    assert!(text.contains("no `choices`"), "{text}");
}

#[test]
fn empty_content_is_reported() {
    let server = MockServer::scripted(vec![Reply::ok("")]);
    let text = error_text(complete(&mut client(settings(&server))));
    assert!(text.contains("message is empty"), "{text}");
}

#[test]
fn reply_cut_at_max_tokens_is_an_error_that_suggests_max_tokens() {
    let server = MockServer::scripted(vec![Reply::finished(r#"{"lines":["Hol"#, "length")]);
    let mut chat = client(settings(&server));
    let options = ChatOptions { max_tokens: 12, ..ChatOptions::default() };
    let text = error_text(chat.complete(&messages(), &options));
    assert_eq!(server.requests().len(), 1, "a cut reply is cut again: no retry");
    assert!(text.contains("cut off at max_tokens (12)") && text.contains("raise max_tokens"), "{text}");
}

#[test]
fn server_that_rejects_response_format_is_asked_again_without_it_for_the_session() {
    let server = MockServer::scripted(vec![
        Reply::error(400, "Unrecognized request argument supplied: response_format"),
        Reply::ok("{}"),
    ]);
    let mut chat = client(settings(&server));
    assert!(chat.json_mode());
    assert_eq!(complete(&mut chat).unwrap(), "{}");
    assert!(!chat.json_mode());
    assert_eq!(complete(&mut chat).unwrap(), "{}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].json().get("response_format").is_some());
    assert!(requests[1].json().get("response_format").is_none());
    assert!(requests[2].json().get("response_format").is_none(), "the fallback is remembered");
}

#[test]
fn server_that_wants_max_completion_tokens_gets_it() {
    let server = MockServer::scripted(vec![
        Reply::error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."),
        Reply::ok("{}"),
    ]);
    let mut chat = client(settings(&server));
    complete(&mut chat).unwrap();
    let second = server.requests()[1].json();
    assert!(second.get("max_tokens").is_none());
    assert_eq!(second["max_completion_tokens"], ChatOptions::default().max_tokens);
    assert!(second.get("response_format").is_some());
}

#[test]
fn server_that_never_answers_times_out() {
    let server = MockServer::scripted(vec![Reply::Hang]);
    let mut chat = client(OpenAiSettings { timeout_ms: 500, max_retries: 0, ..settings(&server) });
    let started = Instant::now();
    let text = error_text(complete(&mut chat));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(450) && elapsed < Duration::from_millis(2_000), "{elapsed:?}");
    assert!(text.contains("timeout_ms = 500 ms") && text.contains("Raise timeout_ms"), "{text}");
    assert!(text.contains("gave up after 1 attempt "), "{text}");
}

#[test]
fn timeouts_are_retried() {
    let server = MockServer::scripted(vec![Reply::Hang, Reply::ok("late but fine")]);
    let mut chat = client(OpenAiSettings { timeout_ms: 300, ..settings(&server) });
    assert_eq!(complete(&mut chat).unwrap(), "late but fine");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn dropped_connection_is_retried() {
    let server = MockServer::scripted(vec![Reply::Close, Reply::ok("again")]);
    assert_eq!(complete(&mut client(settings(&server))).unwrap(), "again");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn nothing_listening_fails_at_once_and_says_what_to_do() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let mut chat = client(OpenAiSettings {
        base_url: base_url.clone(),
        model: "m".into(),
        backoff_ms: 2_000,
        ..OpenAiSettings::default()
    });
    let started = Instant::now();
    let text = error_text(complete(&mut chat));
    assert!(started.elapsed() < Duration::from_millis(1_500), "a refused connection is not retried");
    assert!(text.contains("nothing is listening") && text.contains("REDUB_OPENAI_BASE_URL"), "{text}");
    assert!(text.contains(&base_url), "{text}");
}

#[test]
fn name_is_model_at_base_url() {
    let server = MockServer::scripted(vec![Reply::ok("x")]);
    let chat = client(OpenAiSettings { api_key: Some(KEY.into()), ..settings(&server) });
    assert_eq!(chat.name(), format!("openai:test-model@{}", server.url("/v1")));
}
