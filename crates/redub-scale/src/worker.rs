//! `redub worker --nats URL`: take tasks one at a time, run them with models loaded once, keep
//! their parts and results in the bucket, and acknowledge a task only after its result is
//! stored. A worker started before NATS waits for it; a NATS restart is waited out.

use crate::bus::Bus;
use crate::wire::{event_subject, file_object, parts_object, result_object, Envelope, PlainError, Reply, WireFile};
use crate::Settings;
use async_nats::jetstream::{consumer::PullConsumer, AckKind, Message};
use futures_util::StreamExt;
use redub_core::{Error, Result};
use redub_pipeline::workshop::Workshop;
use redub_pipeline::{Task, TaskFile};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A worker's name (in its messages and in the results it stores) and where it keeps files.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub settings: Settings,
    pub name: String,
    /// Task input files by content (the job's audio is fetched once for all its windows) and
    /// each running task's folder.
    pub cache_dir: PathBuf,
}

/// Run tasks until the process is stopped; returns only on an error that retrying cannot fix.
pub fn run(opts: &WorkerOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::backend("nats", format!("cannot start the NATS client's runtime: {e}")))?;
    say(opts, &format!("waiting for NATS at {}", opts.settings.url));
    let bus = rt.block_on(Bus::connect(&opts.settings, &format!("redub worker {}", opts.name), true))?;
    let consumer = rt.block_on(bus.consumer())?;
    say(opts, "connected; taking tasks");
    let mut workshop = Workshop::new();
    let running: Running = Arc::default();
    rt.spawn(stop_on_signal(running.clone(), opts.name.clone()));
    loop {
        let msg = rt.block_on(next_task(opts, &consumer));
        handle(&rt, &bus, opts, msg, &mut workshop, &running)?;
    }
}

/// The task being run, for the signal handler.
type Running = Arc<Mutex<Option<Arc<Message>>>>;

/// On SIGTERM or Ctrl-C (a systemd stop, a container stop): hand the running task back at once
/// (a negative ack: it is delivered again now, not after the ack wait; the parts it kept are in
/// the bucket), then exit.
async fn stop_on_signal(running: Running, name: String) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let current = running.lock().ok().and_then(|r| r.clone());
    if let Some(msg) = current {
        let _ = msg.ack_with(AckKind::Nak(None)).await;
        eprintln!("redub worker {name}: stopping; the running task goes back to the queue");
    } else {
        eprintln!("redub worker {name}: stopping");
    }
    std::process::exit(0);
}

fn say(opts: &WorkerOptions, what: &str) {
    eprintln!("redub worker {}: {what}", opts.name);
}

