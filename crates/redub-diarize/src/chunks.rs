//! Chunk planning for long inputs: where to cut a film so that each piece fits the models and
//! no cut splits a word.
//!
//! A chunk has two ranges:
//! - the **core**, between two cut points. Cores tile `[0, duration]` exactly, and each turn (or
//!   word, or segment) belongs to the chunk whose core holds its midpoint ([`owner`]). The cut
//!   points are what this module places in silence: a cut inside a word would hand half of it
//!   to each side.
//! - the **span**, the core widened by `overlap_ms / 2` on each side (clipped to the input). This
//!   is what the models see. The overlap is context only: it lets segmentation and embeddings see
//!   a little past the cut, and the stretch that two neighbouring chunks both analyse is the
//!   evidence that a local speaker of one chunk is a global speaker of the previous one. The
//!   overlap edges themselves may fall anywhere, speech included.
//!
//! How a cut is chosen, greedily from the start `s` of the current chunk:
//! 1. the remaining input fits (`duration − s ≤ max_ms`): the chunk runs to the end;
//! 2. otherwise the aim is the last ffmpeg scene cut in `(s + max/2, s + max]` that lies in
//!    silence, else the last scene cut there (a film's scene change is a natural place for a
//!    conversation to pause), else `s + max`. The half-window floor keeps scene-rich footage from
//!    producing many tiny chunks;
//! 3. the cut moves to the silent point nearest to the aim that keeps the core in
//!    `(0, max_ms]`; on a tie, the earlier point. "Silent" means not strictly inside any speech
//!    span; speech spans that touch or overlap count as one stretch of speech, so a zero-length
//!    gap between two VAD regions is not a place to cut. When the only pause is early in the
//!    window this gives a short chunk: less efficient, never wrong;
//! 4. if the whole window `(s, s + max]` is speech (a monologue longer than `max_ms` without a
//!    pause the VAD noticed), the cut stays at the aim and the chunk says so in
//!    [`Chunk::cut_in_speech`], so the caller can warn.
//!
//! So every core is at most `max_ms` and every span at most `max_ms + overlap_ms`.

use redub_core::Span;
use serde::{Deserialize, Serialize};

/// How long chunks may be and how much neighbours overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSettings {
    /// The longest core (DESIGN: 300 s). Values below 1 ms are treated as 1 ms.
    pub max_ms: u64,
    /// The time two neighbouring spans share around each cut (DESIGN: 2 s), half on each side.
    pub overlap_ms: u64,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self { max_ms: 300_000, overlap_ms: 2_000 }
    }
}

/// One piece of the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position in the plan, from 0.
    pub index: usize,
    /// What the models see: the core widened by half the overlap on each side, clipped to the
    /// input.
    pub span: Span,
    /// What this chunk speaks for: from the previous cut to the next one.
    pub core: Span,
    /// True when this chunk's end cut lies inside speech because no silence was found in the
    /// window allowed for it (see the module doc, rule 4). Always false for the last chunk,
    /// whose end is the end of the input.
    pub cut_in_speech: bool,
}

impl Chunk {
    /// Whether `t_ms` lies in this chunk's core, counted as `[start, end)` (the end of the input
    /// belongs to the last chunk; see [`owner`]).
    pub fn owns(&self, t_ms: u64) -> bool {
        self.core.start_ms <= t_ms && t_ms < self.core.end_ms
    }
}

/// The chunk whose core holds `t_ms`: cores are half-open `[start, end)` except the last one,
/// which also holds the end of the input. Use a turn's midpoint so that each turn has exactly
/// one owner. `None` when there are no chunks or `t_ms` is past the end.
pub fn owner(chunks: &[Chunk], t_ms: u64) -> Option<usize> {
    if let Some(i) = chunks.iter().position(|c| c.owns(t_ms)) {
        return Some(i);
    }
    chunks.last().filter(|c| c.core.end_ms == t_ms).map(|c| c.index)
}

