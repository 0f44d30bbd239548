//! The translate stage's work: windows of lines with their neighbours as context, word budgets,
//! and the review flags every backend's output is checked for (budget, glossary, ASR confidence,
//! and the expected spoken length against the slot).

use redub_core::{ContextLine, Ctx, Error, Flag, Result, Segment, TranslationItem, TranslationWindow, Translator};
use redub_translate::Glossary;
use serde::{Deserialize, Serialize};

/// Lines per request, and lines of context on each side (DESIGN §1, translate).
pub const WINDOW: usize = 5;
pub const CONTEXT_LINES: usize = 2;
/// Segments whose mean word probability is below this are flagged for review.
pub const LOW_CONFIDENCE: f32 = 0.6;
/// A line expected to run more than this much over its slot is flagged `over_time`.
pub const OVER_TIME: f64 = 1.15;

/// One translated line as stored in `06-translate/translations.json`. Editing `target_text` there
/// and rerunning re-synthesises that line only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranslatedLine {
    pub id: u32,
    pub speaker: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub source_text: String,
    pub target_text: String,
    pub budget_words: u32,
    pub flags: Vec<Flag>,
    /// Why a flag was raised (missed glossary terms, names or idioms the model marked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Expected spoken length of `target_text` with the job's voice, before synthesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ms: Option<u64>,
}

/// Translate `segments` window by window and check each line.
#[allow(clippy::too_many_arguments)]
pub fn translate_segments(
    translator: &mut dyn Translator,
    segments: &[Segment],
    from: &str,
    to: &str,
    words_per_second: f64,
    glossary: &Glossary,
    default_speaker: &str,
    ctx: &Ctx,
) -> Result<Vec<TranslatedLine>> {
    let context = |s: &Segment| ContextLine { speaker: s.speaker.clone(), text: s.text.clone() };
    let mut lines = Vec::with_capacity(segments.len());
    for start in (0..segments.len()).step_by(WINDOW) {
        ctx.check_cancel()?;
        ctx.progress(start as u64, segments.len() as u64);
        let end = (start + WINDOW).min(segments.len());
        let window = &segments[start..end];
        let items: Vec<TranslationItem> = window
            .iter()
            .map(|s| TranslationItem {
                id: s.id,
                speaker: s.speaker.clone(),
                text: s.text.clone(),
                budget_words: redub_translate::word_budget_at(s.duration_ms(), words_per_second),
            })
            .collect();
        let before: Vec<ContextLine> =
            segments[start.saturating_sub(CONTEXT_LINES)..start].iter().map(context).collect();
        let after: Vec<ContextLine> =
            segments[end..(end + CONTEXT_LINES).min(segments.len())].iter().map(context).collect();
        // The stage reports progress by window; a backend's own progress would jump backwards.
        let quiet = |_: u64, _: u64| {};
        let out = translator.translate(
            &TranslationWindow { items: &items, before: &before, after: &after },
            from,
            to,
            &ctx.child(&quiet),
        )?;
        if out.len() != items.len() {
            return Err(Error::backend("translate", format!("{} lines in, {} out", items.len(), out.len())));
        }
        for ((s, item), t) in window.iter().zip(&items).zip(out) {
            let mut flags = t.flags.clone();
            let mut notes: Vec<String> = t.note.iter().cloned().collect();
            if redub_translate::word_count(&t.text) > item.budget_words {
                flags.push(Flag::OverBudget);
            }
            if s.confidence < LOW_CONFIDENCE {
                flags.push(Flag::LowAsrConfidence);
            }
            let misses = glossary.misses(&s.text, &t.text);
            if !misses.is_empty() {
                flags.push(Flag::GlossaryMiss);
                let m: Vec<String> = misses.iter().map(|e| format!("{} → {}", e.source, e.target)).collect();
                notes.push(format!("glossary: {}", m.join(", ")));
            }
            dedup(&mut flags);
            lines.push(TranslatedLine {
                id: s.id,
                speaker: s.speaker.clone().unwrap_or_else(|| default_speaker.into()),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                source_text: s.text.clone(),
                target_text: t.text,
                budget_words: item.budget_words,
                flags,
                note: (!notes.is_empty()).then(|| notes.join("; ")),
                estimated_ms: None,
            });
        }
    }
    ctx.progress(segments.len() as u64, segments.len() as u64);
    Ok(lines)
}

