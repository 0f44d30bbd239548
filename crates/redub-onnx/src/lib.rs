//! ONNX Runtime for the stages that run ONNX models (VAD, TTS). It owns loading the runtime
//! library once per process and building sessions; it knows nothing about any model.
//!
//! The runtime is loaded dynamically (`ort`'s `load-dynamic`): Debian ships no onnxruntime and
//! `ort`'s build-time download cannot work offline, so setup installs `libonnxruntime.so` from the
//! PyPI wheel into `$REDUB_HOME/models/onnxruntime/`. `ORT_DYLIB_PATH` overrides that location.

use redub_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use ort;
pub use ort::session::Session;

static ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> = OnceLock::new();

fn library_path() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| redub_core::paths::models_dir().join("onnxruntime").join("libonnxruntime.so"))
}

/// The process-wide ONNX Runtime environment, loaded on first use.
pub fn environment() -> Result<&'static ort::environment::Environment> {
    let env = ENV.get_or_init(|| {
        let lib = library_path();
        if !lib.exists() {
            return Err(format!(
                "ONNX Runtime library not found at {}. Run `make setup` (or set ORT_DYLIB_PATH)",
                lib.display()
            ));
        }
        ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("redub")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    });
    env.as_ref().map_err(|m| Error::backend("onnxruntime", m))
}

/// A session for `model`, using `threads` intra-op threads (0 = all cores).
pub fn session(model: &Path, threads: usize) -> Result<Session> {
    let env = environment()?;
    let threads =
        if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
    let fail = |e: ort::Error| Error::backend("onnxruntime", format!("{}: {e}", model.display()));
    Session::builder(env)
        .map_err(fail)?
        .with_intra_threads(threads)
        .map_err(|e| fail(e.into()))?
        .commit_from_file(model)
        .map_err(fail)
}
