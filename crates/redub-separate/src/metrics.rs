//! How good a stem is.

/// Scale-invariant signal-to-distortion ratio in dB of `estimate` against `reference` (same
/// length; the longer one is cut): the reference scaled to best fit the estimate is the target,
/// everything else the distortion. Both are taken as they are (no mean removed), so a constant
/// offset counts as distortion. `-inf`-like (-300 dB) for a silent estimate or reference.
pub fn si_sdr(estimate: &[f32], reference: &[f32]) -> f64 {
    let n = estimate.len().min(reference.len());
    let (e, r) = (&estimate[..n], &reference[..n]);
    let rr: f64 = r.iter().map(|&v| v as f64 * v as f64).sum();
    let er: f64 = e.iter().zip(r).map(|(&a, &b)| a as f64 * b as f64).sum();
    if rr <= 0.0 {
        return -300.0;
    }
    let alpha = er / rr;
    let (mut target, mut noise) = (0.0f64, 0.0f64);
    for (&a, &b) in e.iter().zip(r) {
        let t = alpha * b as f64;
        target += t * t;
        noise += (a as f64 - t).powi(2);
    }
    if target <= 0.0 {
        return -300.0;
    }
    10.0 * (target / noise.max(1e-30)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_does_not_matter_and_noise_does() {
        let r: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin()).collect();
        let scaled: Vec<f32> = r.iter().map(|v| v * 0.3).collect();
        assert!(si_sdr(&scaled, &r) > 100.0);
        // Noise at a tenth of the amplitude (orthogonal-ish): about 20 dB.
        let noisy: Vec<f32> = r.iter().enumerate().map(|(i, v)| v + 0.1 * (i as f32 * 1.7).cos()).collect();
        let got = si_sdr(&noisy, &r);
        assert!((got - 20.0).abs() < 1.5, "{got}");
        assert_eq!(si_sdr(&r, &[0.0; 1000]), -300.0);
    }
}
