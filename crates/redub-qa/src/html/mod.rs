//! The job's report page (`output/report.html`): one self-contained file, no network (styles,
//! script, charts and audio all inline; a Content-Security-Policy forbids anything else).
//!
//! The page is a reviewer's tool, so it leads with what needs a person: the header's job
//! figures, the distributions, a timeline coloured by fit, the stretch histogram and then the
//! worst lines with players for the original and the dub.

mod svg;
mod tables;

use crate::{LineQa, QaReport};
use redub_core::Flag;
use std::cmp::Ordering;

/// The audio of one line for the report's players, as WAV file bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineAudio {
    pub id: u32,
    /// The source over the line's slot.
    pub original_wav: Vec<u8>,
    /// The dub over the line's clip.
    pub dubbed_wav: Vec<u8>,
}

/// A line read back with at most this character error rate, stretched at most [`OK_STRETCH`]
/// and overlapping its slot at least [`OK_OVERLAP`], with no flag, has nothing to fix.
pub const OK_CER: f64 = 0.2;
/// Stretch a listener does not notice (the timeline's green).
pub const OK_STRETCH: f64 = 1.05;
pub const OK_OVERLAP: f64 = 0.9;
/// The timeline's amber and the histogram's limit: the bound of [`QaReport::comfortable_share`].
pub use crate::COMFORTABLE_STRETCH;
/// Lines the page lists with their players (the qa stage keeps audio for as many).
pub const REPORT_LINES: usize = 12;

/// Stretches are rounded figures (1.15 from a ratio of milliseconds): compare with slack so a
/// line at exactly the bound is in.
const EPS: f64 = 1e-9;

/// The lines that most need a person, worst first: at most `n`.
///
/// Badness, compared in this order: more flags, then a higher round-trip CER, then a higher
/// stretch, then a lower speech overlap; equal lines go by id. A line with nothing to fix (see
/// [`OK_CER`]) is not listed at all, so the list may be shorter than `n`.
pub fn worst_lines(report: &QaReport, n: usize) -> Vec<u32> {
    let mut bad: Vec<&LineQa> = report.lines.iter().filter(|l| needs_a_look(l)).collect();
    bad.sort_by(|a, b| worse_first(a, b));
    bad.into_iter().take(n).map(|l| l.line.id).collect()
}

/// A line with no words to say has no CER; nothing to read back is nothing wrong.
fn cer(l: &LineQa) -> f64 {
    l.cer().unwrap_or(0.0)
}

fn needs_a_look(l: &LineQa) -> bool {
    !l.flags.is_empty() || cer(l) > OK_CER || l.line.stretch > OK_STRETCH + EPS || l.overlap < OK_OVERLAP - EPS
}

fn worse_first(a: &LineQa, b: &LineQa) -> Ordering {
    b.flags
        .len()
        .cmp(&a.flags.len())
        .then(cer(b).total_cmp(&cer(a)))
        .then(b.line.stretch.total_cmp(&a.line.stretch))
        .then(a.overlap.total_cmp(&b.overlap))
        .then(a.line.id.cmp(&b.line.id))
}

/// How a line sits in its slot, as the timeline colours it (CSS class names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    Good,
    Tight,
    Bad,
}

impl Fit {
    pub(crate) fn of_stretch(stretch: f64) -> Self {
        if stretch <= OK_STRETCH + EPS {
            Fit::Good
        } else if stretch <= COMFORTABLE_STRETCH + EPS {
            Fit::Tight
        } else {
            Fit::Bad
        }
    }

    /// Any flag makes a line red whatever its stretch: a flag is a person's job.
    pub(crate) fn of(l: &LineQa) -> Self {
        if l.flags.is_empty() {
            Self::of_stretch(l.line.stretch)
        } else {
            Fit::Bad
        }
    }

    pub(crate) fn class(self) -> &'static str {
        match self {
            Fit::Good => "good",
            Fit::Tight => "tight",
            Fit::Bad => "bad",
        }
    }
}

/// The page for `report`, with players for the lines in `audio`.
pub fn render(report: &QaReport, audio: &[LineAudio]) -> String {
    let title = format!("Redub QA: {} → {}", escape(&report.from), escape(&report.to));
    let sections = [
        header(report, &title),
        section("Distributions", "distributions", &tables::distributions(report)),
        section("Timeline", "timeline", &svg::timeline(report)),
        section("Stretch", "stretch", &svg::histogram(report)),
        section("Lines to check", "worst", &tables::worst(report, &worst_lines(report, REPORT_LINES), audio)),
        section("Speakers", "speakers", &tables::speakers(report)),
        section("Stages", "stages", &tables::stages(report)),
    ];
    [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"",
        CSP,
        "\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
        &title,
        "</title>\n<style>",
        STYLE,
        "</style>\n</head>\n<body>\n<script>",
        SCRIPT,
        "</script>\n",
        &sections.concat(),
        "</body>\n</html>\n",
    ]
    .concat()
}

