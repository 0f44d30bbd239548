//! The queue: one job at a time, oldest first, each as a `redub dub … --json` child. Its stdout
//! is one event per line; each is stored, moves the job's state and goes to SSE clients. The
//! child's `done` is held back until the output exists and probes right, so no client sees 100%
//! or `done` before there is a file to play (DESIGN §4).

use crate::job::{JobRecord, Status, REVIEW_STAGE};
use crate::Studio;
use redub_core::{Event, Result};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The job being run and its process, so that it can be cancelled.
pub(crate) struct Running {
    pub id: String,
    pub child: tokio::process::Child,
}

/// Where a job's files are.
pub fn input_path(studio: &Studio, job: &JobRecord) -> Option<PathBuf> {
    let dir = studio.config.uploads().join(&job.id);
    std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_stem().is_some_and(|s| s == "input"))
}

pub fn output_path(studio: &Studio, job: &JobRecord) -> PathBuf {
    studio.config.outputs().join(&job.id).join("dub.mp4")
}

/// The pipeline's folder of this job, once its run has named it.
pub fn pipeline_dir(studio: &Studio, job: &JobRecord) -> Option<PathBuf> {
    job.pipeline_job.as_ref().map(|n| studio.config.jobs().join(n))
}

/// Run queued jobs until the process ends.
pub async fn run(studio: Arc<Studio>) {
    loop {
        match studio.store.next_queued() {
            Ok(Some(job)) => {
                let id = job.id.clone();
                if let Err(e) = run_one(&studio, job).await {
                    eprintln!("studio: job {id}: {e}");
                    if let Ok(Some(mut j)) = studio.store.get(&id) {
                        j.status = Status::Failed;
                        j.error = Some("the studio could not run this job; see the server's log".into());
                        let _ = studio.store.update(&j);
                    }
                }
            }
            Ok(None) => studio.wake.notified().await,
            Err(e) => {
                eprintln!("studio: reading the queue: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    }
}

/// Tag `e` with the studio's job id, keep it and send it to listeners.
pub(crate) fn publish(studio: &Studio, id: &str, mut e: Event) {
    e.job = id.to_string();
    if let Err(err) = studio.store.add_event(id, &e) {
        eprintln!("studio: job {id}: keeping an event: {err}");
    }
    let _ = studio.live.send((id.to_string(), e));
}

async fn run_one(studio: &Studio, mut job: JobRecord) -> Result<()> {
    let Some(input) = input_path(studio, &job) else {
        return finish(studio, job, Status::Failed, Some("the uploaded file is gone; upload it again".into()));
    };
    let output = output_path(studio, &job);
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent).map_err(|e| redub_core::Error::io(parent, e))?;
    }
    let mut args: Vec<String> =
        vec!["dub".into(), input.display().to_string(), "-o".into(), output.display().to_string()];
    args.extend(["--jobs-dir".into(), studio.config.jobs().display().to_string(), "--json".into()]);
    args.extend(job.options.args());
    args.extend(studio.config.dub_args.iter().cloned());
    if let Some(g) = &job.options.glossary {
        let file = studio.config.uploads().join(&job.id).join("glossary.tsv");
        std::fs::write(&file, g).map_err(|e| redub_core::Error::io(&file, e))?;
        args.extend(["--glossary".into(), file.display().to_string()]);
    }
    if job.options.review && !job.approved {
        args.extend(["--stop-after".into(), REVIEW_STAGE.into()]);
    }
    job.status = Status::Running;
    job.error = None;
    studio.store.update(&job)?;
    publish(studio, &job.id, Event::new("job_running", &job.id, serde_json::json!({ "status": "running" })));
    let mut child = tokio::process::Command::new(&studio.config.exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| redub_core::Error::io(&studio.config.exe, e))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    *studio.running.lock().await = Some(Running { id: job.id.clone(), child });
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_string(&mut text).await;
        }
        text
    });
    let (mut paused, mut done, mut last_error) = (false, None, None);
    if let Some(out) = stdout {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(e) = serde_json::from_str::<Event>(&line) else { continue };
            job.apply(&e);
            match e.kind.as_str() {
                "paused" => paused = true,
                "error" => last_error = e.data.get("message").and_then(|m| m.as_str()).map(String::from),
                _ => {}
            }
            if e.kind == "done" {
                done = Some(e);
                continue;
            }
            save(studio, &mut job)?;
            publish(studio, &job.id, e);
        }
    }
    let status = match studio.running.lock().await.take() {
        Some(mut r) => r.child.wait().await.ok(),
        None => None,
    };
    let stderr_text = stderr_task.await.unwrap_or_default();
    // Cancelled while it ran: the cancel handler already settled the job.
    let now = studio.store.get(&job.id)?;
    if now.as_ref().is_none_or(|j| j.status == Status::Cancelled) {
        return Ok(());
    }
    if let Some(now) = now {
        keep_edits(&mut job, now);
    }
    let ok = status.is_some_and(|s| s.success());
    if ok && paused {
        return finish(studio, job, Status::Review, None);
    }
    if ok && done.is_some() && output_probes(&output).await {
        job.progress = 100;
        let done = done.unwrap_or_else(|| Event::new("done", &job.id, serde_json::Value::Null));
        let data = serde_json::json!({ "output": format!("/api/jobs/{}/files/dub.mp4", job.id), "lines": done.data.get("lines") });
        finish(studio, job.clone(), Status::Done, None)?;
        publish(studio, &job.id, Event::new("done", &job.id, data));
        return Ok(());
    }
    let message = last_error.or_else(|| failure_line(&stderr_text)).unwrap_or_else(|| "the dub stopped".into());
    finish(studio, job, Status::Failed, Some(public_message(studio, &message)))
}

