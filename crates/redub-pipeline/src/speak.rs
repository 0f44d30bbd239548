//! Speaking one speaker's lines: the engine (a stock voice adapted toward the speaker, or a
//! cloning service with one clone for the speaker), and fitting each line to its slot with the
//! engine's speed before the render stage time-stretches what is left.

use crate::config::CloningService;
use crate::voices::SpeakerVoice;
use redub_core::{Audio, Result, Synthesizer};
use std::path::Path;

/// The engine is asked to speak at most this much faster; time-stretch does the rest...
pub const MAX_ENGINE_SPEED: f64 = 1.25;
/// ...unless its natural take is slower than the language's native pace
/// ([`redub_core::lang::syllables_per_second`]): Kokoro's speed 1.0 reads Spanish at 3.4–6.5
/// syllables a second, where Spanish speakers average 7.8. Such a line may be sped up to that
/// pace, but never past this.
pub const ENGINE_SPEED_CEILING: f64 = 1.5;
/// Synthesis calls per line at most, natural speed included: the natural take and one at the
/// predicted speed (DESIGN: the engine's speed first, then time-stretch the rest), for a stock
/// engine and a cloning service (which bills each call) alike. A third, refining take was the
/// rule before the prediction left the pauses out; `fit_with_engine` still refines when given
/// more calls.
pub const CALLS: usize = 2;
/// A take this close above its slot is kept rather than spoken again: the render stage's
/// dead band (1.05) absorbs it without stretching audibly, and another take costs the line's
/// whole length in compute again.
const CLOSE_ENOUGH: f64 = 1.03;
/// The predicted speed aims this much below the slot, so that the first faster take usually
/// fits (frame rounding and trimmed edges make lengths a little uneven).
const AIM: f64 = 0.98;

/// Who speaks the lines.
pub enum Engine {
    Stock(Box<dyn Synthesizer>),
    Service { name: String, service: Box<dyn CloningService> },
}

/// The voice a line of `speaker` is spoken in, as `clips.json` names it: never a clone's id,
/// which is new on every run.
pub fn voice_key(speaker: &str, v: &SpeakerVoice) -> String {
    match v.backend.as_str() {
        "stock" => format!("{}+adapted-to-{speaker}", v.voice),
        service if v.voice.is_empty() => format!("{service}:clone-of-{speaker}"),
        service => format!("{service}:{}", v.voice),
    }
}

/// [`voice_key`] plus what the speaker's reference says, for clip reuse: a speaker whose
/// reference changed (other turns, another length limit) is adapted toward, or cloned from,
/// something else, so their old clips no longer match.
pub fn voice_fingerprint(speaker: &str, v: &SpeakerVoice) -> String {
    let f0 = v.speaker_f0_hz.map(|f| (f * 10.0).round() as i64);
    format!("{}@{}ms/{f0:?}", voice_key(speaker, v), v.reference_ms)
}

/// One speaker's voice for one synthesis run: the stock voice with its adaptation toward the
/// speaker, or the speaker's clone, made on first use and deleted by [`Speaker::close`].
pub struct Speaker<'a> {
    pub name: String,
    voice: &'a SpeakerVoice,
    /// The voices stage's folder (references and probes).
    dir: &'a Path,
    lang: String,
    job: String,
    /// The stock voice's and the speaker's profiles, measured on first use.
    profiles: Option<(Option<redub_dsp::VoiceProfile>, Option<redub_dsp::VoiceProfile>)>,
    clone: Option<String>,
}

impl<'a> Speaker<'a> {
    pub fn new(name: &str, voice: &'a SpeakerVoice, voices_dir: &'a Path, lang: &str, job: &str) -> Self {
        Self {
            name: name.to_string(),
            voice,
            dir: voices_dir,
            lang: lang.to_string(),
            job: job.to_string(),
            profiles: None,
            clone: None,
        }
    }

