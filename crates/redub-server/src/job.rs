//! A studio job: the options a client chose (every `redub dub` option the studio offers), its
//! state, and how its events move that state. The job runs as `redub dub … --json`; these are
//! the arguments it gets.

use redub_core::Event;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Stages of a dub (`redub_pipeline::STAGES`); progress is the share of them finished.
pub const STAGE_COUNT: u32 = 11;
/// Progress stops here until the output exists and probes right (DESIGN §4).
pub const MAX_PROGRESS_BEFORE_DONE: u8 = 97;
/// The stage a job with review on stops after, for a person to read the lines.
pub const REVIEW_STAGE: &str = "06-translate";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    /// Stopped for review after translation; approving queues it again.
    Review,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    /// A job in this state runs no more unless a person acts.
    pub fn settled(self) -> bool {
        matches!(self, Status::Review | Status::Done | Status::Failed | Status::Cancelled)
    }
}

/// What a client may choose for a job; each maps to a `redub dub` flag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Stop after translation for review.
    #[serde(default)]
    pub review: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitles: Option<String>,
    #[serde(default)]
    pub keep_original_audio: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speakers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_speakers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_speakers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voices: Option<String>,
    /// Speaker → voice, pinned by hand.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub voice_pins: BTreeMap<String, String>,
    /// Speaker → `formal` or `informal`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub speaker_formality: BTreeMap<String, String>,
    /// Longest reference sample per speaker, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_secs: Option<u64>,
    /// Longest diarization chunk, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_secs: Option<u64>,
    /// A glossary's text: one `source<TAB>target` per line. Kept beside the upload and given
    /// to `redub dub --glossary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glossary: Option<String>,
}

/// Longest glossary text accepted.
pub const MAX_GLOSSARY_BYTES: usize = 128 * 1024;

fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), String> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(format!("{field} '{v}' is not one of: {}", allowed.join(", ")))
        }
        _ => Ok(()),
    }
}

fn lang(field: &str, v: &str) -> Result<(), String> {
    if (2..=3).contains(&v.len()) && v.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(format!("{field} '{v}' is not a language code: give two or three lower-case letters, e.g. es"))
    }
}

/// A speaker id as the pipeline names them (`S1`), or a voice name: no spaces, no paths.
pub(crate) fn token(field: &str, v: &str) -> Result<(), String> {
    if !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        Ok(())
    } else {
        Err(format!("{field} '{v}' may only hold letters, digits, '_', '-' and '.'"))
    }
}

impl JobOptions {
    /// Refuse what `redub dub` would refuse, with the same kind of message, before a job exists.
    pub fn check(&self) -> Result<(), String> {
        lang("to", &self.to)?;
        if let Some(f) = &self.from {
            lang("from", f)?;
        }
        one_of("background", &self.background, &["separate", "duck", "drop"])?;
        one_of("subtitles", &self.subtitles, &["files", "embed"])?;
        one_of("asr", &self.asr, &["whisper-cpp", "onnx"])?;
        one_of("translator", &self.translator, &["apertium", "local", "openai"])?;
        one_of("formality", &self.formality, &["formal", "informal"])?;
        one_of("voices", &self.voices, &["stock", "elevenlabs", "clone-http"])?;
        for n in [self.speakers, self.min_speakers, self.max_speakers].into_iter().flatten() {
            if !(1..=32).contains(&n) {
                return Err(format!("speaker counts run from 1 to 32, not {n}"));
            }
        }
        if self.speakers.is_some() && (self.min_speakers.is_some() || self.max_speakers.is_some()) {
            return Err("give speakers, or min_speakers/max_speakers, not both".into());
        }
        for (s, v) in &self.voice_pins {
            token("voice_pins speaker", s)?;
            token("voice_pins voice", v)?;
        }
        for (s, f) in &self.speaker_formality {
            token("speaker_formality speaker", s)?;
            one_of("speaker_formality", &Some(f.clone()), &["formal", "informal"])?;
        }
        if self.reference_secs.is_some_and(|r| !(3..=600).contains(&r)) {
            return Err("reference_secs runs from 3 to 600".into());
        }
        if self.chunk_secs.is_some_and(|c| !(30..=3600).contains(&c)) {
            return Err("chunk_secs runs from 30 to 3600".into());
        }
        if self.glossary.as_ref().is_some_and(|g| g.len() > MAX_GLOSSARY_BYTES) {
            return Err(format!("the glossary is over {MAX_GLOSSARY_BYTES} bytes"));
        }
        Ok(())
    }

