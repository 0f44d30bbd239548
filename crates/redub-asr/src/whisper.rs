//! Whisper through whisper.cpp. The model is loaded once per process (the context is the big
//! part); each call makes a fresh decoding state.

use redub_core::{Audio, Ctx, Error, Result, Segment, Span, Transcriber, Word};
use std::path::{Path, PathBuf};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
};

const RATE: u32 = 16_000;
/// How long the last token of a segment is taken to last (DTW gives token starts only).
const LAST_TOKEN_MS: u64 = 300;
/// Pause assumed between a word and the next.
const GAP_MS: u64 = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct WhisperSettings {
    /// ggml model file (default: `$REDUB_HOME/models/whisper-base/ggml-base.bin`).
    pub model: Option<PathBuf>,
    /// Decoding threads (default: all cores).
    pub threads: usize,
    /// Beam size; 1 means greedy (default 5, Whisper's own default for quality).
    pub beam_size: usize,
    /// Speech regions closer than this are decoded together (default 1000 ms), so that Whisper
    /// sees whole sentences rather than fragments.
    pub join_gap_ms: u64,
    /// Longest stretch decoded in one call (default 28 s; Whisper's window is 30 s).
    pub max_window_ms: u64,
}

impl Default for WhisperSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self { model: None, threads, beam_size: 5, join_gap_ms: 200, max_window_ms: 28_000 }
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
            None => redub_core::paths::model_file("whisper-base/ggml-base.bin", "Whisper base model")?,
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

    /// Group speech regions into decoding windows: near regions join, long ones split.
    pub fn windows(&self, regions: &[Span]) -> Vec<Span> {
        windows(regions, self.settings.join_gap_ms, self.settings.max_window_ms)
    }

    fn params<'a>(&self, lang: Option<&'a str>) -> FullParams<'a, 'a> {
        let strategy = if self.settings.beam_size > 1 {
            SamplingStrategy::BeamSearch { beam_size: self.settings.beam_size as i32, patience: -1.0 }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut p = FullParams::new(strategy);
        p.set_n_threads(self.settings.threads as i32);
        p.set_language(Some(lang.unwrap_or("auto")));
        p.set_token_timestamps(true);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_special(false);
        p.set_print_timestamps(false);
        p.set_no_context(true);
        p.set_suppress_nst(true);
        p
    }

    /// Decode one window; times in the result are absolute.
    fn decode(
        &self,
        audio: &[f32],
        offset_ms: u64,
        lang: Option<&str>,
        next_id: &mut u32,
    ) -> Result<(Vec<Segment>, String)> {
        let mut state = self.ctx.create_state().map_err(fail)?;
        state.full(self.params(lang), audio).map_err(fail)?;
        let detected = whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("en").to_string();
        let lang = lang.map(str::to_string).unwrap_or(detected.clone());
        let eot = self.ctx.token_eot();
        let dur_ms = (audio.len() as u64 * 1000) / RATE as u64;
        let at = |ticks: i64| offset_ms + (ticks.max(0) as u64 * 10).min(dur_ms);
        // Words of the whole window first (a word's end is known only once the next word's start
        // is), each tagged with the Whisper segment it came from.
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
                    words.push((
                        si,
                        Word { text: text.trim().to_string(), start_ms: t_start, end_ms: t_start, p: data.p },
                        vec![data.p],
                    ));
                } else if let Some((_, w, pr)) = words.last_mut() {
                    w.text.push_str(&text);
                    w.end_ms = w.end_ms.max(t_start);
                    pr.push(data.p);
                }
            }
        }
        // A word ends where the next begins (less a short gap), the last one a typical word
        // length after its last token starts, never past the window.
        let window_end = offset_ms + dur_ms;
        for i in 0..words.len() {
            let next = words.get(i + 1).map(|w| w.1.start_ms).unwrap_or(window_end);
            let w = &mut words[i].1;
            let guess = w.end_ms + LAST_TOKEN_MS;
            w.end_ms = guess.min(next.saturating_sub(GAP_MS).max(w.start_ms + 10)).min(window_end).max(w.start_ms);
            let pr = &words[i].2;
            words[i].1.p = pr.iter().sum::<f32>() / pr.len().max(1) as f32;
        }
        // Whisper's segments often run several sentences together; a dubbed line is one
        // sentence, so split at sentence punctuation and at Whisper's own segment breaks.
        let mut out = Vec::new();
        let mut groups: Vec<Vec<Word>> = Vec::new();
        let mut last_seg = usize::MAX;
        for (si, w, _) in words {
            if si != last_seg {
                groups.push(Vec::new());
                last_seg = si;
            }
            if let Some(g) = groups.last_mut() {
                g.push(w);
            }
        }
        for sentence in groups.into_iter().flat_map(split_sentences) {
            let (Some(first), Some(last)) = (sentence.first(), sentence.last()) else { continue };
            let text = sentence.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            let confidence = sentence.iter().map(|w| w.p).sum::<f32>() / sentence.len() as f32;
            let (start_ms, end_ms) = (first.start_ms, last.end_ms.max(first.start_ms));
            out.push(Segment {
                id: *next_id,
                speaker: None,
                start_ms,
                end_ms,
                text,
                words: sentence,
                confidence,
                lang: lang.clone(),
            });
            *next_id += 1;
        }
        Ok((out, detected))
    }
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

