//! Diarization error rate (DER) and cluster purity / coverage, for tests and for tuning the
//! clustering thresholds against reference RTTM files.
//!
//! The scoring follows md-eval / pyannote.metrics with overlapped speech scored (see
//! `docs/notes/issue-3-diarization.md` §4); the numbers were checked against pyannote.metrics
//! 4.2.0 (the test `matches_pyannote_metrics` keeps a few of them). The one trap is the collar:
//! here, as in md-eval `-c`, `collar_ms` is removed on **each** side of a reference boundary,
//! so `collar_ms = 250` equals pyannote's `DiarizationErrorRate(collar=0.5)`.
//!
//! All times are integer milliseconds inside, so the sums are exact; seconds appear only in the
//! report.

use serde::Serialize;

use crate::{hungarian, Turn};

/// The DER and its parts, in seconds of speaker time (overlapped speech counts once per
/// speaker), plus the speaker mapping the score is based on.
#[derive(Debug, Clone, Serialize)]
pub struct DerReport {
    /// `(miss + false alarm + confusion) / total`, 0 when nothing is scored. Can exceed 1.
    pub der: f64,
    /// Scored reference speaker time.
    pub total_s: f64,
    /// Reference speaker time with no hypothesis speaker to cover it.
    pub miss_s: f64,
    /// Hypothesis speaker time beyond the number of reference speakers.
    pub false_alarm_s: f64,
    /// Speaker time covered by a hypothesis label that does not map to the speaker.
    pub confusion_s: f64,
    /// The optimal one-to-one map, `(reference label, hypothesis label)`, sorted by reference
    /// label. Pairs that never speak together are left out; unmapped labels never count as
    /// correct.
    pub mapping: Vec<(String, String)>,
}

/// Scores `hypothesis` against `reference` with `collar_ms` forgiven on each side of every
/// reference turn boundary (md-eval `-c`). Steps (§4 of the research note):
///
/// 1. Each label's own overlapping or touching turns are merged, so a label never counts twice
///    at one instant (pyannote would; a clean hypothesis never has that). The merge also removes
///    the collar at a boundary between two touching turns of one speaker, which is no real
///    boundary.
/// 2. The scored region is `[min start, max end]` over both sides (pyannote's default UEM),
///    minus the no-score zones `[t − collar, t + collar]` around every reference start and end.
/// 3. That region is cut at every boundary into pieces where the active label sets are constant.
/// 4. Hypothesis labels are mapped one-to-one to reference labels so that the time they share
///    is largest (Hungarian): DER must not depend on what the labels are called.
/// 5. On each piece with `nr` reference and `nh` hypothesis speakers, of which `corr` are mapped
///    correctly: total += nr, miss += max(0, nr − nh), false alarm += max(0, nh − nr),
///    confusion += min(nr, nh) − corr (each times the piece's length).
pub fn score(reference: &[Turn], hypothesis: &[Turn], collar_ms: u64) -> DerReport {
    let r = Labelled::new(reference);
    let h = Labelled::new(hypothesis);
    let pieces = pieces(&r, &h, collar_ms);
    let shared = shared_time(&pieces, r.labels.len(), h.labels.len());

    // hyp label → ref label, from the mapping that maximises shared time.
    let cost: Vec<Vec<f64>> = shared.iter().map(|row| row.iter().map(|&ms| -(ms as f64)).collect()).collect();
    let mut ref_of_hyp: Vec<Option<usize>> = vec![None; h.labels.len()];
    for (ri, hj) in hungarian::assign(&cost).into_iter().enumerate() {
        if let Some(hj) = hj {
            if shared[ri][hj] > 0 {
                ref_of_hyp[hj] = Some(ri);
            }
        }
    }

    let (mut total, mut miss, mut fa, mut conf) = (0u64, 0u64, 0u64, 0u64);
    for p in &pieces {
        let (nr, nh) = (p.refs.len() as u64, p.hyps.len() as u64);
        let corr = p.hyps.iter().filter(|&&hj| ref_of_hyp[hj].is_some_and(|ri| p.refs.contains(&ri))).count() as u64;
        total += p.len * nr;
        miss += p.len * nr.saturating_sub(nh);
        fa += p.len * nh.saturating_sub(nr);
        conf += p.len * (nr.min(nh) - corr);
    }

    let mut mapping: Vec<(String, String)> = ref_of_hyp
        .iter()
        .enumerate()
        .filter_map(|(hj, ri)| ri.map(|ri| (r.labels[ri].clone(), h.labels[hj].clone())))
        .collect();
    mapping.sort();

    let errors = miss + fa + conf;
    DerReport {
        der: if total == 0 { 0.0 } else { errors as f64 / total as f64 },
        total_s: seconds(total),
        miss_s: seconds(miss),
        false_alarm_s: seconds(fa),
        confusion_s: seconds(conf),
        mapping,
    }
}

