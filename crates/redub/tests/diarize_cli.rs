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

    let missing = tmp.path().join("nothing.wav");
    let run = redub(&["diarize", missing.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing.wav"));
}
