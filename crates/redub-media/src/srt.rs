//! SubRip subtitles: 1-based cue numbers, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after
//! each cue; and what SRT and WebVTT cues share (cleaning a cue's text, bilingual cues).

use crate::fsutil::write_atomic;
use redub_core::Result;
use std::fmt::Write as _;
use std::path::Path;

/// `3_723_456` → `"01:02:03,456"`. Hours grow past two digits when needed.
pub fn srt_timestamp(ms: u64) -> String {
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    format!("{h:02}:{:02}:{:02},{:03}", rem / 60_000, rem % 60_000 / 1000, rem % 1000)
}

/// The SRT text of `(start_ms, end_ms, text)` cues. Blank lines inside a text (which would end
/// the cue early) are dropped, cues with no text are skipped, and an end before its start is
/// raised to the start.
pub fn srt_string<S: AsRef<str>>(cues: &[(u64, u64, S)]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for (start, end, text) in cues {
        let lines = cue_lines(text.as_ref());
        if lines.is_empty() {
            continue;
        }
        n += 1;
        let _ = write!(
            out,
            "{n}\n{} --> {}\n{}\n\n",
            srt_timestamp(*start),
            srt_timestamp((*end).max(*start)),
            lines.join("\n")
        );
    }
    out
}

/// The lines of a cue's text, trimmed, without blank lines (a blank line ends a cue in SRT and
/// WebVTT), and with `-->` (the timing arrow, which would start a new cue) written `->`.
pub(crate) fn cue_lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| l.replace("-->", "->")).collect()
}

/// The text of a bilingual cue: the target line with the source line under it (either may be
/// empty).
pub fn bilingual_text(target: &str, source: &str) -> String {
    format!("{}\n{}", target.trim(), source.trim())
}

/// Write cues as an SRT file (UTF-8, via a temporary file and a rename).
pub fn write_srt<S: AsRef<str>>(path: &Path, cues: &[(u64, u64, S)]) -> Result<()> {
    write_atomic(path, srt_string(cues).as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(srt_timestamp(0), "00:00:00,000");
        assert_eq!(srt_timestamp(3_723_456), "01:02:03,456");
        assert_eq!(srt_timestamp(59_999), "00:00:59,999");
        assert_eq!(srt_timestamp(360_000_000), "100:00:00,000");
    }

    #[test]
    fn cues_are_numbered_and_cleaned() {
        let cues = vec![
            (1000, 2500, "Hello".to_string()),
            (3000, 2000, "  ".to_string()),
            (3723456, 3725000, "Two\n\nlines\r\n".to_string()),
            (4_000_000, 3_999_000, "Backwards".to_string()),
        ];
        assert_eq!(
            srt_string(&cues),
            "1\n00:00:01,000 --> 00:00:02,500\nHello\n\n\
             2\n01:02:03,456 --> 01:02:05,000\nTwo\nlines\n\n\
             3\n01:06:40,000 --> 01:06:40,000\nBackwards\n\n"
        );
        assert_eq!(srt_string::<&str>(&[]), "");
    }

    #[test]
    fn bilingual_cues_put_the_target_first() {
        let text = bilingual_text(" Hola ", "Hello");
        assert_eq!(text, "Hola\nHello");
        assert_eq!(srt_string(&[(0, 900, text)]), "1\n00:00:00,000 --> 00:00:00,900\nHola\nHello\n\n");
        // A line with no translation keeps its source line alone.
        assert_eq!(srt_string(&[(0, 900, bilingual_text("", "Hello"))]), "1\n00:00:00,000 --> 00:00:00,900\nHello\n\n");
        assert_eq!(cue_lines("a --> b"), ["a -> b"]);
    }

    #[test]
    fn write_srt_writes_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.srt");
        write_srt(&p, &[(0, 1000, "Hola")]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1\n00:00:00,000 --> 00:00:01,000\nHola\n\n");
    }
}
