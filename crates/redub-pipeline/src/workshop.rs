//! The worker's half of a [`Farm`](crate::farm::Farm): run one [`Task`] with models loaded once
//! per process. The task's files are already on this machine (the farm fetched them); what
//! the task makes goes into a folder the farm sends back from.

use crate::backends::{Asr, Backends, OfflineBackends};
use crate::farm::{Task, TaskFile, TaskOutput, DIARIZE_CHUNK, SEPARATE_PIECE, SYNTHESIZE_SPEAKER, TRANSCRIBE_WINDOW};
use crate::job::Units;
use crate::speak::Engine;
use crate::stages::synthesize::{synthesize_speaker, Earlier, SpeakerTask};
use crate::stages::transcribe::{transcribe_window, WindowTask};
use redub_core::{Audio, Error, Result, Transcriber};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The input of a [`TRANSCRIBE_WINDOW`] task (its one file is `speech16k.wav`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TranscribeInput {
    /// The coordinator's `Backends::identity("transcribe")`: the worker decodes with its runtime
    /// of that identity, and refuses when it has none (other models).
    pub backend: serde_json::Value,
    pub task: WindowTask,
}

/// The input of a [`SYNTHESIZE_SPEAKER`] task (its files: the speaker's reference and the stock
/// voice's probe, named as in the voices stage's folder).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SynthesizeInput {
    pub backend: serde_json::Value,
    pub task: SpeakerTask,
}

/// The input of a [`DIARIZE_CHUNK`] task (its one file is `speech16k.wav`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DiarizeInput {
    /// The coordinator's `Backends::identity("diarize")`; the worker refuses other models.
    pub backend: serde_json::Value,
    pub task: redub_diarize::ChunkTask,
}

/// The input of a [`SEPARATE_PIECE`] task. Its one file, [`HEARD_FILE`], holds only what the
/// piece's model run hears ([`redub_separate::cut_piece`]: mono, the mix rate, 32-bit float), and
/// `piece` is the piece on those samples; the estimate comes back as `out`, a mono 32-bit float
/// WAV at the mix rate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeparateInput {
    /// The coordinator's `Backends::identity("separate")`; the worker refuses another model.
    pub backend: serde_json::Value,
    pub piece: redub_separate::Piece,
    /// The result's file name: [`piece_file`] of the piece on the whole mix.
    pub out: String,
}

/// The file of a separation task: the piece's heard samples.
pub const HEARD_FILE: &str = "heard.wav";

/// The file a separation piece's estimate comes back in: named by the piece, so that the
/// pieces of one job do not overwrite each other in the stage's folder.
pub fn piece_file(piece: &redub_separate::Piece) -> String {
    let channel = piece.channel.map_or_else(|| "mid".to_string(), |c| format!("ch{c}"));
    format!("speech-{}-{}-{channel}.wav", piece.span.0, piece.span.1)
}

/// The audio file transcription and diarization tasks name.
pub const SPEECH_FILE: &str = "speech16k.wav";

/// Models kept between tasks: the last Whisper, audio file and synthesis engine used, and the
/// diarization models.
#[derive(Default)]
pub struct Workshop {
    asr: Option<(Asr, Box<dyn Transcriber>)>,
    audio: Option<(PathBuf, Audio)>,
    tts: Option<(String, Engine)>,
    diarizer: Option<redub_diarize::SpeakerDiarizer>,
    /// The separation model.
    separator: Option<redub_separate::DeepFilter>,
}

impl std::fmt::Debug for Workshop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workshop").field("asr", &self.asr.as_ref().map(|a| a.0)).finish_non_exhaustive()
    }
}

