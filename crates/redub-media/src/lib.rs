//! Everything in Redub that starts `ffmpeg`/`ffprobe` or reads and writes media files.
//!
//! - [`probe`] / [`check_input`]: what an input contains, and clear [`Error::Input`]s for files
//!   Redub cannot dub (missing, empty, not media, no audio, zero length).
//! - [`extract_audio`]: the input's audio as PCM WAV (`speech16k.wav`, `mix.wav`).
//! - [`read_wav`], [`read_wav_mono`], [`write_wav`], [`write_wav_interleaved`]: WAV via hound.
//! - [`mux`]: the input's video copied bit for bit, the dubbed audio as AAC (default track,
//!   tagged with its language), optionally the original audio and embedded subtitles, in MP4,
//!   QuickTime or Matroska ([`Container`], by the output's extension), lasting exactly as long
//!   as the input; [`video_stream_hash`] proves the video was not touched.
//! - [`srt_string`] / [`write_srt`], [`vtt_string`] / [`write_vtt`]: SubRip and WebVTT
//!   subtitles; [`bilingual_text`] for cues in both languages.
//! - [`iso639_2`] / [`language_name`]: the language tags and names of tracks.
//! - [`link_or_copy`]: stems into the job's `output/` folder.
//! - [`scene_cuts`]: the times where the picture cuts to a new shot.
//!
//! External programs run through the small builder [`Tool`], which captures stderr and turns a
//! failure into [`Error::Process`] with its last lines (and a missing ffmpeg into a hint to run
//! `make setup`). `REDUB_FFMPEG` and `REDUB_FFPROBE` override the executables. Every file this
//! crate writes is written under a temporary name in the destination directory and renamed into
//! place, so a half-written file never looks finished.
//!
//! [`Error::Input`]: redub_core::Error::Input
//! [`Error::Process`]: redub_core::Error::Process

mod cmd;
mod ffmpeg;
mod fsutil;
mod language;
mod mux;
mod probe;
mod scene;
mod srt;
mod vtt;
mod wav;
mod wavstream;

pub use cmd::{finish_with_input, Captured, Tool, STDERR_TAIL_LINES};
pub use ffmpeg::{extract_audio, video_stream_hash};
pub use fsutil::{link_or_copy, write_atomic};
pub use language::{iso639_2, language_name};
pub use mux::{mux, Container, MuxOptions, SubtitleTrack, AAC_BITRATE};
pub use probe::{check_input, parse_probe_json, probe, AudioStream, Probe, VideoStream};
pub use scene::{scene_cuts, SCENE_THRESHOLD};
pub use srt::{bilingual_text, srt_string, srt_timestamp, write_srt};
pub use vtt::{vtt_string, vtt_timestamp, write_vtt};
pub use wav::{
    downmix, read_wav, read_wav_mono, write_wav, write_wav_as, write_wav_i16, write_wav_interleaved, WavFormat,
};
pub use wavstream::{WavBlocks, WavSink};