/// See [`Whisper::windows`].
pub fn windows(regions: &[Span], join_gap_ms: u64, max_ms: u64) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for r in regions {
        match out.last_mut() {
            Some(last)
                if r.start_ms.saturating_sub(last.end_ms) <= join_gap_ms && r.end_ms - last.start_ms <= max_ms =>
            {
                last.end_ms = r.end_ms;
            }
            _ => out.push(*r),
        }
    }
    // A single region longer than the window is cut into equal parts (VAD already places
    // regions at pauses, so such regions are rare: long monologues without a breath).
    out.into_iter()
        .flat_map(|w| {
            let n = w.duration_ms().div_ceil(max_ms).max(1);
            let step = w.duration_ms() / n;
            (0..n).map(move |i| {
                Span::new(w.start_ms + i * step, if i + 1 == n { w.end_ms } else { w.start_ms + (i + 1) * step })
            })
        })
        .collect()
}

impl Transcriber for Whisper {
    fn transcribe(&mut self, audio: &Audio, regions: &[Span], lang: Option<&str>, ctx: &Ctx) -> Result<Vec<Segment>> {
        if audio.rate != RATE {
            return Err(fail(format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let wins = self.windows(regions);
        let total: u64 = wins.iter().map(|w| w.duration_ms()).sum();
        let mut done = 0;
        let mut next_id = 0;
        let mut segments = Vec::new();
        // Detect the language once, on the first window with enough speech, then keep it: a film
        // is in one language and per-window detection flips on short lines.
        let mut lang = lang.map(str::to_string);
        for w in &wins {
            ctx.check_cancel()?;
            ctx.progress(done, total);
            let samples = audio.slice_ms(w.start_ms, w.end_ms);
            if samples.len() < RATE as usize / 10 {
                continue;
            }
            let (segs, detected) = self.decode(samples, w.start_ms, lang.as_deref(), &mut next_id)?;
            if lang.is_none() && w.duration_ms() >= 2000 {
                lang = Some(detected);
            }
            segments.extend(segs);
            done += w.duration_ms();
        }
        ctx.progress(total, total);
        Ok(segments)
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
    fn sentences_split_at_end_punctuation() {
        let w = |t: &str, s| Word { text: t.into(), start_ms: s, end_ms: s + 100, p: 0.9 };
        let parts = split_sentences(vec![w("Hello?", 0), w("Oh,", 200), w("hello.", 400), w("Bye", 600)]);
        let texts: Vec<Vec<&str>> = parts.iter().map(|p| p.iter().map(|w| w.text.as_str()).collect()).collect();
        assert_eq!(texts, vec![vec!["Hello?"], vec!["Oh,", "hello."], vec!["Bye"]]);
    }

    #[test]
    fn windows_join_near_regions_and_split_long_ones() {
        let r = [Span::new(0, 1000), Span::new(1500, 3000), Span::new(10_000, 11_000)];
        assert_eq!(windows(&r, 1000, 28_000), vec![Span::new(0, 3000), Span::new(10_000, 11_000)]);
        let w = windows(&[Span::new(0, 60_000)], 1000, 28_000);
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|s| s.duration_ms() <= 28_000));
        assert_eq!(w.last().map(|s| s.end_ms), Some(60_000));
    }
}
