//! WebVTT subtitles (W3C WebVTT: the `WEBVTT` header and a blank line, then cues of
//! `HH:MM:SS.mmm --> HH:MM:SS.mmm` and their text, a blank line after each). Cues carry their
//! 1-based number as identifier, like the SRT files beside them. In a cue's text `&`, `<` and
//! `>` are written as character references, since WebVTT reads them as markup.

use crate::fsutil::write_atomic;
use crate::srt::cue_lines;
use redub_core::Result;
use std::fmt::Write as _;
use std::path::Path;

/// `3_723_456` → `"01:02:03.456"`. Hours grow past two digits when needed.
pub fn vtt_timestamp(ms: u64) -> String {
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    format!("{h:02}:{:02}:{:02}.{:03}", rem / 60_000, rem % 60_000 / 1000, rem % 1000)
}

/// The WebVTT text of `(start_ms, end_ms, text)` cues, cleaned as [`srt_string`] cleans them
/// (blank lines dropped, empty cues skipped, an end before its start raised to it).
///
/// [`srt_string`]: crate::srt_string
pub fn vtt_string<S: AsRef<str>>(cues: &[(u64, u64, S)]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    let mut n = 0;
    for (start, end, text) in cues {
        let lines: Vec<String> = cue_lines(text.as_ref()).iter().map(|l| escape(l)).collect();
        if lines.is_empty() {
            continue;
        }
        n += 1;
        let _ = write!(
            out,
            "{n}\n{} --> {}\n{}\n\n",
            vtt_timestamp(*start),
            vtt_timestamp((*end).max(*start)),
            lines.join("\n")
        );
    }
    out
}

/// Write cues as a WebVTT file (UTF-8, via a temporary file and a rename).
pub fn write_vtt<S: AsRef<str>>(path: &Path, cues: &[(u64, u64, S)]) -> Result<()> {
    write_atomic(path, vtt_string(cues).as_bytes())
}

fn escape(line: &str) -> String {
    line.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_a_dot() {
        assert_eq!(vtt_timestamp(0), "00:00:00.000");
        assert_eq!(vtt_timestamp(3_723_456), "01:02:03.456");
        assert_eq!(vtt_timestamp(59_999), "00:00:59.999");
        assert_eq!(vtt_timestamp(360_000_000), "100:00:00.000");
    }

    #[test]
    fn header_cues_and_escapes() {
        let cues = vec![
            (1000, 2500, "Tom & Jerry <3".to_string()),
            (3000, 3100, " ".to_string()),
            (3_723_456, 3_725_000, "Two\n\nlines".to_string()),
            (5000, 4000, "a --> b".to_string()),
        ];
        assert_eq!(
            vtt_string(&cues),
            "WEBVTT\n\n\
             1\n00:00:01.000 --> 00:00:02.500\nTom &amp; Jerry &lt;3\n\n\
             2\n01:02:03.456 --> 01:02:05.000\nTwo\nlines\n\n\
             3\n00:00:05.000 --> 00:00:05.000\na -&gt; b\n\n"
        );
        assert_eq!(vtt_string::<&str>(&[]), "WEBVTT\n\n");
    }
}
