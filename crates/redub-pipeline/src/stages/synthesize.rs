//! 08-synthesize: every line spoken in its speaker's voice and fitted to its slot. The unit is
//! one speaker ([`synthesize_speaker`]: their clone, if any, lives only while their lines are
//! spoken); inside it each line is kept the moment it is spoken (`units/08-synthesize/`), so a
//! job killed in the middle resumes at the next line, and a paid service is never asked twice.
//! Clips are named by what they depend on (text, voice, language, slot), so after a hand edit
//! of `translations.json` only the edited lines are spoken again.

use crate::farm::{file_sha256, task_key, Farm, Task, TaskFile, SYNTHESIZE_SPEAKER};
use crate::job::{write_json, Units};
use crate::runner::{JobCx, Stage};
use crate::speak::{voice_fingerprint, voice_key, Engine, Speaker};
use crate::translate::TranslatedLine;
use crate::voices::{SpeakerVoice, VoiceMap};
use crate::workshop::SynthesizeInput;
use redub_core::{Error, Result};
use redub_tts::SpeechRate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Bumped when the fitting changes, so old clips are made again rather than reused.
const VERSION: u32 = 4;

pub const STAGE: Stage = Stage { name: "08-synthesize", version: VERSION, inputs, run, after: None, still_valid: None };

/// One spoken line, as `clips.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipEntry {
    pub id: u32,
    pub file: String,
    pub voice: String,
    pub engine_speed: f32,
    pub natural_ms: u64,
    /// Synthesis calls it took (0: reused from an earlier run).
    #[serde(default)]
    pub takes: u32,
    /// The line's length at natural speed as the fitting saw it (measured or inferred), which
    /// the speaker's later lines are predicted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace_ms: Option<u64>,
}

/// One line to speak: its text, its slot and the clip file it becomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineTask {
    pub id: u32,
    pub text: String,
    pub slot_ms: u64,
    pub file: String,
    /// Its expected length at natural speed (06-translate's speaking rate), which lets a line
    /// that will not fit skip its natural take.
    #[serde(default)]
    pub estimate_ms: Option<u64>,
    /// Made already (the coordinator of a farm has its clip): not spoken, only its natural
    /// length (`ClipEntry::pace_ms`) noted for the speaker's later lines, and left out of the
    /// result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Kept>,
}

/// A line of a task whose clip exists: what it took at natural speed, if known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub pace_ms: Option<u64>,
}

/// The synthesis unit: one speaker's lines in their voice. Serializable, so another process
/// with the voices stage's folder can run it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeakerTask {
    pub speaker: String,
    pub voice: SpeakerVoice,
    pub lang: String,
    /// Names the clone at the service, so a person can tell whose it is.
    pub job: String,
    pub lines: Vec<LineTask>,
}

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    // The lines themselves are in the key, not only the translate stage's key: a hand edit of
    // translations.json reruns this stage, and unchanged lines reuse their clips.
    Ok(json!({
        "up": [cx.key("06-translate")?, cx.key("07-voices")?],
        "to": cx.req.to,
        "backend": cx.backends.identity("synthesize"),
        "lines": lines_digest(&cx.lines()?),
    }))
}

/// Speakers in the order of their first lines.
pub fn speakers_in_order(lines: &[TranslatedLine]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for l in lines {
        if !order.contains(&l.speaker) {
            order.push(l.speaker.clone());
        }
    }
    order
}

/// A digest of what synthesis depends on in each line.
fn lines_digest(lines: &[TranslatedLine]) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(format!("{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{1}", l.id, l.speaker, l.start_ms, l.end_ms, l.target_text));
    }
    hex::encode(&h.finalize()[..12])
}

/// The clip file of a line: named by everything the clip depends on.
fn clip_file(l: &TranslatedLine, voice: &SpeakerVoice, lang: &str) -> String {
    let mut h = Sha256::new();
    h.update(
        format!(
            "{}\u{0}{}\u{0}{lang}\u{0}{}\u{0}{VERSION}",
            l.target_text,
            voice_fingerprint(&l.speaker, voice),
            l.end_ms - l.start_ms
        )
        .as_bytes(),
    );
    format!("{}-{}.wav", l.id, &hex::encode(h.finalize())[..10])
}

