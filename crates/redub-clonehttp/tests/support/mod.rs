#![allow(dead_code)]
//! The shared loopback server (`redub-testserver`), and the error body of the clone-http
//! protocol, so each test can play a cloning server, a busy one or a broken one without a network.

pub use redub_testserver::{read_wav, wav_f32, wav_i16, MockServer, Recorded, Reply};

/// clone-http's replies, as constructors on [`Reply`].
pub trait CloneHttpReplies {
    /// A protocol error: `{"error": message}`.
    fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, serde_json::json!({"error": message}))
    }
}

impl CloneHttpReplies for Reply {}
