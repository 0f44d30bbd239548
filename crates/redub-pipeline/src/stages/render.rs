//! 08-render: the dubbed track. Each clip placed at its line's start and fitted
//! (`crate::render`), mixed over the original with it ducked under speech, and the sum
//! loudness-matched to the source (EBU R128), never clipped.

use super::synthesize::ClipEntry;
use crate::job::write_json;
use crate::render::{self, Clip, LinePlacement};
use crate::runner::{JobCx, Stage};
use redub_core::{Audio, Result, Segment};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

/// Version 2: past the comfortable stretch the silence after a slot is used first; a clip in
/// the dead band that would run into the next line is fitted to its room.
pub const STAGE: Stage = Stage { name: "08-render", version: 2, inputs, run, after: None, still_valid: None };

/// Highest sample of the final track.
const PEAK_CEILING: f32 = 0.98;

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({ "up": [cx.key("07-synthesize")?, cx.key("01-ingest")?] }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let lines = cx.lines()?;
    let (rate, channels, mix) = redub_media::read_wav(&cx.dir("01-ingest").join("mix.wav"))?;
    let original = Audio::new(rate, redub_media::downmix(&mix, channels));
    let synth = cx.dir("07-synthesize");
    let entries: Vec<ClipEntry> = cx.read("07-synthesize", "clips.json")?;
    let mut clips = Vec::new();
    for e in &entries {
        let a = redub_media::read_wav_mono(&synth.join("clips").join(&e.file))?;
        clips.push(Clip { segment_id: e.id, audio: redub_dsp::resample(&a, rate)?, engine_speed: e.engine_speed });
    }
    let placed_segments: Vec<Segment> = lines
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
    let (speech_track, placements) = render::render_speech(&placed_segments, &clips, &original, original.duration_ms());
    let spans: Vec<(u64, u64)> = placements
        .iter()
        .map(|p| (p.start_ms.min(p.clip_start_ms), p.end_ms.max(p.clip_start_ms + p.clip_ms)))
        .collect();
    let mut out = render::mix_over_background(&mix, channels, &speech_track, &spans);
    // The final track is loudness-matched to the source (EBU R128), never clipped.
    let src_lufs = redub_dsp::integrated_loudness(&original)?;
    let out_lufs = redub_dsp::integrated_loudness(&Audio::new(rate, redub_media::downmix(&out, channels)))?;
    let mut gain_db = if src_lufs.is_finite() && out_lufs.is_finite() { (src_lufs - out_lufs) as f32 } else { 0.0 };
    let peak = redub_dsp::peak(&out) * redub_dsp::db_to_gain(gain_db);
    if peak > PEAK_CEILING {
        gain_db += 20.0 * (PEAK_CEILING / peak).log10();
    }
    let g = redub_dsp::db_to_gain(gain_db);
    out.iter_mut().for_each(|x| *x *= g);
    redub_media::write_wav_interleaved(&dir.join("dub.wav"), rate, channels, &out)?;
    write_json(&dir.join("report.json"), &RenderReport::new(&placements, src_lufs, out_lufs + gain_db as f64))
}

/// The per-line and per-job numbers of the render stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RenderReport {
    pub lines: Vec<LinePlacement>,
    pub source_lufs: f64,
    pub output_lufs: f64,
    pub max_stretch: f64,
    /// Share of lines needing no more than the comfortable stretch (1.15×).
    pub comfortable_share: f64,
    pub flagged: usize,
}

impl RenderReport {
    fn new(lines: &[LinePlacement], source_lufs: f64, output_lufs: f64) -> Self {
        let max_stretch = lines.iter().map(|l| l.stretch).fold(1.0, f64::max);
        let ok = lines.iter().filter(|l| l.stretch <= render::COMFORTABLE).count();
        Self {
            lines: lines.to_vec(),
            source_lufs: if source_lufs.is_finite() { source_lufs } else { -99.0 },
            output_lufs: if output_lufs.is_finite() { output_lufs } else { -99.0 },
            max_stretch,
            comfortable_share: if lines.is_empty() { 1.0 } else { ok as f64 / lines.len() as f64 },
            flagged: lines.iter().filter(|l| !l.flags.is_empty()).count(),
        }
    }
}
