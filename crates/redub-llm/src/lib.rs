//! The local LLM: a GGUF chat model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, installed by setup
//! from PyPI) run by llama.cpp on the CPU, behind [`redub_core::ChatModel`], so that the LLM
//! translator works with budgets, context and glossary without any server.
//!
//! The model runs in a worker process, the `redub-llm` program of this crate, which
//! [`LocalLlm`] starts once and talks to in JSON lines ([`protocol`]). The library itself never
//! links llama.cpp (the `llama-cpp-2` dependency is optional and only the worker uses it):
//! Redub already links whisper.cpp, which carries its own, older copy of ggml, and the two
//! copies' static libraries define about 1,200 symbols with the same names. Linked into one
//! test program they raised no error: the linker silently took every shared ggml function from
//! llama.cpp's copy, so whisper.cpp ran on a ggml it was not compiled against. It happened to
//! give the same transcript, but nothing guarantees that across updates of either crate.
//! Crates that only need the client get this one with `default-features = false` (the
//! workspace dependency line does that); building the worker needs the default `worker` feature
//! (`cargo build -p redub-llm`).
//!
//! llama.cpp is built from source by `llama-cpp-sys-2` (cmake; about 12.5 CPU-minutes, 6
//! minutes on two idle cores, once per target folder). It follows `GGML_NATIVE=OFF`, the
//! Makefile's setting for whisper.cpp: ggml is built for AVX2/FMA/F16C CPUs (what whisper.cpp
//! gets too), not tuned to the build machine.
//!
//! Speed on 2 cores: about 60 prompt tokens/s and 11 generated tokens/s (with the JSON grammar);
//! the 13 lines of the sample call take about a minute in windows of 5. ggml's threads spin while
//! they wait for each other, so the model slows down far more than twofold when another busy
//! process shares the cores (one `yes` took it from 10.6 to 4.3 tokens/s; one thread then gives
//! 6.3): run one model at a time, or lower `threads`.
//!
//! What it owns: loading the model, its chat template, sampling (greedy at temperature 0, else
//! top-k 40 / top-p 0.95 / min-p 0.05 with a fixed seed), `max_tokens`, and the JSON grammar
//! when `ChatOptions::json` is set. What it does not: prompts, budgets, retries (that is
//! `redub-translate`).

mod client;
pub mod protocol;
mod settings;

pub use client::LocalLlm;
pub use protocol::{Completion, Stop};
pub use settings::{LocalLlmSettings, DEFAULT_MODEL, WORKER, WORKER_ENV};
