//! Whisper's decoding rules and search over the decoder graph: the suppressed tokens, the
//! timestamp rules (or none, for text-only decoding), beam search (beam 8 by default; see
//! `OnnxWhisperSettings::beam_size`),
//! sampling for the temperature fallback, and language detection.

use super::model::{Cross, Sessions};
use super::vocab::Specials;
use redub_core::Result;

/// Whisper's `max_initial_timestamp`: the first timestamp is at most 1.0 s (50 × 20 ms).
const MAX_INITIAL_TIMESTAMP: u32 = 50;

/// The token rules of Whisper's reference decoder (`SuppressBlank`, `SuppressTokens`,
/// `ApplyTimestampRules`), applied to one row of logits.
#[derive(Clone, Debug)]
pub struct Rules {
    /// config.json `suppress_ids` and every special token except end-of-text.
    suppress: Vec<u32>,
    /// config.json `suppress_ids_begin` (the blank and end-of-text), at the first token.
    suppress_begin: Vec<u32>,
    eot: u32,
    ts_begin: u32,
    /// Timestamp tokens are decoded (Whisper's default); off: text only, after `<|notimestamps|>`.
    timestamps: bool,
}

impl Rules {
    pub fn new(suppress_ids: &[u32], suppress_begin: &[u32], s: &Specials) -> Self {
        let mut suppress: Vec<u32> = suppress_ids.to_vec();
        suppress.extend(s.sot..s.timestamp_begin); // languages, tasks, no-speech, no-timestamps
        suppress.sort_unstable();
        suppress.dedup();
        Self {
            suppress,
            suppress_begin: suppress_begin.to_vec(),
            eot: s.eot,
            ts_begin: s.timestamp_begin,
            timestamps: true,
        }
    }

    /// The same rules for a decoding without timestamp tokens.
    pub fn without_timestamps(mut self) -> Self {
        self.timestamps = false;
        self
    }

    /// Whether timestamp tokens are decoded (the prompt then lacks `<|notimestamps|>`).
    pub fn timestamps(&self) -> bool {
        self.timestamps
    }

    /// Log-probabilities of the next token after `seq` (the tokens sampled so far, without the
    /// prompt), from that row's logits (changed in place).
    pub fn logprobs(&self, logits: &mut [f32], seq: &[u32]) -> Vec<f32> {
        let lse = self.apply(logits, seq);
        logits.iter().map(|&v| v - lse).collect()
    }

