//! `dub`: the whole job, stage by stage (DESIGN §1). Each stage reads the previous stages'
//! files from the job folder and writes its own; see `job.rs` for how finished stages are kept.

use crate::backends::Backends;
use crate::config::{TranslatorConfig, VoiceConfig};
use crate::events::EventSink;
use crate::job::{read_json, write_json, Job};
use crate::render::{self, Clip, LinePlacement};
pub use crate::translate::TranslatedLine;
use crate::voices::{SpeakerVoice, VoiceMap};
use redub_core::{Audio, Ctx, Error, Result, Segment, Span};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The engine is asked to speak at most this much faster; time-stretch does the rest...
const MAX_ENGINE_SPEED: f64 = 1.25;
/// ...unless its natural take is slower than the language's native pace
/// ([`redub_core::lang::syllables_per_second`]): Kokoro's speed 1.0 reads Spanish at 3.4–6.5
/// syllables a second, where Spanish speakers average 7.8. Such a line may be sped up to that
/// pace, but never past this.
const ENGINE_SPEED_CEILING: f64 = 1.5;
/// Synthesis calls per line at most, natural speed included: a local engine may refine its
/// speed twice; a cloning service bills each call, so it gets one faster take.
const STOCK_CALLS: usize = 3;
const SERVICE_CALLS: usize = 2;
/// Version of the synthesize stage and of its clips: bumped when the fitting changes, so old
/// clips are made again rather than reused.
const SYNTH_VERSION: u32 = 2;
/// Speaker of lines when diarization found no speech at all (Whisper heard something anyway).
const DEFAULT_SPEAKER: &str = "S1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DubRequest {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Source language; detected when `None`.
    pub from: Option<String>,
    pub to: String,
    /// Keep the original audio as a second track.
    pub keep_original_audio: bool,
    /// Folder that holds job folders.
    pub jobs_dir: PathBuf,
    /// Speaker counts, chunking and thresholds for diarization.
    #[serde(default)]
    pub diarize: redub_diarize::DiarizeSettings,
    /// Which translator, and how it is reached.
    #[serde(default)]
    pub translator: TranslatorConfig,
    /// Glossary file (`source<TAB>target` lines; see `redub_translate::glossary`).
    #[serde(default)]
    pub glossary: Option<PathBuf>,
    /// Formality, by default and per speaker.
    #[serde(default)]
    pub register: redub_translate::Register,
    /// Who gives the speakers their voices: stock voices adapted offline, or a cloning service.
    #[serde(default)]
    pub voices: VoiceConfig,
    /// Speaker → voice, chosen by hand (`--voice S1=jf_alpha`); the others are matched.
    #[serde(default)]
    pub voice_pins: std::collections::BTreeMap<String, String>,
    /// Longest reference sample per speaker.
    #[serde(default = "default_reference_ms")]
    pub reference_max_ms: u64,
}

impl DubRequest {
    /// A request with every setting at its default: detected source language, stock voices,
    /// Apertium, no glossary.
    pub fn new(input: PathBuf, output: PathBuf, to: &str, jobs_dir: PathBuf) -> Self {
        Self {
            input,
            output,
            from: None,
            to: to.to_string(),
            keep_original_audio: false,
            jobs_dir,
            diarize: Default::default(),
            translator: Default::default(),
            glossary: None,
            register: Default::default(),
            voices: Default::default(),
            voice_pins: Default::default(),
            reference_max_ms: DEFAULT_REFERENCE_MS,
        }
    }
}

/// Enough for a stable pitch and timbre profile, and within what cloning services take.
pub const DEFAULT_REFERENCE_MS: u64 = 60_000;

