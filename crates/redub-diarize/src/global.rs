//! Global speakers: one id per person across a whole film, built chunk by chunk.
//!
//! Each chunk is diarized on its own, so its speakers are local labels ("the first voice in this
//! chunk"). [`GlobalSpeakers::assign`] gives them global ids by a minimum-cost one-to-one
//! assignment (Hungarian, [`crate::hungarian::assign`]):
//! - rows are the chunk's local speakers, columns the global speakers known so far, with cost
//!   `1 − cos(local, centroid)`;
//! - one "new speaker" column per local speaker at cost `1 − match_threshold`, so a local speaker
//!   joins a global one only if their cosine is at least the threshold (on an exact tie it
//!   joins); otherwise it starts a new global speaker;
//! - one-to-one: two local speakers of one chunk are different people (clustering kept them
//!   apart), so they never share a global id, even when both resemble the same person. A greedy
//!   "best match for each" would merge them.
//!
//! The default threshold, 0.60, is the one measured for CAM++ embeddings
//! (`docs/notes/issue-3-diarization.md` §2c): the same speaker across chunks scored 0.78–0.98,
//! different voices at most 0.51. DESIGN's 0.80 split some speakers in two.
//!
//! **Evidence from the overlap.** Neighbouring chunks both analyse the stretch around their cut.
//! If a local speaker talks there at the same time as a global speaker did in the previous
//! chunk, that is direct evidence they are the same person, independent of the embeddings. The
//! rule ([`EvidenceRule`]): a pair that shares at least 500 ms of speech in the overlap has its
//! cost lowered by 0.20, i.e. it counts as if its cosine were 0.20 higher. So with evidence a pair
//! matches from cosine 0.40 on, the same similarity that merges two items inside a chunk, while
//! a pair below 0.40 is treated as clearly two voices (the cross-voice mean is about 0.32) and
//! evidence does not override that. The bonus is deliberately not overwhelming: in overlapped
//! speech one chunk may hear only A where the other hears only B, and then a strong cosine for
//! the right pair must still win over the evidence for the wrong one. Shorter shared speech is
//! ignored: a few hundred ms at a speech edge is what imprecise turn boundaries produce anyway.
//!
//! Centroids are the weighted running mean of the unit embeddings assigned to a speaker
//! (weighted by speech time), re-normalised, so a speaker heard for minutes is not dragged away
//! by one short, noisy chunk.

use crate::{cosine, hungarian, normalized};

/// The matching threshold measured for CAM++ embeddings.
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.60;

/// A chunk's local speaker, as the matching sees it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalSpeaker {
    /// Unit-length embedding (it is normalised again before use, so any length works).
    pub embedding: Vec<f32>,
    /// Its speech time in the chunk: its weight in the global running mean. 0 counts as 1 ms,
    /// so every speaker still moves its centroid a little.
    pub weight_ms: u64,
}

/// Speech shared in the overlap with the previous chunk: local speaker `local` of this chunk and
/// global speaker `global` talk at the same time for `shared_ms`. Several entries for one pair
/// add up; entries naming a local or global speaker that does not exist are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub local: usize,
    pub global: usize,
    pub shared_ms: u64,
}

/// How much overlap evidence counts (see the module doc for why these values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvidenceRule {
    /// Evidence counts only from this much shared speech on.
    pub min_shared_ms: u64,
    /// Subtracted from the pair's cost `1 − cos`.
    pub bonus: f32,
}

impl Default for EvidenceRule {
    fn default() -> Self {
        Self { min_shared_ms: 500, bonus: 0.20 }
    }
}

