//! Backgrounds for tests that need content that sounds like a film's: a music-like bed of
//! chords and noise, made from a seed (no files).

/// A music-like bed of `n` samples: sustained chords (a few partials per note) that change
/// every 3 s under slow swells, plus pink-ish noise at a quarter of the chords' level.
/// `seed` and `detune` make the channels of a stereo bed differ.
pub fn music_bed(n: usize, rate: u32, seed: u64, detune: f64) -> Vec<f32> {
    let chords: [[f64; 3]; 4] =
        [[220.0, 261.63, 329.63], [174.61, 220.0, 261.63], [196.0, 246.94, 293.66], [164.81, 207.65, 246.94]];
    let fs = rate as f64;
    let noise = pink_noise(n, seed);
    (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            let chord = &chords[(t / 3.0) as usize % chords.len()];
            // Each chord swells in and out over its 3 s (never quite to silence).
            let env = 0.35 + 0.65 * (std::f64::consts::PI * (t % 3.0) / 3.0).sin().powi(2);
            let slow = 1.0 + 0.2 * (2.0 * std::f64::consts::PI * 0.13 * t).sin();
            let tone: f64 = chord
                .iter()
                .map(|&f| {
                    let f = f * (1.0 + detune);
                    (1..=4).map(|k| (2.0 * std::f64::consts::PI * f * k as f64 * t).sin() / (k * k) as f64).sum::<f64>()
                })
                .sum();
            (0.1 * env * slow * tone + 0.25 * noise[i] as f64) as f32
        })
        .collect()
}

/// Pink-ish noise (three one-pole filters over white noise from a fixed LCG), RMS about 0.1.
pub fn pink_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    let raw: Vec<f64> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let white = ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            b0 = 0.997 * b0 + 0.03 * white;
            b1 = 0.96 * b1 + 0.15 * white;
            b2 = 0.6 * b2 + 0.5 * white;
            b0 + b1 + b2 + 0.2 * white
        })
        .collect();
    let rms = (raw.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64).sqrt().max(1e-12);
    raw.iter().map(|v| (0.1 * v / rms) as f32).collect()
}