/// `(purity, coverage)`, pyannote.metrics' `DiarizationPurity` and `DiarizationCoverage` with no
/// collar. They split DER's confusion into its two causes, which point at opposite threshold
/// changes: low purity means clusters mix people (clustering too loose), low coverage means one
/// person is split over clusters (too strict).
///
/// - purity = Σ over hypothesis labels of the most time shared with one reference label,
///   divided by the total hypothesis speaker time;
/// - coverage = the same with the roles swapped.
///
/// Each is 1 when its denominator is 0 (as in pyannote). Own overlaps are merged per label first,
/// as in [`score`].
pub fn purity_coverage(reference: &[Turn], hypothesis: &[Turn]) -> (f64, f64) {
    let r = Labelled::new(reference);
    let h = Labelled::new(hypothesis);
    let shared = shared_time(&pieces(&r, &h, 0), r.labels.len(), h.labels.len());

    let best_per_hyp: u64 = (0..h.labels.len()).map(|hj| shared.iter().map(|row| row[hj]).max().unwrap_or(0)).sum();
    let best_per_ref: u64 = shared.iter().map(|row| row.iter().copied().max().unwrap_or(0)).sum();
    let ratio = |num: u64, den: u64| if den == 0 { 1.0 } else { num as f64 / den as f64 };
    (ratio(best_per_hyp, h.speech_ms()), ratio(best_per_ref, r.speech_ms()))
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Turns with labels replaced by indices into a sorted label list, each label's turns merged
/// where they overlap or touch, and empty turns dropped.
struct Labelled {
    labels: Vec<String>,
    /// `(start_ms, end_ms, label index)`, disjoint within one label.
    turns: Vec<(u64, u64, usize)>,
}

impl Labelled {
    fn new(turns: &[Turn]) -> Self {
        let mut labels: Vec<String> =
            turns.iter().filter(|t| t.end_ms > t.start_ms).map(|t| t.speaker.clone()).collect();
        labels.sort();
        labels.dedup();
        let mut raw: Vec<(usize, u64, u64)> = turns
            .iter()
            .filter(|t| t.end_ms > t.start_ms)
            .filter_map(|t| labels.binary_search(&t.speaker).ok().map(|i| (i, t.start_ms, t.end_ms)))
            .collect();
        raw.sort_unstable();
        let mut merged: Vec<(u64, u64, usize)> = Vec::with_capacity(raw.len());
        for (label, start, end) in raw {
            match merged.last_mut() {
                Some(last) if last.2 == label && start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end, label)),
            }
        }
        Self { labels, turns: merged }
    }

    fn speech_ms(&self) -> u64 {
        self.turns.iter().map(|(s, e, _)| e - s).sum()
    }
}

/// A stretch of the scored region on which the active labels do not change.
struct Piece {
    len: u64,
    refs: Vec<usize>,
    hyps: Vec<usize>,
}

