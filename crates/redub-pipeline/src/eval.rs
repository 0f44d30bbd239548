//! `redub eval JOB`: a finished job's QA report (`output/report.json`'s `qa`, which the 11-qa
//! stage measured), scored against reference files when given: DER of the job's speaker turns
//! against an RTTM, WER of its source transcript against an STM.

use redub_core::{Error, Result, Segment};
use redub_qa::QaReport;
use std::path::{Path, PathBuf};

/// Reference files to score the job against.
#[derive(Clone, Debug, Default)]
pub struct EvalRefs {
    pub rttm: Option<PathBuf>,
    pub stm: Option<PathBuf>,
}

/// Collar of the DER, as in every diarization figure of the project.
pub const DER_COLLAR_MS: u64 = 250;

/// The QA report of the job in `job_dir`, with `refs` scored.
pub fn eval(job_dir: &Path, refs: &EvalRefs) -> Result<QaReport> {
    let file = job_dir.join("output/report.json");
    let unfinished = || Error::Input {
        path: job_dir.to_path_buf(),
        problem: "the job has no QA report yet (it has not finished, or it paused for review)".into(),
        fix: "run the same `redub dub` command again to finish it, then `redub eval` it".into(),
    };
    if !file.is_file() {
        return Err(unfinished());
    }
    let report: serde_json::Value = crate::job::read_json(&file)?;
    let Some(qa) = report.get("qa").cloned() else { return Err(unfinished()) };
    let mut qa: QaReport = serde_json::from_value(qa).map_err(|e| Error::Input {
        path: file.clone(),
        problem: format!("its QA report does not read: {e}"),
        fix: "rerun the job with this version of redub".into(),
    })?;
    if let Some(rttm) = &refs.rttm {
        let reference = redub_diarize::rttm::read(rttm)?;
        let hyp = redub_diarize::rttm::read(&job_dir.join("05-diarize/speakers.rttm"))?;
        qa.references.der = Some(redub_diarize::der::score(&reference, &hyp, DER_COLLAR_MS).der);
    }
    if let Some(stm) = &refs.stm {
        let reference: Vec<String> = redub_asr::stm::read(stm)?.into_iter().map(|l| l.text).collect();
        let transcript: Vec<Segment> = crate::job::read_json(&job_dir.join("04-transcribe/segments.json"))?;
        let hyp: Vec<&str> = transcript.iter().map(|s| s.text.as_str()).collect();
        let w = redub_asr::word_error_rate(&reference.join(" "), &hyp.join(" "));
        qa.references.source_wer = Some(w.rate());
        qa.references.source_words = Some(w.reference_words);
    }
    Ok(qa)
}
