//! `redub diarize` and `redub eval der` as a user runs them, on the two-speaker call.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn redub(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redub")).args(args).output().unwrap()
}

#[test]
fn diarize_writes_rttm_and_eval_scores_it() {
    let tmp = tempfile::tempdir().unwrap();
    let input = root().join("fixtures/speech-2spk/sample.wav");
    let hyp = tmp.path().join("hyp.rttm");
    let run = redub(&["diarize", input.to_str().unwrap(), "-o", hyp.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&hyp).unwrap();
    assert!(text.lines().all(|l| l.starts_with("SPEAKER sample 1 ")), "{text}");

    let reference = root().join("fixtures/speech-2spk/sample.rttm");
    let eval = redub(&["eval", "der", "--ref", reference.to_str().unwrap(), "--hyp", hyp.to_str().unwrap(), "--json"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let der = report["der"].as_f64().unwrap();
    println!("redub diarize sample.wav: DER {:.1}% (collar 0.25 s), mapping {}", der * 100.0, report["mapping"]);
    assert!(der <= 0.20);
    assert_eq!(report["mapping"].as_array().unwrap().len(), 2);

    // The human-readable form, and a reference scored against itself.
    let same = redub(&["eval", "der", "--ref", reference.to_str().unwrap(), "--hyp", reference.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&same.stdout).starts_with("DER 0.00%"));
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let input = root().join("fixtures/speech-2spk/sample.wav");
    let run = redub(&["diarize", input.to_str().unwrap(), "--min-speakers", "3", "--max-speakers", "2"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("--min-speakers 3") && err.contains("--max-speakers 2"), "{err}");

    let bad = tmp.path().join("bad.rttm");
    std::fs::write(&bad, "SPEAKER x 1 zero 1.0 <NA> <NA> A <NA> <NA>\n").unwrap();
    let run = redub(&["eval", "der", "--ref", bad.to_str().unwrap(), "--hyp", bad.to_str().unwrap()]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("bad.rttm") && err.contains("line 1"), "{err}");

    // A dub with an impossible chunk length is refused before a job folder exists.
    let jobs = tmp.path().join("jobs");
    let sample = root().join("examples/sample.mp4");
    let run = redub(&[
        "dub",
        sample.to_str().unwrap(),
        "--to",
        "es",
        "--chunk-secs",
        "5",
        "--jobs-dir",
        jobs.to_str().unwrap(),
        "-o",
        tmp.path().join("o.mp4").to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("chunks of 5000 ms are too short"), "{err}");
    assert!(!jobs.exists(), "no job folder for a refused request");

    let missing = tmp.path().join("nothing.wav");
    let run = redub(&["diarize", missing.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing.wav"));
}

#[test]
fn a_video_longer_than_a_chunk_is_cut_at_scenes_and_keeps_its_speakers() {
    let tmp = tempfile::tempdir().unwrap();
    let input = root().join("examples/sample.mp4");
    let hyp = tmp.path().join("hyp.rttm");
    let run = redub(&["diarize", input.to_str().unwrap(), "-o", hyp.to_str().unwrap(), "--chunk-secs", "15", "--json"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stages: Vec<String> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "stage_done")
        .map(|e| e["data"]["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stages, ["extract", "vad", "scenes", "diarize"]);
    let turns = redub_diarize::rttm::read(&hyp).unwrap();
    let reference = redub_diarize::rttm::read(&root().join("fixtures/speech-2spk/sample.rttm")).unwrap();
    let der = redub_diarize::der::score(&reference, &turns, 250);
    let n = turns.iter().map(|t| t.speaker.as_str()).collect::<std::collections::BTreeSet<_>>().len();
    println!("sample.mp4 in 15 s chunks cut at scenes: {n} speakers, DER {:.1}%", der.der * 100.0);
    assert_eq!(n, 2);
    assert!(der.der <= 0.20);
}
