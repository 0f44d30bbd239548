//! Which model file to load, how to run it, and where the worker program is.

use redub_core::{Error, Result};
use std::path::{Path, PathBuf};

/// The model setup installs: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0), relative to
/// `$REDUB_HOME/models`.
pub const DEFAULT_MODEL: &str = "llm/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

/// The worker program's name (the `redub-llm` binary of this crate).
pub const WORKER: &str = "redub-llm";

/// Environment variable that names the worker program, overriding the search.
pub const WORKER_ENV: &str = "REDUB_LLM_WORKER";

#[derive(Clone, Debug, PartialEq)]
pub struct LocalLlmSettings {
    /// GGUF file (default: `$REDUB_HOME/models/` + [`DEFAULT_MODEL`]).
    pub model: Option<PathBuf>,
    /// CPU threads (default: all cores).
    pub threads: usize,
    /// Most tokens of context one request may use, prompt and reply together (default 8192,
    /// capped at what the model was trained for). The context is sized per request, so a large
    /// limit costs nothing until a request needs it.
    pub max_context: u32,
    /// Seed of the sampler at temperatures above 0 (default 0x5EED): the same request with the
    /// same seed gives the same reply.
    pub seed: u32,
    /// The worker program (default: `$REDUB_LLM_WORKER`, else `redub-llm` beside the running
    /// program or one folder up, as in cargo's `target/debug/deps`, else on `PATH`).
    pub worker: Option<PathBuf>,
}

impl Default for LocalLlmSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self { model: None, threads, max_context: 8192, seed: 0x5EED, worker: None }
    }
}

impl LocalLlmSettings {
    /// The model file, or [`Error::MissingModel`] (which says to run `make setup`).
    pub fn model_path(&self) -> Result<PathBuf> {
        match &self.model {
            Some(p) if p.is_file() => Ok(p.clone()),
            Some(p) => Err(Error::MissingModel { what: "LLM (GGUF model)".into(), path: p.clone() }),
            None => redub_core::paths::model_file(DEFAULT_MODEL, "LLM (Qwen2.5-Coder-1.5B-Instruct GGUF)"),
        }
    }

    /// The worker program to start.
    pub fn worker_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.worker {
            return if p.is_file() { Ok(p.clone()) } else { Err(worker_missing(std::slice::from_ref(p))) };
        }
        if let Some(p) = std::env::var_os(WORKER_ENV).filter(|p| !p.is_empty()).map(PathBuf::from) {
            return if p.is_file() { Ok(p) } else { Err(worker_missing(&[p])) };
        }
        let exe = std::env::current_exe().ok();
        let path = std::env::var_os("PATH");
        let candidates = candidates(exe.as_deref(), path.as_deref().map(std::env::split_paths).into_iter().flatten());
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| worker_missing(&candidates))
    }
}

fn exe_name() -> String {
    format!("{WORKER}{}", std::env::consts::EXE_SUFFIX)
}

/// Where to look for the worker, in order: beside the running program, one folder up (cargo
/// puts test programs in `target/debug/deps` and examples in `target/debug/examples`, the
/// worker in `target/debug`), then `PATH`.
fn candidates(exe: Option<&Path>, path: impl Iterator<Item = PathBuf>) -> Vec<PathBuf> {
    let name = exe_name();
    let mut out = Vec::new();
    if let Some(dir) = exe.and_then(Path::parent) {
        out.push(dir.join(&name));
        if let Some(up) = dir.parent() {
            out.push(up.join(&name));
        }
    }
    out.extend(path.map(|d| d.join(&name)));
    out
}

fn worker_missing(looked: &[PathBuf]) -> Error {
    let shown: Vec<String> = looked.iter().take(4).map(|p| p.display().to_string()).collect();
    Error::backend(
        "llm",
        format!(
            "the local LLM worker program `{WORKER}` was not found (looked at {}{}). Build it with \
             `cargo build -p redub-llm` (it sits beside `redub` in the build folder), or name it in ${WORKER_ENV}",
            shown.join(", "),
            if looked.len() > shown.len() { ", and PATH" } else { "" }
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn worker_is_looked_for_beside_the_program_then_one_up_then_on_path() {
        let c = candidates(Some(Path::new("/t/debug/deps/test-abc")), vec![PathBuf::from("/usr/bin")].into_iter());
        let name = exe_name();
        assert_eq!(
            c,
            vec![
                Path::new("/t/debug/deps").join(&name),
                Path::new("/t/debug").join(&name),
                Path::new("/usr/bin").join(&name)
            ]
        );
    }

    #[test]
    fn a_named_model_or_worker_that_is_missing_says_what_to_do() {
        let s = LocalLlmSettings {
            model: Some("/nonexistent/m.gguf".into()),
            worker: Some("/nonexistent/redub-llm".into()),
            ..Default::default()
        };
        let e = s.model_path().unwrap_err();
        assert!(matches!(e, Error::MissingModel { .. }), "{e}");
        assert!(e.to_string().contains("make setup"), "{e}");
        let e = s.worker_path().unwrap_err().to_string();
        assert!(e.contains("cargo build -p redub-llm") && e.contains("/nonexistent/redub-llm"), "{e}");
    }
}
