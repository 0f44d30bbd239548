#![allow(clippy::unwrap_used, dead_code)]
//! A small HTTP/1.1 server on 127.0.0.1 for the client tests: it records every request (bodies
//! as bytes, multipart forms split into parts) and answers through a handler the test gives, so
//! each test can play ElevenLabs, a rate-limiting ElevenLabs or a broken one without a network.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request, then say nothing (holds the socket for 30 s).
    Hang,
    /// Read the request, then close the connection without answering.
    Close,
}

impl Reply {
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Reply::Http { status, headers: vec![("Content-Type".into(), content_type.into())], body }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self::bytes(status, "application/json", body.to_string().into_bytes())
    }

    /// An ElevenLabs error: `{"detail": {"status", "message"}}`.
    pub fn detail(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, serde_json::json!({"detail": {"status": code, "message": message}}))
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Http { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// One part of a multipart/form-data body.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl Part {
    pub fn text(&self) -> String {
        String::from_utf8(self.data.clone()).unwrap()
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// With the query string.
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap()
    }

    /// The value of one query parameter.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.path.split_once('?')?.1;
        query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    /// The parts of a multipart/form-data body.
    pub fn parts(&self) -> Vec<Part> {
        let content_type = self.header("content-type").expect("no content-type");
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .expect("no boundary")
            .trim_matches('"');
        parse_multipart(&self.body, boundary)
    }

    pub fn part(&self, name: &str) -> Option<Part> {
        self.parts().into_iter().find(|p| p.name == name)
    }
}

/// Splits a multipart body at `--boundary` lines and reads each part's headers.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if body[i..].starts_with(&delimiter) && (i == 0 || body[..i].ends_with(b"\r\n")) {
            starts.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    assert!(starts.len() >= 2, "no multipart delimiters");
    let last = *starts.last().unwrap();
    assert!(body[last + delimiter.len()..].starts_with(b"--"), "the body does not end with the close delimiter");
    let mut parts = Vec::new();
    for pair in starts.windows(2) {
        let section = &body[pair[0] + delimiter.len()..pair[1] - 2]; // the CRLF before the next delimiter
        let section = section.strip_prefix(b"\r\n").expect("delimiter not followed by CRLF");
        let split = section.windows(4).position(|w| w == b"\r\n\r\n").expect("part without a blank line");
        let head = std::str::from_utf8(&section[..split]).unwrap();
        let data = section[split + 4..].to_vec();
        let mut part = Part { name: String::new(), filename: None, content_type: None, data };
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(':').unwrap();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').map(str::trim) {
                        if let Some(v) = param.strip_prefix("name=") {
                            part.name = v.trim_matches('"').to_string();
                        } else if let Some(v) = param.strip_prefix("filename=") {
                            part.filename = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
    }
    parts
}

/// A decoded WAV file.
#[derive(Debug)]
pub struct Wav {
    pub channels: u16,
    pub rate: u32,
    pub bits: u16,
    pub samples: Vec<i32>,
}

pub fn read_wav(bytes: &[u8]) -> Wav {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    let samples = reader.samples::<i32>().map(|s| s.unwrap()).collect();
    Wav { channels: spec.channels, rate: spec.sample_rate, bits: spec.bits_per_sample, samples }
}

/// `samples` as 16-bit little-endian PCM bytes.
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

type Handler = dyn Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync;

pub struct MockServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockServer {
    /// Answers each request with `handler(request, earlier requests)`.
    pub fn start(handler: impl Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (handler, recorded) = (Arc::clone(&handler), Arc::clone(&recorded));
                thread::spawn(move || serve(stream, &*handler, &recorded));
            }
        });
        Self { addr, requests }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests with this method whose path starts with `prefix`.
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == method && r.path.starts_with(prefix)).collect()
    }
}

/// One connection: one request, one reply, then close (`Connection: close`).
fn serve(stream: TcpStream, handler: &Handler, recorded: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Recorded { method, path, headers, body, at: Instant::now() };
    let reply = {
        let mut all = recorded.lock().unwrap();
        let reply = handler(&request, &all);
        all.push(request);
        reply
    };
    let mut stream = stream;
    match reply {
        Reply::Http { status, headers, body } => {
            let mut head =
                format!("HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
        Reply::Hang => thread::sleep(Duration::from_secs(30)),
        Reply::Close => {}
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
