//! A deterministic stand-in synthesizer for tests.

use redub_core::{Audio, Error, Result, Synthesizer};

/// Milliseconds of tone per character of text at speed 1.0.
pub const MS_PER_CHAR: f32 = 60.0;

/// **Test stand-in, never a default**: speaks nothing, it plays a sine tone whose length is
/// [`MS_PER_CHAR`] per character of text divided by `speed` and whose pitch (110–455 Hz) is
/// derived from the voice name. It lets pipeline tests run without models and with exactly
/// predictable durations.
#[derive(Clone, Debug)]
pub struct ToneSynth {
    pub rate: u32,
}

impl Default for ToneSynth {
    fn default() -> Self {
        Self { rate: 24_000 }
    }
}

impl ToneSynth {
    /// The tone frequency for `voice`: a stable hash (FNV-1a, not std's randomly seeded one), so
    /// the same voice always gets the same pitch across runs.
    pub fn pitch_hz(voice: &str) -> f32 {
        let mut h: u32 = 0x811c_9dc5;
        for b in voice.bytes() {
            h = (h ^ b as u32).wrapping_mul(0x0100_0193);
        }
        110.0 + (h % 24) as f32 * 15.0
    }
}

impl Synthesizer for ToneSynth {
    fn synthesize(&mut self, text: &str, _lang: &str, voice: &str, speed: f32) -> Result<Audio> {
        if !speed.is_finite() || speed <= 0.0 {
            return Err(Error::backend("tone", format!("speed must be a positive number, got {speed}")));
        }
        let ms = (text.trim().chars().count() as f32 * MS_PER_CHAR / speed).round() as u64;
        let n = redub_core::ms_to_samples(ms, self.rate);
        let step = std::f32::consts::TAU * Self::pitch_hz(voice) / self.rate as f32;
        // 5 ms fades so clips joined end to end do not click.
        let fade = (self.rate as usize / 200).max(1);
        let samples = (0..n)
            .map(|i| {
                let edge = i.min(n - 1 - i) as f32 / fade as f32;
                0.3 * edge.min(1.0) * (step * i as f32).sin()
            })
            .collect();
        Ok(Audio::new(self.rate, samples))
    }

    fn voices(&self, _lang: &str) -> Vec<String> {
        ["tone-a", "tone-b", "tone-c", "tone-d"].map(String::from).to_vec()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn length_and_pitch_are_deterministic() {
        let mut t = ToneSynth::default();
        let a = t.synthesize("hola mundo", "es", "tone-a", 1.0).unwrap();
        assert_eq!(a.duration_ms(), 600);
        assert_eq!(t.synthesize("hola mundo", "es", "tone-a", 2.0).unwrap().duration_ms(), 300);
        assert_eq!(a, t.synthesize("hola mundo", "es", "tone-a", 1.0).unwrap());
        assert_ne!(ToneSynth::pitch_hz("tone-a"), ToneSynth::pitch_hz("tone-b"));
        assert!(t.synthesize("", "es", "tone-a", 1.0).unwrap().samples.is_empty());
    }
}
