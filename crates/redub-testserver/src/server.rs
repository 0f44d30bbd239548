//! The server: one thread per connection, one request per connection.

use crate::multipart::{parse_multipart, Part};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
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

    /// `body` as is, labelled JSON whether it is or not (for broken and odd bodies).
    pub fn json_text(status: u16, body: &str) -> Self {
        Self::bytes(status, "application/json", body.as_bytes().to_vec())
    }

    /// A WAV body.
    pub fn wav(bytes: Vec<u8>) -> Self {
        Self::bytes(200, "audio/wav", bytes)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Http { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
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

type Handler = dyn Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync;

/// The server. It lives as long as the test process: nothing joins its threads.
pub struct MockServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockServer {
    /// Answers each request with `handler(request, earlier requests)`. Requests are handled one
    /// at a time (the handler runs under the lock of the record), so a handler that counts the
    /// earlier requests sees every one of them.
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

    /// Serves `script` in order, one reply per request; after the end the last reply repeats.
    pub fn scripted(script: Vec<Reply>) -> Self {
        assert!(!script.is_empty());
        Self::start(move |_, earlier| script[earlier.len().min(script.len() - 1)].clone())
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL followed by `path` (e.g. `/v1`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests with this method whose path starts with `prefix`.
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == method && r.path.starts_with(prefix)).collect()
    }
}

/// One connection: one request, one reply, then close (`Connection: close`), so the client never
/// reuses a socket the script has moved past.
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
