//! Agglomerative clustering of speaker embeddings with complete linkage.
//!
//! Inside one chunk, the segmentation model labels speakers per 10 s window, so one person shows
//! up as many items (one per window in which they speak). Clustering joins those items into the
//! chunk's local speakers. Complete linkage (the similarity of two clusters is the *smallest*
//! pairwise cosine between their members) is used because it never chains: two voices that are
//! each close to a middle item do not end up in one cluster, which single or average linkage
//! would allow. The price is that it gets stricter as clusters grow, so the threshold is lower
//! than a pairwise "same speaker" score would suggest.
//!
//! The default threshold, 0.40, is the one measured for the CAM++ embedder
//! (`docs/notes/issue-3-diarization.md` §2c: 0.40 finds exactly 2 of 2 speakers on the sample
//! call and 8 of 8 voices on the 235 s synthetic file; DESIGN's 0.78 finds 5 on the call).
//! Another embedder needs its own value, so it lives in the settings and the manifest key.

use crate::cosine;

/// The complete-linkage threshold measured for CAM++ embeddings.
pub const DEFAULT_CLUSTER_THRESHOLD: f32 = 0.40;

/// When to stop merging.
///
/// The order of the rules: while there are more than `max_clusters` clusters, merging goes on
/// regardless of the threshold (so `max_clusters` wins over `min_clusters` when they
/// contradict); otherwise it stops at `min_clusters`, and otherwise when the best remaining
/// pair's complete-linkage similarity is below `threshold`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Linkage {
    /// The smallest complete-linkage cosine at which two clusters still merge.
    pub threshold: f32,
    /// Never go below this many clusters (`--min-speakers`). 0 and 1 mean "no limit".
    pub min_clusters: usize,
    /// Keep merging, even below the threshold, while there are more clusters than this
    /// (`--max-speakers`, or `--speakers N` together with `min_clusters = N`).
    pub max_clusters: Option<usize>,
}

impl Default for Linkage {
    fn default() -> Self {
        Self { threshold: DEFAULT_CLUSTER_THRESHOLD, min_clusters: 1, max_clusters: None }
    }
}

/// Clusters `items` (speaker embeddings; unit length is expected but not required, the cosine
/// does not care) and returns one label per item: dense `0..k`, numbered in the order in which
/// the items first appear, so the same input always gives the same labels.
///
/// `cannot_link` lists pairs of item indices that must stay apart: two local speakers of the
/// same segmentation window are different people by the model's own account. Such a pair (and
/// any two clusters containing it) is never merged voluntarily. Only `max_clusters` can force
/// it, and only when no other pair is left to merge: a forced merge first takes the most similar
/// pair that is *allowed*, however dissimilar, and breaks a cannot-link constraint last. Pairs
/// with an index out of range or `i == j` are ignored.
///
/// Ties between equally similar pairs go to the pair with the lowest first index, then the lowest
/// second index (items in input order), so results never depend on hashing or float noise from a
/// different traversal. An item whose embedding contains NaN merges only when forced.
///
/// Cost: O(n²) memory and O(n³) time in the worst case, which is fine for the few hundred
/// (window, speaker) items of a 300 s chunk.
pub fn cluster(items: &[Vec<f32>], cannot_link: &[(usize, usize)], linkage: &Linkage) -> Vec<usize> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }

    // sim[i][j] is the complete-linkage similarity between the clusters represented by i and j
    // (a cluster is represented by its lowest item index). Lance–Williams update for complete
    // linkage: sim(A ∪ B, C) = min(sim(A, C), sim(B, C)).
    let mut sim = vec![vec![f32::NEG_INFINITY; n]; n];
    for i in 0..n {
        for j in (i + 1)..n {
            let s = cosine(&items[i], &items[j]);
            let s = if s.is_nan() { f32::NEG_INFINITY } else { s };
            sim[i][j] = s;
            sim[j][i] = s;
        }
    }
    let mut apart = vec![vec![false; n]; n];
    for &(a, b) in cannot_link {
        if a < n && b < n && a != b {
            apart[a][b] = true;
            apart[b][a] = true;
        }
    }

    let mut label: Vec<usize> = (0..n).collect();
    let mut active = vec![true; n];
    let mut count = n;
    let min_clusters = linkage.min_clusters.max(1);
    let max_clusters = linkage.max_clusters.map(|m| m.max(1));

    while count > 1 {
        let forced = max_clusters.is_some_and(|m| count > m);
        if !forced && count <= min_clusters {
            break;
        }
        let mut best_allowed: Option<(f32, usize, usize)> = None;
        let mut best_any: Option<(f32, usize, usize)> = None;
        for i in (0..n).filter(|&i| active[i]) {
            for j in ((i + 1)..n).filter(|&j| active[j]) {
                let s = sim[i][j];
                if best_any.is_none_or(|(b, _, _)| s > b) {
                    best_any = Some((s, i, j));
                }
                if !apart[i][j] && best_allowed.is_none_or(|(b, _, _)| s > b) {
                    best_allowed = Some((s, i, j));
                }
            }
        }
        let pair = match (best_allowed, best_any) {
            (Some((s, i, j)), _) if forced || s >= linkage.threshold => (i, j),
            (_, Some((_, i, j))) if forced => (i, j),
            _ => break,
        };
        let (keep, gone) = pair;
        for c in 0..n {
            if active[c] && c != keep && c != gone {
                let s = sim[keep][c].min(sim[gone][c]);
                sim[keep][c] = s;
                sim[c][keep] = s;
                let a = apart[keep][c] || apart[gone][c];
                apart[keep][c] = a;
                apart[c][keep] = a;
            }
        }
        active[gone] = false;
        for l in label.iter_mut() {
            if *l == gone {
                *l = keep;
            }
        }
        count -= 1;
    }

    dense_labels(&label)
}

