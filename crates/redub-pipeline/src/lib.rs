//! The dubbing pipeline: stage order, the job folder, cache keys and resume. Only this crate
//! knows which stage follows which; the stage crates know only `redub-core` (and dsp/media).
//! See `docs/ARCHITECTURE.md` for the data flow.

pub mod backends;
pub mod config;
pub mod diarize;
pub mod dub;
pub mod eval;
pub mod events;
pub mod farm;
pub mod job;
pub mod mixdown;
pub mod qa;
pub mod render;
pub mod request;
pub mod runner;
pub mod speak;
pub mod stages;
pub mod translate;
pub mod usage;
pub mod voices;
pub mod workshop;

pub use backends::{Asr, Backends, OfflineBackends};
pub use config::{TranslatorConfig, VoiceConfig};
pub use diarize::diarize_file;
pub use dub::{dub, dub_on, job_id, DubRequest, DubSummary, ReviewLine};
pub use eval::{eval, EvalRefs};
pub use events::EventSink;
pub use farm::{Farm, Task, TaskFile, TaskOutput};
pub use job::{Job, Manifest};
pub use request::{Background, SubtitleMode};
pub use runner::{Outcome, StageRun};
pub use stages::STAGES;