    /// The rules applied to a row of logits in place (a forbidden token becomes -inf); returns
    /// the row's log-normaliser, so that a token's log-probability is `logits[t] - lse`. Beam
    /// search ranks on the logits themselves and needs no log-softmax row per beam.
    pub fn apply(&self, logits: &mut [f32], seq: &[u32]) -> f32 {
        let n = logits.len();
        let ts = (self.ts_begin as usize).min(n);
        for &t in &self.suppress {
            if let Some(x) = logits.get_mut(t as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        if seq.is_empty() {
            for &t in &self.suppress_begin {
                if let Some(x) = logits.get_mut(t as usize) {
                    *x = f32::NEG_INFINITY;
                }
            }
        }
        if !self.timestamps {
            logits[ts..].fill(f32::NEG_INFINITY);
            return log_sum_exp(&logits[..ts]);
        }
        if seq.is_empty() {
            // The first token is a timestamp, at most 1 s into the window.
            logits[..ts].fill(f32::NEG_INFINITY);
            logits[(ts + MAX_INITIAL_TIMESTAMP as usize + 1).min(n)..].fill(f32::NEG_INFINITY);
        } else {
            self.timestamp_rules(logits, seq);
        }
        // A timestamp when all timestamps together are likelier than any one text token
        // (the same comparison on log-probabilities: both sides share the normaliser).
        let ts_mass = log_sum_exp(&logits[ts..]);
        if ts_mass > max_of(&logits[..ts]) {
            logits[..ts].fill(f32::NEG_INFINITY);
            return ts_mass;
        }
        log_sum_exp(logits)
    }

    /// Timestamps come in pairs (a segment's end and the next one's start, or the end before
    /// end-of-text) and never go back; a segment is never empty.
    fn timestamp_rules(&self, logits: &mut [f32], seq: &[u32]) {
        let ts = (self.ts_begin as usize).min(logits.len());
        let is_ts = |t: u32| t >= self.ts_begin;
        let last_ts = seq.last().is_some_and(|&t| is_ts(t));
        let penultimate_ts = seq.len() < 2 || is_ts(seq[seq.len() - 2]);
        if last_ts {
            if penultimate_ts {
                logits[ts..].fill(f32::NEG_INFINITY); // a pair is closed: text next
            } else {
                logits[..(self.eot as usize).min(ts)].fill(f32::NEG_INFINITY); // a timestamp or end-of-text
            }
        }
        if let Some(&last) = seq.iter().rev().find(|&&t| is_ts(t)) {
            let upto = if last_ts && !penultimate_ts { last } else { last + 1 } as usize;
            let end = upto.min(logits.len());
            logits[ts.min(end)..end].fill(f32::NEG_INFINITY);
        }
    }
}

pub fn log_softmax(x: &[f32]) -> Vec<f32> {
    let lse = log_sum_exp(x);
    x.iter().map(|&v| v - lse).collect()
}

/// Lanes of the vector loops below: wide enough for the compiler to use SIMD registers.
const LANES: usize = 8;

fn max_of(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &v) in m.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    tail.iter().chain(&m).copied().fold(f32::NEG_INFINITY, f32::max)
}

/// ln Σ exp(x). A decoder step needs it for every beam over the whole vocabulary (52k tokens),
/// so the exponentials are [`exp_neg`]'s, which vectorize, instead of one libm call each.
fn log_sum_exp(x: &[f32]) -> f32 {
    let max = max_of(x);
    if !max.is_finite() {
        return max;
    }
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += exp_neg(v - max);
        }
    }
    let sum: f32 = acc.iter().sum::<f32>() + tail.iter().map(|&v| exp_neg(v - max)).sum::<f32>();
    max + sum.ln()
}

/// e^x for x <= 0 (-inf included), to about 1e-7 relative: x = n ln 2 + r with |r| <= ln 2 / 2,
/// e^r by its Taylor series to r^6 (error below r^7 / 7! = 6e-8), times 2^n built in the
/// exponent bits. Below -87 it returns 2^-126 scaled, about 1e-38: nothing next to the row's
/// maximum term, which is 1. Branch-free, so a loop over it vectorizes.
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // No `f32::max` (NaN rules) and wrapping integer ops (debug overflow checks): either keeps
    // the loop scalar.
    let x = if x > -87.0 { x } else { -87.0 };
    // Round to nearest by the 1.5 * 2^23 trick (no SSE4.1 `round` needed); n as an integer is
    // then in the low mantissa bits of `t`, so no float-to-int conversion either.
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let n_int = t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127);
    f32::from_bits(n_int << 23) * p
}

/// The `k` best (log-probability, token) of a row, best first, finite only.
fn top_k(lp: &[f32], k: usize) -> Vec<(f32, u32)> {
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (i, &v) in lp.iter().enumerate() {
        if !v.is_finite() || (best.len() == k && v <= best[k - 1].0) {
            continue;
        }
        let at = best.partition_point(|b| b.0 >= v);
        best.insert(at, (v, i as u32));
        best.truncate(k);
    }
    best
}

/// A finished or live hypothesis.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyp {
    /// Sampled tokens after the prompt, without end-of-text.
    pub tokens: Vec<u32>,
    /// Each token's log-probability.
    pub logprobs: Vec<f32>,
    /// Sum of the log-probabilities, end-of-text's included.
    pub sum: f64,
}

impl Hyp {
    /// Whisper's ranking without a length penalty: log-probability per token.
    fn rank(&self) -> f64 {
        self.sum / self.tokens.len().max(1) as f64
    }

    /// Whisper's `avg_logprob`: the sum over the tokens and end-of-text.
    pub fn avg_logprob(&self) -> f64 {
        self.sum / (self.tokens.len() + 1) as f64
    }
}

