//! Separation on real speech over a generated music bed (12 dB under the speech): the
//! background stem against the true bed, compared with today's ducking; speed with one and two
//! threads; stereo with centred speech (mid vs per channel); clicks in the bed that must stay
//! where they were.

#![allow(clippy::unwrap_used)]

mod support;

use redub_core::{Audio, Ctx, Span};
use redub_separate::{si_sdr, ChannelMode, DeepFilter, SeparateSettings, Stems};
use std::time::Instant;

/// Speech plus bed at `rate`: (mix, true bed, regions).
fn mono_case(rate: u32) -> (Vec<f32>, Vec<f32>, Vec<Span>) {
    let (speech, regions) = support::speech_track(rate);
    let bed = support::music_bed(speech.len(), rate, 11, 0.0);
    let bed = support::scale_under(&bed, &speech, &regions, rate, 12.0);
    let mix = speech.iter().zip(&bed).map(|(s, b)| s + b).collect();
    (mix, bed, regions)
}

fn separate(df: &DeepFilter, channels: &[Audio], regions: &[Span], settings: &SeparateSettings) -> (Vec<Stems>, f64) {
    let t = Instant::now();
    let stems = df.separate_channels(channels, regions, settings, &Ctx::quiet()).unwrap();
    (stems, t.elapsed().as_secs_f64())
}

/// Seconds of audio the model hears for these regions (widened, merged, with context).
fn model_secs(regions: &[Span], len: usize, rate: u32, s: &SeparateSettings) -> f64 {
    let (before, after) = (redub_core::ms_to_samples(s.preroll_ms, rate), redub_core::ms_to_samples(100, rate));
    redub_separate::widened_regions(regions, s.margin_ms, rate, len)
        .iter()
        .map(|&(a, b)| ((b + after).min(len) - a.saturating_sub(before)) as f64 / rate as f64)
        .sum()
}

/// (whole file, inside the speech regions) SI-SDR of a background estimate.
fn scores(est: &[f32], bed: &[f32], regions: &[Span], rate: u32) -> (f64, f64) {
    (si_sdr(est, bed), si_sdr(&support::inside(est, regions, rate), &support::inside(bed, regions, rate)))
}

#[test]
fn separation_beats_ducking_and_threads_do_not_change_the_result() {
    let df = support::model();
    let rate = 48_000;
    let (mix, bed, regions) = mono_case(rate);
    let audio = [Audio::new(rate, mix.clone())];
    let secs = mix.len() as f64 / rate as f64;

    let one = SeparateSettings { threads: 1, ..Default::default() };
    let (stems1, t1) = separate(&df, &audio, &regions, &one);
    let (stems2, t2) = separate(&df, &audio, &regions, &SeparateSettings { threads: 2, ..Default::default() });
    let heard = model_secs(&regions, mix.len(), rate, &one);
    println!(
        "{secs:.1} s mix, {} regions, the model hears {heard:.1} s (timed beside the other tests; examples/rtf.rs measures alone): 1 thread {t1:.2} s (RTF {:.3} of the mix, {:.3} of what the model hears), 2 threads {t2:.2} s (RTF {:.3}, {:.3})",
        regions.len(),
        t1 / secs,
        t1 / heard,
        t2 / secs,
        t2 / heard
    );
    assert_eq!(stems1, stems2, "the result must not depend on the thread count");

    let stems = &stems1[0];
    let sum: f64 = stems
        .speech
        .samples
        .iter()
        .zip(&stems.background.samples)
        .zip(&mix)
        .map(|((s, b), m)| ((s + b) - m).abs() as f64)
        .fold(0.0, f64::max);
    assert!(sum < 1e-6, "speech + background must equal the mix (max error {sum})");

    let (sep_all, sep_in) = scores(&stems.background.samples, &bed, &regions, rate);
    let (duck_all, duck_in) = scores(&support::ducked(&mix, &regions, rate), &bed, &regions, rate);
    println!("background SI-SDR vs the true bed, whole mix: separation {sep_all:.2} dB, ducking {duck_all:.2} dB");
    println!("background SI-SDR vs the true bed, inside speech: separation {sep_in:.2} dB, ducking {duck_in:.2} dB");
    let (speech, _) = support::speech_track(rate);
    println!("speech stem SI-SDR vs the true speech: {:.2} dB", si_sdr(&stems.speech.samples, &speech));
    assert!(sep_all >= duck_all + 3.0, "whole mix: separation {sep_all:.2} dB, ducking {duck_all:.2} dB");
    assert!(sep_in >= duck_in + 3.0, "inside speech: separation {sep_in:.2} dB, ducking {duck_in:.2} dB");
}

