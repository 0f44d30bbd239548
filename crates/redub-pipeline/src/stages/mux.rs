//! 09-mux: the output file. The video stream is copied (no re-encode), the dubbed track is
//! AAC with its language tag, and SRT subtitles in both languages are written beside it.

use crate::runner::{JobCx, Stage};
use redub_core::Result;
use serde_json::json;
use std::path::{Path, PathBuf};

pub const STAGE: Stage =
    Stage { name: "09-mux", version: 1, inputs, run, after: None, still_valid: Some(output_exists) };

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({
        "up": [cx.key("08-render")?, cx.key("01-ingest")?],
        "output": absolute(&cx.req.output),
        "keep_original_audio": cx.req.keep_original_audio,
    }))
}

/// A finished mux whose output was deleted since is not finished.
fn output_exists(cx: &JobCx) -> bool {
    cx.req.output.exists()
}

/// The subtitle files of the output: `film.es.mp4` → `film.es.en.srt`, `film.es.es.srt`.
pub fn subtitle_paths(output: &Path, from: &str, to: &str) -> [PathBuf; 2] {
    [sibling(output, &format!("{from}.srt")), sibling(output, &format!("{to}.srt"))]
}

fn run(cx: &JobCx, _dir: &Path) -> Result<()> {
    let (req, from) = (cx.req, cx.from_lang()?);
    let lines = cx.lines()?;
    let opts = redub_media::MuxOptions {
        keep_original_audio: req.keep_original_audio,
        dub_language: redub_core::lang::to_iso3(&req.to).map(str::to_string),
        original_language: redub_core::lang::to_iso3(&from).map(str::to_string),
    };
    redub_media::mux(&req.input, &cx.dir("08-render").join("dub.wav"), &req.output, &opts)?;
    let [srt_src, srt_dst] = subtitle_paths(&req.output, &from, &req.to);
    let src: Vec<(u64, u64, &str)> = lines.iter().map(|l| (l.start_ms, l.end_ms, l.source_text.as_str())).collect();
    let dst: Vec<(u64, u64, &str)> = lines.iter().map(|l| (l.start_ms, l.end_ms, l.target_text.as_str())).collect();
    redub_media::write_srt(&srt_src, &src)?;
    redub_media::write_srt(&srt_dst, &dst)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

fn sibling(output: &Path, suffix: &str) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "dub".into());
    output.with_file_name(format!("{stem}.{suffix}"))
}