/// Everything inline and nothing else: a report opened from a mail or a share must not call
/// anywhere, and the audio players only ever play the page's own `data:` URIs.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src data:; img-src data:";

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;color:#222;background:#fff;margin:24px auto;max-width:1240px;padding:0 16px}
h1{font-size:21px;margin:0 0 8px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dt{color:#666}dd{margin:0}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text{max-width:260px}.flag{display:inline-block;background:#fbe3e1;color:#8a1f17;border-radius:3px;padding:0 4px;margin:1px 2px 1px 0;font-size:12px}
audio{display:block;width:210px;height:30px;margin:2px 0}.muted{color:#888}
svg{display:block;max-width:100%;height:auto}svg text{font-size:11px;fill:#333}
.good{fill:#3d9a5b}.tight{fill:#e3a21a}.bad{fill:#d4443b}.row{fill:#f6f6f6}.clip{fill:#555}.clip.over{fill:#d4443b}
.axis{stroke:#bbb;stroke-width:1}.limit{stroke:#d4443b;stroke-width:1.5;stroke-dasharray:5 3}
";

/// The browser test reads these two attributes: `ready` once the page (with its audio and SVG)
/// has loaded, `error` if any script on it failed.
const SCRIPT: &str = "
window.onerror = function (message) { document.body.dataset.error = String(message); };
window.addEventListener('load', function () { document.body.dataset.ready = '1'; });
";

fn section(title: &str, id: &str, body: &str) -> String {
    format!("<section id=\"{id}\">\n<h2>{title}</h2>\n{body}</section>\n")
}

fn header(r: &QaReport, title: &str) -> String {
    let rt = &r.round_trip;
    let level = |l: &crate::Loudness| format!("{:.1} LUFS, {:.1} dBTP", l.lufs, l.true_peak_db);
    let mut facts = vec![
        ("Input", ms_clock(r.input_ms)),
        ("Languages", format!("{} → {}", escape(&r.from), escape(&r.to))),
        ("Lines", r.lines.len().to_string()),
        ("Speakers", speaker_names(r).len().to_string()),
        (
            "Round trip",
            format!("WER {}, CER {} over {} words ({})", pct(rt.wer), pct(rt.cer), rt.words, escape(&rt.lang)),
        ),
        ("Unintelligible lines", rt.unintelligible.to_string()),
        ("Comfortable", format!("{} of lines at most {COMFORTABLE_STRETCH:.2}× stretch", pct(r.comfortable_share))),
        ("Loudness, source", level(&r.loudness.source)),
        ("Loudness, output", level(&r.loudness.output)),
    ];
    if let Some(der) = r.references.der {
        facts.push(("Diarization (DER)", pct(der)));
    }
    if let Some(wer) = r.references.source_wer {
        let words = r.references.source_words.map_or(String::new(), |w| format!(" over {w} words"));
        facts.push(("Source transcript (WER)", format!("{}{words}", pct(wer))));
    }
    let dl: String = facts.iter().map(|(k, v)| format!("<dt>{k}</dt><dd>{v}</dd>\n")).collect();
    format!("<header>\n<h1>{title}</h1>\n<dl class=\"facts\">\n{dl}</dl>\n</header>\n")
}

/// Speakers in the order they first speak, then any only the likeness figures name.
pub(crate) fn speaker_names(r: &QaReport) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    let all = r.lines.iter().map(|l| l.line.speaker.as_str()).chain(r.speakers.iter().map(|s| s.speaker.as_str()));
    for s in all {
        if !names.contains(&s) {
            names.push(s);
        }
    }
    names
}

/// `text` safe in element content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A flag as the job's files spell it (`over_budget`), so the page and `report.json` agree.
pub(crate) fn flag_name(f: &Flag) -> String {
    serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| format!("{f:?}"))
}

/// `m:ss.s`, or `h:mm:ss.s` past an hour.
pub(crate) fn ms_clock(ms: u64) -> String {
    // Rounded to tenths before splitting, so 59.96 s reads 1:00.0 and not 0:60.0.
    let tenths = (ms + 50) / 100;
    let (h, m, s, t) = (tenths / 36_000, tenths / 600 % 60, tenths / 10 % 60, tenths % 10);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{t}")
    } else {
        format!("{m}:{s:02}.{t}")
    }
}

pub(crate) fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "–".into()
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), for the players' `data:` URIs.
pub(crate) fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sextet = |i: u32| B64[(n >> (18 - 6 * i) & 63) as usize] as char;
        out.push(sextet(0));
        out.push(sextet(1));
        out.push(if chunk.len() > 1 { sextet(2) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(3) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests;
