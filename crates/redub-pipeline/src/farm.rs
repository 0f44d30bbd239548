//! Units of work run by other processes (DESIGN §6). A stage that can hand its units out asks
//! the job's [`Farm`], if it has one, instead of running them itself; the farm (NATS JetStream
//! in `redub-scale`) moves each [`Task`] and its files to a worker, which runs it with
//! [`crate::workshop::Workshop`] and sends back a [`TaskOutput`]. Everything that crosses is
//! JSON and file bytes: no process sees another's objects, and an error is a plain message.
//!
//! A task's `key` hashes everything its result depends on, like a stage cache key, so running
//! a task twice gives the same result under the same name, and a farm may keep results by key.

use redub_core::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A transcription window ([`crate::stages::transcribe::WindowTask`]) of the job's 16 kHz audio.
pub const TRANSCRIBE_WINDOW: &str = "transcribe-window";
/// Some of one speaker's lines in their stock voice ([`crate::stages::synthesize::SpeakerTask`]).
pub const SYNTHESIZE_SPEAKER: &str = "synthesize-speaker";
/// One diarization chunk's local speakers ([`redub_diarize::ChunkTask`]) in the job's 16 kHz
/// audio.
pub const DIARIZE_CHUNK: &str = "diarize-chunk";
/// One separation piece's speech estimate ([`redub_separate::Piece`]) of the job's mix.
pub const SEPARATE_PIECE: &str = "separate-piece";

/// One unit of work, for whichever process runs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// What to run: [`TRANSCRIBE_WINDOW`], [`SYNTHESIZE_SPEAKER`], [`DIARIZE_CHUNK`] or
    /// [`SEPARATE_PIECE`].
    pub kind: String,
    /// A hash of everything the result depends on (the kind, the backend, the input, the files).
    pub key: String,
    /// For messages: what a person would call it ("window 3 of 12").
    pub label: String,
    /// The unit's own input, as the stage's unit function takes it.
    pub input: serde_json::Value,
    /// The files it reads, each under the name the unit function knows it by.
    pub files: Vec<TaskFile>,
}

/// A file a task reads or makes: its name for the unit (`refs/S1.wav`) and where it is on this
/// machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFile {
    pub name: String,
    pub path: PathBuf,
}

/// What a task gave: its JSON result and the files it made (on this machine, in the folder the
/// farm was given).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskOutput {
    pub output: serde_json::Value,
    pub files: Vec<TaskFile>,
}

/// Somewhere else to run units: other processes, other machines.
pub trait Farm: Send + Sync {
    /// Run `tasks`; each one's output files are put in `out_dir`, and `done(i, output)` is called
    /// as task `i` finishes (in any order), so the stage keeps it at once and a stopped job
    /// loses nothing finished. Fails with the first task that failed (naming it), or when the
    /// farm cannot reach its workers.
    fn run(&self, tasks: &[Task], out_dir: &Path, done: &mut dyn FnMut(usize, TaskOutput) -> Result<()>) -> Result<()>;
}

/// A task's key: its kind, its input and the content of its files, hashed. File contents
/// count (not paths), so the same audio on another machine gives the same key.
pub fn task_key(kind: &str, input: &serde_json::Value, file_hashes: &[String]) -> String {
    crate::job::unit_key(&serde_json::json!({ "kind": kind, "input": input, "files": file_hashes }))
}

/// The sha256 of a file, hex (what farms name stored files by, and what [`task_key`] takes).
pub fn file_sha256(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| redub_core::Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| redub_core::Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
