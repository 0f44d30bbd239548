//! 10-mux: what the dub delivers (see `docs/outputs.md`).
//!
//! - The output file, in MP4 or, for `-o x.mkv`, Matroska: the video stream copied (no
//!   re-encode), the dubbed track first (AAC, tagged with the target language, default), with
//!   `--keep-original-audio` the original audio second (tagged with the source language).
//! - Subtitles beside it, SRT and WebVTT, in the source language, the target language and both
//!   (`out.en.srt`, `out.es.srt`, `out.en-es.srt`, and `.vtt` for each); cue times are the dub
//!   lines'. With `--subtitles embed` the target and source subtitles are also streams of the
//!   output, the target first and default.
//! - Stems in the job's `output/` folder: `background.wav` (03-separate), `voices.wav` and
//!   `speakers/<S>.wav` (09-render), linked or copied when they exist.

use crate::request::SubtitleMode;
use crate::runner::{JobCx, Stage};
use crate::translate::TranslatedLine;
use redub_core::{Error, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

pub const STAGE: Stage =
    Stage { name: "10-mux", version: 2, inputs, run, after: None, still_valid: Some(output_exists) };

fn inputs(cx: &JobCx) -> Result<serde_json::Value> {
    Ok(json!({
        "up": [cx.key("09-render")?, cx.key("01-ingest")?],
        "output": absolute(&cx.req.output),
        "keep_original_audio": cx.req.keep_original_audio,
        "subtitles": cx.req.subtitles.name(),
    }))
}

/// A finished mux whose output was deleted since is not finished.
fn output_exists(cx: &JobCx) -> bool {
    cx.req.output.exists()
}

/// The subtitle files of one output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubtitleFiles {
    pub source_srt: PathBuf,
    pub target_srt: PathBuf,
    pub bilingual_srt: PathBuf,
    pub source_vtt: PathBuf,
    pub target_vtt: PathBuf,
    pub bilingual_vtt: PathBuf,
}

impl SubtitleFiles {
    /// Beside `output`, named by its stem: `film.mp4` from `en` to `es` → `film.en.srt`,
    /// `film.es.srt`, `film.en-es.srt`, `film.en.vtt`, `film.es.vtt`, `film.en-es.vtt`.
    pub fn beside(output: &Path, from: &str, to: &str) -> Self {
        let file = |tag: &str, ext: &str| sibling(output, &format!("{tag}.{ext}"));
        let both = format!("{from}-{to}");
        Self {
            source_srt: file(from, "srt"),
            target_srt: file(to, "srt"),
            bilingual_srt: file(&both, "srt"),
            source_vtt: file(from, "vtt"),
            target_vtt: file(to, "vtt"),
            bilingual_vtt: file(&both, "vtt"),
        }
    }

    /// Every file, SRT first: source, target, bilingual.
    pub fn all(&self) -> Vec<PathBuf> {
        [
            &self.source_srt,
            &self.target_srt,
            &self.bilingual_srt,
            &self.source_vtt,
            &self.target_vtt,
            &self.bilingual_vtt,
        ]
        .into_iter()
        .cloned()
        .collect()
    }
}

/// Every subtitle file of the output (see [`SubtitleFiles::beside`]).
pub fn subtitle_paths(output: &Path, from: &str, to: &str) -> Vec<PathBuf> {
    SubtitleFiles::beside(output, from, to).all()
}

/// Refuse an output Redub cannot write (any extension but `.mp4`, `.m4v`, `.mov`, `.mkv`),
/// naming the extension and the fix; for callers that check a request before any work.
pub fn check_output(output: &Path) -> Result<()> {
    redub_media::Container::for_output(output).map(|_| ())
}

