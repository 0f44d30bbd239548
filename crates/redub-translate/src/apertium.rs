//! The offline backend: the Debian `apertium` program with its installed pair packages.
//!
//! Apertium is rule-based and cannot shorten, so it ignores `budget_words` and speakers; the
//! pipeline flags lines that come back over budget. Pairs are whatever `apertium -l` lists
//! (ISO 639-3 modes such as `eng-spa`); Redub speaks two-letter codes, so modes are mapped with
//! [`redub_core::lang::from_iso3`].

use redub_core::lang::{from_iso3, to_iso3};
use redub_core::traits::TranslationItem;
use redub_core::{Ctx, Error, Result, Translation, TranslationWindow, Translator};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const PROGRAM: &str = "apertium";

/// How many trailing stderr lines an error keeps.
const STDERR_TAIL_LINES: usize = 8;

/// Between items of a window: an empty line. Apertium's plain-text deformatter treats it as a
/// paragraph break, which stops transfer rules from moving words across it (with a single
/// newline, "I saw the red" / "house" came back as "Vi la casa" / "roja"), and passes it through
/// unchanged, so the output splits back at the same places.
const SEPARATOR: &str = "\n\n";

/// Translates with the `apertium` program, one process per window of lines.
#[derive(Clone, Debug)]
pub struct Apertium {
    program: OsString,
    from: String,
    to: String,
    /// The Apertium mode serving `from` → `to`, e.g. `eng-spa`.
    mode: String,
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

impl Apertium {
    /// A translator for `from` → `to` (two-letter codes; ISO 639-3 is accepted too). Runs
    /// `apertium -l` once: a pair that is not installed is [`Error::Unsupported`] listing the
    /// pairs that are, and a missing program says to run `make setup`.
    pub fn new(from: &str, to: &str) -> Result<Self> {
        Self::with_program(PROGRAM, from, to)
    }

    /// As [`new`](Self::new), running `program` instead of `apertium` from `PATH`.
    pub fn with_program(program: impl AsRef<OsStr>, from: &str, to: &str) -> Result<Self> {
        let program = program.as_ref().to_os_string();
        let mode = resolve_mode(&program, from, to)?;
        Ok(Self { program, from: norm_code(from), to: norm_code(to), mode })
    }

    /// The Apertium mode in use, e.g. `eng-spa`.
    pub fn mode(&self) -> &str {
        &self.mode
    }

    /// `apertium -u <mode>` over `text`; its stdout, lossily decoded.
    fn run(&self, text: &str) -> Result<String> {
        // `-u` drops the `*` Apertium puts before words it does not know; the words stay as they
        // were, which is what a dub line wants (names, brands).
        run_program(&self.program, &["-u", &self.mode], Some(text))
    }

    /// One process per line: slower, but immune to anything that upsets the window split.
    fn translate_each(&self, texts: &[String], out: &mut [String], ctx: &Ctx) -> Result<()> {
        let total = texts.iter().filter(|t| !t.is_empty()).count() as u64;
        let mut done = 0;
        for (text, slot) in texts.iter().zip(out.iter_mut()) {
            if text.is_empty() {
                continue;
            }
            ctx.check_cancel()?;
            *slot = clean(&self.run(text)?);
            done += 1;
            ctx.progress(done, total);
        }
        Ok(())
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
        }
        ctx.check_cancel()?;

        let texts: Vec<String> = items.iter().map(|i| one_line(&i.text)).collect();
        let mut out = vec![String::new(); items.len()];
        // Empty lines stay out of the window: they would vanish in the split and shift the rest.
        let live: Vec<usize> = (0..texts.len()).filter(|&i| !texts[i].is_empty()).collect();
        if live.is_empty() {
            return Ok(out);
        }