/// How the global speakers are re-clustered after the last chunk ([`GlobalSpeakers::recluster`]).
///
/// Chunk by chunk, the matching is one-to-one: two local speakers of one chunk never share a
/// global id. When a chunk's clustering kept one person apart as two local speakers (the
/// segmentation model gave them two labels in one window, as it does when the microphone or
/// the gain changes between two lines), both become global speakers and no later chunk can join
/// them. Seen over the whole film, their centroids are as close as any person's across chunks,
/// so they merge here. The segmentation model often hears such a split person as two voices
/// talking at once (several seconds of "overlap" on the bench input), so overlap is no evidence
/// against a merge; the threshold alone decides.
#[derive(Clone, Debug, PartialEq)]
pub struct Recluster {
    /// Two speakers merge while their centroids' cosine is at least this.
    pub threshold: f32,
    /// Never fewer speakers than this (0 and 1: no limit).
    pub min: usize,
    /// Merge, whatever the similarity, while there are more speakers than this.
    pub max: Option<usize>,
}

/// The global speakers found so far. Ids are dense `0..len()` in order of first appearance.
#[derive(Clone, Debug)]
pub struct GlobalSpeakers {
    match_threshold: f32,
    evidence: EvidenceRule,
    /// Per speaker: the weighted sum of its unit embeddings (f64, so long films don't lose
    /// precision), its total weight and the normalised sum.
    sums: Vec<Vec<f64>>,
    speech_ms: Vec<u64>,
    centroids: Vec<Vec<f32>>,
}

/// Ties in the matching go to an existing speaker rather than a new one, deterministically.
const TIE: f64 = 1e-9;

impl GlobalSpeakers {
    /// An empty registry: a local speaker joins a global one when their cosine is at least
    /// `match_threshold` (without evidence).
    pub fn new(match_threshold: f32) -> Self {
        Self {
            match_threshold,
            evidence: EvidenceRule::default(),
            sums: Vec::new(),
            speech_ms: Vec::new(),
            centroids: Vec::new(),
        }
    }

    /// The same with another evidence rule.
    pub fn with_evidence_rule(mut self, rule: EvidenceRule) -> Self {
        self.evidence = rule;
        self
    }

    pub fn match_threshold(&self) -> f32 {
        self.match_threshold
    }

    /// How many global speakers there are.
    pub fn len(&self) -> usize {
        self.centroids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.centroids.is_empty()
    }

    /// Unit-length centroid of each global speaker, by id.
    pub fn centroids(&self) -> &[Vec<f32>] {
        &self.centroids
    }

    /// Speech time assigned to each global speaker so far (the sum of `weight_ms`), by id.
    pub fn speech_ms(&self) -> &[u64] {
        &self.speech_ms
    }

