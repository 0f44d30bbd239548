//! What the Whisper backends (whisper.cpp and ONNX Runtime) share once a backend can decode one
//! packed window: decoding a call's windows side by side, decoding again the regions a window
//! left empty, words from tokens, time mapping back to the source, and sentence segments.

use crate::pack::Packed;
use redub_core::{Audio, Ctx, Error, Result, Segment, Span, Word};

pub(crate) const RATE: u32 = 16_000;
/// How long the last token of a segment is taken to last (DTW gives token starts only).
const LAST_TOKEN_MS: u64 = 300;
/// Speech in regions left without words after which they are decoded again (see `decode_group`).
const RETRY_MIN_MS: u64 = 1000;
/// Pause assumed between a word and the next.
const GAP_MS: u64 = 20;
/// See [`snap_region_starts`].
const FIRST_WORD_LATE_MS: u64 = 300;

/// A backend that decodes one packed window on its own.
pub(crate) trait WindowDecoder: Sync {
    /// The name errors carry (`Error::backend`).
    const NAME: &'static str;

    /// One decoder pass over a packed group with `threads` threads; times in the result are
    /// source times.
    fn decode_window(&self, audio: &Audio, group: &[Span], lang: Option<&str>, threads: usize) -> Result<Vec<Segment>>;
}

/// Threads for a call in all and inside one window, as `WhisperSettings` describes them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Threads {
    pub total: usize,
    pub per_window: Option<usize>,
}

/// Decode groups side by side. Why not all threads inside one window: whisper.cpp's threads
/// meet at a spinning barrier after every operation, and the decoder's operations are tiny.
/// On an idle 2-core machine, 2 threads inside each window and 2 windows side by side took
/// about the same time (30.3 s and 29.4 s on the long test input, 1 thread 55.7 s), but while
/// another process held a core, 2 threads inside one window took 4× as long as 1 thread
/// (docs/asr.md). Windows side by side never wait for each other. A window's result does not
/// depend on its thread count (ggml computes each output row on one thread).
pub(crate) fn decode_all<D: WindowDecoder>(
    dec: &D,
    threads: Threads,
    audio: &Audio,
    groups: &[Vec<Span>],
    lang: Option<&str>,
    ctx: &Ctx,
) -> Result<Vec<Vec<Segment>>> {
    let fail = |m: &str| Error::backend(D::NAME, m);
    let total_threads = threads.total.max(1);
    let per = match threads.per_window {
        Some(n) => n.clamp(1, total_threads),
        None => (total_threads / groups.len().max(1)).max(1),
    };
    let workers = (total_threads / per).min(groups.len()).max(1);
    let total = groups.iter().map(|g| speech_ms(g)).sum::<u64>();
    if workers == 1 {
        let mut out = Vec::new();
        let mut done = 0;
        for g in groups {
            ctx.check_cancel()?;
            ctx.progress(done, total);
            out.push(decode_group(dec, audio, g, lang, per)?);
            done += speech_ms(g);
        }
        ctx.progress(total, total);
        return Ok(out);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let state =
        std::sync::Mutex::new((0u64, (0..groups.len()).map(|_| None).collect::<Vec<Option<Result<Vec<Segment>>>>>()));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= groups.len() || ctx.check_cancel().is_err() {
                    break;
                }
                let r = decode_group(dec, audio, &groups[i], lang, per);
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
pub(crate) fn decode_group<D: WindowDecoder>(
    dec: &D,
    audio: &Audio,
    group: &[Span],
    lang: Option<&str>,
    threads: usize,
) -> Result<Vec<Segment>> {
    let mut segs = dec.decode_window(audio, group, lang, threads)?;
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
            retried.extend(decode_group(dec, audio, run, lang, threads)?);
        }
    }
    if !retried.is_empty() {
        segs.extend(retried);
        segs.sort_by_key(|s| s.start_ms);
    }
    Ok(segs)
}

/// One decoded token as word assembly needs it, in the window's own time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    /// The Whisper segment (timestamp pair) the token came from.
    pub seg: usize,
    pub text: String,
    pub start_ms: u64,
    pub p: f32,
}

