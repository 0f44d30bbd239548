//! Kokoro's real-time factor on this machine: compute seconds per second of speech, for
//! 1 and 2 ONNX Runtime threads, over a few Spanish lines of dialogue length.
//! `cargo run -p redub-tts --example kokoro_rtf [REPEATS]`

use redub_core::Synthesizer;
use std::time::Instant;

const LINES: &[&str] = &[
    "¿Hola? Ah, hola, no sabía que estabas ahí.",
    "Yo tampoco. Pensé que ya te habías ido a casa hace un rato.",
    "Tenemos que hablar de lo que pasó ayer en la oficina, antes de que llegue el resto del equipo.",
    "Vale.",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    for threads in [1, 2] {
        let mut k = redub_tts::Kokoro::load_with_threads(threads)?;
        let voice = k.voices("es").into_iter().next().unwrap_or_default();
        k.synthesize("Hola.", "es", &voice, 1.0)?; // warm-up
        let (mut speech_ms, t0) = (0u64, Instant::now());
        for _ in 0..repeats {
            for l in LINES {
                speech_ms += k.synthesize(l, "es", &voice, 1.0)?.duration_ms();
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        println!(
            "threads {threads}: {:.1} s of speech in {wall:.1} s: real-time factor {:.2}",
            speech_ms as f64 / 1000.0,
            wall / (speech_ms as f64 / 1000.0)
        );
    }
    Ok(())
}
