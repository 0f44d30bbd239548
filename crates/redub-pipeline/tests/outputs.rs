//! What a dub delivers (issue 12 item 5), through the whole job with the stand-in backends:
//! a Matroska output with the dub and the original audio, both subtitles embedded, the SRT and
//! WebVTT files beside it, and the stems in the job's `output/` folder.

#![allow(clippy::unwrap_used)]

mod support;

use redub_pipeline::request::SubtitleMode;
use redub_pipeline::{dub, DubRequest, EventSink};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::StandIns;

fn request(dir: &Path, output: &str) -> DubRequest {
    DubRequest {
        from: Some("en".into()),
        keep_original_audio: true,
        subtitles: SubtitleMode::Embed,
        ..DubRequest::new(support::make_input(dir, 4), dir.join(output), "es", dir.join("jobs"))
    }
}

fn job_dir(req: &DubRequest) -> PathBuf {
    std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path()
}

/// (codec_type, codec_name, tags.language, tags.title, disposition.default) of each stream.
fn streams(path: &Path) -> Vec<(String, String, String, String, i64)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = |s: &Value| s.as_str().unwrap_or("").to_string();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                text(&s["codec_type"]),
                text(&s["codec_name"]),
                text(&s["tags"]["language"]),
                text(&s["tags"]["title"]),
                s["disposition"]["default"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn row(kind: &str, codec: &str, lang: &str, title: &str, default: i64) -> (String, String, String, String, i64) {
    (kind.into(), codec.into(), lang.into(), title.into(), default)
}

#[test]
fn an_mkv_dub_with_both_tracks_embedded_subtitles_files_and_stems() {
    let tmp = tempfile::tempdir().unwrap();
    let req = request(tmp.path(), "out.mkv");
    let summary = dub(&req, &StandIns::new(false), EventSink::silent()).unwrap();

    assert_eq!(
        streams(&req.output),
        [
            row("video", "h264", "", "", 1),
            row("audio", "aac", "spa", "Spanish (dubbed)", 1),
            row("audio", "aac", "eng", "English (original)", 0),
            row("subtitle", "subrip", "spa", "Spanish", 1),
            row("subtitle", "subrip", "eng", "English (original)", 0),
        ]
    );
    assert_eq!(
        redub_media::video_stream_hash(&req.output).unwrap(),
        redub_media::video_stream_hash(&req.input).unwrap()
    );

    // Six subtitle files beside the output, all in the summary.
    let names = ["out.en.srt", "out.es.srt", "out.en-es.srt", "out.en.vtt", "out.es.vtt", "out.en-es.vtt"];
    assert_eq!(summary.subtitles, names.map(|n| tmp.path().join(n)));
    let job = job_dir(&req);
    let lines: Vec<Value> =
        serde_json::from_slice(&std::fs::read(job.join("06-translate/translations.json")).unwrap()).unwrap();
    let first = &lines[0];
    let (src, dst) = (first["source_text"].as_str().unwrap(), first["target_text"].as_str().unwrap());
    let start = redub_media::vtt_timestamp(first["start_ms"].as_u64().unwrap());
    let end = redub_media::vtt_timestamp(first["end_ms"].as_u64().unwrap());
    let vtt = std::fs::read_to_string(tmp.path().join("out.en-es.vtt")).unwrap();
    assert!(vtt.starts_with(&format!("WEBVTT\n\n1\n{start} --> {end}\n{dst}\n{src}\n\n")), "{vtt}");
    let srt = std::fs::read_to_string(tmp.path().join("out.es.srt")).unwrap();
    assert!(srt.starts_with(&format!("1\n{} --> {}\n{dst}\n\n", start.replace('.', ","), end.replace('.', ","))));
    let srt = std::fs::read_to_string(tmp.path().join("out.en.srt")).unwrap();
    assert!(srt.contains(&format!("\n{src}\n\n")), "{srt}");

    // Stems: each one the render or the separation wrote is in output/, beside the report.
    let out = job.join("output");
    assert!(out.join("report.json").is_file());
    let render = job.join("09-render");
    for (made, stem) in [
        (job.join("03-separate/background.wav"), out.join("background.wav")),
        (render.join("voices.wav"), out.join("voices.wav")),
    ] {
        assert_eq!(made.is_file(), stem.is_file(), "{}", stem.display());
    }
    if let Ok(speakers) = std::fs::read_dir(render.join("speakers")) {
        for s in speakers {
            let name = s.unwrap().file_name();
            assert!(out.join("speakers").join(&name).is_file(), "{name:?}");
        }
    }

    // A background from the separation (planted here: the stand-ins have no separator) is
    // linked in when the mux runs again.
    let background = job.join("03-separate/background.wav");
    redub_media::write_wav(&background, &redub_core::Audio::new(16_000, vec![0.1; 1600])).unwrap();
    std::fs::remove_file(&req.output).unwrap();
    let again = dub(&req, &StandIns::new(false), EventSink::silent()).unwrap();
    assert_eq!(
        again.skipped_stages.len(),
        redub_pipeline::STAGES.len() - 1,
        "only the mux runs: {:?}",
        again.skipped_stages
    );
    assert_eq!(std::fs::read(out.join("background.wav")).unwrap(), std::fs::read(&background).unwrap());
}

#[test]
fn an_mp4_dub_embeds_mov_text_and_files_mode_embeds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let req = request(tmp.path(), "out.mp4");
    dub(&req, &StandIns::new(false), EventSink::silent()).unwrap();
    let kinds: Vec<(String, String, i64)> = streams(&req.output).into_iter().map(|s| (s.1, s.2, s.4)).collect();
    let want =
        [("h264", "und", 1), ("aac", "spa", 1), ("aac", "eng", 0), ("mov_text", "spa", 1), ("mov_text", "eng", 0)];
    assert_eq!(kinds, want.map(|(c, l, d)| (c.to_string(), l.to_string(), d)));

    // The default (files): the same dub without subtitle streams; only the mux reruns.
    let files = DubRequest { subtitles: SubtitleMode::Files, keep_original_audio: false, ..req.clone() };
    let s = dub(&files, &StandIns::new(false), EventSink::silent()).unwrap();
    assert_eq!(s.skipped_stages.len(), redub_pipeline::STAGES.len() - 1, "{:?}", s.skipped_stages);
    let kinds: Vec<String> = streams(&req.output).into_iter().map(|s| s.1).collect();
    assert_eq!(kinds, ["h264", "aac"]);
    assert!(tmp.path().join("out.en-es.srt").is_file());
}

#[test]
fn an_output_redub_cannot_write_is_refused_naming_the_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let req = request(tmp.path(), "out.avi");
    let err = dub(&req, &StandIns::new(false), EventSink::silent()).unwrap_err().to_string();
    assert!(err.contains("out.avi") && err.contains("ends in .avi"), "{err}");
    assert!(err.contains("-o out.mp4") && err.contains("-o out.mkv"), "{err}");
    assert!(!req.output.exists());
    assert!(!tmp.path().join("out.es.srt").exists(), "nothing is written beside a refused output");
}

#[test]
fn an_old_job_file_without_the_subtitles_field_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let req = request(tmp.path(), "out.mp4");
    let mut json = serde_json::to_value(&req).unwrap();
    json.as_object_mut().unwrap().remove("subtitles");
    let back: DubRequest = serde_json::from_value(json).unwrap();
    assert_eq!(back.subtitles, SubtitleMode::Files);
    assert_eq!("embed".parse::<SubtitleMode>().unwrap(), SubtitleMode::Embed);
    assert!("both".parse::<SubtitleMode>().unwrap_err().contains("files or embed"));
}
