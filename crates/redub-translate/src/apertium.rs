//! The offline backend: the Debian `apertium` program with its installed pair packages.
//!
//! Apertium is rule-based and cannot shorten, so it ignores `budget_words` and speakers; the
//! pipeline flags lines that come back over budget. Pairs are whatever `apertium -l` lists
//! (ISO 639-3 modes such as `eng-spa`); Redub speaks two-letter codes, so modes are mapped with
//! [`redub_core::lang::from_iso3`].
//!
//! One long-lived pipeline per [`Apertium`] value translates every window: starting `apertium`
//! costs about 250 ms (it loads the dictionaries), translating a window of 5 lines a few ms.
//! The pipeline runs in null-flush mode: each NUL-terminated block of input is translated,
//! flushed and answered with a NUL-terminated block. Every line is its own block, so words
//! cannot move between lines, and each block carries a numbered marker that must come back
//! with it, so an answer can never be taken for another line's.
//!
//! The `apertium` script itself cannot be used for this: its `txt` deformatter drops NULs and
//! does not flush, and the `gawk` filters around the mode hold a NUL-terminated record back
//! until more input arrives (measured with Apertium 3.8.3: `-z -f none` answers a block only
//! after two or more further blocks, depending on timing). So the session runs the mode's own
//! programs, as `apertium-wblank-mode -z` writes them for the script, under `bash`, and Redub
//! does what `apertium-destxt` and `apertium-retxt` do for one line of plain text.

use redub_core::lang::{from_iso3, to_iso3};
use redub_core::traits::TranslationItem;
use redub_core::{Ctx, Error, Result, Translation, TranslationWindow, Translator};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PROGRAM: &str = "apertium";

/// Writes a mode's pipeline as a shell command line with `-z` on every program (Apertium ≥ 3.6).
const MODE_WRITER: &str = "apertium-wblank-mode";

/// How many trailing stderr lines an error keeps.
const STDERR_TAIL_LINES: usize = 8;

/// How often a wait for answers looks at the cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// A pipeline that answers nothing for this long is taken for hung: a block is one line, which
/// Apertium translates in milliseconds; starting it takes well under a second.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The start of the blank that numbers each block (`[redub:17]`). Blanks pass through every
/// Apertium program unchanged, and a line's own `[` is escaped, so only Redub writes one.
const MARKER: &str = "redub:";

/// Translates with one long-lived Apertium pipeline, started at the first line and restarted
/// (once per window) if it dies; it is killed when the value is dropped.
#[derive(Debug)]
pub struct Apertium {
    program: OsString,
    from: String,
    to: String,
    /// The Apertium mode serving `from` → `to`, e.g. `eng-spa`.
    mode: String,
    launch: Launch,
    answer_timeout: Duration,
    session: Option<Session>,
}

/// How a session is started.
#[derive(Clone, Debug)]
enum Launch {
    /// The mode's pipeline from `apertium-wblank-mode -z`, run by `bash`.
    Mode,
    /// A stand-in program that speaks the same block protocol.
    #[cfg(test)]
    Command(Vec<OsString>),
}

impl Clone for Apertium {
    /// The same translator with its own pipeline, started when it is first needed: a running
    /// process cannot be shared.
    fn clone(&self) -> Self {
        Self {
            program: self.program.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            mode: self.mode.clone(),
            launch: self.launch.clone(),
            answer_timeout: self.answer_timeout,
            session: None,
        }
    }
}

/// One translation direction `apertium -l` listed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mode {
    from: String,
    to: String,
    /// The name to pass to `apertium`, e.g. `eng-spa` or `spa-eng_US`.
    name: String,
    /// A regional variant (`spa-eng_US`); a plain mode of the same pair is preferred.
    variant: bool,
}

/// Why a window did not come back.
enum Failure {
    Cancelled,
    /// The session died, hung or answered out of step: worth one restart. Says what happened.
    Broken(String),
    /// Starting cannot work (a missing program or mode file): no restart.
    Fatal(Error),
}

impl Apertium {
    /// A translator for `from` → `to` (two-letter codes; ISO 639-3 is accepted too). Runs
    /// `apertium -l` once: a pair that is not installed is [`Error::Unsupported`] listing the
    /// pairs that are, and a missing program says to run `make setup`. The pipeline itself is
    /// started by the first line to translate.
    pub fn new(from: &str, to: &str) -> Result<Self> {
        Self::with_program(PROGRAM, from, to)
    }

    /// As [`new`](Self::new), running `program` instead of `apertium` from `PATH`. The mode's
    /// programs are looked up in `program`'s directory first, as `apertium` does.
    pub fn with_program(program: impl AsRef<OsStr>, from: &str, to: &str) -> Result<Self> {
        let program = program.as_ref().to_os_string();
        let mode = resolve_mode(&program, from, to)?;
        Ok(Self {
            program,
            from: norm_code(from),
            to: norm_code(to),
            mode,
            launch: Launch::Mode,
            answer_timeout: ANSWER_TIMEOUT,
            session: None,
        })
    }

    /// The Apertium mode in use, e.g. `eng-spa`.
    pub fn mode(&self) -> &str {
        &self.mode
    }

