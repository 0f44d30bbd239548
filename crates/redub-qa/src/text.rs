//! The report as plain text, for `redub eval`: the job's figures first, then every line.

use crate::{Distribution, QaReport};
use std::fmt::Write;

/// The whole report as a terminal table.
pub fn summary(r: &QaReport) -> String {
    let mut s = String::new();
    let speakers = crate::html::speaker_names(r);
    let _ = writeln!(
        s,
        "{} → {}, {:.1} s, {} lines, {} speakers",
        r.from,
        r.to,
        r.input_ms as f64 / 1000.0,
        r.lines.len(),
        speakers.len()
    );
    let rt = &r.round_trip;
    let _ = writeln!(
        s,
        "round trip ({}): WER {:.1}%, CER {:.1}% over {} words; {} unintelligible",
        rt.lang,
        rt.wer * 100.0,
        rt.cer * 100.0,
        rt.words,
        rt.unintelligible
    );
    let _ = writeln!(s, "lines within {:.2}×: {:.1}%", crate::COMFORTABLE_STRETCH, r.comfortable_share * 100.0);
    let lo = &r.loudness;
    let _ = writeln!(
        s,
        "loudness: source {:.1} LUFS, {:.1} dBTP; output {:.1} LUFS, {:.1} dBTP",
        lo.source.lufs, lo.source.true_peak_db, lo.output.lufs, lo.output.true_peak_db
    );
    if let Some(d) = r.references.der {
        let _ = writeln!(s, "DER against the reference: {:.1}%", d * 100.0);
    }
    if let (Some(w), Some(n)) = (r.references.source_wer, r.references.source_words) {
        let _ = writeln!(s, "source WER against the reference: {:.1}% of {n} words", w * 100.0);
    }
    let _ = writeln!(s, "\n{:<18} {:>9} {:>9} {:>9} {:>9}  worst line", "per line", "median", "p5", "p95", "worst");
    for (name, d) in [
        ("speech overlap", &r.overlap),
        ("stretch", &r.stretch),
        ("|start offset| ms", &r.start_offset_ms),
        ("round-trip WER", &r.line_wer),
        ("round-trip CER", &r.line_cer),
    ] {
        dist_row(&mut s, name, d);
    }
    speakers_table(&mut s, r);
    stages_table(&mut s, r);
    lines_table(&mut s, r);
    s
}

fn dist_row(s: &mut String, name: &str, d: &Distribution) {
    let line = d.worst_line.map_or("-".to_string(), |l| l.to_string());
    let _ = writeln!(s, "{name:<18} {:>9.3} {:>9.3} {:>9.3} {:>9.3}  {line}", d.median, d.p5, d.p95, d.worst);
}

fn speakers_table(s: &mut String, r: &QaReport) {
    if r.speakers.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{:<8} {:>12} {:>14} {:>9}", "speaker", "own cosine", "nearest other", "dubbed s");
    for sp in &r.speakers {
        let other = match (&sp.nearest_other, sp.nearest_other_cosine) {
            (Some(o), Some(c)) => format!("{o} {c:.3}"),
            _ => "-".into(),
        };
        let _ = writeln!(s, "{:<8} {:>12.3} {:>14} {:>9.1}", sp.speaker, sp.own, other, sp.dubbed_ms as f64 / 1000.0);
    }
}

fn stages_table(s: &mut String, r: &QaReport) {
    if r.stages.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{:<14} {:>8} {:>8} {:>8} {:>7}", "stage", "wall s", "cpu s", "peak MB", "RTF");
    for st in &r.stages {
        let note = if st.skipped { "  (earlier run)" } else { "" };
        let _ = writeln!(
            s,
            "{:<14} {:>8.1} {:>8.1} {:>8} {:>7.3}{note}",
            st.stage,
            st.wall_ms as f64 / 1000.0,
            st.cpu_ms as f64 / 1000.0,
            st.peak_rss_kb / 1024,
            st.rtf
        );
    }
}

fn lines_table(s: &mut String, r: &QaReport) {
    let _ = writeln!(
        s,
        "\n{:>4} {:<4} {:>8} {:>7} {:>7} {:>7} {:>6} {:>7} {:>6} {:>6} {:>6}  flags",
        "line", "spk", "start s", "slot s", "dub s", "overlap", "speed", "stretch", "offset", "WER", "CER"
    );
    for l in &r.lines {
        let flags: Vec<String> = l.flags.iter().map(crate::html::flag_name).collect();
        let _ = writeln!(
            s,
            "{:>4} {:<4} {:>8.2} {:>7.2} {:>7.2} {:>7.3} {:>6.2} {:>7.3} {:>6} {:>6} {:>6}  {}",
            l.line.id,
            l.line.speaker,
            l.line.start_ms as f64 / 1000.0,
            l.slot_ms as f64 / 1000.0,
            l.line.clip_ms as f64 / 1000.0,
            l.overlap,
            l.line.engine_speed,
            l.line.stretch,
            l.start_offset_ms.map_or("-".into(), |o| o.to_string()),
            l.wer().map_or("-".into(), |w| format!("{w:.2}")),
            l.cer().map_or("-".into(), |c| format!("{c:.2}")),
            flags.join(",")
        );
    }
}
