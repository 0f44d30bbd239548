//! Voice matching without a cloning service: describe a voice by its pitch statistics and
//! long-term envelope, and move a stock voice's speech toward a source speaker's on both.
//!
//! Measure the stock voice once over a few of its clips (`from`) and each source speaker over
//! their own speech (`to`), then adapt every clip of that voice with the same profiles: the
//! map is fixed per voice, so every line of a speaker sounds alike whatever its words do to
//! its own median.

use redub_core::Audio;

use crate::pitch::{f0_track, F0Stats};
use crate::psola::{shift_pitch_with, PitchMap};
use crate::timbre::{match_envelope, Envelope};

/// What voice matching looks at: where the pitch sits and moves, and the long-term envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceProfile {
    pub f0: F0Stats,
    pub envelope: Envelope,
}

impl VoiceProfile {
    /// The profile of `audio` (ideally several seconds of one voice); `None` when it has too
    /// little voiced sound for a pitch median.
    pub fn measure(audio: &Audio) -> Option<VoiceProfile> {
        let track = f0_track(&audio.samples, audio.rate);
        Some(VoiceProfile { f0: track.stats()?, envelope: Envelope::measure_with(audio, &track)? })
    }
}

/// How far [`adapt_voice`] goes on each axis, each a share from 0 (leave as is) to 1 (all
/// the way to the target).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adaptation {
    /// Of the gap between the medians, in semitones.
    pub pitch: f32,
    /// Of the ratio between the 10–90 % spreads, in semitones.
    pub range: f32,
    /// Of the formant scaling estimated by [`Envelope::formant_ratio_to`].
    pub formants: f32,
    /// EQ strength toward the target's long-term envelope (see [`match_envelope`]).
    pub timbre: f32,
}

impl Default for Adaptation {
    fn default() -> Self {
        Self { pitch: 1.0, range: 1.0, formants: 1.0, timbre: 1.0 }
    }
}

impl Adaptation {
    /// The [`PitchMap`] this adaptation applies between two profiles.
    pub fn pitch_map(&self, from: &VoiceProfile, to: &VoiceProfile) -> PitchMap {
        let full = PitchMap::between(&from.f0, &to.f0);
        let share = |v: f32| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
        PitchMap {
            ratio: full.ratio.powf(share(self.pitch)),
            range: full.range.powf(share(self.range)),
            pivot_hz: Some(from.f0.median_hz),
            formants: from.envelope.formant_ratio_to(&to.envelope).powf(share(self.formants)),
        }
    }
}

