//! The steps over the whole input after the last chunk and the centroid re-clustering
//! ([`crate::global::Recluster`]): speakers heard too little join the nearest one
//! ([`fold_small`]), then speakers merge by profile embeddings ([`merge_by_profiles`]).
//! Both work on the labelled turns, `(span, speaker id)` in absolute ms. Measurements behind
//! every number: docs/diarization.md, "Real content".

use crate::embed::Embedder;
use redub_core::{Audio, Result, Span};

const RATE: usize = crate::segmentation::RATE as usize;

fn samples(ms: u64) -> usize {
    (ms as usize) * RATE / 1000
}

/// The profile cosines from which two speakers merge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfileThresholds {
    pub large: f32,
    /// When one of the two has under [`SMALL_SPEAKER_MS`] of speech: then their centroids must
    /// also be `small_centroid` alike. Either cue alone puts the call's two people (who share
    /// one telephone channel, profiles 0.42–0.47 and centroids 0.46 alike) as close as a 6–8 s
    /// fragment of one person (0.48–0.52 and 0.54–0.56); together they tell them apart.
    pub small: f32,
    pub small_centroid: f32,
}

/// A speaker with less speech than this in all has a profile of less audio, which is a noisier
/// estimate of the voice: its cosines to its own person fall (0.48–0.59 measured for fragments
/// of 6–10 s, against 0.59 and up for larger ones), so it is judged by `small_profile_threshold`.
const SMALL_SPEAKER_MS: u64 = 15_000;

/// How much of a speaker's speech its profile embedding hears, and at most how much of one turn.
const PROFILE_MS: u64 = 30_000;
const PROFILE_TURN_MS: u64 = 8_000;

/// Speech time of each speaker id below `n` in `labelled` (ms; 0 for an id without turns).
fn speech_ms(labelled: &[(Span, usize)], n: usize) -> Vec<u64> {
    let mut speech = vec![0u64; n];
    for (s, id) in labelled {
        if let Some(v) = speech.get_mut(*id) {
            *v += s.duration_ms();
        }
    }
    speech
}

/// A global speaker with less speech than this in the whole input is most likely a fragment (a
/// burst the model took for a second voice in overlapped speech, a cough): it is folded into
/// the speaker that sounds most like it, as long as the input keeps `min` speakers.
const MIN_SPEAKER_MS: u64 = 3_000;

/// A speaker none of whose turns lasts this long was only ever heard in short bursts (a
/// backchannel, a word in overlap): it joins the nearest speaker and never stands alone.
const MIN_LONGEST_TURN_MS: u64 = 1_000;

/// Relabel map (by global id) that folds small speakers (under [`MIN_SPEAKER_MS`] in all, or
/// no turn of [`MIN_LONGEST_TURN_MS`]) into the nearest large one.
pub fn fold_small(labelled: &[(Span, usize)], centroids: &[Vec<f32>], min: usize) -> Vec<usize> {
    let n = centroids.len();
    let speech = speech_ms(labelled, n);
    // Longest turn per speaker, its touching spans joined as `finish` will join them.
    let mut longest = vec![0u64; n];
    let mut sorted: Vec<&(Span, usize)> = labelled.iter().filter(|(_, id)| *id < n).collect();
    sorted.sort_by_key(|(s, id)| (*id, s.start_ms));
    let mut run: Option<(usize, Span)> = None;
    for (s, id) in sorted {
        run = match run {
            Some((rid, r)) if rid == *id && s.start_ms <= r.end_ms => {
                Some((rid, Span::new(r.start_ms, r.end_ms.max(s.end_ms))))
            }
            _ => Some((*id, *s)),
        };
        if let Some((rid, r)) = run {
            longest[rid] = longest[rid].max(r.duration_ms());
        }
    }
    let small_one = |i: usize| speech[i] > 0 && (speech[i] < MIN_SPEAKER_MS || longest[i] < MIN_LONGEST_TURN_MS);
    let mut map: Vec<usize> = (0..n).collect();
    let large: Vec<usize> = (0..n).filter(|i| speech[*i] > 0 && !small_one(*i)).collect();
    let mut small: Vec<usize> = (0..n).filter(|i| small_one(*i)).collect();
    small.sort_by_key(|i| speech[*i]);
    let mut count = (0..n).filter(|i| speech[*i] > 0).count();
    for s in small {
        if count <= min {
            break;
        }
        let best = large.iter().copied().max_by(|a, b| {
            crate::cosine(&centroids[s], &centroids[*a]).total_cmp(&crate::cosine(&centroids[s], &centroids[*b]))
        });
        if let Some(b) = best {
            map[s] = b;
            count -= 1;
        }
    }
    map
}

