//! 04-transcribe: timed text of the speech regions. The transcriber groups the regions into
//! windows it decodes on its own ([`redub_core::Transcriber::plan`]); each window is a unit
//! ([`transcribe_window`]) kept as it finishes, so a stopped job resumes at the next window.

use crate::farm::{file_sha256, task_key, Farm, Task, TaskFile, TRANSCRIBE_WINDOW};
use crate::job::{unit_key, write_json};
use crate::runner::{JobCx, Stage};
use crate::workshop::{TranscribeInput, SPEECH_FILE};
use redub_core::{Audio, Ctx, Result, Segment, Span, Transcriber};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "04-transcribe", version: 2, inputs, run, after: None, still_valid: None };

/// Shorter windows are not used to fix the language a detecting run keeps: a film is in one
/// language, and detection on a short line flips.
const MIN_DETECT_MS: u64 = 2_000;

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({ "up": cx.key("02-vad")?, "from": cx.req.from, "backend": cx.backends.identity("transcribe") }))
}

/// One transcription unit: a window's regions and the language to decode them in (`None`:
/// detect). Serializable, so another process can run it on the same audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowTask {
    pub regions: Vec<Span>,
    pub lang: Option<String>,
}

/// What a window gave: its sentences (absolute times, ids from 0) and the language heard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowResult {
    pub segments: Vec<Segment>,
    pub lang: Option<String>,
}

/// Windows handed to one [`transcribe_windows`] call: one per core.
pub fn windows_per_call() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1)
}

/// Transcribe one window of `audio`.
pub fn transcribe_window(asr: &mut dyn Transcriber, audio: &Audio, task: &WindowTask) -> Result<WindowResult> {
    let segments = asr.transcribe(audio, &task.regions, task.lang.as_deref(), &Ctx::quiet())?;
    let lang = segments.first().map(|s| s.lang.clone()).or_else(|| task.lang.clone());
    Ok(WindowResult { segments, lang })
}