/// The per-speaker tasks of `lines`, in the order of the speakers' first lines; `rate` (the
/// translate stage's measured speaking rate) gives each line its expected length.
pub fn speaker_tasks(
    lines: &[TranslatedLine],
    map: &VoiceMap,
    lang: &str,
    job: &str,
    rate: Option<&SpeechRate>,
) -> Result<Vec<SpeakerTask>> {
    let mut tasks = Vec::new();
    for sp in speakers_in_order(lines) {
        let voice = map.get(&sp).ok_or_else(|| {
            Error::backend("synthesize", format!("speaker {sp} has no voice in 07-voices/voices.json"))
        })?;
        let lines = lines
            .iter()
            .filter(|l| l.speaker == sp && !l.target_text.trim().is_empty())
            .map(|l| LineTask {
                id: l.id,
                text: l.target_text.clone(),
                slot_ms: l.end_ms - l.start_ms,
                file: clip_file(l, voice, lang),
                estimate_ms: rate.map(|r| r.estimate_ms(&l.target_text)),
                kept: None,
            })
            .collect();
        tasks.push(SpeakerTask {
            speaker: sp,
            voice: voice.clone(),
            lang: lang.to_string(),
            job: job.to_string(),
            lines,
        });
    }
    Ok(tasks)
}

/// Where a run of the stage finds clips made before: its units (this run or a killed one) and
/// the stage's previous finished folder.
pub struct Earlier<'a> {
    pub units: &'a Units,
    pub previous: Vec<ClipEntry>,
    pub previous_dir: &'a Path,
}

impl Earlier<'_> {
    /// A clip already made for `line`, now in the unit store.
    fn find(&self, line: &LineTask) -> Option<ClipEntry> {
        if let Some(e) = self.units.get::<ClipEntry>(&line.file) {
            if self.units.path(&line.file).is_file() {
                return Some(ClipEntry { takes: 0, ..e });
            }
        }
        let prev = self.previous.iter().find(|e| e.file == line.file)?;
        self.units.ensure().ok()?;
        link_or_copy(&self.previous_dir.join("clips").join(&line.file), &self.units.path(&line.file)).ok()?;
        Some(ClipEntry { id: line.id, takes: 0, ..prev.clone() })
    }
}

/// Speak one speaker's lines into `earlier.units` (each clip kept as soon as it is made, and
/// never made again while kept). A clone made for the speaker is deleted before returning,
/// also on failure; a delete the service refuses is passed to `warn` (the client deletes what
/// it made again when it is dropped).
pub fn synthesize_speaker(
    task: &SpeakerTask,
    engine: &mut Engine,
    voices_dir: &Path,
    earlier: &Earlier,
    progress: &(dyn Fn(u32) + Sync),
    warn: &(dyn Fn(String) + Sync),
) -> Result<Vec<ClipEntry>> {
    let mut speaker = Speaker::new(&task.speaker, &task.voice, voices_dir, &task.lang, &task.job);
    let result = (|| -> Result<Vec<ClipEntry>> {
        let key = voice_key(&task.speaker, &task.voice);
        let mut entries = Vec::new();
        for line in &task.lines {
            if let Some(kept) = &line.kept {
                if let Some(n) = kept.pace_ms {
                    speaker.note_pace(n, line.estimate_ms);
                }
                continue;
            }
            if let Some(e) = earlier.find(line) {
                if let Some(n) = e.pace_ms {
                    speaker.note_pace(n, line.estimate_ms);
                }
                entries.push(ClipEntry { voice: key.clone(), ..e });
                progress(line.id);
                continue;
            }
            let fitted = speaker.speak(engine, &line.text, line.slot_ms, line.estimate_ms)?;
            earlier.units.ensure()?;
            redub_media::write_wav(&earlier.units.path(&line.file), &fitted.audio)?;
            let entry = ClipEntry {
                id: line.id,
                file: line.file.clone(),
                voice: key.clone(),
                engine_speed: fitted.speed,
                natural_ms: fitted.audio.duration_ms(),
                takes: fitted.takes,
                pace_ms: Some(fitted.natural_ms),
            };
            // Last, after the clip: its presence says the unit is whole.
            earlier.units.put(&line.file, &entry)?;
            entries.push(entry);
            progress(line.id);
        }
        Ok(entries)
    })();
    if let Err(e) = speaker.close(engine) {
        warn(format!("deleting {}'s cloned voice: {e}", task.speaker));
    }
    result
}

