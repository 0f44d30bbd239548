//! Where the model runs: speech regions widened by a margin and merged, in samples of the mix,
//! and the weights that fade the speech estimate in and out at their edges.

use redub_core::{ms_to_samples, Span};

/// The speech regions, each widened by `margin_ms` on both sides and clamped to `len` samples
/// at `rate`, sorted, with regions merged where their widened spans touch or overlap. Empty
/// regions are dropped. Spans are `(start, end)` sample indices, `end` exclusive.
pub fn widened_regions(regions: &[Span], margin_ms: u64, rate: u32, len: usize) -> Vec<(usize, usize)> {
    let margin = ms_to_samples(margin_ms, rate);
    let mut spans: Vec<(usize, usize)> = regions
        .iter()
        .filter(|r| r.end_ms > r.start_ms)
        .map(|r| {
            let start = ms_to_samples(r.start_ms, rate).saturating_sub(margin).min(len);
            let end = ms_to_samples(r.end_ms, rate).saturating_add(margin).min(len);
            (start, end)
        })
        .filter(|&(s, e)| e > s)
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Weights for `len` samples of speech estimate: 1 in the middle, raised-cosine ramps of `fade`
/// samples at both ends (shorter when the span is shorter than two fades), so the estimate
/// enters and leaves the background subtraction without a step.
pub fn edge_weights(len: usize, fade: usize) -> Vec<f32> {
    let fade = fade.min(len / 2);
    let mut w = vec![1.0f32; len];
    for i in 0..fade {
        // Sample centres: the first weight is above 0 and the ramp is symmetric.
        let v = 0.5 - 0.5 * (std::f64::consts::PI * (i as f64 + 0.5) / fade as f64).cos();
        w[i] = v as f32;
        w[len - 1 - i] = v as f32;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_widened_clamped_and_merged() {
        let r = [Span::new(1000, 2000), Span::new(2500, 3000), Span::new(5000, 5100), Span::new(100, 200)];
        // 300 ms margins at 1 kHz: 1000-2000 and 2500-3000 touch (2300 ≥ 2200); 100-200 starts at 0.
        let got = widened_regions(&r, 300, 1000, 5200);
        assert_eq!(got, vec![(0, 500), (700, 3300), (4700, 5200)]);
    }

    #[test]
    fn touching_margins_merge_and_empty_regions_vanish() {
        let r = [Span::new(0, 100), Span::new(700, 800), Span::new(900, 900), Span::new(9000, 9500)];
        assert_eq!(widened_regions(&r, 300, 1000, 2000), vec![(0, 1100)]);
        assert!(widened_regions(&[], 300, 1000, 2000).is_empty());
    }

    #[test]
    fn weights_ramp_symmetrically() {
        let w = edge_weights(10, 3);
        assert!(w[0] > 0.0 && w[0] < w[1] && w[1] < w[2] && w[2] < 1.0);
        assert_eq!(w[3..7], [1.0; 4]);
        for i in 0..5 {
            assert!((w[i] - w[9 - i]).abs() < 1e-7);
        }
        assert_eq!(edge_weights(3, 10).len(), 3);
        assert!(edge_weights(0, 10).is_empty());
    }
}
