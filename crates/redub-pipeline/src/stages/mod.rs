//! The stages of a dub, in job order (DESIGN §1). Each module is one stage: its name, version,
//! the inputs of its cache key and its work, as a [`Stage`]; the runner (`runner.rs`) orders
//! nothing itself and this list is the only place that knows the order.

use crate::runner::Stage;

pub mod diarize;
pub mod ingest;
pub mod mux;
pub mod qa;
pub mod render;
pub mod separate;
pub mod synthesize;
pub mod transcribe;
pub mod translate;
pub mod vad;
pub mod voices;

/// Speaker of lines when diarization found no speech at all (Whisper heard something anyway).
pub const DEFAULT_SPEAKER: &str = "S1";

/// The job: every stage, in order.
pub const STAGES: [Stage; 11] = [
    ingest::STAGE,
    vad::STAGE,
    separate::STAGE,
    transcribe::STAGE,
    diarize::STAGE,
    translate::STAGE,
    voices::STAGE,
    synthesize::STAGE,
    render::STAGE,
    mux::STAGE,
    qa::STAGE,
];
