//! The `redub` binary: a thin CLI over `redub-pipeline`. It parses arguments, shows progress
//! (bars for people, JSON lines with `--json`) and prints errors with their causes.

use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use redub_core::Event;
use redub_pipeline::{DubRequest, EventSink};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

mod commands;

#[derive(Parser, Debug)]
#[command(name = "redub", version, about = "Dub a video into another language, offline.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// `Dub` carries every flag and is much larger than the other commands; the enum is parsed once
// per process, so boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Dub INPUT into the language given by --to.
    Dub(DubArgs),
    /// Run units of other machines' jobs (separation pieces, diarization chunks, transcription
    /// windows, stock-voice synthesis) taken from NATS JetStream; start as many as there are
    /// machines (docs/scale-out.md).
    Worker(WorkerArgs),
    /// List the voice each speaker of a dub job got (and the stock voices there are to pin).
    Voices(VoicesArgs),
    /// The studio: a web app and JSON API on --bind (jobs queued and run one at a time, review
    /// before synthesis, live progress). Off loopback every call needs the printed API token.
    Serve(ServeArgs),
    /// Find who speaks when in INPUT and write it as RTTM.
    Diarize(DiarizeArgs),
    /// A finished job's QA report: per line (fit, overlap, stretch, engine speed, start
    /// offset, round-trip WER/CER, flags), per speaker (likeness), loudness, per stage; with
    /// --ref-rttm/--ref-stm also DER and source WER. `redub eval der` scores two RTTM files.
    Eval(EvalArgs),
}

// The arguments of `redub dub`.
#[derive(clap::Args, Debug)]
struct DubArgs {
    /// The video (or audio) file to dub.
    input: PathBuf,
    /// Target language (ISO 639-1, e.g. `es`).
    #[arg(long)]
    to: String,
    /// Source language (detected from the speech when omitted).
    #[arg(long)]
    from: Option<String>,
    /// Output file (default: `<input>.<to>.mp4` beside the input): `.mp4`, `.m4v`, `.mov`,
    /// or `.mkv` for Matroska.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Keep the original audio as a second track (tagged with the source language, not
    /// the default).
    #[arg(long)]
    keep_original_audio: bool,
    /// Subtitles: `files` (SRT and WebVTT beside the output, in both languages and
    /// bilingual) or `embed` (those files, and the target and source subtitles as streams
    /// of the output too).
    #[arg(long, default_value = "files", value_name = "MODE")]
    subtitles: redub_pipeline::request::SubtitleMode,
    /// What the dubbed voices go over: `separate` (the original voices taken out, music and
    /// effects kept at their level), `duck` (the original turned down 18 dB under speech),
    /// `drop` (nothing).
    #[arg(long, default_value = "separate", value_name = "MODE")]
    background: redub_pipeline::Background,
    /// Whisper runtime: `onnx` (default: about 3.4× faster than whisper.cpp here, word times
    /// close to faster-whisper's, 13.6% word error rate on the sample) or `whisper-cpp`
    /// (17.3% on the sample; docs/asr-onnx.md).
    #[arg(long, default_value = "onnx", value_name = "RUNTIME")]
    asr: redub_pipeline::Asr,
    /// Folder for job folders (default: `$REDUB_HOME/jobs`, i.e. `~/.cache/redub/jobs`).
    #[arg(long)]
    jobs_dir: Option<PathBuf>,
    /// Print one JSON event per line instead of progress bars.
    #[arg(long)]
    json: bool,
    /// Stop after this stage (e.g. `06-translate`, to review `translations.json` before any
    /// line is spoken); the same command without it resumes from there.
    #[arg(long, value_name = "STAGE")]
    stop_after: Option<String>,
    #[command(flatten)]
    speakers: SpeakerArgs,
    #[command(flatten)]
    translation: TranslationArgs,
    #[command(flatten)]
    voices: VoiceArgs,
    #[command(flatten)]
    scale: ScaleArgs,
}

