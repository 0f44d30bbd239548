//! `GET /api/jobs/{id}/files/{name}`: a job's outputs, with HTTP range requests (a video seeks).
//! Names come from a fixed list, never from the client as a path.

use super::{job, ApiError, ApiResult};
use crate::queue;
use crate::Studio;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// The file behind `name` for this job, if `name` is one of the files a job has.
fn resolve(s: &Studio, j: &crate::job::JobRecord, name: &str) -> Option<PathBuf> {
    let out = queue::output_path(s, j);
    let pipeline_output = queue::pipeline_dir(s, j).map(|d| d.join("output"));
    match name {
        "dub.mp4" => Some(out),
        "original" => queue::input_path(s, j),
        "report.html" | "report.json" | "background.wav" | "voices.wav" => pipeline_output.map(|d| d.join(name)),
        _ => {
            // Subtitles beside the output: dub.<lang>.srt, dub.<from>-<to>.vtt.
            let (stem, ext) = name.rsplit_once('.')?;
            let tag = stem.strip_prefix("dub.")?;
            let ok = matches!(ext, "srt" | "vtt")
                && !tag.is_empty()
                && tag.len() <= 7
                && tag.chars().all(|c| c.is_ascii_lowercase() || c == '-');
            ok.then(|| out.with_file_name(name))
        }
    }
}

pub async fn download(
    State(s): State<Arc<Studio>>,
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let j = job(&s, &id)?;
    let path = resolve(&s, &j, &name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no file {name}: a job has dub.mp4, original, report.html, report.json, background.wav, voices.wav and dub.<lang>.srt/.vtt"
        ))
    })?;
    if !path.is_file() {
        return Err(ApiError::not_found(format!("job {id} has no {name} yet")));
    }
    let res = tower_http::services::ServeFile::new(path).oneshot(req).await.map_err(ApiError::internal)?;
    Ok(res.map(axum::body::Body::new).into_response())
}