    /// The translations of `texts` (non-empty, one line each), one block per line. A session
    /// that dies, hangs or answers out of step is replaced once and the window sent again.
    fn translate_blocks(&mut self, texts: &[&str], ctx: &Ctx) -> Result<Vec<String>> {
        let mut restarted = false;
        loop {
            match self.try_blocks(texts, ctx) {
                Ok(out) => return Ok(out),
                Err(Failure::Cancelled) => {
                    // Answers still on their way would be read as the next window's.
                    self.session = None;
                    return Err(Error::Cancelled);
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Broken(why)) => {
                    let tail = self.session.take().map(Session::finish).unwrap_or_default();
                    if restarted {
                        return Err(self.broken(&why, &tail));
                    }
                    restarted = true;
                }
            }
        }
    }

    fn try_blocks(&mut self, texts: &[&str], ctx: &Ctx) -> std::result::Result<Vec<String>, Failure> {
        ctx.check_cancel().map_err(|_| Failure::Cancelled)?;
        let session = match self.session.take() {
            Some(session) => session,
            None => self.start().map_err(Failure::Fatal)?,
        };
        self.session.insert(session).ask(texts, self.answer_timeout, ctx)
    }

    /// Start a session for the current mode.
    fn start(&self) -> Result<Session> {
        match &self.launch {
            Launch::Mode => {
                let bin = program_dir(&self.program);
                let path = search_path(bin.as_deref());
                let mode_file = mode_file(bin.as_deref(), &self.mode)?;
                let pipeline = mode_pipeline(&mode_file, &path)?;
                let mut cmd = Command::new("bash");
                // `apertium -u` passes `-n` (no `*` before unknown words: names and brands stay
                // as they were, which is what a dub line wants) as the mode's `$1`; `$2` is the
                // tagger option behind `-a`, unused.
                cmd.arg("-c").arg(pipeline).args(["redub-apertium", "-n", ""]);
                cmd.env("PATH", &path);
                // As `apertium` does: its programs classify characters by the locale.
                cmd.env_remove("LC_ALL").env("LC_CTYPE", "C.UTF-8");
                Session::spawn(cmd, "bash")
            }
            #[cfg(test)]
            Launch::Command(argv) => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                Session::spawn(cmd, &argv[0].to_string_lossy())
            }
        }
    }

    /// The error for a session that failed again after its restart.
    fn broken(&self, why: &str, stderr_tail: &str) -> Error {
        let mut stderr = format!(
            "the translation pipeline {why}, also after a restart. Reinstall Apertium and its {}→{} data with \
             `make setup`",
            self.from, self.to
        );
        if !stderr_tail.is_empty() {
            stderr.push_str(". Its last messages:\n");
            stderr.push_str(stderr_tail);
        }
        Error::Process { program: format!("apertium {}", self.mode), stderr }
    }
}

impl Translator for Apertium {
    fn translate(&mut self, window: &TranslationWindow, from: &str, to: &str, ctx: &Ctx) -> Result<Vec<Translation>> {
        // Apertium is a rule-based system: it sees no context and cannot shorten a line.
        Ok(self.translate_lines(window.items, from, to, ctx)?.into_iter().map(Translation::plain).collect())
    }
}

impl Apertium {
    fn translate_lines(&mut self, items: &[TranslationItem], from: &str, to: &str, ctx: &Ctx) -> Result<Vec<String>> {
        // The trait passes the pair on every call; one object may be reused for another pair.
        if norm_code(from) != self.from || norm_code(to) != self.to {
            self.mode = resolve_mode(&self.program, from, to)?;
            self.from = norm_code(from);
            self.to = norm_code(to);
            self.session = None;
        }
        ctx.check_cancel()?;

        let texts: Vec<String> = items.iter().map(|i| one_line(&i.text)).collect();
        let mut out = vec![String::new(); items.len()];
        // Empty lines are not sent: nothing to translate, and no process to start for them.
        let live: Vec<usize> = (0..texts.len()).filter(|&i| !texts[i].is_empty()).collect();
        if live.is_empty() {
            return Ok(out);
        }
        let blocks: Vec<&str> = live.iter().map(|&i| texts[i].as_str()).collect();
        for (&i, text) in live.iter().zip(self.translate_blocks(&blocks, ctx)?) {
            out[i] = text;
        }
        Ok(out)
    }
}

/// The pairs the installed Apertium can translate, as two-letter `(from, to)` codes (ISO 639-3
/// when Redub knows no two-letter code), in the order `apertium -l` lists them. Regional
/// variants such as `spa-eng_US` fold into their pair.
pub fn available_pairs() -> Result<Vec<(String, String)>> {
    Ok(list_modes(OsStr::new(PROGRAM))?.into_iter().map(|m| (m.from, m.to)).collect())
}

