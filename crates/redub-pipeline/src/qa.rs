//! The job's end: done only once its output exists and probes right (DESIGN §4). Writes
//! `output/report.json`: the render's per-line numbers, what each stage cost (wall, CPU, peak
//! memory, real-time factor), the languages, the speakers and the 11-qa stage's measurements
//! (`qa`); and `output/report.html`, the page a person reads; then the `done` event.

use crate::render::LinePlacement;
use crate::request::ReviewLine;
use crate::runner::{JobCx, StageRun};
use redub_core::{Error, Result};
use serde_json::json;

/// An output this much longer or shorter than the input is reported.
const DRIFT_WARN_MS: u64 = 50;

/// What the QA step found, for the summary.
#[derive(Debug)]
pub struct Finished {
    pub lines: usize,
    pub review: Vec<ReviewLine>,
}

pub fn finish(cx: &JobCx, runs: &[StageRun]) -> Result<Finished> {
    let req = cx.req;
    let out_probe = redub_media::probe(&req.output)?;
    let input_ms = cx.probe.duration_ms;
    if out_probe.duration_ms.abs_diff(input_ms) > DRIFT_WARN_MS {
        cx.events().emit(
            "warning",
            json!({ "message": format!("output lasts {} ms, input {} ms", out_probe.duration_ms, input_ms) }),
        );
    }
    let lines = cx.lines()?;
    let mut report: serde_json::Value = cx.read("09-render", "report.json")?;
    report["stages"] = json!(runs.iter().map(|r| stage_figures(r, input_ms)).collect::<Vec<_>>());
    // The earlier flat map, kept for readers of older reports.
    report["stage_ms"] =
        json!(runs.iter().map(|r| (r.stage.clone(), json!(r.usage.wall_ms))).collect::<serde_json::Map<_, _>>());
    report["input"] = json!({ "path": req.input, "duration_ms": input_ms });
    report["output"] = json!({ "path": req.output, "duration_ms": out_probe.duration_ms });
    report["languages"] = json!({ "from": cx.from_lang()?, "to": req.to });
    report["speakers"] = json!(lines.iter().map(|l| l.speaker.clone()).collect::<std::collections::BTreeSet<_>>());
    let out_dir = cx.job.dir.join("output");
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
    let mut qa: redub_qa::QaReport = cx.read(crate::stages::qa::STAGE.name, "qa.json")?;
    qa.stages = runs.iter().map(|r| stage_cost(r, input_ms)).collect();
    report["qa"] = serde_json::to_value(&qa).unwrap_or_default();
    crate::job::write_json(&out_dir.join("report.json"), &report)?;
    let page = out_dir.join("report.html");
    let html = redub_qa::html::render(&qa, &report_audio(cx, &qa));
    std::fs::write(&page, html).map_err(|e| Error::io(&page, e))?;
    cx.events().emit(
        "done",
        json!({ "output": req.output, "report": out_dir.join("report.json"), "page": page, "lines": lines.len() }),
    );
    let mut placed: Vec<LinePlacement> = serde_json::from_value(report["lines"].clone()).unwrap_or_default();
    // The round trip's flags reach the review list too.
    for p in &mut placed {
        if let Some(l) = qa.lines.iter().find(|l| l.line.id == p.id) {
            redub_core::add_flags(&mut p.flags, &l.flags);
        }
    }
    Ok(Finished { lines: lines.len(), review: review_lines(cx, &placed)? })
}

/// One stage's figures in the report, with its real-time factor (wall time over the input's
/// length).
fn stage_figures(r: &StageRun, input_ms: u64) -> serde_json::Value {
    serde_json::to_value(stage_cost(r, input_ms)).unwrap_or_default()
}

fn stage_cost(r: &StageRun, input_ms: u64) -> redub_qa::StageCost {
    let rtf = if input_ms > 0 { r.usage.wall_ms as f64 / input_ms as f64 } else { 0.0 };
    redub_qa::StageCost {
        stage: r.stage.clone(),
        skipped: r.skipped,
        wall_ms: r.usage.wall_ms,
        cpu_ms: r.usage.cpu_ms.unwrap_or(0),
        peak_rss_kb: r.usage.peak_rss_kb.unwrap_or(0),
        rtf: (rtf * 1000.0).round() / 1000.0,
    }
}

/// The players' audio the qa stage kept for the page (lines without files get none).
fn report_audio(cx: &JobCx, qa: &redub_qa::QaReport) -> Vec<redub_qa::html::LineAudio> {
    let dir = cx.dir(crate::stages::qa::STAGE.name).join("audio");
    qa.lines
        .iter()
        .filter_map(|l| {
            let read = |kind: &str| std::fs::read(dir.join(format!("{}.{kind}.wav", l.line.id))).ok();
            Some(redub_qa::html::LineAudio { id: l.line.id, original_wav: read("orig")?, dubbed_wav: read("dub")? })
        })
        .collect()
}

/// Lines with review flags: the translation's and the render's (`placed`, empty before it).
pub fn review_lines(cx: &JobCx, placed: &[LinePlacement]) -> Result<Vec<ReviewLine>> {
    Ok(cx
        .lines()?
        .into_iter()
        .filter_map(|l| {
            let mut flags = l.flags.clone();
            for p in placed.iter().filter(|p| p.id == l.id) {
                redub_core::add_flags(&mut flags, &p.flags);
            }
            (!flags.is_empty()).then(|| ReviewLine {
                id: l.id,
                speaker: l.speaker.clone(),
                start_ms: l.start_ms,
                source_text: l.source_text,
                target_text: l.target_text,
                flags,
                note: l.note,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;

    #[test]
    fn a_stage_costs_its_wall_time_over_the_input() {
        let run = StageRun {
            stage: "04-transcribe".into(),
            skipped: false,
            usage: Usage { wall_ms: 15_000, cpu_ms: Some(28_000), peak_rss_kb: Some(409_600) },
        };
        let c = stage_cost(&run, 30_000);
        assert_eq!((c.wall_ms, c.cpu_ms, c.peak_rss_kb), (15_000, 28_000, 409_600));
        assert_eq!(c.rtf, 0.5);
        // Unknown figures read as 0, and an empty input has no real-time factor.
        let run = StageRun { usage: Usage { wall_ms: 10, cpu_ms: None, peak_rss_kb: None }, ..run };
        assert_eq!((stage_cost(&run, 0).cpu_ms, stage_cost(&run, 0).rtf), (0, 0.0));
    }
}
