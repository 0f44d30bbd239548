//! Whisper base on ONNX Runtime (`OnnxWhisper`, the graphs setup converts from the CTranslate2
//! export) on the real two-speaker call: WER against the reference transcript, word starts
//! against the reference line starts (whisper.cpp's printed beside it), language detection, a
//! French recording, and the log-mel against numpy.

#![allow(clippy::unwrap_used)]

use redub_asr::{log_mel, word_error_rate, MelFilters, OnnxWhisper, OnnxWhisperSettings, Whisper, WhisperSettings};
use redub_core::{Audio, Ctx, Segment, Span, Transcriber};

mod support;

use support::fixtures;

fn onnx() -> OnnxWhisper {
    OnnxWhisper::load(OnnxWhisperSettings::default()).unwrap_or_else(|e| panic!("{e} (run `make setup`)"))
}

/// The speech regions Silero VAD finds on sample.wav (see whisper_sample.rs): one packed window.
fn regions() -> [Span; 2] {
    [Span::new(6724, 7228), Span::new(7588, 30_000)]
}

/// (start ms, end ms, text) of each line of sample.stm.
fn reference() -> Vec<(u64, u64, String)> {
    let stm = std::fs::read_to_string(fixtures().join("speech-2spk/sample.stm")).unwrap();
    let ms = |x: &str| (x.parse::<f64>().unwrap() * 1000.0).round() as u64;
    stm.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (ms(f[3]), ms(f[4]), f[5..].join(" "))
        })
        .collect()
}

/// Signed error (ms) of each reference line's start (or end): the hypothesis word nearest to
/// the line's start (end), within 2 s, that is the line's first (last) word. `None`: no such
/// word.
fn line_errors(segs: &[Segment], lines: &[(u64, u64, String)], at_end: bool) -> Vec<Option<i64>> {
    let words: Vec<(String, u64)> = segs
        .iter()
        .flat_map(|s| &s.words)
        .filter_map(|w| {
            let t = redub_asr::normalize_words(&w.text).into_iter().next()?;
            Some((t, if at_end { w.end_ms } else { w.start_ms }))
        })
        .collect();
    lines
        .iter()
        .map(|(start, end, text)| {
            let norm = redub_asr::normalize_words(text);
            let (want, at) = if at_end { (norm.last()?, *end) } else { (norm.first()?, *start) };
            words
                .iter()
                .filter(|(t, _)| t == want)
                .map(|(_, s)| *s as i64 - at as i64)
                .filter(|e| e.abs() <= 2000)
                .min_by_key(|e| e.abs())
        })
        .collect()
}

