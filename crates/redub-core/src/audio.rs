//! Mono `f32` audio with its sample rate. Sample indices appear only at this edge; everything
//! that is stored or compared uses integer milliseconds.

/// Mono audio, samples in [-1, 1].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Audio {
    pub rate: u32,
    pub samples: Vec<f32>,
}

impl Audio {
    pub fn new(rate: u32, samples: Vec<f32>) -> Self {
        Self { rate, samples }
    }

    pub fn silence(rate: u32, ms: u64) -> Self {
        Self { rate, samples: vec![0.0; ms_to_samples(ms, rate)] }
    }

    /// Length in whole milliseconds (rounded to nearest).
    pub fn duration_ms(&self) -> u64 {
        samples_to_ms(self.samples.len(), self.rate)
    }

    /// The samples between two times, clamped to the audio.
    pub fn slice_ms(&self, start_ms: u64, end_ms: u64) -> &[f32] {
        let a = ms_to_samples(start_ms, self.rate).min(self.samples.len());
        let b = ms_to_samples(end_ms, self.rate).clamp(a, self.samples.len());
        &self.samples[a..b]
    }
}

/// Sample index of a time (rounded to nearest sample).
pub fn ms_to_samples(ms: u64, rate: u32) -> usize {
    ((ms as u128 * rate as u128 + 500) / 1000) as usize
}

/// Time of a sample index in whole milliseconds (rounded to nearest).
pub fn samples_to_ms(n: usize, rate: u32) -> u64 {
    if rate == 0 {
        return 0;
    }
    ((n as u128 * 1000 + rate as u128 / 2) / rate as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_and_samples_round_trip() {
        for rate in [16_000, 22_050, 24_000, 44_100, 48_000] {
            for ms in [0u64, 1, 7, 999, 1000, 123_456] {
                assert_eq!(samples_to_ms(ms_to_samples(ms, rate), rate), ms, "rate {rate} ms {ms}");
            }
        }
    }

    #[test]
    fn slice_is_clamped() {
        let a = Audio::new(1000, vec![0.5; 100]);
        assert_eq!(a.slice_ms(50, 500).len(), 50);
        assert_eq!(a.slice_ms(200, 100).len(), 0);
    }
}