/// Splits `[0, duration_ms]` into chunks (see the module doc for the rules).
///
/// `scene_cuts_ms` and `speech` may come in any order; speech spans may overlap. A zero-length
/// input has nothing to diarize and gets **no chunks** (ingest rejects such files anyway).
/// An input no longer than `max_ms` is one chunk whose span and core are the whole input.
pub fn plan(duration_ms: u64, scene_cuts_ms: &[u64], speech: &[Span], settings: &ChunkSettings) -> Vec<Chunk> {
    if duration_ms == 0 {
        return Vec::new();
    }
    let max = settings.max_ms.max(1);
    let half = settings.overlap_ms / 2;
    let speech = merge_speech(speech);
    let mut scenes: Vec<u64> = scene_cuts_ms.iter().copied().filter(|&t| t > 0 && t < duration_ms).collect();
    scenes.sort_unstable();
    scenes.dedup();

    let mut chunks = Vec::new();
    let mut start = 0u64;
    while start < duration_ms {
        let (end, cut_in_speech) =
            if duration_ms - start <= max { (duration_ms, false) } else { next_cut(start, max, &scenes, &speech) };
        let core = Span::new(start, end);
        let span = Span::new(start.saturating_sub(half), end.saturating_add(half).min(duration_ms));
        chunks.push(Chunk { index: chunks.len(), span, core, cut_in_speech });
        start = end;
    }
    chunks
}

/// Sorted, non-empty speech stretches with overlapping or touching spans joined.
fn merge_speech(speech: &[Span]) -> Vec<Span> {
    let mut spans: Vec<Span> = speech.iter().copied().filter(|s| s.end_ms > s.start_ms).collect();
    spans.sort_unstable_by_key(|s| (s.start_ms, s.end_ms));
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start_ms <= last.end_ms => last.end_ms = last.end_ms.max(s.end_ms),
            _ => merged.push(s),
        }
    }
    merged
}

/// The merged speech stretch that strictly contains `t`, if any.
fn speech_around(speech: &[Span], t: u64) -> Option<Span> {
    // The first stretch ending after t is the only candidate (stretches are disjoint, sorted).
    let i = speech.partition_point(|s| s.end_ms <= t);
    speech.get(i).copied().filter(|s| s.start_ms < t)
}