fn engine(cx: &JobCx) -> Result<Engine> {
    Ok(match cx.backends.voice_service(&cx.req.voices)? {
        Some(service) => Engine::Service { name: cx.req.voices.name().to_string(), service },
        None => Engine::Stock(cx.backends.synthesizer(&cx.req.to)?),
    })
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let lines = cx.lines()?;
    let map: VoiceMap = cx.read("07-voices", "voices.json")?;
    let rate = cx
        .read::<serde_json::Value>("06-translate", "rate.json")
        .ok()
        .and_then(|v| serde_json::from_value::<SpeechRate>(v["speech"].clone()).ok());
    let tasks = speaker_tasks(&lines, &map, &cx.req.to, &cx.job.id, rate.as_ref())?;
    let units = cx.job.units(STAGE.name);
    let previous_dir = cx.dir(STAGE.name);
    let earlier = Earlier {
        units: &units,
        // What the previous finished run made (empty on a first run).
        previous: cx.read(STAGE.name, "clips.json").unwrap_or_default(),
        previous_dir: &previous_dir,
    };
    let total = tasks.iter().map(|t| t.lines.len()).sum::<usize>() as u64;
    let progress = cx.events().progress_fn(STAGE.name);
    let done = AtomicU64::new(0);
    let tick = |_id: u32| progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
    progress(0, total);
    let events = cx.events().clone();
    let warn = move |message: String| events.emit("warning", json!({ "stage": STAGE.name, "message": message }));
    let voices_dir = cx.dir("07-voices");
    let stock = matches!(cx.req.voices, crate::config::VoiceConfig::Stock);
    let mut entries = match cx.farm {
        // A cloning service's key and its one clone at a time stay on this machine.
        Some(farm) if stock => speak_on_farm(cx, farm, &tasks, &voices_dir, &earlier, &tick)?,
        _ => {
            // Stock voices are spoken side by side when the machine has the cores; a cloning
            // service one speaker after another (one clone at a time on the account).
            let parallel = if stock { cx.backends.parallel_synthesizers(&cx.req.to)? } else { Vec::new() };
            if parallel.len() >= 2 {
                speak_side_by_side(&tasks, parallel, &voices_dir, &earlier, &tick, &warn)?
            } else {
                let mut engine = engine(cx)?;
                let mut entries = Vec::new();
                for task in &tasks {
                    entries.extend(synthesize_speaker(task, &mut engine, &voices_dir, &earlier, &tick, &warn)?);
                }
                entries
            }
        }
    };
    entries.sort_by_key(|e| e.id);
    // The stage folder holds its clips; the unit store is emptied once the folder is in place.
    let clips = dir.join("clips");
    std::fs::create_dir_all(&clips).map_err(|e| Error::io(&clips, e))?;
    for e in &entries {
        let from = units.path(&e.file);
        link_or_copy(&from, &clips.join(&e.file)).map_err(|err| Error::io(&from, err))?;
    }
    let spoken: u32 = entries.iter().map(|e| e.takes).sum();
    cx.events().emit(
        "stage_note",
        json!({ "stage": STAGE.name, "lines": entries.len(), "reused": entries.iter().filter(|e| e.takes == 0).count(), "synthesis_calls": spoken }),
    );
    write_json(&dir.join("clips.json"), &entries)
}

/// `to` as a second name of the clip `from` (same disk, so no bytes move), or a copy where
/// links cannot be made.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}

/// Each speaker's lines dealt into `n` parts (lines 1, n + 1, 2n + 1, … in the first), each
/// still a [`SpeakerTask`]; the longest parts first.
fn deal(tasks: &[SpeakerTask], n: usize) -> Vec<SpeakerTask> {
    let n = n.max(1);
    let mut parts: Vec<SpeakerTask> = Vec::new();
    for t in tasks {
        for part in 0..n {
            let lines: Vec<LineTask> = t.lines.iter().skip(part).step_by(n).cloned().collect();
            if !lines.is_empty() {
                parts.push(SpeakerTask { lines, ..t.clone() });
            }
        }
    }
    parts.sort_by_key(|t| std::cmp::Reverse(t.lines.iter().map(|l| l.text.len()).sum::<usize>()));
    parts
}

/// Parts per speaker on a farm: as many as this machine would speak side by side, so the clips
/// are the ones a run here makes (a part's lines predict their speed from the part's earlier
/// lines).
fn farm_parts() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4)
}

