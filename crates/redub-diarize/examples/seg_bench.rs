//! Time the segmentation model and CAM++ on a WAV (a study tool): `seg_bench FILE.wav`.
use redub_diarize::embed::Embedder;
use redub_diarize::segmentation::{self, Segmenter};

fn main() {
    let path = std::env::args().nth(1).expect("seg_bench FILE.wav");
    let audio = redub_media::read_wav_mono(std::path::Path::new(&path)).expect("read");
    let mut seg = Segmenter::load().expect("segmenter");
    let t = std::time::Instant::now();
    // The pipeline's own step between windows, in samples.
    let step = redub_core::ms_to_samples(redub_diarize::DiarizeSettings::default().step_ms, segmentation::RATE);
    let w = seg.run(&audio.samples, step, &redub_core::Ctx::quiet()).expect("run");
    let on: usize = w.iter().map(|w| w.active.iter().filter(|a| a.iter().any(|x| *x)).count()).sum();
    println!("segmentation: {} windows in {:.2} s ({on} active frames)", w.len(), t.elapsed().as_secs_f64());
    let mut emb = Embedder::load().expect("embedder");
    let t = std::time::Instant::now();
    let mut n = 0;
    for s in (0..audio.samples.len().saturating_sub(48_000)).step_by(48_000) {
        emb.embed(&audio.samples[s..s + 48_000]).expect("embed");
        n += 1;
    }
    println!("cam++: {n} embeddings of 3 s in {:.2} s", t.elapsed().as_secs_f64());
}
