//! The output file: the input's video copied bit for bit, the dubbed track first (AAC, tagged
//! with its language, the default), the original audio as a second track when asked, and SRT
//! files embedded as subtitle streams when asked; in MP4 (`.mp4`, `.m4v`), QuickTime (`.mov`)
//! or Matroska (`.mkv`), chosen by the output's extension.

use crate::cmd::Tool;
use crate::fsutil::PartFile;
use crate::language::{iso639_2, language_name};
use crate::probe::probe;
use redub_core::{Error, Result};
use std::path::{Path, PathBuf};

/// Bit rate of the original AAC audio when it is re-encoded, and of a dub of unknown layout.
pub const AAC_BITRATE: &str = "192k";
/// Bit rate per channel of the dubbed AAC audio: AAC-LC is transparent there, and ffmpeg's
/// encoder spends its time on bits (a 30 s mono dub: 1.11 s at 192 kb/s, 0.39 s at 96 kb/s).
pub const AAC_KBPS_PER_CHANNEL: u32 = 96;

/// The containers Redub writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// `.mp4` or `.m4v`: the default. Subtitles as `mov_text`.
    Mp4,
    /// `.mov` (QuickTime). Subtitles as `mov_text`.
    Mov,
    /// `.mkv`: holds any video codec and most audio codecs. Subtitles as SubRip.
    Matroska,
}

impl Container {
    /// The container `out` asks for by its extension (case does not matter). Anything other
    /// than `.mp4`, `.m4v`, `.mov` and `.mkv` is an [`Error::Input`] naming the extension and
    /// the names that work.
    pub fn for_output(out: &Path) -> Result<Self> {
        let ext = out.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("mp4" | "m4v") => Ok(Self::Mp4),
            Some("mov") => Ok(Self::Mov),
            Some("mkv") => Ok(Self::Matroska),
            other => {
                let stem = out.file_stem().map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
                let problem = match other {
                    Some(ext) => format!(
                        "ends in .{ext}, a container Redub does not write (it writes .mp4, .m4v, .mov and .mkv)"
                    ),
                    None => {
                        "has no extension, so there is no container to write (Redub writes .mp4, .m4v, .mov and .mkv)"
                            .into()
                    }
                };
                Err(Error::Input {
                    path: out.to_path_buf(),
                    problem,
                    fix: format!("Pass `-o {stem}.mp4` (MP4, the default) or `-o {stem}.mkv` (Matroska)"),
                })
            }
        }
    }

    /// The container's name in messages and docs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mp4 => "MP4",
            Self::Mov => "QuickTime",
            Self::Matroska => "Matroska",
        }
    }

    /// The codec embedded subtitles are stored in (ffmpeg's encoder name).
    pub fn subtitle_codec(self) -> &'static str {
        match self {
            Self::Mp4 | Self::Mov => "mov_text",
            Self::Matroska => "srt",
        }
    }

    /// Whether an audio stream of `codec` (ffmpeg's name) can be copied into this container
    /// as it is; otherwise it is encoded to AAC.
    pub fn holds_audio(self, codec: &str) -> bool {
        const MP4: &[&str] = &["aac", "mp3", "mp2", "ac3", "eac3", "alac", "opus"];
        const MOV: &[&str] = &["aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be"];
        const MKV: &[&str] = &[
            "aac",
            "mp3",
            "mp2",
            "ac3",
            "eac3",
            "dts",
            "truehd",
            "flac",
            "opus",
            "vorbis",
            "alac",
            "pcm_s16le",
            "pcm_s24le",
            "pcm_s32le",
            "pcm_f32le",
            "pcm_u8",
        ];
        match self {
            Self::Mp4 => MP4,
            Self::Mov => MOV,
            Self::Matroska => MKV,
        }
        .contains(&codec)
    }

    fn is_mov_family(self) -> bool {
        matches!(self, Self::Mp4 | Self::Mov)
    }
}

/// A subtitle file (SubRip) to embed as a subtitle stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubtitleTrack {
    /// The `.srt` file.
    pub path: PathBuf,
    /// Its language (ISO 639-1 like `es`, or 639-2 like `spa`).
    pub language: Option<String>,
    /// What players list it as, e.g. `Spanish`.
    pub title: String,
}

