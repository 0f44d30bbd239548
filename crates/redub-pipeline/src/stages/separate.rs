//! 03-separate: the original mix split into the speech in it and what is under the speech
//! (music, effects, ambience). The separator (DeepFilterNet3 by default, `redub-separate`) only
//! runs on the VAD regions; elsewhere the background is the mix itself. `background.wav` keeps
//! the mix's rate and channels and is what the render mixes the dubbed voices over;
//! `speech.wav` (mono, the mix's rate) is what the voices stage cuts speaker references from, so
//! no music reaches a cloning service.
//!
//! With `--background duck` or `drop` nothing is separated: the stage writes only
//! `separate.json` saying so, and the render works from the mix.

use crate::farm::{file_sha256, task_key, Farm, Task, TaskFile, SEPARATE_PIECE};
use crate::job::write_json;
use crate::request::Background;
use crate::runner::{JobCx, Stage};
use crate::workshop::{piece_file, SeparateInput, HEARD_FILE};
use redub_core::{Audio, Ctx, Error, Result, Span, SpeechSeparator};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "03-separate", version: 1, inputs, run, after: None, still_valid: None };

/// What the stage did, in `separate.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeparateReport {
    /// `separate` when the stems were made; `duck` or `drop` when none were asked for, or
    /// `duck` when no separator was available.
    pub mode: Background,
    /// Speech (VAD) the separator ran on, in ms.
    pub speech_ms: u64,
    pub channels: u16,
    pub rate: u32,
}

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({
        "up": [cx.key("01-ingest")?, cx.key("02-vad")?],
        "mode": cx.req.background,
        "backend": cx.backends.identity("separate"),
    }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let report = |mode, speech_ms, channels, rate| SeparateReport { mode, speech_ms, channels, rate };
    if cx.req.background != Background::Separate {
        return write_json(&dir.join("separate.json"), &report(cx.req.background, 0, 0, 0));
    }
    // With a farm, the pieces go to workers and their estimates are joined here: the model is
    // not needed in this process.
    let how = match (cx.farm, cx.backends.piecewise_separation()) {
        (Some(farm), Some(settings)) => How::Farm(farm, settings),
        _ => match cx.backends.separator()? {
            Some(separator) => How::Here(separator),
            None => {
                cx.events().emit(
                    "warning",
                    json!({ "stage": STAGE.name, "message": "no separator in this build: the original is ducked under the dub" }),
                );
                return write_json(&dir.join("separate.json"), &report(Background::Duck, 0, 0, 0));
            }
        },
    };
    let regions: Vec<Span> = cx.read("02-vad", "regions.json")?;
    let mix_path = cx.dir("01-ingest").join("mix.wav");
    let (rate, channels, mix) = redub_media::read_wav(&mix_path)?;
    let split = redub_separate::split_channels(rate, channels, &mix);
    drop(mix);
    let progress = cx.events().progress_fn(STAGE.name);
    let stems = match how {
        How::Here(mut separator) => separator.separate(&split, &regions, &Ctx::new(&progress, None))?,
        How::Farm(farm, settings) => {
            let pieces = redub_separate::plan_pieces(&split, &regions, &settings)?;
            let estimates = on_farm(cx, farm, &split, &pieces, &progress)?;
            let stems = redub_separate::assemble_stems(&split, &pieces, &estimates, &settings)?;
            stems.into_iter().map(|s| (s.speech, s.background)).collect()
        }
    };
    drop(split);
    let (speech, background): (Vec<Audio>, Vec<Audio>) = stems.into_iter().unzip();
    redub_media::write_wav_interleaved(
        &dir.join("background.wav"),
        rate,
        channels,
        &redub_separate::interleave(&background),
    )?;
    drop(background);
    redub_media::write_wav(&dir.join("speech.wav"), &mono(rate, &speech))?;
    let speech_ms = regions.iter().map(|r| r.duration_ms()).sum();
    write_json(&dir.join("separate.json"), &report(Background::Separate, speech_ms, channels, rate))
}

