//! Speaking one speaker's lines: the engine (a stock voice adapted toward the speaker, or a
//! cloning service with one clone for the speaker), and fitting each line to its slot with the
//! engine's speed before the render stage time-stretches what is left.

use crate::config::CloningService;
use crate::voices::SpeakerVoice;
use redub_core::{Audio, Error, Result, Synthesizer};
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
/// A line expected to run this much over its slot skips the natural take (see
/// [`fit_with_engine`]): below it, the pauses alone may make it fit.
pub const PREDICT_OVER: f64 = 1.05;
/// A predicted take this much shorter than its slot is spoken again, slower: the line would
/// sound rushed for nothing.
pub const TOO_FAST: f64 = 0.88;

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
    /// Natural length over estimate of each line spoken so far.
    paces: Vec<f64>,
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
            paces: Vec::new(),
        }
    }

    /// `text` in this speaker's voice, fitted to `slot_ms` with the engine's speed; the speed
    /// of the take kept and the number of takes.
    ///
    /// `estimate_ms` is the line's expected natural length from the job's speaking rate
    /// (06-translate's `rate.json`); it is scaled by what this speaker's earlier lines took
    /// against their estimates, so a voice faster or slower than the measured one is predicted
    /// from its own lines. For a clone, whose pace nothing measured before its first line, the
    /// estimate is only used from the second line on.
    pub fn speak(&mut self, engine: &mut Engine, text: &str, slot_ms: u64, estimate_ms: Option<u64>) -> Result<Fitted> {
        // Its syllables set how fast the engine may go, whichever engine speaks it.
        let line = (text, redub_tts::phonemize::syllables(text, &self.lang).ok());
        let lang = self.lang.clone();
        let expected = self.calibrated(estimate_ms, matches!(engine, Engine::Stock(_)));
        let fitted = match engine {
            Engine::Stock(tts) => {
                let fitted = fit_with_engine(tts.as_mut(), line, &lang, &self.voice.voice, slot_ms, CALLS, expected)?;
                if self.profiles.is_none() {
                    let probe =
                        redub_media::read_wav_mono(&self.dir.join("probes").join(format!("{}.wav", self.voice.voice)))?;
                    let reference = redub_media::read_wav_mono(&self.dir.join(&self.voice.reference))?;
                    self.profiles =
                        Some((redub_dsp::VoiceProfile::measure(&probe), redub_dsp::VoiceProfile::measure(&reference)));
                }
                let (from, to) = self.profiles.as_ref().map_or((None, None), |(a, b)| (a.as_ref(), b.as_ref()));
                Fitted { audio: crate::voices::adapt(&fitted.audio, from, to), ..fitted }
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
                fit_with_engine(service.as_mut(), line, &lang, &voice, slot_ms, CALLS, expected)?
            }
        };
        self.note_pace(fitted.natural_ms, estimate_ms);
        Ok(fitted)
    }

    /// Remember what a line took at natural speed against its estimate; a line kept from an
    /// earlier run is noted too, so a resumed speaker predicts their next lines as an unbroken
    /// run would.
    pub fn note_pace(&mut self, natural_ms: u64, estimate_ms: Option<u64>) {
        if let Some(est) = estimate_ms.filter(|&e| e > 0) {
            self.paces.push(natural_ms as f64 / est as f64);
        }
    }

    /// `estimate_ms` scaled by the median of this speaker's natural lengths over their
    /// estimates so far; unscaled for a stock voice's first line, none for a clone's.
    fn calibrated(&self, estimate_ms: Option<u64>, stock: bool) -> Option<u64> {
        let est = estimate_ms.filter(|&e| e > 0)? as f64;
        if self.paces.is_empty() {
            return stock.then_some(est.round() as u64);
        }
        let mut p = self.paces.clone();
        p.sort_by(f64::total_cmp);
        Some((est * p[p.len() / 2]).round() as u64)
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
    /// The line's length at natural speed: measured when a take was natural, else inferred
    /// from the first take (its speech × its speed, plus its pauses).
    pub natural_ms: u64,
}