/// How [`mux`] builds the output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MuxOptions {
    /// Keep the input's first audio stream as a second, non-default track.
    pub keep_original_audio: bool,
    /// Language of the dub (ISO 639-1 like `es`, or 639-2 like `spa`), for track metadata.
    pub dub_language: Option<String>,
    /// Language of the original audio, for the kept track's metadata (the input's own tag
    /// when `None`).
    pub original_language: Option<String>,
    /// SRT files to embed as subtitle streams, in order; the first is the default.
    pub subtitles: Vec<SubtitleTrack>,
}

/// Write `out`: the first video stream of `video_input` copied bit for bit (no re-encode), the
/// dubbed audio as AAC (the default track, tagged `{Language} (dubbed)`), with
/// [`keep_original_audio`](MuxOptions::keep_original_audio) the original audio as a second,
/// non-default track (`{Language} (original)`; copied when the container holds its codec, AAC
/// otherwise), then the [`subtitles`](MuxOptions::subtitles) as subtitle streams (`mov_text` in
/// MP4/QuickTime, SubRip in Matroska; the first one default). The dubbed audio is padded with
/// silence or cut to the input's duration, so the output lasts as long as the input. An input
/// without video gives an audio-only file.
///
/// The container follows `out`'s extension ([`Container::for_output`]). When the video codec
/// cannot be stored in it, the error suggests `.mkv`. The file appears under its name only
/// once complete.
pub fn mux(video_input: &Path, dubbed_wav: &Path, out: &Path, opts: &MuxOptions) -> Result<()> {
    let container = Container::for_output(out)?;
    let info = probe(video_input)?;
    if info.duration_ms == 0 {
        return Err(Error::Input {
            path: video_input.to_path_buf(),
            problem: "has zero duration".into(),
            fix: "The file may be truncated or still being written; use a complete copy".into(),
        });
    }
    for path in std::iter::once(dubbed_wav).chain(opts.subtitles.iter().map(|s| s.path.as_path())) {
        if !path.is_file() {
            let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "not found; the mux needs it");
            return Err(Error::io(path, missing));
        }
    }
    let original = info.audio.as_ref().filter(|_| opts.keep_original_audio);
    let duration = format!("{}.{:03}", info.duration_ms / 1000, info.duration_ms % 1000);

    let part = PartFile::new(out)?;
    let mut cmd = Tool::ffmpeg().arg("-y").arg("-i").arg(video_input).arg("-i").arg(dubbed_wav);
    for s in &opts.subtitles {
        cmd = cmd.args(["-f", "srt", "-i"]).arg(&s.path);
    }
    cmd = cmd.args(["-map", "0:V:0?", "-map", "1:a:0"]);
    if original.is_some() {
        cmd = cmd.args(["-map", "0:a:0"]);
    }
    for n in 0..opts.subtitles.len() {
        cmd = cmd.arg("-map").arg(format!("{}:s:0", n + 2));
    }
    cmd = cmd.args(["-c:v", "copy"]);
    if info.video.is_some() {
        cmd = cmd.args(["-disposition:v:0", "default"]);
    }
    cmd = cmd.args(dub_args(dubbed_wav, opts.dub_language.as_deref()));
    if let Some(audio) = original {
        let lang = opts.original_language.as_deref().or(audio.language.as_deref());
        cmd = cmd.args(original_args(container.holds_audio(&audio.codec), lang));
    }
    cmd = cmd.args(subtitle_args(container, &opts.subtitles));
    cmd = cmd.args(["-t", duration.as_str()]);
    if container.is_mov_family() {
        cmd = cmd.args(["-movflags", "+faststart"]);
    }
    cmd = cmd.arg(part.path());

    let run = cmd.output()?;
    if !run.status.success() {
        if container != Container::Matroska && unsupported(&run.stderr) {
            return Err(needs_mkv(
                video_input,
                out,
                info.video.as_ref().map_or("audio", |v| v.codec.as_str()),
                &run.stderr,
            ));
        }
        return Err(cmd.failure(&run));
    }
    part.commit()
}

