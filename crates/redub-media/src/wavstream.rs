//! WAV files read and written a block at a time, so a two-hour track never has to be in memory:
//! [`WavBlocks`] reads frames in order (or from a frame on), [`WavSink`] writes them through a
//! temporary file renamed into place by [`WavSink::finish`].

use crate::fsutil::PartFile;
use crate::wav::{hound_error, WavFormat};
use redub_core::{Error, Result};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// A WAV file's frames, in blocks.
pub struct WavBlocks {
    reader: hound::WavReader<BufReader<std::fs::File>>,
    path: PathBuf,
    pub rate: u32,
    pub channels: u16,
    /// Frames in the file.
    pub frames: usize,
    float: bool,
    scale: f64,
}

impl WavBlocks {
    pub fn open(path: &Path) -> Result<Self> {
        let reader = hound::WavReader::open(path).map_err(|e| hound_error(path, e))?;
        let spec = reader.spec();
        let frames = reader.duration() as usize;
        Ok(Self {
            reader,
            path: path.to_path_buf(),
            rate: spec.sample_rate,
            channels: spec.channels.max(1),
            frames,
            float: spec.sample_format == hound::SampleFormat::Float,
            scale: 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f64,
        })
    }

    /// Continue reading at `frame` (clamped to the end).
    pub fn seek(&mut self, frame: usize) -> Result<()> {
        let frame = frame.min(self.frames) as u32;
        self.reader.seek(frame).map_err(|e| Error::io(&self.path, e))
    }

    /// The next `frames` frames, interleaved, in [-1, 1]; fewer at the end of the file (none
    /// after it).
    pub fn read(&mut self, frames: usize) -> Result<Vec<f32>> {
        let n = frames * self.channels as usize;
        let path = &self.path;
        if self.float {
            self.reader
                .samples::<f32>()
                .take(n)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| hound_error(path, e))
        } else {
            let scale = self.scale;
            self.reader
                .samples::<i32>()
                .take(n)
                .map(|s| s.map(|v| (v as f64 * scale) as f32))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| hound_error(path, e))
        }
    }

    /// `frames` frames from `frame` on, mixed down to mono.
    pub fn read_mono_at(&mut self, frame: usize, frames: usize) -> Result<Vec<f32>> {
        self.seek(frame)?;
        let block = self.read(frames)?;
        Ok(crate::wav::downmix(&block, self.channels))
    }
}

/// A WAV file written a block at a time; it appears under its name only after
/// [`finish`](Self::finish).
pub struct WavSink {
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    part: PartFile,
    /// Where the file goes: what errors name.
    path: PathBuf,
    format: WavFormat,
    channels: u16,
}

impl WavSink {
    pub fn create(path: &Path, rate: u32, channels: u16, format: WavFormat) -> Result<Self> {
        if rate == 0 || channels == 0 {
            let msg = format!("cannot write WAV: rate {rate}, {channels} channels");
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)));
        }
        let part = PartFile::new(path)?;
        let spec = match format {
            WavFormat::F32 => hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            },
            WavFormat::I16 => hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        };
        let writer = hound::WavWriter::create(part.path(), spec).map_err(|e| hound_error(path, e))?;
        Ok(Self { writer, part, path: path.to_path_buf(), format, channels })
    }

    /// Append interleaved samples (a whole number of frames).
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        debug_assert_eq!(samples.len() % self.channels as usize, 0);
        for &s in samples {
            let r = match self.format {
                WavFormat::F32 => self.writer.write_sample(s),
                WavFormat::I16 => self.writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16),
            };
            r.map_err(|e| hound_error(&self.path, e))?;
        }
        Ok(())
    }

    /// Close the file and move it into place.
    pub fn finish(self) -> Result<()> {
        self.writer.finalize().map_err(|e| hound_error(&self.path, e))?;
        self.part.commit()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blocks_read_back_what_the_sink_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        let mut sink = WavSink::create(&p, 8000, 2, WavFormat::F32).unwrap();
        let all: Vec<f32> = (0..2000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        for chunk in all.chunks(300) {
            sink.write(chunk).unwrap();
        }
        assert!(!p.exists(), "not in place before finish");
        sink.finish().unwrap();
        let mut r = WavBlocks::open(&p).unwrap();
        assert_eq!((r.rate, r.channels, r.frames), (8000, 2, 1000));
        let mut back = Vec::new();
        loop {
            let b = r.read(333).unwrap();
            if b.is_empty() {
                break;
            }
            back.extend(b);
        }
        assert_eq!(back, all);
        let mono = r.read_mono_at(10, 2).unwrap();
        assert_eq!(mono, [(all[20] + all[21]) / 2.0, (all[22] + all[23]) / 2.0]);
        assert!(r.read_mono_at(5000, 10).unwrap().is_empty(), "past the end: nothing");
    }

    #[test]
    fn sixteen_bit_files_read_back_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("y.wav");
        let mut sink = WavSink::create(&p, 16_000, 1, WavFormat::I16).unwrap();
        sink.write(&[0.5, -0.5, 2.0]).unwrap();
        sink.finish().unwrap();
        let got = WavBlocks::open(&p).unwrap().read(10).unwrap();
        assert!((got[0] - 0.5).abs() < 1e-4 && (got[1] + 0.5).abs() < 1e-4 && (got[2] - 1.0).abs() < 1e-4, "{got:?}");
    }
}
