//! Redub's shared vocabulary: time and audio units, the transcript types that travel between
//! stages, the backend traits each stage crate implements, the event envelope, and the one error
//! type. It owns no I/O and starts no processes; stage crates depend on it and on nothing else
//! of each other.

pub mod audio;
pub mod chat;
pub mod error;
pub mod event;
pub mod lang;
pub mod paths;
pub mod traits;
pub mod transcript;

pub use audio::{ms_to_samples, samples_to_ms, Audio};
pub use chat::{ChatMessage, ChatModel, ChatOptions, Role};
pub use error::{Error, Result};
pub use event::{now_ms, Event};
pub use traits::{
    ContextLine, Ctx, Diarizer, LengthPlan, SpeakerEmbedder, SpeechSeparator, Synthesizer, Transcriber, Translation,
    TranslationItem, TranslationWindow, Translator, VoiceActivityDetector, VoiceCloner,
};
pub use transcript::{add_flags, Flag, Segment, Span, Turn, Word};
