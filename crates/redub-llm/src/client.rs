//! [`LocalLlm`]: the [`ChatModel`] that runs the GGUF model in a worker process (the
//! `redub-llm` program of this crate), so that llama.cpp's copy of ggml is never linked into the
//! same program as whisper.cpp's (see the crate docs).

use crate::protocol::{Completion, Request, WorkerMessage};
use crate::settings::LocalLlmSettings;
use redub_core::{ChatMessage, ChatModel, ChatOptions, Error, Result};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the worker's stderr kept for error messages.
const STDERR_LINES: usize = 20;

fn fail(e: impl std::fmt::Display) -> Error {
    Error::backend("llm", e)
}

/// A running worker with the model loaded.
struct Worker {
    child: Child,
    /// `None` once closed (which asks the worker to exit).
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The thread draining stderr; it ends when the worker's stderr closes.
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn start(program: &Path, model: &Path, settings: &LocalLlmSettings) -> Result<(Self, u64)> {
        let mut child = Command::new(program)
            .arg("serve")
            .arg("--model")
            .arg(model)
            .args(["--threads", &settings.threads.to_string()])
            .args(["--max-context", &settings.max_context.to_string()])
            .args(["--seed", &settings.seed.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start the worker {}: {e}", program.display())))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail("the worker's pipes could not be opened"));
        };
        // Drain stderr on a thread (an unread pipe would block the worker once full) and keep
        // its last lines for messages.
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&tail);
        let drain = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                if let Ok(mut t) = keep.lock() {
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        let mut w =
            Worker { child, stdin: Some(stdin), stdout: BufReader::new(stdout), stderr: tail, drain: Some(drain) };
        match w.read()? {
            WorkerMessage::Ready { load_ms, .. } => Ok((w, load_ms)),
            WorkerMessage::Failed { message } => Err(fail(message)),
            other => Err(fail(format!("the worker started with {other:?} instead of `ready`"))),
        }
    }

    fn read(&mut self) -> Result<WorkerMessage> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).map_err(|e| fail(format!("reading from the worker: {e}")))?;
        if n == 0 {
            return Err(self.died());
        }
        serde_json::from_str(line.trim_end())
            .map_err(|e| fail(format!("the worker sent something that is not its protocol ({e}): {line:?}")))
    }

    fn ask(&mut self, request: &Request) -> Result<Completion> {
        let mut line = serde_json::to_string(request).map_err(fail)?;
        line.push('\n');
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.died());
        }
        match self.read()? {
            WorkerMessage::Done(c) => Ok(c),
            WorkerMessage::Failed { message } => Err(fail(message)),
            other => Err(fail(format!("the worker answered {other:?} instead of a completion"))),
        }
    }

    /// The error for a worker that closed its end: its exit status and last stderr lines.
    fn died(&mut self) -> Error {
        // The stderr thread may still be reading the last lines.
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => break None,
            }
        };
        // Once the worker has exited its stderr is closed: wait for the last lines.
        if status.is_some() {
            if let Some(drain) = self.drain.take() {
                let _ = drain.join();
            }
        }
        let tail: Vec<String> = self.stderr.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
        fail(format!(
            "the worker stopped ({}){}",
            status.map_or_else(|| "still running but not answering".to_string(), |s| s.to_string()),
            if tail.is_empty() { String::new() } else { format!(": {}", tail.join(" | ")) }
        ))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing stdin asks the worker to exit; one that does not within the grace period is
        // killed. Either way it is waited for, so no zombie is left.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_millis(1000);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                _ => return,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The local GGUF chat model (llama.cpp on the CPU), behind [`ChatModel`].
///
/// ```no_run
/// use redub_core::{ChatMessage, ChatModel, ChatOptions};
/// use redub_llm::{LocalLlm, LocalLlmSettings};
/// let mut llm = LocalLlm::load(LocalLlmSettings::default())?; // starts the worker, loads the model
/// let reply = llm.complete(&[ChatMessage::user("Say hi in Spanish as JSON")], &ChatOptions::default())?;
/// # Ok::<(), redub_core::Error>(())
/// ```
pub struct LocalLlm {
    settings: LocalLlmSettings,
    model: PathBuf,
    program: PathBuf,
    worker: Option<Worker>,
    load_ms: u64,
    last: Option<Completion>,
}

impl std::fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLlm").field("model", &self.model).field("worker", &self.program).finish_non_exhaustive()
    }
}

impl LocalLlm {
    /// Find the model and the worker, start the worker and wait until it has loaded the model.
    /// A missing model file is [`Error::MissingModel`] (run `make setup`); a worker that cannot
    /// start or load is [`Error::Backend`] with backend `llm`.
    pub fn load(settings: LocalLlmSettings) -> Result<Self> {
        let model = settings.model_path()?;
        let program = settings.worker_path()?;
        let (worker, load_ms) = Worker::start(&program, &model, &settings)?;
        Ok(Self { settings, model, program, worker: Some(worker), load_ms, last: None })
    }

