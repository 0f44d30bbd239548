//! Render: place each dubbed clip at its segment's start, fit it to its slot, and mix it over the
//! background. Pure sample math over data; the caller reads and writes the files.
//!
//! Timing rules (DESIGN §1, render): a clip starts at its segment's start, always (assigned,
//! never accumulated, so errors cannot drift). A clip longer than its slot is time-compressed:
//! not at all within the 1.05 dead band (unless it would run into the next line), to its slot
//! up to the comfortable 1.15×; a clip that
//! needs more runs into the silence after the slot (up to the next line) at 1.15×, and is
//! compressed further, at most to 1.3×, only as far as that silence is too short. What still
//! does not fit is flagged, never cut.

use redub_core::{samples_to_ms, Audio, Flag, Segment};
use serde::{Deserialize, Serialize};

/// Below this ratio of clip length to slot length, the clip is left alone.
pub const DEAD_BAND: f64 = 1.05;
/// Speed-ups up to this are comfortable to listen to.
pub const COMFORTABLE: f64 = 1.15;
/// Never speed a clip up by more than this.
pub const HARD_CAP: f64 = 1.3;
/// Fades on every clip, so cuts never click.
pub const FADE_MS: u64 = 100;
/// The clip's gain toward the original speech's level is clamped to this many dB.
pub const MAX_GAIN_DB: f32 = 6.0;
/// Attenuation of the original audio under dubbed speech with `--background duck` (no
/// separation).
pub const DUCK_DB: f32 = -18.0;

/// One synthesised line ready to place: mono audio at the render rate.
#[derive(Clone, Debug)]
pub struct Clip {
    pub segment_id: u32,
    pub audio: Audio,
    /// The speed the engine was asked for (1.0 = natural), reported alongside the stretch.
    pub engine_speed: f32,
}

/// What happened to one line, for the job's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinePlacement {
    pub id: u32,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Where the clip was placed (always the segment's start).
    pub clip_start_ms: u64,
    /// The clip's length after fitting.
    pub clip_ms: u64,
    /// The clip's length as synthesised, before time-stretching.
    pub natural_ms: u64,
    pub engine_speed: f32,
    /// Time-stretch speed-up applied (natural / fitted length; 1.0 = untouched).
    pub stretch: f64,
    /// Fitted clip length over slot length (1.0 = exactly fills its slot).
    pub fit_ratio: f64,
    pub gain_db: f32,
    pub flags: Vec<Flag>,
}

/// How much faster a clip of `natural_ms` must play to fit `slot_ms` (1.0 within the dead band),
/// capped at [`HARD_CAP`].
pub fn stretch_for(natural_ms: u64, slot_ms: u64) -> f64 {
    if slot_ms == 0 || natural_ms == 0 {
        return 1.0;
    }
    let ratio = natural_ms as f64 / slot_ms as f64;
    if ratio <= DEAD_BAND {
        1.0
    } else {
        ratio.min(HARD_CAP)
    }
}

/// The stretch for a clip of `natural_ms` in a slot of `slot_ms` followed by silence up to
/// `room_ms` from the slot's start. Within the comfortable range the clip is fitted to its slot
/// ([`stretch_for`]); a clip that would need more is stretched to the comfortable limit and
/// borrows the silence after its slot, and only what the silence cannot hold is stretched
/// further, up to [`HARD_CAP`]: a little overrun into a pause is heard less than fast speech.
pub fn stretch_within(natural_ms: u64, slot_ms: u64, room_ms: u64) -> f64 {
    let for_slot = stretch_for(natural_ms, slot_ms);
    // The dead band spares a clip that is a little long, not one that would run into the next
    // line: that one is fitted to the room it has.
    if for_slot == 1.0 && natural_ms > room_ms && room_ms > 0 {
        return natural_ms as f64 / room_ms as f64;
    }
    if for_slot <= COMFORTABLE {
        return for_slot;
    }
    let for_room = natural_ms as f64 / room_ms.max(slot_ms).max(1) as f64;
    for_room.clamp(COMFORTABLE, HARD_CAP)
}

