//! The studio in a browser (issue #15): `web/e2e/studio.e2e.mjs` drives Debian's Chromium with
//! playwright-core against a real `redub serve`: upload the sample with review on, edit a line,
//! approve, wait for `done`, play the dual player, seek, and check the two videos stay within
//! 0.3 s. Screenshots go to `$CARGO_TARGET_DIR/test-output/studio/`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_studio_reviews_and_plays_a_dub_in_chromium() {
    let build = Command::new("bash").arg(root().join("scripts/build_web.sh")).status().unwrap();
    assert!(build.success(), "scripts/build_web.sh failed: the web app is not built");
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("test-output/studio");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(root().join("web/e2e/studio.e2e.mjs"))
        .env("REDUB_BIN", env!("CARGO_BIN_EXE_redub"))
        .env("SAMPLE", root().join("examples/sample.mp4"))
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap_or_else(|e| panic!("node could not be started ({e}): install Debian's nodejs and npm"));
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test failed (its output is above)");
    println!("screenshots: {}", shots.display());
}
