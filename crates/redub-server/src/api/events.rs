//! `GET /api/jobs/{id}/events`: server-sent events. A snapshot first (the job, and its lines as
//! far as they are known), then every event of the job as it happens.

use super::{job, ApiError, ApiResult};
use crate::Studio;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Counts a client while its stream lives.
struct Client(Arc<Studio>);

impl Drop for Client {
    fn drop(&mut self) {
        self.0.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

fn sse(kind: &str, data: &impl serde::Serialize) -> SseEvent {
    let text = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    SseEvent::default().event(kind).data(text)
}

/// Each stage's state from the job's past events (the latest of each stage): `running` with
/// its progress, `done` with its time, or `skipped`, so a client that joins late draws them.
fn stages(past: &[redub_core::Event]) -> BTreeMap<String, serde_json::Value> {
    let mut out: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for e in past {
        let Some(stage) = e.data.get("stage").and_then(|s| s.as_str()) else { continue };
        let state = match e.kind.as_str() {
            "stage_started" => serde_json::json!({ "status": "running" }),
            "stage_progress" => {
                serde_json::json!({ "status": "running", "done": e.data["done"], "total": e.data["total"] })
            }
            "stage_done" => serde_json::json!({ "status": "done", "took_ms": e.data["took_ms"] }),
            "stage_skipped" => serde_json::json!({ "status": "skipped" }),
            _ => continue,
        };
        out.insert(stage.to_string(), state);
    }
    out
}

pub async fn stream(
    State(s): State<Arc<Studio>>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let j = job(&s, &id)?;
    if s.sse_clients.fetch_add(1, Ordering::Relaxed) >= s.config.max_sse_clients {
        s.sse_clients.fetch_sub(1, Ordering::Relaxed);
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many event streams are open; close one"));
    }
    let client = Client(s.clone());
    // Subscribed before the snapshot is read, so nothing falls between the two.
    let rx = s.live.subscribe();
    let past = s.store.events(&id).map_err(ApiError::internal)?;
    let mut lines: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    for e in past.iter().filter(|e| e.kind == "segment") {
        if let Some(n) = e.data.get("id").and_then(|v| v.as_u64()) {
            lines.insert(n, e.data.clone());
        }
    }
    let snapshot = serde_json::json!({
        "job": j,
        "lines": lines.into_values().collect::<Vec<_>>(),
        "stages": stages(&past),
        "events": past.len(),
    });
    let first = stream::once(async move { Ok(sse("snapshot", &snapshot)) });
    let live = stream::unfold((rx, id, client), |(mut rx, id, client)| async move {
        loop {
            match rx.recv().await {
                Ok((job, e)) if job == id => return Some((Ok(sse(&e.kind, &e)), (rx, id, client))),
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(first.chain(live)).keep_alive(KeepAlive::default()))
}
