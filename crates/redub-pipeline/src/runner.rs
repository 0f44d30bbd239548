//! The stage runner: a job is an ordered list of [`Stage`]s, and one loop runs them. Each stage
//! names itself, its version, the inputs of its cache key and its work; the runner computes the
//! key (with every earlier stage's key in it), skips a stage whose finished result has the same
//! key, runs the others in a temporary folder (`Job::stage`), measures them, and can stop after
//! a named stage, which a later call resumes from (the studio's review pause).

use crate::backends::Backends;
use crate::job::{read_json, Job, StageResult};
use crate::request::DubRequest;
use crate::translate::TranslatedLine;
use crate::usage::Usage;
use redub_core::{Audio, Error, Result, Segment};
use serde::{Deserialize, Serialize};
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One stage of the job.
#[derive(Clone, Copy)]
pub struct Stage {
    /// Folder name and id, numbered in job order (`04-transcribe`).
    pub name: &'static str,
    /// Bumped when the stage's output changes for the same inputs, so old results are redone.
    pub version: u32,
    /// What the result depends on: settings, backend identities and the keys of the stages it
    /// reads ([`JobCx::key`]).
    pub inputs: fn(&JobCx) -> Result<serde_json::Value>,
    /// The work: write the stage's files into the folder given.
    pub run: fn(&JobCx, &Path) -> Result<()>,
    /// Run after the stage, whether it ran or was skipped: events every listener needs on every
    /// run (the lines, the voices) and checks on what the stage found.
    pub after: Option<fn(&JobCx) -> Result<()>>,
    /// A finished result that no longer holds (the mux's output file was deleted) is redone.
    pub still_valid: Option<fn(&JobCx) -> bool>,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage").field("name", &self.name).field("version", &self.version).finish_non_exhaustive()
    }
}

/// What one stage did in this call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    pub stage: String,
    pub skipped: bool,
    #[serde(flatten)]
    pub usage: Usage,
}

/// How a call of the runner ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every stage finished.
    Finished,
    /// Stopped after this stage, as asked; call again (without the stop) to go on.
    Paused { after: String },
}

/// Everything a stage may look at: the request, the backends, the job folder, the keys of the
/// stages before it, and the analysis audio (read once, only if a stage that needs it runs).
pub struct JobCx<'a> {
    pub req: &'a DubRequest,
    pub backends: &'a dyn Backends,
    pub job: &'a Job,
    pub probe: redub_media::Probe,
    pub glossary: redub_translate::Glossary,
    /// Where units may run besides this process (`--nats`); `None`: all here.
    pub farm: Option<&'a dyn crate::farm::Farm>,
    keys: RefCell<BTreeMap<&'static str, String>>,
    speech: OnceCell<Audio>,
}

impl std::fmt::Debug for JobCx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobCx").field("job", &self.job.dir).finish_non_exhaustive()
    }
}

impl<'a> JobCx<'a> {
    pub fn new(
        req: &'a DubRequest,
        backends: &'a dyn Backends,
        job: &'a Job,
        probe: redub_media::Probe,
        glossary: redub_translate::Glossary,
    ) -> Self {
        Self { req, backends, job, probe, glossary, farm: None, keys: Default::default(), speech: OnceCell::new() }
    }

    pub fn events(&self) -> &crate::events::EventSink {
        &self.job.events
    }

    /// The folder of `stage` (finished or not).
    pub fn dir(&self, stage: &str) -> PathBuf {
        self.job.stage_dir(stage)
    }

    /// The key of an earlier stage of this call; an error names a stage listed out of order.
    pub fn key(&self, stage: &str) -> Result<String> {
        self.keys.borrow().get(stage).cloned().ok_or_else(|| {
            Error::backend("pipeline", format!("stage {stage} has not run before the stage that reads it"))
        })
    }

    /// A JSON file of an earlier stage.
    pub fn read<T: for<'de> Deserialize<'de>>(&self, stage: &str, file: &str) -> Result<T> {
        read_json(&self.dir(stage).join(file))
    }

    /// The 16 kHz mono analysis audio of the ingest stage, read on first use.
    pub fn speech(&self) -> Result<&Audio> {
        if let Some(a) = self.speech.get() {
            return Ok(a);
        }
        let a = redub_media::read_wav_mono(&self.dir("01-ingest").join("speech16k.wav"))?;
        Ok(self.speech.get_or_init(|| a))
    }

    /// The source language: given, or what transcription detected.
    pub fn from_lang(&self) -> Result<String> {
        if let Some(f) = &self.req.from {
            return Ok(f.clone());
        }
        let transcript: Vec<Segment> = self.read("04-transcribe", "segments.json")?;
        Ok(transcript.first().map(|s| s.lang.clone()).unwrap_or_else(|| "en".into()))
    }

    /// The dub lines with their speakers (after diarization).
    pub fn segments(&self) -> Result<Vec<Segment>> {
        self.read("05-diarize", "segments.json")
    }

    /// The translated lines (as a person may have edited them during review).
    pub fn lines(&self) -> Result<Vec<TranslatedLine>> {
        self.read("06-translate", "translations.json")
    }
}

/// The stage names of `stages`, for messages.
pub fn names(stages: &[Stage]) -> Vec<&'static str> {
    stages.iter().map(|s| s.name).collect()
}

/// Refuse a `--stop-after` that names no stage, before any work.
pub fn check_stop(stages: &[Stage], stop_after: Option<&str>) -> Result<()> {
    match stop_after {
        Some(s) if !stages.iter().any(|st| st.name == s) => Err(Error::Usage(format!(
            "--stop-after {s}: there is no such stage; the stages are {}",
            names(stages).join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Run `stages` in order, skipping finished ones, stopping after `stop_after` if given.
pub fn run(stages: &[Stage], cx: &JobCx, stop_after: Option<&str>) -> Result<(Outcome, Vec<StageRun>)> {
    check_stop(stages, stop_after)?;
    let mut runs = Vec::new();
    for st in stages {
        let inputs = (st.inputs)(cx)?;
        if let Some(valid) = st.still_valid {
            if !valid(cx) {
                let _ = std::fs::remove_file(cx.dir(st.name).join("manifest.json"));
            }
        }
        let r: StageResult = cx.job.stage(st.name, st.version, inputs, |dir| (st.run)(cx, dir))?;
        cx.keys.borrow_mut().insert(st.name, r.key.clone());
        runs.push(StageRun { stage: st.name.to_string(), skipped: r.skipped, usage: r.usage });
        if let Some(after) = st.after {
            after(cx)?;
        }
        if stop_after == Some(st.name) {
            cx.job.events.emit("paused", serde_json::json!({ "after": st.name }));
            return Ok((Outcome::Paused { after: st.name.to_string() }, runs));
        }
    }
    Ok((Outcome::Finished, runs))
}
