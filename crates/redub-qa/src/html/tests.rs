use super::*;
use crate::LineInput;

fn line(id: u32, speaker: &str, stretch: f64, overlap: f64, flags: Vec<Flag>) -> LineQa {
    let start_ms = u64::from(id) * 2000;
    LineQa {
        line: LineInput {
            id,
            speaker: speaker.into(),
            start_ms,
            end_ms: start_ms + 1500,
            clip_start_ms: start_ms,
            clip_ms: 1500,
            stretch,
            source_text: format!("source {id}"),
            target_text: format!("target {id}"),
            ..Default::default()
        },
        overlap,
        flags,
        target_chars: 10,
        ..Default::default()
    }
}

#[test]
fn base64_matches_the_rfc_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, coded) in cases {
        assert_eq!(base64(plain.as_bytes()), coded, "{plain:?}");
    }
    // Every sextet value, so the whole alphabet (with + and /) is exercised.
    assert_eq!(base64(&[0x00, 0x10, 0x83, 0xfb, 0xff, 0xbf]), "ABCD+/+/");
}

#[test]
fn escape_neutralises_markup_in_text_and_attributes() {
    assert_eq!(
        escape("<script>alert(1)</script> & \"x\" 'y'"),
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
    );
    assert_eq!(escape("plain é"), "plain é");
}

#[test]
fn lines_with_nothing_to_fix_are_not_listed() {
    let mut r = QaReport {
        lines: vec![line(1, "A", 1.0, 1.0, vec![]), line(2, "A", 1.05, 0.9, vec![]), line(3, "B", 1.06, 1.0, vec![])],
        ..Default::default()
    };
    assert_eq!(worst_lines(&r, 10), vec![3]);
    r.lines[0].char_errors = 3; // CER 0.3
    assert_eq!(worst_lines(&r, 10), vec![1, 3]);
    assert_eq!(worst_lines(&r, 1), vec![1]);
}

#[test]
fn stretch_bins_include_their_upper_bound() {
    let stretches = [0.9, 1.0, 1.05, 1.06, 1.15, 1.151, 1.3, 1.31, 2.0];
    let lines = stretches.iter().enumerate().map(|(i, &s)| line(i as u32, "A", s, 1.0, vec![])).collect();
    let r = QaReport { lines, ..Default::default() };
    assert_eq!(svg::stretch_bins(&r), [3, 1, 1, 1, 0, 1, 2]);
}

#[test]
fn the_page_is_self_contained_and_escaped() {
    let mut r = QaReport { input_ms: 20_000, from: "en".into(), to: "es".into(), ..Default::default() };
    let mut l = line(1, "SPEAKER_00", 1.2, 0.8, vec![Flag::DoesNotFit]);
    l.line.target_text = "<script>alert(1)</script> & \"x\"".into();
    r.lines = vec![l, line(2, "SPEAKER_01", 1.0, 1.0, vec![])];
    r.summarize();
    let audio = [LineAudio { id: 1, original_wav: b"RIFF".to_vec(), dubbed_wav: b"RIFFx".to_vec() }];
    let page = render(&r, &audio);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(&format!("content=\"{CSP}\"")));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"));
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
    assert_eq!(page.matches("<rect class=\"line ").count(), 2);
    assert_eq!(page.matches("<audio ").count(), 2);
    assert!(page.contains("src=\"data:audio/wav;base64,UklGRg==\""));
    assert!(page.contains("does_not_fit"));
    assert_eq!(page.matches("<script>").count(), 1);
}

#[test]
fn clock_times_read_as_minutes_and_seconds() {
    assert_eq!(ms_clock(0), "0:00.0");
    assert_eq!(ms_clock(83_450), "1:23.5");
    assert_eq!(ms_clock(59_960), "1:00.0");
    assert_eq!(ms_clock(3_723_000), "1:02:03.0");
}
