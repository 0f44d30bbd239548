//! The page's tables: distributions, the lines to check (with players), speakers, stages.

use super::{base64, cer, escape, flag_name, ms_clock, pct, LineAudio};
use crate::{Distribution, LineQa, QaReport};

fn num(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "–".into()
    }
}

fn table(head: &[&str], rows: &str, class: &str) -> String {
    let th: String = head.iter().map(|h| format!("<th>{h}</th>")).collect();
    format!("<table class=\"{class}\">\n<thead><tr>{th}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n")
}

fn td_num(v: &str) -> String {
    format!("<td class=\"num\">{v}</td>")
}

fn empty_row(cols: usize, what: &str) -> String {
    format!("<tr><td colspan=\"{cols}\" class=\"muted\">{what}</td></tr>\n")
}

/// How a distribution's values are written (ratio, ×, ms, %).
type Format = dyn Fn(f64) -> String;

pub(super) fn distributions(r: &QaReport) -> String {
    let rows: [(&str, &Distribution, &Format); 5] = [
        ("Speech overlap (low is bad)", &r.overlap, &|x| num(x, 3)),
        ("Stretch", &r.stretch, &|x| format!("{}×", num(x, 3))),
        ("|Start offset|, ms", &r.start_offset_ms, &|x| num(x, 0)),
        ("Line WER", &r.line_wer, &pct),
        ("Line CER", &r.line_cer, &pct),
    ];
    let body: String = rows
        .iter()
        .map(|(name, d, f)| {
            let worst_line = d.worst_line.map_or("–".into(), |id| format!("#{id}"));
            let cells = [d.n.to_string(), f(d.median), f(d.p5), f(d.p95), f(d.worst), worst_line];
            let cells: String = cells.iter().map(|c| td_num(c)).collect();
            format!("<tr><th>{name}</th>{cells}</tr>\n")
        })
        .collect();
    table(&["Figure", "Lines", "Median", "p5", "p95", "Worst", "Worst line"], &body, "dist")
}

/// The listed lines (ids worst first) with their texts and, where `audio` has them, players.
pub(super) fn worst(r: &QaReport, ids: &[u32], audio: &[LineAudio]) -> String {
    let head = ["Line", "Speaker", "Time", "Flags", "Stretch", "Overlap", "CER", "Source", "Target", "Heard", "Listen"];
    let rows: String = ids
        .iter()
        .filter_map(|id| r.lines.iter().find(|l| l.line.id == *id))
        .map(|l| worst_row(l, audio.iter().find(|a| a.id == l.line.id)))
        .collect();
    let rows =
        if rows.is_empty() { empty_row(head.len(), "Nothing to check: every line fits and reads back.") } else { rows };
    table(&head, &rows, "worst")
}

fn worst_row(l: &LineQa, audio: Option<&LineAudio>) -> String {
    let i = &l.line;
    let flags: String = l.flags.iter().map(|f| format!("<span class=\"flag\">{}</span>", flag_name(f))).collect();
    let cer = if l.cer().is_some() { pct(cer(l)) } else { "–".into() };
    let players = audio.map_or_else(|| "<span class=\"muted\">no audio</span>".into(), players);
    format!(
        "<tr data-id=\"{id}\"><td class=\"num\">#{id}</td><td>{sp}</td><td class=\"num\">{a}–{b}</td><td>{flags}</td>{st}{ov}{cer}\
         <td class=\"text\">{src}</td><td class=\"text\">{tgt}</td><td class=\"text\">{heard}</td><td>{players}</td></tr>\n",
        id = i.id,
        sp = escape(&i.speaker),
        a = ms_clock(i.start_ms),
        b = ms_clock(i.end_ms),
        st = td_num(&format!("{}×", num(i.stretch, 3))),
        ov = td_num(&num(l.overlap, 3)),
        cer = td_num(&cer),
        src = escape(&i.source_text),
        tgt = escape(&i.target_text),
        heard = escape(&l.heard),
    )
}

fn players(a: &LineAudio) -> String {
    [("original", &a.original_wav), ("dubbed", &a.dubbed_wav)]
        .iter()
        .filter(|(_, wav)| !wav.is_empty())
        .map(|(what, wav)| {
            format!(
                "<div class=\"muted\">{what}</div><audio controls preload=\"none\" title=\"{what}\" src=\"data:audio/wav;base64,{}\"></audio>",
                base64(wav)
            )
        })
        .collect()
}

pub(super) fn speakers(r: &QaReport) -> String {
    let rows: String = r
        .speakers
        .iter()
        .map(|s| {
            let other = s.nearest_other.as_deref().map_or("–".into(), escape);
            let cos = s.nearest_other_cosine.map_or("–".into(), |c| num(c, 3));
            let cells = [
                td_num(&num(s.own, 3)),
                format!("<td>{other}</td>"),
                td_num(&cos),
                td_num(&num(s.dubbed_ms as f64 / 1000.0, 1)),
            ];
            format!("<tr><td>{}</td>{}</tr>\n", escape(&s.speaker), cells.concat())
        })
        .collect();
    let rows = if rows.is_empty() { empty_row(5, "No speaker likeness was measured.") } else { rows };
    table(&["Speaker", "Own cosine", "Nearest other", "Its cosine", "Dubbed s"], &rows, "speakers")
}

pub(super) fn stages(r: &QaReport) -> String {
    let rows: String = r
        .stages
        .iter()
        .map(|s| {
            let cells = [
                num(s.wall_ms as f64 / 1000.0, 1),
                num(s.cpu_ms as f64 / 1000.0, 1),
                num(s.peak_rss_kb as f64 / 1024.0, 0),
                num(s.rtf, 3),
            ];
            let cells: String = cells.iter().map(|c| td_num(c)).collect();
            let skipped = if s.skipped { "skipped" } else { "" };
            format!("<tr><td>{}</td>{cells}<td>{skipped}</td></tr>\n", escape(&s.stage))
        })
        .collect();
    let rows = if rows.is_empty() { empty_row(6, "No stage figures.") } else { rows };
    table(&["Stage", "Wall s", "CPU s", "Peak MB", "RTF", "Skipped"], &rows, "stages")
}
