//! Speech and background stems of a mix: the model on the widened speech regions only, its
//! speech estimate aligned to the sample and faded in and out at the region edges, and the
//! background as what is left of the mix.

use crate::model::{DeepFilter, HOP, RATE};
use crate::plan::{edge_weights, widened_regions};
use redub_core::{ms_to_samples, Audio, Ctx, Error, Result, Span};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How a mix with several channels is separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMode {
    /// The model runs once on the mid (the channels' mean); each channel subtracts that estimate
    /// scaled by its own least-squares gain per region (1 for centred speech, up to the channel
    /// count for speech in one channel only). One model pass whatever the channel count.
    Mid,
    /// The model runs on every channel on its own: channel-count times the work.
    PerChannel,
}

/// Settings of [`DeepFilter::separate`].
#[derive(Clone, Debug, PartialEq)]
pub struct SeparateSettings {
    /// Audio kept on each side of a speech region (default 300 ms): VAD edges are tight and
    /// breaths and word tails reach past them. Regions whose margins touch are merged.
    pub margin_ms: u64,
    /// Raised-cosine fade of the speech estimate at the edges of each widened region (default
    /// 20 ms), inside the margin, where there should be little speech left to subtract.
    pub crossfade_ms: u64,
    /// Audio the model hears before each widened region without it being used (default
    /// 500 ms): the model's running feature normalisation (a 1 s time constant) settles there,
    /// and the resampler's edge falls there. Measured on the tests' mix: background SI-SDR
    /// inside speech 2.97 dB with none, 3.01 with 100 ms, 3.30 with 500 ms, 3.45 with 1 s.
    pub preroll_ms: u64,
    /// Regions (or channels) processed side by side, each on its own thread and model state;
    /// 0 means one per core.
    pub threads: usize,
    /// See [`ChannelMode`]; `Mid` by default (measured in docs/separation.md).
    pub channels: ChannelMode,
}

impl Default for SeparateSettings {
    fn default() -> Self {
        Self { margin_ms: 300, crossfade_ms: 20, preroll_ms: 500, threads: 0, channels: ChannelMode::Mid }
    }
}

/// One channel's stems: `speech + background` equals the mix sample for sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Stems {
    pub speech: Audio,
    pub background: Audio,
}

/// One model run: a widened region of one input (the mid, or one channel). Pieces are
/// independent (each its own model state), so another process with the same model and mix
/// gives the same estimate ([`DeepFilter::separate_piece`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Piece {
    /// The widened region, in samples of the mix.
    pub span: (usize, usize),
    /// What the model hears: the span plus context, clamped to the mix.
    pub heard: (usize, usize),
    /// `None` for the mid, else the channel.
    pub channel: Option<usize>,
}

/// The pieces [`DeepFilter::separate_channels`] runs the model on for these `channels`, in the
/// order [`assemble_stems`] takes their estimates.
pub fn plan_pieces(channels: &[Audio], regions: &[Span], settings: &SeparateSettings) -> Result<Vec<Piece>> {
    let (rate, len) = check_channels(channels)?;
    let fade = ms_to_samples(settings.crossfade_ms, rate);
    let spans =
        split_long(&widened_regions(regions, settings.margin_ms, rate, len), ms_to_samples(PIECE_MS, rate), fade);
    Ok(plan_jobs(&spans, channels.len(), settings, rate, len))
}

/// What one piece's model run hears, on its own: the heard samples (the mid or the piece's
/// channel, mono) and the piece moved onto them (heard from 0). The estimate depends on nothing
/// else, so [`DeepFilter::separate_piece`] on these gives the samples it gives on the whole mix:
/// a worker is sent the speech it separates, not the film's whole mix.
pub fn cut_piece(channels: &[Audio], piece: &Piece) -> Result<(Audio, Piece)> {
    let (rate, len) = check_channels(channels)?;
    check_piece(piece, channels.len(), len)?;
    let h = piece.heard.0;
    let local = Piece { span: (piece.span.0 - h, piece.span.1 - h), heard: (0, piece.heard.1 - h), channel: None };
    Ok((Audio::new(rate, heard_signal(channels, piece)), local))
}

