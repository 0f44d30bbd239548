//! Times the transcriber on one file, for comparing settings (numbers in docs/asr.md).
//!
//! `cargo run --release -p redub-asr --example asr_bench -- WAV [REFERENCE]`
//!
//! REFERENCE is an STM file or plain text; with it, the WER is printed. Settings come from the
//! environment so that runs can be compared back to back: `ASR_MODEL` (ggml file), `ASR_THREADS`, `ASR_WINDOW_THREADS`,
//! `ASR_BEAM` (1 = greedy), `ASR_PAUSE` (ms), `ASR_FLASH=1`, `ASR_BACKEND=onnx` (`OnnxWhisper`;
//! `ASR_MODEL` is then its folder, `ASR_SPIN=1` lets ORT's threads spin, `ASR_WINDOW` the longest window in ms), `ASR_CALL=all` (one call for all
//! windows instead of one per window), `ASR_MODE=legacy` (the windows
//! before packing: regions joined only across pauses up to 200 ms). `ASR_LANG` (en) the language (`auto`: detected), `ASR_TS=1` decodes Whisper's timestamp tokens (onnx). `ASR_REGIONS=FILE` caches
//! the VAD regions (`start end` in ms per line); `ASR_WORDS=FILE` writes `start end word` lines.

#![allow(clippy::unwrap_used)]

use redub_asr::{word_error_rate, OnnxWhisper, OnnxWhisperSettings, Whisper, WhisperSettings};
use redub_core::{Ctx, Span, Transcriber, VoiceActivityDetector};
use std::time::Instant;

fn env<T: std::str::FromStr>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

fn regions(audio: &redub_core::Audio) -> Vec<Span> {
    let cache = std::env::var("ASR_REGIONS").ok();
    if let Some(text) = cache.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        return text
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace().map(|x| x.parse::<u64>());
                Some(Span::new(it.next()?.ok()?, it.next()?.ok()?))
            })
            .collect();
    }
    let mut vad = redub_vad::SileroVad::load(redub_vad::VadSettings::default()).unwrap();
    let r = vad.detect(audio, &Ctx::quiet()).unwrap();
    if let Some(p) = cache {
        let text: String = r.iter().map(|s| format!("{} {}\n", s.start_ms, s.end_ms)).collect();
        std::fs::write(p, text).unwrap();
    }
    r
}