/// Words of a decoded window in its own time (a word's end is known only once the next
/// word's start is), each tagged with the Whisper segment it came from. Special tokens must be
/// left out by the caller.
pub(crate) fn assemble_words(tokens: impl IntoIterator<Item = Token>, dur_ms: u64) -> Vec<(usize, Word)> {
    let mut words: Vec<(usize, Word, Vec<f32>)> = Vec::new();
    for tok in tokens {
        let text = tok.text;
        if text.is_empty() {
            continue;
        }
        let (si, t_start) = (tok.seg, tok.start_ms.min(dur_ms));
        // Whisper's tokens carry the space before a word: a leading space starts a word.
        let is_punct = text.trim().chars().all(|c| c.is_ascii_punctuation()) && !text.starts_with(' ');
        let starts_word = (text.starts_with(' ') || words.last().map(|w| w.0) != Some(si)) && !is_punct;
        if starts_word || words.is_empty() {
            let w = Word { text: text.trim().to_string(), start_ms: t_start, end_ms: t_start, p: tok.p };
            words.push((si, w, vec![tok.p]));
        } else if let Some((_, w, pr)) = words.last_mut() {
            w.text.push_str(&text);
            w.end_ms = w.end_ms.max(t_start);
            pr.push(tok.p);
        }
    }
    // A word ends where the next begins (less a short gap), the last one a typical word
    // length after its last token starts, never past the window. (DTW's own token ends were
    // tried for the ONNX backend: line ends on the sample came out a median 172 ms off against
    // 64 ms with this rule, mostly early; docs/asr-onnx.md.)
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

/// A window's words (in packed time) as source-time sentence segments.
pub(crate) fn finish_window(
    mut words: Vec<(usize, Word)>,
    packed: &Packed,
    group: &[Span],
    lang: &str,
) -> Vec<Segment> {
    // Back to source time only now: word ends were estimated in packed time, where the next
    // word's start is the right bound.
    for (_, w) in &mut words {
        (w.start_ms, w.end_ms) = packed.span_to_source(w.start_ms, w.end_ms);
    }
    snap_region_starts(&mut words, group);
    segments(words, lang)
}

/// Whisper's segments often run several sentences together; a dubbed line is one sentence, so
/// split at sentence punctuation and at Whisper's own segment breaks.
pub(crate) fn segments(words: Vec<(usize, Word)>, lang: &str) -> Vec<Segment> {
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
pub(crate) fn snap_region_starts(words: &mut [(usize, Word)], group: &[Span]) {
    for r in group {
        let first = words.iter_mut().map(|(_, w)| w).find(|w| w.start_ms >= r.start_ms && w.start_ms < r.end_ms);
        if let Some(w) = first {
            if w.start_ms > r.start_ms + FIRST_WORD_LATE_MS {
                w.start_ms = r.start_ms;
            }
        }
    }
}

pub(crate) fn speech_ms(group: &[Span]) -> u64 {
    group.iter().map(|r| r.duration_ms()).sum()
}

/// Split words into sentences at `.`, `?` and `!` (not inside numbers like "3.5").
pub(crate) fn split_sentences(words: Vec<Word>) -> Vec<Vec<Word>> {
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

    #[test]
    fn words_start_at_a_leading_space_and_keep_punctuation() {
        let t = |seg, text: &str, start_ms| Token { seg, text: text.into(), start_ms, p: 0.5 };
        let words = assemble_words(
            [t(0, " Hel", 100), t(0, "lo", 200), t(0, ",", 300), t(0, " you", 500), t(1, " there.", 900)],
            1000,
        );
        let texts: Vec<(usize, &str, u64, u64)> =
            words.iter().map(|(s, w)| (*s, w.text.as_str(), w.start_ms, w.end_ms)).collect();
        assert_eq!(texts, vec![(0, "Hello,", 100, 480), (0, "you", 500, 800), (1, "there.", 900, 980)]);
    }
}
