//! 01-ingest: the input's probe, the 16 kHz mono analysis audio and the mix at its own rate and
//! channels (for rendering). The input was checked before the job folder was made.

use crate::job::write_json;
use crate::runner::{JobCx, Stage};
use redub_core::{Error, Result};
use serde_json::json;
use std::path::Path;

pub const STAGE: Stage = Stage { name: "01-ingest", version: 1, inputs, run, after: None, still_valid: None };

/// The input file by path, size and modification time: a replaced file is ingested again.
fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    let input = &cx.req.input;
    let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as u64);
    let abs = std::fs::canonicalize(input).unwrap_or_else(|_| input.clone());
    Ok(json!({ "input": abs, "bytes": meta.len(), "mtime_ms": mtime }))
}

fn run(cx: &JobCx, dir: &Path) -> Result<()> {
    write_json(&dir.join("probe.json"), &cx.probe)?;
    redub_media::extract_audio(&cx.req.input, &dir.join("speech16k.wav"), Some(16_000), true)?;
    redub_media::extract_audio(&cx.req.input, &dir.join("mix.wav"), None, false)
}