fn default_reference_ms() -> u64 {
    DEFAULT_REFERENCE_MS
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DubSummary {
    pub job_dir: PathBuf,
    pub output: PathBuf,
    pub subtitles: Vec<PathBuf>,
    pub from: String,
    pub to: String,
    pub lines: usize,
    pub skipped_stages: Vec<String>,
    /// Lines with review flags (translation checks and the render's `does_not_fit`).
    pub review: Vec<ReviewLine>,
}

/// A line a person should look at, and why.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReviewLine {
    pub id: u32,
    pub speaker: String,
    pub start_ms: u64,
    pub source_text: String,
    pub target_text: String,
    pub flags: Vec<redub_core::Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ClipEntry {
    id: u32,
    file: String,
    voice: String,
    engine_speed: f32,
    natural_ms: u64,
}

/// Stable id for the same input and languages, so rerunning the same command resumes.
pub fn job_id(input: &Path, from: Option<&str>, to: &str) -> String {
    let abs = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf());
    let mut h = Sha256::new();
    h.update(abs.to_string_lossy().as_bytes());
    h.update(from.unwrap_or("auto").as_bytes());
    h.update(to.as_bytes());
    let stem: String = input
        .file_stem()
        .map(|s| s.to_string_lossy().chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' }).collect())
        .unwrap_or_else(|| "job".into());
    format!("{stem}-{to}-{}", &hex::encode(h.finalize())[..8])
}

pub fn dub(req: &DubRequest, backends: &dyn Backends, events: EventSink) -> Result<DubSummary> {
    // Everything that can be refused is refused before a job folder exists.
    let probe = redub_media::check_input(&req.input)?;
    backends.check_pair(&req.translator, req.from.as_deref(), &req.to)?;
    req.diarize.limits()?;
    req.voices.check(&req.to)?;
    if req.reference_max_ms < crate::voices::MIN_REFERENCE_MS {
        return Err(Error::Usage(format!(
            "the reference sample limit is {} ms; it must be at least {} ms",
            req.reference_max_ms,
            crate::voices::MIN_REFERENCE_MS
        )));
    }
    let glossary = match &req.glossary {
        Some(p) => redub_translate::Glossary::read(p)?,
        None => redub_translate::Glossary::default(),
    };
    if let Some(parent) = req.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(Error::Input {
                path: req.output.clone(),
                problem: "the output folder does not exist".into(),
                fix: "create it or pass another -o path".into(),
            });
        }
    }
    let id = job_id(&req.input, req.from.as_deref(), &req.to);
    let job = Job::open(&req.jobs_dir.join(&id), &id, &serde_json::to_value(req).unwrap_or_default(), events)?;
    let ev = &job.events;
    ev.emit("job_started", json!({ "input": req.input, "to": req.to, "job_dir": job.dir }));
    let mut skipped = Vec::new();
    let mut note = |r: &crate::job::StageResult, name: &str| {
        if r.skipped {
            skipped.push(name.to_string());
        }
    };

    // ---- 01 ingest ------------------------------------------------------------------------
    let meta = std::fs::metadata(&req.input).map_err(|e| Error::io(&req.input, e))?;
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as u64);
    let input_abs = std::fs::canonicalize(&req.input).unwrap_or_else(|_| req.input.clone());
    let ingest =
        job.stage("01-ingest", 1, json!({ "input": input_abs, "bytes": meta.len(), "mtime_ms": mtime }), |dir| {
            write_json(&dir.join("probe.json"), &probe)?;
            redub_media::extract_audio(&req.input, &dir.join("speech16k.wav"), Some(16_000), true)?;
            redub_media::extract_audio(&req.input, &dir.join("mix.wav"), None, false)
        })?;
    note(&ingest, "01-ingest");
    // The analysis audio is read only if a stage that needs it runs (a resumed job may skip both).
    let speech_cell = std::cell::OnceCell::new();
    let speech = || -> Result<&Audio> {
        if let Some(a) = speech_cell.get() {
            return Ok(a);
        }
        let a = redub_media::read_wav_mono(&ingest.dir.join("speech16k.wav"))?;
        Ok(speech_cell.get_or_init(|| a))
    };

    // ---- 02 vad ---------------------------------------------------------------------------
    let vad = job.stage("02-vad", 1, json!({ "up": ingest.key, "backend": backends.identity("vad") }), |dir| {
        let mut vad = backends.vad()?;
        let progress = ev.progress_fn("02-vad");
        let regions = vad.detect(speech()?, &Ctx::new(&progress, None))?;
        write_json(&dir.join("regions.json"), &regions)
    })?;
    note(&vad, "02-vad");
    let regions: Vec<Span> = read_json(&vad.dir.join("regions.json"))?;

    // ---- 03 transcribe --------------------------------------------------------------------
    let asr = job.stage(
        "03-transcribe",
        1,
        json!({ "up": vad.key, "from": req.from, "backend": backends.identity("transcribe") }),
        |dir| {
            let mut asr = backends.transcriber()?;
            let progress = ev.progress_fn("03-transcribe");
            let segments = asr.transcribe(speech()?, &regions, req.from.as_deref(), &Ctx::new(&progress, None))?;
            write_json(&dir.join("segments.json"), &segments)
        },
    )?;
    note(&asr, "03-transcribe");
    let transcript: Vec<Segment> = read_json(&asr.dir.join("segments.json"))?;
    let from = req.from.clone().or_else(|| transcript.first().map(|s| s.lang.clone())).unwrap_or_else(|| "en".into());

    // ---- 04 diarize -----------------------------------------------------------------------
    // After transcription so that changing speaker settings reruns neither VAD nor Whisper.
    let diar = job.stage(
        "04-diarize",
        2,
        json!({ "up": [vad.key, asr.key], "settings": req.diarize, "backend": backends.identity("diarize") }),
        |dir| {
            // Scene cuts only matter where the input is split into chunks.
            let cuts = if probe.video.is_some() && probe.duration_ms > req.diarize.chunk.max_ms {
                redub_media::scene_cuts(&req.input, redub_media::SCENE_THRESHOLD)?
            } else {
                Vec::new()
            };
            write_json(&dir.join("scene_cuts.json"), &cuts)?;
            let mut diarizer = backends.diarizer(&req.diarize)?;
            let progress = ev.progress_fn("04-diarize");
            let turns = diarizer.diarize(speech()?, &regions, &cuts, &Ctx::new(&progress, None))?;
            write_json(&dir.join("turns.json"), &turns)?;
            let uri = req.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
            redub_media::write_atomic(
                &dir.join("speakers.rttm"),
                redub_diarize::rttm::to_string(&uri, &turns).as_bytes(),
            )?;
            // Sentences with speakers, then dub lines: edges at the turns, a speaker's
            // consecutive sentences joined (see `redub_diarize::lines`).
            let mut segments = redub_diarize::label::label_segments(&transcript, &turns, DEFAULT_SPEAKER);
            redub_diarize::lines::retime(&mut segments, &turns);
            write_json(&dir.join("segments.json"), &redub_diarize::lines::merge(segments))
        },
    )?;
    note(&diar, "04-diarize");
    let segments: Vec<Segment> = read_json(&diar.dir.join("segments.json"))?;
    for s in &segments {
        ev.emit(
            "segment",
            json!({ "id": s.id, "speaker": s.speaker, "start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text }),
        );
    }
    // The source language may only be known now; the pair is checked before translating.
    backends.check_pair(&req.translator, Some(&from), &req.to)?;

    // ---- 05 translate ---------------------------------------------------------------------
    let llm_settings = redub_translate::LlmSettings {
        glossary: glossary.clone(),
        register: req.register.clone(),
        ..Default::default()
    };
    let tr = job.stage(
        "05-translate",
        2,
        json!({
            "up": diar.key,
            "from": from,
            "to": req.to,
            "translator": req.translator.identity(),
            "backend": backends.identity("translate"),
            "glossary": glossary,
            "register": req.register,
            "temperature": llm_settings.temperature,
            // The timing check speaks lines with the synthesizer.
            "synthesizer": backends.identity("synthesize"),
        }),
        |dir| {
            let mut translator = backends.translator(&req.translator, &llm_settings, &from, &req.to)?;
            let mut tts = backends.synthesizer(&req.to)?;
            let voice = tts.voices(&req.to).into_iter().next().unwrap_or_default();
            let progress = ev.progress_fn("05-translate");
            let ctx = Ctx::new(&progress, None);
            // Budgets need a speaking rate. Languages outside DESIGN's table get the rate of the
            // voice that will speak them: the first window is translated at 2.5 words/s, spoken
            // and measured; then every line is translated with the measured rate.
            let (wps, measured) = match redub_core::lang::table_rate(&req.to) {
                Some(r) => (r, false),
                None => {
                    let first = &segments[..segments.len().min(crate::translate::WINDOW)];
                    let default = redub_core::lang::words_per_second(&req.to);
                    let probe = crate::translate::translate_segments(
                        translator.as_mut(),
                        first,
                        &from,
                        &req.to,
                        default,
                        &glossary,
                        DEFAULT_SPEAKER,
                        &Ctx::quiet(),
                    )?;
                    let texts: Vec<&str> = probe.iter().map(|l| l.target_text.as_str()).collect();
                    let rate =
                        redub_tts::measure_rate(tts.as_mut(), &req.to, &voice, &texts, redub_translate::word_count)?;
                    (rate.map_or(default, |r| r.words_per_second), true)
                }
            };
            let mut lines = crate::translate::translate_segments(
                translator.as_mut(),
                &segments,
                &from,
                &req.to,
                wps,
                &glossary,
                DEFAULT_SPEAKER,
                &ctx,
            )?;
            // The timing check: the voice's time per letter, measured on the longest
            // translations, predicts every line's spoken length before synthesis.
            let mut longest: Vec<&str> = lines.iter().map(|l| l.target_text.as_str()).collect();
            longest.sort_by_key(|t| std::cmp::Reverse(redub_tts::rate::spoken_chars(t)));
            longest.truncate(4);
            // A check, not the product: if the voice cannot be measured the translations are
            // kept and synthesis will report the real problem.
            let rate =
                match redub_tts::measure_rate(tts.as_mut(), &req.to, &voice, &longest, redub_translate::word_count) {
                    Ok(r) => r,
                    Err(e) => {
                        ev.emit(
                            "warning",
                            json!({ "stage": "05-translate", "message": format!("timing check skipped: {e}") }),
                        );
                        None
                    }
                };
            if let Some(rate) = rate {
                crate::translate::flag_over_time(&mut lines, |t| rate.estimate_ms(t));
            }
            write_json(
                &dir.join("rate.json"),
                &json!({ "words_per_second": wps, "measured": measured, "voice": voice, "speech": rate }),
            )?;
            write_json(&dir.join("translations.json"), &lines)
        },
    )?;
    note(&tr, "05-translate");
    let lines: Vec<TranslatedLine> = read_json(&tr.dir.join("translations.json"))?;
    for l in &lines {
        ev.emit("segment", json!({ "id": l.id, "speaker": l.speaker, "start_ms": l.start_ms, "end_ms": l.end_ms, "text": l.source_text, "target_text": l.target_text, "flags": l.flags, "note": l.note }));
    }

    // ---- 06 voices ------------------------------------------------------------------------
    // One voice per speaker, chosen before any line is spoken so that it can be listed and
    // pinned (`redub voices JOB`, `--voice`), with each speaker's reference sample.
    let vo = job.stage(
        "06-voices",
        2,
        json!({
            "up": [ingest.key, diar.key, tr.key],
            "voices": req.voices.identity(),
            "pins": req.voice_pins,
            "reference_max_ms": req.reference_max_ms,
            "to": req.to,
            "synthesizer": backends.identity("synthesize"),
            "backend": backends.identity("voices"),
        }),
        |dir| {
            let turns: Vec<redub_core::Turn> = read_json(&diar.dir.join("turns.json"))?;
            let (rate, channels, mix) = redub_media::read_wav(&ingest.dir.join("mix.wav"))?;
            let original = Audio::new(rate, redub_media::downmix(&mix, channels));
            let speakers = speakers_in_order(&lines);
            let refs = dir.join("refs");
            std::fs::create_dir_all(&refs).map_err(|e| Error::io(&refs, e))?;
            let mut samples = Vec::new();
            for sp in &speakers {
                let mut spans = crate::voices::reference_spans(&turns, sp, req.reference_max_ms);
                if spans.is_empty() {
                    // No turn of this speaker (no speech found by diarization): their lines.
                    let own: Vec<redub_core::Turn> = lines
                        .iter()
                        .filter(|l| &l.speaker == sp)
                        .map(|l| redub_core::Turn::new(l.start_ms, l.end_ms, sp))
                        .collect();
                    spans = crate::voices::reference_spans(&own, sp, req.reference_max_ms);
                }
                let sample = crate::voices::reference_sample(&original, &spans)?;
                redub_media::write_wav(&refs.join(format!("{sp}.wav")), &sample)?;
                samples.push((sp.clone(), sample));
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
            // Speaker ids come from diarization, so a pin may name one this run did not find.
            for sp in req.voice_pins.keys().filter(|p| !speakers.contains(p)) {
                ev.emit(
                    "warning",
                    json!({ "stage": "06-voices", "message": format!("--voice {sp}=…: no speaker {sp} in this job (speakers: {}); the pin is ignored", speakers.join(", ")) }),
                );
            }
            let mut map = VoiceMap::new();
            if matches!(req.voices, VoiceConfig::Stock) {
                let mut tts = backends.synthesizer(&req.to)?;
                let names = tts.voices(&req.to);
                // Every candidate reads the same text, taken from the lines it will speak.
                let texts: Vec<&str> = lines.iter().map(|l| l.target_text.as_str()).collect();
                let text = crate::voices::probe_text(&texts);
                let probes_dir = dir.join("probes");
                std::fs::create_dir_all(&probes_dir).map_err(|e| Error::io(&probes_dir, e))?;
                let progress = ev.progress_fn("06-voices");
                let mut probes = Vec::new();
                for (i, v) in names.iter().enumerate() {
                    progress(i as u64, names.len() as u64 + 1);
                    let a = tts.synthesize(&text, &req.to, v, 1.0)?;
                    redub_media::write_wav(&probes_dir.join(format!("{v}.wav")), &a)?;
                    probes.push((v.clone(), a));
                }
                let mut embedder = backends.embedder()?;
                progress(names.len() as u64, names.len() as u64 + 1);
                let choices =
                    crate::voices::choose_stock_voices(&samples, &probes, &req.voice_pins, embedder.as_deref_mut())?;
                progress(names.len() as u64 + 1, names.len() as u64 + 1);
                for (c, (sp, sample)) in choices.iter().zip(&samples) {
                    let mut e = entry(sp, sample, c.voice.clone(), c.pinned);
                    let probe = probes.iter().find(|(v, _)| *v == c.voice).map(|(_, a)| a);
                    e.voice_f0_hz = probe.and_then(|a| redub_dsp::f0_median(&a.samples, a.rate));
                    e.similarity = c.similarity;
                    map.insert(sp.clone(), e);
                }
                if names.len() < speakers.len() {
                    ev.emit(
                        "warning",
                        json!({ "message": format!("{} speakers but {} stock voices for {}: some speakers share a voice (adapted apart)", speakers.len(), names.len(), req.to) }),
                    );
                }
            } else {
                for (sp, sample) in &samples {
                    let pin = req.voice_pins.get(sp);
                    map.insert(sp.clone(), entry(sp, sample, pin.cloned().unwrap_or_default(), pin.is_some()));
                }
            }
            for (sp, v) in &map {
                ev.emit("voice", json!({ "speaker": sp, "voice": v.voice, "backend": v.backend, "pinned": v.pinned }));
            }
            write_json(&dir.join("voices.json"), &map)
        },
    )?;
    note(&vo, "06-voices");
    let voice_map: VoiceMap = read_json(&vo.dir.join("voices.json"))?;

    // ---- 07 synthesize --------------------------------------------------------------------
    let synth_dir = job.stage_dir("07-synthesize");
    let synth = job.stage(
        "07-synthesize",
        SYNTH_VERSION,
        // The lines themselves are in the key, not only the translate stage's key: a hand edit
        // of translations.json reruns this stage, and unchanged lines reuse their clips.
        json!({ "up": [tr.key, vo.key], "to": req.to, "backend": backends.identity("synthesize"), "lines": lines_digest(&lines) }),
        |dir| {
            let mut speaker_voices = SpeakerVoices::open(&vo.dir, &voice_map, &req.voices, backends, &req.to, &id)?;
            let result = (|| -> Result<()> {
                let progress = ev.progress_fn("07-synthesize");
                let clips_dir = dir.join("clips");
                std::fs::create_dir_all(&clips_dir).map_err(|e| Error::io(&clips_dir, e))?;
                // What the previous run of this stage made (read once; empty on a first run).
                let earlier: Vec<ClipEntry> = read_json(&synth_dir.join("clips.json")).unwrap_or_default();
                let mut entries = Vec::new();
                // Each speaker's last line: their clone is let go right after it, so an account
                // holds only the clones of speakers who still have lines to come.
                let mut last_line: std::collections::BTreeMap<&str, usize> = Default::default();
                for (i, l) in lines.iter().enumerate().filter(|(_, l)| !l.target_text.trim().is_empty()) {
                    last_line.insert(l.speaker.as_str(), i);
                }
                for (i, l) in lines.iter().enumerate() {
                    progress(i as u64, lines.len() as u64);
                    if l.target_text.trim().is_empty() {
                        continue;
                    }
                    let done_with_speaker = last_line.get(l.speaker.as_str()) == Some(&i);
                    let voice_key = speaker_voices.key(&l.speaker);
                    let mut h = Sha256::new();
                    h.update(
                        format!(
                            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{SYNTH_VERSION}",
                            l.target_text,
                            speaker_voices.fingerprint(&l.speaker),
                            req.to,
                            l.end_ms - l.start_ms
                        )
                        .as_bytes(),
                    );
                    let file = format!("{}-{}.wav", l.id, &hex::encode(h.finalize())[..10]);
                    // A clip made by an earlier run for the same text, voice and slot is reused as is.
                    let dest = clips_dir.join(&file);
                    if let Some(prev) = earlier.iter().find(|e| e.file == file) {
                        let src = synth_dir.join("clips").join(&file);
                        if std::fs::copy(&src, &dest).is_ok() {
                            entries.push(ClipEntry { id: l.id, voice: voice_key.clone(), ..prev.clone() });
                            if done_with_speaker {
                                speaker_voices.release(&l.speaker, ev);
                            }
                            continue;
                        }
                    }
                    let (audio, speed) = speaker_voices.speak(&l.speaker, &l.target_text, l.end_ms - l.start_ms)?;
                    if done_with_speaker {
                        speaker_voices.release(&l.speaker, ev);
                    }
                    redub_media::write_wav(&dest, &audio)?;
                    entries.push(ClipEntry {
                        id: l.id,
                        file,
                        voice: voice_key,
                        engine_speed: speed,
                        natural_ms: audio.duration_ms(),
                    });
                }
                progress(lines.len() as u64, lines.len() as u64);
                write_json(&dir.join("clips.json"), &entries)
            })();
            // Clones are deleted whether synthesis finished or not.
            let deleted = speaker_voices.close();
            if let Err(e) = &deleted {
                ev.emit("warning", json!({ "stage": "07-synthesize", "message": format!("deleting cloned voices: {e}") }));
            }
            result
        },
    )?;
    note(&synth, "07-synthesize");

    // ---- 07 render ------------------------------------------------------------------------
    let rendered = job.stage("08-render", 1, json!({ "up": [synth.key, ingest.key] }), |dir| {
        let (rate, channels, mix) = redub_media::read_wav(&ingest.dir.join("mix.wav"))?;
        let original = Audio::new(rate, redub_media::downmix(&mix, channels));
        let entries: Vec<ClipEntry> = read_json(&synth.dir.join("clips.json"))?;
        let mut clips = Vec::new();
        for e in &entries {
            let a = redub_media::read_wav_mono(&synth.dir.join("clips").join(&e.file))?;
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
                lang: req.to.clone(),
            })
            .collect();
        let end_ms = original.duration_ms();
        let (speech_track, placements) = render::render_speech(&placed_segments, &clips, &original, end_ms);
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
        if peak > 0.98 {
            gain_db += 20.0 * (0.98 / peak).log10();
        }
        let g = redub_dsp::db_to_gain(gain_db);
        out.iter_mut().for_each(|x| *x *= g);
        redub_media::write_wav_interleaved(&dir.join("dub.wav"), rate, channels, &out)?;
        let report = RenderReport::new(&placements, src_lufs, out_lufs + gain_db as f64);
        write_json(&dir.join("report.json"), &report)
    })?;
    note(&rendered, "08-render");

    // ---- 08 mux ---------------------------------------------------------------------------
    let out_abs = absolute(&req.output);
    let mux_inputs =
        json!({ "up": [rendered.key, ingest.key], "output": out_abs, "keep_original_audio": req.keep_original_audio });
    if !req.output.exists() {
        // A finished mux whose output was deleted since is not finished.
        let _ = std::fs::remove_file(job.stage_dir("09-mux").join("manifest.json"));
    }
    let srt_src = sibling(&req.output, &format!("{from}.srt"));
    let srt_dst = sibling(&req.output, &format!("{}.srt", req.to));
    let muxed = job.stage("09-mux", 1, mux_inputs, |_dir| {
        let opts = redub_media::MuxOptions {
            keep_original_audio: req.keep_original_audio,
            dub_language: redub_core::lang::to_iso3(&req.to).map(str::to_string),
            original_language: redub_core::lang::to_iso3(&from).map(str::to_string),
        };
        redub_media::mux(&req.input, &rendered.dir.join("dub.wav"), &req.output, &opts)?;
        let src: Vec<(u64, u64, &str)> = lines.iter().map(|l| (l.start_ms, l.end_ms, l.source_text.as_str())).collect();
        let dst: Vec<(u64, u64, &str)> = lines.iter().map(|l| (l.start_ms, l.end_ms, l.target_text.as_str())).collect();
        redub_media::write_srt(&srt_src, &src)?;
        redub_media::write_srt(&srt_dst, &dst)
    })?;
    note(&muxed, "09-mux");

    // ---- qa: the job is done only once the output exists and probes right ---------------
    let out_probe = redub_media::probe(&req.output)?;
    let drift = out_probe.duration_ms.abs_diff(probe.duration_ms);
    if drift > 50 {
        ev.emit(
            "warning",
            json!({ "message": format!("output lasts {} ms, input {} ms", out_probe.duration_ms, probe.duration_ms) }),
        );
    }
    let mut report: serde_json::Value = read_json(&rendered.dir.join("report.json"))?;
    let mut timings = serde_json::Map::new();
    for stage in [
        "01-ingest",
        "02-vad",
        "03-transcribe",
        "04-diarize",
        "05-translate",
        "06-voices",
        "07-synthesize",
        "08-render",
        "09-mux",
    ] {
        if let Ok(m) = read_json::<crate::job::Manifest>(&job.stage_dir(stage).join("manifest.json")) {
            timings.insert(stage.into(), json!(m.took_ms));
        }
    }
    report["stage_ms"] = serde_json::Value::Object(timings);
    report["input"] = json!({ "path": req.input, "duration_ms": probe.duration_ms });
    report["output"] = json!({ "path": req.output, "duration_ms": out_probe.duration_ms });
    report["languages"] = json!({ "from": from, "to": req.to });
    report["speakers"] = json!(lines.iter().map(|l| l.speaker.clone()).collect::<std::collections::BTreeSet<_>>());
    let out_dir = job.dir.join("output");
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
    write_json(&out_dir.join("report.json"), &report)?;
    ev.emit("done", json!({ "output": req.output, "report": out_dir.join("report.json"), "lines": lines.len() }));
    let placed: Vec<LinePlacement> = serde_json::from_value(report["lines"].clone()).unwrap_or_default();
    let review = lines
        .iter()
        .filter_map(|l| {
            let mut flags = l.flags.clone();
            for f in placed.iter().filter(|p| p.id == l.id).flat_map(|p| p.flags.iter()) {
                if !flags.contains(f) {
                    flags.push(*f);
                }
            }
            (!flags.is_empty()).then(|| ReviewLine {
                id: l.id,
                speaker: l.speaker.clone(),
                start_ms: l.start_ms,
                source_text: l.source_text.clone(),
                target_text: l.target_text.clone(),
                flags,
                note: l.note.clone(),
            })
        })
        .collect();
    Ok(DubSummary {
        job_dir: job.dir.clone(),
        output: req.output.clone(),
        subtitles: vec![srt_src, srt_dst],
        from,
        to: req.to.clone(),
        lines: lines.len(),
        skipped_stages: skipped,
        review,
    })
}

/// A digest of what synthesis depends on in each line.
fn lines_digest(lines: &[TranslatedLine]) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(format!("{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{1}", l.id, l.speaker, l.start_ms, l.end_ms, l.target_text));
    }
    hex::encode(&h.finalize()[..12])
}