fn median_abs(errors: &[Option<i64>]) -> Option<i64> {
    let mut v: Vec<i64> = errors.iter().flatten().map(|e| e.abs()).collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn report(name: &str, segs: &[Segment], lines: &[(u64, u64, String)], secs: f64) -> f64 {
    let hyp: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
    let reference: Vec<&str> = lines.iter().map(|l| l.2.as_str()).collect();
    let wer = word_error_rate(&reference.join(" "), &hyp.join(" "));
    println!("{name}: {}", hyp.join(" | "));
    println!(
        "{name}: WER {:.1}% ({} subs, {} dels, {} ins of {} words); {secs:.2} s",
        wer.rate() * 100.0,
        wer.substitutions,
        wer.deletions,
        wer.insertions,
        wer.reference_words,
    );
    for (what, at_end) in [("starts", false), ("ends", true)] {
        let errors = line_errors(segs, lines, at_end);
        println!(
            "{name}: line {what}: median |error| {:?} ms over {} of {} lines {:?}",
            median_abs(&errors),
            errors.iter().flatten().count(),
            lines.len(),
            errors.iter().map(|e| e.map_or("-".to_string(), |e| e.to_string())).collect::<Vec<_>>().join(" ")
        );
    }
    wer.rate()
}

#[test]
fn transcribes_the_call_with_word_times() {
    let audio = redub_media::read_wav_mono(&fixtures().join("speech-2spk/sample.wav")).unwrap();
    let lines = reference();
    let regions = regions();
    let mut w = onnx();
    assert_eq!(w.plan(&regions), vec![regions.to_vec()], "one packed window, as whisper.cpp's");
    let t = std::time::Instant::now();
    let segs = w.transcribe(&audio, &regions, Some("en"), &Ctx::quiet()).unwrap();
    let rate = report("onnx", &segs, &lines, t.elapsed().as_secs_f64());
    // whisper.cpp on the same call, for comparison (docs/asr.md: 17.3%). One thread: its words
    // do not depend on the thread count, and 2 threads inside a window crawl on a busy machine.
    let mut cpp = Whisper::load(WhisperSettings { threads: 1, ..Default::default() }).unwrap();
    let t = std::time::Instant::now();
    let cpp_segs = cpp.transcribe(&audio, &regions, Some("en"), &Ctx::quiet()).unwrap();
    report("whisper.cpp", &cpp_segs, &lines, t.elapsed().as_secs_f64());

    // 13.6% (2026-12-03, text-only decoding, beam 8): 11 errors of 81 words, "then", "in Texas",
    // "there isn't that much" and the overlap at the end ("so what can I say? Oh,"). With the
    // timestamp tokens and beam 5 it was 18.5% (faster-whisper's 21.0%, whisper.cpp's 17.3%),
    // "Neither did I" heard as "I need to design". The bar is 15%, but through the MP4
    // the same decoder hears "a beep" as "of deep" (16.0%, dub_sample.rs), so the assertion
    // allows those two words: 13 errors, no more.
    assert!(rate <= 0.165, "WER {rate:.3} above 16.5%");
    for s in &segs {
        assert!(s.start_ms >= 6724 && s.end_ms <= 30_000 && s.start_ms <= s.end_ms, "{s:?}");
        assert!(!s.words.is_empty() && s.lang == "en");
        for wd in &s.words {
            assert!(wd.start_ms >= s.start_ms && wd.end_ms <= s.end_ms + 10, "word {wd:?} outside {s:?}");
            assert!((0.0..=1.0).contains(&wd.p), "{wd:?}");
        }
    }
    let errors = line_errors(&segs, &lines, false);
    assert!(errors.iter().flatten().count() >= 9, "{errors:?}");
    assert!(median_abs(&errors).unwrap() <= 400, "{errors:?}");
    // "Chicago" is said at about 16.8 s (Sheila) and 19.0 s (Diane) per the reference times.
    let chicago = support::chicago_starts(support::words(&segs));
    println!("'Chicago' word starts (ms): {chicago:?}");
    assert!(chicago.iter().any(|&t| (15_500..18_000).contains(&t)), "{chicago:?}");
}

/// The call with 5 s of silence spliced in at 14.3 s: every word comes back in source time (as
/// for whisper.cpp).
#[test]
fn packed_window_maps_word_times_back_across_a_long_pause() {
    support::check_words_map_back_across_a_long_pause(&mut onnx());
}

/// Two windows (at most 12 s each) decoded side by side, one thread each, give the words that
/// one thread decoding them in turn gives: a window's result depends on nothing else.
#[test]
fn windows_side_by_side_decode_as_alone() {
    let audio = redub_media::read_wav_mono(&fixtures().join("speech-2spk/sample.wav")).unwrap();
    let regions = [Span::new(6724, 7228), Span::new(7588, 14_300), Span::new(14_700, 30_000)];
    let settings = |threads| OnnxWhisperSettings { threads, max_window_ms: 16_000, ..Default::default() };
    let mut two = OnnxWhisper::load(settings(2)).unwrap_or_else(|e| panic!("{e} (run `make setup`)"));
    let groups = two.plan(&regions);
    assert_eq!(groups.len(), 2, "{groups:?}");
    let side_by_side = two.transcribe(&audio, &regions, Some("en"), &Ctx::quiet()).unwrap();
    let mut one = OnnxWhisper::load(settings(1)).unwrap();
    let in_turn = one.transcribe(&audio, &regions, Some("en"), &Ctx::quiet()).unwrap();
    let words = |segs: &[Segment]| -> Vec<(String, u64, u64)> {
        segs.iter().flat_map(|s| &s.words).map(|w| (w.text.clone(), w.start_ms, w.end_ms)).collect()
    };
    assert!(words(&side_by_side).len() > 50);
    assert_eq!(words(&side_by_side), words(&in_turn));
    assert_eq!(two.stats().windows, 2);
    let ids: Vec<u32> = side_by_side.iter().map(|s| s.id).collect();
    assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>(), "ids in time order");
}