    /// `text` in this speaker's voice, fitted to `slot_ms` with the engine's speed; the speed
    /// of the take kept and the number of takes.
    pub fn speak(&mut self, engine: &mut Engine, text: &str, slot_ms: u64) -> Result<Fitted> {
        // Its syllables set how fast the engine may go, whichever engine speaks it.
        let line = (text, redub_tts::phonemize::syllables(text, &self.lang).ok());
        let lang = self.lang.clone();
        match engine {
            Engine::Stock(tts) => {
                let fitted = fit_with_engine(tts.as_mut(), line, &lang, &self.voice.voice, slot_ms, CALLS)?;
                if self.profiles.is_none() {
                    let probe =
                        redub_media::read_wav_mono(&self.dir.join("probes").join(format!("{}.wav", self.voice.voice)))?;
                    let reference = redub_media::read_wav_mono(&self.dir.join(&self.voice.reference))?;
                    self.profiles =
                        Some((redub_dsp::VoiceProfile::measure(&probe), redub_dsp::VoiceProfile::measure(&reference)));
                }
                let (from, to) = self.profiles.as_ref().map_or((None, None), |(a, b)| (a.as_ref(), b.as_ref()));
                Ok(Fitted { audio: crate::voices::adapt(&fitted.audio, from, to), ..fitted })
            }
            Engine::Service { service, .. } => {
                let voice = if !self.voice.voice.is_empty() {
                    self.voice.voice.clone()
                } else if let Some(id) = &self.clone {
                    id.clone()
                } else {
                    let reference = redub_media::read_wav_mono(&self.dir.join(&self.voice.reference))?;
                    let id = service.create_voice(&format!("redub {} {}", self.job, self.name), &reference)?;
                    self.clone = Some(id.clone());
                    id
                };
                fit_with_engine(service.as_mut(), line, &lang, &voice, slot_ms, CALLS)
            }
        }
    }

    /// Delete the clone this run made for the speaker, if any. Plans limit how many voices an
    /// account holds, so it goes as soon as the speaker's lines are spoken, and also when they
    /// failed.
    pub fn close(&mut self, engine: &mut Engine) -> Result<()> {
        let Engine::Service { service, .. } = engine else { return Ok(()) };
        match self.clone.take() {
            Some(id) => service.delete_voice(&id),
            None => Ok(()),
        }
    }
}

/// A line as spoken: the audio, the engine speed of the take kept, and how many takes it took.
#[derive(Debug)]
pub struct Fitted {
    pub audio: Audio,
    pub speed: f32,
    pub takes: u32,
}

/// Synthesise `text` to fit `slot_ms`. At natural speed first; a line over its slot first
/// loses air from its pauses (down to [`redub_dsp::PAUSE_FLOOR_MS`] each), then is spoken at
/// the speed predicted to fit, and refined with at most `calls − 2` more takes if it still does
/// not fit. The prediction: an engine's speech scales as 1/speed (Kokoro divides its predicted
/// phoneme durations by it), while the pauses that are left after tightening do not change
/// (they are at the floor either way), so only the speech part has to shrink into what the
/// slot leaves after them. The speed is capped at [`MAX_ENGINE_SPEED`], or higher for a line
/// whose natural take of `syllables` is slower than the language's native pace. The render
/// stage time-stretches what remains.
pub fn fit_with_engine(
    tts: &mut dyn Synthesizer,
    line: (&str, Option<usize>),
    lang: &str,
    voice: &str,
    slot_ms: u64,
    calls: usize,
) -> Result<Fitted> {
    let (text, syllables) = line;
    let slot_ms = slot_ms.max(1);
    let tighten = |a: Audio| -> Audio {
        let over = a.duration_ms().saturating_sub(slot_ms);
        if over == 0 {
            return a;
        }
        let samples = redub_dsp::tighten_pauses(&a.samples, a.rate, over);
        Audio::new(a.rate, samples)
    };
    let mut audio = tighten(tts.synthesize(text, lang, voice, 1.0)?);
    let cap = speed_cap(&audio, syllables, lang);
    // The speed of the latest take, and of the take kept (the shortest so far).
    let (mut speed, mut kept, mut takes) = (1.0f64, 1.0f64, 1u32);
    let mut latest = audio.clone();
    for _ in 1..calls {
        let ratio = audio.duration_ms() as f64 / slot_ms as f64;
        let close = if takes == 1 { 1.0 } else { CLOSE_ENOUGH };
        if ratio <= close || speed >= cap {
            break;
        }
        let next = predict_speed(speed, &latest, slot_ms).min(cap);
        if next <= speed {
            break;
        }
        latest = tighten(tts.synthesize(text, lang, voice, next as f32)?);
        speed = next;
        takes += 1;
        // An engine that ignores its speed gives nothing back; keep the shorter take.
        if latest.duration_ms() < audio.duration_ms() {
            audio = latest.clone();
            kept = next;
        }
    }
    Ok(Fitted { audio, speed: kept as f32, takes })
}