    pub fn model_path(&self) -> &Path {
        &self.model
    }

    /// How long the worker took to load the model.
    pub fn load_ms(&self) -> u64 {
        self.load_ms
    }

    /// The statistics of the last reply (tokens, times).
    pub fn last_completion(&self) -> Option<&Completion> {
        self.last.as_ref()
    }

    /// Like [`ChatModel::complete`], with the token counts and times.
    pub fn chat(&mut self, messages: &[ChatMessage], options: &ChatOptions) -> Result<Completion> {
        let request = Request { messages: messages.to_vec(), options: options.clone() };
        // A worker that died earlier is started again once, here.
        let mut worker = match self.worker.take() {
            Some(w) => w,
            None => Worker::start(&self.program, &self.model, &self.settings)?.0,
        };
        let result = worker.ask(&request);
        let alive = matches!(worker.child.try_wait(), Ok(None));
        if alive {
            self.worker = Some(worker);
        }
        let c = result?;
        self.last = Some(c.clone());
        Ok(c)
    }
}

impl ChatModel for LocalLlm {
    fn complete(&mut self, messages: &[ChatMessage], options: &ChatOptions) -> Result<String> {
        self.chat(messages, options).map(|c| c.text)
    }

    /// `local:<model file name>@<size in bytes>`: another file, or the same name with other
    /// bytes, is another model for cache keys.
    fn name(&self) -> String {
        let file = self.model.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let size = std::fs::metadata(&self.model).map(|m| m.len()).unwrap_or(0);
        format!("local:{file}@{size}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn assert_send<T: Send>() {}

    /// A stand-in worker: a shell script speaking the protocol, and an empty "model" file.
    fn fake(dir: &Path, script: &str) -> LocalLlmSettings {
        let worker = dir.join("redub-llm");
        std::fs::write(&worker, format!("#!/bin/sh\n{script}")).unwrap();
        std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
        let model = dir.join("m.gguf");
        std::fs::write(&model, b"").unwrap();
        LocalLlmSettings { model: Some(model), worker: Some(worker), ..Default::default() }
    }

    const DONE: &str = r#"{"done":{"text":"{}","stop":"end","prompt_tokens":3,"completion_tokens":1,"prompt_ms":1,"generation_ms":1}}"#;

    #[test]
    fn local_llm_can_move_to_a_translator_thread() {
        assert_send::<LocalLlm>();
    }

    #[test]
    fn talks_json_lines_with_the_worker() {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "echo '{{\"ready\":{{\"model\":\"m\",\"load_ms\":7}}}}'\nwhile read line; do echo '{DONE}'; done\n"
        );
        let mut llm = LocalLlm::load(fake(dir.path(), &script)).unwrap();
        assert_eq!(llm.load_ms(), 7);
        assert!(llm.name().starts_with("local:m.gguf@0"), "{}", llm.name());
        for _ in 0..2 {
            assert_eq!(llm.complete(&[ChatMessage::user("hi")], &ChatOptions::default()).unwrap(), "{}");
        }
        assert_eq!(llm.last_completion().unwrap().prompt_tokens, 3);
    }

    #[test]
    fn a_worker_that_fails_to_load_is_a_backend_error_with_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            fake(dir.path(), "echo '{\"failed\":{\"message\":\"llm: cannot load m.gguf: bad magic\"}}'\nexit 1\n");
        let e = LocalLlm::load(settings).unwrap_err();
        assert!(matches!(&e, Error::Backend { backend, .. } if backend == "llm"), "{e}");
        assert!(e.to_string().contains("bad magic"), "{e}");
    }

    #[test]
    fn a_worker_that_dies_is_reported_with_its_stderr_and_started_again() {
        let dir = tempfile::tempdir().unwrap();
        // The first worker dies on its first request; the next one (marked by a file) answers.
        let mark = dir.path().join("started-once");
        let script = format!(
            "echo '{{\"ready\":{{\"model\":\"m\",\"load_ms\":1}}}}'\n\
             if [ -e '{m}' ]; then while read line; do echo '{DONE}'; done; exit 0; fi\n\
             touch '{m}'; read line; echo 'GGML_ASSERT failed: out of memory' >&2; exit 134\n",
            m = mark.display()
        );
        let mut llm = LocalLlm::load(fake(dir.path(), &script)).unwrap();
        let e = llm.complete(&[ChatMessage::user("hi")], &ChatOptions::default()).unwrap_err().to_string();
        assert!(e.contains("worker stopped") && e.contains("134") && e.contains("GGML_ASSERT"), "{e}");
        assert_eq!(llm.complete(&[ChatMessage::user("hi")], &ChatOptions::default()).unwrap(), "{}");
    }

    #[test]
    fn a_missing_worker_program_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = fake(dir.path(), "");
        settings.worker = Some(dir.path().join("nope"));
        let e = LocalLlm::load(settings).unwrap_err().to_string();
        assert!(e.contains("cargo build -p redub-llm"), "{e}");
    }
}
