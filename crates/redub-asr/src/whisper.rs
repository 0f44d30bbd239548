//! Whisper through whisper.cpp. The model is loaded once per process (the context is the big
//! part); each call makes a fresh decoding state.

use crate::pack::{self, Packed};
use redub_core::{Audio, Ctx, Error, Result, Segment, Span, Transcriber, Word};
use std::path::{Path, PathBuf};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
    WhisperState,
};

/// The model setup builds: Whisper base with q8_0 weights (docs/asr.md: as accurate as f16 on
/// the sample, a third less compute).
pub const MODEL: &str = "whisper-base/ggml-base-q8_0.bin";

const RATE: u32 = 16_000;
/// How long the last token of a segment is taken to last (DTW gives token starts only).
const LAST_TOKEN_MS: u64 = 300;
/// Speech in regions left without words after which they are decoded again (see `decode`).
const RETRY_MIN_MS: u64 = 1000;
/// Pause assumed between a word and the next.
const GAP_MS: u64 = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct WhisperSettings {
    /// ggml model file (default: [`MODEL`] under `$REDUB_HOME/models`).
    pub model: Option<PathBuf>,
    /// Threads for a call in all (default: all cores).
    pub threads: usize,
    /// whisper.cpp threads inside one window. `None` (default): a call with one window gives it
    /// all `threads`; a call with several decodes up to `threads` windows side by side, one
    /// thread each. `Some(1)` is the robust choice on a machine shared with other work (see
    /// `Whisper::decode_all`).
    pub window_threads: Option<usize>,
    /// Beam size; 1 means greedy with temperature fallback (default 5, as faster-whisper).
    pub beam_size: usize,
    /// Most regions and shortened pauses packed into one window (default 28 s; the window's two
    /// edges add up to `pause_ms` each, so it stays under Whisper's 30 s).
    pub max_window_ms: u64,
    /// A pause between two regions packed into one window is shortened to this much of its own
    /// audio (default 400 ms; see `pack.rs`).
    pub pause_ms: u64,
    /// whisper.cpp's flash attention. Off: whisper.cpp then disables DTW, and word times fall
    /// back to the timestamp tokens, which drift by up to a second.
    pub flash_attn: bool,
    /// Decode again at higher temperatures when a result looks like a hallucination (average
    /// log probability under -1 or too repetitive), as Whisper's reference decoder does.
    pub fallback: bool,
}

impl Default for WhisperSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self {
            model: None,
            threads,
            window_threads: None,
            beam_size: 5,
            max_window_ms: 28_000,
            pause_ms: 400,
            flash_attn: false,
            fallback: true,
        }
    }
}

pub struct Whisper {
    ctx: WhisperContext,
    settings: WhisperSettings,
    model: PathBuf,
}

impl std::fmt::Debug for Whisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whisper").field("model", &self.model).finish_non_exhaustive()
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::backend("whisper", e)
}

impl Whisper {
    pub fn load(settings: WhisperSettings) -> Result<Self> {
        let model = match &settings.model {
            Some(p) => p.clone(),
            None => redub_core::paths::model_file(MODEL, "Whisper base model")?,
        };
        if !model.is_file() {
            return Err(Error::MissingModel { what: "Whisper model".into(), path: model });
        }
        // whisper.cpp logs every tensor it loads; route its logging to nowhere.
        whisper_rs::install_logging_hooks();
        let path = model.to_str().ok_or_else(|| fail(format!("{}: path is not UTF-8", model.display())))?;
        // Word times come from DTW over the cross-attention of Whisper base's alignment heads:
        // the timestamp tokens alone drift by up to a second on conversational speech.
        let mut cparams = WhisperContextParameters::default();
        cparams.flash_attn(settings.flash_attn);
        cparams.dtw_parameters(DtwParameters {
            mode: DtwMode::ModelPreset { model_preset: DtwModelPreset::Base },
            ..Default::default()
        });
        let ctx = WhisperContext::new_with_params(path, cparams)
            .map_err(|e| fail(format!("cannot load {}: {e}. Rerun `make setup` to rebuild it", model.display())))?;
        Ok(Self { ctx, settings, model })
    }

    pub fn model_path(&self) -> &Path {
        &self.model
    }

    pub fn settings(&self) -> &WhisperSettings {
        &self.settings
    }

