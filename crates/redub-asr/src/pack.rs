//! Packing speech regions into Whisper windows, and mapping times in a packed window back to the
//! source.
//!
//! whisper.cpp pads every call to a full 30 s encoder pass, so decoding each VAD region on its own
//! costs one encoder pass per turn (a 155 s dialogue had about a hundred). Packing regions into
//! windows of up to ~28 s of decoded audio, with the pauses between them shortened, pays one pass
//! per window instead. Each kept pause is real audio from the source (the end of the gap just
//! after a region and its start just before the next, half each), so a region's edges keep the
//! breath and decay VAD may have cut into, and the splice sits in the quietest part of the gap.

use redub_core::{Audio, Span};

/// Group regions into windows whose decoded audio (regions plus the shortened pauses between
/// them) is at most `max_ms`; a single region longer than that is first cut into equal parts.
/// Regions are taken in order (they are sorted and disjoint, as VAD gives them) and a window is
/// closed when the next region no longer fits, however long the pause before it was.
///
/// `plan` of one of its own groups gives that group back, so a group decoded alone is decoded
/// exactly as it was planned.
pub fn plan(regions: &[Span], max_ms: u64, pause_ms: u64) -> Vec<Vec<Span>> {
    let mut groups: Vec<Vec<Span>> = Vec::new();
    let mut len = 0;
    for r in split_long(regions, max_ms) {
        if let Some(g) = groups.last_mut() {
            let prev = g[g.len() - 1];
            let add = r.start_ms.saturating_sub(prev.end_ms).min(pause_ms) + r.duration_ms();
            if len + add <= max_ms {
                g.push(r);
                len += add;
                continue;
            }
        }
        len = r.duration_ms();
        groups.push(vec![r]);
    }
    groups
}

/// Regions longer than `max_ms` cut into equal parts (VAD already places regions at pauses, so
/// such regions are rare: long monologues without a breath); empty regions dropped. The part
/// length is rounded up so that no part exceeds `max_ms` and a part is never cut again.
fn split_long(regions: &[Span], max_ms: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for r in regions.iter().filter(|r| r.duration_ms() > 0) {
        let n = r.duration_ms().div_ceil(max_ms.max(1)).max(1);
        let step = r.duration_ms().div_ceil(n);
        let mut start = r.start_ms;
        while start < r.end_ms {
            let end = (start + step).min(r.end_ms);
            out.push(Span::new(start, end));
            start = end;
        }
    }
    out
}

/// One stretch of source audio copied whole into the packed window.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Piece {
    /// Where the stretch starts in the packed window.
    packed_ms: u64,
    src: Span,
}

/// A group of regions laid out as one window: which source audio goes where, and the way back.
#[derive(Clone, Debug, PartialEq)]
pub struct Packed {
    pieces: Vec<Piece>,
    regions: Vec<Span>,
}

impl Packed {
    /// Lay out `group` (sorted, disjoint regions) with every gap shortened to at most `pause_ms`.
    pub fn new(group: &[Span], pause_ms: u64) -> Self {
        Self::with_edges(group, pause_ms, 0)
    }

    /// Like [`new`](Self::new), with up to `edge_ms` of the source before the first region and
    /// after the last one.
    pub fn with_edges(group: &[Span], pause_ms: u64, edge_ms: u64) -> Self {
        let mut pieces = Vec::with_capacity(group.len());
        let mut at = 0;
        // The tail of the previous gap, kept before this region.
        let mut lead = group.first().map(|r| r.start_ms.min(edge_ms)).unwrap_or(0);
        for (i, r) in group.iter().enumerate() {
            let keep = match group.get(i + 1) {
                Some(n) => n.start_ms.saturating_sub(r.end_ms).min(pause_ms),
                None => 2 * edge_ms, // half of it is kept after the region
            };
            let head = keep / 2;
            let src = Span::new(r.start_ms - lead, r.end_ms + head);
            pieces.push(Piece { packed_ms: at, src });
            at += src.duration_ms();
            lead = keep - head;
        }
        Self { pieces, regions: group.to_vec() }
    }