impl Workshop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Run `task`. What it makes goes to `out_dir`; a task that makes its result in parts
    /// (synthesis: a clip per line) keeps each part in `out_dir` as it is made and tells
    /// `kept` its files (named relative to `out_dir`), so that a second delivery of the task
    /// (this worker died), given them back in its `out_dir`, does not make them again.
    pub fn execute(&mut self, task: &Task, out_dir: &Path, kept: &(dyn Fn(&[TaskFile]) + Sync)) -> Result<TaskOutput> {
        match task.kind.as_str() {
            TRANSCRIBE_WINDOW => self.transcribe(task),
            SYNTHESIZE_SPEAKER => self.synthesize(task, out_dir, kept),
            DIARIZE_CHUNK => self.diarize(task),
            SEPARATE_PIECE => self.separate(task, out_dir),
            other => Err(Error::Usage(format!(
                "this worker does not know tasks of kind '{other}' (it knows {TRANSCRIBE_WINDOW}, {SYNTHESIZE_SPEAKER}, {DIARIZE_CHUNK} and {SEPARATE_PIECE}): run the same redub version on every machine"
            ))),
        }
    }

    fn transcribe(&mut self, task: &Task) -> Result<TaskOutput> {
        let input: TranscribeInput = parse(task)?;
        let runtimes = [Asr::WhisperCpp, Asr::Onnx];
        let asr = match runtimes.iter().find(|a| OfflineBackends { asr: **a }.identity("transcribe") == input.backend) {
            Some(a) => *a,
            None => {
                let mine = OfflineBackends::default().identity("transcribe");
                return Err(mismatch(task, "transcribe", &mine, &input.backend));
            }
        };
        self.load_speech(task)?;
        if self.asr.as_ref().is_none_or(|(a, _)| *a != asr) {
            self.asr = None;
            self.asr = Some((asr, OfflineBackends { asr }.transcriber()?));
        }
        let (Some((_, audio)), Some((_, whisper))) = (&self.audio, &mut self.asr) else {
            return Err(Error::backend("worker", "the model or the audio was not loaded"));
        };
        let result = transcribe_window(whisper.as_mut(), audio, &input.task)?;
        Ok(TaskOutput { output: to_json(&result)?, files: Vec::new() })
    }

    /// The task's `speech16k.wav`, read unless it is the one already in memory (a job's
    /// windows and chunks all name the same file).
    fn load_speech(&mut self, task: &Task) -> Result<()> {
        let audio_path = file(task, SPEECH_FILE)?;
        if self.audio.as_ref().is_none_or(|(p, _)| *p != audio_path) {
            self.audio = None;
            self.audio = Some((audio_path.clone(), redub_media::read_wav_mono(&audio_path)?));
        }
        Ok(())
    }

    fn diarize(&mut self, task: &Task) -> Result<TaskOutput> {
        let input: DiarizeInput = parse(task)?;
        let backends = OfflineBackends::default();
        let mine = backends.identity("diarize");
        if mine != input.backend {
            return Err(mismatch(task, "diarize", &mine, &input.backend));
        }
        self.load_speech(task)?;
        if self.diarizer.is_none() {
            // The job's settings come with each task; the diarizer's own are never read by a
            // chunk, so the defaults serve every job.
            self.diarizer = backends.chunked_diarizer(&redub_diarize::DiarizeSettings::default())?;
        }
        let (Some((_, audio)), Some(diarizer)) = (&self.audio, &mut self.diarizer) else {
            return Err(Error::backend("worker", "the diarization models or the audio were not loaded"));
        };
        let result = diarizer.diarize_chunk(audio, &input.task, &redub_core::Ctx::quiet())?;
        Ok(TaskOutput { output: to_json(&result)?, files: Vec::new() })
    }

    fn synthesize(&mut self, task: &Task, out_dir: &Path, kept: &(dyn Fn(&[TaskFile]) + Sync)) -> Result<TaskOutput> {
        let input: SynthesizeInput = parse(task)?;
        let backends = OfflineBackends::default();
        let mine = backends.identity("synthesize");
        if mine != input.backend {
            return Err(mismatch(task, "synthesize", &mine, &input.backend));
        }
        // The voices stage's folder as the unit function reads it: its files under their names.
        let voices_dir = out_dir.join("voices");
        for f in &task.files {
            let to = voices_dir.join(&f.name);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            if !to.exists() {
                std::fs::copy(&f.path, &to).map_err(|e| Error::io(&f.path, e))?;
            }
        }
        let lang = input.task.lang.clone();
        if self.tts.as_ref().is_none_or(|(l, _)| *l != lang) {
            self.tts = None;
            self.tts = Some((lang.clone(), Engine::Stock(backends.synthesizer(&lang)?)));
        }
        let Some((_, engine)) = &mut self.tts else {
            return Err(Error::backend("worker", "the synthesis engine was not loaded"));
        };
        let units = Units::at(&out_dir.join("clips"));
        let earlier = Earlier { units: &units, previous: Vec::new(), previous_dir: out_dir };
        let lines = &input.task.lines;
        let progress = |id: u32| {
            if let Some(l) = lines.iter().find(|l| l.id == id) {
                // Named relative to `out_dir`, where a second delivery finds them again; the
                // clip before its entry, as the unit store writes them.
                let json = format!("{}.json", l.file);
                kept(&[
                    TaskFile { name: format!("clips/{}", l.file), path: units.path(&l.file) },
                    TaskFile { name: format!("clips/{json}"), path: units.path(&json) },
                ]);
            }
        };
        let warn = |_m: String| {};
        let entries = synthesize_speaker(&input.task, engine, &voices_dir, &earlier, &progress, &warn)?;
        let files = entries.iter().map(|e| TaskFile { name: e.file.clone(), path: units.path(&e.file) }).collect();
        Ok(TaskOutput { output: json!({ "clips": entries }), files })
    }
}