fn dedup(flags: &mut Vec<Flag>) {
    let mut seen = Vec::new();
    flags.retain(|f| {
        let new = !seen.contains(f);
        seen.push(*f);
        new
    });
}

/// Mark lines whose expected spoken length (`estimate(text)`) exceeds their slot by more than
/// [`OVER_TIME`].
pub fn flag_over_time(lines: &mut [TranslatedLine], estimate: impl Fn(&str) -> u64) {
    for l in lines {
        if l.target_text.trim().is_empty() {
            continue;
        }
        let est = estimate(&l.target_text);
        l.estimated_ms = Some(est);
        let slot = l.end_ms.saturating_sub(l.start_ms).max(1);
        if est as f64 > OVER_TIME * slot as f64 && !l.flags.contains(&Flag::OverTime) {
            l.flags.push(Flag::OverTime);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use redub_core::Translation;

    /// Records the windows it is given; translates to upper case.
    #[derive(Default)]
    struct Recorder {
        windows: Vec<(Vec<u32>, Vec<String>, Vec<String>)>,
    }

    impl Translator for Recorder {
        fn translate(&mut self, w: &TranslationWindow, _f: &str, _t: &str, _c: &Ctx) -> Result<Vec<Translation>> {
            self.windows.push((
                w.items.iter().map(|i| i.id).collect(),
                w.before.iter().map(|l| l.text.clone()).collect(),
                w.after.iter().map(|l| l.text.clone()).collect(),
            ));
            Ok(w.items.iter().map(|i| Translation::plain(i.text.to_uppercase())).collect())
        }
    }

    fn seg(id: u32, text: &str) -> Segment {
        Segment {
            id,
            speaker: Some("S1".into()),
            start_ms: u64::from(id) * 2_000,
            end_ms: u64::from(id) * 2_000 + 1_000,
            text: text.into(),
            words: vec![],
            confidence: if id == 3 { 0.4 } else { 0.9 },
            lang: "en".into(),
        }
    }

    #[test]
    fn windows_of_five_with_two_lines_of_context_and_flags() {
        let segs: Vec<Segment> = (0..12).map(|i| seg(i, &format!("line {i} about Starfleet"))).collect();
        let glossary = Glossary::parse("Starfleet\tFlota Estelar\n", "g").unwrap();
        let mut r = Recorder::default();
        let lines = translate_segments(&mut r, &segs, "en", "es", 3.0, &glossary, "S1", &Ctx::quiet()).unwrap();
        let ids: Vec<Vec<u32>> = r.windows.iter().map(|w| w.0.clone()).collect();
        assert_eq!(ids, vec![vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9], vec![10, 11]]);
        assert!(r.windows[0].1.is_empty());
        assert_eq!(r.windows[1].1, vec!["line 3 about Starfleet", "line 4 about Starfleet"]);
        assert_eq!(r.windows[1].2, vec!["line 10 about Starfleet", "line 11 about Starfleet"]);
        // 1 s at 3 words/s × 0.85 → 2 words; "LINE 0 ABOUT STARFLEET" has 4.
        assert_eq!(lines[0].budget_words, 2);
        assert!(lines[0].flags.contains(&Flag::OverBudget));
        assert!(lines[3].flags.contains(&Flag::LowAsrConfidence));
        assert!(lines[0].flags.contains(&Flag::GlossaryMiss));
        assert!(lines[0].note.as_deref().unwrap().contains("Starfleet → Flota Estelar"));
    }

    #[test]
    fn over_time_uses_the_estimate() {
        let segs = vec![seg(1, "a"), seg(2, "b")];
        let mut r = Recorder::default();
        let mut lines =
            translate_segments(&mut r, &segs, "en", "es", 3.0, &Glossary::default(), "S1", &Ctx::quiet()).unwrap();
        // Slots are 1 000 ms: 1 150 is the limit.
        flag_over_time(&mut lines, |t| if t == "A" { 1_150 } else { 1_151 });
        assert!(!lines[0].flags.contains(&Flag::OverTime));
        assert!(lines[1].flags.contains(&Flag::OverTime));
        assert_eq!(lines[1].estimated_ms, Some(1_151));
    }
}