    /// The `redub dub` flags for these options (after `dub INPUT`).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["--to".to_string(), self.to.clone()];
        let mut opt = |flag: &str, v: &Option<String>| {
            if let Some(v) = v {
                a.push(flag.into());
                a.push(v.clone());
            }
        };
        opt("--from", &self.from);
        opt("--background", &self.background);
        opt("--subtitles", &self.subtitles);
        opt("--asr", &self.asr);
        opt("--translator", &self.translator);
        opt("--formality", &self.formality);
        opt("--voices", &self.voices);
        let num = |n: Option<u32>| n.map(|n| n.to_string());
        opt("--speakers", &num(self.speakers));
        opt("--min-speakers", &num(self.min_speakers));
        opt("--max-speakers", &num(self.max_speakers));
        if self.keep_original_audio {
            a.push("--keep-original-audio".into());
        }
        for (s, v) in &self.voice_pins {
            a.push("--voice".into());
            a.push(format!("{s}={v}"));
        }
        for (s, f) in &self.speaker_formality {
            a.push("--speaker-formality".into());
            a.push(format!("{s}={f}"));
        }
        if let Some(r) = self.reference_secs {
            a.extend(["--reference-secs".into(), r.to_string()]);
        }
        if let Some(c) = self.chunk_secs {
            a.extend(["--chunk-secs".into(), c.to_string()]);
        }
        a
    }
}

/// A job as the API shows it and the database keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub created_ms: u64,
    pub status: Status,
    /// 0–100; at most 97 until the output probes right.
    pub progress: u8,
    /// The stage running or last finished.
    #[serde(default)]
    pub stage: Option<String>,
    /// The uploaded file's name, for display only (never a path on disk).
    pub input_name: String,
    pub options: JobOptions,
    /// Review approved: the next run goes past translation.
    #[serde(default)]
    pub approved: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// Speaker id → the name a person gave them.
    #[serde(default)]
    pub speaker_names: BTreeMap<String, String>,
    /// Figures for the studio's pills.
    #[serde(default)]
    pub speakers_found: u32,
    /// The speaker ids heard so far, in order of their first line.
    #[serde(default)]
    pub speakers: Vec<String>,
    /// Lines found so far.
    #[serde(default)]
    pub lines: u32,
    /// The pipeline's job folder name (under the studio's jobs folder), once known: a name,
    /// never a path.
    #[serde(default)]
    pub pipeline_job: Option<String>,
}

impl JobRecord {
    /// Move the job's state with one of its run's events.
    pub fn apply(&mut self, e: &Event) {
        let stage = e.data.get("stage").and_then(|s| s.as_str());
        match e.kind.as_str() {
            "job_started" => {
                self.pipeline_job = e
                    .data
                    .get("job_dir")
                    .and_then(|d| d.as_str())
                    .and_then(|d| std::path::Path::new(d).file_name().map(|n| n.to_string_lossy().into_owned()))
            }
            "stage_started" | "stage_skipped" | "stage_done" | "stage_progress" => {
                let Some(stage) = stage else { return };
                self.stage = Some(stage.to_string());
                let n = stage_number(stage).unwrap_or(1).clamp(1, STAGE_COUNT);
                let within = match e.kind.as_str() {
                    "stage_done" | "stage_skipped" => 1.0,
                    "stage_progress" => {
                        let done = e.data["done"].as_f64().unwrap_or(0.0);
                        let total = e.data["total"].as_f64().unwrap_or(0.0);
                        if total > 0.0 {
                            (done / total).clamp(0.0, 1.0)
                        } else {
                            0.0
                        }
                    }
                    _ => 0.0,
                };
                let p = ((f64::from(n - 1) + within) / f64::from(STAGE_COUNT) * f64::from(MAX_PROGRESS_BEFORE_DONE))
                    .floor() as u8;
                self.progress = self.progress.max(p).min(MAX_PROGRESS_BEFORE_DONE);
            }
            // Each line is sent twice (after diarization, after translation), and ids run from 0.
            "segment" => {
                if let Some(id) = e.data.get("id").and_then(|v| v.as_u64()) {
                    self.lines = self.lines.max(u32::try_from(id + 1).unwrap_or(u32::MAX));
                }
                if let Some(sp) = e.data.get("speaker").and_then(|v| v.as_str()) {
                    if !self.speakers.iter().any(|s| s == sp) {
                        self.speakers.push(sp.to_string());
                        self.speakers_found = self.speakers.len() as u32;
                    }
                }
            }
            _ => {}
        }
    }
}