/// Output track 0 of the audio: the dub, padded, AAC, default.
fn dub_args(wav: &Path, language: Option<&str>) -> Vec<String> {
    let channels = hound::WavReader::open(wav).map(|r| r.spec().channels).unwrap_or(0);
    let bitrate = match channels {
        1 | 2 => format!("{}k", AAC_KBPS_PER_CHANNEL * u32::from(channels)),
        _ => AAC_BITRATE.to_string(),
    };
    let mut args = vec!["-filter:a:0".to_string(), dub_filter(channels)];
    args.extend(["-c:a:0".into(), "aac".into(), "-b:a:0".into(), bitrate]);
    args.extend(stream_tags("a:0", language, &track_title(language, "dubbed")));
    args.extend(["-disposition:a:0".into(), "default".into()]);
    args
}

/// Output track 1 of the audio: the original, copied when the container holds its codec.
fn original_args(copy: bool, language: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = if copy {
        vec!["-c:a:1".into(), "copy".into()]
    } else {
        ["-c:a:1", "aac", "-b:a:1", AAC_BITRATE].map(String::from).into()
    };
    args.extend(stream_tags("a:1", language, &track_title(language, "original")));
    args.extend(["-disposition:a:1".into(), "0".into()]);
    args
}

/// The subtitle streams: the container's codec, tags, the first one default.
fn subtitle_args(container: Container, subtitles: &[SubtitleTrack]) -> Vec<String> {
    let mut args = Vec::new();
    if subtitles.is_empty() {
        return args;
    }
    args.extend(["-c:s".into(), container.subtitle_codec().into()]);
    for (n, s) in subtitles.iter().enumerate() {
        let spec = format!("s:{n}");
        args.extend(stream_tags(&spec, s.language.as_deref(), &s.title));
        args.extend([format!("-disposition:{spec}"), if n == 0 { "default" } else { "0" }.into()]);
    }
    args
}

/// `Spanish (dubbed)`; `Dubbed` without a language.
fn track_title(language: Option<&str>, role: &str) -> String {
    match language {
        Some(code) => format!("{} ({role})", language_name(code)),
        None => {
            let mut c = role.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        }
    }
}

/// `-metadata:s:<spec> language=… title=… handler_name=…` (MP4 players show the handler name,
/// Matroska ones the title). A language outside the table is left untagged.
fn stream_tags(spec: &str, language: Option<&str>, title: &str) -> Vec<String> {
    let key = format!("-metadata:s:{spec}");
    let mut args = Vec::new();
    if let Some(code) = language.and_then(iso639_2) {
        args.extend([key.clone(), format!("language={code}")]);
    }
    args.extend([key.clone(), format!("title={title}"), key, format!("handler_name={title}")]);
    args
}

/// The dubbed track's filter: pad with silence (the output is cut to the input's duration).
/// Mono and stereo WAVs are first remapped to plain `mono`/`stereo` layouts, because hound
/// writes float WAVs with a channel mask (`1 channels (FL)`) that the AAC encoder rejects.
fn dub_filter(channels: u16) -> String {
    match channels {
        1 => "pan=mono|c0=c0,apad".to_string(),
        2 => "pan=stereo|c0=c0|c1=c1,apad".to_string(),
        _ => "apad".to_string(),
    }
}

fn unsupported(stderr: &str) -> bool {
    stderr.contains("not currently supported in container") || stderr.contains("Could not find tag for codec")
}

/// The error for a video codec the container cannot hold: write `.mkv` instead.
fn needs_mkv(video_input: &Path, out: &Path, codec: &str, stderr: &str) -> Error {
    let ext = out.extension().map_or_else(String::new, |e| e.to_string_lossy().to_ascii_lowercase());
    let stem = out.file_stem().map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
    Error::Input {
        path: video_input.to_path_buf(),
        problem: format!(
            "its {codec} stream cannot be copied into a .{ext} file without re-encoding (ffmpeg: {})",
            unsupported_line(stderr)
        ),
        fix: format!("Write the dub to a .mkv file instead (e.g. `{stem}.mkv`), which can hold any codec"),
    }
}

