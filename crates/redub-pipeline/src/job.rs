//! A job is a folder (DESIGN §4): `job.json` (the request), one folder per stage with a
//! `manifest.json` written last, `events.jsonl`, and `output/`.
//!
//! A stage is done only if its manifest exists and its key matches the key computed now from
//! the stage version, its settings, the model identity and the upstream keys. A stage writes into
//! `<stage>.tmp/` and is renamed into place after its manifest, so a crash mid-stage leaves
//! nothing that looks finished, and changing a setting reruns only what depends on it.

use crate::events::EventSink;
use crate::usage::{Meter, Usage};
use redub_core::{Error, Result};
use redub_media::write_atomic;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What a finished stage left behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub stage: String,
    pub key: String,
    /// The inputs and settings the key was made from, for people reading the folder.
    pub inputs: serde_json::Value,
    pub took_ms: u64,
    /// CPU time and peak memory of the run that made it (wall time is `took_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
}

impl Manifest {
    pub fn usage(&self) -> Usage {
        Usage { wall_ms: self.took_ms, cpu_ms: self.cpu_ms, peak_rss_kb: self.peak_rss_kb }
    }
}

/// Hash of everything a stage's result depends on.
pub fn stage_key(stage: &str, version: u32, inputs: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(stage.as_bytes());
    h.update(version.to_le_bytes());
    h.update(inputs.to_string().as_bytes());
    hex::encode(&h.finalize()[..12])
}

#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub dir: PathBuf,
    pub events: EventSink,
    /// Held while the job is open: two runs of one job never work in its folder at once (a
    /// studio restarted after a kill may start a run while the orphaned one is still stopping).
    _lock: std::fs::File,
}

impl Job {
    /// Open (or create) the job folder and its event log.
    pub fn open(dir: &Path, id: &str, request: &serde_json::Value, events: EventSink) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock_path = dir.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                events.emit(
                    "warning",
                    serde_json::json!({ "message": format!("another run of job {id} is still working in its folder; waiting for it to stop") }),
                );
                lock.lock().map_err(|e| Error::io(&lock_path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let req = dir.join("job.json");
        let text = serde_json::to_string_pretty(request).map_err(|e| Error::Json { path: req.clone(), source: e })?;
        write_atomic(&req, text.as_bytes())?;
        let events = events.with_log(&dir.join("events.jsonl"), id)?;
        Ok(Self { id: id.to_string(), dir: dir.to_path_buf(), events, _lock: lock })
    }

    pub fn stage_dir(&self, stage: &str) -> PathBuf {
        self.dir.join(stage)
    }

    /// The manifest of a finished stage whose key matches, if any.
    pub fn finished(&self, stage: &str, key: &str) -> Option<Manifest> {
        let path = self.stage_dir(stage).join("manifest.json");
        let m: Manifest = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        (m.key == key).then_some(m)
    }

    /// Run `work` for `stage` unless a finished result with the same key exists. `work` writes
    /// into the folder it is given; the folder becomes the stage's only after it returns Ok.
    pub fn stage<F>(&self, stage: &str, version: u32, inputs: serde_json::Value, work: F) -> Result<StageResult>
    where
        F: FnOnce(&Path) -> Result<()>,
    {
        let key = stage_key(stage, version, &inputs);
        let dir = self.stage_dir(stage);
        if let Some(m) = self.finished(stage, &key) {
            self.events.emit(
                "stage_skipped",
                serde_json::json!({ "stage": stage, "key": key, "reason": "finished earlier with the same inputs" }),
            );
            return Ok(StageResult { dir, key, skipped: true, usage: m.usage() });
        }
        self.events.emit("stage_started", serde_json::json!({ "stage": stage, "key": key }));
        let meter = Meter::start();
        let tmp = self.dir.join(format!("{stage}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        if let Err(e) = work(&tmp) {
            self.events.emit("error", serde_json::json!({ "stage": stage, "message": format!("{e}") }));
            return Err(e);
        }
        let usage = meter.finish();
        let manifest = Manifest {
            stage: stage.to_string(),
            key: key.clone(),
            inputs,
            took_ms: usage.wall_ms,
            cpu_ms: usage.cpu_ms,
            peak_rss_kb: usage.peak_rss_kb,
        };
        let mpath = tmp.join("manifest.json");
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Json { path: mpath.clone(), source: e })?;
        write_atomic(&mpath, &text)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, e))?;
        // The stage folder now holds what its units made.
        self.units(stage).clear();
        self.events.emit(
            "stage_done",
            serde_json::json!({ "stage": stage, "key": key, "took_ms": usage.wall_ms, "cpu_ms": usage.cpu_ms, "peak_rss_kb": usage.peak_rss_kb }),
        );
        Ok(StageResult { dir, key, skipped: false, usage })
    }

    /// The store of `stage`'s finished units (see [`Units`]).
    pub fn units(&self, stage: &str) -> Units {
        Units { dir: self.dir.join("units").join(stage) }
    }
}

