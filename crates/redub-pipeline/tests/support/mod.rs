//! Stand-in stages shared by the pipeline's integration tests: fixed speech regions, a fixed
//! transcript, two speakers taking turns, and a test clip made with ffmpeg.

#![allow(dead_code, clippy::unwrap_used)]

use redub_core::{
    Audio, Ctx, Diarizer, Error, Result, Segment, Span, Synthesizer, Transcriber, Translator, Turn,
    VoiceActivityDetector,
};
use redub_pipeline::Backends;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// Stand-ins everywhere (two speech regions, two speakers); the synthesizer fails while
/// `fail_tts` is set, and each synthesis call takes `tts_delay` (a slow engine, for the tests
/// that stop a job in the middle of synthesis).
pub struct StandIns {
    pub fail_tts: Cell<bool>,
    pub built: Cell<u32>,
    /// Texts the synthesizer was asked to speak.
    pub spoken: Arc<Mutex<Vec<String>>>,
    pub regions: Vec<(u64, u64)>,
    pub tts_delay: std::time::Duration,
    /// Separate with the real DeepFilterNet3 (the other stand-ins have no separator).
    pub separate: bool,
}

impl StandIns {
    pub fn new(fail_tts: bool) -> Self {
        Self {
            fail_tts: Cell::new(fail_tts),
            built: Cell::new(0),
            spoken: Default::default(),
            regions: vec![(500, 1500), (2000, 3500)],
            tts_delay: std::time::Duration::ZERO,
            separate: false,
        }
    }
}

/// The tone stand-in, recording what it speaks.
pub struct Counting(pub redub_tts::ToneSynth, pub Arc<Mutex<Vec<String>>>, pub std::time::Duration);
impl Synthesizer for Counting {
    fn synthesize(&mut self, t: &str, l: &str, v: &str, s: f32) -> Result<Audio> {
        std::thread::sleep(self.2);
        self.1.lock().unwrap().push(t.to_string());
        self.0.synthesize(t, l, v, s)
    }
    fn voices(&self, lang: &str) -> Vec<String> {
        self.0.voices(lang)
    }
}

pub struct Failing;
impl Synthesizer for Failing {
    fn synthesize(&mut self, _t: &str, _l: &str, _v: &str, _s: f32) -> Result<Audio> {
        Err(Error::backend("tone", "simulated crash half-way"))
    }
    fn voices(&self, _lang: &str) -> Vec<String> {
        vec!["a".into()]
    }
}

impl Backends for StandIns {
    fn vad(&self) -> Result<Box<dyn VoiceActivityDetector>> {
        self.built.set(self.built.get() + 1);
        Ok(Box::new(Regions::from_ms(&self.regions)))
    }
    fn transcriber(&self) -> Result<Box<dyn Transcriber>> {
        self.built.set(self.built.get() + 1);
        Ok(Box::new(Transcript(vec![])))
    }
    fn diarizer(&self, _settings: &redub_diarize::DiarizeSettings) -> Result<Box<dyn Diarizer>> {
        self.built.set(self.built.get() + 1);
        Ok(Box::new(AlternatingSpeakers))
    }
    fn translator(
        &self,
        _config: &redub_pipeline::TranslatorConfig,
        _settings: &redub_translate::LlmSettings,
        _from: &str,
        _to: &str,
    ) -> Result<Box<dyn Translator>> {
        self.built.set(self.built.get() + 1);
        Ok(Box::new(redub_translate::FixedTranslator::new()))
    }
    fn synthesizer(&self, _lang: &str) -> Result<Box<dyn Synthesizer>> {
        self.built.set(self.built.get() + 1);
        if self.fail_tts.get() {
            Ok(Box::new(Failing))
        } else {
            Ok(Box::new(Counting(redub_tts::ToneSynth::default(), self.spoken.clone(), self.tts_delay)))
        }
    }
    fn separator(&self) -> Result<Option<Box<dyn redub_core::SpeechSeparator>>> {
        if !self.separate {
            return Ok(None);
        }
        Ok(Some(Box::new(redub_separate::DeepFilterSeparator::load()?)))
    }
    fn identity(&self, stage: &str) -> serde_json::Value {
        serde_json::json!({ "stand-in": stage })
    }
    fn check_pair(&self, _c: &redub_pipeline::TranslatorConfig, _from: Option<&str>, _to: &str) -> Result<()> {
        Ok(())
    }
}
