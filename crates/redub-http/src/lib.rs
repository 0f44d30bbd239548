//! What Redub's HTTP backends (`redub-openai`, `redub-elevenlabs`, `redub-clonehttp`) share:
//! when to try a request again ([`retry`]), one request and its retry loop ([`request`]), how to
//! build a multipart/form-data body ([`multipart`]) and the WAV it carries ([`wav`]), what kind of
//! failure a transport error is ([`transport`]), how to quote what a server said ([`reply`]) and
//! how to take a base URL from a user ([`url`]). No endpoints here: each backend keeps its own
//! requests, decides which replies to retry, and keeps its error texts.

pub mod multipart;
pub mod reply;
pub mod request;
pub mod retry;
pub mod transport;
pub mod url;
pub mod wav;
