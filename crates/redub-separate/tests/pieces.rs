//! Separation a piece at a time, as a farm runs it: each piece cut out of the mix with
//! [`cut_piece`] and sent as a 32-bit float WAV, its estimate made on those samples alone by
//! [`DeepFilter::separate_piece`] (a second model, as on a worker) and sent back the same way,
//! then joined by [`assemble_stems`], gives exactly the stems of one
//! [`DeepFilter::separate_channels`] call.

#![allow(clippy::unwrap_used)]

mod support;

use redub_core::{Audio, Ctx};
use redub_separate::{assemble_stems, cut_piece, plan_pieces, ChannelMode, SeparateSettings};

#[test]
fn pieces_made_apart_join_into_the_same_stems() {
    let here = support::model();
    let worker = support::model();
    let dir = tempfile::tempdir().unwrap();
    // 44.1 kHz, so each piece goes through the resampler both ways; two channels with the
    // speech louder on the left, so the mid's per-channel gains matter.
    let rate = 44_100;
    let (speech, regions) = support::speech_track(rate);
    let bed = support::music_bed(speech.len(), rate, 11, 0.0);
    let channels: Vec<Audio> = [1.0f32, 0.5]
        .iter()
        .map(|g| Audio::new(rate, speech.iter().zip(&bed).map(|(s, b)| s * g + b * 0.1).collect()))
        .collect();
    for mode in [ChannelMode::Mid, ChannelMode::PerChannel] {
        let settings = SeparateSettings { channels: mode, ..Default::default() };
        let whole = here.separate_channels(&channels, &regions, &settings, &Ctx::quiet()).unwrap();
        let pieces = plan_pieces(&channels, &regions, &settings).unwrap();
        let estimates: Vec<Vec<f32>> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (heard, local) = cut_piece(&channels, p).unwrap();
                assert_eq!(heard.samples.len(), p.heard.1 - p.heard.0);
                let sent = dir.path().join(format!("heard-{i}.wav"));
                redub_media::write_wav(&sent, &heard).unwrap();
                let heard = redub_media::read_wav_mono(&sent).unwrap();
                let est = worker.separate_piece(std::slice::from_ref(&heard), &local, &Ctx::quiet()).unwrap();
                let wav = dir.path().join(format!("{i}.wav"));
                redub_media::write_wav(&wav, &Audio::new(rate, est)).unwrap();
                redub_media::read_wav_mono(&wav).unwrap().samples
            })
            .collect();
        let joined = assemble_stems(&channels, &pieces, &estimates, &settings).unwrap();
        let heard: usize = pieces.iter().map(|p| p.heard.1 - p.heard.0).sum();
        println!(
            "{mode:?}: {} pieces, {heard} samples sent of a mix of {} × {}",
            pieces.len(),
            channels.len(),
            channels[0].samples.len()
        );
        assert!(pieces.len() >= 2, "{pieces:?}");
        assert!(joined == whole, "{mode:?}: the stems differ");
    }
    // A piece of another mix is refused, not a panic.
    let mut far = plan_pieces(&channels, &regions, &SeparateSettings::default()).unwrap()[0];
    far.heard.1 = speech.len() + 1;
    assert!(worker.separate_piece(&channels, &far, &Ctx::quiet()).is_err());
    assert!(cut_piece(&channels, &far).is_err());
}
