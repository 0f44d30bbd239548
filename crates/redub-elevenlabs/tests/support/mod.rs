#![allow(dead_code)]
//! The shared loopback server (`redub-testserver`), and the error body ElevenLabs sends, so each
//! test can play ElevenLabs, a rate-limiting ElevenLabs or a broken one without a network.

pub use redub_testserver::{pcm_bytes, read_wav, MockServer, Recorded, Reply};

/// ElevenLabs' replies, as constructors on [`Reply`].
pub trait ElevenLabsReplies {
    /// An ElevenLabs error: `{"detail": {"status", "message"}}`.
    fn detail(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(status, serde_json::json!({"detail": {"status": code, "message": message}}))
    }
}

impl ElevenLabsReplies for Reply {}