    /// Gives each of one chunk's local speakers a global id (same order as `local`), creating
    /// new global speakers as needed (numbered in local order), and moves the centroids of the
    /// matched speakers towards what this chunk heard. Call once per chunk, in time order, with
    /// the evidence from that chunk's overlap with the previous one.
    pub fn assign(&mut self, local: &[LocalSpeaker], evidence: &[Evidence]) -> Vec<usize> {
        let known = self.len();
        let units: Vec<Vec<f32>> = local.iter().map(|l| normalized(&l.embedding)).collect();

        let mut shared = vec![vec![0u64; known]; local.len()];
        for e in evidence {
            if e.local < local.len() && e.global < known {
                shared[e.local][e.global] = shared[e.local][e.global].saturating_add(e.shared_ms);
            }
        }
        let new_cost = 1.0 - f64::from(self.match_threshold) + TIE;
        let cost: Vec<Vec<f64>> = units
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut row: Vec<f64> = self
                    .centroids
                    .iter()
                    .enumerate()
                    .map(|(g, c)| {
                        let base = 1.0 - f64::from(cosine(u, c));
                        if shared[i][g] >= self.evidence.min_shared_ms {
                            base - f64::from(self.evidence.bonus)
                        } else {
                            base
                        }
                    })
                    .collect();
                row.extend(std::iter::repeat_n(new_cost, local.len()));
                row
            })
            .collect();
        let matched = hungarian::assign(&cost);

        let mut ids = Vec::with_capacity(local.len());
        for (i, unit) in units.iter().enumerate() {
            let weight = local[i].weight_ms;
            let id = match matched.get(i).copied().flatten() {
                Some(g) if g < known => g,
                _ => {
                    self.sums.push(Vec::new());
                    self.speech_ms.push(0);
                    self.centroids.push(Vec::new());
                    self.len() - 1
                }
            };
            self.add(id, unit, weight);
            ids.push(id);
        }
        ids
    }

    /// Adds one unit embedding with weight `weight_ms` to speaker `id`'s running mean.
    fn add(&mut self, id: usize, unit: &[f32], weight_ms: u64) {
        let w = weight_ms.max(1) as f64;
        let sum = &mut self.sums[id];
        if sum.len() < unit.len() {
            sum.resize(unit.len(), 0.0);
        }
        for (s, x) in sum.iter_mut().zip(unit) {
            *s += w * f64::from(*x);
        }
        self.speech_ms[id] = self.speech_ms[id].saturating_add(weight_ms);
        self.centroids[id] = normalized(&sum.iter().map(|x| *x as f32).collect::<Vec<_>>());
    }

    /// Enforces the speaker-count limits for the whole film, after the last chunk: while there
    /// are more than `max` global speakers, merges the two whose centroids are most similar
    /// (ties: lowest ids), pooling their running means. Returns the relabel map, indexed by old
    /// id, to the new dense ids; ids keep their order of first appearance (a merged pair takes
    /// the earlier id).
    ///
    /// Merging cannot create speakers, so `min` cannot be enforced here: a film with fewer
    /// speakers than `min` keeps them (per-chunk clustering is where `min_clusters` acts). It is
    /// taken so that the pair `(min, max)` travels together; when `min > max` (callers should
    /// reject that), `max` wins, as in [`crate::cluster::Linkage`]. `max` of 0 counts as 1.
    pub fn limit(&mut self, min: usize, max: Option<usize>) -> Vec<usize> {
        self.recluster(&Recluster { threshold: f32::INFINITY, min, max })
    }

    /// The global re-clustering after the last chunk (see [`Recluster`]): merges the two global
    /// speakers whose centroids are most similar while their cosine is at least
    /// `rule.threshold`, never below `rule.min` speakers, and beyond that while there are more
    /// than `rule.max`. Returns the relabel map as [`Self::limit`] does.
    pub fn recluster(&mut self, rule: &Recluster) -> Vec<usize> {
        let n = self.len();
        let (min, max) = (rule.min, rule.max);
        debug_assert!(max.is_none_or(|m| min <= m), "min_speakers {min} > max_speakers {max:?}");
        let mut rep: Vec<usize> = (0..n).collect();
        let mut alive = vec![true; n];
        let mut count = n;
        let target = max.map(|m| m.max(1));
        loop {
            let forced = target.is_some_and(|m| count > m);
            if !forced && (count <= min.max(1) || !rule.threshold.is_finite()) {
                break;
            }
            let mut best: Option<(f32, usize, usize)> = None;
            for i in (0..n).filter(|&i| alive[i]) {
                for j in ((i + 1)..n).filter(|&j| alive[j]) {
                    let s = cosine(&self.centroids[i], &self.centroids[j]);
                    let s = if s.is_nan() { f32::NEG_INFINITY } else { s };
                    if best.is_none_or(|(b, _, _)| s > b) {
                        best = Some((s, i, j));
                    }
                }
            }
            let Some((s, keep, gone)) = best else { break };
            if !forced && s < rule.threshold {
                break;
            }
            let gone_sum = std::mem::take(&mut self.sums[gone]);
            let keep_sum = &mut self.sums[keep];
            if keep_sum.len() < gone_sum.len() {
                keep_sum.resize(gone_sum.len(), 0.0);
            }
            for (k, g) in keep_sum.iter_mut().zip(&gone_sum) {
                *k += g;
            }
            self.speech_ms[keep] = self.speech_ms[keep].saturating_add(self.speech_ms[gone]);
            self.centroids[keep] = normalized(&keep_sum.iter().map(|x| *x as f32).collect::<Vec<_>>());
            alive[gone] = false;
            for r in rep.iter_mut() {
                if *r == gone {
                    *r = keep;
                }
            }
            count -= 1;
        }

        // Compact: survivors keep their relative order.
        let mut new_id = vec![usize::MAX; n];
        let mut next = 0;
        for (i, a) in alive.iter().enumerate() {
            if *a {
                new_id[i] = next;
                next += 1;
            }
        }
        retain_alive(&mut self.sums, &alive);
        retain_alive(&mut self.centroids, &alive);
        retain_alive(&mut self.speech_ms, &alive);
        rep.iter().map(|&r| new_id[r]).collect()
    }
}