/// Synthesise `text` to fit `slot_ms`. A line expected to fit is spoken at natural speed first;
/// a line over its slot first loses air from its pauses (down to [`redub_dsp::PAUSE_FLOOR_MS`]
/// each), then is spoken at the speed predicted to fit, and refined with at most `calls − 2`
/// more takes if it still does not fit. The prediction: an engine's speech scales as 1/speed
/// (Kokoro divides its predicted phoneme durations by it), while the pauses that are left
/// after tightening do not change (they are at the floor either way), so only the speech part
/// has to shrink into what the slot leaves after them. The speed is capped at
/// [`MAX_ENGINE_SPEED`], or higher for a line whose natural pace over its `syllables` is
/// slower than the language's native pace. The render stage time-stretches what remains.
///
/// With `expected_ms` (the line's expected natural length) over [`PREDICT_OVER`] × the slot,
/// the natural take is skipped: the first take is at the speed the estimate predicts, and the
/// second only corrects it, when the first ran over the slot or came out much shorter than it
/// ([`TOO_FAST`]). On the 10-minute bench input's 129 lines this spoke a fifth less audio for the
/// same fit (docs/voices.md, "Engine speed").
///
/// An engine that can [`plan`](Synthesizer::plan) a line (Kokoro) is not guessed at: its plan
/// gives the take's length at every speed before it is spoken, so the first take is at the
/// slowest speed whose planned length fits ([`planned_speed`]), and the estimate is not used.
/// On the sample this spoke each of its 9 lines once, where estimates took 13 takes.
pub fn fit_with_engine(
    tts: &mut dyn Synthesizer,
    line: (&str, Option<usize>),
    lang: &str,
    voice: &str,
    slot_ms: u64,
    calls: usize,
    expected_ms: Option<u64>,
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
    let plan = tts.plan(text, lang, voice)?;
    let first = match (&plan, expected_ms) {
        (Some(plan), _) => planned_speed(plan, slot_ms, pace_cap(plan.ms_at(1.0), syllables, lang)),
        (None, Some(e)) if e as f64 > PREDICT_OVER * slot_ms as f64 => {
            (e as f64 / (slot_ms as f64 * AIM)).clamp(1.0, pace_cap(e, syllables, lang))
        }
        _ => 1.0,
    };
    let raw = tts.synthesize(text, lang, voice, first as f32)?;
    // The engine's own plan knows the natural length; otherwise it is inferred from the take
    // as if its length scaled as 1/speed.
    let natural_ms = match &plan {
        Some(p) => p.ms_at(1.0),
        None => (raw.duration_ms() as f64 * first).round() as u64,
    };
    let speech_ms = raw.duration_ms().saturating_sub(redub_dsp::pause_ms(&raw.samples, raw.rate));
    let cap = pace_cap((speech_ms as f64 * first) as u64, syllables, lang).max(first);
    let mut spoken = vec![(first, tighten(raw))];
    for _ in 1..calls {
        let (speed, latest) =
            spoken.last().map(|(s, a)| (*s, a)).ok_or_else(|| Error::backend("synthesize", "no take"))?;
        let ratio = latest.duration_ms() as f64 / slot_ms as f64;
        let close = tolerance(spoken.len() - 1, speed);
        let predicted = predict_speed(speed, latest, slot_ms);
        let next = if ratio > close {
            predicted.min(cap)
        } else if speed > 1.0 && ratio < TOO_FAST {
            predicted.max(1.0)
        } else {
            break;
        };
        if (next - speed).abs() < 0.005 || (ratio > close && next < speed) {
            break;
        }
        let take = tighten(tts.synthesize(text, lang, voice, next as f32)?);
        spoken.push((next, take));
    }
    let takes = spoken.len() as u32;
    let (speed, audio) = keep(spoken, slot_ms);
    Ok(Fitted { audio, speed: speed as f32, takes, natural_ms })
}

/// The first take's speed for a line the engine has planned: natural when its natural length is
/// within [`PREDICT_OVER`] of the slot (its pauses may give the rest), else the slowest speed,
/// in steps of 0.01 up to `cap`, whose planned length is within [`AIM`] × the slot.
fn planned_speed(plan: &redub_core::LengthPlan, slot_ms: u64, cap: f64) -> f64 {
    if plan.ms_at(1.0) as f64 <= PREDICT_OVER * slot_ms as f64 {
        return 1.0;
    }
    let aim = slot_ms as f64 * AIM;
    let steps = ((cap - 1.0) / 0.01).round().max(0.0) as u32;
    (1..=steps).map(|k| 1.0 + f64::from(k) * 0.01).find(|&s| plan.ms_at(s as f32) as f64 <= aim).unwrap_or(cap)
}

/// How far over its slot a take may be and still be kept: a natural first take must fit
/// (another take is cheap next to a line that sounds squeezed), a faster one within
/// [`CLOSE_ENOUGH`].
fn tolerance(index: usize, speed: f64) -> f64 {
    if index == 0 && speed == 1.0 {
        1.0
    } else {
        CLOSE_ENOUGH
    }
}

