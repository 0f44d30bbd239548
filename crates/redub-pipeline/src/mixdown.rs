//! The dubbed track, built a block at a time over the whole input: the bed (03-separate's
//! background stem, the original ducked under speech, or nothing) plus the fitted clips, each
//! read only while it sounds. A two-hour film needs no more memory than a two-minute one
//! beyond the clips of the lines being placed. Two passes: one measures the loudness and true
//! peak the sum would have, the other writes it with the gain that matches the source.

use crate::render::DUCK_DB;
use redub_core::{ms_to_samples, Result};
use redub_dsp::LoudnessMeter;
use redub_media::{WavBlocks, WavFormat, WavSink};
use std::path::{Path, PathBuf};

/// Frames per block: a second at 48 kHz.
const BLOCK: usize = 48_000;
/// Ramp of the ducking at the edges of speech (as the render always had).
const DUCK_RAMP_MS: u64 = 150;

/// What the dub goes over.
#[derive(Clone, Debug)]
pub enum Bed {
    /// A background stem with the mix's rate and channels.
    Stem(PathBuf),
    /// The mix itself, turned down by [`DUCK_DB`] inside `spans` (frames) with ramps.
    Ducked { mix: PathBuf, spans: Vec<(usize, usize)> },
    /// Nothing: the voices alone.
    Silent,
}

/// A fitted clip on disk (mono, the render rate), where it starts and whose it is.
#[derive(Clone, Debug)]
pub struct Placed {
    pub start: usize,
    pub file: PathBuf,
    /// Index into the speakers list.
    pub speaker: usize,
}

/// The track's shape.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub rate: u32,
    pub channels: u16,
    pub frames: usize,
}

/// Loudness of the source (`mix`) and of the dub before any gain.
#[derive(Clone, Copy, Debug)]
pub struct Levels {
    pub source_lufs: f64,
    pub dub_lufs: f64,
    /// Highest true peak over the channels, dBTP.
    pub dub_true_peak_db: f64,
}

struct BedReader {
    bed: Bed,
    reader: Option<WavBlocks>,
    channels: usize,
    ramp: usize,
    duck_gain: f32,
}

impl BedReader {
    fn open(bed: &Bed, shape: Shape) -> Result<Self> {
        let reader = match bed {
            Bed::Stem(p) | Bed::Ducked { mix: p, .. } => Some(WavBlocks::open(p)?),
            Bed::Silent => None,
        };
        Ok(Self {
            bed: bed.clone(),
            reader,
            channels: shape.channels.max(1) as usize,
            ramp: ms_to_samples(DUCK_RAMP_MS, shape.rate).max(1),
            duck_gain: redub_dsp::db_to_gain(DUCK_DB),
        })
    }

    /// `n` frames from `start` (read in order), interleaved; zeros past the file's end.
    fn block(&mut self, start: usize, n: usize) -> Result<Vec<f32>> {
        let mut out = match &mut self.reader {
            Some(r) => r.read(n)?,
            None => Vec::new(),
        };
        out.resize(n * self.channels, 0.0);
        if let Bed::Ducked { spans, .. } = &self.bed {
            let depth = redub_dsp::duck_depth(spans, start, n, self.ramp);
            for (frame, d) in out.chunks_exact_mut(self.channels).zip(depth) {
                let g = 1.0 - d * (1.0 - self.duck_gain);
                frame.iter_mut().for_each(|x| *x *= g);
            }
        }
        Ok(out)
    }
}

/// The clips sounding in each block, loaded when they start and dropped when they end.
struct Voices<'a> {
    placed: &'a [Placed],
    next: usize,
    active: Vec<(usize, Vec<f32>, usize)>,
    speakers: usize,
}

impl<'a> Voices<'a> {
    fn new(placed: &'a [Placed], speakers: usize) -> Self {
        Self { placed, next: 0, active: Vec::new(), speakers }
    }