/// One clip of the voice profiled as `from`, moved toward `to`: pitch (median, range) and
/// formants by TD-PSOLA, then the long-term spectrum by a smooth EQ. Same length as the input.
pub fn adapt_voice(audio: &Audio, from: &VoiceProfile, to: &VoiceProfile, how: &Adaptation) -> Audio {
    let map = how.pitch_map(from, to);
    let track = f0_track(&audio.samples, audio.rate);
    let shifted = shift_pitch_with(audio, &track, &map);
    // The stock voice's envelope after the formant shift, rather than one measured on this
    // clip, whose few words would colour it.
    let after = from.envelope.warped(map.formants, Some(from.f0.median_hz * map.ratio));
    match_envelope(&shifted, &after, &to.envelope, how.timbre)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil::{glottal_vowel, pink_noise, speech_fixture, VOWEL_A, VOWEL_I, VOWEL_SCHWA};
    use crate::{f0_median, match_envelope, shift_pitch};
    use std::time::Instant;

    /// The speech of one speaker of the fixture: the samples where they, and only they, speak.
    fn speaker(x: &[f32], rate: u32, turns: &[(f64, f64, String)], who: &str) -> Audio {
        let at = |s: f64| ((s * rate as f64) as usize).min(x.len());
        let (mut own, mut other) = (vec![false; x.len()], vec![false; x.len()]);
        for (s, e, w) in turns {
            let mask = if w == who { &mut own } else { &mut other };
            mask[at(*s)..at(*e)].fill(true);
        }
        Audio::new(rate, (0..x.len()).filter(|&i| own[i] && !other[i]).map(|i| x[i]).collect())
    }

    /// A synthetic stock voice: a low, male-ish vowel sequence at 24 kHz with consonant-like
    /// noise bursts between the vowels and a gentle intonation.
    fn stock_voice(secs: f64) -> Audio {
        let rate = 24_000u32;
        let mut x = Vec::new();
        let mut i = 0usize;
        while (x.len() as f64) < secs * rate as f64 {
            let v = [VOWEL_A, VOWEL_I, VOWEL_SCHWA][i % 3];
            let formants: Vec<(f64, f64)> =
                v.iter().chain(&[(3300.0, 250.0), (4300.0, 300.0)]).map(|&(f, b)| (0.9 * f, b)).collect();
            let base = 105.0 + 10.0 * ((i * 7) % 5) as f64;
            x.extend(glottal_vowel(&|t| base * (1.0 - 0.15 * t), &formants, rate, 0.25));
            x.extend(pink_noise(rate as usize / 25, i as u64).iter().map(|v| v * 0.3));
            i += 1;
        }
        x.truncate((secs * rate as f64) as usize);
        Audio::new(rate, x)
    }

    #[test]
    fn fixture_speakers_profiles() {
        let (x, rate, turns) = speech_fixture();
        let s1 = VoiceProfile::measure(&speaker(&x, rate, &turns, "speaker90")).unwrap();
        let s2 = VoiceProfile::measure(&speaker(&x, rate, &turns, "speaker91")).unwrap();
        for (name, p) in [("speaker90", &s1), ("speaker91", &s2)] {
            println!(
                "{name}: median {:.1} Hz, p10 {:.1}, p90 {:.1} ({:.1} st), voiced {:.0} %, envelope over {} frames",
                p.f0.median_hz,
                p.f0.p10_hz,
                p.f0.p90_hz,
                p.f0.range_semitones(),
                p.f0.voiced_share * 100.0,
                p.envelope.frames
            );
        }
        let d = s1.envelope.distance_db(&s2.envelope);
        let w = s1.envelope.formant_ratio_to(&s2.envelope);
        println!("speaker90 → speaker91: envelope distance {d:.2} dB, formant ratio {w:.3}");
        assert!(d > 0.5, "two speakers measure the same: {d}");

        // Speaker 90 made "male": an octave-ish lower, formants down 15 %. The estimator finds
        // the formant change back (and the profile sees the pitch move).
        let own = speaker(&x, rate, &turns, "speaker90");
        let male = shift_pitch(&own, &PitchMap::scale(0.6).with_formants(0.85));
        let m = VoiceProfile::measure(&male).unwrap();
        let back = m.envelope.formant_ratio_to(&s1.envelope);
        let fwd = s1.envelope.formant_ratio_to(&m.envelope);
        println!(
            "speaker90 ×0.6 pitch, ×0.85 formants: median {:.1} Hz (×{:.3}); formant ratio found {fwd:.3}, back {back:.3}",
            m.f0.median_hz,
            m.f0.median_hz / s1.f0.median_hz
        );
        // (Lowered real speech is a little less periodic, so YIN keeps fewer of its frames and
        // the median is a little noisier than for the whole fixture at milder ratios.)
        assert!((m.f0.median_hz / s1.f0.median_hz / 0.6 - 1.0).abs() < 0.05);
        assert!((fwd / 0.85 - 1.0).abs() < 0.04, "{fwd}");
        assert!((back * 0.85 - 1.0).abs() < 0.04, "{back}");
    }

    /// One stock voice adapted to each of the two fixture speakers: each result has its own
    /// speaker's median F0 (within 5 %) and an envelope nearer its own speaker than the other.
    #[test]
    fn one_stock_voice_becomes_two_distinct_speakers() {
        let (x, rate, turns) = speech_fixture();
        let targets = [
            VoiceProfile::measure(&speaker(&x, rate, &turns, "speaker90")).unwrap(),
            VoiceProfile::measure(&speaker(&x, rate, &turns, "speaker91")).unwrap(),
        ];
        let stock = stock_voice(6.0);
        let from = VoiceProfile::measure(&stock).unwrap();
        println!(
            "stock: median {:.1} Hz, range {:.1} st; envelope distance to the speakers {:.2} / {:.2} dB",
            from.f0.median_hz,
            from.f0.range_semitones(),
            from.envelope.distance_db(&targets[0].envelope),
            from.envelope.distance_db(&targets[1].envelope)
        );
        let outs: Vec<VoiceProfile> = targets
            .iter()
            .map(|to| {
                let map = Adaptation::default().pitch_map(&from, to);
                let out = adapt_voice(&stock, &from, to, &Adaptation::default());
                assert_eq!(out.samples.len(), stock.samples.len());
                let p = VoiceProfile::measure(&out).unwrap();
                println!(
                    "  → {:.1} Hz target: ratio {:.3}, range ×{:.2}, formants ×{:.3}; got median {:.1} Hz, \
                     range {:.1} st (target {:.1})",
                    to.f0.median_hz,
                    map.ratio,
                    map.range,
                    map.formants,
                    p.f0.median_hz,
                    p.f0.range_semitones(),
                    to.f0.range_semitones()
                );
                assert!((p.f0.median_hz / to.f0.median_hz - 1.0).abs() < 0.05, "{:?} vs {:?}", p.f0, to.f0);
                p
            })
            .collect();
        for (i, out) in outs.iter().enumerate() {
            let own = out.envelope.distance_db(&targets[i].envelope);
            let other = out.envelope.distance_db(&targets[1 - i].envelope);
            let before = from.envelope.distance_db(&targets[i].envelope);
            println!("  adapted to speaker {i}: envelope distance {before:.2} → {own:.2} dB (to the other {other:.2})");
            assert!(own < other, "adapted voice {i} is nearer the other speaker: {own} vs {other}");
            assert!(own < 0.7 * before, "{own} vs {before}");
        }
    }

    /// The performance note: a 5 s clip at 24 kHz through each step. Prints, never asserts
    /// timing.
    #[test]
    fn five_second_clip_timing() {
        let clip = stock_voice(5.0);
        let to = stock_voice(5.0);
        let to = shift_pitch(&to, &PitchMap::scale(1.6).with_formants(1.1));
        let t = Instant::now();
        let track = f0_track(&clip.samples, clip.rate);
        let t_track = t.elapsed();
        let t = Instant::now();
        let shifted = shift_pitch_with(&clip, &track, &PitchMap::scale(1.5).with_formants(1.1));
        let t_psola = t.elapsed();
        let t = Instant::now();
        let from = Envelope::measure_with(&clip, &track).unwrap();
        let t_env = t.elapsed();
        let target = Envelope::measure(&to).unwrap();
        let t = Instant::now();
        let eq = match_envelope(&shifted, &from, &target, 1.0);
        let t_eq = t.elapsed();
        let (pf, pt) = (VoiceProfile::measure(&clip).unwrap(), VoiceProfile::measure(&to).unwrap());
        let t = Instant::now();
        let all = adapt_voice(&clip, &pf, &pt, &Adaptation::default());
        let t_all = t.elapsed();
        assert_eq!(eq.samples.len(), clip.samples.len());
        assert_eq!(all.samples.len(), clip.samples.len());
        assert!(f0_median(&all.samples, all.rate).is_some());
        println!(
            "5 s at 24 kHz: F0 track {t_track:?}, PSOLA {t_psola:?}, envelope {t_env:?}, EQ {t_eq:?}; \
             adapt_voice (track + PSOLA + EQ) {t_all:?}"
        );
    }
}
