//! The report page end to end: a constructed report rendered, opened in headless Chromium,
//! and checked for what a reviewer relies on (charts, the lines to check with their players,
//! escaping) and for what it must never do (reach the network).

mod browser;

use redub_core::Flag;
use redub_qa::html::{self, LineAudio};
use redub_qa::{LineInput, LineQa, QaReport, SpeakerQa, StageCost};
use std::path::PathBuf;

const SCRIPT_TEXT: &str = "<script>alert(1)</script> & \"x\"";

struct Spec {
    id: u32,
    speaker: &'static str,
    start_ms: u64,
    end_ms: u64,
    clip_ms: u64,
    stretch: f64,
    flags: &'static [Flag],
    /// Round-trip character errors out of 20.
    char_errors: usize,
}

fn measured(s: &Spec) -> LineQa {
    let slot_ms = s.end_ms - s.start_ms;
    let target = if s.id == 5 { SCRIPT_TEXT.to_string() } else { format!("Línea {} en español", s.id) };
    LineQa {
        line: LineInput {
            id: s.id,
            speaker: s.speaker.into(),
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            clip_start_ms: s.start_ms,
            clip_ms: s.clip_ms,
            natural_ms: (s.clip_ms as f64 * s.stretch) as u64,
            stretch: s.stretch,
            engine_speed: 1.0,
            flags: s.flags.iter().copied().filter(|f| *f != Flag::Unintelligible).collect(),
            source_text: format!("Line {} in English", s.id),
            target_text: target.clone(),
        },
        slot_ms,
        overlap: redub_qa::overlap(slot_ms, s.clip_ms),
        heard: if s.char_errors > 10 { "algo distinto".into() } else { target },
        start_offset_ms: Some(40 * i64::from(s.id) - 100),
        word_errors: s.char_errors / 5,
        target_words: 4,
        char_errors: s.char_errors,
        target_chars: 20,
        flags: s.flags.to_vec(),
    }
}

/// Eight lines over three speakers: two that fit, two only tight or slow, and the rest with
/// something a person must look at. Line 5 says the `<script>` text.
fn report() -> QaReport {
    use Flag::*;
    let spec = |id, speaker, start_ms, end_ms, clip_ms, stretch, flags, char_errors| Spec {
        id,
        speaker,
        start_ms,
        end_ms,
        clip_ms,
        stretch,
        flags,
        char_errors,
    };
    let specs = [
        spec(1, "SPEAKER_00", 0, 2000, 2000, 1.00, &[][..], 0),
        spec(2, "SPEAKER_01", 2500, 4500, 2000, 1.08, &[], 0),
        spec(3, "SPEAKER_02", 5000, 6500, 2100, 1.25, &[DoesNotFit], 2),
        spec(4, "SPEAKER_00", 7000, 9000, 1950, 1.02, &[GlossaryMiss, ProperNoun], 0),
        spec(5, "SPEAKER_01", 9500, 11000, 1500, 1.12, &[Unintelligible], 12),
        spec(6, "SPEAKER_02", 11500, 13500, 2000, 1.00, &[], 0),
        spec(7, "SPEAKER_00", 14000, 16000, 2000, 1.17, &[], 0),
        spec(8, "SPEAKER_01", 16500, 19000, 2500, 1.00, &[], 5),
    ];
    let mut r = QaReport {
        input_ms: 20_000,
        from: "en".into(),
        to: "es".into(),
        lines: specs.iter().map(measured).collect(),
        speakers: ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
            .iter()
            .enumerate()
            .map(|(i, s)| SpeakerQa {
                speaker: s.to_string(),
                own: 0.71 - 0.05 * i as f64,
                nearest_other: Some(format!("SPEAKER_0{}", (i + 1) % 3)),
                nearest_other_cosine: Some(0.32 + 0.04 * i as f64),
                dubbed_ms: 5000 + 700 * i as u64,
            })
            .collect(),
        stages: vec![
            StageCost {
                stage: "asr".into(),
                wall_ms: 4200,
                cpu_ms: 8100,
                peak_rss_kb: 812_000,
                rtf: 0.21,
                ..Default::default()
            },
            StageCost { stage: "separate".into(), skipped: true, ..Default::default() },
        ],
        ..Default::default()
    };
    r.round_trip.lang = "es".into();
    r.loudness.source = redub_qa::Loudness { lufs: -23.4, true_peak_db: -2.1 };
    r.loudness.output = redub_qa::Loudness { lufs: -16.0, true_peak_db: -1.0 };
    r.references.der = Some(0.124);
    r.summarize();
    r
}

/// Worst first: most flags (4), then among one-flag lines the higher CER (5 before 3), then the
/// unflagged by CER (8), then by stretch (7, then 2). Lines 1 and 6 have nothing to fix.
const EXPECTED_WORST: [u32; 6] = [4, 5, 3, 8, 7, 2];

