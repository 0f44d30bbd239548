//! What a media file contains (`ffprobe`), and the input check that turns every way a file can
//! be unusable into an [`Error::Input`] with a problem and a fix.

use crate::cmd::{tail_lines, Tool};
use redub_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A media file's container and its first video and audio streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Container duration (or the longest stream's when the container has none).
    pub duration_ms: u64,
    /// ffprobe's format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `mpeg`, `matroska,webm`.
    pub format_name: String,
    /// The first video stream that is not a cover picture.
    pub video: Option<VideoStream>,
    /// The first audio stream.
    pub audio: Option<AudioStream>,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    /// Stream index in the container.
    pub index: u32,
    /// ffmpeg codec name, e.g. `h264`, `mpeg2video`.
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Average frame rate when known.
    pub fps: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    /// Stream index in the container.
    pub index: u32,
    /// ffmpeg codec name, e.g. `aac`, `pcm_s16le`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// The stream's language tag when the file has one (often ISO 639-2, e.g. `eng`).
    #[serde(default)]
    pub language: Option<String>,
}

impl Probe {
    pub fn has_video(&self) -> bool {
        self.video.is_some()
    }
}

/// Describe `path` with `ffprobe -print_format json -show_format -show_streams`.
pub fn probe(path: &Path) -> Result<Probe> {
    let out = probe_command(path).run()?;
    parse_probe_json(path, &out.stdout)
}

fn probe_command(path: &Path) -> Tool {
    Tool::ffprobe().args(["-print_format", "json", "-show_format", "-show_streams"]).arg(path)
}

