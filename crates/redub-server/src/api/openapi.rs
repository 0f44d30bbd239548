//! `GET /api/openapi.json`: the API described in OpenAPI 3.1, written out by hand so it says
//! what each call is for.

use axum::Json;
use serde_json::{json, Value};

fn op(summary: &str, responses: &[(u16, &str)]) -> Value {
    let r: serde_json::Map<String, Value> =
        responses.iter().map(|(c, d)| (c.to_string(), json!({ "description": d }))).collect();
    json!({ "summary": summary, "responses": r })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } })
}

pub async fn document() -> Json<Value> {
    let with_id = |v: Value| {
        let mut v = v;
        v["parameters"] = json!([id_param()]);
        v
    };
    let paths = json!({
        "/api/health": { "get": op("Liveness", &[(200, "ok")]) },
        "/api/jobs": {
            "get": op("Every job, the queue in run order, the running job", &[(200, "jobs")]),
            "post": {
                "summary": "Create a job: multipart `file` (video or audio; the type is read from the content) and `options` (JSON: `to`, optional `from`, `review`, `background`, `subtitles`, `keep_original_audio`, `asr`, `speakers`, `min_speakers`, `max_speakers`, `translator`, `formality`, `voices`, `voice_pins`, `speaker_formality`, `reference_secs`, `chunk_secs`, `glossary` as text)",
                "requestBody": { "content": { "multipart/form-data": { "schema": { "type": "object", "properties": {
                    "file": { "type": "string", "format": "binary" }, "options": { "type": "string" } } } } } },
                "responses": { "201": { "description": "the job, queued" }, "400": { "description": "bad options or form" },
                    "413": { "description": "larger than the upload limit" }, "415": { "description": "not a video or audio file" },
                    "429": { "description": "the queue is full" } }
            }
        },
        "/api/jobs/{id}": {
            "get": with_id(op("One job", &[(200, "the job"), (404, "no such job")])),
            "delete": with_id(op("Delete a job and its files", &[(204, "deleted"), (404, "no such job"), (409, "running: cancel first")]))
        },
        "/api/jobs/{id}/cancel": { "post": with_id(op("Cancel a queued, running or paused job", &[(200, "cancelled"), (409, "already finished")])) },
        "/api/jobs/{id}/retry": { "post": with_id(op("Queue a failed or cancelled job again (it resumes)", &[(200, "queued"), (409, "not failed or cancelled")])) },
        "/api/jobs/{id}/events": { "get": with_id(op("Server-sent events: `snapshot` first (the job and its lines so far), then every event of the job", &[(200, "text/event-stream"), (503, "too many streams")])) },
        "/api/jobs/{id}/files/{name}": { "get": {
            "summary": "A job's file, with range requests: dub.mp4, original, report.html, report.json, background.wav, voices.wav, dub.<lang>.srt/.vtt",
            "parameters": [id_param(), { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": { "200": { "description": "the file" }, "206": { "description": "a range of it" }, "404": { "description": "no such file" } } } },
        "/api/jobs/{id}/lines": { "get": with_id(op("The lines: times, speaker (and name), source and target text, flags", &[(200, "lines"), (409, "not translated yet")])) },
        "/api/jobs/{id}/lines/{line}": { "patch": {
            "summary": "Edit a line: `source_text`, `target_text`, `speaker` (JSON)",
            "parameters": [id_param(), { "name": "line", "in": "path", "required": true, "schema": { "type": "integer" } }],
            "responses": { "200": { "description": "the line" }, "404": { "description": "no such line" }, "409": { "description": "the job is running" } } } },
        "/api/jobs/{id}/speakers/{speaker}": { "put": with_id(op("Name a speaker: {\"name\": ...}", &[(200, "the job")])) },
        "/api/jobs/{id}/voices/{speaker}": { "put": with_id(op("Pin a speaker's voice: {\"voice\": ...}", &[(200, "the job"), (409, "the job is running")])) },
        "/api/jobs/{id}/approve": { "post": with_id(op("Approve the reviewed lines: synthesis goes on", &[(200, "queued"), (409, "not in review")])) },
        "/api/jobs/{id}/regenerate": { "post": with_id(op("Speak chosen lines again and redo the mix: {\"lines\": [ids]}", &[(200, "queued"), (404, "no such line"), (409, "not finished")])) }
    });
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "Redub studio", "version": env!("CARGO_PKG_VERSION"),
            "description": "Off loopback every call needs `Authorization: Bearer TOKEN` (or `?token=`). Errors are {\"error\": message}." },
        "paths": paths
    }))
}
