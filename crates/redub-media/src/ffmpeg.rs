//! The ffmpeg jobs of the pipeline: pull the audio out of the input, put the dubbed audio back
//! next to the untouched video, and hash a video stream to prove it was not re-encoded.

use crate::cmd::Tool;
use crate::fsutil::PartFile;
use crate::probe::probe;
use redub_core::{lang, Error, Result};
use std::path::Path;

/// Bit rate of the dubbed (and, when re-encoded, the original) AAC audio.
pub const AAC_BITRATE: &str = "192k";

/// Extract the first audio stream of `input` to a 16-bit PCM WAV at `out_wav`, resampled to
/// `rate` when given and downmixed to one channel when `mono`. The file appears under its name
/// only once complete.
///
/// `speech16k.wav` is `extract_audio(input, out, Some(16_000), true)`; `mix.wav` is
/// `extract_audio(input, out, None, false)` (original rate and channels).
pub fn extract_audio(input: &Path, out_wav: &Path, rate: Option<u32>, mono: bool) -> Result<()> {
    let part = PartFile::new(out_wav)?;
    let mut cmd = Tool::ffmpeg().arg("-y").arg("-i").arg(input).args(["-map", "0:a:0", "-vn"]);
    if mono {
        cmd = cmd.args(["-ac", "1"]);
    }
    if let Some(rate) = rate {
        cmd = cmd.arg("-ar").arg(rate.to_string());
    }
    cmd = cmd.args(["-c:a", "pcm_s16le", "-f", "wav"]).arg(part.path());
    let out = cmd.output()?;
    if !out.status.success() {
        if out.stderr.contains("matches no streams") {
            return Err(Error::Input {
                path: input.to_path_buf(),
                problem: "has no audio stream; Redub dubs speech, so the input needs an audio track".into(),
                fix: "Use a copy of the video that includes its original soundtrack".into(),
            });
        }
        return Err(cmd.failure(&out));
    }
    part.commit()
}

/// How [`mux`] builds the output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MuxOptions {
    /// Keep the input's first audio stream as a second, non-default track.
    pub keep_original_audio: bool,
    /// Language of the dub (ISO 639-1 like `es`, or 639-2 like `spa`), for track metadata.
    pub dub_language: Option<String>,
    /// Language of the original audio, for the kept track's metadata.
    pub original_language: Option<String>,
}

/// Write `out`: the first video stream of `video_input` copied bit for bit (no re-encode), the
/// dubbed audio as AAC (the default track), and with
/// [`keep_original_audio`](MuxOptions::keep_original_audio) the original audio as a second
/// track. The dubbed audio is padded with silence or cut to the input's duration, so the output
/// lasts as long as the input. An input without video gives an audio-only file.
///
/// The container follows `out`'s extension (`.mp4`, `.mkv`, `.mov`, `.m4a`, …). When the video
/// codec cannot be stored in it, the error suggests `.mkv`. The file appears under its name
/// only once complete.
pub fn mux(video_input: &Path, dubbed_wav: &Path, out: &Path, opts: &MuxOptions) -> Result<()> {
    let info = probe(video_input)?;
    if info.duration_ms == 0 {
        return Err(Error::Input {
            path: video_input.to_path_buf(),
            problem: "has zero duration".into(),
            fix: "The file may be truncated or still being written; use a complete copy".into(),
        });
    }
    if !dubbed_wav.is_file() {
        return Err(Error::io(dubbed_wav, std::io::Error::new(std::io::ErrorKind::NotFound, "dubbed audio not found")));
    }
    let ext = out.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let mov_family = matches!(ext.as_str(), "mp4" | "m4v" | "m4a" | "mov" | "3gp");
    let keep_original = opts.keep_original_audio && info.audio.is_some();
    let duration = format!("{}.{:03}", info.duration_ms / 1000, info.duration_ms % 1000);

    let part = PartFile::new(out)?;
    let mut cmd = Tool::ffmpeg()
        .arg("-y")
        .arg("-i")
        .arg(video_input)
        .arg("-i")
        .arg(dubbed_wav)
        .args(["-map", "0:V:0?", "-map", "1:a:0"]);
    if keep_original {
        cmd = cmd.args(["-map", "0:a:0"]);
    }
    cmd = cmd.args([
        "-c:v",
        "copy",
        "-filter:a:0",
        dub_filter(dubbed_wav).as_str(),
        "-c:a:0",
        "aac",
        "-b:a:0",
        AAC_BITRATE,
    ]);
    cmd = cmd.args(track_metadata(0, "Dub", opts.dub_language.as_deref()));
    cmd = cmd.args(["-disposition:a:0", "default"]);
    if keep_original {
        let copy = info.audio.as_ref().is_some_and(|a| a.codec == "aac");
        cmd = if copy { cmd.args(["-c:a:1", "copy"]) } else { cmd.args(["-c:a:1", "aac", "-b:a:1", AAC_BITRATE]) };
        let lang = opts.original_language.clone().or_else(|| info.audio.as_ref().and_then(|a| a.language.clone()));
        cmd = cmd.args(track_metadata(1, "Original", lang.as_deref()));
        cmd = cmd.args(["-disposition:a:1", "0"]);
    }
    cmd = cmd.args(["-t", duration.as_str()]);
    if mov_family {
        cmd = cmd.args(["-movflags", "+faststart"]);
    }
    cmd = cmd.arg(part.path());

    let run = cmd.output()?;
    if !run.status.success() {
        let unsupported = run.stderr.contains("not currently supported in container")
            || run.stderr.contains("Could not find tag for codec");
        if unsupported && ext != "mkv" {
            let codec = info.video.as_ref().map(|v| v.codec.as_str()).unwrap_or("audio");
            let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
            return Err(Error::Input {
                path: video_input.to_path_buf(),
                problem: format!(
                    "its {codec} stream cannot be copied into a .{ext} file without re-encoding (ffmpeg: {})",
                    unsupported_line(&run.stderr)
                ),
                fix: format!("Write the dub to a .mkv file instead (e.g. `{stem}.mkv`), which can hold any codec"),
            });
        }
        return Err(cmd.failure(&run));
    }
    part.commit()
}

