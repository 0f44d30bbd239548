//! 03-separate: the original mix split into the speech in it and what is under the speech
//! (music, effects, ambience). The separator (DeepFilterNet3 by default, `redub-separate`) only
//! runs on the VAD regions; elsewhere the background is the mix itself. `background.wav` keeps
//! the mix's rate and channels and is what the render mixes the dubbed voices over;
//! `speech.wav` (mono, the mix's rate) is what the voices stage cuts speaker references from, so
//! no music reaches a cloning service.
//!
//! With `--background duck` or `drop` nothing is separated: the stage writes only
//! `separate.json` saying so, and the render works from the mix.

use crate::job::write_json;
use crate::request::Background;
use crate::runner::{JobCx, Stage};
use redub_core::{Audio, Ctx, Result, Span};
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
    let Some(mut separator) = cx.backends.separator()? else {
        cx.events().emit(
            "warning",
            json!({ "stage": STAGE.name, "message": "no separator in this build: the original is ducked under the dub" }),
        );
        return write_json(&dir.join("separate.json"), &report(Background::Duck, 0, 0, 0));
    };
    let regions: Vec<Span> = cx.read("02-vad", "regions.json")?;
    let (rate, channels, mix) = redub_media::read_wav(&cx.dir("01-ingest").join("mix.wav"))?;
    let split = redub_separate::split_channels(rate, channels, &mix);
    drop(mix);
    let progress = cx.events().progress_fn(STAGE.name);
    let stems = separator.separate(&split, &regions, &Ctx::new(&progress, None))?;
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
