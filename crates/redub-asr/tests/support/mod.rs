//! What the two Whisper backends' tests share: the fixtures, and the checks both runtimes must
//! pass the same way (the window's time map across a spliced pause, a word's place).

#![allow(dead_code, clippy::unwrap_used)]

use redub_core::{Audio, Ctx, Segment, Span, Transcriber};
use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Start times of the words "Chicago…" in `segs`.
pub fn chicago_starts<'a>(words: impl IntoIterator<Item = &'a redub_core::Word>) -> Vec<u64> {
    words.into_iter().filter(|w| w.text.to_lowercase().starts_with("chicago")).map(|w| w.start_ms).collect()
}

/// All the words of `segs`.
pub fn words(segs: &[Segment]) -> Vec<&redub_core::Word> {
    segs.iter().flat_map(|s| &s.words).collect()
}

/// The call with 5 s of silence spliced in at 14.3 s: packed, the pause is cut to 400 ms, and
/// every word must come back in source time, inside the speech regions. "Chicago" (Sheila) is at
/// about 16.8 s in the original, so 21.8 s here; packed time read as an offset from the window's
/// start (no map) would put it near 17.2 s.
pub fn check_words_map_back_across_a_long_pause(w: &mut dyn Transcriber) {
    let audio = redub_media::read_wav_mono(&fixtures().join("speech-2spk/sample.wav")).unwrap();
    let cut = 14_300 * 16;
    let mut samples = audio.samples[..cut].to_vec();
    samples.extend(std::iter::repeat_n(0.0, 5000 * 16));
    samples.extend_from_slice(&audio.samples[cut..]);
    let spliced = Audio::new(16_000, samples);
    let regions = [Span::new(6724, 7228), Span::new(7588, 14_300), Span::new(19_300, 35_000)];
    assert_eq!(w.plan(&regions), vec![regions.to_vec()], "one window of 23.3 + 0.4 s");
    let segs = w.transcribe(&spliced, &regions, Some("en"), &Ctx::quiet()).unwrap();
    let words = words(&segs);
    assert!(words.len() > 50, "{segs:?}");
    for wd in &words {
        let inside = regions.iter().any(|r| wd.start_ms >= r.start_ms && wd.end_ms <= r.end_ms);
        assert!(inside, "word {wd:?} outside the regions");
    }
    let chicago = chicago_starts(words);
    println!("'Chicago' word starts after the splice (ms): {chicago:?}");
    assert!(chicago.iter().any(|&t| (20_500..23_000).contains(&t)), "{chicago:?}");
}