    /// Length of the packed window.
    pub fn duration_ms(&self) -> u64 {
        self.pieces.last().map(|p| p.packed_ms + p.src.duration_ms()).unwrap_or(0)
    }

    /// The packed window's samples. Source audio that ends early (a region past the end of the
    /// file) is padded with silence so that the time map stays exact.
    pub fn samples(&self, audio: &Audio) -> Vec<f32> {
        let mut out = Vec::new();
        for p in &self.pieces {
            let want = redub_core::ms_to_samples(p.src.duration_ms(), audio.rate);
            let got = audio.slice_ms(p.src.start_ms, p.src.end_ms);
            out.extend_from_slice(&got[..got.len().min(want)]);
            out.resize(out.len() + want.saturating_sub(got.len()), 0.0);
        }
        out
    }

    fn piece_at(&self, packed_ms: u64) -> usize {
        self.pieces.partition_point(|p| p.packed_ms <= packed_ms).saturating_sub(1)
    }

    /// Source time of a packed time, unsnapped (inside its piece).
    fn raw(&self, piece: usize, packed_ms: u64) -> u64 {
        let p = self.pieces[piece];
        (p.src.start_ms + packed_ms.saturating_sub(p.packed_ms)).min(p.src.end_ms)
    }

    /// A source time outside every region moved to the nearest region edge: words belong to
    /// speech, and a time inside a shortened pause has no better place.
    fn snap(&self, t: u64) -> u64 {
        let i = self.regions.partition_point(|r| r.end_ms < t);
        let Some(next) = self.regions.get(i) else {
            return self.regions.last().map(|r| r.end_ms).unwrap_or(t);
        };
        if t >= next.start_ms {
            return t; // inside `next`
        }
        match i.checked_sub(1).map(|j| self.regions[j]) {
            Some(prev) if t - prev.end_ms <= next.start_ms - t => prev.end_ms,
            _ => next.start_ms,
        }
    }

    /// Source time of a packed time.
    pub fn to_source(&self, packed_ms: u64) -> u64 {
        self.snap(self.raw(self.piece_at(packed_ms), packed_ms))
    }