/// One decoding of a window.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub best: Hyp,
    /// Probability of `<|nospeech|>` at the `<|startoftranscript|>` position.
    pub no_speech: f32,
}

/// How to pick tokens.
#[derive(Clone, Copy, Debug)]
pub enum Strategy {
    /// Beam search with this many beams (1: greedy).
    Beam(usize),
    /// `n` independent samples at this temperature, the best kept.
    Sample { n: usize, temperature: f32, seed: u64 },
}

/// Decode one encoded window after `prompt` (`<|startoftranscript|><|lang|><|transcribe|>`), at
/// most `max_len` tokens.
pub fn decode(
    s: &mut Sessions,
    cross: &Cross,
    rules: &Rules,
    specials: &Specials,
    prompt: &[i64],
    strategy: Strategy,
    max_len: usize,
) -> Result<Decoded> {
    let empty = s.empty_kv(1)?;
    let first = s.step(cross, prompt, &empty, Some(0), false)?;
    let no_speech = first
        .probe_logits
        .as_deref()
        .map(|l| log_softmax(l).get(specials.no_speech as usize).map_or(0.0, |v| v.exp()))
        .unwrap_or(0.0);
    let mut logits = first.last_logits;
    let lp = rules.logprobs(&mut logits, &[]);
    let best = match strategy {
        Strategy::Beam(n) => beam(s, cross, rules, specials.eot, lp, first.kv, n.max(1), max_len)?,
        Strategy::Sample { n, temperature, seed } => {
            sample(s, cross, rules, specials.eot, lp, first.kv, n.max(1), temperature, seed, max_len)?
        }
    };
    Ok(Decoded { best, no_speech })
}

/// Whisper's `BeamSearchDecoder` (patience 1): each beam proposes its `n + 1` best tokens; the
/// `n` best non-final candidates live on, and an end-of-text ranked above the last of them
/// finishes a hypothesis; decoding stops once `n` have finished. The KV cache follows the
/// surviving beams' sources.
#[allow(clippy::too_many_arguments)]
fn beam(
    s: &mut Sessions,
    cross: &Cross,
    rules: &Rules,
    eot: u32,
    first: Vec<f32>,
    kv: super::model::Kv,
    n: usize,
    max_len: usize,
) -> Result<Hyp> {
    let mut live: Vec<Hyp> = top_k(&first, n)
        .into_iter()
        .map(|(lp, t)| Hyp { tokens: vec![t], logprobs: vec![lp], sum: f64::from(lp) })
        .collect();
    let mut finished: Vec<Hyp> = Vec::new();
    let mut kv = kv.select(&vec![0; live.len()])?;
    if let Some(i) = live.iter().position(|h| h.tokens[0] == eot) {
        // Cannot happen (the first token is a timestamp, or text: end-of-text is in
        // `suppress_begin`), but never feed end-of-text on.
        finished.push(Hyp { tokens: Vec::new(), ..live.remove(i) });
        kv = kv.select(&(0..live.len()).collect::<Vec<_>>())?;
    }
    while !live.is_empty() && live[0].tokens.len() < max_len && finished.len() < n {
        let tokens: Vec<i64> = live.iter().map(|h| i64::from(*h.tokens.last().unwrap_or(&eot))).collect();
        let mut step = s.step(cross, &tokens, &kv, None, false)?;
        let vocab = step.last_logits.len() / live.len();
        let mut cands: Vec<(f64, usize, u32, f32)> = Vec::with_capacity(live.len() * (n + 1));
        for (k, (h, row)) in live.iter().zip(step.last_logits.chunks_exact_mut(vocab)).enumerate() {
            let lse = rules.apply(row, &h.tokens);
            for (v, t) in top_k(row, n + 1) {
                let l = v - lse;
                cands.push((h.sum + f64::from(l), k, t, l));
            }
        }
        cands.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut next, mut src) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (sum, k, t, l) in cands {
            let h = &live[k];
            if t == eot {
                if finished.len() < n {
                    let mut logprobs = h.logprobs.clone();
                    logprobs.push(l);
                    finished.push(Hyp { tokens: h.tokens.clone(), logprobs, sum });
                }
            } else {
                let mut hyp = h.clone();
                hyp.tokens.push(t);
                hyp.logprobs.push(l);
                hyp.sum = sum;
                next.push(hyp);
                src.push(k);
                if next.len() == n {
                    break;
                }
            }
        }
        // Beams in the order of their sources: when every beam goes on once (the usual case
        // mid-sentence), the cache is then passed on as it is, without a gather. The order of
        // the live beams does not matter to the search.
        let mut order: Vec<usize> = (0..next.len()).collect();
        order.sort_by_key(|&i| src[i]);
        src = order.iter().map(|&i| src[i]).collect();
        let mut next: Vec<Option<Hyp>> = next.into_iter().map(Some).collect();
        live = order.iter().filter_map(|&i| next[i].take()).collect();
        kv = step.kv.select(&src)?;
    }
    // Out of length or of live beams: the live ones count as finished, best first.
    live.sort_by(|a, b| b.sum.total_cmp(&a.sum));
    for h in live {
        if finished.len() >= n {
            break;
        }
        finished.push(h);
    }
    Ok(finished.into_iter().max_by(|a, b| a.rank().total_cmp(&b.rank())).unwrap_or(Hyp {
        tokens: Vec::new(),
        logprobs: Vec::new(),
        sum: 0.0,
    }))
}

