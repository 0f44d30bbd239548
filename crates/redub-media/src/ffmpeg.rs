//! The ffmpeg jobs of the pipeline besides the mux (`mux.rs`): pull the audio out of the input,
//! and hash a video stream to prove it was not re-encoded.

use crate::cmd::Tool;
use crate::fsutil::PartFile;
use redub_core::{Error, Result};
use std::path::Path;

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
