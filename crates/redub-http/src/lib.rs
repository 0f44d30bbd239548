//! What Redub's HTTP backends (`redub-openai`, `redub-elevenlabs`, `redub-clonehttp`) share:
//! when to try a request again ([`retry`]) and how to build a multipart/form-data body
//! ([`multipart`]). No HTTP client here: each backend keeps its own requests and error texts.

pub mod multipart;
pub mod retry;
