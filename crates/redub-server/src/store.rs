//! Jobs and their events in SQLite (`$REDUB_HOME/studio/studio.db`). A job is one JSON record
//! (its options and state), so adding a field needs no migration; events are kept in order, so a
//! new SSE client and a restarted server see everything a job did.

use crate::job::{JobRecord, Status};
use redub_core::{Error, Event, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

pub struct Store {
    db: Mutex<Connection>,
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::backend("studio database", e)
}

impl Store {
    /// Open (or create) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Connection::open(path).map_err(db_err)?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS jobs (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL UNIQUE,
                 record TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS events (
                 job TEXT NOT NULL,
                 n INTEGER NOT NULL,
                 event TEXT NOT NULL,
                 PRIMARY KEY (job, n)
             );",
        )
        .map_err(db_err)?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolled back.
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn insert(&self, job: &JobRecord) -> Result<()> {
        let text = serde_json::to_string(job).map_err(|e| Error::backend("studio database", e))?;
        self.db().execute("INSERT INTO jobs (id, record) VALUES (?1, ?2)", params![job.id, text]).map_err(db_err)?;
        Ok(())
    }

    pub fn update(&self, job: &JobRecord) -> Result<()> {
        let text = serde_json::to_string(job).map_err(|e| Error::backend("studio database", e))?;
        self.db().execute("UPDATE jobs SET record = ?2 WHERE id = ?1", params![job.id, text]).map_err(db_err)?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<JobRecord>> {
        let text: Option<String> = self
            .db()
            .query_row("SELECT record FROM jobs WHERE id = ?1", params![id], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| Error::backend("studio database", e))).transpose()
    }

    /// Every job, oldest first.
    pub fn list(&self) -> Result<Vec<JobRecord>> {
        let db = self.db();
        let mut q = db.prepare("SELECT record FROM jobs ORDER BY seq").map_err(db_err)?;
        let rows = q.query_map([], |r| r.get::<_, String>(0)).map_err(db_err)?;
        let mut out = Vec::new();
        for t in rows {
            let t = t.map_err(db_err)?;
            out.push(serde_json::from_str(&t).map_err(|e| Error::backend("studio database", e))?);
        }
        Ok(out)
    }

    /// The oldest job waiting to run.
    pub fn next_queued(&self) -> Result<Option<JobRecord>> {
        Ok(self.list()?.into_iter().find(|j| j.status == Status::Queued))
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        let db = self.db();
        db.execute("DELETE FROM events WHERE job = ?1", params![id]).map_err(db_err)?;
        db.execute("DELETE FROM jobs WHERE id = ?1", params![id]).map_err(db_err)?;
        Ok(())
    }

    /// Append an event to a job's history.
    pub fn add_event(&self, id: &str, event: &Event) -> Result<()> {
        let text = serde_json::to_string(event).map_err(|e| Error::backend("studio database", e))?;
        self.db()
            .execute(
                "INSERT INTO events (job, n, event)
                 VALUES (?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM events WHERE job = ?1), ?2)",
                params![id, text],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// A job's events, in order.
    pub fn events(&self, id: &str) -> Result<Vec<Event>> {
        let db = self.db();
        let mut q = db.prepare("SELECT event FROM events WHERE job = ?1 ORDER BY n").map_err(db_err)?;
        let rows = q.query_map(params![id], |r| r.get::<_, String>(0)).map_err(db_err)?;
        let mut out = Vec::new();
        for t in rows {
            let t = t.map_err(db_err)?;
            if let Ok(e) = serde_json::from_str(&t) {
                out.push(e);
            }
        }
        Ok(out)
    }
}
