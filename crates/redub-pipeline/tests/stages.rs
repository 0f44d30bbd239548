//! The job as stage units: a job stopped after a named stage resumes from there (the studio's
//! review pause), and a job killed in the middle of synthesis keeps the lines it had spoken.

#![allow(clippy::unwrap_used)]

mod support;

use redub_pipeline::{dub, DubRequest, EventSink};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::StandIns;

const BEFORE_VOICES: [&str; 6] = ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize", "06-translate"];
const FROM_VOICES: [&str; 5] = ["07-voices", "08-synthesize", "09-render", "10-mux", "11-qa"];

fn request(dir: &Path) -> DubRequest {
    // The kill test's child asks for the same input: made once, so its key stays the same.
    let input = if dir.join("in.mp4").is_file() { dir.join("in.mp4") } else { support::make_input(dir, 8) };
    DubRequest { from: Some("en".into()), ..DubRequest::new(input, dir.join("out.mp4"), "es", dir.join("jobs")) }
}

fn job_dir(req: &DubRequest) -> PathBuf {
    req.jobs_dir.join(redub_pipeline::job_id(&req.input, req.from.as_deref(), &req.to))
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The stages started in the events of `job` from event `from` on.
fn started(job: &Path, from: usize) -> Vec<String> {
    std::fs::read_to_string(job.join("events.jsonl"))
        .unwrap()
        .lines()
        .skip(from)
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "stage_started")
        .map(|e| e["data"]["stage"].as_str().unwrap().to_string())
        .collect()
}

fn event_count(job: &Path) -> usize {
    std::fs::read_to_string(job.join("events.jsonl")).unwrap().lines().count()
}

fn edit_line(job: &Path, index: usize, text: &str) {
    let path = job.join("06-translate/translations.json");
    let mut lines: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    lines[index]["target_text"] = text.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&lines).unwrap()).unwrap();
}

#[test]
fn a_job_stopped_after_translation_resumes_with_the_edited_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut req = request(tmp.path());
    let b = StandIns::new(false);

    // Stop for review after the translation.
    req.stop_after = Some("06-translate".into());
    let s = dub(&req, &b, EventSink::silent()).unwrap();
    let job = job_dir(&req);
    assert_eq!(s.paused_after.as_deref(), Some("06-translate"));
    assert_eq!(s.stages.iter().map(|r| r.stage.as_str()).collect::<Vec<_>>(), BEFORE_VOICES);
    for stage in FROM_VOICES {
        assert!(!job.join(stage).exists(), "{stage} has not run");
    }
    assert!(!req.output.exists(), "no output before the review is approved");
    let log = std::fs::read_to_string(job.join("events.jsonl")).unwrap();
    assert!(log.contains("\"paused\""), "the pause is an event");
    // Every stage that ran reports its cost.
    assert!(s.stages.iter().all(|r| !r.skipped && r.usage.cpu_ms.is_some() && r.usage.peak_rss_kb.is_some()));

    // The reviewer corrects one line; the job resumes where it stopped.
    edit_line(&job, 1, "una línea revisada");
    let before = event_count(&job);
    b.spoken.lock().unwrap().clear();
    req.stop_after = None;
    let s = dub(&req, &b, EventSink::silent()).unwrap();
    assert_eq!(s.paused_after, None);
    assert_eq!(s.skipped_stages, BEFORE_VOICES, "translation is not redone over the edit");
    assert_eq!(started(&job, before), FROM_VOICES, "only the remaining stages run");
    let srt = std::fs::read_to_string(tmp.path().join("out.es.srt")).unwrap();
    assert!(srt.contains("una línea revisada"), "{srt}");
    assert!(b.spoken.lock().unwrap().iter().any(|t| t == "una línea revisada"));

    // After the dub: another edit, and only that line is spoken again.
    edit_line(&job, 0, "otra corrección");
    let before = event_count(&job);
    b.spoken.lock().unwrap().clear();
    let s = dub(&req, &b, EventSink::silent()).unwrap();
    let spoken = b.spoken.lock().unwrap().clone();
    assert!(!spoken.is_empty() && spoken.iter().all(|t| t == "otra corrección"), "{spoken:?}");
    assert_eq!(started(&job, before), ["08-synthesize", "09-render", "10-mux", "11-qa"]);
    assert_eq!(s.skipped_stages.len(), redub_pipeline::STAGES.len() - 4);
    let report = read(&job.join("output/report.json"));
    let stages = report["stages"].as_array().unwrap();
    assert_eq!(stages.len(), redub_pipeline::STAGES.len(), "every stage in the report: {report}");
    assert!(stages.iter().all(|st| st["wall_ms"].is_u64() && st["rtf"].is_f64()), "{stages:?}");
}