/// The next task, waiting as long as it takes (through NATS restarts too).
async fn next_task(opts: &WorkerOptions, consumer: &PullConsumer) -> Message {
    let mut told = false;
    loop {
        match consumer.fetch().max_messages(1).expires(Duration::from_secs(5)).messages().await {
            Ok(mut batch) => {
                while let Some(m) = batch.next().await {
                    match m {
                        Ok(m) => return m,
                        Err(e) if !told => {
                            say(opts, &format!("fetching a task: {e}; trying again"));
                            told = true;
                        }
                        Err(_) => {}
                    }
                }
            }
            Err(e) => {
                if !told {
                    say(opts, &format!("fetching a task: {e}; trying again"));
                    told = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn handle(
    rt: &tokio::runtime::Runtime,
    bus: &Bus,
    opts: &WorkerOptions,
    msg: Message,
    workshop: &mut Workshop,
    running: &Running,
) -> Result<()> {
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
    let env: Envelope = match serde_json::from_slice(&msg.payload) {
        Ok(e) => e,
        Err(e) => {
            say(opts, &format!("dropping a message that is not a task ({e})"));
            let _ = rt.block_on(msg.ack_with(AckKind::Term));
            return Ok(());
        }
    };
    // Run before and stored (its first worker died after storing, before acknowledging).
    if rt.block_on(bus.exists(&result_object(&env.key)))? {
        say(opts, &format!("{} is already done", env.label));
        let _ = rt.block_on(msg.double_ack());
        return Ok(());
    }
    say(opts, &format!("started {} of job {} (delivery {delivered})", env.label, env.job));
    let event = |what: &str| {
        let data = serde_json::json!({ "event": what, "worker": opts.name, "key": env.key, "kind": env.kind, "delivery": delivered });
        let _ = rt.block_on(bus.client.publish(event_subject(&env.key), data.to_string().into()));
    };
    event("started");
    let msg = Arc::new(msg);
    if let Ok(mut r) = running.lock() {
        *r = Some(msg.clone());
    }
    // Progress reports keep the task ours while it runs longer than the ack wait.
    let beat = {
        let (msg, every) = (msg.clone(), (bus.settings.ack_wait / 3).max(Duration::from_millis(500)));
        rt.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = msg.ack_with(AckKind::Progress).await;
            }
        })
    };
    let dir = opts.cache_dir.join("tasks").join(&env.key);
    let reply = match run_task(rt, bus, opts, &env, &dir, workshop) {
        Ok(r) => r,
        Err(e) => Reply::Failed { error: plain(&e, &opts.name) },
    };
    beat.abort();
    if let Ok(mut r) = running.lock() {
        *r = None;
    }
    let text = serde_json::to_vec(&reply).map_err(|e| Error::backend("worker", format!("reply: {e}")))?;
    rt.block_on(bus.put(&result_object(&env.key), &text))?;
    let _ = rt.block_on(bus.client.publish(crate::wire::done_subject(&env.key), bytes::Bytes::new()));
    // Only now: a worker that dies before this line leaves the task to be delivered again.
    if let Err(e) = rt.block_on(msg.double_ack()) {
        say(opts, &format!("acknowledging {}: {e} (it will be delivered again and found done)", env.label));
    }
    match &reply {
        Reply::Done { .. } => {
            say(opts, &format!("finished {}", env.label));
            event("done");
        }
        Reply::Failed { error } => {
            say(opts, &format!("{} failed: {}", env.label, error.message));
            event("failed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Fetch the task's files and the parts an earlier delivery kept, run it, store what it made.
fn run_task(
    rt: &tokio::runtime::Runtime,
    bus: &Bus,
    opts: &WorkerOptions,
    env: &Envelope,
    dir: &Path,
    workshop: &mut Workshop,
) -> Result<Reply> {
    let files_dir = opts.cache_dir.join("files");
    let mut files = Vec::new();
    for f in &env.files {
        let local = files_dir.join(&f.sha256);
        if !local.is_file() && !rt.block_on(bus.get_file(&file_object(&f.sha256), &local))? {
            return Err(Error::backend(
                "worker",
                format!("the coordinator's file {} ({}) is not in the bucket", f.name, f.sha256),
            ));
        }
        files.push(TaskFile { name: f.name.clone(), path: local });
    }
    // Parts kept by an earlier delivery of this task (on any machine) are not made again.
    let mut parts: Vec<WireFile> = match rt.block_on(bus.get(&parts_object(&env.key)))? {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        None => Vec::new(),
    };
    for p in &parts {
        rt.block_on(bus.get_file(&file_object(&p.sha256), &dir.join(&p.name)))?;
    }
    if !parts.is_empty() {
        say(opts, &format!("{}: {} parts kept from an earlier delivery", env.label, parts.len()));
    }
    let parts_lock = Mutex::new(&mut parts);
    let kept = |made: &[TaskFile]| {
        // A part that cannot be stored is only made again if this delivery dies too.
        let r: Result<()> = (|| {
            let mut list = parts_lock.lock().map_err(|_| Error::backend("worker", "parts list poisoned"))?;
            for f in made {
                let sha256 = redub_pipeline::farm::file_sha256(&f.path)?;
                rt.block_on(bus.put_file_once(&file_object(&sha256), &f.path))?;
                list.retain(|p| p.name != f.name);
                list.push(WireFile { name: f.name.clone(), sha256 });
            }
            let text = serde_json::to_vec(&**list).map_err(|e| Error::backend("worker", e.to_string()))?;
            rt.block_on(bus.put(&parts_object(&env.key), &text))?;
            say(opts, &format!("{}: kept {} parts", env.label, list.len()));
            Ok(())
        })();
        if let Err(e) = r {
            say(opts, &format!("{}: keeping a part: {e}", env.label));
        }
    };
    let task = Task {
        kind: env.kind.clone(),
        key: env.key.clone(),
        label: env.label.clone(),
        input: env.input.clone(),
        files,
    };
    let out = workshop.execute(&task, dir, &kept)?;
    let mut stored = Vec::new();
    for f in &out.files {
        let sha256 = redub_pipeline::farm::file_sha256(&f.path)?;
        rt.block_on(bus.put_file_once(&file_object(&sha256), &f.path))?;
        stored.push(WireFile { name: f.name.clone(), sha256 });
    }
    Ok(Reply::Done { output: out.output, files: stored, worker: opts.name.clone() })
}

/// An error as plain JSON: its kind and its message.
fn plain(e: &Error, worker: &str) -> PlainError {
    let kind = match e {
        Error::Input { .. } => "input",
        Error::Unsupported(_) => "unsupported",
        Error::Usage(_) => "usage",
        Error::MissingModel { .. } => "missing_model",
        Error::Backend { .. } => "backend",
        Error::Process { .. } => "process",
        Error::Io { .. } => "io",
        Error::Json { .. } => "json",
        Error::Cancelled => "cancelled",
        #[allow(unreachable_patterns)]
        _ => "other",
    };
    PlainError { kind: kind.into(), message: e.to_string(), worker: worker.to_string() }
}