/// The windows before packing: regions joined across pauses of at most 200 ms, up to 28 s.
fn legacy_windows(regions: &[Span]) -> Vec<Vec<Span>> {
    let mut out: Vec<Span> = Vec::new();
    for r in regions {
        match out.last_mut() {
            Some(last) if r.start_ms.saturating_sub(last.end_ms) <= 200 && r.end_ms - last.start_ms <= 28_000 => {
                last.end_ms = r.end_ms
            }
            _ => out.push(*r),
        }
    }
    out.into_iter().map(|w| redub_asr::plan(&[w], 28_000, 0).concat()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let audio = redub_media::read_wav_mono(std::path::Path::new(&args[0])).unwrap();
    let mut s = WhisperSettings::default();
    s.model = std::env::var("ASR_MODEL").ok().map(Into::into);
    s.threads = env("ASR_THREADS").unwrap_or(s.threads);
    s.window_threads = env("ASR_WINDOW_THREADS").or(s.window_threads);
    s.beam_size = env("ASR_BEAM").unwrap_or(s.beam_size);
    s.pause_ms = env("ASR_PAUSE").unwrap_or(s.pause_ms);
    s.flash_attn = env::<u8>("ASR_FLASH") == Some(1);
    s.fallback = env::<u8>("ASR_FALLBACK") != Some(0);
    let legacy = std::env::var("ASR_MODE").as_deref() == Ok("legacy");
    if std::env::var("ASR_MODE").as_deref() == Ok("encoder") {
        return encoder_only(&audio, &s);
    }
    if std::env::var("ASR_MODE").as_deref() == Ok("diag") {
        return diag(&audio, &s);
    }
    let regions = regions(&audio);
    let onnx = std::env::var("ASR_BACKEND").as_deref() == Ok("onnx");
    let lang = std::env::var("ASR_LANG").unwrap_or_else(|_| "en".into());
    let lang = (lang != "auto").then_some(lang);
    let beam = if onnx { env("ASR_BEAM").unwrap_or(OnnxWhisperSettings::default().beam_size) } else { s.beam_size };
    let t0 = Instant::now();
    let (mut onnx_w, mut cpp_w) = (None, None);
    let w: &mut dyn Transcriber = if onnx {
        let o = OnnxWhisperSettings {
            model_dir: std::env::var("ASR_MODEL").ok().map(Into::into),
            threads: s.threads,
            window_threads: s.window_threads,
            beam_size: beam,
            pause_ms: s.pause_ms,
            fallback: s.fallback,
            spin: env::<u8>("ASR_SPIN") == Some(1),
            max_window_ms: env("ASR_WINDOW").unwrap_or(OnnxWhisperSettings::default().max_window_ms),
            timestamps: env::<u8>("ASR_TS").map_or(OnnxWhisperSettings::default().timestamps, |v| v == 1),
        };
        onnx_w.insert(OnnxWhisper::load(o).unwrap())
    } else {
        cpp_w.insert(Whisper::load(s.clone()).unwrap())
    };
    let load_s = t0.elapsed().as_secs_f64();
    let groups = if legacy { legacy_windows(&regions) } else { w.plan(&regions) };
    let t1 = Instant::now();
    let c1 = cpu_s();
    let mut segs = Vec::new();
    if std::env::var("ASR_CALL").as_deref() == Ok("all") && !legacy {
        // One call for all regions: the windows are decoded side by side.
        segs = w.transcribe(&audio, &regions, lang.as_deref(), &Ctx::quiet()).unwrap();
    } else {
        // One call per window, as the pipeline caches them.
        for g in &groups {
            segs.extend(w.transcribe(&audio, g, lang.as_deref(), &Ctx::quiet()).unwrap());
        }
    }
    let took = t1.elapsed().as_secs_f64();
    let cpu = cpu_s() - c1;
    let hyp: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
    println!("hypothesis: {}", hyp.join(" | "));
    let speech: u64 = regions.iter().map(|r| r.duration_ms()).sum();
    print!(
        "{} regions ({:.1} s speech), {} windows; load {load_s:.1} s, transcribe {took:.1} s wall, {cpu:.1} s cpu (RTF {:.3} of the audio); \
         backend {} threads {}/{} beam {} pause {} flash {} fallback {} legacy {legacy}",
        regions.len(),
        speech as f64 / 1000.0,
        groups.len(),
        took / (audio.duration_ms() as f64 / 1000.0),
        if onnx { "onnx" } else { "whisper.cpp" },
        s.window_threads.map_or("auto".to_string(), |n| n.to_string()),
        s.threads,
        beam,
        s.pause_ms,
        s.flash_attn,
        s.fallback
    );
    if let Some(r) = args.get(1) {
        let text = std::fs::read_to_string(r).unwrap();
        let reference: String = if r.ends_with(".stm") {
            text.lines()
                .map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            text
        };
        let w = word_error_rate(&reference, &hyp.join(" "));
        let errors = w.substitutions + w.deletions + w.insertions;
        print!("; WER {:.1}% ({errors} errors of {} words)", w.rate() * 100.0, w.reference_words);
    }
    println!();
    if let Some(o) = &onnx_w {
        // Summed over the windows' own threads: with windows side by side, more than the wall time.
        let st = o.stats();
        println!(
            "onnx parts: {} windows, {} fallback decodings; mel {:.2} s, encoder + cross K/V {:.2} s, search {:.2} s, word timing {:.2} s; \
             {} decoder calls, {:.2} s ({:.1} ms each)",
            st.windows,
            st.fallbacks,
            st.mel_s,
            st.encode_s,
            st.decode_s,
            st.align_s,
            st.decoder_calls,
            st.decoder_s,
            st.decoder_s * 1000.0 / st.decoder_calls.max(1) as f64
        );
    }
    if let Ok(p) = std::env::var("ASR_WORDS") {
        let lines: String =
            segs.iter().flat_map(|s| &s.words).map(|w| format!("{} {} {}\n", w.start_ms, w.end_ms, w.text)).collect();
        std::fs::write(p, lines).unwrap();
    }
}

/// Time of the mel spectrogram and one encoder pass over the first 30 s (what every window pays).
fn encoder_only(audio: &redub_core::Audio, s: &WhisperSettings) {
    let path = s.model.clone().unwrap_or_else(|| redub_core::paths::models_dir().join("whisper-base/ggml-base.bin"));
    whisper_rs::install_logging_hooks();
    let ctx = whisper_rs::WhisperContext::new_with_params(path.to_str().unwrap(), Default::default()).unwrap();
    let mut state = ctx.create_state().unwrap();
    let n = audio.samples.len().min(16_000 * 30);
    for _ in 0..3 {
        let t = Instant::now();
        state.pcm_to_mel(&audio.samples[..n], s.threads).unwrap();
        let mel = t.elapsed().as_secs_f64();
        state.encode(0, s.threads).unwrap();
        println!("mel {mel:.2} s, encoder {:.2} s", t.elapsed().as_secs_f64() - mel);
    }
}

/// CPU seconds this process has used (user + system), from /proc: wall time on a shared
/// machine says more about the neighbours than about the settings.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // Fields 14 and 15 of stat(5) (utime, stime) are the 12th and 13th after the name.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// One whisper.cpp call on the sample's 6.7–30 s, with DTW (`ASR_DTW=0`: without) and token
/// timestamps (`ASR_TOKTS=0`: without), to see what a window costs (run it under `perf record`).
fn diag(audio: &redub_core::Audio, s: &WhisperSettings) {
    let path = s.model.clone().unwrap_or_else(|| redub_core::paths::models_dir().join("whisper-base/ggml-base.bin"));
    whisper_rs::install_logging_hooks();
    let mut cp = whisper_rs::WhisperContextParameters::default();
    if std::env::var("ASR_DTW").as_deref() != Ok("0") {
        cp.dtw_parameters(whisper_rs::DtwParameters {
            mode: whisper_rs::DtwMode::ModelPreset { model_preset: whisper_rs::DtwModelPreset::Base },
            ..Default::default()
        });
    }
    let ctx = whisper_rs::WhisperContext::new_with_params(path.to_str().unwrap(), cp).unwrap();
    let mut state = ctx.create_state().unwrap();
    let strategy = if s.beam_size > 1 {
        whisper_rs::SamplingStrategy::BeamSearch { beam_size: s.beam_size as i32, patience: -1.0 }
    } else {
        whisper_rs::SamplingStrategy::Greedy { best_of: 5 }
    };
    let mut p = whisper_rs::FullParams::new(strategy);
    p.set_n_threads(s.threads as i32);
    p.set_language(Some("en"));
    p.set_token_timestamps(std::env::var("ASR_TOKTS").as_deref() != Ok("0"));
    p.set_no_context(true);
    p.set_suppress_nst(true);
    if !s.fallback {
        p.set_temperature_inc(0.0);
    }
    let t = Instant::now();
    p.set_progress_callback_safe(move |pc: i32| println!("{:6.2} s progress {pc}%", t.elapsed().as_secs_f64()));
    let c = cpu_s();
    state.full(p, audio.slice_ms(6724, 30_000)).unwrap();
    println!("total {:.2} s wall, {:.2} s cpu", t.elapsed().as_secs_f64(), cpu_s() - c);
}
