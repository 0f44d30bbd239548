//! 07-voices: one voice per speaker, chosen before any line is spoken so that it can be listed
//! and pinned (`redub voices JOB`, `--voice`), with each speaker's reference sample. With stock
//! voices every candidate reads a probe text; in a language with a fixed probe
//! ([`crate::voices::fixed_probe_text`]) that reading is the same for every job and is kept in
//! the shared cache, so a job only adapts and embeds.

use crate::config::VoiceConfig;
use crate::job::{unit_key, write_json};
use crate::runner::{JobCx, Stage};
use crate::voices::{self as choice, SpeakerVoice, VoiceMap};
use redub_core::{Audio, Error, Result, Synthesizer, Turn};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "07-voices", version: 3, inputs, run, after: Some(after), still_valid: None };

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    let req = cx.req;
    Ok(json!({
        "up": [cx.key("01-ingest")?, cx.key("03-separate")?, cx.key("05-diarize")?, cx.key("06-translate")?],
        "voices": req.voices.identity(),
        "pins": req.voice_pins,
        "reference_max_ms": req.reference_max_ms,
        "to": req.to,
        "synthesizer": cx.backends.probe_identity(),
        "backend": cx.backends.identity("voices"),
    }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let req = cx.req;
    let lines = cx.lines()?;
    let speakers = super::synthesize::speakers_in_order(&lines);
    let samples = reference_samples(cx, dir, &speakers)?;
    // Speaker ids come from diarization, so a pin may name one this run did not find.
    for sp in req.voice_pins.keys().filter(|p| !speakers.contains(p)) {
        cx.events().emit(
            "warning",
            json!({ "stage": STAGE.name, "message": format!("--voice {sp}=…: no speaker {sp} in this job (speakers: {}); the pin is ignored", speakers.join(", ")) }),
        );
    }
    let entry = |sp: &str, sample: &Audio, voice: String, pinned: bool| SpeakerVoice {
        backend: req.voices.name().to_string(),
        voice,
        pinned,
        reference: format!("refs/{sp}.wav"),
        reference_ms: sample.duration_ms(),
        speaker_f0_hz: redub_dsp::f0_median(&sample.samples, sample.rate),
        voice_f0_hz: None,
        similarity: None,
    };
    let mut map = VoiceMap::new();
    if matches!(req.voices, VoiceConfig::Stock) {
        let texts: Vec<&str> = lines.iter().map(|l| l.target_text.as_str()).collect();
        let probes = stock_probes(cx, dir, &texts)?;
        let mut embedder = cx.backends.embedder()?;
        let choices = choice::choose_stock_voices(&samples, &probes, &req.voice_pins, embedder.as_deref_mut())?;
        for (c, (sp, sample)) in choices.iter().zip(&samples) {
            let mut e = entry(sp, sample, c.voice.clone(), c.pinned);
            let probe = probes.iter().find(|(v, _)| *v == c.voice).map(|(_, a)| a);
            e.voice_f0_hz = probe.and_then(|a| redub_dsp::f0_median(&a.samples, a.rate));
            e.similarity = c.similarity;
            map.insert(sp.clone(), e);
        }
        if probes.len() < speakers.len() {
            cx.events().emit(
                "warning",
                json!({ "message": format!("{} speakers but {} stock voices for {}: some speakers share a voice (adapted apart)", speakers.len(), probes.len(), req.to) }),
            );
        }
    } else {
        for (sp, sample) in &samples {
            let pin = req.voice_pins.get(sp);
            map.insert(sp.clone(), entry(sp, sample, pin.cloned().unwrap_or_default(), pin.is_some()));
        }
    }
    write_json(&dir.join("voices.json"), &map)
}

/// `refs/<speaker>.wav` for every speaker: their own speech with overlaps cut out, longest
/// pieces first (see [`choice::reference_spans`]).
fn reference_samples(cx: &JobCx, dir: &Path, speakers: &[String]) -> Result<Vec<(String, Audio)>> {
    let turns: Vec<Turn> = cx.read("05-diarize", "turns.json")?;
    let lines = cx.lines()?;
    // The separated speech: no music or effects go to a cloning service or into the voice match.
    let original = redub_media::read_wav_mono(&super::separate::speech_file(cx))?;
    let refs = dir.join("refs");
    std::fs::create_dir_all(&refs).map_err(|e| Error::io(&refs, e))?;
    let mut samples = Vec::new();
    for sp in speakers {
        let mut spans = choice::reference_spans(&turns, sp, cx.req.reference_max_ms);
        if spans.is_empty() {
            // No turn of this speaker (no speech found by diarization): their lines.
            let own: Vec<Turn> =
                lines.iter().filter(|l| &l.speaker == sp).map(|l| Turn::new(l.start_ms, l.end_ms, sp)).collect();
            spans = choice::reference_spans(&own, sp, cx.req.reference_max_ms);
        }
        let sample = choice::reference_sample(&original, &spans)?;
        redub_media::write_wav(&refs.join(format!("{sp}.wav")), &sample)?;
        samples.push((sp.clone(), sample));
    }
    Ok(samples)
}

/// Every stock voice reading the probe text, as `probes/<voice>.wav`: from the shared cache
/// when this engine has read this text in this voice before.
fn stock_probes(cx: &JobCx, dir: &Path, lines: &[&str]) -> Result<Vec<(String, Audio)>> {
    let lang = &cx.req.to;
    let text = match choice::fixed_probe_text(lang) {
        Some(t) => t.to_string(),
        None => choice::probe_text(lines),
    };
    let probes_dir = dir.join("probes");
    std::fs::create_dir_all(&probes_dir).map_err(|e| Error::io(&probes_dir, e))?;
    let progress = cx.events().progress_fn(STAGE.name);
    // Loading the engine names the voices; Kokoro builds its ONNX Runtime session only when a
    // probe is not in the shared cache and has to be read.
    let mut tts = cx.backends.probe_synthesizer(lang)?;
    let names = tts.voices(lang);
    let mut probes = Vec::new();
    for (i, v) in names.iter().enumerate() {
        progress(i as u64, names.len() as u64);
        let audio = reading(cx, tts.as_mut(), v, &text)?;
        redub_media::write_wav(&probes_dir.join(format!("{v}.wav")), &audio)?;
        probes.push((v.clone(), audio));
    }
    progress(names.len() as u64, names.len() as u64);
    Ok(probes)
}

/// Each speaker's voice, for every listener.
fn after(cx: &JobCx) -> Result<()> {
    let map: VoiceMap = cx.read(STAGE.name, "voices.json")?;
    for (sp, v) in &map {
        cx.events().emit("voice", json!({ "speaker": sp, "voice": v.voice, "backend": v.backend, "pinned": v.pinned }));
    }
    Ok(())
}

/// `voice` reading `text` at natural speed: from the shared cache when this engine has read it
/// before (fixed probe texts are the same in every job), else spoken and kept there.
pub(crate) fn reading(cx: &JobCx, tts: &mut dyn Synthesizer, voice: &str, text: &str) -> Result<Audio> {
    let lang = &cx.req.to;
    let key = unit_key(&json!([cx.backends.probe_identity(), lang, voice, text]));
    let cached = cx.backends.shared_cache().map(|c| c.join("voice-probes").join(format!("{key}.wav")));
    if let Some(Ok(a)) = cached.as_ref().filter(|p| p.is_file()).map(|p| redub_media::read_wav_mono(p)) {
        return Ok(a);
    }
    let a = tts.synthesize(text, lang, voice, 1.0)?;
    if let Some(p) = &cached {
        // The cache saves time; failing to fill it is not the job's failure.
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = redub_media::write_wav(p, &a);
    }
    Ok(a)
}