/// The stems of `channels` from each piece's speech estimate (`estimates[i]` over
/// `pieces[i].span`, as [`DeepFilter::separate_piece`] gives it): what
/// [`DeepFilter::separate_channels`] returns when the pieces ran elsewhere.
pub fn assemble_stems(
    channels: &[Audio],
    pieces: &[Piece],
    estimates: &[Vec<f32>],
    settings: &SeparateSettings,
) -> Result<Vec<Stems>> {
    let (rate, len) = check_channels(channels)?;
    if pieces.len() != estimates.len() {
        return Err(Error::backend(
            "deepfilter",
            format!("{} pieces were separated, {} estimates came back", pieces.len(), estimates.len()),
        ));
    }
    for (p, e) in pieces.iter().zip(estimates) {
        check_piece(p, channels.len(), len)?;
        if e.len() != p.span.1 - p.span.0 {
            return Err(Error::backend(
                "deepfilter",
                format!("the estimate of samples {}..{} has {} samples", p.span.0, p.span.1, e.len()),
            ));
        }
    }
    Ok(assemble(channels, pieces, estimates, ms_to_samples(settings.crossfade_ms, rate)))
}

/// A piece that lies outside the mix (another mix's plan) is an error, not a panic.
fn check_piece(p: &Piece, n_channels: usize, len: usize) -> Result<()> {
    let (s, h) = (p.span, p.heard);
    if h.0 > s.0 || s.0 >= s.1 || s.1 > h.1 || h.1 > len || p.channel.is_some_and(|c| c >= n_channels) {
        return Err(Error::Usage(format!(
            "separation: piece {p:?} does not fit a mix of {n_channels} channels of {len} samples"
        )));
    }
    Ok(())
}

impl DeepFilter {
    /// Split mono `mix` into speech and background; see [`separate_channels`](Self::separate_channels).
    pub fn separate(&self, mix: &Audio, regions: &[Span], settings: &SeparateSettings, ctx: &Ctx) -> Result<Stems> {
        let mut stems = self.separate_channels(std::slice::from_ref(mix), regions, settings, ctx)?;
        stems.pop().ok_or_else(|| Error::backend("deepfilter", "no stems for a mono mix"))
    }

    /// Split each channel of a mix (same rate and length each) into speech and background.
    ///
    /// The model runs only on `regions` widened by `margin_ms` (merged where they touch),
    /// resampled to 48 kHz and back when the mix has another rate. Outside them the speech stem
    /// is silent and the background is the mix itself; at their edges the speech estimate fades
    /// in and out. The estimate is aligned to the sample (the model's delay is compensated), so
    /// the background, `mix − speech`, keeps every sound where it was.
    pub fn separate_channels(
        &self,
        channels: &[Audio],
        regions: &[Span],
        settings: &SeparateSettings,
        ctx: &Ctx,
    ) -> Result<Vec<Stems>> {
        let jobs = plan_pieces(channels, regions, settings)?;
        let estimates = self.run_jobs(channels, &jobs, settings.threads, channels[0].rate, ctx)?;
        assemble_stems(channels, &jobs, &estimates, settings)
    }

    /// One piece's speech estimate over its span, at the mix rate (`channels` as given to
    /// [`separate_channels`](Self::separate_channels), `piece` one of [`plan_pieces`]'s).
    pub fn separate_piece(&self, channels: &[Audio], piece: &Piece, ctx: &Ctx) -> Result<Vec<f32>> {
        let (rate, len) = check_channels(channels)?;
        check_piece(piece, channels.len(), len)?;
        let total = ms_to_samples(heard_ms(piece, rate), RATE).div_ceil(HOP) as u64 + 3;
        let done = AtomicU64::new(0);
        let tick = |frames: usize| -> Result<()> {
            let d = done.fetch_add(frames as u64, Ordering::Relaxed) + frames as u64;
            ctx.progress(d.min(total), total);
            ctx.check_cancel()
        };
        self.run_job(channels, piece, rate, &tick)
    }

