//! The studio's server (`redub serve`, issue #15): jobs created by upload, kept in SQLite under
//! `REDUB_HOME/studio`, run one at a time in order, each as a `redub dub … --json` child process
//! whose events become the job's events (stored, and sent to SSE clients). A job with review on
//! stops after translation; a person edits its lines and approves it. Nothing here links a model:
//! if a job crashes, only its child process dies.
//!
//! Layout of the studio folder: `studio.db`, `token` (owner-only), `uploads/<job>/input.<ext>`,
//! `outputs/<job>/dub.mp4` (+ subtitles), `jobs/` (the pipeline's job folders).

pub mod api;
pub mod auth;
pub mod job;
pub mod queue;
pub mod store;
pub mod upload;

use redub_core::{Error, Event, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The studio folder (default `$REDUB_HOME/studio`).
    pub home: PathBuf,
    /// The `redub` program that runs each job (the server's own binary).
    pub exe: PathBuf,
    pub bind: SocketAddr,
    /// Largest upload accepted.
    pub max_upload_bytes: u64,
    /// Most jobs waiting in the queue at once.
    pub max_queued: usize,
    /// Most SSE clients at once.
    pub max_sse_clients: usize,
    /// Built web app to serve at `/` (its `index.html` and assets), if any.
    pub web_dir: Option<PathBuf>,
    /// Flags every job's `redub dub` gets besides its own options (`--nats URL`: the job's
    /// units run on the workers of that NATS server).
    pub dub_args: Vec<String>,
}

impl Config {
    pub fn new(home: PathBuf, exe: PathBuf, bind: SocketAddr) -> Self {
        Self {
            home,
            exe,
            bind,
            max_upload_bytes: 4 << 30,
            max_queued: 32,
            max_sse_clients: 64,
            web_dir: None,
            dub_args: Vec::new(),
        }
    }
    pub fn uploads(&self) -> PathBuf {
        self.home.join("uploads")
    }
    pub fn outputs(&self) -> PathBuf {
        self.home.join("outputs")
    }
    pub fn jobs(&self) -> PathBuf {
        self.home.join("jobs")
    }
}

/// What every request handler and the queue share.
pub struct Studio {
    pub config: Config,
    pub store: store::Store,
    /// API token; `None` when bound to loopback (nothing else can reach the server).
    pub token: Option<String>,
    /// Every job's live events, tagged with the job id.
    pub live: tokio::sync::broadcast::Sender<(String, Event)>,
    pub(crate) wake: tokio::sync::Notify,
    pub(crate) running: tokio::sync::Mutex<Option<queue::Running>>,
    pub(crate) sse_clients: AtomicUsize,
}

impl Studio {
    /// Open the studio folder: the database, and the token when `bind` is not loopback. Jobs
    /// that were running when the server last stopped are queued again (they resume from their
    /// last finished stage).
    pub fn open(config: Config) -> Result<Arc<Self>> {
        for d in [config.home.clone(), config.uploads(), config.outputs(), config.jobs()] {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        let store = store::Store::open(&config.home.join("studio.db"))?;
        for mut j in store.list()? {
            if j.status == job::Status::Running {
                j.status = job::Status::Queued;
                store.update(&j)?;
            }
        }
        let token = if config.bind.ip().is_loopback() { None } else { Some(auth::load_or_create(&config.home)?) };
        let (live, _) = tokio::sync::broadcast::channel(1024);
        Ok(Arc::new(Self {
            config,
            store,
            token,
            live,
            wake: tokio::sync::Notify::new(),
            running: tokio::sync::Mutex::new(None),
            sse_clients: AtomicUsize::new(0),
        }))
    }

    /// Let the queue look for work.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Serve until the process ends: the queue and the API on `config.bind`.
pub async fn serve(studio: Arc<Studio>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(studio.config.bind)
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", studio.config.bind)))?;
    tokio::spawn(queue::run(studio.clone()));
    let app = api::router(studio);
    axum::serve(listener, app).await.map_err(|e| Error::backend("studio server", e))
}