/// ffmpeg's "codec not supported in container" line without its `[mp4 @ 0x…]` prefix.
fn unsupported_line(stderr: &str) -> &str {
    let line = stderr.lines().find(|l| unsupported(l)).unwrap_or("codec not supported in this container").trim();
    match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((_, msg)) => msg,
        None => line,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn containers_by_extension() {
        assert_eq!(Container::for_output(Path::new("a/out.mp4")).unwrap(), Container::Mp4);
        assert_eq!(Container::for_output(Path::new("out.M4V")).unwrap(), Container::Mp4);
        assert_eq!(Container::for_output(Path::new("out.mov")).unwrap(), Container::Mov);
        assert_eq!(Container::for_output(Path::new("out.es.MKV")).unwrap(), Container::Matroska);
        assert_eq!(Container::Matroska.subtitle_codec(), "srt");
        assert_eq!(Container::Mp4.subtitle_codec(), "mov_text");
    }

    #[test]
    fn other_extensions_are_refused_with_the_fix() {
        for (name, says) in [("film.avi", "ends in .avi"), ("film.webm", "ends in .webm"), ("film", "has no extension")]
        {
            match Container::for_output(Path::new(name)).unwrap_err() {
                Error::Input { path, problem, fix } => {
                    assert_eq!(path, Path::new(name));
                    assert!(problem.contains(says) && problem.contains(".mkv"), "{problem}");
                    assert_eq!(fix, "Pass `-o film.mp4` (MP4, the default) or `-o film.mkv` (Matroska)");
                }
                other => panic!("expected an input error, got {other:?}"),
            }
        }
    }

    #[test]
    fn audio_codecs_copied_or_encoded() {
        assert!(Container::Mp4.holds_audio("aac"));
        assert!(!Container::Mp4.holds_audio("pcm_s16le"));
        assert!(!Container::Mp4.holds_audio("flac"));
        assert!(Container::Matroska.holds_audio("flac"));
        assert!(Container::Matroska.holds_audio("pcm_s16le"));
        assert!(Container::Mov.holds_audio("pcm_s16le"));
    }

    #[test]
    fn unsupported_line_is_cleaned() {
        let stderr = "[mp4 @ 0x5621c70fe940] Could not find tag for codec ffv1 in stream #0, codec not currently \
                      supported in container\nCould not write header for output file #0\n";
        assert!(unsupported_line(stderr).starts_with("Could not find tag for codec ffv1"));
    }

    #[test]
    fn tracks_are_tagged_and_titled() {
        assert_eq!(
            original_args(true, Some("en")),
            [
                "-c:a:1",
                "copy",
                "-metadata:s:a:1",
                "language=eng",
                "-metadata:s:a:1",
                "title=English (original)",
                "-metadata:s:a:1",
                "handler_name=English (original)",
                "-disposition:a:1",
                "0"
            ]
        );
        let dub = dub_args(Path::new("/nonexistent.wav"), Some("spa"));
        assert!(dub.contains(&"language=spa".to_string()) && dub.contains(&"title=Spanish (dubbed)".to_string()));
        assert_eq!(dub[dub.len() - 2..], ["-disposition:a:0", "default"]);
        assert_eq!(track_title(None, "dubbed"), "Dubbed");
        // A code outside the table is left untagged but still titled.
        assert_eq!(stream_tags("a:0", Some("xx"), "xx (dubbed)")[..2], ["-metadata:s:a:0", "title=xx (dubbed)"]);
    }

    #[test]
    fn the_dub_gets_its_bit_rate_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let rate_of = |channels: u16| {
            let path = dir.path().join(format!("{channels}.wav"));
            let spec = hound::WavSpec {
                channels,
                sample_rate: 16_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            hound::WavWriter::create(&path, spec).unwrap().finalize().unwrap();
            let args = dub_args(&path, None);
            args[args.iter().position(|a| a == "-b:a:0").unwrap() + 1].clone()
        };
        assert_eq!(rate_of(1), "96k");
        assert_eq!(rate_of(2), "192k");
        assert_eq!(rate_of(6), AAC_BITRATE);
    }

    #[test]
    fn subtitle_streams_first_default() {
        let subs = [
            SubtitleTrack { path: "a.es.srt".into(), language: Some("es".into()), title: "Spanish".into() },
            SubtitleTrack { path: "a.en.srt".into(), language: Some("en".into()), title: "English (original)".into() },
        ];
        let args = subtitle_args(Container::Matroska, &subs);
        assert_eq!(args[..2], ["-c:s", "srt"]);
        let at = |s: &str| args.iter().position(|a| a == s).unwrap();
        assert_eq!(args[at("-disposition:s:0") + 1], "default");
        assert_eq!(args[at("-disposition:s:1") + 1], "0");
        assert!(args.contains(&"language=spa".to_string()) && args.contains(&"language=eng".to_string()));
        assert!(subtitle_args(Container::Mp4, &[]).is_empty());
    }
}