/// Speakers in the order of their first lines.
fn speakers_in_order(lines: &[TranslatedLine]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for l in lines {
        if !order.contains(&l.speaker) {
            order.push(l.speaker.clone());
        }
    }
    order
}

/// The voices of one synthesis run: stock voices with each speaker's adaptation, or a cloning
/// service with one clone per speaker, made on first use and deleted by [`SpeakerVoices::close`]
/// (the service clients also delete what they made when dropped, should this be skipped).
struct SpeakerVoices<'a> {
    dir: &'a Path,
    map: &'a VoiceMap,
    lang: String,
    job: String,
    engine: Engine,
    /// Per speaker: the stock voice's and the speaker's profiles.
    profiles: std::collections::BTreeMap<String, (Option<redub_dsp::VoiceProfile>, Option<redub_dsp::VoiceProfile>)>,
    /// Per speaker: the clone made for them.
    clones: std::collections::BTreeMap<String, String>,
}

enum Engine {
    Stock(Box<dyn redub_core::Synthesizer>),
    Service { name: String, service: Box<dyn crate::config::CloningService> },
}

impl<'a> SpeakerVoices<'a> {
    fn open(
        dir: &'a Path,
        map: &'a VoiceMap,
        config: &VoiceConfig,
        backends: &dyn Backends,
        lang: &str,
        job: &str,
    ) -> Result<Self> {
        let engine = match backends.voice_service(config)? {
            Some(service) => Engine::Service { name: config.name().to_string(), service },
            None => Engine::Stock(backends.synthesizer(lang)?),
        };
        Ok(Self {
            dir,
            map,
            lang: lang.to_string(),
            job: job.to_string(),
            engine,
            profiles: Default::default(),
            clones: Default::default(),
        })
    }