/// Where the silence after line `i` of `segments` ends: the next line's start (or the end of
/// the output); a clip may borrow up to there.
pub fn room_end(segments: &[Segment], i: usize, end_ms: u64) -> u64 {
    let seg = &segments[i];
    segments.get(i + 1).map(|n| n.start_ms).unwrap_or(end_ms).max(seg.end_ms)
}

/// One clip fitted to its line: time-stretched as far as its slot and the room after it ask
/// (see [`stretch_within`]), its gain matched to `reference` (the original speech over the
/// line, at the clip's rate) within ±[`MAX_GAIN_DB`], faded; ready to add at the line's start.
pub fn fit_clip(seg: &Segment, clip: &Clip, reference: &[f32], room_end: u64) -> (Vec<f32>, LinePlacement) {
    let rate = clip.audio.rate;
    let slot_ms = seg.duration_ms();
    let natural_ms = clip.audio.duration_ms();
    let stretch = stretch_within(natural_ms, slot_ms, room_end - seg.start_ms);
    let mut samples = if stretch > 1.0 {
        redub_dsp::time_stretch(&clip.audio.samples, rate, 1.0 / stretch)
    } else {
        clip.audio.samples.clone()
    };
    let clip_ms = samples_to_ms(samples.len(), rate);
    let mut flags = Vec::new();
    if seg.start_ms + clip_ms > room_end {
        flags.push(Flag::DoesNotFit);
    }
    let gain = redub_dsp::gain_to_match(&samples, reference, MAX_GAIN_DB);
    redub_dsp::fade_in_out(&mut samples, rate, FADE_MS);
    samples.iter_mut().for_each(|x| *x *= gain);
    let placement = LinePlacement {
        id: seg.id,
        start_ms: seg.start_ms,
        end_ms: seg.end_ms,
        clip_start_ms: seg.start_ms,
        clip_ms,
        natural_ms,
        engine_speed: clip.engine_speed,
        stretch,
        fit_ratio: if slot_ms == 0 { 0.0 } else { clip_ms as f64 / slot_ms as f64 },
        gain_db: 20.0 * gain.max(1e-9).log10(),
        flags,
    };
    (samples, placement)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use redub_core::ms_to_samples;

    /// Fit and place every clip in memory, as 09-render does a block at a time. `original` is
    /// the mono mix at the render rate (for loudness matching); `segments` are sorted by start;
    /// `end_ms` is the length of the output.
    fn render_speech(
        segments: &[Segment],
        clips: &[Clip],
        original: &Audio,
        end_ms: u64,
    ) -> (Audio, Vec<LinePlacement>) {
        let rate = original.rate;
        let mut track = vec![0.0f32; ms_to_samples(end_ms, rate)];
        let mut report = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let Some(clip) = clips.iter().find(|c| c.segment_id == seg.id) else { continue };
            let room_end = room_end(segments, i, end_ms);
            let (samples, placement) = fit_clip(seg, clip, original.slice_ms(seg.start_ms, seg.end_ms), room_end);
            redub_dsp::mix_into(&mut track, &samples, ms_to_samples(seg.start_ms, rate), 1.0);
            report.push(placement);
        }
        (Audio::new(rate, track), report)
    }

    fn seg(id: u32, start_ms: u64, end_ms: u64) -> Segment {
        Segment {
            id,
            speaker: None,
            start_ms,
            end_ms,
            text: String::new(),
            words: vec![],
            confidence: 1.0,
            lang: "en".into(),
        }
    }

    fn tone(rate: u32, ms: u64) -> Audio {
        let n = ms_to_samples(ms, rate);
        Audio::new(rate, (0..n).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect())
    }

    #[test]
    fn stretch_respects_dead_band_and_cap() {
        assert_eq!(stretch_for(1040, 1000), 1.0);
        assert!((stretch_for(1100, 1000) - 1.1).abs() < 1e-9);
        assert_eq!(stretch_for(2000, 1000), HARD_CAP);
        assert_eq!(stretch_for(500, 1000), 1.0, "short clips are never slowed down");
    }

    #[test]
    fn past_the_comfortable_stretch_the_silence_after_the_slot_is_used_first() {
        // Within 1.15× the clip fits its slot whatever the room.
        assert!((stretch_within(1100, 1000, 5000) - 1.1).abs() < 1e-9);
        // Within the dead band it is left alone, unless it would run into the next line.
        assert_eq!(stretch_within(1040, 1000, 1100), 1.0);
        assert!((stretch_within(1040, 1000, 1000) - 1.04).abs() < 1e-9);
        // 1.25× needed: 1.15× when the silence after holds the rest...
        assert_eq!(stretch_within(1250, 1000, 1200), COMFORTABLE);
        // ...more when it holds only part (1250 / 1050 ≈ 1.19), at most the hard cap.
        assert!((stretch_within(1250, 1000, 1050) - 1250.0 / 1050.0).abs() < 1e-9);
        assert_eq!(stretch_within(1250, 1000, 1000), 1.25);
        assert_eq!(stretch_within(3000, 1000, 1000), HARD_CAP);
    }

    #[test]
    fn clips_start_at_their_segment_and_never_exceed_the_cap() {
        let rate = 16_000;
        let original = tone(rate, 10_000);
        let segs = vec![seg(0, 1000, 2000), seg(1, 3000, 4000), seg(2, 4200, 5000)];
        let clips = vec![
            Clip { segment_id: 0, audio: tone(rate, 900), engine_speed: 1.0 },
            Clip { segment_id: 1, audio: tone(rate, 1200), engine_speed: 1.0 },
            Clip { segment_id: 2, audio: tone(rate, 3000), engine_speed: 1.0 },
        ];
        let (track, report) = render_speech(&segs, &clips, &original, 10_000);
        assert_eq!(track.samples.len(), ms_to_samples(10_000, rate));
        for (p, s) in report.iter().zip(&segs) {
            assert_eq!(p.clip_start_ms, s.start_ms);
            assert!(p.stretch <= HARD_CAP);
        }
        assert_eq!(report[0].stretch, 1.0);
        // 1200 ms in 1000 ms would need 1.2×: 1.15× and 43 ms of the silence after the slot.
        assert!((report[1].stretch - COMFORTABLE).abs() < 1e-9, "{}", report[1].stretch);
        assert!(report[1].clip_ms > 1000 && report[1].clip_ms <= 1050, "{}", report[1].clip_ms);
        // 3000 ms in an 800 ms slot with silence to 10 s: comfortable, running into the silence.
        assert_eq!(report[2].stretch, COMFORTABLE);
        assert!(report[2].flags.is_empty());
        // The track is silent before the first clip and sounds inside it.
        assert!(track.slice_ms(0, 990).iter().all(|&x| x == 0.0));
        assert!(redub_dsp::rms(track.slice_ms(1200, 1800)) > 0.05);
    }

    #[test]
    fn a_clip_that_cannot_fit_is_flagged_not_dropped() {
        let rate = 16_000;
        let original = tone(rate, 5000);
        let segs = vec![seg(0, 0, 1000), seg(1, 1100, 2000)];
        let clips = vec![Clip { segment_id: 0, audio: tone(rate, 3000), engine_speed: 1.0 }];
        let (track, report) = render_speech(&segs, &clips, &original, 5000);
        assert_eq!(report[0].flags, vec![Flag::DoesNotFit]);
        assert!(redub_dsp::rms(track.slice_ms(1500, 2200)) > 0.05, "the clip's tail is kept");
    }
}