/// What a person changed while the job ran (names, pins) is kept; a cancelled job stays so.
fn save(studio: &Studio, job: &mut JobRecord) -> Result<()> {
    if let Some(now) = studio.store.get(&job.id)? {
        if now.status == Status::Cancelled {
            return Ok(());
        }
        keep_edits(job, now);
    }
    studio.store.update(job)
}

fn keep_edits(job: &mut JobRecord, now: JobRecord) {
    job.speaker_names = now.speaker_names;
    job.options.voice_pins = now.options.voice_pins;
}

async fn output_probes(output: &std::path::Path) -> bool {
    let p = output.to_path_buf();
    tokio::task::spawn_blocking(move || redub_media::probe(&p).is_ok_and(|pr| pr.duration_ms > 0))
        .await
        .unwrap_or(false)
}

fn finish(studio: &Studio, mut job: JobRecord, status: Status, error: Option<String>) -> Result<()> {
    job.status = status;
    job.error.clone_from(&error);
    studio.store.update(&job)?;
    let data = serde_json::json!({ "status": status, "error": error, "progress": job.progress });
    publish(studio, &job.id, Event::new("job_status", &job.id, data));
    Ok(())
}

/// What a failed dub's stderr says went wrong: the first panic's message and place when the
/// process panicked (its last line is then the backtrace hint, and later panics, like "a scoped
/// thread panicked", follow from the first), else the last line.
fn failure_line(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.contains(" panicked at ")) {
        let place = lines[i].split(" panicked at ").nth(1).unwrap_or("").trim().trim_end_matches(':');
        let what = lines.get(i + 1).map(|l| l.trim()).filter(|l| !l.is_empty()).unwrap_or("no message");
        return Some(format!("the dub crashed: {what} (at {place}); please report it"));
    }
    lines.iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().trim_start_matches("error: ").to_string())
}

/// A message for clients: the machine's folders are not theirs to see. The studio's folder
/// reads `<studio>`, and any other absolute path is cut to its file name.
pub fn public_message(studio: &Studio, message: &str) -> String {
    let home = studio.config.home.display().to_string();
    let m = message.replace(&home, "<studio>");
    let mut out: String = m
        .split(' ')
        .map(|word| {
            let start = word.find('/').filter(|&i| word[..i].chars().all(|c| "\"'(`[".contains(c)));
            match start {
                Some(i) if word[i..].matches('/').count() > 1 => {
                    let tail = word.rsplit('/').next().unwrap_or("");
                    format!("{}…/{tail}", &word[..i])
                }
                _ => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    out.truncate(2_000);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_reports_its_first_panic_not_the_backtrace_hint() {
        let stderr = "  #8 0:28 S2 Oye\n\
thread '<unnamed>' (6344) panicked at /src/ort/lib.rs:236:58:\n\
Failed to load ONNX Runtime dylib\n\
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
\n\
thread 'main' (6312) panicked at crates/x/synthesize.rs:432:5:\n\
a scoped thread panicked\n\
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n";
        assert_eq!(
            failure_line(stderr).as_deref(),
            Some("the dub crashed: Failed to load ONNX Runtime dylib (at /src/ort/lib.rs:236:58); please report it")
        );
        assert_eq!(failure_line("progress\nerror: input.mp4: no audio\n").as_deref(), Some("input.mp4: no audio"));
        assert_eq!(failure_line(" \n"), None);
    }

    #[test]
    fn messages_keep_file_names_not_paths() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = crate::Config::new(dir.path().join("studio"), "/bin/true".into(), ([127, 0, 0, 1], 0).into());
        let studio = crate::Studio::open(config).unwrap_or_else(|e| panic!("{e}"));
        let home = studio.config.home.display().to_string();
        let m = public_message(
            &studio,
            &format!("{home}/jobs/a/x.wav: bad; model '/root/.cache/redub/models/kokoro/k.onnx' missing"),
        );
        assert_eq!(m, "<studio>/jobs/a/x.wav: bad; model '…/k.onnx' missing");
        assert_eq!(public_message(&studio, "speak 1/2 of it"), "speak 1/2 of it");
    }
}