    /// Per speaker, the mono voice track over `[start, start + n)`.
    fn block(&mut self, start: usize, n: usize) -> Result<Vec<Vec<f32>>> {
        let end = start + n;
        while let Some(p) = self.placed.get(self.next).filter(|p| p.start < end) {
            let audio = redub_media::read_wav_mono(&p.file)?;
            self.active.push((p.start, audio.samples, p.speaker));
            self.next += 1;
        }
        let mut out = vec![vec![0.0f32; n]; self.speakers.max(1)];
        for (at, samples, speaker) in &self.active {
            let from = start.max(*at);
            let to = end.min(at + samples.len());
            for i in from..to {
                out[*speaker][i - start] += samples[i - at];
            }
        }
        self.active.retain(|(at, s, _)| at + s.len() > end);
        Ok(out)
    }
}

/// Sum of the speakers' voices.
fn all_voices(per_speaker: &[Vec<f32>], n: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; n];
    for s in per_speaker {
        v.iter_mut().zip(s).for_each(|(a, b)| *a += b);
    }
    v
}

/// Each block of the dub before gain: the bed plus the voices, with the voices per speaker.
fn each_block(
    bed: &Bed,
    placed: &[Placed],
    speakers: usize,
    shape: Shape,
    mut f: impl FnMut(usize, &[f32], &[Vec<f32>]) -> Result<()>,
) -> Result<()> {
    let mut bed = BedReader::open(bed, shape)?;
    let mut voices = Voices::new(placed, speakers);
    let ch = shape.channels.max(1) as usize;
    let mut start = 0;
    while start < shape.frames {
        let n = BLOCK.min(shape.frames - start);
        let mut out = bed.block(start, n)?;
        let per_speaker = voices.block(start, n)?;
        let v = all_voices(&per_speaker, n);
        for (frame, s) in out.chunks_exact_mut(ch).zip(&v) {
            frame.iter_mut().for_each(|x| *x += s);
        }
        f(start, &out, &per_speaker)?;
        start += n;
    }
    Ok(())
}

/// The source's loudness (`mix`, all channels) and the dub's loudness and true peak, before
/// any gain.
pub fn measure(bed: &Bed, placed: &[Placed], speakers: usize, shape: Shape, mix: &Path) -> Result<Levels> {
    let mut dub = LoudnessMeter::new(shape.channels, shape.rate, true)?;
    let mut source = LoudnessMeter::new(shape.channels, shape.rate, false)?;
    let mut original = WavBlocks::open(mix)?;
    each_block(bed, placed, speakers, shape, |_, out, _| {
        dub.add(out)?;
        let m = original.read(out.len() / shape.channels.max(1) as usize)?;
        if !m.is_empty() {
            source.add(&m)?;
        }
        Ok(())
    })?;
    Ok(Levels { source_lufs: source.integrated()?, dub_lufs: dub.integrated()?, dub_true_peak_db: dub.true_peak_db()? })
}

/// Where [`write`] puts the dub and its stems.
pub struct Outputs<'a> {
    pub dub: &'a Path,
    /// The dubbed voices alone (mono), after the same gain.
    pub voices: &'a Path,
    /// One mono file per speaker: `<dir>/<speaker>.wav`.
    pub speakers_dir: &'a Path,
    pub speakers: &'a [String],
}

/// Sample-peak ceiling of the limiter on the final track: true peaks between samples run up to
/// about half a dB above the samples, so this keeps them under −1 dBTP.
pub const LIMIT_DB: f32 = -1.6;
/// How far ahead the limiter sees a peak coming (its gain falls over this much before it).
const LIMIT_LOOKAHEAD_MS: u64 = 3;
const LIMIT_RELEASE_MS: u64 = 80;

