//! The pipeline with deterministic stand-in backends: a job that fails keeps what it computed
//! and resumes from the failed stage; finished stages are reused; the events log tells the story.

#![allow(clippy::unwrap_used)]

mod support;

use support::StandIns;

use redub_core::Segment;
use redub_pipeline::{dub, DubRequest, EventSink};
use std::path::Path;

fn make_input(dir: &Path) -> std::path::PathBuf {
    support::make_input(dir, 4)
}

/// A request for `input` from English to `to`, with everything else at its default.
fn request(dir: &Path, input: std::path::PathBuf, to: &str, keep_original_audio: bool) -> DubRequest {
    DubRequest {
        from: Some("en".into()),
        keep_original_audio,
        ..DubRequest::new(input, dir.join("out.mp4"), to, dir.join("jobs"))
    }
}

fn kinds(job_dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(job_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| (e["type"].as_str().unwrap().to_string(), e["data"]["stage"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn a_failed_job_keeps_its_work_and_resumes_from_the_failed_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path());
    let req = request(tmp.path(), input, "es", false);
    let b = StandIns::new(true);
    let err = dub(&req, &b, EventSink::silent()).unwrap_err();
    assert!(format!("{err}").contains("simulated crash"), "{err}");
    let job_dir = std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path();
    let finished = ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize", "06-translate"];
    for done in finished {
        assert!(job_dir.join(done).join("manifest.json").is_file(), "{done} kept");
    }
    // The voices stage is the first to speak (its probes), so it is where the crash lands.
    assert!(!job_dir.join("07-voices").exists(), "a failed stage leaves no finished folder");
    assert!(!req.output.exists());

    // Resume: the five finished stages are reused (their backends are not even built).
    b.fail_tts.set(false);
    b.built.set(0);
    let summary = dub(&req, &b, EventSink::silent()).unwrap();
    assert_eq!(summary.skipped_stages, finished);
    assert_eq!(
        b.built.get(),
        3,
        "only the synthesizer (for the voices, then the lines) and the qa stage's transcriber were built on resume"
    );
    assert!(req.output.is_file());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job_dir.join("output/report.json")).unwrap()).unwrap();
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["clip_start_ms"], 500);
    assert_eq!(lines[1]["clip_start_ms"], 2000);
    let ev = kinds(&job_dir);
    assert!(ev.contains(&("error".into(), "07-voices".into())));
    assert!(ev.contains(&("stage_skipped".into(), "04-transcribe".into())));
    assert_eq!(ev.last().unwrap().0, "done");

    let clips = std::fs::read_dir(job_dir.join("08-synthesize/clips")).unwrap().count();
    assert_eq!(clips, 2, "one clip per line");
    // Each speaker has a voice of its own, and each line is spoken by its speaker's voice.
    let voices: redub_pipeline::voices::VoiceMap =
        serde_json::from_slice(&std::fs::read(job_dir.join("07-voices/voices.json")).unwrap()).unwrap();
    assert_eq!(voices.len(), 2);
    assert_ne!(voices["S1"].voice, voices["S2"].voice);
    let clips: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(job_dir.join("08-synthesize/clips.json")).unwrap()).unwrap();
    let segs: Vec<Segment> =
        serde_json::from_slice(&std::fs::read(job_dir.join("05-diarize/segments.json")).unwrap()).unwrap();
    for (c, s) in clips.iter().zip(&segs) {
        let sp = s.speaker.as_deref().unwrap();
        assert_eq!(c["voice"].as_str().unwrap(), format!("{}+adapted-to-{sp}", voices[sp].voice));
    }
}

#[test]
fn deleting_the_output_reruns_only_the_mux() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path());
    let req = request(tmp.path(), input, "es", true);
    let b = StandIns::new(false);
    dub(&req, &b, EventSink::silent()).unwrap();
    std::fs::remove_file(&req.output).unwrap();
    let s = dub(&req, &b, EventSink::silent()).unwrap();
    assert_eq!(s.skipped_stages.len(), redub_pipeline::STAGES.len() - 1, "{:?}", s.skipped_stages);
    assert!(req.output.is_file());
    let p = redub_media::probe(&req.output).unwrap();
    assert!(p.audio.is_some());
}