/// Cuts the scored region (UEM minus collars) into [`Piece`]s by sweeping over all boundaries
/// once, so long films with thousands of turns stay cheap.
fn pieces(r: &Labelled, h: &Labelled, collar_ms: u64) -> Vec<Piece> {
    let edges = || r.turns.iter().chain(&h.turns).flat_map(|&(s, e, _)| [s, e]);
    let (Some(uem_start), Some(uem_end)) = (edges().min(), edges().max()) else {
        return Vec::new();
    };

    // Events (time, kind, index, +1/−1); kind 0 = reference label, 1 = hypothesis, 2 = collar.
    let mut events: Vec<(u64, u8, usize, i32)> = Vec::new();
    for &(s, e, label) in &r.turns {
        events.push((s, 0, label, 1));
        events.push((e, 0, label, -1));
    }
    for &(s, e, label) in &h.turns {
        events.push((s, 1, label, 1));
        events.push((e, 1, label, -1));
    }
    if collar_ms > 0 {
        for t in r.turns.iter().flat_map(|&(s, e, _)| [s, e]) {
            let zone_start = t.saturating_sub(collar_ms).max(uem_start);
            let zone_end = t.saturating_add(collar_ms).min(uem_end);
            events.push((zone_start, 2, 0, 1));
            events.push((zone_end, 2, 0, -1));
        }
    }
    events.sort_unstable();

    let mut cuts: Vec<u64> = events.iter().map(|e| e.0).collect();
    cuts.dedup(); // already sorted with the events

    let mut ref_active = vec![0i32; r.labels.len()];
    let mut hyp_active = vec![0i32; h.labels.len()];
    let mut in_collar = 0i32;
    let mut next = 0;
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        // Turns are half-open [start, end): apply everything that starts or ends at `a`.
        while next < events.len() && events[next].0 <= a {
            let (_, kind, index, delta) = events[next];
            match kind {
                0 => ref_active[index] += delta,
                1 => hyp_active[index] += delta,
                _ => in_collar += delta,
            }
            next += 1;
        }
        if in_collar > 0 {
            continue;
        }
        let active = |v: &[i32]| v.iter().enumerate().filter(|(_, &n)| n > 0).map(|(i, _)| i).collect::<Vec<_>>();
        out.push(Piece { len: b - a, refs: active(&ref_active), hyps: active(&hyp_active) });
    }
    out
}