#[test]
fn stereo_with_centred_speech_mid_and_per_channel() {
    let df = support::model();
    let rate = 48_000;
    let (speech, regions) = support::speech_track(rate);
    // Two different beds: other noise and slightly detuned chords on the right.
    let beds: Vec<Vec<f32>> = [(11, 0.0), (12, 0.004)]
        .iter()
        .map(|&(seed, detune)| {
            support::scale_under(&support::music_bed(speech.len(), rate, seed, detune), &speech, &regions, rate, 12.0)
        })
        .collect();
    let channels: Vec<Audio> =
        beds.iter().map(|b| Audio::new(rate, speech.iter().zip(b).map(|(s, b)| s + b).collect())).collect();
    for mode in [ChannelMode::Mid, ChannelMode::PerChannel] {
        let settings = SeparateSettings { channels: mode, ..Default::default() };
        let (stems, t) = separate(&df, &channels, &regions, &settings);
        for (c, (st, bed)) in stems.iter().zip(&beds).enumerate() {
            let (sep_all, sep_in) = scores(&st.background.samples, bed, &regions, rate);
            let (duck_all, duck_in) =
                scores(&support::ducked(&channels[c].samples, &regions, rate), bed, &regions, rate);
            println!(
                "stereo {mode:?}, channel {c}: background SI-SDR whole {sep_all:.2} dB (ducking {duck_all:.2}), inside speech {sep_in:.2} dB (ducking {duck_in:.2}); {t:.2} s"
            );
            assert!(sep_in >= duck_in + 3.0, "{mode:?} channel {c}: {sep_in:.2} vs {duck_in:.2}");
        }
    }
}

/// Where a click added to the bed comes out of the background stem: the stems of the mix with
/// and without the click differ only by what became of it.
fn click_offsets(df: &DeepFilter, rate: u32, at_ms: &[u64]) -> Vec<i64> {
    let (mix, _, regions) = mono_case(rate);
    // The first utterance and the pause after it are enough.
    let len = rate as usize * 10;
    let mix = mix[..len].to_vec();
    let regions: Vec<Span> = regions.into_iter().filter(|r| r.end_ms <= 10_000).collect();
    let settings = SeparateSettings::default();
    let base = df.separate(&Audio::new(rate, mix.clone()), &regions, &settings, &Ctx::quiet()).unwrap();
    at_ms
        .iter()
        .map(|&ms| {
            let at = redub_core::ms_to_samples(ms, rate);
            let mut clicked = mix.clone();
            clicked[at] += 0.5;
            let st = df.separate(&Audio::new(rate, clicked), &regions, &settings, &Ctx::quiet()).unwrap();
            let diff: Vec<f32> = st.background.samples.iter().zip(&base.background.samples).map(|(a, b)| a - b).collect();
            let peak = support::peak_at(&diff);
            println!(
                "{rate} Hz, click at {ms} ms (sample {at}): background peak at sample {peak} ({:+} samples), peak {:.3} of 0.5",
                peak as i64 - at as i64,
                diff[peak]
            );
            peak as i64 - at as i64
        })
        .collect()
}

#[test]
fn clicks_stay_where_they_were() {
    let df = support::model();
    // The first utterance runs from 1000 to 8100 ms: clicks in the pause before it (outside its
    // margin), in its margin, and inside the speech.
    for rate in [48_000u32, 44_100] {
        let tolerance = redub_core::ms_to_samples(1, rate) as i64;
        for (ms, offset) in [400u64, 850, 3_456, 6_001].iter().zip(click_offsets(&df, rate, &[400, 850, 3_456, 6_001]))
        {
            assert!(
                offset.abs() <= tolerance,
                "{rate} Hz, click at {ms} ms: {offset:+} samples (tolerance {tolerance})"
            );
        }
    }
}

#[test]
fn no_regions_means_the_mix_is_the_background() {
    let df = support::model();
    let mix = Audio::new(44_100, support::pink_noise(44_100, 5));
    let st = df.separate(&mix, &[], &SeparateSettings::default(), &Ctx::quiet()).unwrap();
    assert_eq!(st.background, mix);
    assert!(st.speech.samples.iter().all(|&v| v == 0.0));
    // Regions past the end of the audio are ignored, not an error.
    let st = df.separate(&mix, &[Span::new(5_000, 6_000)], &SeparateSettings::default(), &Ctx::quiet()).unwrap();
    assert_eq!(st.background, mix);
}

#[test]
fn cancellation_stops_the_work() {
    let df = support::model();
    let (mix, _, regions) = mono_case(48_000);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let progress = |done: u64, _total: u64| {
        if done > 0 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let ctx = Ctx::new(&progress, Some(&cancel));
    let t = Instant::now();
    let r = df.separate(&Audio::new(48_000, mix), &regions, &SeparateSettings::default(), &ctx);
    assert!(matches!(r, Err(redub_core::Error::Cancelled)), "{r:?}");
    println!("cancelled after {:.2} s", t.elapsed().as_secs_f64());
}