    /// Source times of a word's start and end. The end is kept in the start's piece: an end that
    /// crosses a splice was only estimated (from the next word's start), and the pause it would
    /// jump over was never spoken through.
    pub fn span_to_source(&self, start_ms: u64, end_ms: u64) -> (u64, u64) {
        let i = self.piece_at(start_ms);
        let start = self.snap(self.raw(i, start_ms));
        let end = if self.piece_at(end_ms) == i { self.raw(i, end_ms) } else { self.pieces[i].src.end_ms };
        (start, self.snap(end).max(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(v: &[(u64, u64)]) -> Vec<Span> {
        v.iter().map(|&(a, b)| Span::new(a, b)).collect()
    }

    #[test]
    fn packs_across_pauses_up_to_the_window() {
        // 5 turns of 6 s, 1 s apart: with pauses cut to 400 ms, four fit in 28 s (4×6 + 3×0.4 =
        // 25.2 s), the fifth would make 31.6 s.
        let r: Vec<Span> = (0..5).map(|i| Span::new(i * 7000, i * 7000 + 6000)).collect();
        let g = plan(&r, 28_000, 400);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0], r[..4].to_vec());
        assert_eq!(g[1], r[4..].to_vec());
        assert_eq!(Packed::new(&g[0], 400).duration_ms(), 25_200);
    }

    #[test]
    fn a_long_pause_is_no_reason_to_close_a_window() {
        let r = spans(&[(0, 2000), (600_000, 602_000)]);
        assert_eq!(plan(&r, 28_000, 400), vec![r.clone()]);
        assert_eq!(Packed::new(&r, 400).duration_ms(), 4400);
    }

    #[test]
    fn long_regions_are_split_and_parts_never_split_again() {
        // 3 × 28 s − 1 ms: equal parts rounded down would leave a last part over 28 s.
        let r = spans(&[(0, 83_999)]);
        let g = plan(&r, 28_000, 400);
        assert_eq!(g.len(), 3);
        assert!(g.iter().all(|g| g.len() == 1 && g[0].duration_ms() <= 28_000), "{g:?}");
        assert_eq!(g[0][0].start_ms, 0);
        assert_eq!(g[2][0].end_ms, 83_999);
        assert!(g.windows(2).all(|w| w[0][0].end_ms == w[1][0].start_ms));
    }

    #[test]
    fn a_planned_group_plans_to_itself() {
        let r = spans(&[(0, 9000), (9100, 20_000), (21_500, 27_000), (27_900, 70_000), (70_300, 71_000)]);
        for g in plan(&r, 28_000, 400) {
            assert!(Packed::new(&g, 400).duration_ms() <= 28_000);
            assert_eq!(plan(&g, 28_000, 400), vec![g.clone()]);
        }
        assert!(plan(&[], 28_000, 400).is_empty());
    }

    #[test]
    fn times_map_back_through_shortened_pauses() {
        // Regions 1–3 s and 10–12 s; the 7 s gap keeps 200 ms after the first region and 200 ms
        // before the second: packed 0–2.2 s is source 1–3.2 s, packed 2.2–4.4 s is 9.8–12 s.
        let p = Packed::new(&spans(&[(1000, 3000), (10_000, 12_000)]), 400);
        assert_eq!(p.duration_ms(), 4400);
        assert_eq!(p.to_source(0), 1000);
        assert_eq!(p.to_source(1500), 2500);
        assert_eq!(p.to_source(2000), 3000);
        assert_eq!(p.to_source(2400), 10_000);
        assert_eq!(p.to_source(3000), 10_600);
        assert_eq!(p.to_source(4400), 12_000);
        // Inside the kept pause: snapped to the nearest region edge.
        assert_eq!(p.to_source(2100), 3000);
        assert_eq!(p.to_source(2300), 10_000);
        // A word end estimated across the splice stays before it.
        assert_eq!(p.span_to_source(1800, 2600), (2800, 3000));
        assert_eq!(p.span_to_source(2500, 2900), (10_100, 10_500));
    }

    #[test]
    fn edges_add_source_audio_outside_the_group_and_snap_back() {
        let p = Packed::with_edges(&spans(&[(100, 2000), (5000, 6000)]), 400, 200);
        // 100 ms before (all there is), 1900 + 200 | 200 + 1000 + 200 after.
        assert_eq!(p.duration_ms(), 100 + 1900 + 200 + 200 + 1000 + 200);
        assert_eq!(p.to_source(0), 100, "lead-in snaps to the first region's start");
        assert_eq!(p.to_source(100), 100);
        assert_eq!(p.to_source(2300), 5000, "inside the cut pause, 100 ms before the second region");
        assert_eq!(p.to_source(3550), 6000, "tail snaps to the last region's end");
    }

    #[test]
    fn short_gaps_are_kept_whole_and_audio_is_laid_out_as_mapped() {
        // 1 ms per sample makes the samples their own source times.
        let audio = Audio::new(1000, (0..6000).map(|i| i as f32).collect());
        let p = Packed::new(&spans(&[(1000, 2000), (2300, 3000), (5000, 6500)]), 400);
        // Gaps: 300 ms kept whole, 2000 ms cut to 400; the last region runs past the audio.
        assert_eq!(p.duration_ms(), 1000 + 300 + 700 + 400 + 1500);
        let s = p.samples(&audio);
        assert_eq!(s.len() as u64, p.duration_ms());
        for t in [0u64, 999, 1300, 1999, 2199, 2200, 2399, 2400, 3399] {
            assert_eq!(s[t as usize] as u64, p.raw(p.piece_at(t), t), "packed {t}");
        }
        assert_eq!(s[3899], 0.0, "padding past the end of the audio");
        assert_eq!(p.to_source(1150), 2000, "inside the whole gap: snapped to the first region's end");
    }
}