/// `n` samples side by side at `temperature` (Whisper's `best_of` at a fallback temperature),
/// the best by log-probability per token. The random numbers come from a fixed seed, so a
/// window decodes the same way every time.
#[allow(clippy::too_many_arguments)]
fn sample(
    s: &mut Sessions,
    cross: &Cross,
    rules: &Rules,
    eot: u32,
    first: Vec<f32>,
    kv: super::model::Kv,
    n: usize,
    temperature: f32,
    seed: u64,
    max_len: usize,
) -> Result<Hyp> {
    let mut rng = SplitMix(seed);
    let mut live: Vec<Hyp> = Vec::with_capacity(n);
    let mut finished: Vec<Hyp> = Vec::new();
    for _ in 0..n {
        let (t, l) = draw(&first, temperature, &mut rng);
        let h = Hyp { tokens: vec![t], logprobs: vec![l], sum: f64::from(l) };
        if t == eot {
            finished.push(Hyp { tokens: Vec::new(), ..h });
        } else {
            live.push(h);
        }
    }
    let mut kv = kv.select(&vec![0; live.len()])?;
    while !live.is_empty() {
        let tokens: Vec<i64> = live.iter().map(|h| i64::from(*h.tokens.last().unwrap_or(&eot))).collect();
        let step = s.step(cross, &tokens, &kv, None, false)?;
        let vocab = step.last_logits.len() / live.len();
        let mut keep = Vec::with_capacity(live.len());
        let mut next = Vec::with_capacity(live.len());
        for (k, mut h) in std::mem::take(&mut live).into_iter().enumerate() {
            let mut row = step.last_logits[k * vocab..(k + 1) * vocab].to_vec();
            let lp = rules.logprobs(&mut row, &h.tokens);
            let (t, l) = draw(&lp, temperature, &mut rng);
            h.sum += f64::from(l);
            if t == eot {
                h.logprobs.push(l);
                finished.push(h);
            } else if h.tokens.len() + 1 >= max_len {
                h.tokens.push(t);
                h.logprobs.push(l);
                finished.push(h);
            } else {
                h.tokens.push(t);
                h.logprobs.push(l);
                next.push(h);
                keep.push(k);
            }
        }
        live = next;
        kv = step.kv.select(&keep)?;
    }
    Ok(finished.into_iter().max_by(|a, b| a.rank().total_cmp(&b.rank())).unwrap_or(Hyp {
        tokens: Vec::new(),
        logprobs: Vec::new(),
        sum: 0.0,
    }))
}

/// A token drawn from `softmax(lp / temperature)`, with its (unscaled) log-probability.
fn draw(lp: &[f32], temperature: f32, rng: &mut SplitMix) -> (u32, f32) {
    let t = temperature.max(1e-3);
    let max = lp.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> =
        lp.iter().map(|&v| if v.is_finite() { f64::from((v - max) / t).exp() } else { 0.0 }).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.unit() * total;
    let mut pick = lp.iter().position(|&v| v == max).unwrap_or(0);
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            pick = i;
            if u < *w {
                break;
            }
            u -= w;
        }
    }
    (pick as u32, lp[pick])
}

