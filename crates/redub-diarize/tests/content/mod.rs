//! Inputs that look like real content, composed here from the real recordings in `fixtures/`:
//! scenes in which two or three people take turns, every line with its own gain (±6 dB) and
//! microphone colour (a first-order low- or high-pass), a music-like bed under the speech, a
//! few seconds of music only between scenes, and optionally one voice that leaves for minutes
//! and comes back. Everything random comes from one seed, so a case is the same on every run.

#![allow(clippy::unwrap_used, dead_code)]

use redub_core::{Audio, Turn};
use std::path::{Path, PathBuf};

pub const RATE: u32 = 16_000;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Any audio file as 16 kHz mono, through ffmpeg like the pipeline does.
pub fn load16k(path: &Path) -> Audio {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    redub_media::extract_audio(path, &wav, Some(RATE), true).unwrap();
    redub_media::read_wav_mono(&wav).unwrap()
}

/// SplitMix64: small, deterministic, good enough for a schedule.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// One person's material: utterance-sized pieces at a common speech level.
pub struct Voice {
    pub name: String,
    pub pieces: Vec<Vec<f32>>,
}

/// RMS over the 10 ms frames within 40 dB of the loudest one: the level of the speech, not of
/// its pauses.
fn active_rms(x: &[f32]) -> f32 {
    let e: Vec<f32> = x.chunks(160).map(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).collect();
    let top = e.iter().copied().fold(0.0f32, f32::max);
    let act: Vec<f32> = e.into_iter().filter(|v| *v > top * 1e-4).collect();
    (act.iter().sum::<f32>() / act.len().max(1) as f32).sqrt()
}

