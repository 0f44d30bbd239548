//! Translate the sample call's reference transcript (`fixtures/speech-2spk/sample.stm`) into
//! Spanish with a chosen backend and report how many lines fit their word budget: the
//! measurement behind issue #4's "≥ 90 % within budget, none over 1.5 × W_max".
//!
//! `cargo run -p redub-pipeline --example translate_sample -- [local|apertium|openai] [OUT.json]`
//! (`make setup` first; `local` also needs `cargo build -p redub-llm`).

use redub_core::{Ctx, Segment};
use redub_pipeline::TranslatorConfig;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "local".into());
    let out = std::env::args().nth(2);
    let stm =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech-2spk/sample.stm"))?;
    let segments: Vec<Segment> = stm
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ms = |s: &str| (s.parse::<f64>().unwrap_or(0.0) * 1000.0).round() as u64;
            Segment {
                id: i as u32,
                speaker: Some(f[2].to_string()),
                start_ms: ms(f[3]),
                end_ms: ms(f[4]),
                text: f[5..].join(" "),
                words: vec![],
                confidence: 1.0,
                lang: "en".into(),
            }
        })
        .collect();
    let config = TranslatorConfig::from_name(&backend)?.with_env();
    let mut translator = config.build(&redub_translate::LlmSettings::default(), "en", "es")?;
    let t = std::time::Instant::now();
    let lines = redub_pipeline::translate::translate_segments(
        translator.as_mut(),
        &segments,
        "en",
        "es",
        redub_core::lang::words_per_second("es"),
        &redub_translate::Glossary::default(),
        "S1",
        &Ctx::quiet(),
    )?;
    let secs = t.elapsed().as_secs_f64();
    let mut within = 0;
    let mut worst: f64 = 0.0;
    for l in &lines {
        let words = redub_translate::word_count(&l.target_text);
        let ratio = f64::from(words) / f64::from(l.budget_words.max(1));
        worst = worst.max(ratio);
        if words <= l.budget_words {
            within += 1;
        }
        println!("{:>2}/{:<2} {:<48} → {}", words, l.budget_words, l.source_text, l.target_text);
    }
    println!(
        "{backend}: {within}/{} lines within budget ({:.0}%), worst {:.2} × W_max, {:.0} s",
        lines.len(),
        100.0 * within as f64 / lines.len() as f64,
        worst,
        secs
    );
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_vec_pretty(&lines)?)?;
    }
    Ok(())
}