/// SplitMix64: a small, fixed-seed generator (no dependency for a few hundred draws).
struct SplitMix(u64);

impl SplitMix {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The most likely language of an encoded window and its probability among the languages:
/// the first decoder step after `<|startoftranscript|>`, over the language tokens only.
pub fn detect_language(s: &mut Sessions, cross: &Cross, specials: &Specials) -> Result<(String, f32)> {
    let empty = s.empty_kv(1)?;
    let step = s.step(cross, &[i64::from(specials.sot)], &empty, None, false)?;
    let logits: Vec<f32> = specials
        .languages
        .iter()
        .map(|(id, _)| step.last_logits.get(*id as usize).copied().unwrap_or(f32::MIN))
        .collect();
    let lp = log_softmax(&logits);
    let (i, p) = lp.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
    Ok((specials.languages[i].1.clone(), p.exp()))
}

/// whisper.cpp's stand-in for Whisper's compression-ratio test (the same threshold, 2.4): the
/// entropy of the last 32 tokens' histogram. A looping hypothesis repeats a few tokens; this
/// needs no zlib. Only judged past 32 tokens, as whisper.cpp does.
pub fn is_repetitive(tokens: &[u32]) -> bool {
    const N: usize = 32;
    if tokens.len() <= N {
        return false;
    }
    let tail = &tokens[tokens.len() - N..];
    let mut counts = std::collections::HashMap::new();
    for t in tail {
        *counts.entry(*t).or_insert(0usize) += 1;
    }
    let entropy: f64 = counts
        .values()
        .map(|&c| {
            let p = c as f64 / N as f64;
            -p * p.ln()
        })
        .sum();
    entropy < 2.4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials() -> Specials {
        // A toy vocabulary: text 0..10, end-of-text 10, start 11, language 12, task 13,
        // no-speech 14, no-timestamps 15, timestamps 16.. (20 ms apart).
        Specials {
            eot: 10,
            sot: 11,
            transcribe: 13,
            no_speech: 14,
            no_timestamps: 15,
            timestamp_begin: 16,
            languages: vec![(12, "en".into())],
        }
    }

    fn allowed(lp: &[f32]) -> Vec<usize> {
        lp.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, _)| i).collect()
    }

    #[test]
    fn the_first_token_is_an_early_timestamp() {
        let r = Rules::new(&[3], &[10], &specials());
        let mut logits = vec![0.0; 16 + 100];
        let lp = r.logprobs(&mut logits, &[]);
        assert_eq!(allowed(&lp), (16..=16 + 50).collect::<Vec<_>>());
    }

    #[test]
    fn timestamps_pair_up_and_never_go_back() {
        let r = Rules::new(&[3], &[], &specials());
        // Text at logit 0, timestamps far less likely (so no timestamp is forced).
        let row = || (0..116).map(|i| if i >= 16 { -10.0 } else { 0.0 }).collect::<Vec<f32>>();
        // After text following timestamp 20: more text (3 suppressed), end-of-text, or a
        // closing timestamp after 20 (a segment is never empty).
        let a = allowed(&r.logprobs(&mut row(), &[20, 1]));
        assert!(a.contains(&1) && !a.contains(&3) && a.contains(&10) && a.contains(&21) && !a.contains(&20), "{a:?}");
        // After "text, timestamp": only a later-or-equal timestamp or end-of-text.
        let a = allowed(&r.logprobs(&mut row(), &[20, 1, 30]));
        assert!(a.contains(&10) && a.contains(&30) && !a.contains(&29) && !a.contains(&1), "{a:?}");
        // After a pair: text only, never a special token.
        let a = allowed(&r.logprobs(&mut row(), &[20, 1, 30, 30]));
        assert_eq!(a, vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn a_likely_timestamp_mass_forces_a_timestamp() {
        let r = Rules::new(&[], &[], &specials());
        // One text token at logit 2, 100 timestamps at 0: their total (ln 100 ≈ 4.6) wins.
        let mut logits = vec![-10.0; 116];
        logits[1] = 2.0;
        for l in &mut logits[16..] {
            *l = 0.0;
        }
        let a = allowed(&r.logprobs(&mut logits, &[20, 1]));
        assert!(a.iter().all(|&t| t >= 20), "{a:?}");
    }

    #[test]
    fn text_only_decoding_never_gives_a_timestamp() {
        let r = Rules::new(&[3], &[10], &specials()).without_timestamps();
        assert!(!r.timestamps());
        // Timestamps far likelier than text: still text (the mass rule is off), and at the
        // first token neither end-of-text nor a suppressed token.
        let row = || (0..116).map(|i| if i >= 16 { 5.0 } else { 0.0 }).collect::<Vec<f32>>();
        assert_eq!(allowed(&r.logprobs(&mut row(), &[])), vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
        // Later, end-of-text is allowed; the probabilities are over what is left.
        let lp = r.logprobs(&mut row(), &[1, 2]);
        assert_eq!(allowed(&lp), vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
        let total: f32 = lp.iter().filter(|v| v.is_finite()).map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
    }

    #[test]
    fn repetition_is_judged_on_the_last_32_tokens() {
        let looping: Vec<u32> = (0..40).map(|i| i % 4).collect();
        assert!(is_repetitive(&looping));
        let varied: Vec<u32> = (0..40).collect();
        assert!(!is_repetitive(&varied));
        assert!(!is_repetitive(&[1; 20]), "short results are not judged");
    }

    #[test]
    fn sampling_is_reproducible_and_follows_the_distribution() {
        let lp = log_softmax(&[0.0, 0.0, f32::NEG_INFINITY, 5.0]);
        let picks = |seed| {
            let mut rng = SplitMix(seed);
            (0..200).map(|_| draw(&lp, 1.0, &mut rng).0).collect::<Vec<_>>()
        };
        let a = picks(7);
        assert_eq!(a, picks(7));
        assert!(!a.contains(&2), "a suppressed token is never drawn");
        assert!(a.iter().filter(|&&t| t == 3).count() > 180, "p(3) ≈ 0.987");
        assert_eq!(top_k(&lp, 2).iter().map(|x| x.1).collect::<Vec<_>>(), vec![3, 0]);
    }

    #[test]
    fn the_vector_exponential_matches_libm() {
        let mut worst = 0f64;
        for i in 0..=20_000 {
            let x = -(i as f32) * 0.0045; // 0 down to -90
            let want = f64::from(x).exp();
            let got = f64::from(exp_neg(x));
            if want > 1e-30 {
                worst = worst.max((got - want).abs() / want);
            } else {
                assert!(got < 1e-30, "exp({x}) = {got}");
            }
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert!(exp_neg(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn the_normaliser_matches_a_log_softmax_in_f64() {
        // A vocabulary-sized row with a few forbidden tokens, and an odd length (a tail).
        let row: Vec<f32> = (0..51_865)
            .map(|i| if i % 997 == 0 { f32::NEG_INFINITY } else { ((i * 7919) % 1000) as f32 * 0.02 - 12.0 })
            .collect();
        let max = row.iter().copied().fold(f64::NEG_INFINITY, |m, v| m.max(f64::from(v)));
        let want = max + row.iter().map(|&v| (f64::from(v) - max).exp()).sum::<f64>().ln();
        let got = f64::from(log_sum_exp(&row));
        assert!((got - want).abs() < 1e-4, "{got} against {want}");
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 3]), f32::NEG_INFINITY);
        // Rules::apply ranks on the logits: the same best tokens and log-probabilities.
        let r = Rules::new(&[], &[], &specials());
        let mut a = vec![0.5, 3.0, -1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0];
        let lp = r.clone().logprobs(&mut a.clone(), &[1]);
        let lse = r.apply(&mut a, &[1]);
        let ranked: Vec<(f32, u32)> = top_k(&a, 3).into_iter().map(|(v, t)| (v - lse, t)).collect();
        assert_eq!(ranked, top_k(&lp, 3));
    }
}
