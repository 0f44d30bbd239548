//! `dub`: one call of the job. Everything that can be refused is refused before a job folder
//! exists; then the stage runner goes through [`STAGES`](crate::stages::STAGES) (skipping what
//! is finished, stopping after `stop_after` if asked) and the QA step checks the output and
//! writes the report.

use crate::backends::Backends;
use crate::events::EventSink;
use crate::farm::Farm;
use crate::job::Job;
pub use crate::request::{job_id, DubRequest, DubSummary, ReviewLine, DEFAULT_REFERENCE_MS};
use crate::runner::{self, JobCx, Outcome};
use crate::stages::STAGES;
pub use crate::translate::TranslatedLine;
use redub_core::{Error, Result};
use serde_json::json;

pub fn dub(req: &DubRequest, backends: &dyn Backends, events: EventSink) -> Result<DubSummary> {
    dub_on(req, backends, events, None)
}

/// [`dub`] with units handed to `farm` where a stage can (transcription windows, stock-voice
/// synthesis); the results are the same as without it.
pub fn dub_on(
    req: &DubRequest,
    backends: &dyn Backends,
    events: EventSink,
    farm: Option<&dyn Farm>,
) -> Result<DubSummary> {
    let (probe, glossary) = check(req, backends)?;
    let id = job_id(&req.input, req.from.as_deref(), &req.to);
    let job = Job::open(&req.jobs_dir.join(&id), &id, &serde_json::to_value(req).unwrap_or_default(), events)?;
    job.events.emit("job_started", json!({ "input": req.input, "to": req.to, "job_dir": job.dir }));
    let mut cx = JobCx::new(req, backends, &job, probe, glossary);
    cx.farm = farm;
    let (outcome, runs) = runner::run(&STAGES, &cx, req.stop_after.as_deref())?;
    let skipped = runs.iter().filter(|r| r.skipped).map(|r| r.stage.clone()).collect();
    let from = match cx.from_lang() {
        Ok(f) => f,
        // Paused before transcription: the language is not known yet.
        Err(_) => req.from.clone().unwrap_or_default(),
    };
    if let Outcome::Paused { after } = outcome {
        let lines = cx.lines().map(|l| l.len()).unwrap_or(0);
        return Ok(DubSummary {
            job_dir: job.dir.clone(),
            output: req.output.clone(),
            subtitles: Vec::new(),
            from,
            to: req.to.clone(),
            lines,
            skipped_stages: skipped,
            review: crate::qa::review_lines(&cx, &[]).unwrap_or_default(),
            paused_after: Some(after),
            stages: runs,
        });
    }
    let report = crate::qa::finish(&cx, &runs)?;
    Ok(DubSummary {
        job_dir: job.dir.clone(),
        output: req.output.clone(),
        subtitles: crate::stages::mux::subtitle_paths(&req.output, &from, &req.to).to_vec(),
        from,
        to: req.to.clone(),
        lines: report.lines,
        skipped_stages: skipped,
        review: report.review,
        paused_after: None,
        stages: runs,
    })
}

/// Refuse what cannot work, before a job folder exists: the input, the language pair, the
/// speaker limits, the voice settings, the reference length, the glossary, the output folder,
/// the stage to stop after.
fn check(req: &DubRequest, backends: &dyn Backends) -> Result<(redub_media::Probe, redub_translate::Glossary)> {
    let probe = redub_media::check_input(&req.input)?;
    backends.check_pair(&req.translator, req.from.as_deref(), &req.to)?;
    req.diarize.limits()?;
    req.voices.check(&req.to)?;
    runner::check_stop(&STAGES, req.stop_after.as_deref())?;
    crate::stages::mux::check_output(&req.output)?;
    if req.reference_max_ms < crate::voices::MIN_REFERENCE_MS {
        return Err(Error::Usage(format!(
            "the reference sample limit is {} ms; it must be at least {} ms",
            req.reference_max_ms,
            crate::voices::MIN_REFERENCE_MS
        )));
    }
    let glossary = match &req.glossary {
        Some(p) => redub_translate::Glossary::read(p)?,
        None => redub_translate::Glossary::default(),
    };
    if let Some(parent) = req.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(Error::Input {
                path: req.output.clone(),
                problem: "the output folder does not exist".into(),
                fix: "create it or pass another -o path".into(),
            });
        }
    }
    Ok((probe, glossary))
}
