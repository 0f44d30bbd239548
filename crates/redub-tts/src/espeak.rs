//! espeak-ng as the synthesizer: robotic, but it speaks about a hundred languages, so it is the
//! engine for every language Kokoro cannot speak.

use crate::phonemize::{self, espeak_voice};
use redub_core::{Audio, Error, Result, Synthesizer};

/// espeak-ng's default rate in words per minute; `speed` 1.0 means this.
const DEFAULT_WPM: f32 = 175.0;
/// espeak-ng accepts 80–450 wpm (below it ignores the value).
const WPM_RANGE: (f32, f32) = (80.0, 450.0);
/// Voice variants (`espeak-ng-data/voices/!v`) offered besides the plain voice, so that different
/// speakers of a dub get distinguishable voices.
const VARIANTS: &[&str] = &["m3", "f3", "m1", "f1"];

/// espeak-ng through its command line (`--stdout`, 22050 Hz mono s16 WAV parsed in memory).
#[derive(Debug, Default)]
pub struct Espeak;

impl Espeak {
    pub fn new() -> Self {
        Self
    }
}

impl Synthesizer for Espeak {
    /// `voice` is an espeak-ng voice, optionally with a variant (`es`, `es+f3`); empty means the
    /// plain voice of `lang`.
    fn synthesize(&mut self, text: &str, lang: &str, voice: &str, speed: f32) -> Result<Audio> {
        let voice = if voice.is_empty() { espeak_voice(lang)? } else { voice.to_string() };
        // The voice becomes a command-line value; keep it to what espeak-ng voice names use.
        if voice.starts_with('-') || !voice.chars().all(|c| c.is_ascii_alphanumeric() || "-+_".contains(c)) {
            return Err(Error::Unsupported(format!("'{voice}' is not an espeak-ng voice (e.g. `es`, `es+f3`)")));
        }
        if !speed.is_finite() || speed <= 0.0 {
            return Err(Error::backend("espeak-ng", format!("speed must be a positive number, got {speed}")));
        }
        if text.trim().is_empty() {
            return Ok(Audio::new(RATE, Vec::new()));
        }
        let wpm = (DEFAULT_WPM * speed).clamp(WPM_RANGE.0, WPM_RANGE.1).round().to_string();
        let wav = phonemize::run(&["-v", &voice, "-s", &wpm, "--stdout", "--stdin"], Some(text))?;
        let audio = parse_wav(&wav).map_err(|m| Error::backend("espeak-ng", format!("its WAV output: {m}")))?;
        let samples = crate::trim_silence(&audio.samples, audio.rate).to_vec();
        Ok(Audio::new(audio.rate, samples))
    }

    fn voices(&self, lang: &str) -> Vec<String> {
        match (phonemize::has_voice(lang), espeak_voice(lang)) {
            (Ok(true), Ok(v)) => {
                std::iter::once(v.clone()).chain(VARIANTS.iter().map(|x| format!("{v}+{x}"))).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// espeak-ng's output rate.
pub const RATE: u32 = 22_050;

/// A 16-bit PCM WAV held in memory. espeak-ng writes it to a pipe, so the RIFF and data sizes
/// are placeholders (0x7fff_ffff-ish); the data runs to the end of the bytes instead.
fn parse_wav(bytes: &[u8]) -> std::result::Result<Audio, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None; // (format, channels, rate, bits)
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if body + 16 > bytes.len() {
                return Err("truncated fmt chunk".into());
            }
            format = Some((u16_at(body), u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
        } else if id == b"data" {
            let (fmt, channels, rate, bits) = format.ok_or("data before fmt")?;
            if fmt != 1 || bits != 16 || channels == 0 {
                return Err(format!("format {fmt}, {bits} bits, {channels} channels; expected 16-bit PCM"));
            }
            let end = body.saturating_add(size).min(bytes.len());
            let frame = 2 * channels as usize;
            let samples = bytes[body..end]
                .chunks_exact(frame)
                .map(|f| {
                    let sum: f32 = f.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]]) as f32).sum();
                    sum / channels as f32 / 32768.0
                })
                .collect();
            return Ok(Audio::new(rate, samples));
        }
        // Chunks are padded to even sizes.
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err("no data chunk".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wav_with_placeholder_sizes() {
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&0x7fff_f024u32.to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        for v in [1u16, 1] {
            w.extend_from_slice(&v.to_le_bytes());
        }
        w.extend_from_slice(&22_050u32.to_le_bytes());
        w.extend_from_slice(&44_100u32.to_le_bytes());
        for v in [2u16, 16] {
            w.extend_from_slice(&v.to_le_bytes());
        }
        w.extend_from_slice(b"data");
        w.extend_from_slice(&0x7fff_f000u32.to_le_bytes());
        for v in [0i16, 16384, -32768] {
            w.extend_from_slice(&v.to_le_bytes());
        }
        let a = parse_wav(&w).unwrap();
        assert_eq!(a.rate, 22_050);
        assert_eq!(a.samples, vec![0.0, 0.5, -1.0]);
        assert!(parse_wav(b"RIFF....WAVE").is_err());
    }
}
