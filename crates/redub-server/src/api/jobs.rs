//! Creating, listing, cancelling and deleting jobs.

use super::{job, ApiError, ApiResult};
use crate::job::{JobOptions, JobRecord, Status};
use crate::queue::{self, publish};
use crate::upload;
use crate::Studio;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use redub_core::Event;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

fn new_id() -> ApiResult<String> {
    Ok(format!("j{}", crate::auth::random_hex(6).map_err(ApiError::internal)?))
}

/// `GET /api/jobs`: every job, and the queue in the order it will run.
pub async fn list(State(s): State<Arc<Studio>>) -> ApiResult<Json<serde_json::Value>> {
    let jobs = s.store.list().map_err(ApiError::internal)?;
    let queue: Vec<&str> = jobs.iter().filter(|j| j.status == Status::Queued).map(|j| j.id.as_str()).collect();
    let running = jobs.iter().find(|j| j.status == Status::Running).map(|j| j.id.clone());
    Ok(Json(serde_json::json!({ "jobs": jobs, "queue": queue, "running": running })))
}

/// `GET /api/jobs/{id}`.
pub async fn get(State(s): State<Arc<Studio>>, Path(id): Path<String>) -> ApiResult<Json<JobRecord>> {
    Ok(Json(job(&s, &id)?))
}

/// `POST /api/jobs`: multipart with `file` (the video or audio) and `options` (JSON: `to` and
/// any `redub dub` option the studio offers, `review` to stop before synthesis).
pub async fn create(State(s): State<Arc<Studio>>, mut form: Multipart) -> ApiResult<(StatusCode, Json<JobRecord>)> {
    let waiting = s.store.list().map_err(ApiError::internal)?.iter().filter(|j| j.status == Status::Queued).count();
    if waiting >= s.config.max_queued {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{waiting} jobs are already waiting; try again when one has finished"),
        ));
    }
    let id = new_id()?;
    let dir = s.config.uploads().join(&id);
    tokio::fs::create_dir_all(&dir).await.map_err(ApiError::internal)?;
    let result = receive(&s, &mut form, &dir).await;
    let (options, name, ext) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e);
        }
    };
    let job = JobRecord {
        id: id.clone(),
        created_ms: redub_core::now_ms(),
        status: Status::Queued,
        progress: 0,
        stage: None,
        input_name: name,
        options,
        approved: false,
        error: None,
        speaker_names: Default::default(),
        speakers_found: 0,
        speakers: Vec::new(),
        lines: 0,
        pipeline_job: None,
    };
    s.store.insert(&job).map_err(ApiError::internal)?;
    publish(&s, &id, Event::new("job_created", &id, serde_json::json!({ "input": job.input_name, "type": ext })));
    s.wake();
    Ok((StatusCode::CREATED, Json(job)))
}

/// Read the form: the options checked, the file streamed to `dir` under the limit, its type
/// sniffed and probed. Returns the options, the display name and the stored extension.
async fn receive(s: &Studio, form: &mut Multipart, dir: &std::path::Path) -> ApiResult<(JobOptions, String, String)> {
    let part = dir.join("upload.part");
    let (mut options, mut name, mut head, mut size) = (None, None, Vec::new(), 0u64);
    let form_error = |e: axum::extract::multipart::MultipartError| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("the upload is larger than this studio's limit of {} bytes", s.config.max_upload_bytes),
            )
        } else {
            ApiError::new(status, format!("the upload form could not be read: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("options") => {
                let text = field.text().await.map_err(form_error)?;
                let o: JobOptions = serde_json::from_str(&text).map_err(|e| ApiError::bad(format!("options: {e}")))?;
                o.check().map_err(|e| ApiError::bad(format!("options: {e}")))?;
                options = Some(o);
            }
            Some("file") => {
                name = Some(upload::display_name(field.file_name()));
                let mut f = tokio::fs::File::create(&part).await.map_err(ApiError::internal)?;
                while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                    size += chunk.len() as u64;
                    if size > s.config.max_upload_bytes {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "the upload is larger than this studio's limit of {} bytes",
                                s.config.max_upload_bytes
                            ),
                        ));
                    }
                    if head.len() < 512 {
                        head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
                    }
                    f.write_all(&chunk).await.map_err(ApiError::internal)?;
                }
                f.flush().await.map_err(ApiError::internal)?;
            }
            _ => {}
        }
    }
    let options =
        options.ok_or_else(|| ApiError::bad("the form needs an `options` field (JSON with at least `to`)"))?;
    let name = name.ok_or_else(|| ApiError::bad("the form needs a `file` field with the video or audio"))?;
    let media = || {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("{name} is not a video or audio file Redub can read (judged by its content, not its name): upload MP4, MOV, MKV, WebM, AVI, MPEG, WAV, FLAC, MP3 or Ogg"))
    };
    let ext = upload::sniff(&head).ok_or_else(media)?;
    let input = dir.join(format!("input.{ext}"));
    tokio::fs::rename(&part, &input).await.map_err(ApiError::internal)?;
    let probe =
        tokio::task::spawn_blocking(move || redub_media::check_input(&input)).await.map_err(ApiError::internal)?;
    if let Err(e) = probe {
        let problem = match e {
            redub_core::Error::Input { problem, .. } => problem,
            other => queue::public_message(s, &other.to_string()),
        };
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("{name}: {problem}")));
    }
    Ok((options, name, ext.to_string()))
}

/// `POST /api/jobs/{id}/cancel`: a queued or paused job is taken off; a running one is stopped
/// (what it finished is kept: `retry` resumes it).
pub async fn cancel(State(s): State<Arc<Studio>>, Path(id): Path<String>) -> ApiResult<Json<JobRecord>> {
    let mut j = job(&s, &id)?;
    if matches!(j.status, Status::Done | Status::Failed | Status::Cancelled) {
        return Err(ApiError::conflict(format!("job {id} is {:?}: there is nothing to cancel", j.status)));
    }
    j.status = Status::Cancelled;
    s.store.update(&j).map_err(ApiError::internal)?;
    if let Some(r) = s.running.lock().await.as_mut().filter(|r| r.id == id) {
        let _ = r.child.start_kill();
    }
    publish(&s, &id, Event::new("job_status", &id, serde_json::json!({ "status": "cancelled" })));
    Ok(Json(j))
}

/// `POST /api/jobs/{id}/retry`: a failed or cancelled job queued again; it resumes from its
/// last finished stage.
pub async fn retry(State(s): State<Arc<Studio>>, Path(id): Path<String>) -> ApiResult<Json<JobRecord>> {
    let mut j = job(&s, &id)?;
    if !matches!(j.status, Status::Failed | Status::Cancelled) {
        return Err(ApiError::conflict(format!(
            "job {id} is {:?}; only a failed or cancelled job is retried",
            j.status
        )));
    }
    j.status = Status::Queued;
    j.error = None;
    s.store.update(&j).map_err(ApiError::internal)?;
    s.wake();
    Ok(Json(j))
}

/// `DELETE /api/jobs/{id}`: the job, its upload, its outputs and its pipeline folder.
pub async fn delete(State(s): State<Arc<Studio>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let j = job(&s, &id)?;
    if j.status == Status::Running {
        return Err(ApiError::conflict(format!("job {id} is running: cancel it first")));
    }
    let _ = tokio::fs::remove_dir_all(s.config.uploads().join(&j.id)).await;
    let _ = tokio::fs::remove_dir_all(s.config.outputs().join(&j.id)).await;
    if let Some(d) = queue::pipeline_dir(&s, &j) {
        let _ = tokio::fs::remove_dir_all(d).await;
    }
    s.store.delete(&j.id).map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}