#[test]
fn an_unknown_stop_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let mut req = request(tmp.path());
    req.stop_after = Some("05-review".into());
    let err = dub(&req, &StandIns::new(false), EventSink::silent()).unwrap_err().to_string();
    assert!(err.contains("05-review") && err.contains("06-translate, 07-voices"), "{err}");
    assert!(!req.jobs_dir.exists(), "no job folder for a refused request");
}

/// Six lines, three per speaker, each taking a while to speak.
fn slow_stand_ins() -> StandIns {
    let mut b = StandIns::new(false);
    b.regions = vec![(300, 1200), (1500, 2500), (2800, 3800), (4100, 5000), (5300, 6300), (6600, 7600)];
    b.tts_delay = std::time::Duration::from_millis(300);
    b
}

const CHILD_ENV: &str = "REDUB_KILL_TEST_DIR";

/// The job the kill test runs in a child process (and kills).
#[test]
#[ignore = "the child process of a_job_killed_during_synthesis_keeps_the_lines_it_spoke"]
fn child_job_for_the_kill_test() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let req = request(Path::new(&dir));
    dub(&req, &slow_stand_ins(), EventSink::silent()).unwrap();
}

/// The lines kept in the synthesis unit store: their ids.
fn kept_lines(job: &Path) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(job.join("units/08-synthesize")) else { return vec![] };
    let mut ids: Vec<u32> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wav.json"))
        .filter_map(|n| n.split('-').next().and_then(|id| id.parse().ok()))
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_job_killed_during_synthesis_keeps_the_lines_it_spoke() {
    let tmp = tempfile::tempdir().unwrap();
    let req = request(tmp.path());
    let job = job_dir(&req);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_job_for_the_kill_test", "--test-threads", "1"])
        .env(CHILD_ENV, tmp.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: nothing runs after) once two lines are spoken.
    let t0 = std::time::Instant::now();
    while kept_lines(&job).len() < 2 {
        assert!(t0.elapsed().as_secs() < 120, "the child never got to synthesis");
        assert!(child.try_wait().unwrap().is_none(), "the child ended before it was killed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = kept_lines(&job);
    println!("killed with lines {kept:?} spoken");
    assert!(kept.len() >= 2 && kept.len() < 6, "killed in the middle: {kept:?}");
    assert!(!job.join("08-synthesize/manifest.json").exists(), "synthesis had not finished");

    let b = StandIns::new(false);
    let s = dub(&req, &b, EventSink::silent()).unwrap();
    assert!(req.output.is_file());
    assert_eq!(
        s.skipped_stages,
        ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize", "06-translate", "07-voices"]
    );
    let lines = read(&job.join("06-translate/translations.json"));
    let text = |id: u32| lines.as_array().unwrap().iter().find(|l| l["id"] == id).unwrap()["target_text"].clone();
    let spoken = b.spoken.lock().unwrap().clone();
    for id in &kept {
        let t = text(*id);
        assert!(!spoken.iter().any(|s| *s == t), "line {id} ({t}) was spoken again: {spoken:?}");
    }
    for id in (0..6).filter(|i| !kept.contains(i)) {
        let t = text(id);
        assert!(spoken.iter().any(|s| *s == t), "line {id} ({t}) was spoken on resume: {spoken:?}");
    }
    let clips = read(&job.join("08-synthesize/clips.json"));
    assert_eq!(clips.as_array().unwrap().len(), 6, "every line has its clip");
    assert!(!job.join("units/08-synthesize").exists(), "the unit store is emptied once the stage is in place");
}