#[derive(Clone, Debug)]
pub struct StageResult {
    pub dir: PathBuf,
    pub key: String,
    pub skipped: bool,
    /// What the run that made the result cost (an earlier run's figures when skipped).
    pub usage: Usage,
}

/// The finished units of a stage that has not finished yet (a transcription window, a spoken
/// line), kept outside the stage's temporary folder as each one finishes, so a crash or a kill
/// in the middle of a long stage loses only the unit that was running. Each unit is named by a
/// key that hashes everything its result depends on, so a unit is reused only for the same
/// work. The stage folder, once finished, holds the results; the store is then emptied.
#[derive(Clone, Debug)]
pub struct Units {
    dir: PathBuf,
}

impl Units {
    /// A store in `dir` (a worker's own, for the parts of the task it runs).
    pub fn at(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }

    /// Where the unit file `name` lives (the folder is made on first write).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A finished unit's JSON result, if there is one that can be read.
    pub fn get<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        read_json(&self.path(&format!("{key}.json"))).ok()
    }

    /// Keep a unit's JSON result. Written last, after any files the unit made, so its presence
    /// means the unit is whole.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.ensure()?;
        write_json(&self.path(&format!("{key}.json")), value)
    }

    /// Make the folder, for units that write files of their own before their JSON.
    pub fn ensure(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// Drop every kept unit (after the stage finished and holds them itself).
    pub fn clear(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A key for a unit of work: a hash of everything its result depends on.
pub fn unit_key(inputs: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(inputs.to_string().as_bytes());
    hex::encode(&h.finalize()[..10])
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| Error::Json { path: path.to_path_buf(), source: e })?;
    write_atomic(path, &text)
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json { path: path.to_path_buf(), source: e })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_changes_iff_an_input_changes() {
        let a = stage_key("vad", 1, &json!({"threshold": 0.5, "up": "abc"}));
        assert_eq!(a, stage_key("vad", 1, &json!({"threshold": 0.5, "up": "abc"})));
        assert_ne!(a, stage_key("vad", 1, &json!({"threshold": 0.6, "up": "abc"})));
        assert_ne!(a, stage_key("vad", 1, &json!({"threshold": 0.5, "up": "abd"})));
        assert_ne!(a, stage_key("vad", 2, &json!({"threshold": 0.5, "up": "abc"})));
    }

    #[test]
    fn a_finished_stage_is_skipped_and_a_failed_one_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let job = Job::open(tmp.path(), "t", &json!({}), EventSink::silent()).unwrap();
        let mut runs = 0;
        let r = job
            .stage("01-a", 1, json!({"x": 1}), |d| {
                runs += 1;
                std::fs::write(d.join("out.txt"), "hi").map_err(|e| Error::io(d, e))
            })
            .unwrap();
        assert!(!r.skipped);
        let r = job
            .stage("01-a", 1, json!({"x": 1}), |_| {
                runs += 1;
                Ok(())
            })
            .unwrap();
        assert!(r.skipped);
        assert_eq!(runs, 1);
        assert_eq!(std::fs::read_to_string(r.dir.join("out.txt")).unwrap(), "hi");
        // A changed input reruns; a failure keeps the earlier result out of reach of the new key.
        let err = job.stage("01-a", 1, json!({"x": 2}), |_| Err(Error::Cancelled));
        assert!(err.is_err());
        assert!(job.finished("01-a", &stage_key("01-a", 1, &json!({"x": 2}))).is_none());
        let events = std::fs::read_to_string(tmp.path().join("events.jsonl")).unwrap();
        assert!(events.contains("\"stage_skipped\"") && events.contains("\"error\""));
    }
}