/// Utterances of `x[lo..hi]`: split in the middle of pauses of at least 300 ms (10 ms frames
/// 35 dB under the loudest), each trimmed to its speech plus 50 ms, 0.4 s or longer. Pieces
/// over 7 s are cut again at their quietest 20 ms near the middle, as a film's lines are short.
fn utterances(x: &[f32], lo: usize, hi: usize) -> Vec<Vec<f32>> {
    let frame = 160;
    let db: Vec<f32> = x[lo..hi]
        .chunks(frame)
        .map(|c| 10.0 * (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32 + 1e-12).log10())
        .collect();
    let top = db.iter().copied().fold(f32::MIN, f32::max);
    let speech: Vec<usize> = (0..db.len()).filter(|i| db[*i] > (top - 35.0).max(-60.0)).collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in &speech {
        match runs.last_mut() {
            Some((_, e)) if i - *e < 30 => *e = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    let mut out = Vec::new();
    for (a, b) in runs {
        let s = (lo + a * frame).saturating_sub(800);
        let e = (lo + b * frame + 800).min(hi);
        if e - s < 6_400 {
            continue;
        }
        let mut stack = vec![(s, e)];
        while let Some((s, e)) = stack.pop() {
            if e - s <= 7 * RATE as usize {
                out.push(x[s..e].to_vec());
                continue;
            }
            let mid = (s + e) / 2;
            let energy = |i: usize| x[i..i + 320].iter().map(|v| v * v).sum::<f32>();
            let cut = (mid - 2 * RATE as usize..mid + 2 * RATE as usize)
                .step_by(80)
                .min_by(|a, b| energy(*a).total_cmp(&energy(*b)))
                .unwrap();
            stack.push((cut, e));
            stack.push((s, cut));
        }
    }
    out
}

impl Voice {
    /// A voice from whole recordings (each file holds this one person).
    pub fn from_files(name: &str, files: &[&str]) -> Self {
        let mut pieces = Vec::new();
        for f in files {
            let a = load16k(&fixtures().join(f));
            pieces.extend(utterances(&a.samples, 0, a.samples.len()));
        }
        Self::levelled(name, pieces)
    }

    /// One person of the two-speaker call: their reference turns in `sample.rttm`, without the
    /// parts where the other one talks too.
    pub fn from_call(name: &str, label: &str) -> Self {
        let audio = redub_media::read_wav_mono(&fixtures().join("speech-2spk/sample.wav")).unwrap();
        let turns = redub_diarize::rttm::read(&fixtures().join("speech-2spk/sample.rttm")).unwrap();
        let mut pieces = Vec::new();
        for t in turns.iter().filter(|t| t.speaker == label) {
            let mut parts = vec![(t.start_ms, t.end_ms)];
            for o in turns.iter().filter(|o| o.speaker != label) {
                parts = parts
                    .into_iter()
                    .flat_map(|(a, b)| {
                        if o.end_ms <= a || o.start_ms >= b {
                            vec![(a, b)]
                        } else {
                            [(a, o.start_ms), (o.end_ms, b)].into_iter().filter(|(x, y)| y > x).collect()
                        }
                    })
                    .collect();
            }
            for (a, b) in parts.into_iter().filter(|(a, b)| b - a >= 500) {
                let s = redub_core::ms_to_samples(a, RATE);
                let e = redub_core::ms_to_samples(b, RATE).min(audio.samples.len());
                pieces.push(audio.samples[s..e].to_vec());
            }
        }
        Self::levelled(name, pieces)
    }

    fn levelled(name: &str, pieces: Vec<Vec<f32>>) -> Self {
        assert!(!pieces.is_empty(), "no speech found for {name}");
        // Every voice at −24 dBFS active level before each line's own gain.
        let g = 10f32.powf(-24.0 / 20.0) / active_rms(&pieces.concat());
        let pieces = pieces.into_iter().map(|p| p.into_iter().map(|v| v * g).collect()).collect();
        Self { name: name.to_string(), pieces }
    }

    pub fn seconds(&self) -> f64 {
        self.pieces.iter().map(Vec::len).sum::<usize>() as f64 / f64::from(RATE)
    }
}

/// A first-order (bilinear) low- or high-pass at `fc` Hz: another microphone's colour.
pub fn colour(x: &[f32], lowpass: bool, fc: f64) -> Vec<f32> {
    let k = (std::f64::consts::PI * fc / f64::from(RATE)).tan();
    let a1 = (k - 1.0) / (k + 1.0);
    let b0 = if lowpass { k / (1.0 + k) } else { 1.0 / (1.0 + k) };
    let b1 = if lowpass { b0 } else { -b0 };
    let (mut xp, mut yp) = (0.0f64, 0.0f64);
    x.iter()
        .map(|&v| {
            let v = f64::from(v);
            yp = b0 * v + b1 * xp - a1 * yp;
            xp = v;
            yp as f32
        })
        .collect()
}

/// How a case is composed.
pub struct Case {
    pub seed: u64,
    pub seconds: f64,
    /// Pause between two lines, drawn uniformly from this range (s).
    pub gap: (f64, f64),
    /// The bed's level under the speech's (dB, drawn per case from this range).
    pub bed_db: (f64, f64),
    /// `(voice index, from, to)`: that voice is silent between `from` and `to` (s).
    pub absent: Option<(usize, f64, f64)>,
}

/// The composed input and its reference turns (one per line, named after the voice).
pub struct Composed {
    pub audio: Audio,
    pub reference: Vec<Turn>,
    pub bed_db: f64,
}

/// Composes `case` from `voices`: scenes of 40–90 s, each with a cast of two or three voices
/// taking turns of one or two lines, 2–5 s of music only between scenes. Voices heard less so
/// far are cast more often, so short material (the cards reader's 10 s) repeats while long
/// material does not crowd it out.
pub fn compose(voices: &[Voice], case: &Case) -> Composed {
    let mut rng = Rng::new(case.seed);
    let total = redub_core::ms_to_samples((case.seconds * 1000.0) as u64, RATE);
    let mut speech = vec![0.0f32; total];
    let mut reference = Vec::new();
    let mut used = vec![0.0f64; voices.len()];
    let mut next = vec![0usize; voices.len()];
    let away = |v: usize, t: f64| case.absent.is_some_and(|(a, from, to)| a == v && t >= from && t < to);
    let mut t = rng.uniform(1.0, 2.5);
    while t < case.seconds - 8.0 {
        let scene_end = (t + rng.uniform(40.0, 90.0)).min(case.seconds - 2.0);
        let pool: Vec<usize> = (0..voices.len()).filter(|v| !away(*v, t)).collect();
        // The voice that leaves opens the first scene and the first one after its return.
        let mut cast: Vec<usize> = Vec::new();
        if let Some((a, from, to)) = case.absent {
            let heard = |lo: f64| {
                reference.iter().any(|r: &Turn| r.speaker == voices[a].name && r.start_ms as f64 >= lo * 1000.0)
            };
            if (t < from && !heard(0.0)) || (t >= to && !heard(to)) {
                cast.push(a);
            }
        }
        let size = if rng.next() < 0.4 { 3 } else { 2 };
        while cast.len() < size.min(pool.len()) {
            let cand: Vec<usize> = pool.iter().copied().filter(|v| !cast.contains(v)).collect();
            let w: Vec<f64> = cand.iter().map(|v| 1.0 / (1.0 + used[*v] / 20.0)).collect();
            let mut r = rng.next() * w.iter().sum::<f64>();
            let mut pick = cand[cand.len() - 1];
            for (c, wc) in cand.iter().zip(&w) {
                if r < *wc {
                    pick = *c;
                    break;
                }
                r -= wc;
            }
            cast.push(pick);
        }
        let mut current: Option<usize> = None;
        loop {
            let others: Vec<usize> = cast.iter().copied().filter(|v| Some(*v) != current).collect();
            let who = if others.is_empty() { cast[0] } else { others[rng.below(others.len())] };
            let lines = if rng.next() < 0.6 { 1 } else { 2 };
            let mut placed = 0;
            for _ in 0..lines {
                let piece = &voices[who].pieces[next[who]];
                let dur = piece.len() as f64 / f64::from(RATE);
                if t + dur > scene_end {
                    break;
                }
                let gain = 10f64.powf(rng.uniform(-6.0, 6.0) / 20.0) as f32;
                let lowpass = rng.next() < 0.5;
                let fc = if lowpass { rng.uniform(2_500.0, 6_000.0) } else { rng.uniform(120.0, 500.0) };
                let line = colour(piece, lowpass, fc);
                let at = redub_core::ms_to_samples((t * 1000.0) as u64, RATE);
                for (o, v) in speech[at..].iter_mut().zip(&line) {
                    *o += v * gain;
                }
                let end = at + line.len();
                reference.push(Turn::new(
                    redub_core::samples_to_ms(at, RATE),
                    redub_core::samples_to_ms(end, RATE),
                    voices[who].name.as_str(),
                ));
                used[who] += dur;
                next[who] = (next[who] + 1) % voices[who].pieces.len();
                placed += 1;
                t += dur + rng.uniform(case.gap.0, case.gap.1);
            }
            if placed == 0 {
                break;
            }
            current = Some(who);
        }
        t += rng.uniform(2.0, 5.0);
    }
    // The bed: chords and pink noise, `bed_db` under the speech's active level.
    let bed_db = rng.uniform(case.bed_db.0, case.bed_db.1);
    let bed = redub_testserver::beds::music_bed(total, RATE, case.seed, 0.0);
    let g = active_rms(&speech) / active_rms(&bed) * 10f32.powf(-bed_db as f32 / 20.0);
    let samples = speech.iter().zip(&bed).map(|(s, b)| s + b * g).collect();
    Composed { audio: Audio::new(RATE, samples), reference, bed_db }
}