    fn params<'a>(&self, lang: Option<&'a str>, threads: usize) -> FullParams<'a, 'a> {
        let strategy = if self.settings.beam_size > 1 {
            SamplingStrategy::BeamSearch { beam_size: self.settings.beam_size as i32, patience: -1.0 }
        } else {
            // Five samples per fallback temperature, as Whisper's reference decoder does.
            SamplingStrategy::Greedy { best_of: 5 }
        };
        let mut p = FullParams::new(strategy);
        p.set_n_threads(threads as i32);
        p.set_language(Some(lang.unwrap_or("auto")));
        p.set_token_timestamps(true);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_special(false);
        p.set_print_timestamps(false);
        p.set_no_context(true);
        p.set_suppress_nst(true);
        if !self.settings.fallback {
            p.set_temperature_inc(0.0);
        }
        p
    }

    /// Decode groups side by side. Why not all threads inside one window: whisper.cpp's threads
    /// meet at a spinning barrier after every operation, and the decoder's operations are tiny.
    /// On an idle 2-core machine, 2 threads inside each window and 2 windows side by side took
    /// about the same time (30.3 s and 29.4 s on the long test input, 1 thread 55.7 s), but while
    /// another process held a core, 2 threads inside one window took 4× as long as 1 thread
    /// (docs/asr.md). Windows side by side never wait for each other. A window's result does not
    /// depend on its thread count (ggml computes each output row on one thread).
    fn decode_all(
        &self,
        audio: &Audio,
        groups: &[Vec<Span>],
        lang: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Vec<Vec<Segment>>> {
        let threads = self.settings.threads.max(1);
        let per = match self.settings.window_threads {
            Some(n) => n.clamp(1, threads),
            None => (threads / groups.len().max(1)).max(1),
        };
        let workers = (threads / per).min(groups.len()).max(1);
        if workers == 1 {
            let mut out = Vec::new();
            let total = groups.iter().map(|g| speech_ms(g)).sum::<u64>();
            let mut done = 0;
            for g in groups {
                ctx.check_cancel()?;
                ctx.progress(done, total);
                out.push(self.decode(audio, g, lang, per)?);
                done += speech_ms(g);
            }
            ctx.progress(total, total);
            return Ok(out);
        }
        let total = groups.iter().map(|g| speech_ms(g)).sum::<u64>();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let state = std::sync::Mutex::new((
            0u64,
            (0..groups.len()).map(|_| None).collect::<Vec<Option<Result<Vec<Segment>>>>>(),
        ));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= groups.len() || ctx.check_cancel().is_err() {
                        break;
                    }
                    let r = self.decode(audio, &groups[i], lang, per);
                    let failed = r.is_err();
                    let Ok(mut st) = state.lock() else { break };
                    st.0 += speech_ms(&groups[i]);
                    st.1[i] = Some(r);
                    ctx.progress(st.0, total);
                    if failed {
                        // Stop the others: the call fails anyway.
                        next.store(groups.len(), std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
        ctx.check_cancel()?;
        let (_, results) = state.into_inner().map_err(|_| fail("a decoding thread panicked"))?;
        // The real error first, not a window skipped because of it.
        let mut out = Vec::with_capacity(results.len());
        let mut missing = false;
        for r in results {
            match r {
                Some(r) => out.push(r?),
                None => missing = true,
            }
        }
        if missing {
            return Err(fail("a window was not decoded (a decoding thread stopped early)"));
        }
        Ok(out)
    }

    /// Decode one packed group; times in the result are source times.
    ///
    /// Whisper sometimes ends a window early: after a short first turn it emits end-of-text with
    /// a closing timestamp, and whisper.cpp (like Whisper's reference decoder) then takes the
    /// rest of the window as done. On the long test input a 22.5 s stretch of dialogue after a
    /// 3 s turn came back empty this way. So a run of consecutive regions that received no word
    /// (at least `RETRY_MIN_MS` of speech, and not the whole group) is decoded again as its own
    /// window. The result is still a function of the group alone.
    fn decode(&self, audio: &Audio, group: &[Span], lang: Option<&str>, threads: usize) -> Result<Vec<Segment>> {
        let mut segs = self.decode_window(audio, group, lang, threads)?;
        let has_word = |r: &Span, segs: &[Segment]| {
            segs.iter().flat_map(|s| &s.words).any(|w| w.start_ms >= r.start_ms && w.start_ms <= r.end_ms)
        };
        let empty: Vec<bool> = group.iter().map(|r| !has_word(r, &segs)).collect();
        let mut retried = Vec::new();
        let mut i = 0;
        while i < group.len() {
            if !empty[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < group.len() && empty[i] {
                i += 1;
            }
            let run = &group[start..i];
            if run.len() < group.len() && speech_ms(run) >= RETRY_MIN_MS {
                retried.extend(self.decode(audio, run, lang, threads)?);
            }
        }
        if !retried.is_empty() {
            segs.extend(retried);
            segs.sort_by_key(|s| s.start_ms);
        }
        Ok(segs)
    }

    /// One whisper.cpp call on a packed group.
    fn decode_window(&self, audio: &Audio, group: &[Span], lang: Option<&str>, threads: usize) -> Result<Vec<Segment>> {
        // Up to one kept pause (400 ms) of the source before the first region and after the last:
        // on the sample that moved the first "Hello?" from 1.14 s late to 0.26 s, and WER went
        // from 18.5% to 17.3%; 200 ms gave the same WER but left the first word late (docs/asr.md).
        let packed = Packed::with_edges(group, self.settings.pause_ms, self.settings.pause_ms);
        let samples = packed.samples(audio);
        if samples.len() < RATE as usize / 10 {
            return Ok(Vec::new()); // under 100 ms: nothing Whisper can read
        }
        let mut state = self.ctx.create_state().map_err(fail)?;
        state.full(self.params(lang, threads), &samples).map_err(fail)?;
        let detected = whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("en").to_string();
        let lang = lang.map(str::to_string).unwrap_or(detected);
        let dur_ms = packed.duration_ms();
        let mut words = self.words(&state, dur_ms);
        // Back to source time only now: word ends were estimated in packed time, where the next
        // word's start is the right bound.
        for (_, w) in &mut words {
            (w.start_ms, w.end_ms) = packed.span_to_source(w.start_ms, w.end_ms);
        }
        snap_region_starts(&mut words, group);
        Ok(segments(words, &lang))
    }

    /// Words of a decoded window in its own time (a word's end is known only once the next
    /// word's start is), each tagged with the Whisper segment it came from.
    fn words(&self, state: &WhisperState, dur_ms: u64) -> Vec<(usize, Word)> {
        let eot = self.ctx.token_eot();
        let at = |ticks: i64| (ticks.max(0) as u64 * 10).min(dur_ms);
        let mut words: Vec<(usize, Word, Vec<f32>)> = Vec::new();
        for (si, seg) in state.as_iter().enumerate() {
            for t in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(t) else { continue };
                if tok.token_id() >= eot {
                    continue; // special and timestamp tokens
                }
                let data = tok.token_data();
                let text = tok.to_str_lossy().map(|s| s.into_owned()).unwrap_or_default();
                if text.is_empty() {
                    continue;
                }
                // DTW time when available (it marks where the token starts), else Whisper's own.
                let t_start = if data.t_dtw >= 0 { at(data.t_dtw) } else { at(data.t0) };
                // Whisper's tokens carry the space before a word: a leading space starts a word.
                let is_punct = text.trim().chars().all(|c| c.is_ascii_punctuation()) && !text.starts_with(' ');
                let starts_word = (text.starts_with(' ') || words.last().map(|w| w.0) != Some(si)) && !is_punct;
                if starts_word || words.is_empty() {
                    let w = Word { text: text.trim().to_string(), start_ms: t_start, end_ms: t_start, p: data.p };
                    words.push((si, w, vec![data.p]));
                } else if let Some((_, w, pr)) = words.last_mut() {
                    w.text.push_str(&text);
                    w.end_ms = w.end_ms.max(t_start);
                    pr.push(data.p);
                }
            }
        }
        // A word ends where the next begins (less a short gap), the last one a typical word
        // length after its last token starts, never past the window.
        for i in 0..words.len() {
            let next = words.get(i + 1).map(|w| w.1.start_ms).unwrap_or(dur_ms);
            let w = &mut words[i].1;
            let guess = w.end_ms + LAST_TOKEN_MS;
            w.end_ms = guess.min(next.saturating_sub(GAP_MS).max(w.start_ms + 10)).min(dur_ms).max(w.start_ms);
            let pr = &words[i].2;
            words[i].1.p = pr.iter().sum::<f32>() / pr.len().max(1) as f32;
        }
        words.into_iter().map(|(si, w, _)| (si, w)).collect()
    }
}

/// Whisper's segments often run several sentences together; a dubbed line is one sentence, so
/// split at sentence punctuation and at Whisper's own segment breaks.
fn segments(words: Vec<(usize, Word)>, lang: &str) -> Vec<Segment> {
    let mut groups: Vec<Vec<Word>> = Vec::new();
    let mut last_seg = usize::MAX;
    for (si, w) in words {
        if si != last_seg {
            groups.push(Vec::new());
            last_seg = si;
        }
        if let Some(g) = groups.last_mut() {
            g.push(w);
        }
    }
    let mut out = Vec::new();
    for sentence in groups.into_iter().flat_map(split_sentences) {
        let (Some(first), Some(last)) = (sentence.first(), sentence.last()) else { continue };
        let text = sentence.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let confidence = sentence.iter().map(|w| w.p).sum::<f32>() / sentence.len() as f32;
        let (start_ms, end_ms) = (first.start_ms, last.end_ms.max(first.start_ms));
        out.push(Segment {
            id: 0, // numbered by the caller, in time order
            speaker: None,
            start_ms,
            end_ms,
            text,
            words: sentence,
            confidence,
            lang: lang.to_string(),
        });
    }
    out
}

/// DTW may place the first word after a pause late: on the sample the second "Hello?" came
/// 1.2 s after the speech region it opens, in a window where the previous word ended before the
/// pause (decoded as a window of its own, it was right). VAD starts a region where speech
/// starts, so the first word of a region starts at most [`FIRST_WORD_LATE_MS`] after it; a
/// later start is moved to the region's start (its end, bounded by the next word, stays).
fn snap_region_starts(words: &mut [(usize, Word)], group: &[Span]) {
    for r in group {
        let first = words.iter_mut().map(|(_, w)| w).find(|w| w.start_ms >= r.start_ms && w.start_ms < r.end_ms);
        if let Some(w) = first {
            if w.start_ms > r.start_ms + FIRST_WORD_LATE_MS {
                w.start_ms = r.start_ms;
            }
        }
    }
}

/// See [`snap_region_starts`].
const FIRST_WORD_LATE_MS: u64 = 300;

fn speech_ms(group: &[Span]) -> u64 {
    group.iter().map(|r| r.duration_ms()).sum()
}

/// Split words into sentences at `.`, `?` and `!` (not inside numbers like "3.5").
pub fn split_sentences(words: Vec<Word>) -> Vec<Vec<Word>> {
    let mut out = vec![Vec::new()];
    for w in words {
        let ends = w.text.ends_with(['.', '?', '!']);
        if let Some(cur) = out.last_mut() {
            cur.push(w);
        }
        if ends {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

impl Transcriber for Whisper {
    /// Each planned group is decoded on its own, so this gives for one group's regions exactly
    /// what it gives for that group inside a longer call. With `lang` unknown, each group's
    /// language is Whisper's own detection on that group (a packed group is up to 28 s, long
    /// enough for detection not to flip on short lines).
    fn transcribe(&mut self, audio: &Audio, regions: &[Span], lang: Option<&str>, ctx: &Ctx) -> Result<Vec<Segment>> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let groups = self.plan(regions);
        let per_group = self.decode_all(audio, &groups, lang, ctx)?;
        // Ids in time order, after all groups are in.
        let mut segments: Vec<Segment> = per_group.into_iter().flatten().collect();
        for (i, s) in segments.iter_mut().enumerate() {
            s.id = i as u32;
        }
        Ok(segments)
    }

    /// Regions packed into windows of at most `max_window_ms` of decoded audio, pauses
    /// shortened to `pause_ms` (see `pack.rs`).
    fn plan(&self, regions: &[Span]) -> Vec<Vec<Span>> {
        pack::plan(regions, self.settings.max_window_ms, self.settings.pause_ms)
    }

    fn detect_language(&mut self, audio: &Audio) -> Result<(String, f32)> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let mut state = self.ctx.create_state().map_err(fail)?;
        let n = audio.samples.len().min(RATE as usize * 30);
        state.pcm_to_mel(&audio.samples[..n], self.settings.threads).map_err(fail)?;
        let (id, probs) = state.lang_detect(0, self.settings.threads).map_err(fail)?;
        let code = whisper_rs::get_lang_str(id).ok_or_else(|| fail(format!("unknown language id {id}")))?;
        Ok((code.to_string(), probs.get(id as usize).copied().unwrap_or(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_first_word_of_a_region_moves_to_the_region_start() {
        let w = |t: &str, s, e| (0usize, Word { text: t.into(), start_ms: s, end_ms: e, p: 0.9 });
        let group = [Span::new(1000, 2000), Span::new(3000, 9000)];
        // The first region's word is on time; the second region's first word is 1.2 s late.
        let mut words = vec![w("Hello?", 1050, 1500), w("Hello?", 4200, 4300), w("Oh,", 4320, 4500)];
        snap_region_starts(&mut words, &group);
        let starts: Vec<u64> = words.iter().map(|(_, w)| w.start_ms).collect();
        assert_eq!(starts, [1050, 3000, 4320], "only the late first word moves");
        assert_eq!(words[1].1.end_ms, 4300, "its end stays");
        // Within the tolerance nothing moves.
        let mut words = vec![w("Yes.", 3250, 3600)];
        snap_region_starts(&mut words, &group);
        assert_eq!(words[0].1.start_ms, 3250);
    }

    #[test]
    fn sentences_split_at_end_punctuation() {
        let w = |t: &str, s| Word { text: t.into(), start_ms: s, end_ms: s + 100, p: 0.9 };
        let parts = split_sentences(vec![w("Hello?", 0), w("Oh,", 200), w("hello.", 400), w("Bye", 600)]);
        let texts: Vec<Vec<&str>> = parts.iter().map(|p| p.iter().map(|w| w.text.as_str()).collect()).collect();
        assert_eq!(texts, vec![vec!["Hello?"], vec!["Oh,", "hello."], vec!["Bye"]]);
    }
}
