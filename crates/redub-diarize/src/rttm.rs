//! RTTM, the plain-text exchange format for "who speaks when" (NIST Rich Transcription). It is
//! what md-eval, pyannote and dscore read and write, so reference annotations and our own output
//! can be scored by any of them.
//!
//! One turn per line:
//! `SPEAKER <uri> <channel> <start_s> <duration_s> <NA> <NA> <speaker> <NA> <NA>`.
//! Only `SPEAKER` lines matter here; other line types (`SPKR-INFO`, `LEXEME`, …), blank lines
//! and comments (`#` or `;;`) are skipped. Times are rounded to whole milliseconds, the unit the
//! rest of Redub uses.

use std::path::{Path, PathBuf};

use redub_core::{Error, Result};

use crate::Turn;

/// The `SPEAKER` turns of an RTTM text. `source` names the text in error messages (usually the
/// file path). Errors say which line is wrong and why, because RTTM files are often written by
/// hand or by other tools.
///
/// The file must describe one recording: a second `<uri>` is an error rather than a silent mix
/// of two recordings' speakers. Start and end are rounded to the nearest millisecond
/// (end = start + duration before rounding, so adjacent turns written as `a, b−a` stay adjacent).
/// Turns are returned in file order; zero-length turns are kept.
pub fn parse(text: &str, source: &str) -> Result<Vec<Turn>> {
    let mut turns = Vec::new();
    let mut uri: Option<&str> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(kind) = fields.first() else { continue };
        if *kind != "SPEAKER" {
            continue; // comments, other RTTM line types
        }
        if fields.len() < 8 {
            return Err(bad_line(
                source,
                number,
                format!("a SPEAKER line needs at least 8 fields, found {}", fields.len()),
            ));
        }
        match uri {
            None => uri = Some(fields[1]),
            Some(first) if first != fields[1] => {
                return Err(Error::Input {
                    path: PathBuf::from(source),
                    problem: format!(
                        "line {number}: recording `{}` differs from `{first}` on earlier lines",
                        fields[1]
                    ),
                    fix: "Give one recording per RTTM file (split it by the second field)".into(),
                });
            }
            Some(_) => {}
        }
        let start = seconds(source, number, "start", fields[3])?;
        let duration = seconds(source, number, "duration", fields[4])?;
        let start_ms = to_ms(start);
        let end_ms = to_ms(start + duration).max(start_ms);
        turns.push(Turn::new(start_ms, end_ms, fields[7]));
    }
    Ok(turns)
}

/// [`parse`] a file; errors name the path.
pub fn read(path: &Path) -> Result<Vec<Turn>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, &path.display().to_string())
}

/// RTTM text for `turns` of recording `uri`, sorted by start (then end, then speaker), times in
/// seconds with exactly 3 decimals (exact for millisecond times, so [`parse`] gives them back
/// unchanged). Whitespace inside `uri` or a speaker name would shift the columns, so it is
/// replaced by `_`; an empty name becomes `<NA>`.
pub fn to_string(uri: &str, turns: &[Turn]) -> String {
    let mut sorted: Vec<&Turn> = turns.iter().collect();
    sorted.sort_by(|a, b| (a.start_ms, a.end_ms, &a.speaker).cmp(&(b.start_ms, b.end_ms, &b.speaker)));
    let uri = field(uri);
    let mut out = String::new();
    for t in sorted {
        out.push_str(&format!(
            "SPEAKER {uri} 1 {} {} <NA> <NA> {} <NA> <NA>\n",
            ms_as_seconds(t.start_ms),
            ms_as_seconds(t.duration_ms()),
            field(&t.speaker)
        ));
    }
    out
}

fn bad_line(source: &str, number: usize, problem: String) -> Error {
    Error::Input {
        path: PathBuf::from(source),
        problem: format!("line {number}: {problem}"),
        fix: "Fix the line to `SPEAKER <uri> <channel> <start_s> <duration_s> <NA> <NA> <speaker> <NA> <NA>`".into(),
    }
}