/// Several windows of `audio` in one call, so that the transcriber decodes them side by side
/// (whisper.cpp: one thread each). On a machine busy with other work that is up to 4× faster than
/// two threads inside one window, and on an idle one as fast (docs/asr.md). Each result is the
/// one [`transcribe_window`] gives: a window's words depend on its own regions only, and this
/// checks that the transcriber plans the joined regions into exactly these windows (else it
/// decodes them one by one). All tasks must share one language.
pub fn transcribe_windows(asr: &mut dyn Transcriber, audio: &Audio, tasks: &[WindowTask]) -> Result<Vec<WindowResult>> {
    let all: Vec<Span> = tasks.iter().flat_map(|t| t.regions.iter().copied()).collect();
    let same_lang = tasks.windows(2).all(|w| w[0].lang == w[1].lang);
    let planned = asr.plan(&all);
    if tasks.len() < 2
        || !same_lang
        || planned.len() != tasks.len()
        || planned.iter().zip(tasks).any(|(p, t)| *p != t.regions)
    {
        return tasks.iter().map(|t| transcribe_window(asr, audio, t)).collect();
    }
    let segments = asr.transcribe(audio, &all, tasks[0].lang.as_deref(), &Ctx::quiet())?;
    // Windows are disjoint and in order, and a word never starts before its window's first
    // region (times in a window's edges snap to its regions).
    let mut per: Vec<Vec<Segment>> = vec![Vec::new(); tasks.len()];
    for seg in segments {
        let k = tasks.iter().rposition(|t| t.regions.first().is_some_and(|r| r.start_ms <= seg.start_ms)).unwrap_or(0);
        per[k].push(seg);
    }
    Ok(per
        .into_iter()
        .zip(tasks)
        .map(|(mut segments, task)| {
            for (i, s) in segments.iter_mut().enumerate() {
                s.id = i as u32;
            }
            let lang = segments.first().map(|s| s.lang.clone()).or_else(|| task.lang.clone());
            WindowResult { segments, lang }
        })
        .collect())
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let regions: Vec<Span> = cx.read("02-vad", "regions.json")?;
    let mut asr = cx.backends.transcriber()?;
    let windows = asr.plan(&regions);
    let units = cx.job.units(STAGE.name);
    let backend = cx.backends.identity("transcribe");
    let remote = match cx.farm {
        Some(farm) => Some(Remote::new(cx, farm, &backend, &units)?),
        None => None,
    };
    // Windows decoded here (several side by side) or on the farm (each a task).
    let mut decode = |tasks: &[WindowTask], done: &mut dyn FnMut(usize, WindowResult) -> Result<()>| -> Result<()> {
        if let Some(remote) = &remote {
            return remote.run(tasks, done);
        }
        let results = match tasks {
            [one] => vec![transcribe_window(asr.as_mut(), cx.speech()?, one)?],
            _ => transcribe_windows(asr.as_mut(), cx.speech()?, tasks)?,
        };
        results.into_iter().enumerate().try_for_each(|(i, r)| done(i, r))
    };
    let progress = cx.events().progress_fn(STAGE.name);
    let span_ms = |w: &[Span]| w.iter().map(|r| r.duration_ms()).sum::<u64>();
    let total: u64 = windows.iter().map(|w| span_ms(w)).sum();
    let key_of = |task: &WindowTask| unit_key(&json!({ "backend": backend, "task": task }));
    let (mut done, mut lang) = (0u64, cx.req.from.clone());
    let mut results: Vec<Option<WindowResult>> = vec![None; windows.len()];
    // Until the language is known, one window at a time: each may be the one that fixes it.
    let mut next = 0;
    while next < windows.len() && lang.is_none() {
        progress(done, total);
        let task = WindowTask { regions: windows[next].clone(), lang: None };
        let key = key_of(&task);
        let result = match units.get::<WindowResult>(&key) {
            Some(r) => r,
            None => {
                let mut got = None;
                decode(std::slice::from_ref(&task), &mut |_, r| {
                    units.put(&key, &r)?;
                    got = Some(r);
                    Ok(())
                })?;
                got.ok_or_else(|| redub_core::Error::backend("transcribe", "a window gave no result"))?
            }
        };
        if span_ms(&windows[next]) >= MIN_DETECT_MS {
            lang = result.lang.clone();
        }
        done += span_ms(&windows[next]);
        results[next] = Some(result);
        next += 1;
    }
    // The rest in the language now fixed: what the unit store lacks, a core's worth at a time
    // here, all at once on a farm.
    let mut todo = Vec::new();
    for (k, regions) in windows.iter().enumerate().skip(next) {
        let task = WindowTask { regions: regions.clone(), lang: lang.clone() };
        let key = key_of(&task);
        match units.get::<WindowResult>(&key) {
            Some(r) => {
                done += span_ms(regions);
                results[k] = Some(r);
            }
            None => todo.push((k, task, key)),
        }
    }
    let per_call = if remote.is_some() { todo.len().max(1) } else { windows_per_call() };
    for chunk in todo.chunks(per_call) {
        progress(done, total);
        let tasks: Vec<WindowTask> = chunk.iter().map(|(_, t, _)| t.clone()).collect();
        decode(&tasks, &mut |i, r| {
            let (k, task, key) = &chunk[i];
            // Kept as each window finishes, so a stopped job resumes at the next windows.
            units.put(key, &r)?;
            done += span_ms(&task.regions);
            results[*k] = Some(r);
            progress(done, total);
            Ok(())
        })?;
    }
    progress(total, total);
    let mut segments: Vec<Segment> = results.into_iter().flatten().flat_map(|r| r.segments).collect();
    // Ids run through the whole input.
    for (i, s) in segments.iter_mut().enumerate() {
        s.id = i as u32;
    }
    write_json(&dir.join("segments.json"), &segments)
}

/// Windows as farm tasks: each names the job's 16 kHz audio by content, so a worker fetches it
/// once for all of the job's windows.
struct Remote<'a> {
    farm: &'a dyn Farm,
    audio: TaskFile,
    audio_sha256: String,
    backend: serde_json::Value,
    out_dir: std::path::PathBuf,
}

impl<'a> Remote<'a> {
    fn new(cx: &JobCx, farm: &'a dyn Farm, backend: &serde_json::Value, units: &crate::job::Units) -> Result<Self> {
        units.ensure()?;
        let (audio, audio_sha256) = speech_task_file(cx)?;
        Ok(Self { farm, audio_sha256, audio, backend: backend.clone(), out_dir: units.path("") })
    }