/// `shared[r][h]`: milliseconds where reference label r and hypothesis label h are both active.
fn shared_time(pieces: &[Piece], n_ref: usize, n_hyp: usize) -> Vec<Vec<u64>> {
    let mut shared = vec![vec![0u64; n_hyp]; n_ref];
    for p in pieces {
        for &ri in &p.refs {
            for &hj in &p.hyps {
                shared[ri][hj] += p.len;
            }
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn t(start_ms: u64, end_ms: u64, speaker: &str) -> Turn {
        Turn::new(start_ms, end_ms, speaker)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn two_speakers() -> Vec<Turn> {
        vec![t(0, 4000, "A"), t(3500, 8000, "B"), t(9000, 12000, "A"), t(12500, 15000, "B")]
    }

    #[test]
    fn perfect_hypothesis_scores_zero() {
        let r = two_speakers();
        for collar in [0, 250] {
            let s = score(&r, &r, collar);
            assert_eq!(s.der, 0.0);
            assert_eq!(s.miss_s + s.false_alarm_s + s.confusion_s, 0.0);
            assert!(s.total_s > 0.0);
            assert_eq!(s.mapping, vec![("A".into(), "A".into()), ("B".into(), "B".into())]);
        }
    }

    #[test]
    fn swapped_labels_score_zero() {
        let r = two_speakers();
        let h: Vec<Turn> =
            r.iter().map(|x| t(x.start_ms, x.end_ms, if x.speaker == "A" { "spk1" } else { "spk0" })).collect();
        let s = score(&r, &h, 0);
        assert_eq!(s.der, 0.0);
        assert_eq!(s.mapping, vec![("A".into(), "spk1".into()), ("B".into(), "spk0".into())]);
    }

    #[test]
    fn one_label_for_everyone_is_confusion_only() {
        let r = vec![t(0, 10_000, "A"), t(10_000, 20_000, "B")];
        let h = vec![t(0, 20_000, "X")];
        let s = score(&r, &h, 0);
        assert!(close(s.total_s, 20.0) && close(s.confusion_s, 10.0), "{s:?}");
        assert_eq!((s.miss_s, s.false_alarm_s), (0.0, 0.0));
        assert!(close(s.der, 0.5));
        assert_eq!(s.mapping.len(), 1);
    }

    #[test]
    fn empty_hypothesis_is_all_miss() {
        let r = two_speakers();
        for collar in [0, 250] {
            let s = score(&r, &[], collar);
            assert!(s.total_s > 0.0);
            assert_eq!(s.miss_s, s.total_s);
            assert_eq!(s.der, 1.0);
            assert!(s.mapping.is_empty());
        }
        // No speech anywhere: nothing to score, DER 0 rather than NaN.
        let s = score(&[], &[], 250);
        assert_eq!((s.der, s.total_s), (0.0, 0.0));
        // Speech only in the hypothesis: false alarm, total 0, DER reported as 0.
        let s = score(&[], &[t(0, 1000, "X")], 0);
        assert_eq!((s.false_alarm_s, s.total_s, s.der), (1.0, 0.0, 0.0));
    }

    #[test]
    fn collar_by_hand() {
        // [1 s, 3 s] with ±0.25 s: [1.25, 2.75] is scored = 1.5 s.
        let r = vec![t(1000, 3000, "A")];
        let s = score(&r, &r, 250);
        assert!(close(s.total_s, 1.5), "{s:?}");
        let s = score(&r, &[], 250);
        assert!(close(s.miss_s, 1.5) && close(s.der, 1.0));
        // A hypothesis over [0, 4 s] widens the UEM: [0, 0.75] and [3.25, 4] are false alarm.
        let s = score(&r, &[t(0, 4000, "X")], 250);
        assert!(close(s.total_s, 1.5) && close(s.false_alarm_s, 1.5) && close(s.der, 1.0), "{s:?}");
        // Boundary errors smaller than the collar are forgiven.
        let s = score(&r, &[t(1200, 2800, "X")], 250);
        assert_eq!(s.der, 0.0);
        // A collar wider than the turn removes it entirely.
        let s = score(&r, &[], 1000);
        assert_eq!(s.total_s, 0.0);
    }

    #[test]
    fn overlapped_speech_is_scored() {
        // A [0,10], B [5,15]; the hypothesis has one speaker throughout.
        let r = vec![t(0, 10_000, "A"), t(5000, 15_000, "B")];
        let s = score(&r, &[t(0, 15_000, "X")], 0);
        // total = 5 + 2·5 + 5; miss 5 (overlap with one hyp speaker); X → A, so [10,15] is confusion.
        assert!(close(s.total_s, 20.0) && close(s.miss_s, 5.0) && close(s.confusion_s, 5.0), "{s:?}");
        assert_eq!(s.false_alarm_s, 0.0);
        assert_eq!(s.mapping, vec![("A".into(), "X".into())]);

        // Perfect overlap detection scores 0.
        let h = vec![t(0, 10_000, "p"), t(5000, 15_000, "q")];
        assert_eq!(score(&r, &h, 0).der, 0.0);

        // A hypothesis overlap where the reference has one speaker is a false alarm.
        let r = vec![t(0, 10_000, "A")];
        let h = vec![t(0, 10_000, "X"), t(2000, 4000, "Y")];
        let s = score(&r, &h, 0);
        assert!(close(s.false_alarm_s, 2.0) && close(s.der, 0.2), "{s:?}");
    }

    #[test]
    fn own_overlaps_are_merged_first() {
        let r = vec![t(0, 10_000, "A")];
        let h = vec![t(0, 6000, "X"), t(4000, 10_000, "X"), t(10_000, 10_000, "X")];
        assert_eq!(score(&r, &h, 0).der, 0.0);
        // Touching reference turns of one speaker are one turn: no collar inside.
        let r2 = vec![t(0, 5000, "A"), t(5000, 10_000, "A")];
        assert!(close(score(&r2, &r2, 250).total_s, 9.5));
    }

    #[test]
    fn purity_and_coverage_by_hand() {
        // Reference A [0,10], B [10,20]. Hypothesis X [0,12], Y [12,20].
        // Purity: X shares 10 with A, Y shares 8 with B → (10 + 8) / 20 = 0.9.
        // Coverage: A's best is X (10), B's best is Y (8) → 0.9.
        let r = vec![t(0, 10_000, "A"), t(10_000, 20_000, "B")];
        let (p, c) = purity_coverage(&r, &[t(0, 12_000, "X"), t(12_000, 20_000, "Y")]);
        assert!(close(p, 0.9) && close(c, 0.9), "{p} {c}");
        // One cluster for all: coverage perfect, purity halved.
        let (p, c) = purity_coverage(&r, &[t(0, 20_000, "X")]);
        assert!(close(p, 0.5) && close(c, 1.0));
        // Every turn its own cluster: purity perfect, coverage low.
        let h = vec![t(0, 5000, "1"), t(5000, 10_000, "2"), t(10_000, 15_000, "3"), t(15_000, 20_000, "4")];
        let (p, c) = purity_coverage(&r, &h);
        assert!(close(p, 1.0) && close(c, 0.5));
        // Hypothesis time outside any reference speech lowers purity.
        let (p, c) = purity_coverage(&[t(0, 10_000, "A")], &[t(0, 20_000, "X")]);
        assert!(close(p, 0.5) && close(c, 1.0));
        assert_eq!(purity_coverage(&[], &[]), (1.0, 1.0));
    }

    fn secs(turns: &[(f64, f64, &str)]) -> Vec<Turn> {
        turns.iter().map(|&(s, e, l)| t((s * 1000.0).round() as u64, (e * 1000.0).round() as u64, l)).collect()
    }

    /// Expected values `[der, total, miss, false alarm, confusion, purity, coverage]` came from
    /// pyannote.metrics 4.2.0: `DiarizationErrorRate(collar=0.5, skip_overlap=False)(ref, hyp,
    /// detailed=True)` (its collar 0.5 = our 250 ms on each side), `DiarizationPurity()` and
    /// `DiarizationCoverage()`, on `Annotation`s with one track per turn, times in seconds as
    /// written here (no label has touching or overlapping turns, where the two would differ).
    /// Cases: overlap with jittered boundaries; under-clustering; over-clustering with a
    /// hypothesis overlap; a hypothesis reaching past the reference (wider UEM) and a turn
    /// shorter than the collars; dense overlap of three speakers; the `sample.rttm` reference
    /// against a hand-perturbed hypothesis with a third label.
    #[test]
    fn matches_pyannote_metrics() {
        #[allow(clippy::type_complexity)]
        let cases: Vec<(Vec<Turn>, Vec<Turn>, [f64; 7])> = vec![
            (
                secs(&[(0.0, 5.0, "A"), (4.0, 9.0, "B"), (10.0, 14.0, "A")]),
                secs(&[(0.3, 4.5, "X"), (4.2, 9.5, "Y"), (9.8, 12.0, "X"), (12.0, 14.2, "Z")]),
                [0.19999999999999998, 11.5, 0.3, 0.25, 1.75, 0.9352517985611511, 0.7857142857142857],
            ),
            (
                secs(&[(0.0, 3.0, "A"), (3.2, 6.0, "B"), (6.5, 10.0, "C"), (10.5, 12.0, "A")]),
                secs(&[(0.0, 6.1, "X"), (6.4, 12.0, "Y")]),
                [0.37499999999999994, 8.8, 0.0, 0.0, 3.3, 0.5555555555555556, 0.8611111111111112],
            ),
            (
                secs(&[(1.0, 6.0, "A"), (6.0, 11.0, "B")]),
                secs(&[(1.0, 3.5, "P"), (3.4, 6.2, "Q"), (6.0, 9.0, "R"), (8.8, 11.3, "P")]),
                [0.4722222222222222, 9.0, 0.0, 0.3500000000000001, 3.9, 0.7499999999999999, 0.5599999999999999],
            ),
            (
                secs(&[(2.0, 4.0, "A"), (4.5, 7.0, "B"), (7.1, 7.4, "C"), (8.0, 9.0, "A")]),
                secs(&[(0.0, 4.1, "X"), (4.4, 5.5, "Y"), (6.0, 9.5, "Y"), (11.0, 12.0, "X")]),
                [1.025, 4.0, 0.5, 3.0999999999999996, 0.5, 0.4123711340206186, 0.7413793103448276],
            ),
            (
                secs(&[(0.0, 0.3, "A"), (0.2, 0.6, "B"), (0.5, 4.0, "A"), (1.5, 3.2, "B"), (2.5, 3.8, "C")]),
                secs(&[(0.0, 1.8, "X"), (1.4, 3.6, "Y"), (2.9, 4.2, "Z")]),
                [
                    0.409090909090909,
                    2.1999999999999997,
                    0.8,
                    0.0,
                    0.09999999999999964,
                    0.9245283018867924,
                    0.6944444444444444,
                ],
            ),
            (
                secs(&[
                    (6.69, 7.12, "speaker90"),
                    (7.55, 8.35, "speaker91"),
                    (8.32, 10.02, "speaker90"),
                    (9.92, 11.03, "speaker91"),
                    (10.57, 14.7, "speaker90"),
                    (14.49, 17.92, "speaker91"),
                    (18.05, 21.49, "speaker90"),
                    (18.15, 18.59, "speaker91"),
                    (21.78, 28.5, "speaker91"),
                    (27.85, 30.0, "speaker90"),
                ]),
                secs(&[
                    (6.6, 7.3, "A"),
                    (7.5, 8.2, "B"),
                    (8.4, 10.5, "A"),
                    (10.5, 11.0, "B"),
                    (11.0, 14.4, "A"),
                    (14.6, 18.0, "B"),
                    (18.0, 21.6, "A"),
                    (21.9, 25.0, "C"),
                    (25.0, 28.3, "B"),
                    (28.0, 30.2, "A"),
                ]),
                [0.1848225214198286, 16.34, 0.0, 0.0, 3.0199999999999996, 0.9460869565217392, 0.7663244353182753],
            ),
        ];
        for (i, (r, h, [der, total, miss, fa, conf, purity, coverage])) in cases.iter().enumerate() {
            let s = score(r, h, 250);
            assert!(
                close(s.der, *der)
                    && close(s.total_s, *total)
                    && close(s.miss_s, *miss)
                    && close(s.false_alarm_s, *fa)
                    && close(s.confusion_s, *conf),
                "case {i}: {s:?}"
            );
            let (p, c) = purity_coverage(r, h);
            assert!(close(p, *purity) && close(c, *coverage), "case {i}: purity {p}, coverage {c}");
        }
    }

    #[test]
    fn fixture_against_itself() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech-2spk/sample.rttm");
        let r = crate::rttm::read(&path).unwrap();
        for collar in [0, 250] {
            let s = score(&r, &r, collar);
            assert_eq!(s.der, 0.0);
            assert!(s.total_s > 10.0);
            let renamed: Vec<Turn> = r
                .iter()
                .map(|x| t(x.start_ms, x.end_ms, if x.speaker == "speaker90" { "SPEAKER_01" } else { "SPEAKER_00" }))
                .collect();
            let s = score(&r, &renamed, collar);
            assert_eq!(s.der, 0.0);
            assert_eq!(
                s.mapping,
                vec![("speaker90".into(), "SPEAKER_01".into()), ("speaker91".into(), "SPEAKER_00".into())]
            );
        }
        assert_eq!(purity_coverage(&r, &r), (1.0, 1.0));
    }
}
