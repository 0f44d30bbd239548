//! Distributions of per-line figures: the median, the 5th and 95th percentiles and the worst
//! line, because a mean hides the one line a viewer notices.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Lines measured.
    pub n: usize,
    pub median: f64,
    /// 5th and 95th percentiles (linear between the two nearest ranks).
    pub p5: f64,
    pub p95: f64,
    /// The worst value: the highest when high is bad, else the lowest.
    pub worst: f64,
    /// The line that has it (the first such in line order).
    pub worst_line: Option<u32>,
}

impl Distribution {
    /// Of `(line id, value)` pairs; `high_is_bad` says which end is the worst.
    pub fn of(values: &[(u32, f64)], high_is_bad: bool) -> Self {
        let mut v: Vec<f64> = values.iter().map(|x| x.1).filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let mut worst: Option<(u32, f64)> = None;
        for &(id, x) in values.iter().filter(|x| x.1.is_finite()) {
            let better = match worst {
                None => true,
                Some((_, w)) => (high_is_bad && x > w) || (!high_is_bad && x < w),
            };
            if better {
                worst = Some((id, x));
            }
        }
        Self {
            n: v.len(),
            median: percentile(&v, 50.0),
            p5: percentile(&v, 5.0),
            p95: percentile(&v, 95.0),
            worst: worst.map_or(0.0, |w| w.1),
            worst_line: worst.map(|w| w.0),
        }
    }
}

/// The `q`th percentile of sorted `v`, interpolated between ranks (what numpy does by default).
pub fn percentile(v: &[f64], q: f64) -> f64 {
    match v.len() {
        0 => 0.0,
        1 => v[0],
        n => {
            let pos = q.clamp(0.0, 100.0) / 100.0 * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 50.0), 3.0);
        // 5% of the way over four gaps: 1 + 0.2.
        assert!((percentile(&v, 5.0) - 1.2).abs() < 1e-12);
        assert!((percentile(&v, 95.0) - 4.8).abs() < 1e-12);
    }

    #[test]
    fn the_worst_line_is_at_the_bad_end() {
        let d = Distribution::of(&[(1, 0.9), (2, 0.5), (3, 1.0), (4, 0.5)], false);
        assert_eq!((d.worst, d.worst_line, d.n), (0.5, Some(2), 4));
        let d = Distribution::of(&[(1, 1.0), (2, 1.3), (3, 1.1)], true);
        assert_eq!((d.worst, d.worst_line, d.median), (1.3, Some(2), 1.1));
        assert_eq!(Distribution::of(&[], true), Distribution::default());
    }
}
