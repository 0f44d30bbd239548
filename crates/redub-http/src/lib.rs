//! What Redub's HTTP backends (`redub-openai`, `redub-elevenlabs`, `redub-clonehttp`) share:
//! when to try a request again ([`retry`]), how to build a multipart/form-data body
//! ([`multipart`]), what kind of failure a transport error is ([`transport`]), how to quote
//! what a server said ([`reply`]) and how to take a base URL from a user ([`url`]). No requests here: each backend keeps its own requests and
//! error texts.

pub mod multipart;
pub mod reply;
pub mod retry;
pub mod transport;
pub mod url;
