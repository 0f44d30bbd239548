//! A studio for tests: a temporary home, a stand-in for `redub dub --json` (a shell script that
//! prints the pipeline's events, leaves a translations file for review and copies its input to
//! its output), a small real MP4 to upload, and requests sent to the router without a socket.

#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use redub_server::{Config, Studio};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;

/// Prints what the pipeline prints, for two lines by two speakers. With a file `sleep` beside
/// it, that many seconds pass before each stage (to cancel a running job); with a file `fail`,
/// it fails after translation. Every call's arguments go to `calls.txt`.
const FAKE_DUB: &str = r#"#!/bin/bash
set -e
here="$(dirname "$0")"
echo "$*" >> "$here/calls.txt"
in="$2"; out="$4"; jobs="$6"; stop=""; prev=""
for a in "$@"; do [ "$prev" = "--stop-after" ] && stop="$a"; prev="$a"; done
jd="$jobs/fake-job"
mkdir -p "$jd/06-translate" "$jd/08-synthesize/clips" "$jd/output"
t="$jd/06-translate/translations.json"
[ -f "$t" ] || cat > "$t" <<'JSON'
[{"id":0,"speaker":"S1","start_ms":0,"end_ms":900,"source_text":"Hello.","target_text":"Hola.","flags":[]},
 {"id":1,"speaker":"S2","start_ms":1000,"end_ms":1900,"source_text":"Good night.","target_text":"Buenas noches.","flags":["over_budget"]}]
JSON
e() { echo "{\"type\":\"$1\",\"job\":\"fake-job\",\"at_ms\":1,\"data\":$2}"; }
e job_started "{\"job_dir\":\"$jd\"}"
for s in 01-ingest 02-vad 03-separate 04-transcribe 05-diarize 06-translate; do
  sleep "$(cat "$here/sleep" 2>/dev/null || echo 0)"; e stage_started "{\"stage\":\"$s\"}"; e stage_done "{\"stage\":\"$s\"}"
done
e segment '{"id":0,"speaker":"S1","text":"Hello.","target_text":"Hola."}'
e segment '{"id":1,"speaker":"S2","text":"Good night.","target_text":"Buenas noches."}'
if [ -f "$here/fail" ]; then e error "{\"message\":\"the translator is not installed in $jobs\"}"; exit 1; fi
if [ "$stop" = "06-translate" ]; then e paused '{"after":"06-translate"}'; exit 0; fi
for s in 07-voices 08-synthesize 09-render 10-mux 11-qa; do
  e stage_started "{\"stage\":\"$s\"}"; e stage_done "{\"stage\":\"$s\"}"
done
touch "$jd/08-synthesize/manifest.json" "$jd/08-synthesize/clips/0-aaaa.wav" "$jd/08-synthesize/clips/1-bbbb.wav"
echo '<html>report</html>' > "$jd/output/report.html"
cp "$in" "$out"
e done "{\"output\":\"$out\",\"lines\":2}"
"#;

pub struct TestStudio {
    pub dir: tempfile::TempDir,
    pub studio: Arc<Studio>,
    pub app: axum::Router,
}

/// A studio bound (nominally) to `bind`, with the queue running.
pub fn studio(bind: &str, max_upload_bytes: u64) -> TestStudio {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("fake-redub");
    std::fs::write(&exe, FAKE_DUB).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut config = Config::new(dir.path().join("studio"), exe, bind.parse().unwrap());
    config.max_upload_bytes = max_upload_bytes;
    // As `redub serve --nats URL` sets them: every job's `redub dub` gets them.
    config.dub_args = vec!["--nats".into(), "nats://127.0.0.1:4999".into()];
    let studio = Studio::open(config).unwrap();
    tokio::spawn(redub_server::queue::run(studio.clone()));
    let app = redub_server::api::router(studio.clone());
    TestStudio { dir, studio, app }
}

/// A 1 s MP4 with video and audio, made once per test folder.
pub fn clip(dir: &Path) -> PathBuf {
    let p = dir.join("clip.mp4");
    if !p.is_file() {
        let ok = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=blue:s=64x64:d=1", "-f", "lavfi", "-i"])
            .args(["sine=frequency=440:duration=1", "-shortest", "-c:v", "libx264", "-c:a", "aac"])
            .arg(&p)
            .status()
            .unwrap();
        assert!(ok.success(), "ffmpeg made no test clip");
    }
    p
}

/// A multipart body with `options` and `file` (named `name`).
pub fn form(options: &str, name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let b = "redubtestboundary7";
    let mut body = Vec::new();
    body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{options}\r\n").as_bytes());
    body.extend(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend(bytes);
    body.extend(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_string()
    }
}

/// Send one request to the router.
pub async fn send(app: &axum::Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, headers, body }
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn json(method: &str, uri: &str, body: serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn upload(options: &str, name: &str, bytes: &[u8]) -> Request<Body> {
    let (ct, body) = form(options, name, bytes);
    Request::post("/api/jobs").header("content-type", ct).body(Body::from(body)).unwrap()
}

/// Poll the job until `done(status)` or 20 s.
pub async fn wait_for(app: &axum::Router, id: &str, want: &str) -> serde_json::Value {
    for _ in 0..200 {
        let j = send(app, get(&format!("/api/jobs/{id}"))).await.json();
        if j["status"] == want {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let j = send(app, get(&format!("/api/jobs/{id}"))).await.json();
    panic!("job {id} never became {want}: {j}");
}