    /// Every job's speech estimate over its span (mix rate), in job order, `threads` at a time.
    fn run_jobs(
        &self,
        channels: &[Audio],
        jobs: &[Piece],
        threads: usize,
        rate: u32,
        ctx: &Ctx,
    ) -> Result<Vec<Vec<f32>>> {
        let frames_of = |j: &Piece| ms_to_samples(heard_ms(j, rate), RATE).div_ceil(HOP) as u64 + 3;
        let total: u64 = jobs.iter().map(frames_of).sum::<u64>() * 10;
        let done = AtomicU64::new(0);
        let tick = |frames: usize| -> Result<()> {
            let d = done.fetch_add(frames as u64 * 10, Ordering::Relaxed) + frames as u64 * 10;
            ctx.progress(d.min(total), total);
            ctx.check_cancel()
        };
        let threads =
            if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
        let workers = threads.min(jobs.len()).max(1);
        ctx.progress(0, total);
        if workers == 1 {
            return jobs.iter().map(|j| self.run_job(channels, j, rate, &tick)).collect();
        }
        // Longest first: the threads then finish close together (results stay in job order).
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].heard.1 - jobs[i].heard.0));
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Vec<f32>>>>> = Mutex::new(jobs.iter().map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let r = self.run_job(channels, &jobs[i], rate, &tick);
                        if r.is_err() {
                            // The call fails anyway: the other threads stop after their current job.
                            next.store(jobs.len(), Ordering::Relaxed);
                        }
                        match results.lock() {
                            Ok(mut all) => all[i] = Some(r),
                            Err(_) => break,
                        }
                    }
                });
            }
        });
        let results = results.into_inner().map_err(|_| Error::backend("deepfilter", "a separation thread panicked"))?;
        collect_in_order(results)
    }

    /// One job: what the model hears, at 48 kHz, through the model, back at the mix rate, cut
    /// to the job's span.
    fn run_job(
        &self,
        channels: &[Audio],
        job: &Piece,
        rate: u32,
        tick: &(dyn Fn(usize) -> Result<()> + Sync),
    ) -> Result<Vec<f32>> {
        let heard = heard_signal(channels, job);
        let at_48k = redub_dsp::resample(&Audio::new(rate, heard), RATE)?;
        let speech = self.speech_estimate(&at_48k.samples, &mut |frames| tick(frames))?;
        let mut back = redub_dsp::resample(&Audio::new(RATE, speech), rate)?.samples;
        // The two conversions keep sample positions but may round the length by one sample.
        back.resize(job.heard.1 - job.heard.0, 0.0);
        Ok(back[job.span.0 - job.heard.0..job.span.1 - job.heard.0].to_vec())
    }
}

fn check_channels(channels: &[Audio]) -> Result<(u32, usize)> {
    let first =
        channels.first().ok_or_else(|| Error::Usage("separation needs at least one channel of audio".into()))?;
    if first.rate == 0 {
        return Err(Error::Usage("separation: the mix has a sample rate of 0 Hz".into()));
    }
    if let Some((i, c)) =
        channels.iter().enumerate().find(|(_, c)| c.rate != first.rate || c.samples.len() != first.samples.len())
    {
        return Err(Error::Usage(format!(
            "separation: channel {i} has {} samples at {} Hz, channel 0 {} at {} Hz; all channels must match",
            c.samples.len(),
            c.rate,
            first.samples.len(),
            first.rate
        )));
    }
    Ok((first.rate, first.samples.len()))
}

/// Longest stretch one model state runs over: longer spans are cut into equal pieces, so that
/// one long scene (the sample is a single 24 s span) still keeps every core busy. The cut does
/// not depend on the thread count, so neither does the result.
const PIECE_MS: u64 = 15_000;

