//! The coordinator's side: [`NatsFarm`] queues a stage's tasks, waits for their results and
//! brings their files back.

use crate::bus::Bus;
use crate::wire::{file_object, result_object, Envelope, Reply, WireFile};
use crate::{Settings, CONSUMER, STREAM};
use futures_util::StreamExt;
use redub_core::{Error, Result};
use redub_pipeline::{EventSink, Farm, Task, TaskFile, TaskOutput};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How often pending results are looked for besides the workers' notices (a notice sent while
/// the coordinator was disconnected is not sent again).
const POLL: Duration = Duration::from_secs(5);

/// A file as it is on disk now: path, size, modification time.
type FileId = (PathBuf, u64, Option<SystemTime>);

/// A `Farm` on NATS JetStream.
pub struct NatsFarm {
    rt: tokio::runtime::Runtime,
    bus: Bus,
    job: String,
    events: EventSink,
    /// File hashes by path, size and modification time: the job's audio is hashed once, not
    /// once per window.
    hashes: Mutex<HashMap<FileId, String>>,
}

impl std::fmt::Debug for NatsFarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsFarm").field("bus", &self.bus).field("job", &self.job).finish_non_exhaustive()
    }
}

impl NatsFarm {
    /// Connect to NATS for a job named `job` (for the workers' logs); worker progress becomes
    /// `task` events on `events`.
    pub fn connect(settings: &Settings, job: &str, events: EventSink) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::backend("nats", format!("cannot start the NATS client's runtime: {e}")))?;
        let bus = rt.block_on(Bus::connect(settings, &format!("redub coordinator {job}"), false))?;
        Ok(Self { rt, bus, job: job.to_string(), events, hashes: Mutex::new(HashMap::new()) })
    }

    fn sha256(&self, path: &Path) -> Result<String> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let id = (path.to_path_buf(), meta.len(), meta.modified().ok());
        if let Some(h) = self.hashes.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(h);
        }
        let h = redub_pipeline::farm::file_sha256(path)?;
        if let Ok(mut m) = self.hashes.lock() {
            m.insert(id, h.clone());
        }
        Ok(h)
    }

    async fn run_async(
        &self,
        tasks: &[Task],
        out_dir: &Path,
        done: &mut dyn FnMut(usize, TaskOutput) -> Result<()>,
    ) -> Result<()> {
        let client = &self.bus.client;
        let sub = |s: String| async move {
            client.subscribe(s.clone()).await.map_err(|e| Error::backend("nats", format!("subscribing to {s}: {e}")))
        };
        // Subscribed before anything is queued, so no notice is missed.
        let mut notices = sub("redub.done.>".into()).await?;
        let mut progress = sub("redub.events.>".into()).await?;
        let mut gave_up = sub(format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM}.{CONSUMER}")).await?;
        let mut pending: HashMap<String, usize> = HashMap::new();
        let mut seqs: HashMap<u64, usize> = HashMap::new();
        for (i, t) in tasks.iter().enumerate() {
            if self.finish(t, i, out_dir, done).await? {
                continue;
            }
            let mut files = Vec::new();
            for f in &t.files {
                let sha256 = self.sha256(&f.path)?;
                self.bus.put_file_once(&file_object(&sha256), &f.path).await?;
                files.push(WireFile { name: f.name.clone(), sha256 });
            }
            let seq = self.bus.publish(&Envelope::new(&self.job, t, files)).await?;
            seqs.insert(seq, i);
            pending.insert(t.key.clone(), i);
        }
        let result =
            self.wait(tasks, out_dir, done, &mut pending, &seqs, (&mut notices, &mut progress, &mut gave_up)).await;
        if result.is_err() {
            // The job stops here: what it queued and nobody ran yet is taken off the queue.
            self.withdraw(seqs.iter().filter(|(_, i)| pending.values().any(|p| p == *i)).map(|(s, _)| *s)).await;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn wait(
        &self,
        tasks: &[Task],
        out_dir: &Path,
        done: &mut dyn FnMut(usize, TaskOutput) -> Result<()>,
        pending: &mut HashMap<String, usize>,
        seqs: &HashMap<u64, usize>,
        subs: (&mut async_nats::Subscriber, &mut async_nats::Subscriber, &mut async_nats::Subscriber),
    ) -> Result<()> {
        let (notices, progress, gave_up) = subs;
        let mut poll = tokio::time::interval(POLL);
        while !pending.is_empty() {
            tokio::select! {
                Some(msg) = notices.next() => {
                    let key = msg.subject.as_str().trim_start_matches("redub.done.").to_string();
                    if let Some(&i) = pending.get(&key) {
                        if self.finish(&tasks[i], i, out_dir, done).await? {
                            pending.remove(&key);
                        }
                    }
                }
                Some(msg) = progress.next() => {
                    let key = msg.subject.as_str().trim_start_matches("redub.events.");
                    if let Some(&i) = pending.get(key) {
                        let mut data: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap_or_default();
                        data["label"] = tasks[i].label.clone().into();
                        self.events.emit("task", data);
                    }
                }
                Some(msg) = gave_up.next() => {
                    let advisory: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap_or_default();
                    let seq = advisory["stream_seq"].as_u64().unwrap_or(0);
                    if let Some(&i) = seqs.get(&seq) {
                        let t = &tasks[i];
                        if pending.contains_key(&t.key) && !self.finish(t, i, out_dir, done).await? {
                            return Err(Error::backend("nats", format!(
                                "{} (task {} {}) was delivered {} times and never finished: its workers died or were stopped while running it; see the `redub worker` logs, then run the job again (finished tasks are kept)",
                                t.label, t.kind, t.key, advisory["deliveries"].as_u64().unwrap_or(0)
                            )));
                        }
                        pending.remove(&t.key);
                    }
                }
                _ = poll.tick() => {
                    let keys: Vec<(String, usize)> = pending.iter().map(|(k, i)| (k.clone(), *i)).collect();
                    for (key, i) in keys {
                        if self.finish(&tasks[i], i, out_dir, done).await? {
                            pending.remove(&key);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Hand task `i`'s stored result to `done`, if it has one: `Ok(false)` when it has none
    /// yet, an error naming the task when it failed.
    async fn finish(
        &self,
        t: &Task,
        i: usize,
        out_dir: &Path,
        done: &mut dyn FnMut(usize, TaskOutput) -> Result<()>,
    ) -> Result<bool> {
        let Some(bytes) = self.bus.get(&result_object(&t.key)).await? else { return Ok(false) };
        let reply: Reply = serde_json::from_slice(&bytes)
            .map_err(|e| Error::backend("nats", format!("{}: the stored result does not parse ({e})", t.label)))?;
        match reply {
            Reply::Failed { error } => {
                // Not kept: a rerun of the job (a worker fixed, models installed) tries again.
                self.bus.delete(&result_object(&t.key)).await?;
                Err(Error::backend(
                    "worker",
                    format!("{} failed on worker {}: {} ({} error)", t.label, error.worker, error.message, error.kind),
                ))
            }
            Reply::Done { output, files, .. } => {
                let mut local = Vec::new();
                for f in files {
                    let to = out_dir.join(&f.name);
                    if !self.bus.get_file(&file_object(&f.sha256), &to).await? {
                        return Err(Error::backend(
                            "nats",
                            format!("{}: its file {} is not in the bucket", t.label, f.name),
                        ));
                    }
                    local.push(TaskFile { name: f.name, path: to });
                }
                done(i, TaskOutput { output, files: local })?;
                Ok(true)
            }
        }
    }

    async fn withdraw(&self, seqs: impl Iterator<Item = u64>) {
        if let Ok(stream) = self.bus.js.get_stream(STREAM).await {
            for s in seqs {
                let _ = stream.delete_message(s).await;
            }
        }
    }
}

impl Farm for NatsFarm {
    fn run(&self, tasks: &[Task], out_dir: &Path, done: &mut dyn FnMut(usize, TaskOutput) -> Result<()>) -> Result<()> {
        std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
        self.rt.block_on(self.run_async(tasks, out_dir, done))
    }
}
