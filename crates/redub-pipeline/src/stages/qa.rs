//! 11-qa: every dub measured (`redub-qa` has the definitions). Per line: the slot and the fitted
//! clip, speech overlap, stretch, engine speed, and the round trip: the dubbed track (09-render's
//! `dub.wav`, what the output carries) transcribed again by the job's own Whisper with the
//! target language forced, each line's heard words against its target text (WER, CER, the
//! `unintelligible` flag) and where the dubbed speech starts. The round trip's Whisper is
//! [`Backends::round_trip_transcriber`](crate::Backends::round_trip_transcriber): offline, the
//! same Whisper base on ONNX Runtime, about 2.5× faster than whisper.cpp here (3.1 s against 7.5 s
//! on the sample) at the same figures (round-trip WER 68.4% against 69.7%). Per speaker: how like their own
//! source reference the dubbed voice is, and how like the nearest other speaker's. Per job:
//! loudness of the source and the dub. Writes `qa.json`, and the audio of the worst lines
//! (`audio/`) for the report page; `crate::qa` adds the stage costs and writes the report.
//!
//! The round-trip windows are units (kept as they finish), like 04-transcribe's.

use super::transcribe::{transcribe_windows, WindowResult, WindowTask};
use crate::job::{unit_key, write_json};
use crate::render::LinePlacement;
use crate::runner::{JobCx, Stage};
use crate::translate::TranslatedLine;
use redub_core::{Audio, Error, Result, Span, Word};
use redub_qa::{LineInput, LineQa, QaReport};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "11-qa", version: 1, inputs, run, after: None, still_valid: None };

/// Lines whose audio goes into the report page, worst first.
pub const REPORT_LINES: usize = redub_qa::html::REPORT_LINES;
/// The likeness embedding is taken over at most this much of a speaker's dubbed speech.
const LIKENESS_MAX_MS: u64 = 30_000;
/// The round trip's audio rate (Whisper's).
const RATE: u32 = 16_000;

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({
        "up": [cx.key("09-render")?, cx.key("08-synthesize")?, cx.key("07-voices")?, cx.key("01-ingest")?],
        "to": cx.req.to,
        "round_trip": cx.backends.identity("round_trip"),
        "embedding": cx.backends.identity("voices"),
        "unintelligible_cer": redub_qa::UNINTELLIGIBLE_CER,
    }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let render: crate::stages::render::RenderReport = cx.read("09-render", "report.json")?;
    let lines = cx.lines()?;
    let dub_wav = cx.dir("09-render").join("dub.wav");
    let dub16k = dir.join("dub16k.wav");
    redub_media::extract_audio(&dub_wav, &dub16k, Some(RATE), true)?;
    let dubbed = redub_media::read_wav_mono(&dub16k)?;
    let heard = round_trip(cx, &dubbed, &render.lines)?;
    let mut report = QaReport {
        input_ms: cx.probe.duration_ms,
        from: cx.from_lang()?,
        to: cx.req.to.clone(),
        ..QaReport::default()
    };
    report.round_trip.lang = cx.req.to.clone();
    for p in &render.lines {
        let Some(l) = lines.iter().find(|l| l.id == p.id) else { continue };
        let words = heard.get(&p.id).map(Vec::as_slice).unwrap_or_default();
        report.lines.push(LineQa::new(line_input(l, p), words, redub_qa::UNINTELLIGIBLE_CER));
    }
    report.speakers = likeness(cx, &lines)?;
    report.loudness = redub_qa::LoudnessPair {
        source: redub_qa::measure_file(&cx.dir("01-ingest").join("mix.wav"))?,
        output: redub_qa::measure_file(&dub_wav)?,
    };
    report.summarize();
    write_report_audio(cx, &report, &dubbed, &dir.join("audio"))?;
    drop(dubbed);
    // The 16 kHz copy was only for Whisper and the players.
    let _ = std::fs::remove_file(&dub16k);
    write_json(&dir.join("qa.json"), &report)
}

/// What the qa crate needs of one line: its translation and its placement.
fn line_input(l: &TranslatedLine, p: &LinePlacement) -> LineInput {
    let mut flags = l.flags.clone();
    redub_core::add_flags(&mut flags, &p.flags);
    LineInput {
        id: l.id,
        speaker: l.speaker.clone(),
        start_ms: l.start_ms,
        end_ms: l.end_ms,
        clip_start_ms: p.clip_start_ms,
        clip_ms: p.clip_ms,
        natural_ms: p.natural_ms,
        stretch: p.stretch,
        engine_speed: p.engine_speed,
        flags,
        source_text: l.source_text.clone(),
        target_text: l.target_text.clone(),
    }
}