        let mut window = live.iter().map(|&i| texts[i].as_str()).collect::<Vec<_>>().join(SEPARATOR);
        window.push('\n');
        let raw = self.run(&window)?;
        match split_paragraphs(&raw, live.len()) {
            Some(parts) => {
                for (i, part) in live.iter().zip(parts) {
                    out[*i] = part;
                }
                ctx.progress(live.len() as u64, live.len() as u64);
            }
            None => self.translate_each(&texts, &mut out, ctx)?,
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

/// Apertium's output for a window of `n` items, split back at the empty lines: `None` when the
/// count differs, so the caller falls back to one process per line rather than misalign lines.
fn split_paragraphs(raw: &str, n: usize) -> Option<Vec<String>> {
    if n == 1 {
        // Nothing to split; an item that translated to nothing is still one item.
        return Some(vec![clean(raw)]);
    }
    let mut parts = Vec::with_capacity(n);
    let mut current = String::new();
    for line in raw.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                parts.push(clean(&current));
                current.clear();
            }
        } else {
            current.push(' ');
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        parts.push(clean(&current));
    }
    (parts.len() == n).then_some(parts)
}

/// Run `program args`, feeding `input` on stdin; stdout as (lossy) UTF-8. No shell is involved.
fn run_program(program: &OsStr, args: &[&str], input: Option<&str>) -> Result<String> {
    let label = || format!("{} {}", program.to_string_lossy(), args.join(" "));
    let child = Command::new(program)
        .args(args)
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
        // With a plain newline between them, Apertium's transfer reorders "red / house" into
        // "casa / roja" across the line break; the empty-line separator keeps lines apart.
        let out = en_es(&["I saw the red", "house", "the", "big dog"]);
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(!out[0].to_lowercase().contains("casa"), "{out:?}");
        assert!(out[1].to_lowercase().contains("casa"), "{out:?}");
        assert!(out[3].to_lowercase().contains("perro"), "{out:?}");
    }

    #[test]
    fn window_equals_one_call_per_line() {
        let src = ["Hello?", "This is Diane in New Jersey.", "What [is] this? a\\b ^x$ @y #z /v <u> {t}", "I love you"];
        let batched = en_es(&src);
        let t = Apertium::new("en", "es").unwrap();
        let texts: Vec<String> = src.iter().map(|s| one_line(s)).collect();
        let mut each = vec![String::new(); src.len()];
        t.translate_each(&texts, &mut each, &Ctx::quiet()).unwrap();
        assert_eq!(batched, each);
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
        let out = t.translate_lines(&items(&["Hola.", "La casa roja."]), "es", "en", &Ctx::quiet()).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out[0].contains("Hello"), "{out:?}");
        assert!(out[1].to_lowercase().contains("red house"), "{out:?}");
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
    fn splits_paragraphs_or_refuses() {
        let raw = " Hola?\n\nOh,  hola.\n\n\n\nEsto es\nDiane.\n";
        assert_eq!(split_paragraphs(raw, 3).unwrap(), vec!["Hola?", "Oh, hola.", "Esto es Diane."]);
        assert_eq!(split_paragraphs(raw, 4), None);
        assert_eq!(split_paragraphs(raw, 2), None);
        assert_eq!(split_paragraphs("", 1).unwrap(), vec![""]);
        assert_eq!(split_paragraphs("a\nb\n", 1).unwrap(), vec!["a b"]);
    }

    /// A stand-in `apertium` that squeezes out empty lines, so a window always comes back as
    /// the wrong number of paragraphs: the translator must fall back to one call per line.
    #[cfg(unix)]
    #[test]
    fn falls_back_to_one_call_per_line_when_the_split_fails() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("redub-translate-fake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("calls.log");
        let fake = dir.join("apertium");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nif [ \"$1\" = -l ]; then echo '  eng-spa'; exit 0; fi\n\
             tr -s '\\n' | sed 's/^/ES: /'\n",
            log.display()
        );
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

        let mut t = Apertium::with_program(&fake, "en", "es").unwrap();
        let out = t.translate_lines(&items(&["one", "", "two", "three"]), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out, vec!["ES: one", "", "ES: two", "ES: three"]);
        let calls = std::fs::read_to_string(&log).unwrap();
        // `-l` once, the window once, then each of the three non-empty lines.
        assert_eq!(
            calls.lines().collect::<Vec<_>>(),
            vec!["-l", "-u eng-spa", "-u eng-spa", "-u eng-spa", "-u eng-spa"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn honours_cancellation() {
        let flag = std::sync::atomic::AtomicBool::new(true);
        let ctx = Ctx::new(&|_, _| {}, Some(&flag));
        let mut t = Apertium::new("en", "es").unwrap();
        assert!(matches!(t.translate_lines(&items(&["Hello?"]), "en", "es", &ctx), Err(Error::Cancelled)));
    }

    #[test]
    fn switches_pair_when_asked() {
        let mut t = Apertium::new("en", "es").unwrap();
        let out = t.translate_lines(&items(&["Hola."]), "es", "en", &Ctx::quiet()).unwrap();
        assert!(out[0].contains("Hello"), "{out:?}");
        assert_eq!(t.mode(), "spa-eng");
        assert!(matches!(t.translate_lines(&items(&["Hallo"]), "de", "en", &Ctx::quiet()), Err(Error::Unsupported(_))));
    }
}
