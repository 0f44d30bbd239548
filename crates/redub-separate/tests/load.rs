//! Loading refuses missing and damaged files with errors that name them and the fix (a damaged
//! archive must never reach libDF, which would abort the process).

#![allow(clippy::unwrap_used)]

use redub_separate::{DeepFilter, LIBRARY_FILE, MODEL_FILE};

fn message(dir: &std::path::Path) -> String {
    format!("{:#}", DeepFilter::load(Some(dir.to_path_buf())).unwrap_err())
}

#[test]
fn missing_files_are_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let m = message(dir.path());
    println!("{m}");
    assert!(m.contains(LIBRARY_FILE) && m.contains("make setup"), "{m}");

    std::fs::write(dir.path().join(LIBRARY_FILE), b"not a library").unwrap();
    let m = message(dir.path());
    println!("{m}");
    assert!(m.contains(MODEL_FILE) && m.contains("make setup"), "{m}");
}

#[test]
fn a_damaged_model_or_library_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LIBRARY_FILE), b"not a library").unwrap();
    std::fs::write(dir.path().join(MODEL_FILE), b"not a model").unwrap();
    let m = message(dir.path());
    println!("{m}");
    assert!(m.contains(MODEL_FILE) && m.contains("sha256") && m.contains("make setup"), "{m}");

    // The right model next to a file that is not a library.
    let installed = redub_core::paths::models_dir().join("deepfilternet3").join(MODEL_FILE);
    if installed.is_file() {
        std::fs::copy(&installed, dir.path().join(MODEL_FILE)).unwrap();
        let m = message(dir.path());
        println!("{m}");
        assert!(m.contains(LIBRARY_FILE) && m.contains("make setup"), "{m}");
    }
}