impl Workshop {
    fn separate(&mut self, task: &Task, out_dir: &Path) -> Result<TaskOutput> {
        let input: SeparateInput = parse(task)?;
        let mine = OfflineBackends::default().identity("separate");
        if mine != input.backend {
            return Err(mismatch(task, "separate", &mine, &input.backend));
        }
        let heard = redub_media::read_wav_mono(&file(task, HEARD_FILE)?)?;
        if self.separator.is_none() {
            self.separator = Some(redub_separate::DeepFilter::load(None)?);
        }
        let Some(model) = &self.separator else {
            return Err(Error::backend("worker", "the separation model was not loaded"));
        };
        let estimate = model.separate_piece(std::slice::from_ref(&heard), &input.piece, &redub_core::Ctx::quiet())?;
        // The name is the coordinator's: a bare file name, never a path.
        let name = Path::new(&input.out).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.is_empty() || name != input.out {
            return Err(Error::Usage(format!(
                "task {} ({}): the result name {:?} is not a file name",
                task.key, task.label, input.out
            )));
        }
        let path = out_dir.join(&name);
        redub_media::write_wav(&path, &Audio::new(heard.rate, estimate))?;
        Ok(TaskOutput { output: json!({ "file": name }), files: vec![TaskFile { name, path }] })
    }
}

fn parse<T: for<'de> Deserialize<'de>>(task: &Task) -> Result<T> {
    serde_json::from_value(task.input.clone()).map_err(|e| {
        Error::Usage(format!(
            "task {} ({}): its input does not parse ({e}); run the same redub version on every machine",
            task.key, task.label
        ))
    })
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::backend("worker", format!("result does not serialize: {e}")))
}

/// The local path of the task's file `name`.
fn file(task: &Task, name: &str) -> Result<PathBuf> {
    task.files.iter().find(|f| f.name == name).map(|f| f.path.clone()).ok_or_else(|| {
        Error::backend("worker", format!("task {} ({}) came without its file {name}", task.key, task.label))
    })
}

/// A task made for other models is refused: its result would not be what the coordinator's own
/// run gives (the cache keys name the models).
fn mismatch(task: &Task, stage: &str, mine: &serde_json::Value, theirs: &serde_json::Value) -> Error {
    Error::Usage(format!(
        "task {} ({}): this worker's {stage} models are not the coordinator's (worker {mine}, coordinator {theirs}); install the same models on every machine (scripts/setup.sh)",
        task.key, task.label
    ))
}
