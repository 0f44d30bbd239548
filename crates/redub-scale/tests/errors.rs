//! How failures cross machines, on a real `nats-server -js` (loopback, temporary folder): a
//! task the worker cannot run comes back as plain JSON and fails the job with a message that
//! names the task and the worker; a task delivered `max_deliver` times without an answer fails
//! the job naming the task.

#![allow(clippy::unwrap_used)]

use redub_pipeline::{EventSink, Farm, Task, TaskFile};
use redub_scale::wire::{file_object, result_object};
use redub_scale::{Bus, NatsFarm, Settings};
use redub_testserver::{free_port, nats_url, NatsServer};
use std::path::Path;
use std::time::{Duration, Instant};

fn task(kind: &str, label: &str, file: &Path) -> Task {
    Task {
        kind: kind.into(),
        key: redub_pipeline::farm::task_key(kind, &serde_json::json!({ "label": label }), &[]),
        label: label.into(),
        input: serde_json::json!({}),
        files: vec![TaskFile { name: "note.txt".into(), path: file.to_path_buf() }],
    }
}

#[test]
fn a_task_the_worker_cannot_run_fails_the_job_with_a_plain_message() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = NatsServer::start(port, &tmp.path().join("nats"));
    let url = nats_url(port);
    let mut settings = Settings::new(&url);
    settings.ack_wait = Duration::from_secs(2);
    let opts = redub_scale::worker::WorkerOptions {
        settings: settings.clone(),
        name: "w-test".into(),
        cache_dir: tmp.path().join("worker"),
    };
    std::thread::spawn(move || redub_scale::worker::run(&opts));

    let file = tmp.path().join("note.txt");
    std::fs::write(&file, "a file the task reads").unwrap();
    let farm = NatsFarm::connect(&settings, "errors-test", EventSink::silent()).unwrap();
    let t = task("no-such-kind", "the bogus task", &file);
    let err = farm.run(std::slice::from_ref(&t), &tmp.path().join("out"), &mut |_, _| Ok(())).unwrap_err().to_string();
    println!("the job's error: {err}");
    assert!(err.contains("the bogus task") && err.contains("w-test"), "names the task and the worker: {err}");
    assert!(err.contains("does not know tasks of kind 'no-such-kind'"), "{err}");

    // The failure is not kept (a rerun tries again), and the file went up once, by content.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bus = rt.block_on(Bus::connect(&settings, "test reader", false)).unwrap();
    assert_eq!(rt.block_on(bus.get(&result_object(&t.key))).unwrap(), None);
    let sha = redub_pipeline::farm::file_sha256(&file).unwrap();
    assert!(rt.block_on(bus.exists(&file_object(&sha))).unwrap());
}

#[test]
fn a_task_nobody_finishes_fails_the_job_naming_it_after_max_deliver() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = NatsServer::start(port, &tmp.path().join("nats"));
    let url = nats_url(port);
    let mut settings = Settings::new(&url);
    settings.ack_wait = Duration::from_secs(1);
    settings.max_deliver = 2;
    let file = tmp.path().join("note.txt");
    std::fs::write(&file, "another file").unwrap();

    // A worker that takes the task and dies every time: it fetches and never answers.
    let s = settings.clone();
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let count = taken.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            use futures_util::StreamExt;
            let bus = Bus::connect(&s, "dying worker", true).await.unwrap();
            let consumer = bus.consumer().await.unwrap();
            let mut held = Vec::new();
            loop {
                let mut batch =
                    consumer.fetch().max_messages(1).expires(Duration::from_millis(500)).messages().await.unwrap();
                while let Some(Ok(m)) = batch.next().await {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    held.push(m);
                }
            }
        });
    });

    let farm = NatsFarm::connect(&settings, "errors-test", EventSink::silent()).unwrap();
    let t = task("transcribe-window", "window 0:00:00–0:00:28", &file);
    let t0 = Instant::now();
    let err = farm.run(std::slice::from_ref(&t), &tmp.path().join("out"), &mut |_, _| Ok(())).unwrap_err().to_string();
    println!(
        "after {:.1} s and {} deliveries: {err}",
        t0.elapsed().as_secs_f64(),
        taken.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(err.contains("window 0:00:00–0:00:28") && err.contains("delivered 2 times"), "{err}");
    assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 2);
}
