//! The page's two charts as inline SVG (no script, no library: they must draw with the page's
//! CSP and print as they show).

use super::{escape, ms_clock, speaker_names, Fit, COMFORTABLE_STRETCH, EPS};
use crate::{LineQa, QaReport};

const WIDTH: f64 = 1200.0;
/// Room for the speaker labels left of the rows.
const LABEL_W: f64 = 130.0;
const ROW_H: f64 = 30.0;
/// Room for the time axis above the rows.
const AXIS_H: f64 = 22.0;

/// The time the timeline spans: the input, or further if a clip runs past its end (so that
/// overrun shows instead of being cut off).
fn span_ms(r: &QaReport) -> u64 {
    let ends = r.lines.iter().map(|l| l.line.end_ms.max(l.line.clip_start_ms + l.line.clip_ms));
    ends.fold(r.input_ms, u64::max).max(1)
}

/// A tick step giving at most about a dozen ticks over `span_ms`.
fn tick_ms(span_ms: u64) -> u64 {
    const STEPS: [u64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800];
    STEPS.iter().map(|s| s * 1000).find(|s| span_ms / s <= 12).unwrap_or(3_600_000)
}

/// One row per speaker, each line a rect over its slot coloured by fit, with a thin mark under
/// it for where the fitted clip actually plays.
pub(super) fn timeline(r: &QaReport) -> String {
    let speakers = speaker_names(r);
    let span = span_ms(r);
    // Room on the right for half of the last tick's label.
    let plot_w = WIDTH - LABEL_W - 24.0;
    let x = |ms: u64| LABEL_W + ms as f64 / span as f64 * plot_w;
    let height = AXIS_H + ROW_H * speakers.len().max(1) as f64 + 4.0;
    let mut out = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"Lines over time, one row per speaker\">\n"
    );
    let step = tick_ms(span);
    for t in (0..=span).step_by(step as usize) {
        let tx = x(t);
        out += &format!(
            "<line class=\"axis\" x1=\"{tx:.1}\" y1=\"{AXIS_H}\" x2=\"{tx:.1}\" y2=\"{height}\"/><text x=\"{tx:.1}\" y=\"14\" text-anchor=\"middle\">{}</text>\n",
            ms_clock(t)
        );
    }
    for (row, sp) in speakers.iter().enumerate() {
        let y = AXIS_H + ROW_H * row as f64;
        out += &format!(
            "<rect class=\"row\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{plot_w}\" height=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            ROW_H - 2.0,
            LABEL_W - 8.0,
            y + ROW_H / 2.0 + 3.0,
            escape(sp)
        );
    }
    for l in &r.lines {
        let row = speakers.iter().position(|s| *s == l.line.speaker).unwrap_or(0);
        out += &line_marks(l, AXIS_H + ROW_H * row as f64, &x);
    }
    out + "</svg>\n"
}

fn line_marks(l: &LineQa, y: f64, x: &dyn Fn(u64) -> f64) -> String {
    let i = &l.line;
    let (x0, x1) = (x(i.start_ms), x(i.end_ms.max(i.start_ms)));
    let clip_end = i.clip_start_ms + i.clip_ms;
    let (c0, c1) = (x(i.clip_start_ms), x(clip_end));
    let over = if clip_end > i.end_ms { " over" } else { "" };
    let tip = format!(
        "#{} {} {}–{} (clip {}–{}), stretch {:.2}×\n{}\n→ {}",
        i.id,
        i.speaker,
        ms_clock(i.start_ms),
        ms_clock(i.end_ms),
        ms_clock(i.clip_start_ms),
        ms_clock(clip_end),
        i.stretch,
        i.source_text,
        i.target_text
    );
    format!(
        "<rect class=\"line {fit}\" data-id=\"{id}\" x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"><title>{tip}</title></rect>\
         <rect class=\"clip{over}\" x=\"{c0:.1}\" y=\"{cy:.1}\" width=\"{cw:.1}\" height=\"3\"/>\n",
        fit = Fit::of(l).class(),
        id = i.id,
        y0 = y + 4.0,
        w = (x1 - x0).max(1.0),
        h = ROW_H - 14.0,
        tip = escape(&tip),
        cy = y + ROW_H - 8.0,
        cw = (c1 - c0).max(1.0),
    )
}

/// Histogram bins: up to 1.05 (anything not stretched lands here too), then 0.05 wide to 1.30,
/// then everything above. Upper bounds are inclusive so 1.15 counts as comfortable, as it does
/// in [`QaReport::comfortable_share`].
pub(crate) const BIN_UPPER: [f64; 6] = [1.05, 1.10, 1.15, 1.20, 1.25, 1.30];

pub(crate) fn stretch_bins(r: &QaReport) -> [usize; 7] {
    let mut bins = [0usize; 7];
    for l in &r.lines {
        let b = BIN_UPPER.iter().position(|u| l.line.stretch <= u + EPS).unwrap_or(BIN_UPPER.len());
        bins[b] += 1;
    }
    bins
}

fn bin_label(b: usize) -> String {
    match b {
        0 => format!("≤{:.2}", BIN_UPPER[0]),
        b if b < BIN_UPPER.len() => format!("{:.2}–{:.2}", BIN_UPPER[b - 1], BIN_UPPER[b]),
        _ => format!(">{:.2}", BIN_UPPER[BIN_UPPER.len() - 1]),
    }
}

/// How many lines were stretched how much, bars coloured as the timeline colours stretch,
/// with the comfortable limit drawn between its bins.
pub(super) fn histogram(r: &QaReport) -> String {
    const W: f64 = 640.0;
    const H: f64 = 230.0;
    const LEFT: f64 = 20.0;
    const PLOT_H: f64 = 160.0;
    const BASE: f64 = 190.0;
    let bins = stretch_bins(r);
    let max = bins.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar_w = (W - 2.0 * LEFT) / bins.len() as f64;
    let mut out = format!(
        "<svg class=\"histogram\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"Lines per stretch bin\">\n<line class=\"axis\" x1=\"{LEFT}\" y1=\"{BASE}\" x2=\"{}\" y2=\"{BASE}\"/>\n",
        W - LEFT
    );
    for (b, &count) in bins.iter().enumerate() {
        let h = count as f64 / max * PLOT_H;
        let (x, mid) = (LEFT + bar_w * b as f64 + 4.0, LEFT + bar_w * (b as f64 + 0.5));
        let fit = Fit::of_stretch(if b < BIN_UPPER.len() { BIN_UPPER[b] } else { f64::INFINITY }).class();
        let label = bin_label(b);
        out += &format!(
            "<rect class=\"bin {fit}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{label}×: {count} lines</title></rect>\
             <text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{count}</text><text x=\"{mid:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
            BASE - h,
            bar_w - 8.0,
            BASE - h - 4.0,
            BASE + 16.0
        );
    }
    let limit = BIN_UPPER.iter().position(|u| (u - COMFORTABLE_STRETCH).abs() < EPS).unwrap_or(2) + 1;
    let lx = LEFT + bar_w * limit as f64;
    out += &format!(
        "<line class=\"limit\" x1=\"{lx:.1}\" y1=\"14\" x2=\"{lx:.1}\" y2=\"{BASE}\"/><text x=\"{:.1}\" y=\"12\">{COMFORTABLE_STRETCH:.2}× comfortable limit</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">stretch (×)</text>\n",
        lx + 4.0,
        W / 2.0,
        BASE + 34.0
    );
    out + "</svg>\n"
}
