//! Every figure of the QA report on a small constructed case whose values were worked out by
//! hand: known durations, a known transcript, two known embeddings, a tone of known loudness.

use redub_core::{Flag, Word};
use redub_qa::{assign_words, likeness, measure_file, LineInput, LineQa, QaReport};

fn line(id: u32, speaker: &str, start_ms: u64, end_ms: u64, clip_ms: u64, stretch: f64, target: &str) -> LineInput {
    LineInput {
        id,
        speaker: speaker.into(),
        start_ms,
        end_ms,
        clip_start_ms: start_ms,
        clip_ms,
        natural_ms: (clip_ms as f64 * stretch).round() as u64,
        stretch,
        engine_speed: 1.1,
        flags: vec![],
        source_text: String::new(),
        target_text: target.into(),
    }
}

fn word(text: &str, start_ms: u64, end_ms: u64) -> Word {
    Word { text: text.into(), start_ms, end_ms, p: 0.9 }
}

/// Three lines. Slots 2.0 s, 1.0 s, 4.0 s; fitted clips 1.8 s, 1.2 s, 4.0 s:
/// overlaps 1 − 0.2/2 = 0.9, 1 − 0.2/1 = 0.8, 1.0. Stretches 1.0, 1.2, 1.1.
/// Heard: line 0 exactly ("hola a todos", 3 words); line 1 "buenas tardes" for "buenas
/// noches" (1 of 2 words; "tardes" for "noches": t→n, a→o, r→c, d→h, 4 of the 12 letters of
/// "buenasnoches"); line 2 nothing at all (4 words, 16 letters lost: unintelligible).
fn case() -> QaReport {
    let lines = [
        line(0, "S1", 1_000, 3_000, 1_800, 1.0, "Hola a todos."),
        line(1, "S2", 4_000, 5_000, 1_200, 1.2, "¡Buenas noches!"),
        line(2, "S1", 6_000, 10_000, 4_000, 1.1, "Nos vemos mañana temprano"),
    ];
    let heard = [
        word("Hola", 1_150, 1_400),
        word("a", 1_400, 1_500),
        word("todos.", 1_500, 2_000),
        word("Buenas", 3_900, 4_300), // starts 100 ms early
        word("tardes", 4_300, 4_900),
    ];
    let clips: Vec<(u32, u64, u64)> =
        lines.iter().map(|l| (l.id, l.clip_start_ms, l.clip_start_ms + l.clip_ms)).collect();
    let by_line = assign_words(&clips, &heard);
    let mut r = QaReport { input_ms: 12_000, from: "en".into(), to: "es".into(), ..QaReport::default() };
    for l in lines {
        let words = by_line.get(&l.id).cloned().unwrap_or_default();
        r.lines.push(LineQa::new(l, &words, redub_qa::UNINTELLIGIBLE_CER));
    }
    r.summarize();
    r
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn durations_give_the_overlap_and_stretch_figures() {
    let r = case();
    let overlaps: Vec<f64> = r.lines.iter().map(|l| l.overlap).collect();
    println!("speech overlap per line: {overlaps:?}");
    assert!(close(overlaps[0], 0.9) && close(overlaps[1], 0.8) && close(overlaps[2], 1.0), "{overlaps:?}");
    assert_eq!(r.lines.iter().map(|l| l.slot_ms).collect::<Vec<_>>(), [2_000, 1_000, 4_000]);
    // Sorted overlaps 0.8, 0.9, 1.0: median 0.9, p5 = 0.8 + 0.1 × 0.1 = 0.81, worst line 1.
    assert!(close(r.overlap.median, 0.9) && close(r.overlap.p5, 0.81), "{:?}", r.overlap);
    assert_eq!((r.overlap.worst_line, r.overlap.n), (Some(1), 3));
    // Stretches 1.0, 1.1, 1.2: median 1.1, worst 1.2 (line 1); two of three within 1.15×.
    assert!(close(r.stretch.median, 1.1) && close(r.stretch.worst, 1.2), "{:?}", r.stretch);
    assert_eq!(r.stretch.worst_line, Some(1));
    assert!(close(r.comfortable_share, 2.0 / 3.0));
}

#[test]
fn a_known_transcript_gives_the_round_trip_figures() {
    let r = case();
    for l in &r.lines {
        println!("line {}: heard {:?}, WER {:?}, CER {:?}, flags {:?}", l.line.id, l.heard, l.wer(), l.cer(), l.flags);
    }
    let (a, b, c) = (&r.lines[0], &r.lines[1], &r.lines[2]);
    assert_eq!((a.word_errors, a.target_words, a.char_errors), (0, 3, 0));
    assert_eq!((b.word_errors, b.target_words), (1, 2));
    assert_eq!((b.char_errors, b.target_chars), (4, 12));
    assert_eq!((c.word_errors, c.target_words, c.char_errors, c.target_chars), (4, 4, 22, 22));
    assert_eq!(c.heard, "");
    // Job: 5 word errors over 3 + 2 + 4 = 9 words, 26 letter errors over 10 + 12 + 22 = 44
    // letters, each summed over lines (not a mean of the lines' rates).
    assert_eq!(a.target_chars, 10, "holaatodos");
    assert!(close(r.round_trip.wer, 5.0 / 9.0), "{}", r.round_trip.wer);
    assert!(close(r.round_trip.cer, 26.0 / 44.0), "{}", r.round_trip.cer);
    assert_eq!(r.round_trip.words, 9);
    // Only the line nothing was heard of is unintelligible (CER 1.0; line 1 is 0.33).
    assert!(c.flags.contains(&Flag::Unintelligible) && !b.flags.contains(&Flag::Unintelligible));
    assert_eq!(r.round_trip.unintelligible, 1);
    // Start offsets from the heard words: +150 ms and −100 ms; none for the silent line.
    assert_eq!(a.start_offset_ms, Some(150));
    assert_eq!(b.start_offset_ms, Some(-100));
    assert_eq!(c.start_offset_ms, None);
    assert!(close(r.start_offset_ms.median, 125.0) && r.start_offset_ms.worst_line == Some(0));
    // Line WERs 0, 0.5, 1.0.
    assert!(close(r.line_wer.median, 0.5) && close(r.line_wer.worst, 1.0));
}

#[test]
fn two_known_embeddings_give_the_likeness() {
    // Dubbed S1 = (1, 1, 0); sources S1 = (1, 0, 0), S2 = (0, 1, 1).
    // cos(d1, s1) = 1/√2 ≈ 0.7071; cos(d1, s2) = 1/(√2·√2) = 0.5.
    let dubbed = vec![("S1".to_string(), vec![1.0, 1.0, 0.0], 12_000)];
    let sources = vec![("S1".to_string(), vec![1.0, 0.0, 0.0]), ("S2".to_string(), vec![0.0, 1.0, 1.0])];
    let got = likeness(&dubbed, &sources);
    println!("likeness: {got:?}");
    assert_eq!(got.len(), 1);
    assert!((got[0].own - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert_eq!(got[0].nearest_other.as_deref(), Some("S2"));
    assert!((got[0].nearest_other_cosine.unwrap_or(0.0) - 0.5).abs() < 1e-6);
    assert_eq!(got[0].dubbed_ms, 12_000);
}

#[test]
fn a_tone_of_known_loudness_is_measured() {
    // BS.1770 is calibrated so that a 997 Hz sine at full scale in one channel reads −3.01
    // LUFS; at amplitude 0.25 (−12.04 dB) it reads −15.05 LUFS, and its true peak is −12.04
    // dBTP.
    let rate = 48_000;
    let samples: Vec<f32> =
        (0..rate * 5).map(|i| 0.25 * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin()).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let path = dir.path().join("tone.wav");
    redub_media::write_wav(&path, &redub_core::Audio::new(rate as u32, samples)).unwrap_or_else(|e| panic!("{e}"));
    let l = measure_file(&path).unwrap_or_else(|e| panic!("{e}"));
    println!("997 Hz tone at 0.25: {:.2} LUFS, {:.2} dBTP (expected -15.05, -12.04)", l.lufs, l.true_peak_db);
    assert!((l.lufs - -15.05).abs() < 0.1, "{}", l.lufs);
    assert!((l.true_peak_db - -12.04).abs() < 0.1, "{}", l.true_peak_db);
}