/// Keeps the entries whose flag in `alive` is set.
fn retain_alive<T>(v: &mut Vec<T>, alive: &[bool]) {
    let mut flags = alive.iter();
    v.retain(|_| flags.next().copied().unwrap_or(false));
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 8;

    /// A unit vector with cosine `c` to basis vector `a`, the rest along basis vector `b`:
    /// lets a test state the similarities it relies on exactly.
    fn mix(a: usize, c: f32, b: usize) -> Vec<f32> {
        let mut v = vec![0.0; DIM];
        v[a] = c;
        v[b] += (1.0 - c * c).sqrt();
        v
    }

    fn voice(a: usize) -> Vec<f32> {
        mix(a, 1.0, a)
    }

    fn local(embedding: Vec<f32>) -> LocalSpeaker {
        LocalSpeaker { embedding, weight_ms: 10_000 }
    }

    #[test]
    fn empty_chunk_and_first_chunk() {
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        assert!(g.assign(&[], &[]).is_empty());
        assert!(g.is_empty());
        // Two different voices in the first chunk: two ids in local order.
        assert_eq!(g.assign(&[local(voice(0)), local(voice(1))], &[]), vec![0, 1]);
        assert_eq!(g.len(), 2);
        assert_eq!(g.speech_ms(), &[10_000, 10_000]);
    }

    #[test]
    fn reappearing_speaker_keeps_its_id_and_new_voice_gets_a_new_one() {
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        assert_eq!(g.assign(&[local(voice(0)), local(voice(1))], &[]), vec![0, 1]);
        // Chunk 2: voice 1 (slightly different take, cos 0.85) first, then a new voice 2.
        assert_eq!(g.assign(&[local(mix(1, 0.85, 5)), local(voice(2))], &[]), vec![1, 2]);
        // Chunk 3: voice 0 again after a chunk away.
        assert_eq!(g.assign(&[local(mix(0, 0.8, 6))], &[]), vec![0]);
        assert_eq!(g.len(), 3);
    }

    #[test]
    fn threshold_decides_match_or_new() {
        let mut g = GlobalSpeakers::new(0.6);
        g.assign(&[local(voice(0))], &[]);
        assert_eq!(g.clone().assign(&[local(mix(0, 0.55, 1))], &[]), vec![1]);
        assert_eq!(g.clone().assign(&[local(mix(0, 0.65, 1))], &[]), vec![0]);
        // (3, 4) against (1, 0) has cosine 0.6 exactly: a tie with the threshold matches.
        let mut g = GlobalSpeakers::new(0.6);
        g.assign(&[local(vec![1.0, 0.0])], &[]);
        assert_eq!(g.assign(&[local(vec![3.0, 4.0])], &[]), vec![0]);
    }

    #[test]
    fn two_locals_never_share_a_global() {
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        g.assign(&[local(voice(0))], &[]);
        // Both resemble speaker 0; the closer one takes it, the other becomes new.
        let ids = g.assign(&[local(mix(0, 0.7, 1)), local(mix(0, 0.9, 2))], &[]);
        assert_eq!(ids, vec![1, 0]);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn evidence_decides_a_borderline_case() {
        let borderline = || local(mix(0, 0.5, 1));
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        g.assign(&[local(voice(0))], &[]);
        // cos 0.5 < 0.6: without evidence a new speaker.
        assert_eq!(g.clone().assign(&[borderline()], &[]), vec![1]);
        // Too little shared speech does not count.
        let weak = [Evidence { local: 0, global: 0, shared_ms: 300 }];
        assert_eq!(g.clone().assign(&[borderline()], &weak), vec![1]);
        // Enough shared speech (also when split over several entries) makes it a match.
        let strong =
            [Evidence { local: 0, global: 0, shared_ms: 300 }, Evidence { local: 0, global: 0, shared_ms: 300 }];
        assert_eq!(g.clone().assign(&[borderline()], &strong), vec![0]);
        // A clearly different voice (cos 0.3) stays new despite the evidence.
        assert_eq!(g.clone().assign(&[local(mix(0, 0.3, 1))], &strong), vec![1]);
        // Out-of-range evidence is ignored.
        let stray =
            [Evidence { local: 3, global: 0, shared_ms: 2_000 }, Evidence { local: 0, global: 9, shared_ms: 2_000 }];
        assert_eq!(g.clone().assign(&[borderline()], &stray), vec![1]);
    }

    #[test]
    fn evidence_picks_between_two_similar_locals_but_not_against_a_clear_match() {
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        g.assign(&[local(voice(0)), local(voice(1))], &[]);
        let a = || local(mix(0, 0.70, 2));
        let b = || local(mix(0, 0.75, 3));
        // Without evidence b (0.75) takes speaker 0 and a becomes new.
        assert_eq!(g.clone().assign(&[a(), b()], &[]), vec![2, 0]);
        // a spoke with speaker 0 in the overlap: a takes it.
        let ev = [Evidence { local: 0, global: 0, shared_ms: 1_500 }];
        assert_eq!(g.clone().assign(&[a(), b()], &ev), vec![0, 2]);
        // Misleading evidence (overlapped speech): a local that is clearly speaker 1 (cos 0.85)
        // shares time with speaker 0 (cos 0.45): the cosine wins.
        // (0.45 with evidence alone would match: 1 − 0.45 − 0.20 = 0.35 < 0.40.)
        let c = vec![0.45, 0.85, (1.0f32 - 0.45 * 0.45 - 0.85 * 0.85).sqrt(), 0.0, 0.0, 0.0, 0.0, 0.0];
        let ev = [Evidence { local: 0, global: 0, shared_ms: 2_000 }];
        assert_eq!(g.clone().assign(&[local(c)], &ev), vec![1]);
    }

    #[test]
    fn centroids_follow_a_weighted_running_mean() {
        let mut g = GlobalSpeakers::new(0.4);
        g.assign(&[LocalSpeaker { embedding: vec![2.0, 0.0], weight_ms: 3_000 }], &[]);
        assert_eq!(g.centroids()[0], vec![1.0, 0.0]);
        // 1 s of speech at 60° joins (cos 0.5 ≥ 0.4) and moves the centroid a quarter of the way.
        let r = 60f32.to_radians();
        g.assign(&[LocalSpeaker { embedding: vec![r.cos(), r.sin()], weight_ms: 1_000 }], &[]);
        let c = &g.centroids()[0];
        let expect = normalized(&[3.0 + r.cos(), r.sin()]);
        assert!((c[0] - expect[0]).abs() < 1e-6 && (c[1] - expect[1]).abs() < 1e-6, "{c:?}");
        assert!((c[0] * c[0] + c[1] * c[1] - 1.0).abs() < 1e-6);
        assert_eq!(g.speech_ms(), &[4_000]);
    }

    #[test]
    fn limit_merges_the_closest_and_relabels_densely() {
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        // Four speakers: 1 and 3 are close (a split person, cos 0.55), the rest are apart.
        g.assign(&[local(voice(0)), local(voice(1)), local(voice(2)), local(mix(1, 0.55, 4))], &[]);
        assert_eq!(g.len(), 4);
        let unchanged = g.clone().limit(0, None);
        assert_eq!(unchanged, vec![0, 1, 2, 3]);
        let mut h = g.clone();
        assert_eq!(h.limit(1, Some(3)), vec![0, 1, 2, 1]);
        assert_eq!(h.len(), 3);
        assert_eq!(h.speech_ms(), &[10_000, 20_000, 10_000]);
        // The merged centroid is the pooled mean, still unit length.
        let c = &h.centroids()[1];
        assert!((c.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(cosine(c, &voice(1)) > 0.8);
        // Later chunks match against the merged registry.
        assert_eq!(h.assign(&[local(voice(2))], &[]), vec![2]);
        // Down to one; a limit of 0 counts as 1.
        assert_eq!(g.clone().limit(0, Some(0)), vec![0, 0, 0, 0]);
    }

    #[test]
    fn recluster_merges_one_person_split_inside_a_chunk() {
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        // One chunk kept one person apart as two locals (cos 0.9): one-to-one matching can
        // never join them, so both are global speakers; 2 is another voice close to 0 (0.5).
        g.assign(&[local(voice(0)), local(mix(0, 0.9, 5)), local(mix(0, 0.5, 6)), local(voice(3))], &[]);
        assert_eq!(g.len(), 4);
        let rule = |min, max| Recluster { threshold: 0.60, min, max };
        let mut h = g.clone();
        assert_eq!(h.recluster(&rule(0, None)), vec![0, 0, 1, 2]);
        assert_eq!(h.len(), 3);
        // Never below --min-speakers, and --max-speakers still forces merges past the threshold.
        assert_eq!(g.clone().recluster(&rule(4, Some(4))), vec![0, 1, 2, 3]);
        assert_eq!(g.clone().recluster(&rule(0, Some(2))).iter().copied().max(), Some(1));
        // `limit` is a recluster that merges only to meet `max`.
        assert_eq!(g.clone().limit(0, None), vec![0, 1, 2, 3]);
    }

    /// Several voices, each reappearing in random chunks in random local order, with a noisy
    /// embedding each time: every voice keeps one global id and the count equals the voices.
    #[test]
    fn voices_keep_their_ids_across_many_chunks() {
        let dim = 64;
        let voices = 6;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut id_of: Vec<Option<usize>> = vec![None; voices];
        let mut g = GlobalSpeakers::new(DEFAULT_MATCH_THRESHOLD);
        for _chunk in 0..20 {
            // 1 to 4 distinct voices in this chunk, shuffled.
            let mut present: Vec<usize> = (0..voices).collect();
            for i in (1..present.len()).rev() {
                present.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            present.truncate(1 + (next() % 4) as usize);
            let locals: Vec<LocalSpeaker> = present
                .iter()
                .map(|&v| {
                    let mut e: Vec<f32> =
                        (0..dim).map(|_| ((next() >> 11) as f32 / (1u64 << 53) as f32 - 0.5) * 0.3).collect();
                    e[v] += 1.0;
                    LocalSpeaker { embedding: normalized(&e), weight_ms: 1_000 + next() % 20_000 }
                })
                .collect();
            let ids = g.assign(&locals, &[]);
            for (&v, &id) in present.iter().zip(&ids) {
                assert!(id < g.len());
                match id_of[v] {
                    Some(known) => assert_eq!(known, id, "voice {v} changed id"),
                    None => id_of[v] = Some(id),
                }
            }
        }
        assert_eq!(g.len(), id_of.iter().flatten().count());
        assert_eq!(g.len(), voices);
    }
}
