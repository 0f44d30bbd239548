//! A look-ahead peak limiter for the final track: loudness matching raises the whole dub by one
//! gain, and the few peaks that would then pass the ceiling (a click, a door, a shout) are
//! turned down on their own instead of the whole track.
//!
//! Streaming: frames go in with [`Limiter::push`] and come out the same, sample for sample,
//! only later; [`Limiter::finish`] returns the rest. Output frame `t` is input frame `t` times a
//! gain that starts falling `lookahead` frames before a peak (so it never steps) and recovers
//! over `release`.

use std::collections::VecDeque;

pub struct Limiter {
    channels: usize,
    lookahead: usize,
    ceiling: f32,
    attack: f32,
    release: f32,
    /// Frames waiting for the gain that reaches them.
    delay: VecDeque<f32>,
    /// (frame index, gain that frame needs), increasing gains: the sliding window's minimum.
    needs: VecDeque<(u64, f32)>,
    /// The gain each delayed frame needs itself.
    own: VecDeque<f32>,
    pushed: u64,
    popped: u64,
    gain: f32,
}

impl Limiter {
    /// A limiter holding sample peaks at `ceiling_db` dBFS, seeing `lookahead_ms` ahead and
    /// recovering over `release_ms`.
    pub fn new(channels: u16, rate: u32, ceiling_db: f32, lookahead_ms: u64, release_ms: u64) -> Self {
        let lookahead = redub_core::ms_to_samples(lookahead_ms, rate).max(1);
        let release = redub_core::ms_to_samples(release_ms, rate).max(1);
        Self {
            channels: channels.max(1) as usize,
            lookahead,
            ceiling: crate::db_to_gain(ceiling_db),
            // Within e^-6 (0.25%) of the target by the end of the look-ahead.
            attack: (-6.0 / lookahead as f32).exp(),
            release: (-1.0 / release as f32).exp(),
            delay: VecDeque::new(),
            needs: VecDeque::new(),
            own: VecDeque::new(),
            pushed: 0,
            popped: 0,
            gain: 1.0,
        }
    }

    /// Feed interleaved frames; returns the frames that are ready (as many as fed, once the
    /// look-ahead is full).
    pub fn push(&mut self, input: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(input.len());
        for frame in input.chunks_exact(self.channels) {
            let peak = frame.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let need = if peak > self.ceiling { self.ceiling / peak } else { 1.0 };
            while self.needs.back().is_some_and(|&(_, g)| g >= need) {
                self.needs.pop_back();
            }
            self.needs.push_back((self.pushed, need));
            self.own.push_back(need);
            self.pushed += 1;
            self.delay.extend(frame);
            if self.pushed as usize > self.lookahead {
                self.pop_frame(&mut out);
            }
        }
        out
    }

    /// The frames still held back.
    pub fn finish(mut self) -> Vec<f32> {
        let mut out = Vec::new();
        while self.popped < self.pushed {
            self.pop_frame(&mut out);
        }
        out
    }

    fn pop_frame(&mut self, out: &mut Vec<f32>) {
        let t = self.popped;
        // The smallest gain any frame from t to t + lookahead needs.
        while self.needs.front().is_some_and(|&(i, _)| i < t) {
            self.needs.pop_front();
        }
        let target = self.needs.front().map_or(1.0, |&(_, g)| g);
        let coeff = if target < self.gain { self.attack } else { self.release };
        self.gain = target + (self.gain - target) * coeff;
        // Never above what this frame itself needs: the attack's tail is cut, not the peak.
        let own = self.own.pop_front().unwrap_or(1.0);
        let g = self.gain.min(own);
        for _ in 0..self.channels {
            let x = self.delay.pop_front().unwrap_or(0.0);
            out.push(x * g);
        }
        self.popped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lim: Limiter, x: &[f32], block: usize) -> Vec<f32> {
        let mut lim = lim;
        let mut out = Vec::new();
        for b in x.chunks(block) {
            out.extend(lim.push(b));
        }
        out.extend(lim.finish());
        out
    }

    #[test]
    fn quiet_audio_passes_untouched_and_aligned() {
        let x: Vec<f32> = (0..5000).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
        let y = run(Limiter::new(1, 1000, -1.0, 5, 50), &x, 777);
        assert_eq!(y, x);
    }

    #[test]
    fn a_click_is_held_at_the_ceiling_without_moving() {
        let mut x: Vec<f32> = (0..4000).map(|i| 0.2 * (i as f32 * 0.07).sin()).collect();
        x[2000] = 1.5;
        let y = run(Limiter::new(1, 1000, -1.0, 5, 50), &x, 333);
        let ceiling = crate::db_to_gain(-1.0);
        assert_eq!(y.len(), x.len());
        assert!(y.iter().all(|v| v.abs() <= ceiling + 1e-6), "max {}", y.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        let at = y.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).map(|(i, _)| i);
        assert_eq!(at, Some(2000), "the click stays where it was");
        // Far from the click nothing changes.
        assert_eq!(&y[..1900], &x[..1900]);
        assert!((y[3500] - x[3500]).abs() < 1e-3);
    }

    #[test]
    fn stereo_frames_share_one_gain() {
        let mut x = vec![0.1f32; 2 * 1000];
        x[2 * 500] = 2.0; // left only
        let y = run(Limiter::new(2, 1000, -1.0, 5, 50), &x, 100);
        assert!(y[2 * 500] <= crate::db_to_gain(-1.0) + 1e-6);
        assert!(y[2 * 500 + 1] < 0.1, "the right channel goes down with the left");
    }
}
