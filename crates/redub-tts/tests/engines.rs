//! The real engines. These need `make setup` (Kokoro files, espeak-ng) and fail with its
//! message when something is missing, rather than being skipped.

#![allow(clippy::unwrap_used)]

use redub_core::{Audio, Error, Synthesizer};
use redub_tts::{engine_for, phonemize, Espeak, Kokoro};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

const SENTENCE: &str = "Hola, ¿cómo estás? No sabía que estabas ahí.";

/// One Kokoro for all tests: loading it takes seconds and the tests share 2 cores.
fn kokoro() -> MutexGuard<'static, Kokoro> {
    static K: OnceLock<Mutex<Kokoro>> = OnceLock::new();
    K.get_or_init(|| Mutex::new(Kokoro::load().unwrap_or_else(|e| panic!("{e}"))))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn rms(a: &Audio) -> f32 {
    (a.samples.iter().map(|x| x * x).sum::<f32>() / a.samples.len().max(1) as f32).sqrt()
}

#[test]
fn kokoro_speaks_spanish() {
    let mut k = kokoro();
    let t = Instant::now();
    let a = k.synthesize(SENTENCE, "es", "jf_alpha", 1.0).unwrap();
    let took = t.elapsed();
    assert_eq!(a.rate, 24_000);
    let ms = a.duration_ms();
    eprintln!("kokoro: {ms} ms of speech in {took:?} ({:.2} s per s)", took.as_secs_f64() * 1000.0 / ms as f64);
    assert!((500..=8000).contains(&ms), "{ms} ms");
    assert!(rms(&a) > 0.01, "rms {}", rms(&a));
}

#[test]
fn kokoro_plans_the_length_of_a_take_before_speaking_it() {
    let mut k = kokoro();
    // Lines of the sample's dub: one word, a short sentence, two sentences with commas.
    let lines = ["Hola. Hola.", "No te conocí era allí.", SENTENCE, "Vale, pensé, sabes. Esto es Diane en New Jersey."];
    let (mut under, mut over) = (0.0f64, 0.0f64);
    for line in lines {
        let plan = k.plan(line, "es", "jf_tebukuro").unwrap().expect("Kokoro plans its takes (make setup)");
        for speed in [1.0f32, 1.3, 1.45] {
            let planned = plan.ms_at(speed);
            let spoken = k.synthesize(line, "es", "jf_tebukuro", speed).unwrap().duration_ms();
            let error = planned as f64 / spoken as f64 - 1.0;
            println!("{line:?} at {speed}: planned {planned} ms, spoken {spoken} ms ({:+.1}%)", error * 100.0);
            (under, over) = (under.min(error), over.max(error));
        }
    }
    // Frames are exact; what the trimming keeps of the last sound is measured
    // (LAST_SOUND_FRAMES). A plan a little long is safe (the take fits, a little fast); one
    // short would overrun its slot.
    println!("plan errors: {:+.1}% to {:+.1}%", under * 100.0, over * 100.0);
    assert!(under > -0.03 && over < 0.08, "plan errors {:+.1}% to {:+.1}%", under * 100.0, over * 100.0);
    assert_eq!(k.plan("…", "es", "").unwrap(), None, "nothing to say, nothing to plan");
}

/// Log RMS per 10 ms: where the speech is loud and where it pauses.
fn envelope(a: &Audio) -> Vec<f64> {
    let hop = (a.rate / 100) as usize;
    a.samples
        .chunks(hop)
        .map(|c| (c.iter().map(|&x| (x * x) as f64).sum::<f64>() / c.len() as f64 + 1e-8).ln())
        .collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ma, mb) = (a.iter().sum::<f64>() / n as f64, b.iter().sum::<f64>() / n as f64);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn kokoro_vnni_graph_speaks_as_the_int8_graph_does() {
    use redub_tts::kokoro::{cpu_has_vnni, graph, GRAPH_INT8, GRAPH_VNNI};
    if !cpu_has_vnni() {
        // Without VNNI the graph's uint8 x int8 sums saturate: there is nothing to compare.
        println!("this CPU has no VNNI: the VNNI graph is not for it");
        return;
    }
    let mut int8 = Kokoro::load_graph(GRAPH_INT8, 1).unwrap();
    let mut vnni = Kokoro::load_graph(GRAPH_VNNI, 1).expect("setup makes the VNNI graph (make setup)");
    let take = |k: &mut Kokoro, voice: &str| {
        k.synthesize(SENTENCE, "es", voice, 1.0).unwrap(); // the session's first run builds it
        let t = Instant::now();
        let a = k.synthesize(SENTENCE, "es", voice, 1.0).unwrap();
        (a, t.elapsed().as_secs_f64())
    };
    let (a, ta) = take(&mut int8, "jf_alpha");
    let (b, tb) = take(&mut vnni, "jf_alpha");
    let (other, _) = take(&mut int8, "jm_kumo");
    let same = correlation(&envelope(&a), &envelope(&b));
    let voice = correlation(&envelope(&a), &envelope(&other));
    println!(
        "int8 graph {ta:.2} s, vnni graph {tb:.2} s for {} ms (VNNI on this CPU: {}); loudness envelope \
         correlation with the int8 take: vnni {same:.4}, another voice {voice:.3}",
        a.duration_ms(),
        cpu_has_vnni()
    );
    assert_ne!(a.samples, b.samples, "two graphs, two computations");
    // The same durations (the predictor's convolutions are the same integer products) …
    assert!(a.duration_ms().abs_diff(b.duration_ms()) <= 50, "{} ms against {} ms", a.duration_ms(), b.duration_ms());
    // … and the same speech: far closer to the int8 take than another voice reading the line.
    assert!(same > 0.9 && same > voice, "envelope correlation {same:.3} (another voice: {voice:.3})");
    if std::env::var_os(redub_tts::kokoro::GRAPH_ENV).is_none() {
        assert_eq!(graph().unwrap(), GRAPH_INT8, "the int8 graph is the default");
    }
}