/// The mode for `from` → `to`, or the error that lists what is installed.
fn resolve_mode(program: &OsStr, from: &str, to: &str) -> Result<String> {
    let (from, to) = (norm_code(from), norm_code(to));
    let modes = list_modes(program)?;
    if let Some(m) = modes.iter().find(|m| m.from == from && m.to == to) {
        return Ok(m.name.clone());
    }
    let listed = if modes.is_empty() {
        "none".to_string()
    } else {
        modes.iter().map(|m| format!("{}→{}", m.from, m.to)).collect::<Vec<_>>().join(", ")
    };
    let hint = match (to_iso3(&from), to_iso3(&to)) {
        (Some(a), Some(b)) => format!("apertium-{a}-{b} (if Debian has it; `apt-cache search apertium` lists pairs)"),
        _ => "apertium-xxx-yyy (`apt-cache search apertium` lists pairs)".to_string(),
    };
    Err(Error::Unsupported(format!(
        "Apertium has no {from}→{to} pair. Available offline pairs: {listed}. \
         Install another pair with apt-get install {hint}, or use another --from/--to"
    )))
}

/// `apertium -l`, parsed and deduplicated.
fn list_modes(program: &OsStr) -> Result<Vec<Mode>> {
    Ok(parse_modes(&run_program(program, &["-l"], None)?))
}

/// Modes from `apertium -l` output: one per line, `xxx-yyy` or `xxx-yyy_VAR`. Lines of any
/// other shape (debugging modes like `eng-spa-tagger`, which `-l` does not normally list) are
/// skipped, as are repeats of a pair, keeping the plain mode over a variant.
fn parse_modes(listing: &str) -> Vec<Mode> {
    let mut modes: Vec<Mode> = Vec::new();
    for name in listing.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = name.split('-').collect();
        let [src, dst] = parts.as_slice() else { continue };
        let (src, src_var) = split_variant(src);
        let (dst, dst_var) = split_variant(dst);
        if src.is_empty() || dst.is_empty() {
            continue;
        }
        let mode =
            Mode { from: norm_code(src), to: norm_code(dst), name: name.to_string(), variant: src_var || dst_var };
        match modes.iter_mut().find(|m| m.from == mode.from && m.to == mode.to) {
            Some(existing) if existing.variant && !mode.variant => *existing = mode,
            Some(_) => {}
            None => modes.push(mode),
        }
    }
    modes
}

/// `eng_US` → (`eng`, true); `eng` → (`eng`, false).
fn split_variant(code: &str) -> (&str, bool) {
    match code.split_once('_') {
        Some((base, _)) => (base, true),
        None => (code, false),
    }
}

/// Lower-case two-letter code when known: `eng` → `en`, `EN` → `en`; unknown codes unchanged.
fn norm_code(code: &str) -> String {
    let code = code.trim().to_ascii_lowercase();
    match from_iso3(&code) {
        Some(two) => two.to_string(),
        None => code,
    }
}

/// The item's text as one line: control characters and inner newlines become spaces, so the
/// only line breaks Apertium sees are the separators between items.
fn one_line(text: &str) -> String {
    let spaced: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    clean(&spaced)
}

