//! 02-vad: speech regions of the analysis audio (Silero VAD).

use crate::job::write_json;
use crate::runner::{JobCx, Stage};
use redub_core::{Ctx, Result};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "02-vad", version: 1, inputs, run, after: None, still_valid: None };

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({ "up": cx.key("01-ingest")?, "backend": cx.backends.identity("vad") }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    let mut vad = cx.backends.vad()?;
    let progress = cx.events().progress_fn(STAGE.name);
    let regions = vad.detect(cx.speech()?, &Ctx::new(&progress, None))?;
    write_json(&dir.join("regions.json"), &regions)
}
