//! 05-diarize: who speaks when, and the dub lines. After transcription, so that changing
//! speaker settings reruns neither VAD nor Whisper. Writes the turns, an RTTM, and Whisper's
//! sentences with a speaker each, retimed and joined into dub lines (`redub_diarize::lines`).

use super::DEFAULT_SPEAKER;
use crate::job::write_json;
use crate::runner::{JobCx, Stage};
use redub_core::{Ctx, Result, Segment, Span};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "05-diarize", version: 4, inputs, run, after: Some(after), still_valid: None };

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({
        "up": [cx.key("02-vad")?, cx.key("04-transcribe")?],
        "settings": cx.req.diarize,
        "backend": cx.backends.identity("diarize"),
    }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let req = cx.req;
    let regions: Vec<Span> = cx.read("02-vad", "regions.json")?;
    let transcript: Vec<Segment> = cx.read("04-transcribe", "segments.json")?;
    // Scene cuts only matter where the input is split into chunks.
    let cuts = if cx.probe.video.is_some() && cx.probe.duration_ms > req.diarize.chunk.max_ms {
        redub_media::scene_cuts(&req.input, redub_media::SCENE_THRESHOLD)?
    } else {
        Vec::new()
    };
    write_json(&dir.join("scene_cuts.json"), &cuts)?;
    let mut diarizer = cx.backends.diarizer(&req.diarize)?;
    let progress = cx.events().progress_fn(STAGE.name);
    let turns = diarizer.diarize(cx.speech()?, &regions, &cuts, &Ctx::new(&progress, None))?;
    write_json(&dir.join("turns.json"), &turns)?;
    let uri = req.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
    redub_media::write_atomic(&dir.join("speakers.rttm"), redub_diarize::rttm::to_string(&uri, &turns).as_bytes())?;
    // Sentences with speakers, then dub lines: edges at the turns, a speaker's consecutive
    // sentences joined (see `redub_diarize::lines`).
    let mut segments = redub_diarize::label::label_segments(&transcript, &turns, DEFAULT_SPEAKER);
    redub_diarize::lines::retime(&mut segments, &turns);
    write_json(&dir.join("segments.json"), &redub_diarize::lines::merge(segments))
}

/// The lines as they appear (the studio's live transcript), and the pair check that needs the
/// source language, which may only be known now.
fn after(cx: &JobCx) -> Result<()> {
    for s in cx.segments()? {
        cx.events().emit(
            "segment",
            json!({ "id": s.id, "speaker": s.speaker, "start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text }),
        );
    }
    cx.backends.check_pair(&cx.req.translator, Some(&cx.from_lang()?), &cx.req.to)
}
