//! 06-translate: each line in the target language within its word budget, with review flags.
//! The windows, budgets and checks are in `crate::translate`.

use super::DEFAULT_SPEAKER;
use crate::job::write_json;
use crate::runner::{JobCx, Stage};
use crate::translate::{flag_over_time, translate_segments, TranslatedLine, WINDOW};
use redub_core::{Ctx, Result, Segment, Synthesizer, Translator};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "06-translate", version: 2, inputs, run, after: Some(after), still_valid: None };

fn settings(cx: &JobCx) -> redub_translate::LlmSettings {
    redub_translate::LlmSettings {
        glossary: cx.glossary.clone(),
        register: cx.req.register.clone(),
        ..Default::default()
    }
}

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    let req = cx.req;
    Ok(json!({
        "up": cx.key("05-diarize")?,
        "from": cx.from_lang()?,
        "to": req.to,
        "translator": req.translator.identity(),
        "backend": cx.backends.identity("translate"),
        "glossary": cx.glossary,
        "register": req.register,
        "temperature": settings(cx).temperature,
        // The timing check speaks lines with the synthesizer.
        "synthesizer": cx.backends.probe_identity(),
    }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let (req, from) = (cx.req, cx.from_lang()?);
    let segments = cx.segments()?;
    let mut translator = cx.backends.translator(&req.translator, &settings(cx), &from, &req.to)?;
    let mut tts = cx.backends.probe_synthesizer(&req.to)?;
    let voice = tts.voices(&req.to).into_iter().next().unwrap_or_default();
    let progress = cx.events().progress_fn(STAGE.name);
    let (wps, measured) = budget_rate(cx, translator.as_mut(), tts.as_mut(), &voice, &segments)?;
    let mut lines = translate_segments(
        translator.as_mut(),
        &segments,
        &from,
        &req.to,
        wps,
        &cx.glossary,
        DEFAULT_SPEAKER,
        &Ctx::new(&progress, None),
    )?;
    // A check, not the product: if the voice cannot be measured the translations are kept and
    // synthesis will report the real problem.
    let rate = match speech_rate(cx, tts.as_mut(), &voice, &lines) {
        Ok(r) => r,
        Err(e) => {
            cx.events()
                .emit("warning", json!({ "stage": STAGE.name, "message": format!("timing check skipped: {e}") }));
            None
        }
    };
    if let Some(rate) = rate {
        flag_over_time(&mut lines, |t| rate.estimate_ms(t));
    }
    write_json(
        &dir.join("rate.json"),
        &json!({ "words_per_second": wps, "measured": measured, "voice": voice, "speech": rate }),
    )?;
    write_json(&dir.join("translations.json"), &lines)
}

/// The timing check's rate: the voice's time per letter, which predicts every line's spoken
/// length before synthesis. Measured on the language's fixed probe text where there is one
/// (the voices stage reads the same text, and the shared cache keeps the reading for every
/// job), else on the longest translations.
fn speech_rate(
    cx: &JobCx,
    tts: &mut dyn Synthesizer,
    voice: &str,
    lines: &[TranslatedLine],
) -> Result<Option<redub_tts::SpeechRate>> {
    if let Some(text) = crate::voices::fixed_probe_text(&cx.req.to) {
        let take = super::voices::reading(cx, tts, voice, text)?;
        return Ok(redub_tts::SpeechRate::of_take(text, take.duration_ms(), redub_translate::word_count));
    }
    let mut longest: Vec<&str> = lines.iter().map(|l| l.target_text.as_str()).collect();
    longest.sort_by_key(|t| std::cmp::Reverse(redub_tts::rate::spoken_chars(t)));
    longest.truncate(4);
    redub_tts::measure_rate(tts, &cx.req.to, voice, &longest, redub_translate::word_count)
}

/// Budgets need a speaking rate. Languages outside DESIGN's table get the rate of the voice
/// that will speak them: the first window is translated at the default rate, spoken and
/// measured; then every line is translated with the measured rate.
fn budget_rate(
    cx: &JobCx,
    translator: &mut dyn Translator,
    tts: &mut dyn Synthesizer,
    voice: &str,
    segments: &[Segment],
) -> Result<(f64, bool)> {
    let (req, from) = (cx.req, cx.from_lang()?);
    if let Some(r) = redub_core::lang::table_rate(&req.to) {
        return Ok((r, false));
    }
    let first = &segments[..segments.len().min(WINDOW)];
    let default = redub_core::lang::words_per_second(&req.to);
    let probe =
        translate_segments(translator, first, &from, &req.to, default, &cx.glossary, DEFAULT_SPEAKER, &Ctx::quiet())?;
    let texts: Vec<&str> = probe.iter().map(|l| l.target_text.as_str()).collect();
    let rate = redub_tts::measure_rate(tts, &req.to, voice, &texts, redub_translate::word_count)?;
    Ok((rate.map_or(default, |r| r.words_per_second), true))
}

/// Every line with its translation and flags, for the live transcript.
fn after(cx: &JobCx) -> Result<()> {
    let lines: Vec<TranslatedLine> = cx.lines()?;
    for l in &lines {
        cx.events().emit("segment", json!({ "id": l.id, "speaker": l.speaker, "start_ms": l.start_ms, "end_ms": l.end_ms, "text": l.source_text, "target_text": l.target_text, "flags": l.flags, "note": l.note }));
    }
    Ok(())
}
