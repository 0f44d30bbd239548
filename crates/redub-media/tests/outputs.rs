//! What a dub delivers, against real ffmpeg/ffprobe (issue 12 item 5): MKV and MP4 outputs with
//! the dubbed and the original audio and embedded subtitles, probed stream by stream; the SRT
//! and WebVTT files; an output name Redub cannot write.
#![allow(clippy::unwrap_used)]

use redub_core::Error;
use redub_media::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// 3 s of a test picture (H.264) and a 440 Hz tone in `codec`, in `name` (lavfi, as the
/// pipeline's `make_input`).
fn input(dir: &Path, name: &str, codec: &str) -> PathBuf {
    let p = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=3:size=64x64:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        codec,
        "-shortest",
        p.to_str().unwrap(),
    ]);
    p
}

fn dub_wav(dir: &Path) -> PathBuf {
    let p = dir.join("dub.wav");
    let samples = (0..72_000).map(|i| 0.3 * (i as f32 * 300.0 * std::f32::consts::TAU / 24_000.0).sin()).collect();
    write_wav(&p, &redub_core::Audio::new(24_000, samples)).unwrap();
    p
}

/// The Spanish and English SRT files of two lines, as the mux stage writes them.
fn subtitles(dir: &Path) -> Vec<SubtitleTrack> {
    let es = dir.join("out.es.srt");
    let en = dir.join("out.en.srt");
    write_srt(&es, &[(500, 1500, "Hola."), (2000, 2900, "¿Qué tal?")]).unwrap();
    write_srt(&en, &[(500, 1500, "Hello."), (2000, 2900, "How are you?")]).unwrap();
    vec![
        SubtitleTrack { path: es, language: Some("es".into()), title: "Spanish".into() },
        SubtitleTrack { path: en, language: Some("en".into()), title: "English (original)".into() },
    ]
}

