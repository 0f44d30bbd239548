//! The studio on a real socket, with the real pipeline: `redub serve` in a temporary folder,
//! the sample clip uploaded over HTTP, its SSE stream read in order; then a job interrupted by
//! killing the server (SIGKILL) finishes after a restart without redoing its finished stages.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(home: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_redub"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--home", home.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Self { child, port };
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "the server did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
        s
    }

    /// One request; the status and the body.
    fn call(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut s = self.connect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let status: u16 = String::from_utf8_lossy(&raw[..split]).split_whitespace().nth(1).unwrap().parse().unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        let mut body = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        (status, body)
    }

    fn json(&self, method: &str, path: &str) -> serde_json::Value {
        let (status, body) = self.call(method, path, "application/json", b"");
        assert!(status < 300, "{method} {path}: {status} {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    fn upload(&self, file: &Path, options: &str) -> String {
        let b = "studiotestboundary";
        let mut body =
            format!("--{b}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{options}\r\n").into_bytes();
        body.extend(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sample.mp4\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend(std::fs::read(file).unwrap());
        body.extend(format!("\r\n--{b}--\r\n").as_bytes());
        let (status, reply) = self.call("POST", "/api/jobs", &format!("multipart/form-data; boundary={b}"), &body);
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));
        let j: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        j["id"].as_str().unwrap().to_string()
    }

    fn wait(&self, id: &str, status: &str, within: Duration) -> serde_json::Value {
        let t0 = Instant::now();
        loop {
            let j = self.json("GET", &format!("/api/jobs/{id}"));
            if j["status"] == status {
                return j;
            }
            assert!(j["status"] != "failed", "job failed: {j}");
            assert!(t0.elapsed() < within, "job {id} not {status} in time: {j}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
    out
}

/// The event names of a job's SSE stream, up to and including `done`.
fn sse_until_done(server: &Server, id: &str) -> Vec<String> {
    let mut s = server.connect();
    write!(s, "GET /api/jobs/{id}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut kinds = Vec::new();
    for line in BufReader::new(s).lines() {
        let line = line.unwrap();
        if let Some(kind) = line.strip_prefix("event: ") {
            kinds.push(kind.trim().to_string());
            if kind.trim() == "done" {
                break;
            }
        }
    }
    kinds
}

#[test]
fn the_sse_stream_shows_a_job_in_order_and_a_killed_server_resumes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("studio");
    let sample = root().join("examples/sample.mp4");
    let port = free_port();
    let server = Server::start(&home, port);

    // One job start to finish, watched from its first event.
    let id = server.upload(&sample, r#"{"to": "es"}"#);
    let kinds = sse_until_done(&server, &id);
    println!("SSE events: {}", kinds.len());
    let first = |k: &str| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    assert_eq!(kinds[0], "snapshot");
    assert!(first("stage_started") < first("segment"), "stages before lines");
    assert!(first("segment") < first("done"));
    assert_eq!(kinds.last().unwrap(), "done");
    let j = server.json("GET", &format!("/api/jobs/{id}"));
    assert_eq!((j["status"].as_str(), j["progress"].as_u64()), (Some("done"), Some(100)));
    let (status, video) = server.call("GET", &format!("/api/jobs/{id}/files/dub.mp4"), "text/plain", b"");
    assert_eq!(status, 200);
    assert!(video.len() > 10_000);

    // A second job, interrupted by killing the server once it is past diarization.
    let id = server.upload(&sample, r#"{"to": "es", "background": "duck"}"#);
    let t0 = Instant::now();
    loop {
        let j = server.json("GET", &format!("/api/jobs/{id}"));
        let stage = j["stage"].as_str().unwrap_or("");
        if stage >= "06-translate" && j["status"] == "running" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "never reached translation: {j}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    drop(server);
    let server = Server::start(&home, port);
    let j = server.wait(&id, "done", Duration::from_secs(300));
    assert_eq!(j["progress"], 100);
    let log = home.join("jobs").join(j["pipeline_job"].as_str().unwrap()).join("events.jsonl");
    let events: Vec<serde_json::Value> =
        std::fs::read_to_string(log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The pipeline's own log: the run after the restart skipped what the first had finished.
    let starts: Vec<usize> =
        events.iter().enumerate().filter(|(_, e)| e["type"] == "job_started").map(|(i, _)| i).collect();
    let last_run = &events[*starts.last().unwrap()..];
    let skipped: Vec<&str> =
        last_run.iter().filter(|e| e["type"] == "stage_skipped").filter_map(|e| e["data"]["stage"].as_str()).collect();
    println!("after the restart, skipped: {skipped:?}");
    for s in ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize"] {
        assert!(skipped.contains(&s), "{s} was redone after the restart: skipped {skipped:?}");
    }
}