/// The end of the chunk starting at `start`, which must not be the last one
/// (`duration − start > max`): `(cut, cut_in_speech)` with `start < cut ≤ start + max`.
fn next_cut(start: u64, max: u64, scenes: &[u64], speech: &[Span]) -> (u64, bool) {
    let lo = start + max / 2;
    let hi = start + max;
    let in_window = &scenes[scenes.partition_point(|&t| t <= lo)..scenes.partition_point(|&t| t <= hi)];
    let aim = in_window
        .iter()
        .rev()
        .find(|&&t| speech_around(speech, t).is_none())
        .or(in_window.last())
        .copied()
        .unwrap_or(hi);
    let Some(around) = speech_around(speech, aim) else {
        return (aim, false);
    };
    // Both edges of a merged stretch are silent points; take the nearer one that keeps the core
    // within (0, max], the earlier one on a tie.
    let before = Some(around.start_ms).filter(|&t| t > start);
    let after = Some(around.end_ms).filter(|&t| t <= hi);
    match (before, after) {
        (Some(b), Some(a)) => (if aim - b <= a - aim { b } else { a }, false),
        (Some(b), None) => (b, false),
        (None, Some(a)) => (a, false),
        (None, None) => (aim, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(start_ms: u64, end_ms: u64) -> Span {
        Span::new(start_ms, end_ms)
    }

    fn settings(max_ms: u64) -> ChunkSettings {
        ChunkSettings { max_ms, overlap_ms: 2_000 }
    }

    /// Point `t` is strictly inside some speech span (the raw, unmerged definition).
    fn in_speech(speech: &[Span], t: u64) -> bool {
        speech.iter().any(|s| s.start_ms < t && t < s.end_ms)
    }

    /// The invariants every plan must satisfy.
    fn check(duration: u64, speech: &[Span], s: &ChunkSettings, chunks: &[Chunk]) {
        if duration == 0 {
            assert!(chunks.is_empty());
            return;
        }
        assert!(!chunks.is_empty());
        assert_eq!(chunks[0].core.start_ms, 0);
        assert_eq!(chunks[chunks.len() - 1].core.end_ms, duration);
        assert!(!chunks[chunks.len() - 1].cut_in_speech);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.index, i);
            assert!(c.core.duration_ms() > 0, "empty core {c:?}");
            assert!(c.core.duration_ms() <= s.max_ms, "core too long {c:?}");
            assert!(c.span.duration_ms() <= s.max_ms + s.overlap_ms, "span too long {c:?}");
            assert!(c.span.start_ms <= c.core.start_ms && c.core.end_ms <= c.span.end_ms);
            assert!(c.span.end_ms <= duration);
            assert_eq!(c.span.start_ms, c.core.start_ms.saturating_sub(s.overlap_ms / 2));
            assert_eq!(c.span.end_ms, (c.core.end_ms + s.overlap_ms / 2).min(duration));
            if i + 1 < chunks.len() {
                assert_eq!(c.core.end_ms, chunks[i + 1].core.start_ms, "cores must tile");
                let cut = c.core.end_ms;
                if c.cut_in_speech {
                    // Only allowed when the whole allowed window was speech.
                    let window = (c.core.start_ms + 1)..=(c.core.start_ms + s.max_ms);
                    let mut merged = merge_speech(speech);
                    merged.retain(|m| m.start_ms <= c.core.start_ms && m.end_ms > c.core.start_ms + s.max_ms);
                    assert_eq!(merged.len(), 1, "cut in speech at {cut} although {window:?} has silence");
                } else {
                    assert!(!in_speech(speech, cut), "cut {cut} inside speech");
                }
            }
        }
    }

    #[test]
    fn zero_duration_gives_no_chunks() {
        assert!(plan(0, &[], &[], &ChunkSettings::default()).is_empty());
    }

    #[test]
    fn short_input_is_one_chunk() {
        let speech = [sp(1_000, 20_000)];
        let chunks = plan(250_000, &[100_000], &speech, &ChunkSettings::default());
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].core, sp(0, 250_000));
        assert_eq!(chunks[0].span, sp(0, 250_000));
        // Exactly max is still one chunk.
        assert_eq!(plan(300_000, &[], &[], &ChunkSettings::default()).len(), 1);
        assert_eq!(plan(300_001, &[], &[], &ChunkSettings::default()).len(), 2);
    }

    #[test]
    fn silent_input_cuts_at_max() {
        let s = settings(30_000);
        let chunks = plan(100_000, &[], &[], &s);
        let cores: Vec<Span> = chunks.iter().map(|c| c.core).collect();
        assert_eq!(cores, vec![sp(0, 30_000), sp(30_000, 60_000), sp(60_000, 90_000), sp(90_000, 100_000)]);
        assert_eq!(chunks[1].span, sp(29_000, 61_000));
        assert_eq!(chunks[3].span, sp(89_000, 100_000));
        check(100_000, &[], &s, &chunks);
    }

    #[test]
    fn cut_moves_out_of_a_word() {
        let s = settings(30_000);
        // Speech across the 30 s aim: the nearer edge is 29.2 s (before), not 30.9 s.
        let speech = [sp(29_200, 30_900)];
        let chunks = plan(50_000, &[], &speech, &s);
        assert_eq!(chunks[0].core.end_ms, 29_200);
        check(50_000, &speech, &s, &chunks);
        // When moving forward would exceed max, the cut goes back even if forward is nearer.
        let speech = [sp(28_000, 30_001)];
        let chunks = plan(50_000, &[], &speech, &s);
        assert_eq!(chunks[0].core.end_ms, 28_000);
        check(50_000, &speech, &s, &chunks);
    }

    #[test]
    fn touching_speech_spans_count_as_one() {
        let s = settings(30_000);
        let speech = [sp(25_000, 30_000), sp(30_000, 34_000)];
        let chunks = plan(60_000, &[], &speech, &s);
        assert_eq!(chunks[0].core.end_ms, 25_000);
        check(60_000, &speech, &s, &chunks);
    }

    #[test]
    fn scene_cuts_are_preferred() {
        let s = settings(30_000);
        // Scene cuts at 10 s (too early: before s + max/2), 20 s and 24 s: the last one in the
        // half-window wins over cutting at 30 s.
        let chunks = plan(60_000, &[24_000, 10_000, 20_000], &[], &s);
        assert_eq!(chunks[0].core.end_ms, 24_000);
        check(60_000, &[], &s, &chunks);
        // A silent scene cut beats a later one that falls inside speech.
        let speech = [sp(23_000, 25_000)];
        let chunks = plan(60_000, &[20_000, 24_000], &speech, &s);
        assert_eq!(chunks[0].core.end_ms, 20_000);
        check(60_000, &speech, &s, &chunks);
        // If every scene cut is in speech, the last one moves to the nearest silence.
        let speech = [sp(19_000, 21_000), sp(23_500, 25_000)];
        let chunks = plan(60_000, &[20_000, 24_000], &speech, &s);
        assert_eq!(chunks[0].core.end_ms, 23_500);
        check(60_000, &speech, &s, &chunks);
    }

    #[test]
    fn continuous_speech_is_reported() {
        let s = settings(30_000);
        let speech = [sp(500, 45_000)];
        let chunks = plan(60_000, &[], &speech, &s);
        // The first window (0, 30 s] is all speech except 0..0.5 s: the start 0.5 s is silent
        // and is the only allowed silent point, so the cut goes there.
        assert_eq!(chunks[0].core, sp(0, 500));
        assert!(!chunks[0].cut_in_speech);
        // The next window (0.5 s, 30.5 s] is all speech: cut at the aim and say so.
        assert_eq!(chunks[1].core, sp(500, 30_500));
        assert!(chunks[1].cut_in_speech);
        check(60_000, &speech, &s, &chunks);
    }

    #[test]
    fn owner_uses_half_open_cores() {
        let chunks = plan(100_000, &[], &[], &settings(30_000));
        assert_eq!(owner(&chunks, 0), Some(0));
        assert_eq!(owner(&chunks, 29_999), Some(0));
        assert_eq!(owner(&chunks, 30_000), Some(1));
        assert_eq!(owner(&chunks, 100_000), Some(3));
        assert_eq!(owner(&chunks, 100_001), None);
        assert_eq!(owner(&[], 0), None);
    }

    /// Tiny deterministic generator (splitmix64) so the random layouts repeat exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// Random speech layouts (talky, sparse, overlapping spans, rare long monologues), random
    /// scene cuts, random lengths and settings: every plan keeps the invariants.
    #[test]
    fn random_layouts_keep_the_invariants() {
        let mut rng = Rng(7);
        let (mut multi, mut in_speech_cuts, mut moved) = (0, 0, 0);
        for round in 0..2_000 {
            let max_ms = [1, 7, 1_000, 30_000, 300_000][rng.below(5) as usize];
            let overlap_ms = [0, 1, 2_000, 3_001][rng.below(4) as usize];
            let s = ChunkSettings { max_ms, overlap_ms };
            let duration = rng.below(max_ms * 8 + 2);
            let mut speech = Vec::new();
            let mut t = rng.below(3_000);
            let talkiness = rng.below(4);
            while t < duration {
                let len = match rng.below(50) {
                    0 => rng.below(max_ms * 2) + 1,
                    _ => rng.below(8_000 >> talkiness) + 1,
                };
                speech.push(sp(t, (t + len).min(duration)));
                // Sometimes spans touch or overlap (several VAD passes, or sloppy input).
                t = match rng.below(6) {
                    0 => t + len,
                    1 => t + len / 2 + 1,
                    _ => t + len + rng.below(2_000 >> talkiness) + 1,
                };
            }
            let scenes: Vec<u64> = (0..rng.below(20)).map(|_| rng.below(duration + 1)).collect();
            let chunks = plan(duration, &scenes, &speech, &s);
            check(duration, &speech, &s, &chunks);
            if duration > 0 && duration <= max_ms {
                assert_eq!(chunks.len(), 1, "round {round}");
            }
            multi += usize::from(chunks.len() > 1);
            in_speech_cuts += chunks.iter().filter(|c| c.cut_in_speech).count();
            moved += chunks.iter().filter(|c| c.core.duration_ms() < max_ms && c.index + 1 < chunks.len()).count();
        }
        // The layouts must exercise every branch, or the test proves little.
        assert!(multi > 1_000 && in_speech_cuts > 10 && moved > 1_000, "{multi} {in_speech_cuts} {moved}");
    }
}
