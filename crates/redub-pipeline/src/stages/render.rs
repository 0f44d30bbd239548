//! 09-render: the dubbed track. Each clip placed at its line's start and fitted
//! (`crate::render`), mixed over the background (03-separate's stem; with `--background duck`
//! the original ducked under speech, with `drop` nothing), and the sum loudness-matched to the
//! source (EBU R128), never clipped.

use super::synthesize::ClipEntry;
use crate::job::write_json;
use crate::mixdown::{self, Bed, Shape};
use crate::render::{self, Clip, LinePlacement};
use crate::request::Background;
use crate::runner::{JobCx, Stage};
use redub_core::{ms_to_samples, samples_to_ms, Audio, Error, Result, Segment};
use redub_media::WavBlocks;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

/// Version 2: past the comfortable stretch the silence after a slot is used first; a clip in
/// the dead band that would run into the next line is fitted to its room.
/// Version 3: over the separated background, in blocks; loudness over all channels with a
/// true-peak ceiling; voice stems.
pub const STAGE: Stage = Stage { name: "09-render", version: 3, inputs, run, after: None, still_valid: None };

/// The final track's true peak stays at or below this (EBU R128's delivery ceiling); the
/// mixdown's limiter holds it.
pub const TRUE_PEAK_CEILING_DB: f64 = -1.0;
/// Most the limiter is asked to take off the loudest peak: past it the whole track is turned
/// down instead (a dub that loud has a problem a limiter would only hide).
const MAX_LIMITING_DB: f64 = 6.0;

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({ "up": [cx.key("08-synthesize")?, cx.key("01-ingest")?, cx.key("03-separate")?] }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let lines = cx.lines()?;
    let entries: Vec<ClipEntry> = cx.read("08-synthesize", "clips.json")?;
    let clips_dir = cx.dir("08-synthesize").join("clips");
    let files = RenderFiles {
        reference: super::separate::speech_file(cx),
        mix: cx.dir("01-ingest").join("mix.wav"),
        background: super::separate::background(cx)?,
        segments: placed_segments(cx, &lines),
        speakers: crate::stages::synthesize::speakers_in_order(&lines),
        clips: entries.iter().map(|e| (e.id, clips_dir.join(&e.file), e.engine_speed)).collect(),
    };
    let report = render_files(&files, dir)?;
    write_json(&dir.join("report.json"), &report)
}

/// What the render reads, as files: everything but the lines' text is audio on disk, so the
/// render's memory does not depend on the input's length.
pub struct RenderFiles {
    /// The original mix (the source's loudness; the bed when ducking).
    pub mix: std::path::PathBuf,
    /// What each clip's level is matched to: the separated speech, else the mix.
    pub reference: std::path::PathBuf,
    /// 03-separate's mode and stem.
    pub background: (Background, Option<std::path::PathBuf>),
    /// The lines, sorted by start, each with its speaker.
    pub segments: Vec<Segment>,
    pub speakers: Vec<String>,
    /// (line id, clip file, engine speed).
    pub clips: Vec<(u32, std::path::PathBuf, f32)>,
}

/// Render `files` into `dir`: `dub.wav`, `voices.wav`, `speakers/<S>.wav`. Returns the report.
pub fn render_files(files: &RenderFiles, dir: &Path) -> Result<RenderReport> {
    let mix = WavBlocks::open(&files.mix)?;
    let shape = Shape { rate: mix.rate, channels: mix.channels, frames: mix.frames };
    drop(mix);
    let (placed, placements) = fit_clips(files, dir, shape)?;
    let spans: Vec<(usize, usize)> = placements
        .iter()
        .map(|p| {
            let (a, b) = (p.start_ms.min(p.clip_start_ms), p.end_ms.max(p.clip_start_ms + p.clip_ms));
            (ms_to_samples(a, shape.rate), ms_to_samples(b, shape.rate))
        })
        .collect();
    let bed = match &files.background {
        (Background::Separate, Some(stem)) => Bed::Stem(stem.clone()),
        (Background::Drop, _) => Bed::Silent,
        _ => Bed::Ducked { mix: files.mix.clone(), spans },
    };
    let levels = mixdown::measure(&bed, &placed, files.speakers.len(), shape, &files.mix)?;
    let gain_db = final_gain_db(&levels);
    let speakers_dir = dir.join("speakers");
    std::fs::create_dir_all(&speakers_dir).map_err(|e| Error::io(&speakers_dir, e))?;
    let outputs = mixdown::Outputs {
        dub: &dir.join("dub.wav"),
        voices: &dir.join("voices.wav"),
        speakers_dir: &speakers_dir,
        speakers: &files.speakers,
    };
    let written = mixdown::write(&bed, &placed, shape, redub_dsp::db_to_gain(gain_db as f32), &outputs)?;
    // The fitted clips were only needed for the mixdown.
    let _ = std::fs::remove_dir_all(dir.join("placed"));
    Ok(RenderReport::new(&placements, levels.source_lufs, written.lufs, written.true_peak_db))
}

