//! Speech recognition: speech regions in, timed segments with word timestamps out. Owns the
//! Whisper backend (whisper.cpp through `whisper-rs`, the ggml model that setup converts from the
//! CTranslate2 export on PyPI) and word error rate scoring; it does not know where audio comes
//! from or where transcripts go.

mod pack;
mod wer;
mod whisper;

pub use pack::{plan, Packed};
pub use wer::{normalize_words, word_error_rate, WerReport};
pub use whisper::{Whisper, WhisperSettings, MODEL};