/// The last step: a profile per speaker, embedded from up to [`PROFILE_MS`] of its own
/// longest turns that nobody else talks over (each at most [`PROFILE_TURN_MS`]). A
/// centroid averages short 1–3 s runs, each coloured by its line's microphone and gain;
/// a profile hears many lines at once, and separated the last fragments of a person that
/// the centroids did not (docs/diarization.md). Two speakers merge while their profiles'
/// cosine is at least `th.large`, or `th.small` with centroids `th.small_centroid` alike when
/// one of them has under [`SMALL_SPEAKER_MS`] of speech, the pair with the most margin first
/// (`centroids` by the ids of `labelled`), and while more than
/// `min` speakers are left; the merged speaker's profile is embedded again. Relabels
/// `labelled` and returns the map from the ids it had to the ids it has.
pub fn merge_by_profiles(
    embedder: &mut Embedder,
    audio: &Audio,
    labelled: &mut [(Span, usize)],
    min: usize,
    th: ProfileThresholds,
    centroids: &[Vec<f32>],
) -> Result<Vec<usize>> {
    // Every id the caller may look up, also one left without turns (heard only in a chunk's
    // overlap, which the neighbouring chunk speaks for).
    let n = labelled.iter().map(|(_, id)| id + 1).max().unwrap_or(0).max(centroids.len());
    let mut map: Vec<usize> = (0..n).collect();
    let mut profiles: Vec<Option<Vec<f32>>> = Vec::with_capacity(n);
    // Centroids pooled as speakers merge, weighted by speech (as `GlobalSpeakers` pools them).
    let mut pooled: Vec<Vec<f32>> = Vec::with_capacity(n);
    for id in 0..n {
        profiles.push(profile(embedder, audio, labelled, id)?);
        pooled.push(centroids.get(id).cloned().unwrap_or_default());
    }
    loop {
        let speech = speech_ms(labelled, n);
        let alive: Vec<usize> = (0..n).filter(|i| speech[*i] > 0).collect();
        if alive.len() <= min {
            break;
        }
        // Of the pairs that pass, the one with the most profile margin merges first.
        let mut best: Option<(f32, usize, usize)> = None;
        for (k, &a) in alive.iter().enumerate() {
            for &b in &alive[k + 1..] {
                let (Some(pa), Some(pb)) = (&profiles[a], &profiles[b]) else { continue };
                let small = speech[a].min(speech[b]) < SMALL_SPEAKER_MS;
                let margin = crate::cosine(pa, pb) - if small { th.small } else { th.large };
                let centroids_agree = !small || crate::cosine(&pooled[a], &pooled[b]) >= th.small_centroid;
                if margin >= 0.0 && centroids_agree && best.is_none_or(|(x, _, _)| margin > x) {
                    best = Some((margin, a, b));
                }
            }
        }
        let Some((_, keep, gone)) = best else { break };
        let (wk, wg) = (speech[keep] as f32, speech[gone] as f32);
        let sum: Vec<f32> = pooled[keep].iter().zip(&pooled[gone]).map(|(k, g)| k * wk + g * wg).collect();
        pooled[keep] = crate::normalized(&sum);
        for (_, id) in labelled.iter_mut().filter(|(_, id)| *id == gone) {
            *id = keep;
        }
        map.iter_mut().filter(|m| **m == gone).for_each(|m| *m = keep);
        profiles[keep] = profile(embedder, audio, labelled, keep)?;
    }
    Ok(map)
}

/// Speaker `id`'s profile embedding (see [`merge_by_profiles`]); `None` when it has
/// too little audio.
fn profile(embedder: &mut Embedder, audio: &Audio, labelled: &[(Span, usize)], id: usize) -> Result<Option<Vec<f32>>> {
    let mine: Vec<Span> = labelled.iter().filter(|(_, i)| *i == id).map(|(s, _)| *s).collect();
    let talked_over =
        |t: &Span| labelled.iter().any(|(o, i)| *i != id && o.start_ms < t.end_ms && o.end_ms > t.start_ms);
    let mut turns: Vec<Span> = mine.iter().copied().filter(|t| !talked_over(t)).collect();
    if turns.is_empty() {
        turns = mine;
    }
    turns.sort_by_key(|s| (std::cmp::Reverse(s.duration_ms()), s.start_ms));
    let mut buf: Vec<f32> = Vec::new();
    for t in turns {
        let a = samples(t.start_ms).min(audio.samples.len());
        let b = samples(t.end_ms).min(audio.samples.len()).min(a + samples(PROFILE_TURN_MS));
        buf.extend_from_slice(&audio.samples[a..b]);
        if buf.len() >= samples(PROFILE_MS) {
            break;
        }
    }
    embedder.embed(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speakers_heard_only_in_short_bursts_join_the_nearest() {
        let c = |x: f32| vec![x, (1.0 - x * x).sqrt()];
        // 0: long turns; 1: 4 s in all but no turn of 1 s (touching spans count as one turn);
        // 2: a 1.2 s turn made of two touching spans, and 3.2 s in all.
        let mut labelled = vec![(Span::new(0, 5_000), 0)];
        labelled.extend((0..8).map(|k| (Span::new(10_000 + k * 2_000, 10_500 + k * 2_000), 1)));
        labelled.extend([
            (Span::new(30_000, 30_600), 2),
            (Span::new(30_600, 31_200), 2),
            (Span::new(40_000, 42_000), 2),
        ]);
        let centroids = vec![c(1.0), c(0.9), c(0.0)];
        assert_eq!(fold_small(&labelled, &centroids, 1), vec![0, 0, 2]);
        // Never below the minimum count.
        assert_eq!(fold_small(&labelled, &centroids, 3), vec![0, 1, 2]);
    }
}