/// The speed at which `take` (spoken at `speed`) would fit `slot_ms`: its speech shrinks as
/// 1/speed into the slot less its pauses, aiming a little short of the slot.
pub fn predict_speed(speed: f64, take: &Audio, slot_ms: u64) -> f64 {
    let len = take.duration_ms() as f64;
    let pauses = redub_dsp::pause_ms(&take.samples, take.rate) as f64;
    let speech = (len - pauses).max(1.0);
    let room = slot_ms as f64 * AIM - pauses;
    if room <= speech * 0.25 {
        // The pauses alone nearly fill the slot: scale the whole take instead.
        return speed * len / (slot_ms as f64 * AIM);
    }
    speed * speech / room
}

/// The fastest engine speed for a line whose natural take is `take`: [`MAX_ENGINE_SPEED`], or
/// up to [`ENGINE_SPEED_CEILING`] as far as the take's pace (syllables per second of speech,
/// pauses left out) is below the language's native pace.
fn speed_cap(take: &Audio, syllables: Option<usize>, lang: &str) -> f64 {
    let speech_ms = take.duration_ms().saturating_sub(redub_dsp::pause_ms(&take.samples, take.rate));
    match syllables {
        Some(n) if n > 0 && speech_ms > 0 => {
            let pace = n as f64 * 1000.0 / speech_ms as f64;
            (redub_core::lang::syllables_per_second(lang) / pace).clamp(MAX_ENGINE_SPEED, ENGINE_SPEED_CEILING)
        }
        _ => MAX_ENGINE_SPEED,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A stand-in engine that speaks like Kokoro: `syllables` tone bursts of 200 ms, a comma
    /// pause of 450 ms after every fourth, and length ∝ speed^−`exponent` (Kokoro: about 1;
    /// 0.8 is an engine that does not follow its speed exactly). Records the speeds asked for.
    struct Narrator {
        syllables: usize,
        exponent: f32,
        asked: Vec<f32>,
    }

    fn narrator(syllables: usize, exponent: f32) -> Narrator {
        Narrator { syllables, exponent, asked: vec![] }
    }

    impl Synthesizer for Narrator {
        fn synthesize(&mut self, _text: &str, _lang: &str, _voice: &str, speed: f32) -> Result<Audio> {
            self.asked.push(speed);
            let rate = 16_000;
            let scale = speed.powf(-self.exponent);
            let burst = (0.2 * scale * rate as f32) as usize;
            let pause = (0.45 * scale * rate as f32) as usize;
            let mut s = Vec::new();
            for i in 0..self.syllables {
                s.extend((0..burst).map(|k| 0.5 * (k as f32 * 0.1).sin()));
                if i % 4 == 3 && i + 1 < self.syllables {
                    s.extend(std::iter::repeat_n(0.0, pause));
                }
            }
            Ok(Audio::new(rate, s))
        }
        fn voices(&self, _lang: &str) -> Vec<String> {
            vec!["v".into()]
        }
    }

    fn natural_ms(syllables: usize) -> u64 {
        narrator(syllables, 1.0).synthesize("", "es", "v", 1.0).unwrap().duration_ms()
    }

    #[test]
    fn pauses_give_way_before_the_speed_changes() {
        // 12 syllables: 2 400 ms of speech and two 450 ms pauses that can each give 300 ms.
        let natural = natural_ms(12);
        let mut n = narrator(12, 1.0);
        let f = fit_with_engine(&mut n, ("", Some(12)), "es", "v", natural - 500, 3).unwrap();
        assert_eq!((f.speed, f.takes, n.asked.as_slice()), (1.0, 1, &[1.0f32][..]), "one take at natural speed");
        assert!(f.audio.duration_ms() <= natural - 500 + 10, "{} ms", f.audio.duration_ms());
    }

    #[test]
    fn an_engine_that_follows_its_speed_fits_with_one_predicted_take() {
        // 8 syllables (1.6 s) and one pause (0.45 s, which can give 0.3 s): past 1.17x the
        // speech itself has to shrink.
        let natural = natural_ms(8);
        for shrink in [1.25, 1.35, 1.5] {
            let slot = (natural as f64 / shrink) as u64;
            let mut n = narrator(8, 1.0);
            let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS).unwrap();
            assert_eq!(n.asked.len(), 2, "natural, then the predicted speed: {:?}", n.asked);
            assert!(f.audio.duration_ms() <= slot, "{} ms in {slot} ms (asked {:?})", f.audio.duration_ms(), n.asked);
            assert!(f.audio.duration_ms() as f64 >= slot as f64 * 0.95, "not much shorter than needed");
        }
    }

    #[test]
    fn the_speed_is_refined_when_the_engine_does_not_follow_it() {
        // Length ∝ speed^−0.5: the predicted speed falls short, a third take refines it.
        let natural = natural_ms(8);
        let slot = (natural as f64 / 1.32) as u64;
        let mut n = narrator(8, 0.5);
        // Given a third call, it refines.
        let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, 3).unwrap();
        assert!(n.asked.len() == 3 && n.asked[2] > n.asked[1], "refined: {:?}", n.asked);
        assert_eq!(f.takes, 3);
        assert!(f.audio.duration_ms() as f64 <= slot as f64 * CLOSE_ENOUGH, "{} ms in {slot}", f.audio.duration_ms());
        assert!(f.speed > 1.1 && f.speed <= ENGINE_SPEED_CEILING as f32, "{}", f.speed);
        // By default one faster take at most.
        let mut n = narrator(8, 0.5);
        fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS).unwrap();
        assert_eq!(n.asked.len(), 2);
    }

    #[test]
    fn only_a_line_slower_than_native_pace_goes_past_the_usual_cap() {
        // The stand-in speaks 5 syllables a second: slower than Spanish (7.8), so its cap rises
        // toward 1.5; counted as 20 syllables in the same time it is already fast.
        let natural = natural_ms(8);
        let slot = natural / 2;
        let mut slow = narrator(8, 1.0);
        let f = fit_with_engine(&mut slow, ("", Some(8)), "es", "v", slot, 3).unwrap();
        assert!(f.speed > MAX_ENGINE_SPEED as f32 && f.speed <= ENGINE_SPEED_CEILING as f32, "{}", f.speed);
        let mut fast = narrator(8, 1.0);
        let f = fit_with_engine(&mut fast, ("", Some(20)), "es", "v", slot, 3).unwrap();
        assert_eq!(f.speed, MAX_ENGINE_SPEED as f32);
        let mut unknown = narrator(8, 1.0);
        let f = fit_with_engine(&mut unknown, ("", None), "es", "v", slot, 3).unwrap();
        assert_eq!(f.speed, MAX_ENGINE_SPEED as f32, "no syllable count: the usual cap");
    }

    #[test]
    fn the_prediction_leaves_the_pauses_alone() {
        // 1 s of speech and 0.5 s of silence into a 1.2 s slot: the speech must fit in 0.7 s
        // less the aim, so about 1.46x, not the 1.25x the whole length would suggest.
        let rate = 16_000;
        let half: Vec<f32> = (0..rate / 2).map(|k| 0.5 * (k as f32 * 0.1).sin()).collect();
        let mut s = half.clone();
        s.extend(std::iter::repeat_n(0.0, rate as usize / 2));
        s.extend(&half);
        let p = predict_speed(1.0, &Audio::new(rate, s), 1_200);
        assert!((p - 1000.0 / (1200.0 * AIM - 500.0)).abs() < 0.05, "{p}");
    }
}
