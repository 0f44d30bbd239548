//! Speech recognition: speech regions in, timed segments with word timestamps out. Owns the
//! Whisper backends (whisper.cpp through `whisper-rs`, the ggml model that setup converts from the
//! CTranslate2 export on PyPI, the default; and ONNX Runtime, `OnnxWhisper`, over the ONNX graphs
//! setup converts from the same export) and word error rate scoring; it does not know where audio
//! comes from or where transcripts go.

mod onnx;
mod pack;
mod shared;
pub mod stm;
mod wer;
mod whisper;

pub use onnx::{log_mel, MelFilters, OnnxStats, OnnxWhisper, OnnxWhisperSettings, ONNX_MODEL_DIR};
pub use pack::{plan, Packed};
pub use wer::{char_error_rate, normalize_words, word_error_rate, WerReport};
pub use whisper::{Whisper, WhisperSettings, MODEL};