/// `spans` with every span longer than `piece` samples cut into equal pieces that overlap by
/// `fade` samples: each piece fades out where the next fades in, and the two raised-cosine ramps
/// sum to 1, so the joined estimate has no seam.
fn split_long(spans: &[(usize, usize)], piece: usize, fade: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &(a, b) in spans {
        let len = b - a;
        let n = len.div_ceil(piece.max(1)).max(1);
        if n == 1 || len / n <= 4 * fade {
            out.push((a, b));
            continue;
        }
        let cut = |k: usize| a + len * k / n;
        for k in 0..n {
            let start = if k == 0 { a } else { cut(k) - fade / 2 };
            let end = if k + 1 == n { b } else { cut(k + 1) - fade / 2 + fade };
            out.push((start, end));
        }
    }
    out
}

/// Audio the model hears after each widened region: its 20 ms look-ahead then hears the mix
/// rather than padding, and the resampler's edge falls outside the region.
const AFTER_MS: u64 = 100;

fn plan_jobs(
    spans: &[(usize, usize)],
    n_channels: usize,
    settings: &SeparateSettings,
    rate: u32,
    len: usize,
) -> Vec<Piece> {
    let (before, after) = (ms_to_samples(settings.preroll_ms, rate), ms_to_samples(AFTER_MS, rate));
    let inputs: Vec<Option<usize>> = match (settings.channels, n_channels) {
        (ChannelMode::PerChannel, n) if n > 1 => (0..n).map(Some).collect(),
        _ => vec![None],
    };
    spans
        .iter()
        .flat_map(|&span| {
            let heard = (span.0.saturating_sub(before), (span.1 + after).min(len));
            inputs.iter().map(move |&channel| Piece { span, heard, channel })
        })
        .collect()
}

fn heard_ms(job: &Piece, rate: u32) -> u64 {
    ((job.heard.1 - job.heard.0) as u64 * 1000).div_ceil(rate as u64)
}

/// The samples a job's model hears: one channel, or the mean of all.
fn heard_signal(channels: &[Audio], job: &Piece) -> Vec<f32> {
    let (a, b) = job.heard;
    match job.channel {
        Some(c) => channels[c].samples[a..b].to_vec(),
        None if channels.len() == 1 => channels[0].samples[a..b].to_vec(),
        None => {
            let scale = 1.0 / channels.len() as f32;
            (a..b).map(|i| channels.iter().map(|c| c.samples[i]).sum::<f32>() * scale).collect()
        }
    }
}

fn collect_in_order(results: Vec<Option<Result<Vec<f32>>>>) -> Result<Vec<Vec<f32>>> {
    // The real error first, not a job left undone because of it.
    let mut out = Vec::with_capacity(results.len());
    let mut skipped = false;
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => return Err(e),
            None => skipped = true,
        }
    }
    if skipped {
        return Err(Error::backend("deepfilter", "a separation job did not run"));
    }
    Ok(out)
}

/// Speech stems from the estimates (faded at the edges; the mid's scaled per channel), and the
/// backgrounds as mix minus speech.
fn assemble(channels: &[Audio], jobs: &[Piece], estimates: &[Vec<f32>], fade: usize) -> Vec<Stems> {
    let rate = channels[0].rate;
    let mut speech: Vec<Vec<f32>> = channels.iter().map(|c| vec![0.0; c.samples.len()]).collect();
    for (job, est) in jobs.iter().zip(estimates) {
        let (a, b) = job.span;
        let weights = edge_weights(b - a, fade);
        let targets: Vec<(usize, f32)> = match job.channel {
            Some(c) => vec![(c, 1.0)],
            None if channels.len() == 1 => vec![(0, 1.0)],
            None => (0..channels.len())
                .map(|c| (c, channel_gain(&channels[c].samples[a..b], est, channels.len())))
                .collect(),
        };
        for (c, gain) in targets {
            // Added, not written: the pieces of a long span overlap by one fade.
            for ((s, &e), &w) in speech[c][a..b].iter_mut().zip(est).zip(&weights) {
                *s += e * w * gain;
            }
        }
    }
    channels
        .iter()
        .zip(speech)
        .map(|(mix, speech)| {
            let background = mix.samples.iter().zip(&speech).map(|(m, s)| m - s).collect();
            Stems { speech: Audio::new(rate, speech), background: Audio::new(rate, background) }
        })
        .collect()
}