/// ffmpeg's "codec not supported in container" line without its `[mp4 @ 0x…]` prefix.
fn unsupported_line(stderr: &str) -> &str {
    let line = stderr
        .lines()
        .find(|l| l.contains("not currently supported in container") || l.contains("Could not find tag for codec"))
        .unwrap_or("codec not supported in this container")
        .trim();
    match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((_, msg)) => msg,
        None => line,
    }
}

/// The dubbed track's filter: pad with silence (the output is cut to the input's duration).
/// Mono and stereo WAVs are first remapped to plain `mono`/`stereo` layouts, because hound
/// writes float WAVs with a channel mask (`1 channels (FL)`) that the AAC encoder rejects.
fn dub_filter(wav: &Path) -> String {
    let channels = hound::WavReader::open(wav).map(|r| r.spec().channels).unwrap_or(0);
    match channels {
        1 => "pan=mono|c0=c0,apad".to_string(),
        2 => "pan=stereo|c0=c0|c1=c1,apad".to_string(),
        _ => "apad".to_string(),
    }
}

/// `-metadata:s:a:N language=… title=…` for output audio track `n`.
fn track_metadata(n: usize, role: &str, language: Option<&str>) -> Vec<String> {
    let mut args = Vec::new();
    let title = match language {
        Some(code) => {
            let iso2 = if code.len() == 3 { lang::from_iso3(code).unwrap_or(code) } else { code };
            let iso3 = lang::to_iso3(code).unwrap_or(code);
            args.extend([format!("-metadata:s:a:{n}"), format!("language={iso3}")]);
            format!("{role} ({})", lang::name(iso2))
        }
        None => role.to_string(),
    };
    args.extend([format!("-metadata:s:a:{n}"), format!("title={title}")]);
    args.extend([format!("-metadata:s:a:{n}"), format!("handler_name={title}")]);
    args
}

/// SHA-256 of the packets of the first (non-cover) video stream of `path`, as printed by
/// ffmpeg's `streamhash` muxer (`0,v,SHA256=…`). Equal hashes mean a bit-identical stream.
pub fn video_stream_hash(path: &Path) -> Result<String> {
    let out = Tool::ffmpeg()
        .arg("-i")
        .arg(path)
        .args(["-map", "0:V:0", "-c", "copy", "-f", "streamhash", "-hash", "sha256", "-"])
        .run()?;
    let text = out.stdout_text().trim().to_string();
    if text.is_empty() {
        return Err(Error::Process {
            program: "ffmpeg".into(),
            stderr: format!("{}: no video stream to hash", path.display()),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_line_is_cleaned() {
        let stderr = "[mp4 @ 0x5621c70fe940] Could not find tag for codec ffv1 in stream #0, codec not currently \
                      supported in container\nCould not write header for output file #0\n";
        assert!(unsupported_line(stderr).starts_with("Could not find tag for codec ffv1"));
    }

    #[test]
    fn metadata_names_languages() {
        let args = track_metadata(1, "Original", Some("en"));
        assert_eq!(
            args,
            [
                "-metadata:s:a:1",
                "language=eng",
                "-metadata:s:a:1",
                "title=Original (English)",
                "-metadata:s:a:1",
                "handler_name=Original (English)"
            ]
        );
        let args = track_metadata(0, "Dub", Some("spa"));
        assert_eq!(args[1], "language=spa");
        assert_eq!(args[3], "title=Dub (Spanish)");
        assert_eq!(
            track_metadata(0, "Dub", None),
            ["-metadata:s:a:0", "title=Dub", "-metadata:s:a:0", "handler_name=Dub"]
        );
    }
}
