//! 05-diarize: who speaks when, and the dub lines. After transcription, so that changing
//! speaker settings reruns neither VAD nor Whisper. Writes the turns, an RTTM, and Whisper's
//! sentences with a speaker each, retimed and joined into dub lines (`redub_diarize::lines`).

use super::DEFAULT_SPEAKER;
use crate::farm::{task_key, Farm, Task, TaskFile, DIARIZE_CHUNK};
use crate::job::write_json;
use crate::runner::{JobCx, Stage};
use crate::stages::transcribe::{clock, speech_task_file};
use crate::workshop::DiarizeInput;
use redub_core::{Ctx, Error, Result, Segment, Span};
use redub_diarize::{ChunkResult, ChunkTask};
use serde_json::json;
use std::path::{Path, PathBuf};

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
    let progress = cx.events().progress_fn(STAGE.name);
    let ctx = Ctx::new(&progress, None);
    // With a farm, the chunks' local speakers are found on workers and combined here; that is
    // the same computation as the whole diarizer's, so the turns are the same.
    let chunked = match cx.farm {
        Some(farm) => cx.backends.chunked_diarizer(&req.diarize)?.map(|d| (farm, d)),
        None => None,
    };
    let turns = match chunked {
        Some((farm, mut diarizer)) => {
            let remote = Remote::new(cx, farm)?;
            diarizer.run_with(cx.speech()?, &regions, &cuts, &ctx, &mut |tasks| remote.run(tasks, &progress))?.turns
        }
        None => cx.backends.diarizer(&req.diarize)?.diarize(cx.speech()?, &regions, &cuts, &ctx)?,
    };
    write_json(&dir.join("turns.json"), &turns)?;
    let uri = req.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
    redub_media::write_atomic(&dir.join("speakers.rttm"), redub_diarize::rttm::to_string(&uri, &turns).as_bytes())?;
    // Sentences with speakers, then dub lines: edges at the turns, a speaker's consecutive
    // sentences joined (see `redub_diarize::lines`).
    let mut segments = redub_diarize::label::label_segments(&transcript, &turns, DEFAULT_SPEAKER);
    redub_diarize::lines::retime(&mut segments, &turns);
    write_json(&dir.join("segments.json"), &redub_diarize::lines::merge(segments))
}

/// Diarization chunks as farm tasks, on the job's 16 kHz audio (fetched once per worker).
struct Remote<'a> {
    farm: &'a dyn Farm,
    audio: TaskFile,
    audio_sha256: String,
    backend: serde_json::Value,
    out_dir: PathBuf,
}

impl<'a> Remote<'a> {
    fn new(cx: &JobCx, farm: &'a dyn Farm) -> Result<Self> {
        // Chunk tasks make no files; the farm still wants a folder for them.
        let units = cx.job.units(STAGE.name);
        units.ensure()?;
        let (audio, audio_sha256) = speech_task_file(cx)?;
        Ok(Self { farm, audio, audio_sha256, backend: cx.backends.identity("diarize"), out_dir: units.path("") })
    }

    /// Every chunk at once on the farm; their results in `chunks`' order.
    fn run(&self, chunks: &[ChunkTask], progress: &dyn Fn(u64, u64)) -> Result<Vec<ChunkResult>> {
        let mut tasks = Vec::with_capacity(chunks.len());
        for c in chunks {
            let input = serde_json::to_value(DiarizeInput { backend: self.backend.clone(), task: c.clone() })
                .map_err(|e| Error::backend("diarize", e.to_string()))?;
            let span = c.chunk.span;
            tasks.push(Task {
                kind: DIARIZE_CHUNK.into(),
                key: task_key(DIARIZE_CHUNK, &input, std::slice::from_ref(&self.audio_sha256)),
                label: format!(
                    "diarization chunk {} ({}–{})",
                    c.chunk.index + 1,
                    clock(span.start_ms),
                    clock(span.end_ms)
                ),
                input,
                files: vec![self.audio.clone()],
            });
        }
        let total: u64 = chunks.iter().map(|c| c.chunk.span.duration_ms()).sum();
        let mut done = 0u64;
        progress(done, total);
        let mut results: Vec<Option<ChunkResult>> = vec![None; chunks.len()];
        self.farm.run(&tasks, &self.out_dir, &mut |i, out| {
            let r: ChunkResult = serde_json::from_value(out.output).map_err(|e| {
                Error::backend("diarize", format!("{}: the worker's result does not parse: {e}", tasks[i].label))
            })?;
            done += chunks[i].chunk.span.duration_ms();
            progress(done, total);
            results[i] = Some(r);
            Ok(())
        })?;
        results
            .into_iter()
            .zip(&tasks)
            .map(|(r, t)| r.ok_or_else(|| Error::backend("diarize", format!("{}: the farm gave no result", t.label))))
            .collect()
    }
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
