//! How much each dubbed voice of a finished job sounds like its own source speaker: speaker-
//! embedding cosine of every speaker's dubbed clips against every speaker's reference sample,
//! and the median pitch of both (issue #5's offline voice bar).
//!
//! `cargo run -p redub-pipeline --example voice_report -- JOB_DIR`

use redub_core::{Audio, SpeakerEmbedder};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job = PathBuf::from(std::env::args().nth(1).ok_or("usage: voice_report JOB_DIR")?);
    let voices: redub_pipeline::voices::VoiceMap =
        serde_json::from_slice(&std::fs::read(job.join("07-voices/voices.json"))?)?;
    let lines: Vec<redub_pipeline::dub::TranslatedLine> =
        serde_json::from_slice(&std::fs::read(job.join("06-translate/translations.json"))?)?;
    let clips: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(job.join("08-synthesize/clips.json"))?)?;
    let mut embedder = redub_diarize::embed::Embedder::load()?;
    let speakers: Vec<&String> = voices.keys().collect();
    let mut refs = Vec::new();
    let mut dubbed = Vec::new();
    for sp in &speakers {
        let r = redub_media::read_wav_mono(&job.join("07-voices").join(&voices[*sp].reference))?;
        let mut samples = Vec::new();
        let mut rate = 24_000;
        for c in &clips {
            let id = c["id"].as_u64().unwrap_or(u64::MAX);
            if lines.iter().any(|l| u64::from(l.id) == id && &&l.speaker == sp) {
                let a = redub_media::read_wav_mono(
                    &job.join("08-synthesize/clips").join(c["file"].as_str().unwrap_or("")),
                )?;
                rate = a.rate;
                samples.extend(a.samples);
            }
        }
        refs.push(r);
        dubbed.push(Audio::new(rate, samples));
    }
    let re: Vec<Option<Vec<f32>>> =
        refs.iter().map(|a| SpeakerEmbedder::embed(&mut embedder, a)).collect::<Result<_, _>>()?;
    let de: Vec<Option<Vec<f32>>> =
        dubbed.iter().map(|a| SpeakerEmbedder::embed(&mut embedder, a)).collect::<Result<_, _>>()?;
    println!("cosine: rows dubbed voice, columns source speaker");
    print!("{:>16}", "");
    for sp in &speakers {
        print!(" {sp:>8}");
    }
    println!();
    for (i, sp) in speakers.iter().enumerate() {
        print!("{:>16}", format!("{sp} ({})", voices[*sp].voice));
        for r in &re {
            match (&de[i], r) {
                (Some(d), Some(r)) => print!(" {:>8.3}", redub_diarize::cosine(d, r)),
                _ => print!(" {:>8}", "-"),
            }
        }
        println!();
    }
    println!("median F0: speaker, source → dubbed");
    for (i, sp) in speakers.iter().enumerate() {
        let s = redub_dsp::f0_median(&refs[i].samples, refs[i].rate);
        let d = redub_dsp::f0_median(&dubbed[i].samples, dubbed[i].rate);
        println!("{sp:>8} {:>6.0} → {:>6.0} Hz", s.unwrap_or(0.0), d.unwrap_or(0.0));
    }
    Ok(())
}