#[test]
fn kokoro_speed_shortens() {
    let mut k = kokoro();
    let normal = k.synthesize(SENTENCE, "es", "jf_alpha", 1.0).unwrap().duration_ms();
    let fast = k.synthesize(SENTENCE, "es", "jf_alpha", 1.3).unwrap().duration_ms();
    assert!((fast as f64) < normal as f64 * 0.85, "1.0: {normal} ms, 1.3: {fast} ms");
}

#[test]
fn kokoro_voices_differ() {
    let mut k = kokoro();
    let voices = k.voices("es");
    assert_eq!(voices.len(), 5, "{voices:?}");
    assert!(voices.contains(&"jm_kumo".to_string()));
    let a = k.synthesize("Buenos días.", "es", "jf_alpha", 1.0).unwrap();
    let b = k.synthesize("Buenos días.", "es", "jm_kumo", 1.0).unwrap();
    assert_ne!(a.samples, b.samples);
    assert!(matches!(k.synthesize("Hola", "es", "nobody", 1.0), Err(Error::Unsupported(_))));
}

#[test]
fn kokoro_splits_long_text() {
    let mut k = kokoro();
    let long = "Esta es una frase bastante larga que se repite muchas veces para pasar del límite. ".repeat(7);
    let ids = k.ids(&long, "es").unwrap();
    assert!(ids.len() > 510, "{} ids", ids.len());
    // Fast, to keep the test short: the length check only needs both pieces to be spoken.
    let a = k.synthesize(&long, "es", "jf_alpha", 2.0).unwrap();
    assert!(a.duration_ms() > 10_000, "{} ms", a.duration_ms());
    assert!(rms(&a) > 0.01);
}

#[test]
fn kokoro_handles_empty_and_punctuation() {
    let mut k = kokoro();
    assert!(k.synthesize("", "es", "jf_alpha", 1.0).unwrap().samples.is_empty());
    assert!(k.synthesize(" … ", "es", "jf_alpha", 1.0).unwrap().samples.is_empty());
}

#[test]
fn phonemize_spanish() {
    let p = phonemize::ipa("Hola", "es").unwrap();
    assert!(p.contains('o') && p.contains('l'), "{p}");
    let p = phonemize::ipa(SENTENCE, "es").unwrap();
    assert_eq!(p.matches(['?', ',', '.']).count(), 3, "{p}");
    assert!(p.contains('ˈ'), "{p}");
}

#[test]
fn espeak_speaks() {
    let mut e = Espeak::new();
    let voices = e.voices("de");
    assert_eq!(voices[0], "de");
    assert!(voices.contains(&"de+f3".to_string()));
    let a = e.synthesize("Guten Morgen, wie geht es dir?", "de", "de+f3", 1.0).unwrap();
    assert_eq!(a.rate, 22_050);
    assert!(rms(&a) > 0.01, "rms {}", rms(&a));
    assert!((500..=8000).contains(&a.duration_ms()), "{} ms", a.duration_ms());
    let m = e.synthesize("Guten Morgen, wie geht es dir?", "de", "de+m3", 1.0).unwrap();
    assert_ne!(a.samples, m.samples);
    let fast = e.synthesize("Guten Morgen, wie geht es dir?", "de", "de+f3", 1.5).unwrap();
    assert!(fast.duration_ms() < a.duration_ms());
}

#[test]
fn engines_by_language() {
    // Kokoro for its languages, espeak-ng (22050 Hz) for the rest.
    let mut ru = engine_for("ru").unwrap();
    assert_eq!(ru.synthesize("Привет", "ru", "", 1.0).unwrap().rate, 22_050);
    match engine_for("xx") {
        Err(Error::Unsupported(m)) => assert!(m.contains("Kokoro speaks es") && m.contains("ru"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("'xx' should be unsupported"),
    }
    let es = engine_for("es").unwrap();
    assert!(es.voices("es").contains(&"jf_alpha".to_string()), "es should get Kokoro");
    assert!(Kokoro::speaks("pt-BR") && Kokoro::speaks("en") && !Kokoro::speaks("de"));
}