/// The take to keep: the slowest that fits its slot ([`tolerance`]), else the shortest (an
/// engine that ignores its speed gives nothing back).
fn keep(spoken: Vec<(f64, Audio)>, slot_ms: u64) -> (f64, Audio) {
    let mut best: Option<(f64, Audio, bool)> = None;
    for (i, (speed, audio)) in spoken.into_iter().enumerate() {
        let fits = audio.duration_ms() as f64 <= slot_ms as f64 * tolerance(i, speed);
        let better = match &best {
            None => true,
            Some((s, b, b_fits)) => match (fits, *b_fits) {
                (true, true) => speed < *s,
                (true, false) => true,
                (false, true) => false,
                (false, false) => audio.duration_ms() < b.duration_ms(),
            },
        };
        if better {
            best = Some((speed, audio, fits));
        }
    }
    best.map_or_else(|| (1.0, Audio::new(24_000, Vec::new())), |(s, a, _)| (s, a))
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

/// The fastest engine speed for a line of `syllables` whose speech at natural speed lasts
/// `speech_ms`: [`MAX_ENGINE_SPEED`], or up to [`ENGINE_SPEED_CEILING`] as far as its pace
/// (syllables per second of speech, pauses left out) is below the language's native pace.
fn pace_cap(speech_ms: u64, syllables: Option<usize>, lang: &str) -> f64 {
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

    /// The narrator with its plan: each syllable 8 frames of 25 ms, each pause 18, as its
    /// `synthesize` speaks them (exponent 1).
    struct Planned(Narrator);

    impl Synthesizer for Planned {
        fn synthesize(&mut self, text: &str, lang: &str, voice: &str, speed: f32) -> Result<Audio> {
            self.0.synthesize(text, lang, voice, speed)
        }
        fn voices(&self, lang: &str) -> Vec<String> {
            self.0.voices(lang)
        }
        fn plan(&mut self, _text: &str, _lang: &str, _voice: &str) -> Result<Option<redub_core::LengthPlan>> {
            let mut frames = Vec::new();
            for i in 0..self.0.syllables {
                frames.push(8.0);
                if i % 4 == 3 && i + 1 < self.0.syllables {
                    frames.push(18.0);
                }
            }
            Ok(Some(redub_core::LengthPlan {
                pieces: vec![frames],
                frame_ms: 25.0,
                gap_ms: 0,
                speed_range: (0.5, 2.0),
            }))
        }
    }

    #[test]
    fn a_planned_line_is_spoken_once_at_the_slowest_speed_that_fits() {
        // 8 syllables and a pause: 2 050 ms at natural speed.
        let natural = natural_ms(8);
        for shrink in [1.1, 1.2, 1.35, 1.45] {
            let slot = (natural as f64 / shrink) as u64;
            // A wrong estimate does not matter when the engine plans.
            let mut p = Planned(narrator(8, 1.0));
            let f = fit_with_engine(&mut p, ("", Some(8)), "es", "v", slot, CALLS, Some(natural / 2)).unwrap();
            assert_eq!(p.0.asked.len(), 1, "×{shrink}: one take: {:?}", p.0.asked);
            let ratio = f.audio.duration_ms() as f64 / slot as f64;
            assert!((TOO_FAST..=CLOSE_ENOUGH).contains(&ratio), "×{shrink}: {ratio:.3} at {:?}", p.0.asked);
            // The slowest that fits: 0.01 slower would not.
            let plan = p.plan("", "es", "v").unwrap().unwrap();
            assert!(plan.ms_at(f.speed - 0.01) as f64 > slot as f64 * AIM, "×{shrink}: {} not the slowest", f.speed);
            assert_eq!(f.natural_ms, plan.ms_at(1.0), "the natural length is the plan's");
        }
        // A line that fits is spoken at natural speed, also when the estimate says it will not.
        let mut p = Planned(narrator(8, 1.0));
        fit_with_engine(&mut p, ("", Some(8)), "es", "v", natural + 50, CALLS, Some(natural * 2)).unwrap();
        assert_eq!(p.0.asked, [1.0]);
    }

    fn natural_ms(syllables: usize) -> u64 {
        narrator(syllables, 1.0).synthesize("", "es", "v", 1.0).unwrap().duration_ms()
    }

    #[test]
    fn pauses_give_way_before_the_speed_changes() {
        // 12 syllables: 2 400 ms of speech and two 450 ms pauses that can each give 300 ms.
        let natural = natural_ms(12);
        let mut n = narrator(12, 1.0);
        let f = fit_with_engine(&mut n, ("", Some(12)), "es", "v", natural - 500, 3, None).unwrap();
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
            let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS, None).unwrap();
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
        let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, 3, None).unwrap();
        assert!(n.asked.len() == 3 && n.asked[2] > n.asked[1], "refined: {:?}", n.asked);
        assert_eq!(f.takes, 3);
        assert!(f.audio.duration_ms() as f64 <= slot as f64 * CLOSE_ENOUGH, "{} ms in {slot}", f.audio.duration_ms());
        assert!(f.speed > 1.1 && f.speed <= ENGINE_SPEED_CEILING as f32, "{}", f.speed);
        // By default one faster take at most.
        let mut n = narrator(8, 0.5);
        fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS, None).unwrap();
        assert_eq!(n.asked.len(), 2);
    }

    #[test]
    fn only_a_line_slower_than_native_pace_goes_past_the_usual_cap() {
        // The stand-in speaks 5 syllables a second: slower than Spanish (7.8), so its cap rises
        // toward 1.5; counted as 20 syllables in the same time it is already fast.
        let natural = natural_ms(8);
        let slot = natural / 2;
        let mut slow = narrator(8, 1.0);
        let f = fit_with_engine(&mut slow, ("", Some(8)), "es", "v", slot, 3, None).unwrap();
        assert!(f.speed > MAX_ENGINE_SPEED as f32 && f.speed <= ENGINE_SPEED_CEILING as f32, "{}", f.speed);
        let mut fast = narrator(8, 1.0);
        let f = fit_with_engine(&mut fast, ("", Some(20)), "es", "v", slot, 3, None).unwrap();
        assert_eq!(f.speed, MAX_ENGINE_SPEED as f32);
        let mut unknown = narrator(8, 1.0);
        let f = fit_with_engine(&mut unknown, ("", None), "es", "v", slot, 3, None).unwrap();
        assert_eq!(f.speed, MAX_ENGINE_SPEED as f32, "no syllable count: the usual cap");
    }

    #[test]
    fn a_line_expected_over_its_slot_is_spoken_once_at_the_predicted_speed() {
        // 8 syllables, 1.3x over: an estimate within 5% of the truth gives one take that fits.
        let natural = natural_ms(8);
        let slot = (natural as f64 / 1.3) as u64;
        for error in [0.95, 1.0, 1.05] {
            let mut n = narrator(8, 1.0);
            let expected = (natural as f64 * error) as u64;
            let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS, Some(expected)).unwrap();
            assert_eq!(n.asked.len(), 1, "no natural take (estimate ×{error}): {:?}", n.asked);
            assert!(n.asked[0] > 1.2, "{:?}", n.asked);
            let ratio = f.audio.duration_ms() as f64 / slot as f64;
            assert!((TOO_FAST..=CLOSE_ENOUGH).contains(&ratio), "×{error}: {ratio:.3}");
            assert!((f.natural_ms as f64 / natural as f64 - 1.0).abs() < 0.03, "{} vs {natural}", f.natural_ms);
        }
    }

    #[test]
    fn a_wrong_estimate_costs_one_correcting_take() {
        let natural = natural_ms(8);
        let slot = (natural as f64 / 1.3) as u64;
        // Estimated 25% short: the first take runs over, the second fits.
        let mut n = narrator(8, 1.0);
        let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS, Some(natural * 3 / 4)).unwrap();
        assert_eq!(n.asked.len(), 2, "{:?}", n.asked);
        assert!(n.asked[1] > n.asked[0]);
        assert!(f.audio.duration_ms() as f64 <= slot as f64 * CLOSE_ENOUGH, "{} in {slot}", f.audio.duration_ms());
        // Estimated 30% long: the first take is rushed, the second is slower and kept.
        let mut n = narrator(8, 1.0);
        let f = fit_with_engine(&mut n, ("", Some(8)), "es", "v", slot, CALLS, Some(natural * 13 / 10)).unwrap();
        assert_eq!(n.asked.len(), 2, "{:?}", n.asked);
        assert!(n.asked[1] < n.asked[0]);
        assert_eq!(f.speed, n.asked[1], "the slower take fits and is kept");
        let ratio = f.audio.duration_ms() as f64 / slot as f64;
        assert!(ratio > TOO_FAST && ratio <= CLOSE_ENOUGH, "{ratio:.3}");
        // Expected to fit: natural speed first, as without an estimate.
        let mut n = narrator(8, 1.0);
        fit_with_engine(&mut n, ("", Some(8)), "es", "v", natural + 100, CALLS, Some(natural)).unwrap();
        assert_eq!(n.asked, [1.0]);
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
