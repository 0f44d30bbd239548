//! Stand-in stages shared by the pipeline's integration tests: fixed speech regions, a fixed
//! transcript, two speakers taking turns, and a test clip made with ffmpeg.

#![allow(dead_code, clippy::unwrap_used)]

use redub_core::{Audio, Ctx, Diarizer, Result, Segment, Span, Transcriber, Turn, VoiceActivityDetector};
use std::path::{Path, PathBuf};

/// "Speech" exactly where the test says.
pub struct Regions(pub Vec<Span>);

impl Regions {
    pub fn from_ms(spans: &[(u64, u64)]) -> Self {
        Self(spans.iter().map(|(a, b)| Span::new(*a, *b)).collect())
    }
}

impl VoiceActivityDetector for Regions {
    fn detect(&mut self, _audio: &Audio, _ctx: &Ctx) -> Result<Vec<Span>> {
        Ok(self.0.clone())
    }
}

/// One English line per region: the test's texts in order, then `line <i>`.
pub struct Transcript(pub Vec<String>);

impl Transcriber for Transcript {
    fn transcribe(&mut self, _a: &Audio, regions: &[Span], _l: Option<&str>, _c: &Ctx) -> Result<Vec<Segment>> {
        Ok(regions
            .iter()
            .enumerate()
            .map(|(i, r)| Segment {
                id: i as u32,
                speaker: None,
                start_ms: r.start_ms,
                end_ms: r.end_ms,
                text: self.0.get(i).cloned().unwrap_or_else(|| format!("line {i}")),
                words: vec![],
                confidence: 0.9,
                lang: "en".into(),
            })
            .collect())
    }
    fn detect_language(&mut self, _a: &Audio) -> Result<(String, f32)> {
        Ok(("en".into(), 1.0))
    }
}

/// Speech regions alternate between two speakers, S1 first.
pub struct AlternatingSpeakers;

impl Diarizer for AlternatingSpeakers {
    fn diarize(&mut self, _a: &Audio, speech: &[Span], _cuts: &[u64], _ctx: &Ctx) -> Result<Vec<Turn>> {
        Ok(speech.iter().enumerate().map(|(i, s)| Turn::new(s.start_ms, s.end_ms, format!("S{}", i % 2 + 1))).collect())
    }
}

/// `dir/in.mp4`: `secs` seconds of a test picture and a 220 Hz tone (H.264 + AAC).
pub fn make_input(dir: &Path, secs: u32) -> PathBuf {
    let p = dir.join("in.mp4");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=duration={secs}:size=64x64:rate=10"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=220:duration={secs}"))
        .args(["-c:v", "libx264", "-c:a", "aac", "-shortest"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg could not make the test clip");
    p
}