/// The gain that brings the dub to the source's integrated loudness (the limiter then holds
/// the peaks under [`TRUE_PEAK_CEILING_DB`]), lowered where the loudest peak would need more than
/// [`MAX_LIMITING_DB`] of limiting; 0 dB when either is silent.
pub fn final_gain_db(levels: &mixdown::Levels) -> f64 {
    let mut gain = if levels.source_lufs.is_finite() && levels.dub_lufs.is_finite() {
        levels.source_lufs - levels.dub_lufs
    } else {
        0.0
    };
    let most = TRUE_PEAK_CEILING_DB + MAX_LIMITING_DB;
    if levels.dub_true_peak_db.is_finite() && levels.dub_true_peak_db + gain > most {
        gain = most - levels.dub_true_peak_db;
    }
    gain
}

/// The dub lines as segments in the target language, sorted by start.
fn placed_segments(cx: &JobCx, lines: &[crate::translate::TranslatedLine]) -> Vec<Segment> {
    let mut segments: Vec<Segment> = lines
        .iter()
        .map(|l| Segment {
            id: l.id,
            speaker: Some(l.speaker.clone()),
            start_ms: l.start_ms,
            end_ms: l.end_ms,
            text: l.target_text.clone(),
            words: vec![],
            confidence: 1.0,
            lang: cx.req.to.clone(),
        })
        .collect();
    segments.sort_by_key(|s| s.start_ms);
    segments
}

/// Every clip fitted to its line (one at a time), kept in `dir/placed/` for the mixdown. The
/// gain reference is the original speech over the line (`files.reference`).
fn fit_clips(files: &RenderFiles, dir: &Path, shape: Shape) -> Result<(Vec<mixdown::Placed>, Vec<LinePlacement>)> {
    let mut reference = WavBlocks::open(&files.reference)?;
    let placed_dir = dir.join("placed");
    std::fs::create_dir_all(&placed_dir).map_err(|e| Error::io(&placed_dir, e))?;
    let end_ms = samples_to_ms(shape.frames, shape.rate);
    let segments = &files.segments;
    let (mut placed, mut placements) = (Vec::new(), Vec::new());
    for (i, seg) in segments.iter().enumerate() {
        let Some((id, file, speed)) = files.clips.iter().find(|c| c.0 == seg.id) else { continue };
        let a = redub_media::read_wav_mono(file)?;
        let clip = Clip { segment_id: *id, audio: redub_dsp::resample(&a, shape.rate)?, engine_speed: *speed };
        let from = ms_to_samples(seg.start_ms, shape.rate);
        let line = reference.read_mono_at(from, ms_to_samples(seg.duration_ms(), shape.rate))?;
        let (samples, placement) = render::fit_clip(seg, &clip, &line, render::room_end(segments, i, end_ms));
        let file = placed_dir.join(format!("{}.wav", seg.id));
        redub_media::write_wav(&file, &Audio::new(shape.rate, samples))?;
        let speaker = files.speakers.iter().position(|s| Some(s) == seg.speaker.as_ref()).unwrap_or(0);
        placed.push(mixdown::Placed { start: from, file, speaker });
        placements.push(placement);
    }
    Ok((placed, placements))
}

/// The per-line and per-job numbers of the render stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RenderReport {
    pub lines: Vec<LinePlacement>,
    pub source_lufs: f64,
    pub output_lufs: f64,
    /// The final track's highest true peak, dBTP.
    #[serde(default)]
    pub output_true_peak_db: f64,
    pub max_stretch: f64,
    /// Share of lines needing no more than the comfortable stretch (1.15×).
    pub comfortable_share: f64,
    pub flagged: usize,
}

impl RenderReport {
    fn new(lines: &[LinePlacement], source_lufs: f64, output_lufs: f64, true_peak_db: f64) -> Self {
        let max_stretch = lines.iter().map(|l| l.stretch).fold(1.0, f64::max);
        let ok = lines.iter().filter(|l| l.stretch <= render::COMFORTABLE).count();
        Self {
            lines: lines.to_vec(),
            source_lufs: if source_lufs.is_finite() { source_lufs } else { -99.0 },
            output_lufs: if output_lufs.is_finite() { output_lufs } else { -99.0 },
            output_true_peak_db: if true_peak_db.is_finite() { true_peak_db } else { -99.0 },
            max_stretch,
            comfortable_share: if lines.is_empty() { 1.0 } else { ok as f64 / lines.len() as f64 },
            flagged: lines.iter().filter(|l| !l.flags.is_empty()).count(),
        }
    }
}
