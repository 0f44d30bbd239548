//! The JSON API (`/api/…`, described at `/api/openapi.json`) and the web app's files. Errors are
//! `{"error": "..."}` with a status that says what kind; a failure inside the server is logged
//! and shown only as "internal error".

mod events;
mod files;
mod jobs;
mod openapi;
mod review;

use crate::Studio;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

/// Largest JSON body of the API's other calls.
const MAX_JSON_BYTES: usize = 256 * 1024;

/// An error a client may see.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// Logged in full, shown as "internal error".
    pub fn internal(e: impl std::fmt::Display) -> Self {
        eprintln!("studio: internal error: {e}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The whole app: the API behind the token check, and the web app.
pub fn router(studio: Arc<Studio>) -> Router {
    let upload_limit = usize::try_from(studio.config.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(1 << 20);
    let api = Router::new()
        .route("/api/health", get(|| async { Json(serde_json::json!({ "ok": true })) }))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/jobs", get(jobs::list).post(jobs::create).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/api/jobs/{id}", get(jobs::get).delete(jobs::delete))
        .route("/api/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/jobs/{id}/retry", post(jobs::retry))
        .route("/api/jobs/{id}/events", get(events::stream))
        .route("/api/jobs/{id}/files/{name}", get(files::download))
        .route("/api/jobs/{id}/lines", get(review::lines))
        .route("/api/jobs/{id}/lines/{line}", axum::routing::patch(review::edit_line))
        .route("/api/jobs/{id}/speakers/{speaker}", axum::routing::put(review::rename_speaker))
        .route("/api/jobs/{id}/voices/{speaker}", axum::routing::put(review::pin_voice))
        .route("/api/jobs/{id}/approve", post(review::approve))
        .route("/api/jobs/{id}/regenerate", post(review::regenerate))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .route_layer(axum::middleware::from_fn_with_state(studio.clone(), require_token))
        .fallback(|| async { ApiError::not_found("no such API call; see /api/openapi.json") });
    let app = Router::new().merge(api);
    let app = match &studio.config.web_dir {
        Some(dir) if dir.join("index.html").is_file() => app.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        ),
        _ => app,
    };
    app.with_state(studio)
}

/// Off loopback, every API call needs the token: `Authorization: Bearer …`, or `?token=…` for
/// what a browser loads by URL (a video's `src`, an `EventSource`).
async fn require_token(State(studio): State<Arc<Studio>>, req: Request, next: Next) -> Response {
    let Some(token) = &studio.token else { return next.run(req).await };
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
    match header.or(query) {
        Some(given) if crate::auth::matches(token, given) => next.run(req).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token").into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this studio needs its API token (printed at its first start, kept in its token file): send Authorization: Bearer TOKEN",
        )
        .into_response(),
    }
}

/// The job `id`, or 404.
pub(crate) fn job(studio: &Studio, id: &str) -> ApiResult<crate::job::JobRecord> {
    studio.store.get(id).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}
