//! `redub-llm`: the worker program that runs the local GGUF chat model for [`redub_llm::LocalLlm`].
//!
//! ```text
//! redub-llm serve [--model FILE] [--threads N] [--max-context N] [--seed N]
//! ```
//!
//! It loads the model, writes `{"ready": …}` (or `{"failed": …}` and exits with status 1), then
//! answers each request line on stdin with one line on stdout (see `redub_llm::protocol`) until
//! stdin closes. It is a separate program so that llama.cpp's ggml and whisper.cpp's ggml, two
//! versions of one C library with the same symbol names, never share a process.

mod engine;

use engine::Engine;
use redub_llm::protocol::{Request, WorkerMessage};
use redub_llm::LocalLlmSettings;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: redub-llm serve [--model FILE] [--threads N] [--max-context N] [--seed N]";

fn parse(args: &[String]) -> Result<LocalLlmSettings, String> {
    let mut s = LocalLlmSettings::default();
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("serve") => {}
        Some(other) => return Err(format!("unknown command `{other}`\n{USAGE}")),
        None => return Err(USAGE.to_string()),
    }
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |what: &str| value.parse::<u64>().map_err(|_| format!("{what}: `{value}` is not a number"));
        match flag.as_str() {
            "--model" => s.model = Some(PathBuf::from(value)),
            "--threads" => s.threads = usize::try_from(number("--threads")?).map_err(|e| e.to_string())?,
            "--max-context" => s.max_context = u32::try_from(number("--max-context")?).map_err(|e| e.to_string())?,
            "--seed" => s.seed = u32::try_from(number("--seed")?).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    Ok(s)
}

fn send(out: &mut impl Write, message: &WorkerMessage) -> std::io::Result<()> {
    let line = serde_json::to_string(message).map_err(std::io::Error::other)?;
    writeln!(out, "{line}")?;
    out.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match parse(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let started = Instant::now();
    let mut engine = match Engine::load(&settings) {
        Ok(e) => e,
        Err(e) => {
            let _ = send(&mut out, &WorkerMessage::Failed { message: e.to_string() });
            return ExitCode::FAILURE;
        }
    };
    let ready = WorkerMessage::Ready {
        model: engine.model_path().display().to_string(),
        load_ms: started.elapsed().as_millis() as u64,
    };
    if send(&mut out, &ready).is_err() {
        return ExitCode::FAILURE;
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(r) => match engine.complete(&r.messages, &r.options) {
                Ok(c) => WorkerMessage::Done(c),
                Err(e) => WorkerMessage::Failed { message: e.to_string() },
            },
            Err(e) => WorkerMessage::Failed { message: format!("llm: the request is not valid JSON: {e}") },
        };
        if send(&mut out, &reply).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_serve_options() {
        let s = parse(&args("serve --model /m.gguf --threads 3 --max-context 4096 --seed 7")).unwrap();
        assert_eq!(s.model, Some(PathBuf::from("/m.gguf")));
        assert_eq!((s.threads, s.max_context, s.seed), (3, 4096, 7));
        assert!(parse(&args("serve --threads x")).unwrap_err().contains("not a number"));
        assert!(parse(&args("serve --model")).unwrap_err().contains("needs a value"));
        assert!(parse(&args("run")).unwrap_err().contains("unknown command"));
        assert!(parse(&[]).unwrap_err().contains("usage"));
    }
}