#[test]
fn worst_lines_rank_flags_then_cer_then_stretch_then_overlap() {
    let r = report();
    assert_eq!(html::worst_lines(&r, 12), EXPECTED_WORST);
    assert_eq!(html::worst_lines(&r, 2), [4, 5]);
    // Overlap breaks a tie on everything else; the line id breaks a full tie.
    let mut r = report();
    r.lines.retain(|l| [1, 6].contains(&l.line.id));
    r.lines[1].overlap = 0.5;
    assert_eq!(html::worst_lines(&r, 12), [6]);
    r.lines[0].overlap = 0.5;
    assert_eq!(html::worst_lines(&r, 12), [1, 6]);
    r.lines[0].overlap = 0.4;
    assert_eq!(html::worst_lines(&r, 12), [1, 6]);
    r.lines[1].overlap = 0.3;
    assert_eq!(html::worst_lines(&r, 12), [6, 1]);
}

/// Half a second of a 440 Hz sine as a 16 kHz mono 16-bit PCM WAV file.
fn sine_wav(freq: f64) -> Vec<u8> {
    const RATE: u32 = 16_000;
    let samples: Vec<i16> = (0..RATE / 2)
        .map(|n| ((2.0 * std::f64::consts::PI * freq * f64::from(n) / f64::from(RATE)).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&RATE.to_le_bytes());
    w.extend_from_slice(&(RATE * 2).to_le_bytes()); // byte rate
    w.extend_from_slice(&2u16.to_le_bytes()); // block align
    w.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    samples.iter().for_each(|s| w.extend_from_slice(&s.to_le_bytes()));
    w
}

fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    target.join("test-output").join("qa-report")
}

/// The `<tr data-id=…>` rows of the worst-lines table, in page order.
fn worst_rows(dom: &str) -> Vec<(u32, &str)> {
    let table = dom.split("<table class=\"worst\">").nth(1).and_then(|t| t.split("</table>").next()).unwrap_or("");
    table
        .split("<tr data-id=\"")
        .skip(1)
        .filter_map(|row| {
            let (id, rest) = row.split_once('"')?;
            Some((id.parse().ok()?, rest.split("</tr>").next()?))
        })
        .collect()
}

#[test]
fn the_report_page_renders_in_chromium_without_touching_the_network() {
    let r = report();
    let audio = [4, 5].map(|id| LineAudio { id, original_wav: sine_wav(440.0), dubbed_wav: sine_wav(660.0) });
    let page = html::render(&r, &audio);
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"), "escaped in the source");
    let dir = output_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (html_path, png) = (dir.join("report.html"), dir.join("report.png"));
    std::fs::write(&html_path, &page).unwrap();

    let run = browser::open_in_chromium(&html_path, &png).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "report page: {}\nscreenshot: {} ({:.1} s in chromium)",
        html_path.display(),
        png.display(),
        run.elapsed.as_secs_f64()
    );
    let dom = &run.dom;

    assert!(dom.contains("data-ready=\"1\""), "the load script ran");
    assert!(
        !dom.contains("data-error"),
        "a script failed: {}",
        dom.split("data-error").nth(1).unwrap_or("").chars().take(200).collect::<String>()
    );
    assert!(dom.contains("<svg class=\"timeline\""));
    assert_eq!(dom.matches("<rect class=\"line ").count(), r.lines.len(), "one rect per line");
    assert_eq!(dom.matches("<rect class=\"line bad\"").count(), 4, "flagged or over 1.15×: lines 3, 4, 5, 7");
    assert!(dom.contains("<svg class=\"histogram\""));
    assert_eq!(dom.matches("<rect class=\"bin ").count(), 7);
    assert!(dom.contains("1.15× comfortable limit"));

    let rows = worst_rows(dom);
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), EXPECTED_WORST, "flagged lines first");
    for (id, row) in &rows {
        let players = if [4, 5].contains(id) { 2 } else { 0 };
        assert_eq!(row.matches("<audio").count(), players, "line {id}");
    }
    assert!(rows[0].1.contains("glossary_miss") && rows[0].1.contains("proper_noun"));
    assert_eq!(dom.matches("<audio").count(), 4);
    assert!(dom.contains("src=\"data:audio/wav;base64,UklGR"));

    // Serialised from the DOM, quotes in text are no longer escaped; the markup still is.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"x\""));
    assert!(!dom.contains("<script>alert"));

    println!("chromium's own background requests (not counted): {:?}", run.chromium_internal);
    assert!(run.requests.is_empty(), "the page reached for the network: {:?}", run.requests);
    assert!(run.screenshot_is_png, "no PNG at {}", png.display());
    let size = std::fs::metadata(&png).unwrap().len();
    assert!(size > 10_000, "screenshot is only {size} bytes");
}

/// The watch is real: a page (without the report's CSP) that loads an image from the web is
/// caught by the proxy, so the zero above means nothing was tried.
#[test]
fn the_proxy_catches_a_page_that_reaches_out() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("leaky.html");
    std::fs::write(&page, "<!DOCTYPE html><title>leak</title><img src=\"http://report-test.invalid/pixel.png\">")
        .unwrap();
    let run = browser::open_in_chromium(&page, &dir.path().join("leaky.png")).unwrap_or_else(|e| panic!("{e}"));
    println!("leaky page: {:?}, chromium's own: {:?}", run.requests, run.chromium_internal);
    assert!(run.requests.iter().any(|r| r.contains("report-test.invalid")), "{:?}", run.requests);
}