fn seconds(source: &str, number: usize, what: &str, text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(_) => Err(bad_line(source, number, format!("the {what} `{text}` must be a finite number ≥ 0 seconds"))),
        Err(_) => Err(bad_line(source, number, format!("the {what} `{text}` is not a number of seconds"))),
    }
}

/// Seconds → whole milliseconds, rounded to nearest. (`as` saturates for absurdly large values.)
fn to_ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round() as u64
}

/// Integer formatting, so 0.1 s is written `0.100` with no float rounding involved.
fn ms_as_seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn field(s: &str) -> String {
    if s.trim().is_empty() {
        "<NA>".into()
    } else {
        s.split_whitespace().collect::<Vec<_>>().join("_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_speaker_lines_and_skips_the_rest() {
        let text = "\
;; comment
# another comment

SPKR-INFO rec 1 <NA> <NA> <NA> unknown A <NA> <NA>
SPEAKER rec 1 6.690 0.430 <NA> <NA> speaker90 <NA> <NA>
SPEAKER rec 1   7.55\t0.8 <NA> <NA> speaker91 <NA> <NA>
SPEAKER rec 1 0.0004 0.0013 <NA> <NA> x
";
        let turns = parse(text, "t.rttm").unwrap();
        assert_eq!(
            turns,
            vec![Turn::new(6690, 7120, "speaker90"), Turn::new(7550, 8350, "speaker91"), Turn::new(0, 2, "x")]
        );
    }

    #[test]
    fn errors_name_source_and_line() {
        let err = parse("SPEAKER rec 1 1.0 oops <NA> <NA> a <NA> <NA>\n", "ref.rttm").unwrap_err().to_string();
        assert!(err.contains("ref.rttm") && err.contains("line 1") && err.contains("oops"), "{err}");

        let err = parse("\nSPEAKER rec 1 1.0\n", "ref.rttm").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("8 fields"), "{err}");

        let err = parse("SPEAKER rec 1 -1.0 2 <NA> <NA> a <NA> <NA>\n", "r").unwrap_err().to_string();
        assert!(err.contains("≥ 0"), "{err}");

        let err =
            parse("SPEAKER rec 1 1 2 <NA> <NA> a\nSPEAKER other 1 1 2 <NA> <NA> a\n", "r").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("`other`"), "{err}");

        let err = parse("SPEAKER rec 1 nan 2 <NA> <NA> a\n", "r").unwrap_err().to_string();
        assert!(err.contains("finite"), "{err}");
    }

    #[test]
    fn writes_sorted_with_three_decimals_and_round_trips() {
        let turns = vec![Turn::new(9920, 11030, "b"), Turn::new(100, 2050, "a"), Turn::new(9920, 10000, "a")];
        let text = to_string("my file", &turns);
        assert_eq!(
            text,
            "SPEAKER my_file 1 0.100 1.950 <NA> <NA> a <NA> <NA>\n\
             SPEAKER my_file 1 9.920 0.080 <NA> <NA> a <NA> <NA>\n\
             SPEAKER my_file 1 9.920 1.110 <NA> <NA> b <NA> <NA>\n"
        );
        let mut back = parse(&text, "mem").unwrap();
        let mut want = turns.clone();
        back.sort_by_key(|t| (t.start_ms, t.end_ms));
        want.sort_by_key(|t| (t.start_ms, t.end_ms));
        assert_eq!(back, want);
    }

    #[test]
    fn reads_the_fixture() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech-2spk/sample.rttm");
        let turns = read(&path).unwrap();
        assert_eq!(turns.len(), 10);
        assert_eq!(turns[0], Turn::new(6690, 7120, "speaker90"));
        assert_eq!(turns[9], Turn::new(27850, 30000, "speaker90"));
        let err = read(Path::new("/nonexistent/x.rttm")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/x.rttm"), "{err}");
    }
}