/// Write the dub (the mix's rate and channels, 32-bit float) and its voice stems (16-bit),
/// every sample times `gain`; the dub then goes through a look-ahead limiter at [`LIMIT_DB`].
/// Returns the loudness and true peak of the dub as written.
pub fn write(bed: &Bed, placed: &[Placed], shape: Shape, gain: f32, out: &Outputs) -> Result<Written> {
    let mut dub = WavSink::create(out.dub, shape.rate, shape.channels, WavFormat::F32)?;
    let mut voices = WavSink::create(out.voices, shape.rate, 1, WavFormat::I16)?;
    let mut stems = out
        .speakers
        .iter()
        .map(|s| WavSink::create(&out.speakers_dir.join(format!("{s}.wav")), shape.rate, 1, WavFormat::I16))
        .collect::<Result<Vec<_>>>()?;
    let mut limiter =
        redub_dsp::Limiter::new(shape.channels, shape.rate, LIMIT_DB, LIMIT_LOOKAHEAD_MS, LIMIT_RELEASE_MS);
    let mut meter = LoudnessMeter::new(shape.channels, shape.rate, true)?;
    let mut emit = |samples: &[f32], dub: &mut WavSink| -> Result<()> {
        if !samples.is_empty() {
            meter.add(samples)?;
            dub.write(samples)?;
        }
        Ok(())
    };
    each_block(bed, placed, out.speakers.len(), shape, |_, block, per_speaker| {
        let scaled: Vec<f32> = block.iter().map(|x| x * gain).collect();
        emit(&limiter.push(&scaled), &mut dub)?;
        let v: Vec<f32> = all_voices(per_speaker, block.len() / shape.channels.max(1) as usize);
        voices.write(&v.iter().map(|x| x * gain).collect::<Vec<_>>())?;
        for (sink, s) in stems.iter_mut().zip(per_speaker) {
            sink.write(&s.iter().map(|x| x * gain).collect::<Vec<_>>())?;
        }
        Ok(())
    })?;
    emit(&limiter.finish(), &mut dub)?;
    dub.finish()?;
    voices.finish()?;
    stems.into_iter().try_for_each(WavSink::finish)?;
    Ok(Written { lufs: meter.integrated()?, true_peak_db: meter.true_peak_db()? })
}

/// The final track as written.
#[derive(Clone, Copy, Debug)]
pub struct Written {
    pub lufs: f64,
    pub true_peak_db: f64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_ducked_only_under_speech() {
        let dir = tempfile::tempdir().unwrap();
        let mix = dir.path().join("mix.wav");
        redub_media::write_wav_interleaved(&mix, 1000, 2, &vec![1.0f32; 2 * 4000]).unwrap();
        let bed = Bed::Ducked { mix, spans: vec![(1000, 2000)] };
        let shape = Shape { rate: 1000, channels: 2, frames: 4000 };
        let mut out = Vec::new();
        each_block(&bed, &[], 1, shape, |_, b, _| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        let ducked = redub_dsp::db_to_gain(DUCK_DB);
        assert!((out[2 * 100] - 1.0).abs() < 1e-6);
        assert!((out[2 * 1500] - ducked).abs() < 1e-3 && (out[2 * 1500 + 1] - ducked).abs() < 1e-3);
        assert!((out[2 * 3500] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn clips_sound_where_they_are_placed_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let clip = |name: &str, value: f32, len: usize| {
            let p = dir.path().join(name);
            redub_media::write_wav(&p, &redub_core::Audio::new(1000, vec![value; len])).unwrap();
            p
        };
        let placed = vec![
            Placed { start: 100, file: clip("a.wav", 0.5, 300), speaker: 0 },
            Placed { start: BLOCK - 50, file: clip("b.wav", 0.25, 100), speaker: 1 },
        ];
        let shape = Shape { rate: 1000, channels: 2, frames: BLOCK + 200 };
        let mut got = Vec::new();
        each_block(&Bed::Silent, &placed, 2, shape, |start, out, per| {
            assert_eq!(per.len(), 2);
            got.push((start, out.to_vec()));
            Ok(())
        })
        .unwrap();
        let all: Vec<f32> = got.into_iter().flat_map(|(_, b)| b).collect();
        assert_eq!(all.len(), 2 * (BLOCK + 200));
        let at = |f: usize| all[2 * f];
        assert_eq!((at(99), at(100), at(399), at(400)), (0.0, 0.5, 0.5, 0.0));
        assert_eq!((at(BLOCK - 51), at(BLOCK - 50), at(BLOCK + 49), at(BLOCK + 50)), (0.0, 0.25, 0.25, 0.0));
        assert_eq!(all[2 * 100 + 1], 0.5, "every channel");
    }
}