// The arguments of `redub worker`.
#[derive(clap::Args, Debug)]
struct WorkerArgs {
    /// The NATS server (or servers, comma-separated), e.g. `nats://10.0.0.5:4222`. A worker
    /// started before the server waits for it.
    #[arg(long, value_name = "URL")]
    nats: String,
    /// This worker's name in logs and results (default: host name and process id).
    #[arg(long)]
    name: Option<String>,
    /// Where fetched files and running tasks are kept (default `$REDUB_HOME/worker`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    #[command(flatten)]
    queue: QueueArgs,
}

// The arguments of `redub voices`.
#[derive(clap::Args, Debug)]
struct VoicesArgs {
    /// The job folder, or a job's name under --jobs-dir (printed by `redub dub`).
    job: PathBuf,
    /// Folder for job folders (default: `$REDUB_HOME/jobs`).
    #[arg(long)]
    jobs_dir: Option<PathBuf>,
    /// Print the voice map as JSON.
    #[arg(long)]
    json: bool,
}

// The arguments of `redub serve`.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// The studio's folder: its database, uploads, outputs and jobs (default
    /// `$REDUB_HOME/studio`).
    #[arg(long)]
    home: Option<PathBuf>,
    /// Largest upload accepted, in MB.
    #[arg(long, default_value_t = 4096)]
    max_upload_mb: u64,
    /// Most jobs waiting in the queue.
    #[arg(long, default_value_t = 32)]
    max_queued: usize,
    /// The built web app (default: `web/dist` of this checkout, when it exists).
    #[arg(long)]
    web: Option<PathBuf>,
    #[command(flatten)]
    scale: ScaleArgs,
}

// The arguments of `redub diarize`.
#[derive(clap::Args, Debug)]
struct DiarizeArgs {
    /// The video or audio file.
    input: PathBuf,
    /// RTTM file to write (default: `<input name>.redub.rttm` beside the input, so a reference
    /// `<input name>.rttm` is never overwritten; `-` for stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print one JSON event per line instead of progress bars.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    speakers: SpeakerArgs,
}

