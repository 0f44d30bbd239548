//! Word timing as Whisper's `timing.find_alignment` (and faster-whisper) does it: the
//! cross-attention of the alignment heads over one decoder pass of the final tokens, each
//! head's weights standardised per frame over the tokens, a median filter of width 7 along
//! time, the heads averaged, and dynamic time warping of tokens against frames; a token starts
//! where the path first reaches its row.

/// One encoder frame: 20 ms.
const FRAME_MS: u64 = 20;
const MEDIAN_WIDTH: usize = 7;

/// Start time (ms, window time) of each aligned row: the `rows` query positions from `first`
/// (the no-timestamps position, whose query predicts the first text token) through the one
/// that predicts end-of-text. `alignment` is [heads, tokens, frames] (softmax over all
/// frames); only the first `frames` frames (the audio's own) are used, renormalised, which is
/// the softmax over those frames, as Whisper computes it.
pub fn token_starts(alignment: &[f32], dims: [usize; 3], first: usize, rows: usize, frames: usize) -> Vec<u64> {
    let [heads, tokens, all_frames] = dims;
    let frames = frames.min(all_frames);
    if heads == 0 || rows == 0 || frames == 0 || first + rows > tokens || alignment.len() < heads * tokens * all_frames
    {
        return vec![0; rows];
    }
    let mut matrix = vec![0f32; rows * frames];
    for h in 0..heads {
        let w = standardised(
            &alignment[h * tokens * all_frames..(h + 1) * tokens * all_frames],
            tokens,
            all_frames,
            frames,
        );
        for r in 0..rows {
            let filtered = median_filter(&w[(first + r) * frames..(first + r + 1) * frames], MEDIAN_WIDTH);
            for (m, v) in matrix[r * frames..(r + 1) * frames].iter_mut().zip(filtered) {
                *m += v / heads as f32;
            }
        }
    }
    let path = dtw(&matrix.iter().map(|v| -v).collect::<Vec<_>>(), rows, frames);
    // The frame where the path first enters each row.
    let mut starts = vec![0u64; rows];
    let mut seen = vec![false; rows];
    for (r, f) in path {
        if !seen[r] {
            seen[r] = true;
            starts[r] = f as u64 * FRAME_MS;
        }
    }
    starts
}

/// One head's [tokens, frames] weights cut to `frames`, each row renormalised to sum 1, then
/// each frame standardised over the tokens (mean 0, standard deviation 1).
fn standardised(head: &[f32], tokens: usize, stride: usize, frames: usize) -> Vec<f32> {
    let mut w = vec![0f32; tokens * frames];
    for t in 0..tokens {
        let row = &head[t * stride..t * stride + frames];
        let sum: f32 = row.iter().sum();
        let scale = if sum > 0.0 { 1.0 / sum } else { 0.0 };
        for (o, v) in w[t * frames..(t + 1) * frames].iter_mut().zip(row) {
            *o = v * scale;
        }
    }
    for f in 0..frames {
        let mean = (0..tokens).map(|t| w[t * frames + f]).sum::<f32>() / tokens as f32;
        let var = (0..tokens).map(|t| (w[t * frames + f] - mean).powi(2)).sum::<f32>() / tokens as f32;
        let std = var.sqrt().max(1e-10);
        for t in 0..tokens {
            w[t * frames + f] = (w[t * frames + f] - mean) / std;
        }
    }
    w
}

/// Whisper's `median_filter`: reflect padding; a row no longer than half the width is left as is.
fn median_filter(x: &[f32], width: usize) -> Vec<f32> {
    let pad = width / 2;
    if x.len() <= pad {
        return x.to_vec();
    }
    let n = x.len() as i64;
    let at = |i: i64| {
        let j = if i < 0 {
            -i
        } else if i >= n {
            2 * (n - 1) - i
        } else {
            i
        };
        x[j.clamp(0, n - 1) as usize]
    };
    let mut buf = vec![0f32; width];
    (0..n)
        .map(|i| {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = at(i + k as i64 - pad as i64);
            }
            buf.sort_by(f32::total_cmp);
            buf[pad]
        })
        .collect()
}

/// Whisper's `dtw_cpu` over a [rows, cols] cost matrix: the path of (row, col) from (0, 0) to
/// the last cell, preferring the diagonal, then a step down, then a step right on ties as
/// Whisper does.
fn dtw(x: &[f32], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    let (n, m) = (rows + 1, cols + 1);
    let mut cost = vec![f32::INFINITY; n * m];
    let mut trace = vec![-1i8; n * m];
    cost[0] = 0.0;
    for j in 1..m {
        for i in 1..n {
            let (c0, c1, c2) = (cost[(i - 1) * m + j - 1], cost[(i - 1) * m + j], cost[i * m + j - 1]);
            let (c, t) = if c0 < c1 && c0 < c2 {
                (c0, 0)
            } else if c1 < c0 && c1 < c2 {
                (c1, 1)
            } else {
                (c2, 2)
            };
            cost[i * m + j] = x[(i - 1) * cols + j - 1] + c;
            trace[i * m + j] = t;
        }
    }
    trace[..m].fill(2);
    for i in 0..n {
        trace[i * m] = 1;
    }
    let (mut i, mut j) = (rows, cols);
    let mut path = Vec::with_capacity(rows + cols);
    while i > 0 || j > 0 {
        path.push((i.saturating_sub(1), j.saturating_sub(1)));
        match trace[i * m + j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_filter_reflects_at_the_edges() {
        // scipy.ndimage.median_filter([5, 1, 9, 2, 8], 3, mode="mirror") == [1, 5, 2, 8, 2]
        assert_eq!(median_filter(&[5.0, 1.0, 9.0, 2.0, 8.0], 3), vec![1.0, 5.0, 2.0, 8.0, 2.0]);
    }

    #[test]
    fn dtw_follows_a_diagonal_of_low_cost() {
        // Token 0 over frames 0–1, token 1 over frames 2–5.
        let mut x = vec![1.0f32; 2 * 6];
        x[..2].fill(-1.0);
        x[6 + 2..6 + 6].fill(-1.0);
        let path = dtw(&x, 2, 6);
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(1, 5)));
        assert!(path.contains(&(1, 2)) && !path.contains(&(1, 1)), "{path:?}");
    }

    #[test]
    fn tokens_start_where_their_attention_peaks() {
        // 1 head, 3 query rows (the first the prompt's), 20 frames: row 1 looks at frames
        // 2–6, row 2 at frames 10–14.
        let (tokens, frames) = (3, 20);
        let mut a = vec![0.01f32; tokens * frames];
        for f in 2..7 {
            a[frames + f] = 1.0;
        }
        for f in 10..15 {
            a[2 * frames + f] = 1.0;
        }
        let starts = token_starts(&a, [1, tokens, frames], 1, 2, frames);
        assert_eq!(starts[0], 0, "the first token starts the path");
        assert!((7 * FRAME_MS..=10 * FRAME_MS).contains(&starts[1]), "{starts:?}");
    }
}