/// Check that `path` is media Redub can dub and describe it. Every failure is an
/// [`Error::Input`] saying what is wrong and what to do, except a missing ffprobe.
/// A file with audio but no video is accepted (audio-only dub).
pub fn check_input(path: &Path) -> Result<Probe> {
    let input = |problem: &str, fix: &str| Error::Input {
        path: path.to_path_buf(),
        problem: problem.to_string(),
        fix: fix.to_string(),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(input("does not exist", "Check the path and the file name"));
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    if meta.is_dir() {
        return Err(input("is a directory, not a media file", "Pass a video or audio file"));
    }
    if meta.len() == 0 {
        return Err(input(
            "is empty (0 bytes)",
            "The file did not finish downloading or copying; get a complete copy and try again",
        ));
    }
    if let Err(e) = std::fs::File::open(path) {
        return Err(input(
            &format!("cannot be read ({e})"),
            "Check the file's permissions, or copy it somewhere readable",
        ));
    }

    let out = probe_command(path).output()?;
    if !out.status.success() {
        return Err(input(
            &format!("is not a readable video or audio file (ffprobe: {})", ffprobe_message(path, &out.stderr)),
            "Check that it is a complete video or audio file; if a player can open it, re-encode it \
             with ffmpeg (e.g. `ffmpeg -i in -c:v libx264 -c:a aac out.mp4`) and try again",
        ));
    }
    let probe = parse_probe_json(path, &out.stdout)?;
    if probe.audio.is_none() {
        return Err(input(
            "has no audio stream; Redub dubs speech, so the input needs an audio track",
            "Use a copy of the video that includes its original soundtrack",
        ));
    }
    if probe.duration_ms == 0 {
        return Err(input(
            "has zero duration",
            "The file may be truncated or still being written; use a complete copy",
        ));
    }
    Ok(probe)
}

/// ffprobe's complaint in one line, without the file name it prefixes.
fn ffprobe_message(path: &Path, stderr: &str) -> String {
    let prefix = format!("{}: ", path.display());
    let msg = tail_lines(stderr, 5)
        .lines()
        .map(|l| l.trim().strip_prefix(prefix.as_str()).unwrap_or(l.trim()).to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if msg.is_empty() {
        "no details".to_string()
    } else {
        msg
    }
}

#[derive(Deserialize)]
struct RawProbe {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawFormat {
    #[serde(default)]
    format_name: String,
    duration: Option<String>,
    size: Option<String>,
}

#[derive(Deserialize)]
struct RawStream {
    index: u32,
    #[serde(default)]
    codec_type: String,
    #[serde(default)]
    codec_name: String,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    duration: Option<String>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
}

/// Build a [`Probe`] from ffprobe's JSON (`-show_format -show_streams`). `path` is used for
/// errors and, when the JSON has no size, for the file size.
pub fn parse_probe_json(path: &Path, json: &[u8]) -> Result<Probe> {
    let raw: RawProbe =
        serde_json::from_slice(json).map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
    let format = raw.format.unwrap_or(RawFormat { format_name: String::new(), duration: None, size: None });

    let secs_to_ms = |s: &Option<String>| -> Option<u64> {
        let v: f64 = s.as_deref()?.trim().parse().ok()?;
        (v.is_finite() && v >= 0.0).then(|| (v * 1000.0).round() as u64)
    };
    let duration_ms = secs_to_ms(&format.duration)
        .filter(|&d| d > 0)
        .or_else(|| raw.streams.iter().filter_map(|s| secs_to_ms(&s.duration)).max())
        .unwrap_or(0);

    let video = raw
        .streams
        .iter()
        .find(|s| s.codec_type == "video" && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0)
        .map(|s| VideoStream {
            index: s.index,
            codec: s.codec_name.clone(),
            width: s.width.unwrap_or(0),
            height: s.height.unwrap_or(0),
            fps: parse_rate(s.avg_frame_rate.as_deref()).or_else(|| parse_rate(s.r_frame_rate.as_deref())),
        });
    let audio = raw.streams.iter().find(|s| s.codec_type == "audio").map(|s| AudioStream {
        index: s.index,
        codec: s.codec_name.clone(),
        sample_rate: s.sample_rate.as_deref().and_then(|r| r.trim().parse().ok()).unwrap_or(0),
        channels: s.channels.unwrap_or(0),
        language: s.tags.get("language").filter(|l| !l.is_empty() && *l != "und").cloned(),
    });
    let size_bytes = format
        .size
        .as_deref()
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| std::fs::metadata(path).ok().map(|m| m.len()))
        .unwrap_or(0);

    Ok(Probe { duration_ms, format_name: format.format_name, video, audio, size_bytes })
}

/// `"30000/1001"` → 29.97; `"0/0"` and garbage → None.
fn parse_rate(rate: Option<&str>) -> Option<f64> {
    let rate = rate?.trim();
    let v = match rate.split_once('/') {
        Some((n, d)) => {
            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
            if d == 0.0 {
                return None;
            }
            n / d
        }
        None => rate.parse().ok()?,
    };
    (v.is_finite() && v > 0.0).then_some(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate(Some("25/1")), Some(25.0));
        assert!((parse_rate(Some("30000/1001")).unwrap() - 29.97).abs() < 0.001);
        assert_eq!(parse_rate(Some("0/0")), None);
        assert_eq!(parse_rate(Some("x")), None);
        assert_eq!(parse_rate(None), None);
    }

    #[test]
    fn parses_json_skipping_cover_art_and_falling_back_to_stream_duration() {
        let json = br#"{
            "streams": [
                {"index": 0, "codec_type": "audio", "codec_name": "mp3", "sample_rate": "44100",
                 "channels": 2, "duration": "12.3456", "tags": {"language": "eng"}},
                {"index": 1, "codec_type": "video", "codec_name": "mjpeg", "width": 500, "height": 500,
                 "disposition": {"attached_pic": 1}}
            ],
            "format": {"format_name": "mp3", "size": "1234"}
        }"#;
        let p = parse_probe_json(Path::new("x.mp3"), json).unwrap();
        assert_eq!(p.duration_ms, 12_346);
        assert_eq!(p.format_name, "mp3");
        assert_eq!(p.size_bytes, 1234);
        assert!(p.video.is_none());
        let a = p.audio.unwrap();
        assert_eq!((a.index, a.codec.as_str(), a.sample_rate, a.channels), (0, "mp3", 44_100, 2));
        assert_eq!(a.language.as_deref(), Some("eng"));
    }

    #[test]
    fn bad_json_is_json_error() {
        assert!(matches!(parse_probe_json(Path::new("x"), b"not json"), Err(Error::Json { .. })));
    }

    #[test]
    fn ffprobe_message_strips_path() {
        let p = Path::new("/tmp/x.bin");
        assert_eq!(
            ffprobe_message(p, "/tmp/x.bin: Invalid data found when processing input\n"),
            "Invalid data found when processing input"
        );
        assert_eq!(ffprobe_message(p, ""), "no details");
    }
}
