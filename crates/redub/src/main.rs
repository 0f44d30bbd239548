//! The `redub` binary: a thin CLI over `redub-pipeline`. It parses arguments, shows progress
//! (bars for people, JSON lines with `--json`) and prints errors with their causes.

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use redub_core::Event;
use redub_pipeline::{DubRequest, EventSink, OfflineBackends};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Parser, Debug)]
#[command(name = "redub", version, about = "Dub a video into another language, offline.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Dub INPUT into the language given by --to.
    Dub {
        /// The video (or audio) file to dub.
        input: PathBuf,
        /// Target language (ISO 639-1, e.g. `es`).
        #[arg(long)]
        to: String,
        /// Source language (detected from the speech when omitted).
        #[arg(long)]
        from: Option<String>,
        /// Output file (default: `<input>.<to>.mp4` beside the input).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Keep the original audio as a second track.
        #[arg(long)]
        keep_original_audio: bool,
        /// Folder for job folders (default: `$REDUB_HOME/jobs`, i.e. `~/.cache/redub/jobs`).
        #[arg(long)]
        jobs_dir: Option<PathBuf>,
        /// Print one JSON event per line instead of progress bars.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dub { input, to, from, output, keep_original_audio, jobs_dir, json } => {
            let output = output.unwrap_or_else(|| {
                let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "dub".into());
                input.with_file_name(format!("{stem}.{to}.mp4"))
            });
            let jobs_dir = jobs_dir.unwrap_or_else(|| redub_core::paths::redub_home().join("jobs"));
            let req = DubRequest { input, output, from, to, keep_original_audio, jobs_dir };
            let sink = if json { EventSink::with_listener(print_json) } else { bars() };
            let summary = redub_pipeline::dub(&req, &OfflineBackends, sink)
                .with_context(|| format!("dubbing {}", req.input.display()))?;
            if !json {
                eprintln!("dubbed {} lines {}→{}", summary.lines, summary.from, summary.to);
                eprintln!("output:    {}", summary.output.display());
                for s in &summary.subtitles {
                    eprintln!("subtitles: {}", s.display());
                }
                eprintln!("report:    {}", summary.job_dir.join("output/report.json").display());
            }
            Ok(())
        }
    }
}

fn print_json(ev: &Event) {
    if let Ok(line) = serde_json::to_string(ev) {
        println!("{line}");
    }
}

/// Progress bars for people: one per stage, a line for stages that were already finished.
fn bars() -> EventSink {
    let multi = MultiProgress::new();
    let bars: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    let style = ProgressStyle::with_template("{prefix:>14} [{bar:30}] {percent:>3}% {elapsed:>4} {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    EventSink::with_listener(move |ev: &Event| {
        let stage = ev.data.get("stage").and_then(|s| s.as_str()).unwrap_or("").to_string();
        let Ok(mut bars) = bars.lock() else { return };
        match ev.kind.as_str() {
            "stage_started" => {
                let pb = multi.add(ProgressBar::new(100));
                pb.set_style(style.clone());
                pb.set_prefix(stage.clone());
                bars.insert(stage, pb);
            }
            "stage_progress" => {
                if let Some(pb) = bars.get(&stage) {
                    let done = ev.data["done"].as_u64().unwrap_or(0);
                    let total = ev.data["total"].as_u64().unwrap_or(0).max(1);
                    pb.set_position(done.min(total) * 100 / total);
                }
            }
            "stage_done" => {
                if let Some(pb) = bars.remove(&stage) {
                    pb.set_position(100);
                    pb.finish_with_message("done");
                }
            }
            "stage_skipped" => {
                let _ = multi.println(format!("{stage:>14} finished earlier with the same inputs: skipped"));
            }
            "warning" => {
                let _ = multi.println(format!("warning: {}", ev.data["message"].as_str().unwrap_or("")));
            }
            "error" => {
                if let Some(pb) = bars.remove(&stage) {
                    pb.abandon_with_message("failed");
                }
            }
            _ => {}
        }
    })
}
