//! Reference transcripts in NIST STM: one line per turn, `file channel speaker start end
//! [<labels>] text`, times in seconds. `;;` lines are comments; `ignore_time_segment_in_scoring`
//! turns are skipped, as sclite does.

use redub_core::{Error, Result};
use std::path::Path;

/// One reference turn.
#[derive(Clone, Debug, PartialEq)]
pub struct StmLine {
    pub speaker: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// The turns of an STM text, in file order; `source` names it in errors.
pub fn parse(text: &str, source: &str) -> Result<Vec<StmLine>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(";;") {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = |what: &str| Error::Input {
            path: source.into(),
            problem: format!("line {}: {what}", n + 1),
            fix: "STM lines are `file channel speaker start end [<labels>] text`, times in seconds".into(),
        };
        if fields.len() < 5 {
            return Err(bad("fewer than five fields"));
        }
        let secs = |f: &str| f.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        let (Some(start), Some(end)) = (secs(fields[3]), secs(fields[4])) else {
            return Err(bad("start and end must be seconds"));
        };
        if end < start {
            return Err(bad("the turn ends before it starts"));
        }
        let mut words = &fields[5..];
        if words.first().is_some_and(|w| w.starts_with('<')) {
            words = &words[1..];
        }
        let text = words.join(" ");
        if fields[2] == "inter_segment_gap" || text == "ignore_time_segment_in_scoring" {
            continue;
        }
        out.push(StmLine {
            speaker: fields[2].to_string(),
            start_ms: (start * 1000.0).round() as u64,
            end_ms: (end * 1000.0).round() as u64,
            text,
        });
    }
    Ok(out)
}

/// The turns of an STM file.
pub fn read(path: &Path) -> Result<Vec<StmLine>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_turns_labels_and_comments() {
        let t = ";; a comment\nsample 1 Diane 6.68 7.16 Hello?\nf A S2 8.0 9.5 <o,f0,male> Oh, hello.\n";
        let lines = parse(t, "t.stm").unwrap_or_default();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].start_ms, lines[0].end_ms, lines[0].text.as_str()), (6680, 7160, "Hello?"));
        assert_eq!((lines[1].speaker.as_str(), lines[1].text.as_str()), ("S2", "Oh, hello."));
    }

    #[test]
    fn a_bad_line_is_named() {
        let Err(e) = parse("f 1 S 2.0 one two\n", "ref.stm") else { panic!("accepted a bad time") };
        let msg = e.to_string();
        assert!(msg.contains("ref.stm") && msg.contains("line 1"), "{msg}");
    }
}
