//! The studio's API, called through the router without a socket: every endpoint, and the bad
//! cases (oversized and non-media uploads, unknown jobs and lines, tokens off loopback, names
//! that try to be paths).

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use support::{get, json, send, studio, upload, wait_for};

const OPTIONS: &str = r#"{"to": "es", "review": true, "background": "duck"}"#;

#[tokio::test]
async fn a_reviewed_job_runs_edits_approves_and_serves_its_files() {
    let t = studio("127.0.0.1:0", 10 << 20);
    let clip = std::fs::read(support::clip(t.dir.path())).unwrap();
    assert_eq!(send(&t.app, get("/api/health")).await.status, StatusCode::OK);
    let doc = send(&t.app, get("/api/openapi.json")).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/jobs", "/api/jobs/{id}/events", "/api/jobs/{id}/lines/{line}", "/api/jobs/{id}/regenerate"] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }

    // Create: the name the client gave is shown, never used as a path.
    let options = r#"{"to": "es", "review": true, "background": "duck", "glossary": "Diane\tDiane\n", "speaker_formality": {"S2": "formal"}}"#;
    let r = send(&t.app, upload(options, "../../escape.mp4", &clip)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let job = r.json();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["input_name"], "escape.mp4");
    assert!(t.studio.config.uploads().join(&id).join("input.mp4").is_file());
    assert!(!t.dir.path().join("escape.mp4").exists() && !t.studio.config.home.join("escape.mp4").exists());

    // It stops for review after translation.
    let j = wait_for(&t.app, &id, "review").await;
    assert_eq!(j["progress"].as_u64(), Some(52), "6 of 11 stages of 97%: {j}");
    let calls = std::fs::read_to_string(t.dir.path().join("calls.txt")).unwrap();
    assert!(calls.contains("--stop-after 06-translate") && calls.contains("--background duck"), "{calls}");
    assert!(calls.contains("--speaker-formality S2=formal") && calls.contains("glossary.tsv"), "{calls}");
    assert!(calls.contains("--nats nats://127.0.0.1:4999"), "the studio's --nats reaches each job: {calls}");
    let glossary = std::fs::read_to_string(t.studio.config.uploads().join(&id).join("glossary.tsv")).unwrap();
    assert_eq!(glossary, "Diane\tDiane\n");
    let list = send(&t.app, get("/api/jobs")).await.json();
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    let lines = send(&t.app, get(&format!("/api/jobs/{id}/lines"))).await.json();
    assert_eq!(lines["lines"].as_array().unwrap().len(), 2);
    assert_eq!(lines["lines"][1]["flags"][0], "over_budget");

    // Review: edit a line, reassign a speaker, name one, pin a voice; bad edits are refused.
    let r = send(
        &t.app,
        json(
            "PATCH",
            &format!("/api/jobs/{id}/lines/1"),
            serde_json::json!({"target_text": "Buenas noches a todos.", "speaker": "S1"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.error());
    assert_eq!(r.json()["speaker"], "S1");
    let r =
        send(&t.app, json("PATCH", &format!("/api/jobs/{id}/lines/99"), serde_json::json!({"target_text": "x"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("no line 99"), "{}", r.error());
    let r = send(&t.app, json("PATCH", &format!("/api/jobs/{id}/lines/0"), serde_json::json!({"speaker": "S9"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r =
        send(&t.app, json("PUT", &format!("/api/jobs/{id}/speakers/S1"), serde_json::json!({"name": "Diane"}))).await;
    assert_eq!(r.json()["speaker_names"]["S1"], "Diane");
    let r =
        send(&t.app, json("PUT", &format!("/api/jobs/{id}/voices/S1"), serde_json::json!({"voice": "jf_alpha"}))).await;
    assert_eq!(r.json()["options"]["voice_pins"]["S1"], "jf_alpha");
    let r =
        send(&t.app, json("PUT", &format!("/api/jobs/{id}/voices/S1"), serde_json::json!({"voice": "../../x"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let lines = send(&t.app, get(&format!("/api/jobs/{id}/lines"))).await.json();
    assert_eq!(lines["lines"][1]["target_text"], "Buenas noches a todos.");
    assert_eq!(lines["lines"][0]["speaker_name"], "Diane");

    // Approve: the run goes past translation with the pinned voice, and is done only with a file.
    let r = send(&t.app, Request::post(format!("/api/jobs/{id}/approve")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = wait_for(&t.app, &id, "done").await;
    assert_eq!(j["progress"], 100);
    let calls = std::fs::read_to_string(t.dir.path().join("calls.txt")).unwrap();
    let last = calls.lines().last().unwrap();
    assert!(!last.contains("--stop-after") && last.contains("--voice S1=jf_alpha"), "{last}");
    let r = send(&t.app, Request::post(format!("/api/jobs/{id}/approve")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "approving twice");

    // Files, with ranges; names outside the list are not files.
    let whole = send(&t.app, get(&format!("/api/jobs/{id}/files/dub.mp4"))).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.body, clip);
    let part = send(
        &t.app,
        Request::get(format!("/api/jobs/{id}/files/dub.mp4"))
            .header("range", "bytes=0-99")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, clip[..100].to_vec());
    assert_eq!(send(&t.app, get(&format!("/api/jobs/{id}/files/report.html"))).await.status, StatusCode::OK);
    for bad in ["..%2F..%2Fstudio.db", "studio.db", "dub.%2E%2E.srt", "..", "token"] {
        let r = send(&t.app, get(&format!("/api/jobs/{id}/files/{bad}"))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(!String::from_utf8_lossy(&r.body).contains(&t.studio.config.home.display().to_string()));
    }

    // Regenerate chosen lines: their clips are made again, the others kept; synthesis reruns.
    let r = send(&t.app, json("POST", &format!("/api/jobs/{id}/regenerate"), serde_json::json!({"lines": [7]}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let synth = t.studio.config.jobs().join("fake-job/08-synthesize");
    // The stand-in waits before each stage, so the folder can be looked at before it runs.
    std::fs::write(t.dir.path().join("sleep"), "0.5").unwrap();
    let runs_before = std::fs::read_to_string(t.dir.path().join("calls.txt")).unwrap().lines().count();
    let r = send(&t.app, json("POST", &format!("/api/jobs/{id}/regenerate"), serde_json::json!({"lines": [1]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.error());
    assert!(!synth.join("clips/1-bbbb.wav").exists(), "the chosen line's clip is made again");
    assert!(synth.join("clips/0-aaaa.wav").exists(), "the other line's clip is kept");
    assert!(!synth.join("manifest.json").exists(), "synthesis runs again");
    std::fs::remove_file(t.dir.path().join("sleep")).unwrap();
    // Once the sleep is gone the stand-in finishes within a poll, so the run is counted by its
    // call rather than caught as `running`.
    let j = loop {
        let j = wait_for(&t.app, &id, "done").await;
        let runs = std::fs::read_to_string(t.dir.path().join("calls.txt")).unwrap().lines().count();
        if runs > runs_before {
            break j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(j["progress"], 100);

    // Delete: the job and its files.
    let r = send(&t.app, Request::delete(format!("/api/jobs/{id}")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&t.app, get(&format!("/api/jobs/{id}"))).await.status, StatusCode::NOT_FOUND);
    assert!(!t.studio.config.uploads().join(&id).exists());
}

#[tokio::test]
async fn bad_uploads_are_refused_with_what_to_do() {
    let t = studio("127.0.0.1:0", 64 * 1024);
    let clip = std::fs::read(support::clip(t.dir.path())).unwrap();
    // Too large.
    let big = vec![0u8; 200 * 1024];
    let r = send(&t.app, upload(OPTIONS, "big.mp4", &big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.error().contains("limit"), "{}", r.error());
    // Not media, whatever its name says.
    let r = send(&t.app, upload(OPTIONS, "film.mp4", b"<html><body>this is a web page</body></html>")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.error().contains("not a video or audio file"), "{}", r.error());
    // Looks like an MP4 for eight bytes, but is not one.
    let mut fake = b"\0\0\0\x20ftypisom".to_vec();
    fake.extend(vec![7u8; 2000]);
    let r = send(&t.app, upload(OPTIONS, "film.mp4", &fake)).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.error());
    assert!(!r.error().contains(&t.studio.config.home.display().to_string()), "no internal paths: {}", r.error());
    // Bad options.
    let r = send(&t.app, upload(r#"{"to": "Spanish"}"#, "a.mp4", &clip)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("language code"), "{}", r.error());
    let r = send(&t.app, upload(r#"{"to": "es", "color": "red"}"#, "a.mp4", &clip)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("color"), "{}", r.error());
    // Nothing was kept of any of them.
    assert_eq!(std::fs::read_dir(t.studio.config.uploads()).unwrap().count(), 0);
    assert_eq!(send(&t.app, get("/api/jobs")).await.json()["jobs"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_jobs_and_calls_are_404() {
    let t = studio("127.0.0.1:0", 1 << 20);
    for uri in [
        "/api/jobs/jnothere",
        "/api/jobs/jnothere/lines",
        "/api/jobs/jnothere/files/dub.mp4",
        "/api/jobs/jnothere/events",
        "/api/nothing",
    ] {
        let r = send(&t.app, get(uri)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!r.error().is_empty(), "{uri} says why");
    }
    let r = send(&t.app, Request::post("/api/jobs/jnothere/cancel").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn off_loopback_every_call_needs_the_token() {
    let t = studio("0.0.0.0:0", 1 << 20);
    let token = t.studio.token.clone().expect("a token off loopback");
    let r = send(&t.app, get("/api/jobs")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.error().contains("token"), "{}", r.error());
    let r =
        send(&t.app, Request::get("/api/jobs").header("authorization", "Bearer wrong").body(Body::empty()).unwrap())
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        &t.app,
        Request::get("/api/jobs").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&t.app, get(&format!("/api/jobs?token={token}"))).await;
    assert_eq!(r.status, StatusCode::OK, "a token in the query, for video and EventSource URLs");
    let r = send(&t.app, upload(OPTIONS, "a.mp4", b"x")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "uploads too");
}

#[tokio::test]
async fn a_failed_job_says_why_without_internals_and_a_cancelled_one_stops() {
    let t = studio("127.0.0.1:0", 10 << 20);
    let clip = std::fs::read(support::clip(t.dir.path())).unwrap();
    std::fs::write(t.dir.path().join("fail"), "").unwrap();
    let id = send(&t.app, upload(r#"{"to": "es"}"#, "a.mp4", &clip)).await.json()["id"].as_str().unwrap().to_string();
    let j = wait_for(&t.app, &id, "failed").await;
    let err = j["error"].as_str().unwrap();
    assert!(err.contains("translator is not installed"), "{err}");
    assert!(!err.contains(&t.studio.config.home.display().to_string()), "no internal paths: {err}");
    std::fs::remove_file(t.dir.path().join("fail")).unwrap();

    // Retry resumes it; a slow one is cancelled while it runs.
    std::fs::write(t.dir.path().join("sleep"), "1").unwrap();
    let r = send(&t.app, Request::post(format!("/api/jobs/{id}/retry")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    wait_for(&t.app, &id, "running").await;
    let r = send(&t.app, Request::delete(format!("/api/jobs/{id}")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a running job is not deleted");
    let r = send(&t.app, Request::post(format!("/api/jobs/{id}/cancel")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let j = send(&t.app, get(&format!("/api/jobs/{id}"))).await.json();
    assert_eq!(j["status"], "cancelled");
    assert!(j["progress"].as_u64().unwrap() < 97);
    let r = send(&t.app, Request::post(format!("/api/jobs/{id}/cancel")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_event_stream_starts_with_a_snapshot() {
    let t = studio("127.0.0.1:0", 10 << 20);
    let clip = std::fs::read(support::clip(t.dir.path())).unwrap();
    let id = send(&t.app, upload(OPTIONS, "a.mp4", &clip)).await.json()["id"].as_str().unwrap().to_string();
    wait_for(&t.app, &id, "review").await;
    let res = tower::ServiceExt::oneshot(t.app.clone(), get(&format!("/api/jobs/{id}/events"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let frame = http_body_util::BodyExt::frame(&mut body).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(frame.data_ref().unwrap()).to_string();
    assert!(text.starts_with("event: snapshot"), "{text}");
    assert!(
        text.contains("Buenas noches") && text.contains("\"status\":\"review\""),
        "the lines so far and the job: {text}"
    );
}