/// Trimmed, with runs of whitespace collapsed (Apertium leaves doubled spaces where it dropped a
/// word, e.g. "Oh,  soy").
fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The block for one line: the text as `apertium-destxt` writes one line of plain text (`\`
/// before the stream format's reserved characters, `~`, a post-generation mark, inside a
/// blank, and the sentence end `.[]` it adds, dropped again on the way out), a newline blank,
/// the block's marker and the NUL that ends it. Control characters (NUL among them) become
/// spaces, so no line can end a block early.
fn encode_block(text: &str, id: u64) -> Vec<u8> {
    let mut block = String::with_capacity(text.len() + 24);
    for c in text.chars() {
        match c {
            '[' | ']' | '\\' | '^' | '$' | '@' | '/' | '<' | '>' | '{' | '}' => {
                block.push('\\');
                block.push(c);
            }
            '~' => block.push_str("[~]"),
            c if c.is_control() => block.push(' '),
            c => block.push(c),
        }
    }
    block.push_str(&format!(".[][\n][{MARKER}{id}]\0"));
    block.into_bytes()
}

/// The text of an answer block, as `apertium-retxt` would write it (escapes undone, blanks
/// unwrapped, a `.` right before an empty blank dropped), cleaned; `None` unless the block
/// carries block `id`'s marker and no other.
fn decode_block(raw: &[u8], id: u64) -> Option<String> {
    let raw = String::from_utf8_lossy(raw);
    let marker = format!("{MARKER}{id}");
    let mut out = String::with_capacity(raw.len());
    let mut marked = false;
    // Whether the last character written was a plain `.`, the one destxt adds before `[]`.
    let mut after_dot = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '[' => {
                let mut blank = String::new();
                while let Some(b) = chars.next() {
                    match b {
                        '\\' => blank.extend(chars.next()),
                        ']' => break,
                        b => blank.push(b),
                    }
                }
                if blank.starts_with(MARKER) {
                    if blank != marker || marked {
                        return None;
                    }
                    marked = true;
                } else if blank.is_empty() {
                    if after_dot {
                        out.pop();
                    }
                } else {
                    out.push_str(&blank);
                }
            }
            ']' => {}
            c => out.push(c),
        }
        after_dot = c == '.';
    }
    marked.then(|| clean(&out))
}

/// A running pipeline: blocks go in through a writer thread and come out through a reader
/// thread, so neither side waits on a full pipe, and stderr is drained into a short tail.
#[derive(Debug)]
struct Session {
    child: Child,
    /// Blocks to write; dropping it ends the writer thread, which closes the pipeline's stdin.
    input: Option<Sender<Vec<u8>>>,
    /// Answer blocks, without their NUL; disconnected when stdout closes.
    output: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Disconnected once stderr is closed, so `finish` knows the tail is complete.
    stderr_done: Receiver<()>,
    next_id: u64,
    /// Set once the child has been killed and reaped: its pid may belong to another process now.
    stopped: bool,
}

impl Session {
    fn spawn(mut cmd: Command, name: &str) -> Result<Self> {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so that `Drop` can kill every program of the pipeline, not
            // only the shell that started them.
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::MissingModel { what: format!("{name} (runs Apertium's pipeline)"), path: PathBuf::from("$PATH") }
            }
            _ => Error::Process { program: name.to_string(), stderr: format!("could not start: {e}") },
        })?;
        let (Some(mut stdin), Some(stdout), Some(stderr_pipe)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Process { program: name.to_string(), stderr: "started without pipes".into() });
        };

        let (input, blocks) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            for block in blocks {
                if stdin.write_all(&block).and_then(|()| stdin.flush()).is_err() {
                    // The pipeline is gone; the reader sees it end.
                    break;
                }
            }
        });

        let (answers, output) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut block = Vec::new();
                match stdout.read_until(0, &mut block) {
                    Ok(_) if block.last() == Some(&0) => {
                        block.pop();
                        if answers.send(block).is_err() {
                            break;
                        }
                    }
                    // End of output (a partial block is no answer) or a read error.
                    _ => break,
                }
            }
        });

        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let (done, stderr_done) = mpsc::channel::<()>();
        let tail = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let _done = done;
            let mut lines = BufReader::new(stderr_pipe);
            let mut line = Vec::new();
            while matches!(lines.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line).trim().to_string();
                line.clear();
                if text.is_empty() {
                    continue;
                }
                let Ok(mut tail) = tail.lock() else { break };
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
        });

        Ok(Self { child, input: Some(input), output, stderr, stderr_done, next_id: 0, stopped: false })
    }

    /// Send one block per text, then read as many answers.
    fn ask(&mut self, texts: &[&str], timeout: Duration, ctx: &Ctx) -> std::result::Result<Vec<String>, Failure> {
        let first = self.next_id;
        self.next_id += texts.len() as u64;
        let input = self.input.as_ref().ok_or_else(|| Failure::Broken("has no input".into()))?;
        for (id, text) in (first..).zip(texts) {
            input.send(encode_block(text, id)).map_err(|_| Failure::Broken("stopped reading its input".into()))?;
        }
        let total = texts.len() as u64;
        let mut out = Vec::with_capacity(texts.len());
        let mut last = Instant::now();
        while out.len() < texts.len() {
            ctx.check_cancel().map_err(|_| Failure::Cancelled)?;
            match self.output.recv_timeout(POLL) {
                Ok(raw) => {
                    let id = first + out.len() as u64;
                    let text = decode_block(&raw, id).ok_or_else(|| {
                        let shown: String = String::from_utf8_lossy(&raw).chars().take(80).collect();
                        Failure::Broken(format!("answered out of step (block {id} came back as {shown:?})"))
                    })?;
                    out.push(text);
                    ctx.progress(out.len() as u64, total);
                    last = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) if last.elapsed() < timeout => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Failure::Broken(format!("gave no answer for {} s", timeout.as_secs_f32())));
                }
                Err(RecvTimeoutError::Disconnected) => return Err(Failure::Broken(self.ended())),
            }
        }
        Ok(out)
    }

    /// How the pipeline ended, once its output has closed.
    fn ended(&mut self) -> String {
        // Its output closes as it exits; give the status a moment to be there.
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return format!("stopped ({status})"),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => return "closed its output".into(),
            }
        }
    }

    /// Stop the pipeline; its last stderr lines.
    fn finish(mut self) -> String {
        self.stop();
        // Stderr closes when the last program is gone; wait briefly for the reader to get there.
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(500));
        self.stderr.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default()
    }

    fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        // Closing stdin is the pipeline's own way to end; the kill covers a program that hangs.
        self.input = None;
        #[cfg(unix)]
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGKILL to the process group `pgid` leads. The standard library can only signal the
/// group's leader (the shell); the pipeline's programs are its children and would outlive it.
/// Called before the leader is reaped, so the group id cannot have been reused.
#[cfg(unix)]
fn kill_group(pgid: u32) {
    let _ = Command::new("bash")
        .args(["-c", "kill -KILL -- \"-$1\" 2>/dev/null", "redub-kill", &pgid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The directory `program` runs from: its own when it is a path, else the first `PATH` entry
/// holding it.
fn program_dir(program: &OsStr) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return path.parent().map(Path::to_path_buf);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| dir.join(path).is_file())
}

/// `PATH` with `bin` first, as `apertium` puts its own directory first for its programs.
fn search_path(bin: Option<&Path>) -> OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = bin.map(Path::to_path_buf).into_iter().chain(std::env::split_paths(&rest)).collect();
    std::env::join_paths(dirs).unwrap_or(rest)
}

/// `<datadir>/modes/<mode>.mode`, the datadir being `$APERTIUM_DATADIR`, else `share/apertium`
/// beside the program's `bin`, else `/usr/share/apertium`: where `apertium` looks.
fn mode_file(bin: Option<&Path>, mode: &str) -> Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("APERTIUM_DATADIR").map(PathBuf::from).into_iter().collect();
    dirs.extend(bin.and_then(Path::parent).map(|prefix| prefix.join("share/apertium")));
    dirs.push(PathBuf::from("/usr/share/apertium"));
    let files: Vec<PathBuf> = dirs.iter().map(|d| d.join("modes").join(format!("{mode}.mode"))).collect();
    files.iter().find(|f| f.is_file()).cloned().ok_or_else(|| Error::MissingModel {
        what: format!("Apertium's `{mode}` mode file (from the pair's Debian package)"),
        path: files.last().cloned().unwrap_or_default(),
    })
}

/// The shell command line of `mode_file` with null flush on every program.
fn mode_pipeline(mode_file: &Path, path: &OsStr) -> Result<String> {
    let mut cmd = Command::new(MODE_WRITER);
    cmd.arg("-z").arg(mode_file).env("PATH", path);
    let pipeline = run_command(&mut cmd, None)?;
    if pipeline.trim().is_empty() {
        return Err(Error::Process {
            program: format!("{MODE_WRITER} -z {}", mode_file.display()),
            stderr: "wrote no pipeline. Reinstall Apertium with `make setup`".into(),
        });
    }
    Ok(pipeline)
}

/// Run `program args`, feeding `input` on stdin; stdout as (lossy) UTF-8. No shell is involved.
fn run_program(program: &OsStr, args: &[&str], input: Option<&str>) -> Result<String> {
    run_command(Command::new(program).args(args), input)
}

/// Run `cmd` to its end, feeding `input` on stdin; stdout as (lossy) UTF-8.
fn run_command(cmd: &mut Command, input: Option<&str>) -> Result<String> {
    let program = cmd.get_program().to_os_string();
    let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let label = || format!("{} {}", program.to_string_lossy(), args.join(" "));
    let child = cmd
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::MissingModel {
                what: format!("{} (the program, from the Debian package `apertium`)", program.to_string_lossy()),
                path: PathBuf::from("$PATH"),
            },
            _ => Error::Process { program: label(), stderr: format!("could not start: {e}") },
        })?;
    let (output, written) = redub_media::finish_with_input(child, input.map(str::as_bytes))
        .map_err(|e| Error::Process { program: label(), stderr: e.to_string() })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
        return Err(Error::Process {
            program: label(),
            stderr: if tail.is_empty() { format!("exited with {} and printed nothing", output.status) } else { tail },
        });
    }
    match written {
        Ok(()) => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        Err(e) => Err(Error::Process { program: label(), stderr: format!("writing the text: {e}") }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn items(texts: &[&str]) -> Vec<TranslationItem> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| TranslationItem { id: i as u32, speaker: None, text: t.to_string(), budget_words: 10 })
            .collect()
    }

    fn en_es(texts: &[&str]) -> Vec<String> {
        let mut t = Apertium::new("en", "es").unwrap();
        t.translate_lines(&items(texts), "en", "es", &Ctx::quiet()).unwrap()
    }

    /// What the script `apertium -u <mode>` makes of `text` alone, one process for the line:
    /// the reference a session must match.
    fn one_shot(mode: &str, text: &str) -> String {
        clean(&run_program(OsStr::new(PROGRAM), &["-u", mode], Some(&format!("{}\n", one_line(text)))).unwrap())
    }

    /// The sample call's reference lines (`fixtures/speech-2spk/sample.stm`).
    fn sample_lines() -> Vec<String> {
        let stm = include_str!("../../../fixtures/speech-2spk/sample.stm");
        stm.lines().map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")).collect()
    }

    fn pid(t: &Apertium) -> u32 {
        t.session.as_ref().unwrap().child.id()
    }

    #[test]
    fn lists_english_spanish() {
        let pairs = available_pairs().unwrap();
        assert!(pairs.contains(&("en".to_string(), "es".to_string())), "{pairs:?}");
        assert!(pairs.contains(&("es".to_string(), "en".to_string())), "{pairs:?}");
        // spa-eng_US folds into es→en instead of appearing twice.
        assert_eq!(pairs.iter().filter(|p| p.0 == "es" && p.1 == "en").count(), 1, "{pairs:?}");
    }

    #[test]
    fn translates_a_window_of_dialogue() {
        let src = [
            "Hello?",
            "Oh, hello.",
            "I didn't know you were there.",
            "This is Diane in New Jersey.",
            "Oh, I'm originally from Chicago also.",
        ];
        let out = en_es(&src);
        assert_eq!(out.len(), 5, "{out:?}");
        for line in &out {
            assert!(!line.is_empty(), "{out:?}");
            assert!(!line.contains('*'), "{out:?}");
            assert!(!line.contains("  "), "{out:?}");
            assert_eq!(line.trim(), line, "{out:?}");
        }
        assert!(out[0].contains("Hola"), "{out:?}");
        assert!(out[3].contains("Diane"), "{out:?}");
        assert!(out[4].contains("Chicago"), "{out:?}");
    }

    #[test]
    fn empty_lines_keep_their_place() {
        let out = en_es(&["Hello?", "", "   ", "Oh, I'm originally from Chicago also.", "\n"]);
        assert_eq!(out.len(), 5, "{out:?}");
        assert!(out[0].contains("Hola"), "{out:?}");
        assert_eq!(out[1], "");
        assert_eq!(out[2], "");
        assert!(out[3].contains("Chicago"), "{out:?}");
        assert_eq!(out[4], "");
        assert!(en_es(&["", " "]).iter().all(String::is_empty));
        assert!(en_es(&[]).is_empty());
    }

    #[test]
    fn words_do_not_move_between_lines() {
        // In one stream with a plain newline between them, Apertium's transfer reorders
        // "red / house" into "casa / roja" across the line break; each line is its own block.
        let out = en_es(&["I saw the red", "house", "the", "big dog"]);
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(!out[0].to_lowercase().contains("casa"), "{out:?}");
        assert!(out[1].to_lowercase().contains("casa"), "{out:?}");
        assert!(out[3].to_lowercase().contains("perro"), "{out:?}");
    }

    #[test]
    fn window_equals_one_call_per_line() {
        // Every character the stream format reserves, `~` (post-generation's mark), and what
        // destxt's sentence end and blanks could be confused with.
        let src = [
            "Hello?",
            "This is Diane in New Jersey.",
            "What [is] this? a\\b ^x$ @y #z /v <u> {t} *w",
            "I love you",
            "of the ~ house~ a~b",
            "a.[]b [<STREAMCMD:SETVAR:x>] ^a/b<n>$ [redub:0]",
            "! \" # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \\ ] ^ _ ` { | } ~ « » ¿ ¡ – — … ’ “ ” ·",
            "e-mail bob@example.com or http://x.org/a?b=c, it's 3.5 km... OK?",
        ];
        let batched = en_es(&src);
        let each: Vec<String> = src.iter().map(|s| one_shot("eng-spa", s)).collect();
        assert_eq!(batched, each);
    }

    #[test]
    fn the_sample_matches_one_call_per_line_in_one_process() {
        let lines = sample_lines();
        assert_eq!(lines.len(), 13);
        let mut t = Apertium::new("en", "es").unwrap();
        let mut out = Vec::new();
        let mut pids = Vec::new();
        for window in lines.chunks(5) {
            let texts: Vec<&str> = window.iter().map(String::as_str).collect();
            out.extend(t.translate_lines(&items(&texts), "en", "es", &Ctx::quiet()).unwrap());
            pids.push(pid(&t));
        }
        assert!(pids.iter().all(|p| *p == pids[0]), "{pids:?}");
        let each: Vec<String> = lines.iter().map(|s| one_shot("eng-spa", s)).collect();
        assert_eq!(out, each);
    }

    #[test]
    fn a_long_window_and_many_windows_go_through_one_process() {
        let lines = sample_lines();
        let many: Vec<&str> = lines.iter().chain(&lines).chain(&lines).map(String::as_str).collect();
        let mut t = Apertium::new("en", "es").unwrap();
        let once = t.translate_lines(&items(&many), "en", "es", &Ctx::quiet()).unwrap();
        let first = pid(&t);
        assert_eq!(once.len(), 39);
        assert_eq!(once[..13], once[13..26]);
        assert_eq!(once[..13], once[26..]);
        for window in many.chunks(5) {
            let out = t.translate_lines(&items(window), "en", "es", &Ctx::quiet()).unwrap();
            assert_eq!(out.len(), window.len());
        }
        assert_eq!(pid(&t), first);
        // The same text in another place of the stream still gets the same translation.
        let again = t.translate_lines(&items(&[many[5]]), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(again[0], once[5]);
    }

    #[test]
    fn nul_and_control_characters_cannot_desynchronise_the_blocks() {
        let src =
            ["Hello?\0", "\0", "I saw the red\0house", "Oh,\u{1}\u{7} hello.\u{85}", "This is Diane\0\0in New Jersey."];
        let mut t = Apertium::new("en", "es").unwrap();
        let out = t.translate_lines(&items(&src), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out.len(), 5, "{out:?}");
        assert_eq!(out[1], "");
        for i in [0, 2, 3, 4] {
            assert_eq!(out[i], one_shot("eng-spa", src[i]), "{out:?}");
        }
        // And the next window still lines up.
        let next = t.translate_lines(&items(&["Neither did I.", "Hello?"]), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(next, vec![one_shot("eng-spa", "Neither did I."), one_shot("eng-spa", "Hello?")]);
    }

    #[test]
    fn inner_newlines_do_not_break_the_split() {
        let out = en_es(&["Hello?\n\nOh, hello.", "This is Diane\nin New Jersey."]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("Hola"), "{out:?}");
        assert!(out[1].contains("Diane") && out[1].contains("Jersey"), "{out:?}");
    }

    #[test]
    fn spanish_to_english() {
        let mut t = Apertium::new("es", "en").unwrap();
        let src = ["Hola.", "La casa roja.", "Él ~ va a el cine [x] ^y$."];
        let out = t.translate_lines(&items(&src), "es", "en", &Ctx::quiet()).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out[0].contains("Hello"), "{out:?}");
        assert!(out[1].to_lowercase().contains("red house"), "{out:?}");
        assert_eq!(out, src.iter().map(|s| one_shot("spa-eng", s)).collect::<Vec<_>>());
    }

    #[test]
    fn missing_pair_lists_installed_pairs() {
        match Apertium::new("en", "de") {
            Err(Error::Unsupported(msg)) => {
                assert!(msg.starts_with("Apertium has no en→de pair."), "{msg}");
                assert!(msg.contains("en→es"), "{msg}");
                assert!(msg.contains("es→en"), "{msg}");
                assert!(msg.contains("apt-get install apertium-"), "{msg}");
                assert!(msg.contains("--from/--to"), "{msg}");
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn accepts_iso3_and_upper_case() {
        assert_eq!(Apertium::new("eng", "SPA").unwrap().mode(), "eng-spa");
        assert_eq!(Apertium::new("es", "en").unwrap().mode(), "spa-eng");
    }

    #[test]
    fn missing_program_says_make_setup() {
        let err = Apertium::with_program("/nonexistent/redub-apertium", "en", "es").unwrap_err();
        assert!(matches!(err, Error::MissingModel { .. }), "{err:?}");
        assert!(err.to_string().contains("make setup"), "{err}");
    }

    #[test]
    fn missing_mode_file_says_make_setup() {
        let err = mode_file(None, "eng-xyz").unwrap_err();
        assert!(matches!(err, Error::MissingModel { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("eng-xyz") && msg.contains("eng-xyz.mode") && msg.contains("make setup"), "{msg}");
        assert!(mode_file(None, "eng-spa").unwrap().ends_with("modes/eng-spa.mode"));
    }

    #[test]
    fn parses_mode_listing() {
        let modes = parse_modes("  spa-eng_US\n  eng-spa\n  spa-eng\n  eng-spa-tagger\n\n  oci_aran-cat\n  xyz-abc\n");
        let pairs: Vec<(&str, &str, &str)> =
            modes.iter().map(|m| (m.from.as_str(), m.to.as_str(), m.name.as_str())).collect();
        assert_eq!(
            pairs,
            vec![
                ("es", "en", "spa-eng"),
                ("en", "es", "eng-spa"),
                ("oc", "ca", "oci_aran-cat"),
                ("xyz", "abc", "xyz-abc")
            ]
        );
        assert!(parse_modes("").is_empty());
    }

    #[test]
    fn blocks_round_trip_and_refuse_other_markers() {
        let block = encode_block("a [b] \\c ~d\0e\u{1}f", 7);
        assert_eq!(block.iter().filter(|b| **b == 0).count(), 1);
        assert_eq!(block.last(), Some(&0));
        assert_eq!(String::from_utf8_lossy(&block), "a \\[b\\] \\\\c [~]d e f.[][\n][redub:7]\0");
        let answer = &block[..block.len() - 1];
        assert_eq!(decode_block(answer, 7).unwrap(), "a [b] \\c ~d e f");
        assert_eq!(decode_block(answer, 8), None);
        assert_eq!(decode_block(b"Hola?.[][\n]", 0), None);
        assert_eq!(decode_block(b"Hola?.[][\n][redub:0][redub:0]", 0), None);
        assert_eq!(decode_block(b"Hola?.[][\n][redub:1][redub:0]", 0), None);
        // destxt's sentence end goes; a period of the text stays.
        assert_eq!(decode_block(b" Oh,  soy..[][\n][redub:0]", 0).unwrap(), "Oh, soy.");
        assert_eq!(decode_block(b"[redub:3]", 3).unwrap(), "");
    }

    /// A stand-in pipeline in bash that answers each block with "ES: " and the block, after
    /// logging its start; `behaviour` makes it misbehave.
    #[cfg(unix)]
    struct Fake {
        dir: PathBuf,
    }

    #[cfg(unix)]
    impl Fake {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("redub-apertium-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let script = r#"echo "$$" >> "$2/starts"
n=0
while IFS= read -r -d '' block; do
  n=$((n+1))
  case "$1" in
    die-once) if [ ! -e "$2/died" ] && [ $n -eq 2 ]; then touch "$2/died"; exit 3; fi ;;
    die) if [ $n -eq 2 ]; then echo 'fake: cannot open eng-spa.autogen.bin' >&2; exit 3; fi ;;
    extra) printf 'stray\0' ;;
    hang) sleep 30 ;;
  esac
  printf 'ES: %s\0' "$block"
done
"#;
            std::fs::write(dir.join("fake.sh"), script).unwrap();
            Self { dir }
        }

        fn translator(&self, behaviour: &str) -> Apertium {
            let argv =
                [OsString::from("bash"), self.dir.join("fake.sh").into(), behaviour.into(), self.dir.clone().into()];
            Apertium {
                program: PROGRAM.into(),
                from: "en".into(),
                to: "es".into(),
                mode: "eng-spa".into(),
                launch: Launch::Command(argv.to_vec()),
                answer_timeout: ANSWER_TIMEOUT,
                session: None,
            }
        }

        fn starts(&self) -> Vec<u32> {
            let log = std::fs::read_to_string(self.dir.join("starts")).unwrap_or_default();
            log.lines().map(|l| l.parse().unwrap()).collect()
        }
    }

    #[cfg(unix)]
    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Whether any process is still in process group `pgid` (Linux's `/proc`).
    #[cfg(target_os = "linux")]
    fn group_alive(pgid: u32) -> bool {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid pgrp …; comm may hold spaces, so count from its ')'.
            let fields: Vec<&str> =
                stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
    }

    /// Whether process group `pgid` is empty within a second: killed programs leave `/proc`
    /// only once they are reaped, which for orphans is up to init.
    #[cfg(target_os = "linux")]
    fn group_gone(pgid: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(1);
        while group_alive(pgid) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    #[cfg(unix)]
    #[test]
    fn windows_share_one_stand_in_process() {
        let fake = Fake::new("share");
        let mut t = fake.translator("ok");
        let src: Vec<String> = (0..7).map(|i| format!("line {i} [x]")).collect();
        let src: Vec<&str> = src.iter().map(String::as_str).collect();
        for _ in 0..3 {
            let out = t.translate_lines(&items(&src), "en", "es", &Ctx::quiet()).unwrap();
            assert_eq!(out, src.iter().map(|s| format!("ES: {s}")).collect::<Vec<_>>());
        }
        assert_eq!(fake.starts().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_dead_pipeline_is_restarted_once() {
        let fake = Fake::new("die-once");
        let mut t = fake.translator("die-once");
        let out = t.translate_lines(&items(&["one", "", "two", "three"]), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out, vec!["ES: one", "", "ES: two", "ES: three"]);
        let out = t.translate_lines(&items(&["four"]), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out, vec!["ES: four"]);
        assert_eq!(fake.starts().len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_pipeline_that_keeps_dying_is_a_clear_error() {
        let fake = Fake::new("die");
        let mut t = fake.translator("die");
        let err = t.translate_lines(&items(&["one", "two"]), "en", "es", &Ctx::quiet()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("apertium eng-spa failed: the translation pipeline stopped (exit status: 3)"), "{msg}");
        assert!(msg.contains("also after a restart"), "{msg}");
        assert!(msg.contains("make setup"), "{msg}");
        assert!(msg.ends_with("fake: cannot open eng-spa.autogen.bin"), "{msg}");
        assert_eq!(fake.starts().len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn answers_out_of_step_are_refused() {
        let fake = Fake::new("extra");
        let mut t = fake.translator("extra");
        let err = t.translate_lines(&items(&["one", "two"]), "en", "es", &Ctx::quiet()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("answered out of step (block 0 came back as \"stray\")"), "{msg}");
        assert!(msg.contains("make setup"), "{msg}");
        assert_eq!(fake.starts().len(), 2);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_hung_pipeline_is_killed_and_reported() {
        let fake = Fake::new("hang");
        let mut t = fake.translator("hang");
        t.answer_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let err = t.translate_lines(&items(&["one"]), "en", "es", &Ctx::quiet()).unwrap_err();
        assert!(err.to_string().contains("gave no answer for 0.3 s, also after a restart"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        let starts = fake.starts();
        assert_eq!(starts.len(), 2);
        // Both stand-ins are gone, their `sleep` included.
        assert!(starts.iter().all(|&p| group_gone(p)), "{starts:?}");
    }

    #[test]
    fn honours_cancellation() {
        let flag = std::sync::atomic::AtomicBool::new(true);
        let ctx = Ctx::new(&|_, _| {}, Some(&flag));
        let mut t = Apertium::new("en", "es").unwrap();
        assert!(matches!(t.translate_lines(&items(&["Hello?"]), "en", "es", &ctx), Err(Error::Cancelled)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cancellation_stops_a_window_in_flight() {
        let fake = Fake::new("cancel");
        let mut t = fake.translator("hang");
        let flag = std::sync::atomic::AtomicBool::new(false);
        let ctx = Ctx::new(&|_, _| {}, Some(&flag));
        let started = Instant::now();
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            t.translate_lines(&items(&["one", "two"]), "en", "es", &ctx)
        });
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(t.session.is_none());
        let starts = fake.starts();
        assert_eq!(starts.len(), 1);
        assert!(group_gone(starts[0]));
        // The next window starts afresh and is not answered with the cancelled one's blocks.
        t.launch = fake.translator("ok").launch;
        let out = t.translate_lines(&items(&["three"]), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out, vec!["ES: three"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn dropping_kills_every_program_of_the_pipeline() {
        let mut t = Apertium::new("en", "es").unwrap();
        t.translate_lines(&items(&["Hello?"]), "en", "es", &Ctx::quiet()).unwrap();
        let group = pid(&t);
        assert!(group_alive(group));
        drop(t);
        assert!(group_gone(group));
    }

    #[test]
    fn switches_pair_when_asked() {
        let mut t = Apertium::new("en", "es").unwrap();
        assert!(t.translate_lines(&items(&["Hello?"]), "en", "es", &Ctx::quiet()).unwrap()[0].contains("Hola"));
        let out = t.translate_lines(&items(&["Hola."]), "es", "en", &Ctx::quiet()).unwrap();
        assert!(out[0].contains("Hello"), "{out:?}");
        assert_eq!(t.mode(), "spa-eng");
        assert!(matches!(t.translate_lines(&items(&["Hallo"]), "de", "en", &Ctx::quiet()), Err(Error::Unsupported(_))));
    }
}