    fn run(&self, windows: &[WindowTask], done: &mut dyn FnMut(usize, WindowResult) -> Result<()>) -> Result<()> {
        let mut tasks = Vec::new();
        for w in windows {
            let input = serde_json::to_value(TranscribeInput { backend: self.backend.clone(), task: w.clone() })
                .map_err(|e| redub_core::Error::backend("transcribe", e.to_string()))?;
            let (from, to) = (w.regions.first().map_or(0, |r| r.start_ms), w.regions.last().map_or(0, |r| r.end_ms));
            tasks.push(Task {
                kind: TRANSCRIBE_WINDOW.into(),
                key: task_key(TRANSCRIBE_WINDOW, &input, std::slice::from_ref(&self.audio_sha256)),
                label: format!("transcription window {}–{}", clock(from), clock(to)),
                input,
                files: vec![self.audio.clone()],
            });
        }
        self.farm.run(&tasks, &self.out_dir, &mut |i, out| {
            let r: WindowResult = serde_json::from_value(out.output).map_err(|e| {
                redub_core::Error::backend(
                    "transcribe",
                    format!("{}: the worker's result does not parse: {e}", tasks[i].label),
                )
            })?;
            done(i, r)
        })
    }
}

/// The job's 16 kHz audio as a task file (named [`SPEECH_FILE`]) and its sha256, for the
/// stages whose tasks read it (transcription windows, diarization chunks).
pub(crate) fn speech_task_file(cx: &JobCx) -> Result<(TaskFile, String)> {
    let path = cx.dir("01-ingest").join("speech16k.wav");
    let sha256 = file_sha256(&path)?;
    Ok((TaskFile { name: SPEECH_FILE.into(), path }, sha256))
}

/// `h:mm:ss` of a time in ms, for task names.
pub(crate) fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Two regions per window; one sentence per region, numbered within the call, and the
    /// number of calls it was given.
    struct Pairs(u32);

    impl Transcriber for Pairs {
        fn transcribe(&mut self, _a: &Audio, regions: &[Span], lang: Option<&str>, _c: &Ctx) -> Result<Vec<Segment>> {
            self.0 += 1;
            Ok(regions
                .iter()
                .enumerate()
                .map(|(i, r)| Segment {
                    id: i as u32,
                    speaker: None,
                    start_ms: r.start_ms + 10,
                    end_ms: r.end_ms,
                    text: format!("at {}", r.start_ms),
                    words: vec![],
                    confidence: 0.9,
                    lang: lang.unwrap_or("en").to_string(),
                })
                .collect())
        }
        fn plan(&self, regions: &[Span]) -> Vec<Vec<Span>> {
            regions.chunks(2).map(|c| c.to_vec()).collect()
        }
        fn detect_language(&mut self, _a: &Audio) -> Result<(String, f32)> {
            Ok(("en".into(), 1.0))
        }
    }

    #[test]
    fn windows_decoded_in_one_call_give_what_each_gives_alone() {
        let audio = Audio::new(16_000, vec![0.0; 16_000]);
        let regions: Vec<Span> = (0..5).map(|i| Span::new(i * 1000, i * 1000 + 500)).collect();
        let mut asr = Pairs(0);
        let tasks: Vec<WindowTask> =
            asr.plan(&regions).into_iter().map(|regions| WindowTask { regions, lang: Some("fr".into()) }).collect();
        let alone: Vec<WindowResult> = tasks.iter().map(|t| transcribe_window(&mut asr, &audio, t).unwrap()).collect();
        let calls = asr.0;
        let together = transcribe_windows(&mut asr, &audio, &tasks).unwrap();
        assert_eq!(asr.0, calls + 1, "one call for the three windows");
        assert_eq!(together, alone);
        // Windows that are not what the transcriber would plan are decoded one by one.
        let odd = vec![WindowTask { regions: regions[..1].to_vec(), lang: None }, tasks[1].clone()];
        let before = asr.0;
        transcribe_windows(&mut asr, &audio, &odd).unwrap();
        assert_eq!(asr.0, before + 2);
    }
}
