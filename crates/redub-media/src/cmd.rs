//! A small typed builder for the external programs this crate drives (`ffmpeg`, `ffprobe`).
//!
//! Every run captures stdout and stderr. A program that is not installed becomes an
//! [`Error::Process`] that says to run `make setup`; a non-zero exit becomes an
//! [`Error::Process`] with the last [`STDERR_TAIL_LINES`] lines of stderr.

use redub_core::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// How many trailing stderr lines an error keeps.
pub const STDERR_TAIL_LINES: usize = 15;

/// One invocation of an external media program: collect arguments, then [`run`](Self::run).
#[derive(Clone, Debug)]
pub struct Tool {
    name: &'static str,
    exe: OsString,
    args: Vec<OsString>,
}

/// What a finished program printed.
#[derive(Clone, Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Captured {
    /// The last `n` non-empty lines of stderr, joined with newlines.
    pub fn stderr_tail(&self, n: usize) -> String {
        tail_lines(&self.stderr, n)
    }

    /// stdout as (lossy) UTF-8.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Tool {
    /// `ffmpeg -hide_banner -nostdin -loglevel error`; the executable is `$REDUB_FFMPEG` when set.
    pub fn ffmpeg() -> Self {
        Self::new("ffmpeg", "REDUB_FFMPEG").args(["-hide_banner", "-nostdin", "-loglevel", "error"])
    }

    /// `ffprobe -hide_banner -v error`; the executable is `$REDUB_FFPROBE` when set.
    pub fn ffprobe() -> Self {
        Self::new("ffprobe", "REDUB_FFPROBE").args(["-hide_banner", "-v", "error"])
    }

    /// Any program, looked up on `PATH` unless the environment variable `env` names its path.
    pub fn new(name: &'static str, env: &str) -> Self {
        let exe = std::env::var_os(env).filter(|v| !v.is_empty()).unwrap_or_else(|| OsString::from(name));
        Self { name, exe, args: Vec::new() }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The program's short name (`ffmpeg`), as used in errors.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Run to completion and capture its output whatever the exit status; errs only when the
    /// program cannot be started.
    pub fn output(&self) -> Result<Captured> {
        let out =
            Command::new(&self.exe).args(&self.args).stdin(Stdio::null()).output().map_err(|e| self.spawn_error(e))?;
        Ok(Captured {
            status: out.status,
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Run to completion; a non-zero exit is an [`Error::Process`] with the tail of stderr.
    pub fn run(&self) -> Result<Captured> {
        let out = self.output()?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(self.failure(&out))
        }
    }

    /// The error for a run that exited unsuccessfully.
    pub fn failure(&self, out: &Captured) -> Error {
        let mut stderr = out.stderr_tail(STDERR_TAIL_LINES);
        if stderr.is_empty() {
            stderr = format!("exited with {} and printed nothing", out.status);
        }
        Error::Process { program: self.name.to_string(), stderr }
    }

    fn spawn_error(&self, e: std::io::Error) -> Error {
        let stderr = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{}` was not found. Run `make setup` (or `scripts/setup.sh`) to install ffmpeg, \
                 or point {} at the executable",
                self.exe.to_string_lossy(),
                if self.name == "ffprobe" { "REDUB_FFPROBE" } else { "REDUB_FFMPEG" },
            )
        } else {
            format!("could not start `{}`: {e}", self.exe.to_string_lossy())
        };
        Error::Process { program: self.name.to_string(), stderr }
    }
}

/// Wait for `child` (spawned with piped stdin, stdout and stderr) while `input` is written to
/// its stdin from a second thread: a long input must not fill the stdin pipe while the program
/// fills its stdout, or both would wait on each other. The outer error is a failure to wait; the
/// inner one a failure to write the input. For programs that read text on stdin (Apertium,
/// espeak-ng); stdin is closed once the input is written.
pub fn finish_with_input(mut child: Child, input: Option<&[u8]>) -> std::io::Result<(Output, std::io::Result<()>)> {
    let stdin = child.stdin.take();
    std::thread::scope(|s| {
        let writer = s.spawn(move || match (stdin, input) {
            (Some(mut pipe), Some(bytes)) => pipe.write_all(bytes),
            _ => Ok(()),
        });
        let output = child.wait_with_output()?;
        let written = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("the input writer panicked")));
        Ok((output, written))
    })
}

impl fmt::Display for Tool {
    /// The command line, shell-quoted loosely, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.exe.to_string_lossy())?;
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                write!(f, " '{}'", a.replace('\'', "'\\''"))?;
            } else {
                write!(f, " {a}")?;
            }
        }
        Ok(())
    }
}

/// The last `n` non-empty lines of `text`.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_non_empty_lines() {
        let text = (1..=20).map(|i| format!("line {i}\n\n")).collect::<String>();
        let tail = tail_lines(&text, 15);
        assert_eq!(tail.lines().count(), 15);
        assert!(tail.starts_with("line 6\n"));
        assert!(tail.ends_with("line 20"));
        assert_eq!(tail_lines("", 15), "");
    }

    #[test]
    fn missing_program_says_make_setup() {
        let tool = Tool { name: "ffmpeg", exe: "/nonexistent/redub-ffmpeg".into(), args: vec![] };
        let err = tool.run().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("make setup"), "{err}");
        assert!(err.starts_with("ffmpeg failed"), "{err}");
    }

    #[test]
    fn nonzero_exit_is_process_error_with_stderr() {
        let err = Tool::ffmpeg().args(["-i", "/nonexistent/input.mp4"]).run().err();
        match err {
            Some(Error::Process { program, stderr }) => {
                assert_eq!(program, "ffmpeg");
                assert!(stderr.contains("No such file"), "{stderr}");
            }
            other => panic!("expected a process error, got {other:?}"),
        }
    }

    #[test]
    fn display_quotes_spaces() {
        let t = Tool::new("ffmpeg", "REDUB_TEST_UNSET_VAR").args(["-i", "a b.mp4"]);
        assert_eq!(t.to_string(), "ffmpeg -i 'a b.mp4'");
    }
}
