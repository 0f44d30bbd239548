//! Test support for the HTTP backends and the jobs that use them: a small HTTP/1.1 server on
//! 127.0.0.1 that records every request (bodies as bytes, multipart forms split into parts) and
//! answers from a script or through a handler the test gives, so each test can play a service,
//! a rate-limiting one, a hanging one or a broken one without a server crate or a network.
//! Also the WAV helpers those tests need to make and read audio bodies, and music-like beds
//! (`beds`) for tests whose audio should sound like real content, and a real `nats-server -js`
//! on loopback (`NatsServer`) for the scale-out tests.
//!
//! Only ever a dev-dependency: it panics on anything unexpected, which is what a test wants.

#![allow(clippy::unwrap_used)]

pub mod beds;
mod multipart;
mod nats;
mod server;
mod wav;

pub use multipart::{parse_multipart, Part};
pub use nats::{free_port, nats_url, NatsServer};
pub use server::{MockServer, Recorded, Reply};
pub use wav::{pcm_bytes, read_wav, wav_f32, wav_i16, Wav};