#[test]
fn editing_one_translation_resynthesises_only_that_line() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path());
    let req = request(tmp.path(), input, "es", false);
    let b = StandIns::new(false);
    dub(&req, &b, EventSink::silent()).unwrap();
    let job_dir = std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path();
    let path = job_dir.join("06-translate/translations.json");
    let mut lines: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(lines.len(), 2);
    lines[1]["target_text"] = "una línea corregida a mano".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&lines).unwrap()).unwrap();

    b.spoken.lock().unwrap().clear();
    let s = dub(&req, &b, EventSink::silent()).unwrap();
    // Only the edited line is spoken (more than once when the engine refines its speed).
    let spoken = b.spoken.lock().unwrap().clone();
    assert!(!spoken.is_empty() && spoken.iter().all(|t| t == "una línea corregida a mano"), "{spoken:?}");
    assert_eq!(
        s.skipped_stages,
        ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize", "06-translate", "07-voices"]
    );
    let srt = std::fs::read_to_string(tmp.path().join("out.es.srt")).unwrap();
    assert!(srt.contains("una línea corregida a mano"), "{srt}");
    let clips: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(job_dir.join("08-synthesize/clips.json")).unwrap()).unwrap();
    assert_eq!(clips.len(), 2, "the unchanged line keeps its clip");
}

#[test]
fn a_language_outside_the_rate_table_gets_the_voices_measured_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path());
    // Swedish is not in DESIGN's table of speaking rates.
    let req = request(tmp.path(), input, "sv", false);
    dub(&req, &StandIns::new(false), EventSink::silent()).unwrap();
    let job_dir = std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path();
    let rate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job_dir.join("06-translate/rate.json")).unwrap()).unwrap();
    let wps = rate["words_per_second"].as_f64().unwrap();
    println!("measured rate for sv with the tone stand-in: {wps:.2} words/s");
    assert_eq!(rate["measured"], true);
    assert!((wps - 2.5).abs() > 0.01, "a measured rate, not the 2.5 default");
    let lines: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(job_dir.join("06-translate/translations.json")).unwrap()).unwrap();
    for l in &lines {
        let d = l["end_ms"].as_u64().unwrap() - l["start_ms"].as_u64().unwrap();
        assert_eq!(l["budget_words"].as_u64().unwrap(), u64::from(redub_translate::word_budget_at(d, wps)));
        assert!(l["estimated_ms"].as_u64().unwrap() > 0);
    }
}

#[test]
fn a_pin_holds_and_a_pin_for_a_speaker_not_found_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path());
    let mut req = request(tmp.path(), input, "es", false);
    req.voice_pins.insert("S2".into(), "tone-d".into());
    req.voice_pins.insert("S9".into(), "tone-a".into());
    dub(&req, &StandIns::new(false), EventSink::silent()).unwrap();
    let job_dir = std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path();
    let voices: redub_pipeline::voices::VoiceMap =
        serde_json::from_slice(&std::fs::read(job_dir.join("07-voices/voices.json")).unwrap()).unwrap();
    assert_eq!((voices["S2"].voice.as_str(), voices["S2"].pinned), ("tone-d", true));
    assert!(!voices["S1"].pinned && voices["S1"].voice != "tone-d", "{voices:?}");
    let log = std::fs::read_to_string(job_dir.join("events.jsonl")).unwrap();
    assert!(log.contains("no speaker S9 in this job (speakers: S1, S2)"), "{log}");
    // An unknown voice is refused by the voices stage, naming the voices there are.
    req.voice_pins.insert("S1".into(), "tone-z".into());
    let err = dub(&req, &StandIns::new(false), EventSink::silent()).unwrap_err().to_string();
    assert!(err.contains("tone-z") && err.contains("tone-a, tone-b, tone-c, tone-d"), "{err}");
}