/// Renumbers arbitrary labels to `0..k` in order of first appearance.
fn dense_labels(labels: &[usize]) -> Vec<usize> {
    let mut seen: Vec<(usize, usize)> = Vec::new();
    labels
        .iter()
        .map(|l| match seen.iter().find(|(old, _)| old == l) {
            Some(&(_, new)) => new,
            None => {
                let new = seen.len();
                seen.push((*l, new));
                new
            }
        })
        .collect()
}

/// The unit-length mean embedding of each cluster (`labels` as returned by [`cluster`]): what
/// a local speaker is represented by when it is matched against the global speakers.
/// A cluster with no items (a gap in the labels) gets an empty vector.
pub fn centroids(items: &[Vec<f32>], labels: &[usize]) -> Vec<Vec<f32>> {
    let k = labels.iter().map(|l| l + 1).max().unwrap_or(0);
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); k];
    for (item, &l) in items.iter().zip(labels) {
        let unit = crate::normalized(item);
        let sum = &mut sums[l];
        if sum.len() < unit.len() {
            sum.resize(unit.len(), 0.0);
        }
        for (s, x) in sum.iter_mut().zip(&unit) {
            *s += f64::from(*x);
        }
    }
    sums.iter().map(|s| crate::normalized(&s.iter().map(|x| *x as f32).collect::<Vec<_>>())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit vector in the plane at `deg` degrees: cos(a, b) = cos(angle between them), so the
    /// similarities in a test can be read off the angles.
    fn at(deg: f32) -> Vec<f32> {
        let r = deg.to_radians();
        vec![r.cos(), r.sin()]
    }

    fn linkage(threshold: f32) -> Linkage {
        Linkage { threshold, ..Linkage::default() }
    }

    #[test]
    fn empty_and_single() {
        assert!(cluster(&[], &[], &Linkage::default()).is_empty());
        assert_eq!(cluster(&[at(0.0)], &[], &Linkage::default()), vec![0]);
    }

    #[test]
    fn two_tight_groups_separate() {
        // Group A around 0°, group B around 90°: within-group cos ≥ cos(10°) ≈ 0.98, across ≈ 0.
        let items = vec![at(0.0), at(85.0), at(5.0), at(90.0), at(10.0), at(95.0)];
        assert_eq!(cluster(&items, &[], &linkage(0.40)), vec![0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn labels_are_numbered_by_first_appearance() {
        let items = vec![at(90.0), at(0.0), at(91.0), at(1.0)];
        assert_eq!(cluster(&items, &[], &linkage(0.40)), vec![0, 1, 0, 1]);
    }

    #[test]
    fn complete_linkage_does_not_chain() {
        // 0°, 50°, 100°: neighbours have cos 0.64 (above 0.5), the ends have cos −0.17.
        // Single linkage would chain all three; complete linkage must keep the ends apart.
        let items = vec![at(0.0), at(50.0), at(100.0)];
        let labels = cluster(&items, &[], &linkage(0.5));
        assert_eq!(labels.iter().max(), Some(&1));
        assert_ne!(labels[0], labels[2]);
    }

    #[test]
    fn threshold_is_inclusive() {
        // Identical vectors have cosine exactly 1.0: a threshold of 1.0 still merges them.
        let items = vec![vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0]];
        assert_eq!(cluster(&items, &[], &linkage(1.0)), vec![0, 0, 1]);
    }

    #[test]
    fn cannot_link_keeps_similar_items_apart() {
        let items = vec![at(0.0), at(2.0), at(4.0)];
        // 0 and 1 come from the same window: different people even though they sound alike.
        let labels = cluster(&items, &[(0, 1)], &linkage(0.40));
        assert_ne!(labels[0], labels[1]);
        // Item 2 joins the closer one (cos(2°) to item 1 beats cos(4°) to item 0).
        assert_eq!(labels[2], labels[1]);
        // The constraint is inherited by the merged cluster: nothing merges into one.
        assert_eq!(labels.iter().max(), Some(&1));
    }

    #[test]
    fn max_clusters_forces_merges_below_threshold() {
        let items = vec![at(0.0), at(90.0), at(180.0), at(100.0)];
        let free = cluster(&items, &[], &linkage(0.40));
        assert_eq!(free, vec![0, 1, 2, 1]);
        let capped = cluster(&items, &[], &Linkage { max_clusters: Some(2), ..linkage(0.40) });
        assert_eq!(capped.iter().max(), Some(&1));
        // The forced merge joins 180° with the 90°/100° group: its complete-linkage similarity
        // min(cos 90°, cos 80°) = 0 beats 0° with that group (min(0, cos 100°) = −0.17) and
        // 0° with 180° (−1).
        assert_eq!(capped, vec![0, 1, 1, 1]);
    }

    #[test]
    fn max_clusters_prefers_allowed_pairs_and_breaks_cannot_link_last() {
        // 0 and 1 are almost identical but cannot-linked; 2 is far from both.
        let items = vec![at(0.0), at(1.0), at(120.0)];
        let two = cluster(&items, &[(0, 1)], &Linkage { max_clusters: Some(2), ..linkage(0.40) });
        // Forced down to 2: the allowed pair (either of them with item 2) merges, not 0 with 1.
        assert_ne!(two[0], two[1]);
        assert_eq!(two.iter().max(), Some(&1));
        // Forced down to 1: only then is the constraint broken.
        let one = cluster(&items, &[(0, 1)], &Linkage { max_clusters: Some(1), ..linkage(0.40) });
        assert_eq!(one, vec![0, 0, 0]);
    }

    #[test]
    fn min_clusters_stops_early() {
        let items = vec![at(0.0), at(1.0), at(2.0), at(3.0)];
        assert_eq!(cluster(&items, &[], &linkage(0.40)), vec![0, 0, 0, 0]);
        let labels = cluster(&items, &[], &Linkage { min_clusters: 2, ..linkage(0.40) });
        assert_eq!(labels.iter().max(), Some(&1));
        // The least similar split survives: 0° vs 3° is the worst pair, so they stay apart.
        assert_ne!(labels[0], labels[3]);
    }

    #[test]
    fn max_wins_over_min() {
        let items = vec![at(0.0), at(90.0), at(180.0)];
        let labels = cluster(&items, &[], &Linkage { threshold: 0.4, min_clusters: 3, max_clusters: Some(2) });
        assert_eq!(labels.iter().max(), Some(&1));
    }

    #[test]
    fn ties_break_towards_the_earliest_pair() {
        // Three identical items: every pair ties at cos 1. Forced to two clusters with an
        // unreachable threshold, the first pair (0, 1) merges and item 2 stays alone.
        let same = vec![at(0.0), at(0.0), at(0.0)];
        let labels = cluster(&same, &[], &Linkage { max_clusters: Some(2), ..linkage(2.0) });
        assert_eq!(labels, vec![0, 0, 1]);
        // With (0, 1) cannot-linked, the next tie in order is (0, 2).
        let labels = cluster(&same, &[(0, 1)], &Linkage { max_clusters: Some(2), ..linkage(2.0) });
        assert_eq!(labels, vec![0, 1, 0]);
    }

    #[test]
    fn nan_embeddings_do_not_merge_voluntarily() {
        let items = vec![at(0.0), vec![f32::NAN, 0.0], at(1.0)];
        assert_eq!(cluster(&items, &[], &linkage(0.40)), vec![0, 1, 0]);
    }

    #[test]
    fn out_of_range_cannot_link_is_ignored() {
        let items = vec![at(0.0), at(1.0)];
        assert_eq!(cluster(&items, &[(0, 7), (1, 1)], &linkage(0.40)), vec![0, 0]);
    }

    #[test]
    fn centroids_are_unit_means() {
        let items = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![-1.0, 0.0], vec![0.0, 1.0]];
        let c = centroids(&items, &[0, 1, 0, 1]);
        assert_eq!(c.len(), 2);
        // 0° + 180° cancel to zero: stays the zero vector rather than NaN.
        assert!(c[0].iter().all(|x| x.abs() < 1e-6));
        assert!((c[1][1] - 1.0).abs() < 1e-6);
        let c = centroids(&[at(0.0), at(90.0)], &[0, 0]);
        assert!((crate::cosine(&c[0], &at(45.0)) - 1.0).abs() < 1e-6);
    }

    /// Many noisy items from several voices in a higher dimension, shuffled: the clusters come
    /// back exactly, and a cap on the count is honoured.
    #[test]
    fn recovers_noisy_voices() {
        let dim = 32;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        };
        let voices = 5;
        let mut items = Vec::new();
        let mut truth = Vec::new();
        for n in 0..60 {
            let v = (n * 7) % voices;
            let mut e: Vec<f32> = (0..dim).map(|_| 0.15 * next()).collect();
            e[v] += 1.0;
            items.push(crate::normalized(&e));
            truth.push(v);
        }
        let labels = cluster(&items, &[], &Linkage::default());
        for a in 0..items.len() {
            for b in 0..items.len() {
                assert_eq!(labels[a] == labels[b], truth[a] == truth[b], "items {a} and {b}");
            }
        }
        let capped = cluster(&items, &[], &Linkage { max_clusters: Some(3), ..Linkage::default() });
        assert_eq!(capped.iter().max(), Some(&2));
    }
}