/// `06-translate` → 6.
pub fn stage_number(stage: &str) -> Option<u32> {
    stage.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_flags_and_bad_ones_are_named() {
        let o = JobOptions {
            to: "es".into(),
            background: Some("duck".into()),
            speakers: Some(2),
            voice_pins: [("S1".to_string(), "jf_alpha".to_string())].into(),
            ..Default::default()
        };
        assert_eq!(o.args().join(" "), "--to es --background duck --speakers 2 --voice S1=jf_alpha");
        assert!(o.check().is_ok());
        let bad = JobOptions { to: "Spanish".into(), ..Default::default() };
        assert!(bad.check().unwrap_err().contains("Spanish"));
        let bad = JobOptions { background: Some("loud".into()), ..o.clone() };
        assert!(bad.check().unwrap_err().contains("separate, duck, drop"));
        let bad = JobOptions { voice_pins: [("S1".into(), "../x".into())].into(), ..o.clone() };
        assert!(bad.check().is_err());
        let more = JobOptions {
            speaker_formality: [("S2".to_string(), "formal".to_string())].into(),
            reference_secs: Some(30),
            chunk_secs: Some(120),
            ..o.clone()
        };
        assert!(more.args().join(" ").ends_with("--speaker-formality S2=formal --reference-secs 30 --chunk-secs 120"));
        assert!(JobOptions { chunk_secs: Some(5), ..o }.check().unwrap_err().contains("chunk_secs"));
    }

    #[test]
    fn progress_follows_stages_and_stops_at_97() {
        let mut j = JobRecord {
            id: "j1".into(),
            created_ms: 0,
            status: Status::Running,
            progress: 0,
            stage: None,
            input_name: "a.mp4".into(),
            options: JobOptions { to: "es".into(), ..Default::default() },
            approved: false,
            error: None,
            speaker_names: BTreeMap::new(),
            speakers_found: 0,
            speakers: Vec::new(),
            lines: 0,
            pipeline_job: None,
        };
        let ev = |kind: &str, data: serde_json::Value| Event::new(kind, "x", data);
        j.apply(&ev("stage_done", serde_json::json!({"stage": "01-ingest"})));
        assert_eq!(j.progress, 8); // 1/11 of 97
        j.apply(&ev("stage_progress", serde_json::json!({"stage": "04-transcribe", "done": 1, "total": 2})));
        assert_eq!(j.progress, 30); // 3.5/11 of 97
        j.apply(&ev("stage_done", serde_json::json!({"stage": "11-qa"})));
        assert_eq!(j.progress, MAX_PROGRESS_BEFORE_DONE, "never 100 from stage events alone");
        j.apply(&ev("job_started", serde_json::json!({"job_dir": "/h/jobs/sample-es-1"})));
        assert_eq!(j.pipeline_job.as_deref(), Some("sample-es-1"));
        // Two lines by two speakers, each sent twice: 2 lines, 2 speakers.
        for target in [None, Some("hola")] {
            for (id, sp) in [(0, "S1"), (1, "S2")] {
                j.apply(&ev("segment", serde_json::json!({"id": id, "speaker": sp, "target_text": target})));
            }
        }
        assert_eq!((j.lines, j.speakers_found), (2, 2));
    }
}