    fn entry(&self, speaker: &str) -> Result<&'a SpeakerVoice> {
        self.map.get(speaker).ok_or_else(|| {
            Error::backend(
                "synthesize",
                format!("speaker {speaker} has no voice in {}", self.dir.join("voices.json").display()),
            )
        })
    }

    /// The voice a line of `speaker` is spoken in, as `clips.json` names it: never a clone's
    /// id, which is new on every run.
    fn key(&self, speaker: &str) -> String {
        let Some(e) = self.map.get(speaker) else { return String::new() };
        match &self.engine {
            Engine::Stock(_) => format!("{}+adapted-to-{speaker}", e.voice),
            Engine::Service { name, .. } if e.voice.is_empty() => format!("{name}:clone-of-{speaker}"),
            Engine::Service { name, .. } => format!("{name}:{}", e.voice),
        }
    }

    /// [`key`](Self::key) plus what the speaker's reference says, for clip reuse: a speaker
    /// whose reference changed (other turns, another length limit) is adapted toward, or cloned
    /// from, something else, so their old clips no longer match.
    fn fingerprint(&self, speaker: &str) -> String {
        let Some(e) = self.map.get(speaker) else { return String::new() };
        let f0 = e.speaker_f0_hz.map(|f| (f * 10.0).round() as i64);
        format!("{}@{}ms/{f0:?}", self.key(speaker), e.reference_ms)
    }

    /// `text` in `speaker`'s voice, fitted to `slot_ms` with the engine's speed.
    fn speak(&mut self, speaker: &str, text: &str, slot_ms: u64) -> Result<(Audio, f32)> {
        let e = self.entry(speaker)?;
        let lang = self.lang.clone();
        // Its syllables set how fast the engine may go, whichever engine speaks it.
        let line = (text, redub_tts::phonemize::syllables(text, &lang).ok());
        match &mut self.engine {
            Engine::Stock(tts) => {
                let (audio, speed) = fit_with_engine(tts.as_mut(), line, &lang, &e.voice, slot_ms, STOCK_CALLS)?;
                if !self.profiles.contains_key(speaker) {
                    let probe = redub_media::read_wav_mono(&self.dir.join("probes").join(format!("{}.wav", e.voice)))?;
                    let reference = redub_media::read_wav_mono(&self.dir.join(&e.reference))?;
                    self.profiles.insert(
                        speaker.to_string(),
                        (redub_dsp::VoiceProfile::measure(&probe), redub_dsp::VoiceProfile::measure(&reference)),
                    );
                }
                let (from, to) = &self.profiles[speaker];
                Ok((crate::voices::adapt(&audio, from.as_ref(), to.as_ref()), speed))
            }
            Engine::Service { service, .. } => {
                let voice = if !e.voice.is_empty() {
                    e.voice.clone()
                } else if let Some(id) = self.clones.get(speaker) {
                    id.clone()
                } else {
                    let reference = redub_media::read_wav_mono(&self.dir.join(&e.reference))?;
                    let id = service.create_voice(&format!("redub {} {speaker}", self.job), &reference)?;
                    self.clones.insert(speaker.to_string(), id.clone());
                    id
                };
                fit_with_engine(service.as_mut(), line, &lang, &voice, slot_ms, SERVICE_CALLS)
            }
        }
    }

    /// Delete `speaker`'s clone now, if this run made one. A failure is a warning and the clone
    /// stays listed, so [`close`](Self::close) tries again.
    fn release(&mut self, speaker: &str, ev: &EventSink) {
        let Engine::Service { service, .. } = &mut self.engine else { return };
        let Some(id) = self.clones.remove(speaker) else { return };
        if let Err(e) = service.delete_voice(&id) {
            ev.emit(
                "warning",
                json!({ "stage": "07-synthesize", "message": format!("deleting {speaker}'s cloned voice: {e}; will retry at the end") }),
            );
            self.clones.insert(speaker.to_string(), id);
        }
    }

    /// Delete every clone this run made; all are tried, the first failure is returned.
    fn close(&mut self) -> Result<()> {
        let Engine::Service { service, .. } = &mut self.engine else { return Ok(()) };
        let mut first = None;
        for (_, id) in std::mem::take(&mut self.clones) {
            if let Err(e) = service.delete_voice(&id) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Synthesise `text` to fit `slot_ms`. At natural speed first; a line over its slot first
/// loses air from its pauses (down to [`redub_dsp::PAUSE_FLOOR_MS`] each), then asks the engine
/// for the speed that fits, refining that speed with up to `calls − 1` calls in all, because an
/// engine's length does not scale exactly with its speed (Kokoro at 1.25 makes a short line
/// only about 1.1× shorter). The speed is capped at [`MAX_ENGINE_SPEED`], or higher for a line
/// whose natural take of `syllables` is slower than the language's native pace. The render
/// stage time-stretches what remains.
fn fit_with_engine(
    tts: &mut dyn redub_core::Synthesizer,
    line: (&str, Option<usize>),
    lang: &str,
    voice: &str,
    slot_ms: u64,
    calls: usize,
) -> Result<(Audio, f32)> {
    let (text, syllables) = line;
    let slot_ms = slot_ms.max(1);
    let tighten = |a: Audio| -> Audio {
        let over = a.duration_ms().saturating_sub(slot_ms);
        if over == 0 {
            return a;
        }
        let samples = redub_dsp::tighten_pauses(&a.samples, a.rate, over);
        Audio::new(a.rate, samples)
    };
    let mut audio = tighten(tts.synthesize(text, lang, voice, 1.0)?);
    let cap = speed_cap(&audio, syllables, lang);
    // The speed asked for last, and the speed of the take kept (the shortest so far).
    let (mut speed, mut kept) = (1.0f64, 1.0f64);
    for _ in 1..calls {
        let ratio = audio.duration_ms() as f64 / slot_ms as f64;
        // The slot itself is the target, not the render stage's dead band: a few percent more
        // engine speed is not heard, while a clip left up to 5 % long runs into the next line.
        if ratio <= 1.0 || speed >= cap {
            break;
        }
        let next = (speed * ratio).min(cap);
        let faster = tighten(tts.synthesize(text, lang, voice, next as f32)?);
        speed = next;
        // An engine that ignores its speed gives nothing back; keep the shorter take.
        if faster.duration_ms() < audio.duration_ms() {
            audio = faster;
            kept = next;
        }
    }
    Ok((audio, kept as f32))
}

/// The fastest engine speed for a line whose natural take is `take`: [`MAX_ENGINE_SPEED`], or
/// up to [`ENGINE_SPEED_CEILING`] as far as the take's pace (syllables per second of speech,
/// pauses left out) is below the language's native pace.
fn speed_cap(take: &Audio, syllables: Option<usize>, lang: &str) -> f64 {
    let speech_ms = take.duration_ms().saturating_sub(redub_dsp::pause_ms(&take.samples, take.rate));
    match syllables {
        Some(n) if n > 0 && speech_ms > 0 => {
            let pace = n as f64 * 1000.0 / speech_ms as f64;
            (redub_core::lang::syllables_per_second(lang) / pace).clamp(MAX_ENGINE_SPEED, ENGINE_SPEED_CEILING)
        }
        _ => MAX_ENGINE_SPEED,
    }
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

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `film.es.mp4` + `en.srt` → `film.es.en.srt` beside it.
fn sibling(output: &Path, suffix: &str) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "dub".into());
    output.with_file_name(format!("{stem}.{suffix}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A stand-in engine that speaks like Kokoro: `syllables` tone bursts of 200 ms, a comma
    /// pause of 450 ms after every fourth, and a speed that does not scale length exactly
    /// (length ∝ speed^−0.8). Records the speeds it was asked for.
    struct Narrator {
        syllables: usize,
        asked: Vec<f32>,
    }

    impl redub_core::Synthesizer for Narrator {
        fn synthesize(&mut self, _text: &str, _lang: &str, _voice: &str, speed: f32) -> Result<Audio> {
            self.asked.push(speed);
            let rate = 16_000;
            let scale = speed.powf(-0.8);
            let burst = (0.2 * scale * rate as f32) as usize;
            let pause = (0.45 * scale * rate as f32) as usize;
            let mut s = Vec::new();
            for i in 0..self.syllables {
                s.extend((0..burst).map(|k| 0.5 * (k as f32 * 0.1).sin()));
                if i % 4 == 3 && i + 1 < self.syllables {
                    s.extend(std::iter::repeat_n(0.0, pause));
                }
            }
            Ok(Audio::new(rate, s))
        }
        fn voices(&self, _lang: &str) -> Vec<String> {
            vec!["v".into()]
        }
    }

    fn natural_ms(syllables: usize) -> u64 {
        let mut n = Narrator { syllables, asked: vec![] };
        redub_core::Synthesizer::synthesize(&mut n, "", "es", "v", 1.0).unwrap().duration_ms()
    }

    #[test]
    fn pauses_give_way_before_the_speed_changes() {
        // 12 syllables: 2 400 ms of speech and two 450 ms pauses that can each give 300 ms.
        let natural = natural_ms(12);
        let mut n = Narrator { syllables: 12, asked: vec![] };
        let (audio, speed) = fit_with_engine(&mut n, ("", Some(12)), "es", "v", natural - 500, 3).unwrap();
        assert_eq!((speed, n.asked.as_slice()), (1.0, &[1.0f32][..]), "one take at natural speed");
        assert!(audio.duration_ms() <= natural - 500 + 10, "{} ms", audio.duration_ms());
    }

    #[test]
    fn the_speed_is_refined_until_the_line_fits() {
        // Speech alone needs about 1.2x: one guess at 1.2 falls short (length ∝ speed^−0.8).
        let natural = natural_ms(8); // 8 syllables, one pause
        let slot = (natural as f64 / 1.32) as u64;
        let mut n = Narrator { syllables: 8, asked: vec![] };
        let (audio, speed) = fit_with_engine(&mut n, ("", Some(8)), "en", "v", slot, 3).unwrap();
        assert!(n.asked.len() == 3 && n.asked[2] > n.asked[1], "refined: {:?}", n.asked);
        assert!(audio.duration_ms() as f64 <= slot as f64 * 1.02, "{} ms in {slot}", audio.duration_ms());
        assert!(speed > 1.1 && speed <= MAX_ENGINE_SPEED as f32, "{speed}");
        // A service gets one faster take at most.
        let mut n = Narrator { syllables: 8, asked: vec![] };
        fit_with_engine(&mut n, ("", Some(8)), "en", "v", slot, SERVICE_CALLS).unwrap();
        assert_eq!(n.asked.len(), 2);
    }

    #[test]
    fn only_a_line_slower_than_native_pace_goes_past_the_usual_cap() {
        // The stand-in speaks 5 syllables a second: slower than Spanish (7.8), so its cap rises
        // toward 1.5; counted as 12 syllables in the same time (12/s) it is already fast.
        let natural = natural_ms(8);
        let slot = natural / 2;
        let mut slow = Narrator { syllables: 8, asked: vec![] };
        let (_, speed) = fit_with_engine(&mut slow, ("", Some(8)), "es", "v", slot, 3).unwrap();
        assert!(speed > MAX_ENGINE_SPEED as f32 && speed <= ENGINE_SPEED_CEILING as f32, "{speed}");
        let mut fast = Narrator { syllables: 8, asked: vec![] };
        let (_, speed) = fit_with_engine(&mut fast, ("", Some(20)), "es", "v", slot, 3).unwrap();
        assert_eq!(speed, MAX_ENGINE_SPEED as f32);
        let mut unknown = Narrator { syllables: 8, asked: vec![] };
        let (_, speed) = fit_with_engine(&mut unknown, ("", None), "es", "v", slot, 3).unwrap();
        assert_eq!(speed, MAX_ENGINE_SPEED as f32, "no syllable count: the usual cap");
    }
}
