//! `redub diarize`: who speaks when in one file, without a dubbing job. The same steps as the
//! dub's first stages (audio extraction, VAD, scene cuts, diarization), with the intermediate
//! audio in a temporary folder that is removed afterwards.

use crate::backends::Backends;
use crate::events::EventSink;
use redub_core::{Ctx, Error, Result, Turn};
use redub_diarize::DiarizeSettings;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Progress<'a> = dyn Fn(u64, u64) + Sync + 'a;

/// Removes the scratch folder however the run ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Speaker turns of `input` (any file ffmpeg reads with an audio stream).
pub fn diarize_file(
    input: &Path,
    settings: &DiarizeSettings,
    backends: &dyn Backends,
    events: &EventSink,
) -> Result<Vec<Turn>> {
    let probe = redub_media::check_input(input)?;
    settings.limits()?;
    let scratch = Scratch(std::env::temp_dir().join(format!("redub-diarize-{}-{}", std::process::id(), nanos())));
    std::fs::create_dir_all(&scratch.0).map_err(|e| Error::io(&scratch.0, e))?;
    let wav = scratch.0.join("speech16k.wav");

    let step = |name: &str, f: &mut dyn FnMut(&Progress) -> Result<()>| -> Result<()> {
        let t = Instant::now();
        events.emit("stage_started", json!({ "stage": name }));
        let progress = events.progress_fn(name);
        match f(&progress) {
            Ok(()) => {
                events.emit("stage_done", json!({ "stage": name, "took_ms": t.elapsed().as_millis() as u64 }));
                Ok(())
            }
            Err(e) => {
                events.emit("error", json!({ "stage": name, "message": e.to_string() }));
                Err(e)
            }
        }
    };

    let mut audio = None;
    step("extract", &mut |_| {
        redub_media::extract_audio(input, &wav, Some(16_000), true)?;
        audio = Some(redub_media::read_wav_mono(&wav)?);
        Ok(())
    })?;
    let audio = audio.ok_or_else(|| Error::backend("diarize", "no audio was extracted"))?;
    let mut regions = Vec::new();
    step("vad", &mut |p| {
        let progress = |d, t| p(d, t);
        regions = backends.vad()?.detect(&audio, &Ctx::new(&progress, None))?;
        Ok(())
    })?;
    let mut cuts = Vec::new();
    if probe.video.is_some() && probe.duration_ms > settings.chunk.max_ms {
        step("scenes", &mut |_| {
            cuts = redub_media::scene_cuts(input, redub_media::SCENE_THRESHOLD)?;
            Ok(())
        })?;
    }
    let mut turns = Vec::new();
    step("diarize", &mut |p| {
        let progress = |d, t| p(d, t);
        turns = backends.diarizer(settings)?.diarize(&audio, &regions, &cuts, &Ctx::new(&progress, None))?;
        Ok(())
    })?;
    Ok(turns)
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