/// `ffprobe -show_streams -of json`'s streams.
fn streams(path: &Path) -> Vec<Value> {
    let out = Command::new("ffprobe").args(["-v", "error", "-show_streams", "-of", "json"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"].as_array().unwrap().clone()
}

/// (codec_type, codec_name, tags.language, disposition.default) of each stream.
fn summary(streams: &[Value]) -> Vec<(String, String, String, i64)> {
    streams
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap().to_string(),
                s["codec_name"].as_str().unwrap().to_string(),
                s["tags"]["language"].as_str().unwrap_or("").to_string(),
                s["disposition"]["default"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn row(kind: &str, codec: &str, lang: &str, default: i64) -> (String, String, String, i64) {
    (kind.into(), codec.into(), lang.into(), default)
}

fn opts(subtitles: Vec<SubtitleTrack>) -> MuxOptions {
    MuxOptions {
        keep_original_audio: true,
        dub_language: Some("es".into()),
        original_language: Some("en".into()),
        subtitles,
    }
}

#[test]
fn mkv_with_two_audio_tracks_and_embedded_subtitles() {
    let dir = tempfile::tempdir().unwrap();
    // FLAC original: Matroska holds it, so it is copied.
    let v = input(dir.path(), "in.mkv", "flac");
    let out = dir.path().join("out.mkv");
    mux(&v, &dub_wav(dir.path()), &out, &opts(subtitles(dir.path()))).unwrap();

    let s = streams(&out);
    assert_eq!(
        summary(&s),
        [
            row("video", "h264", "", 1),
            row("audio", "aac", "spa", 1),
            row("audio", "flac", "eng", 0),
            row("subtitle", "subrip", "spa", 1),
            row("subtitle", "subrip", "eng", 0),
        ]
    );
    assert_eq!(s[1]["tags"]["title"], "Spanish (dubbed)");
    assert_eq!(s[2]["tags"]["title"], "English (original)");
    assert_eq!(s[3]["tags"]["title"], "Spanish");
    assert_eq!(video_stream_hash(&out).unwrap(), video_stream_hash(&v).unwrap());
    assert!(probe(&out).unwrap().duration_ms.abs_diff(3000) <= 50);

    // The subtitle stream holds the cues, 500 ms after the picture starts (Matroska starts
    // every stream later by the AAC encoder's priming, the same for all).
    let back = dir.path().join("back.srt");
    ffmpeg(&["-i", out.to_str().unwrap(), "-map", "0:s:0", back.to_str().unwrap()]);
    let text = std::fs::read_to_string(&back).unwrap().replace("\r\n", "\n");
    assert!(text.contains("\nHola.\n") && text.contains("\n¿Qué tal?\n"), "{text}");
    let video_start = first_pts(&out, "v:0");
    assert!((first_pts(&out, "s:0") - video_start - 0.5).abs() < 0.002, "{text}");
}

/// The first packet's presentation time of `stream` (e.g. `s:0`), in seconds.
fn first_pts(path: &Path, stream: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().filter_map(|l| l.trim().parse::<f64>().ok()).fold(f64::INFINITY, f64::min)
}

#[test]
fn mp4_with_two_audio_tracks_and_mov_text() {
    let dir = tempfile::tempdir().unwrap();
    let v = input(dir.path(), "in.mp4", "aac");
    let out = dir.path().join("out.mp4");
    mux(&v, &dub_wav(dir.path()), &out, &opts(subtitles(dir.path()))).unwrap();

    let s = streams(&out);
    assert_eq!(
        summary(&s),
        [
            row("video", "h264", "und", 1),
            row("audio", "aac", "spa", 1),
            row("audio", "aac", "eng", 0),
            row("subtitle", "mov_text", "spa", 1),
            row("subtitle", "mov_text", "eng", 0),
        ]
    );
    // MP4 players list a track by its handler name.
    assert_eq!(s[1]["tags"]["handler_name"], "Spanish (dubbed)");
    assert_eq!(s[2]["tags"]["handler_name"], "English (original)");
    assert_eq!(s[4]["tags"]["handler_name"], "English (original)");
    assert_eq!(video_stream_hash(&out).unwrap(), video_stream_hash(&v).unwrap());

    // Without subtitles to embed and without the original: video and the dub alone.
    let plain = dir.path().join("plain.m4v");
    let only_dub = MuxOptions { dub_language: Some("fr".into()), ..Default::default() };
    mux(&v, &dub_wav(dir.path()), &plain, &only_dub).unwrap();
    assert_eq!(summary(&streams(&plain)), [row("video", "h264", "und", 1), row("audio", "aac", "fra", 1)]);
}

#[test]
fn a_missing_subtitle_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let v = input(dir.path(), "in.mp4", "aac");
    let mut subs = subtitles(dir.path());
    subs[1].path = dir.path().join("gone.en.srt");
    let out = dir.path().join("out.mp4");
    let err = mux(&v, &dub_wav(dir.path()), &out, &opts(subs)).unwrap_err().to_string();
    assert!(err.contains("gone.en.srt"), "{err}");
    assert!(!out.exists());
}

#[test]
fn an_unsupported_extension_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let v = input(dir.path(), "in.mp4", "aac");
    let out = dir.path().join("film.avi");
    match mux(&v, &dub_wav(dir.path()), &out, &MuxOptions::default()).unwrap_err() {
        Error::Input { path, problem, fix } => {
            assert_eq!(path, out);
            assert!(problem.contains(".avi"), "{problem}");
            assert!(fix.contains("film.mp4") && fix.contains("film.mkv"), "{fix}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(!out.exists());
}

#[test]
fn srt_and_webvtt_files_and_bilingual_order() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [(1_500, 3_250, "Hello there.", "Hola."), (3_723_456, 3_725_000, "Bye & thanks", "Adiós y gracias")];
    let both: Vec<(u64, u64, String)> = lines.iter().map(|l| (l.0, l.1, bilingual_text(l.3, l.2))).collect();
    let (srt, vtt) = (dir.path().join("out.en-es.srt"), dir.path().join("out.en-es.vtt"));
    write_srt(&srt, &both).unwrap();
    write_vtt(&vtt, &both).unwrap();
    assert_eq!(
        std::fs::read_to_string(&srt).unwrap(),
        "1\n00:00:01,500 --> 00:00:03,250\nHola.\nHello there.\n\n\
         2\n01:02:03,456 --> 01:02:05,000\nAdiós y gracias\nBye & thanks\n\n"
    );
    assert_eq!(
        std::fs::read_to_string(&vtt).unwrap(),
        "WEBVTT\n\n\
         1\n00:00:01.500 --> 00:00:03.250\nHola.\nHello there.\n\n\
         2\n01:02:03.456 --> 01:02:05.000\nAdiós y gracias\nBye &amp; thanks\n\n"
    );
    // ffmpeg reads both back as subtitles.
    for (path, format) in [(&srt, "srt"), (&vtt, "webvtt")] {
        assert_eq!(probe(path).unwrap().format_name, format);
        let back = dir.path().join(format!("back-{format}.srt"));
        ffmpeg(&["-i", path.to_str().unwrap(), back.to_str().unwrap()]);
        // ffmpeg ends the lines inside a cue with CRLF.
        let text = std::fs::read_to_string(&back).unwrap().replace("\r\n", "\n");
        assert!(text.contains("01:02:03,456 --> 01:02:05,000\nAdiós y gracias\nBye & thanks"), "{format}: {text}");
    }
}