/// The words Whisper hears over each line's clip in `dubbed` (16 kHz), by line id. The clips
/// are the regions, so the transcriber packs them into its usual windows.
fn round_trip(
    cx: &JobCx,
    dubbed: &Audio,
    placed: &[LinePlacement],
) -> Result<std::collections::BTreeMap<u32, Vec<Word>>> {
    let clips: Vec<(u32, u64, u64)> =
        placed.iter().filter(|p| p.clip_ms > 0).map(|p| (p.id, p.clip_start_ms, p.clip_start_ms + p.clip_ms)).collect();
    let regions = merged_regions(&clips, dubbed.duration_ms());
    let mut asr = cx.backends.round_trip_transcriber()?;
    let windows = asr.plan(&regions);
    let units = cx.job.units(STAGE.name);
    let backend = cx.backends.identity("round_trip");
    let progress = cx.events().progress_fn(STAGE.name);
    let side_by_side = super::transcribe::windows_per_call();
    let tasks: Vec<WindowTask> =
        windows.into_iter().map(|regions| WindowTask { regions, lang: Some(cx.req.to.clone()) }).collect();
    let mut words = Vec::new();
    for (i, batch) in tasks.chunks(side_by_side).enumerate() {
        progress((i * side_by_side) as u64, tasks.len() as u64 + 1);
        // The dub's audio is named by the render's key: a window is reused only over the same track.
        let key = unit_key(&json!({ "backend": backend, "render": cx.key("09-render")?, "tasks": batch }));
        let results = match units.get::<Vec<WindowResult>>(&key) {
            Some(r) => r,
            None => {
                let r = transcribe_windows(asr.as_mut(), dubbed, batch)?;
                units.put(&key, &r)?;
                r
            }
        };
        words.extend(results.into_iter().flat_map(|r| r.segments).flat_map(segment_words));
    }
    progress(tasks.len() as u64, tasks.len() as u64 + 1);
    Ok(redub_qa::assign_words(&clips, &words))
}

/// A segment's words; a transcriber without word times gives its segment as one word.
fn segment_words(s: redub_core::Segment) -> Vec<Word> {
    if s.words.is_empty() {
        vec![Word { text: s.text, start_ms: s.start_ms, end_ms: s.end_ms, p: s.confidence }]
    } else {
        s.words
    }
}

/// The clips' spans, clipped to the track and joined where they touch or overlap.
fn merged_regions(clips: &[(u32, u64, u64)], track_ms: u64) -> Vec<Span> {
    let mut spans: Vec<Span> = clips
        .iter()
        .map(|c| Span::new(c.1.min(track_ms), c.2.min(track_ms)))
        .filter(|s| s.end_ms > s.start_ms)
        .collect();
    spans.sort_by_key(|s| s.start_ms);
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start_ms <= last.end_ms => last.end_ms = last.end_ms.max(s.end_ms),
            _ => out.push(s),
        }
    }
    out
}

/// Each speaker's dubbed clips (as synthesised, up to [`LIKENESS_MAX_MS`]) against every
/// speaker's source reference (07-voices' `refs/`); nothing without an embedder.
fn likeness(cx: &JobCx, lines: &[TranslatedLine]) -> Result<Vec<redub_qa::SpeakerQa>> {
    let Some(mut embedder) = cx.backends.embedder()? else { return Ok(Vec::new()) };
    let clips: Vec<crate::stages::synthesize::ClipEntry> = cx.read("08-synthesize", "clips.json")?;
    let clips_dir = cx.dir("08-synthesize").join("clips");
    let speaker_of: std::collections::HashMap<u32, &str> = lines.iter().map(|l| (l.id, l.speaker.as_str())).collect();
    let (mut dubbed, mut sources) = (Vec::new(), Vec::new());
    for sp in crate::stages::synthesize::speakers_in_order(lines) {
        let reference = cx.dir("07-voices").join("refs").join(format!("{sp}.wav"));
        if let Some(e) = embedder.embed(&redub_dsp::resample(&redub_media::read_wav_mono(&reference)?, RATE)?)? {
            sources.push((sp.clone(), e));
        }
        let mut samples = Vec::new();
        for c in clips.iter().filter(|c| speaker_of.get(&c.id) == Some(&sp.as_str())) {
            if samples.len() as u64 >= LIKENESS_MAX_MS * u64::from(RATE) / 1000 {
                break;
            }
            samples.extend(redub_dsp::resample(&redub_media::read_wav_mono(&clips_dir.join(&c.file))?, RATE)?.samples);
        }
        let audio = Audio::new(RATE, samples);
        if let Some(e) = embedder.embed(&audio)? {
            dubbed.push((sp.clone(), e, audio.duration_ms()));
        }
    }
    Ok(redub_qa::likeness(&dubbed, &sources))
}

/// The original (16 kHz analysis audio over the slot) and the dub (over the clip) of the lines
/// the report page lists, as `audio/<id>.orig.wav` and `audio/<id>.dub.wav`.
fn write_report_audio(cx: &JobCx, report: &QaReport, dubbed: &Audio, dir: &Path) -> Result<()> {
    let ids = redub_qa::html::worst_lines(report, REPORT_LINES);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let speech = cx.speech()?;
    for l in report.lines.iter().filter(|l| ids.contains(&l.line.id)) {
        let cut = |a: &Audio, from: u64, to: u64| Audio::new(a.rate, a.slice_ms(from, to).to_vec());
        let src = cut(speech, l.line.start_ms, l.line.end_ms);
        let dub = cut(dubbed, l.line.clip_start_ms, l.line.clip_start_ms + l.line.clip_ms);
        redub_media::write_wav_i16(&dir.join(format!("{}.orig.wav", l.line.id)), &src)?;
        redub_media::write_wav_i16(&dir.join(format!("{}.dub.wav", l.line.id)), &dub)?;
    }
    Ok(())
}