/// Low noise (±1e-4). Whisper's rules keep a window unless `<|nospeech|>` is likely (> 0.6)
/// *and* the text is unlikely (average log-probability < −1): here they are 0.68 and −0.92, so
/// the classic "You" comes back, as it would from Whisper or faster-whisper without VAD, but
/// with a confidence that marks it. An unknown language code is an error that names it.
#[test]
fn noise_gives_at_most_a_low_confidence_word() {
    let mut noise = 12345u32;
    let samples: Vec<f32> = (0..16_000 * 6)
        .map(|_| {
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (noise >> 8) as f32 / (1u32 << 24) as f32 * 2e-4 - 1e-4
        })
        .collect();
    let audio = Audio::new(16_000, samples);
    let mut w = onnx();
    let segs = w.transcribe(&audio, &[Span::new(500, 5500)], Some("en"), &Ctx::quiet()).unwrap();
    println!("noise: {segs:?}");
    let words: Vec<_> = segs.iter().flat_map(|s| &s.words).collect();
    assert!(words.len() <= 2 && words.iter().all(|w| w.p < 0.2), "{segs:?}");
    let bad = w.transcribe(&audio, &[Span::new(500, 5500)], Some("xx"), &Ctx::quiet()).unwrap_err();
    assert!(bad.to_string().contains("no language `xx`"), "{bad}");
}

#[test]
fn detects_english() {
    let audio = redub_media::read_wav_mono(&fixtures().join("speech-2spk/sample.wav")).unwrap();
    let speech = Audio::new(16_000, audio.slice_ms(6000, 30_000).to_vec());
    let (lang, p) = onnx().detect_language(&speech).unwrap();
    println!("detected {lang} p={p:.2}");
    assert_eq!(lang, "en");
    assert!(p > 0.5, "{p}");
}

/// June Wallack's Canadian French prompts (fixtures/voices/june.flac, 8 kHz): the language is
/// detected, and a window decoded without a language comes back in French.
#[test]
fn detects_and_transcribes_french() {
    let dir = std::env::temp_dir().join(format!("redub-asr-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("june.wav");
    redub_media::extract_audio(&fixtures().join("voices/june.flac"), &wav, Some(16_000), true).unwrap();
    let audio = redub_media::read_wav_mono(&wav).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let mut w = onnx();
    let (lang, p) = w.detect_language(&audio).unwrap();
    println!("june.flac: detected {lang} p={p:.2}");
    assert_eq!(lang, "fr");
    // The first prompt (dir-intro.wav, 0–15.2 s).
    let segs = w.transcribe(&audio, &[Span::new(0, 15_215)], None, &Ctx::quiet()).unwrap();
    let text: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
    println!("june.flac 0–15.2 s: {}", text.join(" | "));
    assert!(segs.iter().all(|s| s.lang == "fr"), "{segs:?}");
    let words: usize = segs.iter().map(|s| s.words.len()).sum();
    assert!(words >= 15, "{text:?}");
    assert!(text.join(" ").chars().any(|c| "éèàçêô".contains(c)), "French accents decoded: {text:?}");
}

/// The log-mel against faster-whisper 1.2.1's `FeatureExtractor` (numpy) with openai-whisper's
/// `mel_80` filters on sample.wav 8.0–12.0 s, computed once (/tmp/oxw/melref.py, 2026-12-01):
/// 401 frames (400 of content plus the one the 160-sample padding adds), zeros after them.
/// faster-whisper's own filters differ from mel_80 by at most 1.2e-7 in the log-mel.
#[test]
fn log_mel_matches_numpy() {
    let audio = redub_media::read_wav_mono(&fixtures().join("speech-2spk/sample.wav")).unwrap();
    let dir = redub_core::paths::models_dir().join(redub_asr::ONNX_MODEL_DIR);
    let filters = MelFilters::load(&dir.join("mel_filters.bin")).unwrap_or_else(|e| panic!("{e}"));
    let (mel, content) = log_mel(audio.slice_ms(8000, 12_000), &filters);
    assert_eq!(content, 400);
    let expected = [
        (0, 0, 0.453221),
        (10, 5, 0.195023),
        (40, 100, -0.343889),
        (79, 200, -0.916029), // clamped at max − 8
        (20, 399, -0.206722),
        (33, 400, -0.426826),
        (5, 401, 0.0), // past the content
        (60, 250, -0.494194),
    ];
    let mut worst = 0f32;
    for (m, f, want) in expected {
        let got = mel[m * 3000 + f];
        worst = worst.max((got - want).abs());
        assert!((got - want).abs() < 2e-4, "mel[{m}, {f}] = {got}, numpy {want}");
    }
    println!("log-mel: largest difference from numpy {worst:.2e} (values printed to 6 decimals)");
    let max = mel.iter().copied().fold(f32::MIN, f32::max);
    assert!((max - 1.083971).abs() < 2e-4, "max {max}");
}