/// How much of the mid's speech estimate `est` is in channel `x`: the least-squares gain
/// `<x, est> / <est, est>`, clamped to `0..=n` (the mean of `n` channels holds `1/n` of speech
/// that only one channel carries). 0 when the estimate is silent.
fn channel_gain(x: &[f32], est: &[f32], n: usize) -> f32 {
    let (mut xe, mut ee) = (0.0f64, 0.0f64);
    for (&x, &e) in x.iter().zip(est) {
        xe += x as f64 * e as f64;
        ee += e as f64 * e as f64;
    }
    if ee <= 1e-12 {
        return 0.0;
    }
    (xe / ee).clamp(0.0, n as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_finds_the_share_of_each_channel() {
        let est: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin()).collect();
        let half: Vec<f32> = est.iter().map(|e| e * 0.5).collect();
        assert!((channel_gain(&est, &est, 2) - 1.0).abs() < 1e-6);
        assert!((channel_gain(&half, &est, 2) - 0.5).abs() < 1e-6);
        let double: Vec<f32> = est.iter().map(|e| e * 2.0).collect();
        assert_eq!(channel_gain(&double, &est, 1), 1.0);
        assert_eq!(channel_gain(&est, &[0.0; 1000], 2), 0.0);
    }

    #[test]
    fn jobs_cover_each_region_once_per_input() {
        let settings = SeparateSettings { preroll_ms: 500, ..Default::default() };
        let jobs = plan_jobs(&[(0, 1000), (5000, 6000)], 2, &settings, 1000, 6050);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].heard, (0, 1100));
        assert_eq!(jobs[1].heard, (4500, 6050));
        let per = SeparateSettings { channels: ChannelMode::PerChannel, ..settings };
        assert_eq!(plan_jobs(&[(0, 1000)], 2, &per, 1000, 6050).len(), 2);
        assert_eq!(plan_jobs(&[(0, 1000)], 1, &per, 1000, 6050).len(), 1);
    }

    #[test]
    fn long_spans_become_overlapping_pieces_whose_fades_sum_to_one() {
        assert_eq!(split_long(&[(0, 100)], 150, 10), vec![(0, 100)]);
        let pieces = split_long(&[(1000, 1300)], 150, 10);
        assert_eq!(pieces, vec![(1000, 1155), (1145, 1300)]);
        // Weights of the two pieces over the whole span: 1 everywhere inside it but the outer fades.
        let mut sum = vec![0.0f32; 300];
        for &(a, b) in &pieces {
            for (i, w) in edge_weights(b - a, 10).into_iter().enumerate() {
                sum[a - 1000 + i] += w;
            }
        }
        assert!(sum[10..290].iter().all(|&w| (w - 1.0).abs() < 1e-6), "{:?}", &sum[140..160]);
        assert_eq!(split_long(&[(0, 1000)], 300, 10).len(), 4);
    }

    #[test]
    fn bad_channel_sets_are_errors() {
        assert!(check_channels(&[]).is_err());
        assert!(check_channels(&[Audio::new(0, vec![0.0; 4])]).is_err());
        assert!(check_channels(&[Audio::new(48_000, vec![0.0; 4]), Audio::new(48_000, vec![0.0; 5])]).is_err());
        assert!(check_channels(&[Audio::new(48_000, vec![0.0; 4]), Audio::new(44_100, vec![0.0; 4])]).is_err());
        assert_eq!(check_channels(&[Audio::new(48_000, vec![0.0; 4])]).unwrap_or_default(), (48_000, 4));
    }
}
