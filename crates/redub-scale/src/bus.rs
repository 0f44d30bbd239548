//! The connection to NATS and the few JetStream operations both sides use, each retried while
//! the server is unreachable (a restart), up to [`Settings::patience`].

use crate::wire::{task_subject, Envelope};
use crate::{Settings, BUCKET, CONSUMER, STREAM};
use async_nats::jetstream::{self, consumer, object_store, stream};
use redub_core::{Error, Result};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// A connected client with the stream, the consumer and the bucket made.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub settings: Settings,
    bucket: object_store::ObjectStore,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("url", &self.settings.url).finish_non_exhaustive()
    }
}

fn nats_error(url: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::backend("nats", format!("{what} at {url}: {e}; is `nats-server -js` running there (docs/scale-out.md)?"))
}

impl Bus {
    /// Connect and make (or find) the stream, the consumer and the bucket. With `wait` (a
    /// worker), a server that is not there yet is waited for without end; without it (a
    /// coordinator), an unreachable server fails at once with what to do.
    pub async fn connect(settings: &Settings, name: &str, wait: bool) -> Result<Self> {
        let mut opts = async_nats::ConnectOptions::new().name(name).connection_timeout(Duration::from_secs(5));
        if wait {
            opts = opts.retry_on_initial_connect();
        }
        let client =
            opts.connect(settings.url.as_str()).await.map_err(|e| nats_error(&settings.url, "cannot reach NATS", e))?;
        let js = jetstream::new(client.clone());
        let patience = if wait { Duration::MAX } else { settings.patience };
        let bucket =
            retry(&settings.url, "making the stream and the bucket", patience, || ensure(&js, settings)).await?;
        Ok(Self { client, js, settings: settings.clone(), bucket })
    }

    async fn retry<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, String>>,
    {
        retry(&self.settings.url, what, self.settings.patience, f).await
    }

    /// The durable consumer workers pull from.
    pub async fn consumer(&self) -> Result<consumer::PullConsumer> {
        let js = self.js.clone();
        let s = self.settings.clone();
        self.retry("finding the workers' consumer", || {
            let (js, s) = (js.clone(), s.clone());
            async move {
                let stream = js.get_stream(STREAM).await.map_err(|e| e.to_string())?;
                stream.get_or_create_consumer(CONSUMER, consumer_config(&s)).await.map_err(|e| e.to_string())
            }
        })
        .await
    }

    /// Publish a task; its key is the message id, so a task published twice within the
    /// stream's duplicate window is queued once. Returns its stream sequence.
    pub async fn publish(&self, env: &Envelope) -> Result<u64> {
        let payload: bytes::Bytes = serde_json::to_vec(env)
            .map_err(|e| Error::backend("nats", format!("task does not serialize: {e}")))?
            .into();
        let js = self.js.clone();
        self.retry(&format!("queueing {}", env.label), || {
            let (js, payload) = (js.clone(), payload.clone());
            let msg = jetstream::message::PublishMessage::build().payload(payload).message_id(&env.key);
            let subject = task_subject(&env.kind);
            async move {
                let ack = js.send_publish(subject, msg).await.map_err(|e| e.to_string())?;
                Ok(ack.await.map_err(|e| e.to_string())?.sequence)
            }
        })
        .await
    }

    /// The bytes of object `name`, or `None` when there is none.
    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let bucket = self.bucket.clone();
        self.retry(&format!("reading {name}"), || {
            let bucket = bucket.clone();
            async move {
                match bucket.get(name).await {
                    Ok(mut obj) => {
                        let mut bytes = Vec::new();
                        obj.read_to_end(&mut bytes).await.map_err(|e| e.to_string())?;
                        Ok(Some(bytes))
                    }
                    Err(e) if e.kind() == object_store::GetErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
    }

    /// Whether object `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool> {
        let bucket = self.bucket.clone();
        self.retry(&format!("looking for {name}"), || {
            let bucket = bucket.clone();
            async move {
                match bucket.info(name).await {
                    Ok(info) => Ok(!info.deleted),
                    Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(false),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
    }

    /// Store `bytes` as object `name` (replacing what was there).
    pub async fn put(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let bucket = self.bucket.clone();
        self.retry(&format!("storing {name}"), || {
            let bucket = bucket.clone();
            async move {
                let mut reader = bytes;
                bucket.put(name, &mut reader).await.map(|_| ()).map_err(|e| e.to_string())
            }
        })
        .await
    }

    /// Drop object `name` (none there is fine).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let bucket = self.bucket.clone();
        self.retry(&format!("dropping {name}"), || {
            let bucket = bucket.clone();
            async move {
                match bucket.delete(name).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == object_store::DeleteErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
    }

    /// Store the file at `path` as object `name`, unless an object of that name exists (names
    /// of files are their content's hash).
    pub async fn put_file_once(&self, name: &str, path: &Path) -> Result<()> {
        if self.exists(name).await? {
            return Ok(());
        }
        let bucket = self.bucket.clone();
        self.retry(&format!("storing {}", path.display()), || {
            let bucket = bucket.clone();
            async move {
                let mut f = tokio::fs::File::open(path).await.map_err(|e| format!("{}: {e}", path.display()))?;
                bucket.put(name, &mut f).await.map(|_| ()).map_err(|e| e.to_string())
            }
        })
        .await
    }

    /// Object `name` into the file `to` (written beside it, then renamed).
    pub async fn get_file(&self, name: &str, to: &Path) -> Result<bool> {
        let Some(bytes) = self.get(name).await? else { return Ok(false) };
        redub_media::write_atomic(to, &bytes)?;
        Ok(true)
    }
}

fn consumer_config(s: &Settings) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(CONSUMER.to_string()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: s.ack_wait,
        max_deliver: s.max_deliver,
        // Workers fetch one task at a time; this bounds only the tasks in flight over all.
        max_ack_pending: 10_000,
        ..Default::default()
    }
}

/// The stream, the consumer and the bucket, made when missing.
async fn ensure(js: &jetstream::Context, s: &Settings) -> std::result::Result<object_store::ObjectStore, String> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: STREAM.to_string(),
            subjects: vec!["redub.tasks.>".to_string()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    stream.get_or_create_consumer(CONSUMER, consumer_config(s)).await.map_err(|e| e.to_string())?;
    match js.get_object_store(BUCKET).await {
        Ok(b) => Ok(b),
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: BUCKET.to_string(),
                description: Some("redub: task files, parts and results".into()),
                max_age: s.keep,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string()),
    }
}

/// Run `f` until it succeeds, waiting longer between tries (up to 5 s), for at most `patience`.
pub async fn retry<T, F, Fut>(url: &str, what: &str, patience: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, String>>,
{
    let start = Instant::now();
    let mut wait = Duration::from_millis(200);
    let mut told = false;
    loop {
        match f().await {
            Ok(v) => {
                if told {
                    eprintln!("redub: NATS at {url} answers again ({what})");
                }
                return Ok(v);
            }
            Err(e) if start.elapsed() >= patience => {
                return Err(nats_error(url, &format!("{what} failed for {} s", start.elapsed().as_secs()), e));
            }
            Err(e) => {
                if !told {
                    eprintln!("redub: {what}: {e}; trying again while NATS at {url} is unreachable");
                    told = true;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
