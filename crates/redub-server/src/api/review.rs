//! Review: a job's lines with their flags, edits to a line's text or speaker, speaker names,
//! pinned voices, approval, and regenerating chosen lines. Edits go into the pipeline's own
//! `06-translate/translations.json` (the file `redub dub --stop-after 06-translate` leaves for
//! a person), so the next run speaks only what changed.

use super::{job, ApiError, ApiResult};
use crate::job::{JobRecord, Status};
use crate::queue::{self, publish};
use crate::Studio;
use axum::extract::{Path, State};
use axum::Json;
use redub_core::Event;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

fn translations(s: &Studio, j: &JobRecord) -> ApiResult<PathBuf> {
    let p = queue::pipeline_dir(s, j).map(|d| d.join("06-translate/translations.json"));
    p.filter(|p| p.is_file()).ok_or_else(|| ApiError::conflict(format!("job {} has no translated lines yet", j.id)))
}

fn read_lines(path: &std::path::Path) -> ApiResult<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path).map_err(ApiError::internal)?;
    serde_json::from_str(&text).map_err(ApiError::internal)
}

fn write_lines(path: &std::path::Path, lines: &[serde_json::Value]) -> ApiResult<()> {
    let text = serde_json::to_vec_pretty(lines).map_err(ApiError::internal)?;
    redub_media::write_atomic(path, &text).map_err(ApiError::internal)
}

/// A job that is running cannot be edited: its run reads these files.
fn editable(j: &JobRecord) -> ApiResult<()> {
    if matches!(j.status, Status::Running | Status::Queued) {
        return Err(ApiError::conflict(format!("job {} is {:?}: edit it once it has stopped", j.id, j.status)));
    }
    Ok(())
}

