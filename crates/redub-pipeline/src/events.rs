//! Events (DESIGN §5): one envelope, appended to `events.jsonl` and handed to a listener (the
//! CLI prints JSON lines or drives progress bars from them).

use redub_core::{Error, Event, Result};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

#[derive(Clone)]
pub struct EventSink {
    job: String,
    log: Option<Arc<Mutex<std::fs::File>>>,
    listener: Option<Listener>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink").field("job", &self.job).finish_non_exhaustive()
    }
}

impl EventSink {
    pub fn silent() -> Self {
        Self { job: String::new(), log: None, listener: None }
    }

    pub fn with_listener(listener: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Self { job: String::new(), log: None, listener: Some(Arc::new(listener)) }
    }

    /// Also append every event to `path` (the job's `events.jsonl`).
    pub fn with_log(mut self, path: &Path, job: &str) -> Result<Self> {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
        self.log = Some(Arc::new(Mutex::new(f)));
        self.job = job.to_string();
        Ok(self)
    }

    pub fn emit(&self, kind: &str, data: serde_json::Value) {
        let ev = Event::new(kind, &self.job, data);
        if let Some(log) = &self.log {
            if let (Ok(mut f), Ok(line)) = (log.lock(), serde_json::to_string(&ev)) {
                // The log is a record, not the product: a full disk shows up in the stage outputs.
                let _ = writeln!(f, "{line}");
            }
        }
        if let Some(l) = &self.listener {
            l(&ev);
        }
    }

    /// A progress callback for a stage that emits at most one event per percent.
    pub fn progress_fn(&self, stage: &str) -> impl Fn(u64, u64) + Sync + '_ {
        let last = Mutex::new(u64::MAX);
        let stage = stage.to_string();
        move |done, total| {
            let pct = (done.min(total) * 100).checked_div(total).unwrap_or(100);
            if let Ok(mut l) = last.lock() {
                if *l == pct {
                    return;
                }
                *l = pct;
            }
            self.emit("stage_progress", serde_json::json!({ "stage": stage, "done": done, "total": total }));
        }
    }
}
