//! What a user asks for (`DubRequest`) and what they get back (`DubSummary`).

use crate::config::{TranslatorConfig, VoiceConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DubRequest {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Source language; detected when `None`.
    pub from: Option<String>,
    pub to: String,
    /// Keep the original audio as a second track.
    pub keep_original_audio: bool,
    /// Folder that holds job folders.
    pub jobs_dir: PathBuf,
    /// Speaker counts, chunking and thresholds for diarization.
    #[serde(default)]
    pub diarize: redub_diarize::DiarizeSettings,
    /// Which translator, and how it is reached.
    #[serde(default)]
    pub translator: TranslatorConfig,
    /// Glossary file (`source<TAB>target` lines; see `redub_translate::glossary`).
    #[serde(default)]
    pub glossary: Option<PathBuf>,
    /// Formality, by default and per speaker.
    #[serde(default)]
    pub register: redub_translate::Register,
    /// Who gives the speakers their voices: stock voices adapted offline, or a cloning service.
    #[serde(default)]
    pub voices: VoiceConfig,
    /// Speaker → voice, chosen by hand (`--voice S1=jf_alpha`); the others are matched.
    #[serde(default)]
    pub voice_pins: std::collections::BTreeMap<String, String>,
    /// Longest reference sample per speaker.
    #[serde(default = "default_reference_ms")]
    pub reference_max_ms: u64,
    /// Stop after this stage (e.g. `06-translate`, to review the lines before they are spoken);
    /// the same request without it resumes from there. Not part of any stage's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after: Option<String>,
    /// What the dubbed voices are mixed over (`--background`).
    #[serde(default)]
    pub background: Background,
    /// Subtitle files beside the output only, or also embedded in it (`--subtitles`).
    #[serde(default)]
    pub subtitles: SubtitleMode,
}

impl DubRequest {
    /// A request with every setting at its default: detected source language, stock voices,
    /// Apertium, no glossary.
    pub fn new(input: PathBuf, output: PathBuf, to: &str, jobs_dir: PathBuf) -> Self {
        Self {
            input,
            output,
            from: None,
            to: to.to_string(),
            keep_original_audio: false,
            jobs_dir,
            diarize: Default::default(),
            translator: Default::default(),
            glossary: None,
            register: Default::default(),
            voices: Default::default(),
            voice_pins: Default::default(),
            reference_max_ms: DEFAULT_REFERENCE_MS,
            stop_after: None,
            background: Background::default(),
            subtitles: SubtitleMode::default(),
        }
    }
}

/// What is under the dubbed voices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    /// The original voices taken out of the mix (03-separate), the rest kept at its level.
    #[default]
    Separate,
    /// The original mix turned down 18 dB wherever anyone speaks (no separation).
    Duck,
    /// Nothing: the dubbed voices alone.
    Drop,
}

impl Background {
    pub fn name(self) -> &'static str {
        match self {
            Self::Separate => "separate",
            Self::Duck => "duck",
            Self::Drop => "drop",
        }
    }
}

impl std::str::FromStr for Background {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "separate" => Ok(Self::Separate),
            "duck" => Ok(Self::Duck),
            "drop" => Ok(Self::Drop),
            other => Err(format!("unknown background '{other}': use separate, duck or drop")),
        }
    }
}

/// Where the subtitles go. SRT and WebVTT files (source, target, bilingual) are always written
/// beside the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubtitleMode {
    /// Only the files beside the output.
    #[default]
    Files,
    /// Also the target and source subtitles as subtitle streams of the output (`mov_text` in
    /// MP4, SubRip in Matroska), the target first and default.
    Embed,
}

impl SubtitleMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Files => "files",
            Self::Embed => "embed",
        }
    }
}

impl std::str::FromStr for SubtitleMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "files" => Ok(Self::Files),
            "embed" => Ok(Self::Embed),
            other => Err(format!("unknown subtitle mode '{other}': use files or embed")),
        }
    }
}

/// Enough for a stable pitch and timbre profile, and within what cloning services take.
pub const DEFAULT_REFERENCE_MS: u64 = 60_000;

fn default_reference_ms() -> u64 {
    DEFAULT_REFERENCE_MS
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DubSummary {
    pub job_dir: PathBuf,
    pub output: PathBuf,
    pub subtitles: Vec<PathBuf>,
    pub from: String,
    pub to: String,
    pub lines: usize,
    pub skipped_stages: Vec<String>,
    /// Lines with review flags (translation checks and the render's `does_not_fit`).
    pub review: Vec<ReviewLine>,
    /// Set when the job stopped after this stage as asked (`stop_after`); no output yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_after: Option<String>,
    /// What each stage cost in this call (skipped stages: the run that made them).
    #[serde(default)]
    pub stages: Vec<crate::runner::StageRun>,
}

/// A line a person should look at, and why.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReviewLine {
    pub id: u32,
    pub speaker: String,
    pub start_ms: u64,
    pub source_text: String,
    pub target_text: String,
    pub flags: Vec<redub_core::Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Stable id for the same input and languages, so rerunning the same command resumes.
pub fn job_id(input: &Path, from: Option<&str>, to: &str) -> String {
    let abs = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf());
    let mut h = Sha256::new();
    h.update(abs.to_string_lossy().as_bytes());
    h.update(from.unwrap_or("auto").as_bytes());
    h.update(to.as_bytes());
    let stem: String = input
        .file_stem()
        .map(|s| s.to_string_lossy().chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' }).collect())
        .unwrap_or_else(|| "job".into());
    format!("{stem}-{to}-{}", &hex::encode(h.finalize())[..8])
}