/// `GET /api/jobs/{id}/lines`: every line with its flags (the QA's too, after a dub) and its
/// speaker's name.
pub async fn lines(State(s): State<Arc<Studio>>, Path(id): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let j = job(&s, &id)?;
    let mut lines = read_lines(&translations(&s, &j)?)?;
    let qa: Option<serde_json::Value> = queue::pipeline_dir(&s, &j)
        .and_then(|d| std::fs::read_to_string(d.join("output/report.json")).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    for l in &mut lines {
        let sp = l["speaker"].as_str().unwrap_or("").to_string();
        l["speaker_name"] = serde_json::json!(j.speaker_names.get(&sp).cloned().unwrap_or(sp));
        let measured = qa
            .as_ref()
            .and_then(|r| r["qa"]["lines"].as_array())
            .and_then(|ls| ls.iter().find(|m| m["line"]["id"] == l["id"]).cloned());
        if let Some(m) = measured {
            l["flags"] = m["flags"].clone();
            l["heard"] = m["heard"].clone();
        }
    }
    Ok(Json(serde_json::json!({ "job": j.id, "status": j.status, "lines": lines })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineEdit {
    source_text: Option<String>,
    target_text: Option<String>,
    speaker: Option<String>,
}

/// `PATCH /api/jobs/{id}/lines/{line}`: new source or target text, or another speaker.
pub async fn edit_line(
    State(s): State<Arc<Studio>>,
    Path((id, line)): Path<(String, u64)>,
    Json(edit): Json<LineEdit>,
) -> ApiResult<Json<serde_json::Value>> {
    let j = job(&s, &id)?;
    editable(&j)?;
    let path = translations(&s, &j)?;
    let mut lines = read_lines(&path)?;
    let speakers: Vec<String> = lines.iter().filter_map(|l| l["speaker"].as_str().map(String::from)).collect();
    let Some(l) = lines.iter_mut().find(|l| l["id"].as_u64() == Some(line)) else {
        return Err(ApiError::not_found(format!("job {id} has no line {line}")));
    };
    for (field, value) in [("source_text", &edit.source_text), ("target_text", &edit.target_text)] {
        if let Some(v) = value {
            if v.trim().is_empty() || v.len() > 2_000 {
                return Err(ApiError::bad(format!("{field} must hold 1 to 2000 bytes of text")));
            }
            l[field] = serde_json::json!(v.trim());
        }
    }
    if let Some(sp) = &edit.speaker {
        if !speakers.contains(sp) {
            return Err(ApiError::bad(format!(
                "no speaker {sp} in job {id}; its speakers are {}",
                dedup(speakers).join(", ")
            )));
        }
        l["speaker"] = serde_json::json!(sp);
    }
    let edited = l.clone();
    write_lines(&path, &lines)?;
    publish(&s, &id, Event::new("line_edited", &id, edited.clone()));
    Ok(Json(edited))
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Name {
    name: String,
}

/// `PUT /api/jobs/{id}/speakers/{speaker}`: the name a person gives a speaker (display only).
pub async fn rename_speaker(
    State(s): State<Arc<Studio>>,
    Path((id, speaker)): Path<(String, String)>,
    Json(body): Json<Name>,
) -> ApiResult<Json<JobRecord>> {
    let mut j = job(&s, &id)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::bad("a speaker's name has 1 to 80 characters"));
    }
    crate::job::token("speaker", &speaker).map_err(ApiError::bad)?;
    j.speaker_names.insert(speaker, name.to_string());
    s.store.update(&j).map_err(ApiError::internal)?;
    Ok(Json(j))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voice {
    voice: String,
}

/// `PUT /api/jobs/{id}/voices/{speaker}`: pin a voice; the next run (approve, regenerate) uses it.
pub async fn pin_voice(
    State(s): State<Arc<Studio>>,
    Path((id, speaker)): Path<(String, String)>,
    Json(body): Json<Voice>,
) -> ApiResult<Json<JobRecord>> {
    let mut j = job(&s, &id)?;
    editable(&j)?;
    let mut options = j.options.clone();
    options.voice_pins.insert(speaker, body.voice.trim().to_string());
    options.check().map_err(ApiError::bad)?;
    j.options = options;
    s.store.update(&j).map_err(ApiError::internal)?;
    Ok(Json(j))
}

/// `POST /api/jobs/{id}/approve`: the reviewed job goes on to synthesis.
pub async fn approve(State(s): State<Arc<Studio>>, Path(id): Path<String>) -> ApiResult<Json<JobRecord>> {
    let mut j = job(&s, &id)?;
    if j.status != Status::Review {
        return Err(ApiError::conflict(format!("job {id} is {:?}, not waiting for review", j.status)));
    }
    j.approved = true;
    j.status = Status::Queued;
    s.store.update(&j).map_err(ApiError::internal)?;
    publish(&s, &id, Event::new("job_status", &id, serde_json::json!({ "status": "queued", "approved": true })));
    s.wake();
    Ok(Json(j))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regenerate {
    lines: Vec<u64>,
}

/// `POST /api/jobs/{id}/regenerate`: speak the chosen lines again and redo the mix; the other
/// lines' clips are reused.
pub async fn regenerate(
    State(s): State<Arc<Studio>>,
    Path(id): Path<String>,
    Json(body): Json<Regenerate>,
) -> ApiResult<Json<JobRecord>> {
    let mut j = job(&s, &id)?;
    if !matches!(j.status, Status::Done | Status::Failed) {
        return Err(ApiError::conflict(format!("job {id} is {:?}: regenerate a finished dub", j.status)));
    }
    let lines = read_lines(&translations(&s, &j)?)?;
    for n in &body.lines {
        if !lines.iter().any(|l| l["id"].as_u64() == Some(*n)) {
            return Err(ApiError::not_found(format!("job {id} has no line {n}")));
        }
    }
    let dir = queue::pipeline_dir(&s, &j).ok_or_else(|| ApiError::conflict("the job has not run yet"))?;
    if let Ok(clips) = std::fs::read_dir(dir.join("08-synthesize/clips")) {
        for c in clips.flatten() {
            let name = c.file_name().to_string_lossy().into_owned();
            if body.lines.iter().any(|n| name.starts_with(&format!("{n}-"))) {
                let _ = std::fs::remove_file(c.path());
            }
        }
    }
    // Synthesis and what follows it run again (their keys did not change, their clips did).
    for stage in ["08-synthesize", "09-render", "10-mux", "11-qa"] {
        let _ = std::fs::remove_file(dir.join(stage).join("manifest.json"));
    }
    j.approved = true;
    j.status = Status::Queued;
    j.progress = j.progress.min(crate::job::MAX_PROGRESS_BEFORE_DONE);
    s.store.update(&j).map_err(ApiError::internal)?;
    s.wake();
    Ok(Json(j))
}
