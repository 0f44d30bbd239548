//! 04-transcribe: timed text of the speech regions. The transcriber groups the regions into
//! windows it decodes on its own ([`redub_core::Transcriber::plan`]); each window is a unit
//! ([`transcribe_window`]) kept as it finishes, so a stopped job resumes at the next window.

use crate::job::{unit_key, write_json};
use crate::runner::{JobCx, Stage};
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

/// Transcribe one window of `audio`.
pub fn transcribe_window(asr: &mut dyn Transcriber, audio: &Audio, task: &WindowTask) -> Result<WindowResult> {
    let segments = asr.transcribe(audio, &task.regions, task.lang.as_deref(), &Ctx::quiet())?;
    let lang = segments.first().map(|s| s.lang.clone()).or_else(|| task.lang.clone());
    Ok(WindowResult { segments, lang })
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let regions: Vec<Span> = cx.read("02-vad", "regions.json")?;
    let mut asr = cx.backends.transcriber()?;
    let windows = asr.plan(&regions);
    let units = cx.job.units(STAGE.name);
    let backend = cx.backends.identity("transcribe");
    let progress = cx.events().progress_fn(STAGE.name);
    let span_ms = |w: &[Span]| w.iter().map(|r| r.duration_ms()).sum::<u64>();
    let total: u64 = windows.iter().map(|w| span_ms(w)).sum();
    let (mut done, mut lang) = (0u64, cx.req.from.clone());
    let mut segments = Vec::new();
    for regions in windows {
        progress(done, total);
        let ms = span_ms(&regions);
        let task = WindowTask { regions, lang: lang.clone() };
        let key = unit_key(&json!({ "backend": backend, "task": task }));
        let result = match units.get::<WindowResult>(&key) {
            Some(r) => r,
            None => {
                let r = transcribe_window(asr.as_mut(), cx.speech()?, &task)?;
                units.put(&key, &r)?;
                r
            }
        };
        if lang.is_none() && ms >= MIN_DETECT_MS {
            lang = result.lang.clone();
        }
        segments.extend(result.segments);
        done += ms;
    }
    progress(total, total);
    // Ids run through the whole input.
    for (i, s) in segments.iter_mut().enumerate() {
        s.id = i as u32;
    }
    write_json(&dir.join("segments.json"), &segments)
}