/// Stock-voice lines on the job's farm, a part of a speaker's lines per task ([`deal`]); lines
/// kept from an earlier run are not sent, and each clip that comes back is kept as a unit.
fn speak_on_farm(
    cx: &JobCx,
    farm: &dyn Farm,
    tasks: &[SpeakerTask],
    voices_dir: &Path,
    earlier: &Earlier,
    tick: &(dyn Fn(u32) + Sync),
) -> Result<Vec<ClipEntry>> {
    let backend = cx.backends.identity("synthesize");
    let mut entries = Vec::new();
    let mut sent = Vec::new();
    for part in deal(tasks, farm_parts()) {
        let key = voice_key(&part.speaker, &part.voice);
        // Lines made already stay in the task as kept, so the worker predicts the others from
        // them as a run here would.
        let mut lines = Vec::new();
        for line in &part.lines {
            match earlier.find(line) {
                Some(e) => {
                    lines.push(LineTask { kept: Some(Kept { pace_ms: e.pace_ms }), ..line.clone() });
                    entries.push(ClipEntry { voice: key.clone(), ..e });
                    tick(line.id);
                }
                None => lines.push(line.clone()),
            }
        }
        if lines.iter().all(|l| l.kept.is_some()) {
            continue;
        }
        // Named by its lines: a speaker's lines go out in several parts.
        let todo: Vec<String> = lines.iter().filter(|l| l.kept.is_none()).map(|l| l.id.to_string()).collect();
        let part = SpeakerTask { lines, ..part };
        let mut files = Vec::new();
        let mut hashes = Vec::new();
        for name in [part.voice.reference.clone(), format!("probes/{}.wav", part.voice.voice)] {
            let path = voices_dir.join(&name);
            hashes.push(file_sha256(&path)?);
            files.push(TaskFile { name, path });
        }
        let input = serde_json::to_value(SynthesizeInput { backend: backend.clone(), task: part.clone() })
            .map_err(|e| Error::backend("synthesize", e.to_string()))?;
        sent.push(Task {
            kind: SYNTHESIZE_SPEAKER.into(),
            key: task_key(SYNTHESIZE_SPEAKER, &input, &hashes),
            label: format!("{} lines {}", part.speaker, todo.join(",")),
            input,
            files,
        });
    }
    earlier.units.ensure()?;
    farm.run(&sent, &earlier.units.path(""), &mut |i, out| {
        let clips: Vec<ClipEntry> = serde_json::from_value(out.output["clips"].clone()).map_err(|e| {
            Error::backend("synthesize", format!("{}: the worker's result does not parse: {e}", sent[i].label))
        })?;
        for e in clips {
            if !earlier.units.path(&e.file).is_file() {
                return Err(Error::backend(
                    "synthesize",
                    format!("{}: the worker sent no clip {}", sent[i].label, e.file),
                ));
            }
            // After the clip, as on this machine: the entry says the unit is whole.
            earlier.units.put(&e.file, &e)?;
            tick(e.id);
            entries.push(e);
        }
        Ok(())
    })?;
    Ok(entries)
}

/// Each speaker's lines dealt out over `engines` (one thread each), so every core speaks; the
/// parts are still [`SpeakerTask`]s, so each is one [`synthesize_speaker`] call. The first
/// failure stops the others once the part they are speaking is done (its lines are kept
/// as units either way) and is returned.
fn speak_side_by_side(
    tasks: &[SpeakerTask],
    engines: Vec<Box<dyn redub_core::Synthesizer + Send>>,
    voices_dir: &Path,
    earlier: &Earlier,
    tick: &(dyn Fn(u32) + Sync),
    warn: &(dyn Fn(String) + Sync),
) -> Result<Vec<ClipEntry>> {
    // Popped from the end: longest first, so no engine is left with one long part at the end.
    let mut queue = deal(tasks, engines.len());
    queue.reverse();
    let queue = Mutex::new(queue);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Result<Vec<ClipEntry>>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for engine in engines {
            scope.spawn(|| {
                let mut engine = Engine::Stock(engine);
                while !failed.load(Ordering::Relaxed) {
                    let Some(task) = queue.lock().ok().and_then(|mut q| q.pop()) else { break };
                    let r = synthesize_speaker(&task, &mut engine, voices_dir, earlier, tick, warn);
                    failed.fetch_or(r.is_err(), Ordering::Relaxed);
                    if let Ok(mut all) = results.lock() {
                        all.push(r);
                    }
                }
            });
        }
    });
    let mut entries = Vec::new();
    for r in results.into_inner().map_err(|_| Error::backend("synthesize", "a synthesis thread panicked"))? {
        entries.extend(r?);
    }
    Ok(entries)
}