/// Where the model runs.
enum How<'a> {
    Here(Box<dyn SpeechSeparator>),
    Farm(&'a dyn Farm, redub_separate::SeparateSettings),
}

/// Each piece's speech estimate, made on the farm from the samples the piece hears (written to
/// the stage's unit store, so a worker fetches its own pieces, not the film's mix) and sent back
/// as a 32-bit float WAV, so the samples are the ones a local run makes.
fn on_farm(
    cx: &JobCx,
    farm: &dyn Farm,
    channels: &[Audio],
    pieces: &[redub_separate::Piece],
    progress: &dyn Fn(u64, u64),
) -> Result<Vec<Vec<f32>>> {
    let units = cx.job.units(STAGE.name);
    units.ensure()?;
    let backend = cx.backends.identity("separate");
    let mut tasks = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let (heard, local) = redub_separate::cut_piece(channels, piece)?;
        let out = piece_file(piece);
        let path = units.path(&format!("heard-{out}"));
        redub_media::write_wav(&path, &heard)?;
        let input = serde_json::to_value(SeparateInput { backend: backend.clone(), piece: local, out })
            .map_err(|e| Error::backend("separate", e.to_string()))?;
        tasks.push(Task {
            kind: SEPARATE_PIECE.into(),
            key: task_key(SEPARATE_PIECE, &input, &[file_sha256(&path)?]),
            label: format!("separation piece {} of {}", i + 1, pieces.len()),
            input,
            files: vec![TaskFile { name: HEARD_FILE.into(), path }],
        });
    }
    let size = |p: &redub_separate::Piece| (p.heard.1 - p.heard.0) as u64;
    let total: u64 = pieces.iter().map(size).sum();
    let mut done = 0u64;
    progress(done, total);
    let mut estimates: Vec<Option<Vec<f32>>> = vec![None; pieces.len()];
    farm.run(&tasks, &units.path(""), &mut |i, out| {
        let file = out.files.iter().find(|f| f.name == piece_file(&pieces[i])).ok_or_else(|| {
            Error::backend("separate", format!("{}: the worker sent no {}", tasks[i].label, piece_file(&pieces[i])))
        })?;
        estimates[i] = Some(redub_media::read_wav_mono(&file.path)?.samples);
        done += size(&pieces[i]);
        progress(done, total);
        Ok(())
    })?;
    estimates
        .into_iter()
        .zip(&tasks)
        .map(|(e, t)| e.ok_or_else(|| Error::backend("separate", format!("{}: the farm gave no result", t.label))))
        .collect()
}

/// The channels' speech estimates as one (their mean).
fn mono(rate: u32, channels: &[Audio]) -> Audio {
    let n = channels.len().max(1) as f32;
    let len = channels.iter().map(|c| c.samples.len()).min().unwrap_or(0);
    Audio::new(rate, (0..len).map(|i| channels.iter().map(|c| c.samples[i]).sum::<f32>() / n).collect())
}

/// What the render mixes the dub over, per `separate.json`: the background stem's file when one
/// was made (the mix's rate and channels), else `None` (duck or drop the mix).
pub fn background(cx: &JobCx) -> Result<(Background, Option<std::path::PathBuf>)> {
    let report: SeparateReport = cx.read(STAGE.name, "separate.json")?;
    if report.mode != Background::Separate {
        return Ok((report.mode, None));
    }
    Ok((Background::Separate, Some(cx.dir(STAGE.name).join("background.wav"))))
}

/// The original speech that speaker references are cut from (07-voices) and that dubbed lines
/// are level-matched to (09-render): the separated speech when there is one, else the mix.
pub fn speech_file(cx: &JobCx) -> std::path::PathBuf {
    let speech = cx.dir(STAGE.name).join("speech.wav");
    if speech.is_file() {
        speech
    } else {
        cx.dir("01-ingest").join("mix.wav")
    }
}