// The arguments of `redub eval`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct EvalArgs {
    #[command(subcommand)]
    what: Option<Eval>,
    /// The job folder, or a job's name under --jobs-dir (printed by `redub dub`).
    job: Option<PathBuf>,
    /// Folder for job folders (default: `$REDUB_HOME/jobs`).
    #[arg(long)]
    jobs_dir: Option<PathBuf>,
    /// Reference speaker turns (RTTM): adds the job's diarization error rate.
    #[arg(long)]
    ref_rttm: Option<PathBuf>,
    /// Reference transcript (STM): adds the source transcript's word error rate.
    #[arg(long)]
    ref_stm: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Eval {
    /// Diarization error rate of a hypothesis RTTM against a reference RTTM (overlapped speech
    /// scored, optimal one-to-one speaker mapping).
    Der {
        /// Reference RTTM.
        #[arg(long = "ref")]
        reference: PathBuf,
        /// Hypothesis RTTM.
        #[arg(long)]
        hyp: PathBuf,
        /// Seconds not scored on each side of every reference boundary (md-eval's `-c`).
        #[arg(long, default_value_t = 0.25)]
        collar: f64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where a job's units run.
#[derive(clap::Args, Debug, Clone)]
struct ScaleArgs {
    /// Hand transcription windows and stock-voice synthesis to `redub worker`s through this
    /// NATS JetStream server (docs/scale-out.md); without it everything runs in this process.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    #[command(flatten)]
    queue: QueueArgs,
}

/// How the task queue is made (by whichever process makes it first).
#[derive(clap::Args, Debug, Clone)]
struct QueueArgs {
    /// Seconds a task may go without its worker reporting before it is delivered again.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    ack_wait: u64,
    /// Deliveries of one task before its job fails naming it.
    #[arg(long, default_value_t = 3, value_name = "N")]
    max_deliver: i64,
}

impl QueueArgs {
    fn settings(&self, url: &str) -> anyhow::Result<redub_scale::Settings> {
        anyhow::ensure!(self.ack_wait >= 1, "--ack-wait must be at least 1 second");
        anyhow::ensure!(self.max_deliver >= 1, "--max-deliver must be at least 1");
        let mut s = redub_scale::Settings::new(url);
        s.ack_wait = std::time::Duration::from_secs(self.ack_wait);
        s.max_deliver = self.max_deliver;
        Ok(s)
    }

    /// The same settings as flags, for the studio's `redub dub` children.
    fn args(&self) -> Vec<String> {
        vec!["--ack-wait".into(), self.ack_wait.to_string(), "--max-deliver".into(), self.max_deliver.to_string()]
    }
}

/// How lines are translated.
#[derive(clap::Args, Debug, Clone)]
struct TranslationArgs {
    /// Translation backend: `local` (the GGUF model setup installs), `apertium` (Debian, literal) or `openai` (any
    /// OpenAI-compatible server: REDUB_OPENAI_BASE_URL, REDUB_OPENAI_MODEL, OPENAI_API_KEY).
    #[arg(long, default_value = "apertium", conflicts_with = "translator_config")]
    translator: String,
    /// Translator config file (JSON, e.g. `{"backend": "openai", "base_url": "http://localhost:11434/v1",
    /// "model": "qwen2.5:7b"}`); the environment still overrides it and supplies the key.
    #[arg(long)]
    translator_config: Option<PathBuf>,
    /// Glossary file: one `source<TAB>target` per line; a term alone is never translated.
    #[arg(long)]
    glossary: Option<PathBuf>,
    /// How characters address each other: `formal` or `informal` (tú/usted, tu/vous, du/Sie).
    #[arg(long)]
    formality: Option<String>,
    /// Formality for one speaker, e.g. `S2=formal` (repeatable).
    #[arg(long = "speaker-formality")]
    speaker_formality: Vec<String>,
}

impl TranslationArgs {
    fn apply(&self, req: &mut DubRequest) -> anyhow::Result<()> {
        req.translator = match &self.translator_config {
            Some(p) => redub_pipeline::TranslatorConfig::read(p)?,
            None => redub_pipeline::TranslatorConfig::from_name(&self.translator)?,
        }
        .with_env();
        req.glossary.clone_from(&self.glossary);
        let default = self.formality.as_deref().map(str::parse::<redub_translate::Formality>).transpose()?;
        req.register = redub_translate::Register { default, ..Default::default() }
            .with_speaker_overrides(&self.speaker_formality)?;
        Ok(())
    }
}

/// Who speaks the dub.
#[derive(clap::Args, Debug, Clone)]
struct VoiceArgs {
    /// Voice backend: `stock` (offline: the closest Kokoro/espeak-ng voice, adapted toward each
    /// speaker), `elevenlabs` (cloning; ELEVENLABS_API_KEY) or `clone-http` (your cloning
    /// server; REDUB_CLONE_HTTP_URL).
    #[arg(long = "voices", default_value = "stock", conflicts_with = "voice_config")]
    backend: String,
    /// Voice config file (JSON, e.g. `{"backend": "elevenlabs", "stability": 0.5}`); the
    /// environment still overrides it and supplies the key.
    #[arg(long)]
    voice_config: Option<PathBuf>,
    /// Give a speaker a voice by hand, e.g. `S1=jf_alpha` (repeatable; `redub voices JOB` lists
    /// the speakers and voices). With a cloning service, a voice id of that service.
    #[arg(long = "voice")]
    pins: Vec<String>,
    /// Longest reference sample taken from each speaker, in seconds.
    #[arg(long, default_value_t = 60)]
    reference_secs: u64,
}

impl VoiceArgs {
    fn apply(&self, req: &mut DubRequest) -> anyhow::Result<()> {
        req.voices = match &self.voice_config {
            Some(p) => redub_pipeline::VoiceConfig::read(p)?,
            None => redub_pipeline::VoiceConfig::from_name(&self.backend)?,
        }
        .with_env();
        for pin in &self.pins {
            let Some((speaker, voice)) =
                pin.split_once('=').filter(|(s, v)| !s.trim().is_empty() && !v.trim().is_empty())
            else {
                anyhow::bail!("--voice {pin}: write SPEAKER=VOICE, e.g. S1=jf_alpha (`redub voices JOB` lists both)");
            };
            req.voice_pins.insert(speaker.trim().to_string(), voice.trim().to_string());
        }
        req.reference_max_ms = self.reference_secs.saturating_mul(1000);
        Ok(())
    }
}

/// Speaker controls shared by `dub` and `diarize`.
#[derive(clap::Args, Debug, Clone)]
struct SpeakerArgs {
    /// Exactly this many speakers.
    #[arg(long, conflicts_with_all = ["min_speakers", "max_speakers"])]
    speakers: Option<usize>,
    /// At least this many speakers.
    #[arg(long)]
    min_speakers: Option<usize>,
    /// At most this many speakers.
    #[arg(long)]
    max_speakers: Option<usize>,
    /// Longest chunk, in seconds, that is diarized at once; longer inputs are split at scene
    /// cuts and silences, and speakers are matched across chunks.
    #[arg(long, default_value_t = 300)]
    chunk_secs: u64,
}

impl SpeakerArgs {
    fn settings(&self) -> redub_diarize::DiarizeSettings {
        let mut s = redub_diarize::DiarizeSettings {
            speakers: self.speakers,
            min_speakers: self.min_speakers,
            max_speakers: self.max_speakers,
            ..Default::default()
        };
        s.chunk.max_ms = self.chunk_secs.saturating_mul(1000);
        s
    }
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
        Command::Dub(a) => commands::dub(a),
        Command::Worker(a) => commands::worker(a),
        Command::Voices(a) => commands::voices(a),
        Command::Serve(a) => commands::serve(a),
        Command::Diarize(a) => commands::diarize(a),
        Command::Eval(a) => commands::eval(a),
    }
}

/// A job folder given as a path, or as a job's name under `jobs_dir`.
fn job_dir(job: PathBuf, jobs_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if job.is_dir() {
        return Ok(job);
    }
    let jobs = jobs_dir.unwrap_or_else(|| redub_core::paths::redub_home().join("jobs"));
    let under = jobs.join(&job);
    if !under.is_dir() {
        anyhow::bail!(
            "{}: no such job folder (nor {}); pass the job folder `redub dub` printed",
            job.display(),
            under.display()
        );
    }
    Ok(under)
}

/// Where the time went: each stage's wall and CPU time and peak memory (a skipped stage shows
/// the run that made it).
fn print_stages(summary: &redub_pipeline::DubSummary) {
    eprintln!("{:>14} {:>8} {:>8} {:>9}", "stage", "wall s", "cpu s", "peak MB");
    for r in &summary.stages {
        let secs = |ms: Option<u64>| ms.map_or("-".to_string(), |m| format!("{:.1}", m as f64 / 1000.0));
        let mb = r.usage.peak_rss_kb.map_or("-".to_string(), |k| format!("{}", k / 1024));
        let note = if r.skipped { "  (earlier run)" } else { "" };
        eprintln!("{:>14} {:>8} {:>8} {:>9}{note}", r.stage, secs(Some(r.usage.wall_ms)), secs(r.usage.cpu_ms), mb);
    }
}

/// The lines a person should look at, one per line, with the reason.
fn print_review(summary: &redub_pipeline::DubSummary) {
    if summary.review.is_empty() {
        eprintln!("review:    no line needs a look");
        return;
    }
    eprintln!(
        "review:    {} of {} lines flagged (edit 06-translate/translations.json and rerun to redo only those):",
        summary.review.len(),
        summary.lines
    );
    for r in &summary.review {
        let flags: Vec<String> = r
            .flags
            .iter()
            .map(|f| serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
            .collect();
        let at = r.start_ms / 1000;
        eprintln!(
            "  #{:<3} {:>2}:{:02} {:<3} [{}] {}",
            r.id,
            at / 60,
            at % 60,
            r.speaker,
            flags.join(", "),
            r.target_text
        );
        if let Some(n) = &r.note {
            eprintln!("         {n}");
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