fn run(cx: &JobCx, _dir: &Path) -> Result<()> {
    let (req, from) = (cx.req, cx.from_lang()?);
    // Refused before any file is written.
    check_output(&req.output)?;
    let files = SubtitleFiles::beside(&req.output, &from, &req.to);
    write_subtitles(&files, &cx.lines()?)?;
    let opts = redub_media::MuxOptions {
        keep_original_audio: req.keep_original_audio,
        dub_language: Some(req.to.clone()),
        original_language: Some(from.clone()),
        subtitles: match req.subtitles {
            SubtitleMode::Files => Vec::new(),
            SubtitleMode::Embed => embedded(&files, &from, &req.to),
        },
    };
    redub_media::mux(&req.input, &cx.dir("09-render").join("dub.wav"), &req.output, &opts)?;
    copy_stems(cx, &cx.job.dir.join("output"))
}

/// The six subtitle files of the dub lines.
fn write_subtitles(files: &SubtitleFiles, lines: &[TranslatedLine]) -> Result<()> {
    let cues = |text: &dyn Fn(&TranslatedLine) -> String| -> Vec<(u64, u64, String)> {
        lines.iter().map(|l| (l.start_ms, l.end_ms, text(l))).collect()
    };
    let source = cues(&|l| l.source_text.clone());
    let target = cues(&|l| l.target_text.clone());
    let both = cues(&|l| redub_media::bilingual_text(&l.target_text, &l.source_text));
    for (srt, vtt, cues) in [
        (&files.source_srt, &files.source_vtt, &source),
        (&files.target_srt, &files.target_vtt, &target),
        (&files.bilingual_srt, &files.bilingual_vtt, &both),
    ] {
        redub_media::write_srt(srt, cues)?;
        redub_media::write_vtt(vtt, cues)?;
    }
    Ok(())
}

/// The target subtitles (default) and then the source ones, as subtitle streams.
fn embedded(files: &SubtitleFiles, from: &str, to: &str) -> Vec<redub_media::SubtitleTrack> {
    vec![
        redub_media::SubtitleTrack {
            path: files.target_srt.clone(),
            language: Some(to.to_string()),
            title: redub_media::language_name(to),
        },
        redub_media::SubtitleTrack {
            path: files.source_srt.clone(),
            language: Some(from.to_string()),
            title: format!("{} (original)", redub_media::language_name(from)),
        },
    ]
}

/// The stems into `out_dir`: `background.wav`, `voices.wav`, `speakers/<S>.wav`, each where
/// its stage wrote one; what an earlier run left there is removed first, so the folder shows
/// this dub's stems only.
fn copy_stems(cx: &JobCx, out_dir: &Path) -> Result<()> {
    let render = cx.dir("09-render");
    let speakers = out_dir.join("speakers");
    for stale in [out_dir.join("background.wav"), out_dir.join("voices.wav")] {
        remove(&stale, std::fs::remove_file(&stale))?;
    }
    remove(&speakers, std::fs::remove_dir_all(&speakers))?;
    let mut stems = vec![
        (cx.dir("03-separate").join("background.wav"), out_dir.join("background.wav")),
        (render.join("voices.wav"), out_dir.join("voices.wav")),
    ];
    if let Ok(entries) = std::fs::read_dir(render.join("speakers")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "wav") {
                stems.push((path.clone(), speakers.join(entry.file_name())));
            }
        }
    }
    for (src, dest) in stems.iter().filter(|(src, _)| src.is_file()) {
        redub_media::link_or_copy(src, dest)?;
    }
    Ok(())
}

/// The outcome of removing `path`; a path that was not there is fine.
fn remove(path: &Path, removed: std::io::Result<()>) -> Result<()> {
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtitle_files_are_named_by_the_output_and_the_languages() {
        let f = SubtitleFiles::beside(Path::new("/v/film.es.mkv"), "en", "es");
        let names: Vec<String> =
            f.all().iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "film.es.en.srt",
                "film.es.es.srt",
                "film.es.en-es.srt",
                "film.es.en.vtt",
                "film.es.es.vtt",
                "film.es.en-es.vtt"
            ]
        );
        assert_eq!(f.target_srt, Path::new("/v/film.es.es.srt"));
    }
}
