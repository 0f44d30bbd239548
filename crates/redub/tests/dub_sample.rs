//! The whole product on the bundled sample clip, run as a user runs it: the real binary, the
//! real offline stack, a fresh temp dir. Checks the promises of the foundation issue (#2).

#![allow(clippy::unwrap_used)]

// The qa crate's Chromium runner (loopback proxy, no network); not every field is read here.
#[allow(dead_code)]
#[path = "../../redub-qa/tests/browser/mod.rs"]
mod browser;

use redub_core::{Audio, Transcriber, VoiceActivityDetector};
use redub_pipeline::Backends as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The source transcript's word error rate on the sample, at most (see its use).
const SOURCE_WER_BAR: f64 = 0.165;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn redub(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redub")).args(args).output().unwrap()
}

fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn dubs_the_sample_clip_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let input = root().join("examples/sample.mp4");
    let out = tmp.path().join("sample.es.mp4");
    let jobs = tmp.path().join("jobs");
    let args = [
        "dub",
        input.to_str().unwrap(),
        "--to",
        "es",
        "-o",
        out.to_str().unwrap(),
        "--jobs-dir",
        jobs.to_str().unwrap(),
        "--json",
    ];
    let run = redub(&args);
    assert!(run.status.success(), "redub failed: {}", String::from_utf8_lossy(&run.stderr));
    let evs = events(&run.stdout);
    assert!(evs.iter().all(|e| e["type"].is_string() && e["job"].is_string() && e["at_ms"].is_u64()), "event envelope");
    assert_eq!(evs.last().unwrap()["type"], "done");
    let job_dir = std::fs::read_dir(&jobs).unwrap().next().unwrap().unwrap().path();

    // The video stream is copied bit for bit; the duration is kept; one AAC track.
    assert_eq!(redub_media::video_stream_hash(&input).unwrap(), redub_media::video_stream_hash(&out).unwrap());
    let pi = redub_media::probe(&input).unwrap();
    let po = redub_media::probe(&out).unwrap();
    println!("duration: input {} ms, output {} ms", pi.duration_ms, po.duration_ms);
    assert!(pi.duration_ms.abs_diff(po.duration_ms) <= 50);
    let ffprobe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ffprobe.stdout).trim(), "aac", "exactly one AAC audio track");
    assert!(out.with_file_name("sample.es.en.srt").is_file() && out.with_file_name("sample.es.es.srt").is_file());

    // Whisper's transcript against the reference.
    let transcript: Vec<redub_core::Segment> =
        serde_json::from_slice(&std::fs::read(job_dir.join("04-transcribe/segments.json")).unwrap()).unwrap();
    let stm = std::fs::read_to_string(root().join("fixtures/speech-2spk/sample.stm")).unwrap();
    let reference: Vec<String> =
        stm.lines().map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")).collect();
    let hyp: Vec<&str> = transcript.iter().map(|s| s.text.as_str()).collect();
    let wer = redub_asr::word_error_rate(&reference.join(" "), &hyp.join(" "));
    println!(
        "WER of the sample's transcript (via the MP4's AAC track): {:.1}% of {} words",
        wer.rate() * 100.0,
        wer.reference_words
    );
    // The default runtime (ONNX, text-only decoding at beam 8) reads the MP4's track at 16.0%
    // (13 errors; sample.wav: 13.6%), faster-whisper at 21.0%; whisper.cpp's 17.3% is held by
    // redub-asr's whisper_sample test. The bar is the ONNX backend's own (onnx_sample.rs): a
    // decoding change that loses words fails here.
    assert!(wer.rate() <= SOURCE_WER_BAR, "WER {:.3}", wer.rate());

    // Two people speak in the call: the dub finds them and gives each a voice of their own.
    let segments: Vec<redub_core::Segment> =
        serde_json::from_slice(&std::fs::read(job_dir.join("05-diarize/segments.json")).unwrap()).unwrap();
    let hyp = redub_diarize::rttm::read(&job_dir.join("05-diarize/speakers.rttm")).unwrap();
    let reference = redub_diarize::rttm::read(&root().join("fixtures/speech-2spk/sample.rttm")).unwrap();
    let der = redub_diarize::der::score(&reference, &hyp, 250);
    let voices: std::collections::BTreeMap<String, redub_pipeline::voices::SpeakerVoice> =
        serde_json::from_slice(&std::fs::read(job_dir.join("07-voices/voices.json")).unwrap()).unwrap();
    println!("speakers in the dub: {voices:?}; DER of the job's RTTM {:.1}%", der.der * 100.0);
    assert_eq!(voices.len(), 2, "two speakers");
    assert_ne!(voices["S1"].voice, voices["S2"].voice, "two different stock voices");
    let clips: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(job_dir.join("08-synthesize/clips.json")).unwrap()).unwrap();
    for c in &clips {
        let seg = segments.iter().find(|s| u64::from(s.id) == c["id"].as_u64().unwrap()).unwrap();
        let sp = seg.speaker.as_deref().unwrap();
        assert_eq!(c["voice"].as_str().unwrap(), format!("{}+adapted-to-{sp}", voices[sp].voice), "line {}", seg.id);
    }
    voice_likeness(&job_dir, &segments, &clips);
    let lines_by: std::collections::BTreeSet<&str> = segments.iter().filter_map(|s| s.speaker.as_deref()).collect();
    assert_eq!(lines_by.len(), 2, "both speakers have lines");

    // Every clip starts at its segment's start; no stretch beyond 1.3; stretches are reported.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job_dir.join("output/report.json")).unwrap()).unwrap();
    let lines = report["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    let mut within = 0;
    for l in lines {
        let seg = segments.iter().find(|s| s.id as u64 == l["id"].as_u64().unwrap()).unwrap();
        assert!(l["clip_start_ms"].as_u64().unwrap().abs_diff(seg.start_ms) <= 50);
        let stretch = l["stretch"].as_f64().unwrap();
        assert!((1.0..=1.3 + 1e-9).contains(&stretch), "stretch {stretch}");
        if stretch <= 1.15 {
            within += 1;
        }
    }
    println!(
        "clips: {}, max stretch {:.3}, within 1.15x: {:.0}%, flagged: {}",
        lines.len(),
        report["max_stretch"].as_f64().unwrap(),
        100.0 * within as f64 / lines.len() as f64,
        report["flagged"]
    );
    // DESIGN's timing bar: at least 95 % of clips need no more than 1.15x after engine fitting.
    assert!(within * 100 >= lines.len() * 95, "only {within} of {} clips within 1.15x", lines.len());

    // The dubbed track is heard as the target language.
    let wav = tmp.path().join("dub16k.wav");
    redub_media::extract_audio(&out, &wav, Some(16_000), true).unwrap();
    let dubbed = redub_media::read_wav_mono(&wav).unwrap();
    let speech = Audio::new(16_000, dubbed.slice_ms(6_000, 30_000).to_vec());
    let mut whisper = redub_asr::Whisper::load(redub_asr::WhisperSettings::default()).unwrap();
    let (lang, p) = whisper.detect_language(&speech).unwrap();
    println!("language of the dubbed track: {lang} (p = {p:.2})");
    assert_eq!(lang, "es");
    qa_report(&job_dir, &dubbed);

    // Rerunning the same command skips every finished stage.
    let again = redub(&args);
    assert!(again.status.success());
    let skipped = events(&again.stdout).iter().filter(|e| e["type"] == "stage_skipped").count();
    assert_eq!(skipped, redub_pipeline::STAGES.len(), "every stage is reused on a rerun");

    // The voice map is listed, and a speaker can be pinned to another voice: only the voices
    // stage and what follows it are redone.
    let listed = redub(&["voices", job_dir.to_str().unwrap()]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let table = String::from_utf8_lossy(&listed.stdout);
    println!("{table}");
    assert!(table.contains("S1") && table.contains("S2") && table.contains(&voices["S1"].voice), "{table}");
    let other = ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
        .into_iter()
        .find(|v| *v != voices["S1"].voice && *v != voices["S2"].voice)
        .unwrap();
    let bad: Vec<&str> = args.iter().copied().chain(["--voice", "S1=nobody"]).collect();
    let refused = redub(&bad);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("nobody") && err.contains("jf_alpha"), "names the bad voice and the real ones: {err}");
    let pin = format!("S1={other}");
    let pinned: Vec<&str> = args.iter().copied().chain(["--voice", pin.as_str()]).collect();
    let run = redub(&pinned);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let skipped: Vec<String> = events(&run.stdout)
        .iter()
        .filter(|e| e["type"] == "stage_skipped")
        .map(|e| e["data"]["stage"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(skipped, ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize", "06-translate"]);
    let listed = redub(&["voices", job_dir.to_str().unwrap(), "--json"]);
    let map: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(map["S1"]["voice"], other);
    assert_eq!(map["S1"]["pinned"], true);
    assert_ne!(map["S2"]["voice"], other, "a pinned voice is not handed to another speaker");
}

/// Issue #5: each dubbed voice is closer to its own source speaker than to the other one
/// (speaker-embedding cosine), and its median pitch is within 15 % of its speaker's. The source
/// side is each speaker's reference sample (their own speech with overlaps cut out, DER 0 %
/// above); the dubbed side is all of that speaker's clips, as synthesised and adapted.
fn voice_likeness(job_dir: &Path, segments: &[redub_core::Segment], clips: &[serde_json::Value]) {
    let speakers = ["S1", "S2"];
    let mut embedder = redub_diarize::embed::Embedder::load().unwrap();
    let mut embed = |a: &Audio| {
        let a16 = redub_dsp::resample(a, 16_000).unwrap();
        embedder.embed(&a16.samples).unwrap().unwrap()
    };
    let mut source = Vec::new();
    let mut dubbed = Vec::new();
    for sp in speakers {
        source.push(redub_media::read_wav_mono(&job_dir.join(format!("07-voices/refs/{sp}.wav"))).unwrap());
        let mut samples = Vec::new();
        let mut rate = 0;
        for c in clips {
            let seg = segments.iter().find(|s| u64::from(s.id) == c["id"].as_u64().unwrap()).unwrap();
            if seg.speaker.as_deref() == Some(sp) {
                let a =
                    redub_media::read_wav_mono(&job_dir.join("08-synthesize/clips").join(c["file"].as_str().unwrap()))
                        .unwrap();
                rate = a.rate;
                samples.extend(a.samples);
            }
        }
        dubbed.push(Audio::new(rate, samples));
    }
    let src_e: Vec<Vec<f32>> = source.iter().map(&mut embed).collect();
    let dub_e: Vec<Vec<f32>> = dubbed.iter().map(&mut embed).collect();
    println!("speaker-embedding cosine (rows: dubbed voice, columns: source speaker)");
    println!("          {:>8} {:>8}", speakers[0], speakers[1]);
    for (i, sp) in speakers.iter().enumerate() {
        let own = redub_diarize::cosine(&dub_e[i], &src_e[i]);
        let other = redub_diarize::cosine(&dub_e[i], &src_e[1 - i]);
        let row = if i == 0 { [own, other] } else { [other, own] };
        println!("dubbed {sp} {:>8.3} {:>8.3}", row[0], row[1]);
        assert!(own > other, "dubbed {sp} is closer to the other speaker ({own:.3} vs {other:.3})");
    }
    println!("median F0 (Hz)   source   dubbed   gap");
    for (i, sp) in speakers.iter().enumerate() {
        let s = redub_dsp::f0_median(&source[i].samples, source[i].rate).unwrap();
        let d = redub_dsp::f0_median(&dubbed[i].samples, dubbed[i].rate).unwrap();
        let gap = (d - s).abs() / s;
        println!("{sp:<16} {s:>6.0} {d:>8.0} {:>5.1}%", gap * 100.0);
        assert!(gap <= 0.15, "{sp}: dubbed median F0 {d:.0} Hz is {:.0}% from the source's {s:.0} Hz", gap * 100.0);
    }
}

/// Issue #14 on the sample's job: `redub eval` prints every figure; the round-trip WER it reports
/// is within 5 points of transcribing the output's audio by hand with the same model; the report
/// page opens in Chromium without errors or network requests.
fn qa_report(job_dir: &Path, dubbed: &Audio) {
    let rttm = root().join("fixtures/speech-2spk/sample.rttm");
    let stm = root().join("fixtures/speech-2spk/sample.stm");
    let job = job_dir.to_str().unwrap();
    let refs = ["--ref-rttm", rttm.to_str().unwrap(), "--ref-stm", stm.to_str().unwrap()];
    let text = redub(&[&["eval", job][..], &refs].concat());
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    println!("{text}");
    for want in
        ["round trip (es)", "loudness: source", "DER against", "source WER", "speech overlap", "own cosine", "11-qa"]
    {
        assert!(text.contains(want), "`redub eval` prints {want:?}");
    }
    let json = redub(&[&["eval", job, "--json"][..], &refs].concat());
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let qa: redub_qa::QaReport = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(qa.lines.len(), 9, "every line measured");
    assert!(qa.lines.iter().all(|l| l.slot_ms > 0 && l.line.clip_ms > 0 && (0.0..=1.0).contains(&l.overlap)));
    assert!(
        qa.lines.iter().filter(|l| l.start_offset_ms.is_some()).count() >= 8,
        "a start offset where speech was heard"
    );
    assert_eq!((qa.overlap.n, qa.stretch.n), (9, 9));
    assert_eq!(qa.speakers.len(), 2);
    for sp in &qa.speakers {
        // Each stock voice is more like its own speaker than like the other (as voice_likeness).
        assert!(sp.own > sp.nearest_other_cosine.unwrap(), "{sp:?}");
    }
    assert!(qa.loudness.source.lufs > -60.0 && qa.loudness.output.lufs > -60.0, "{:?}", qa.loudness);
    assert!(qa.loudness.output.true_peak_db <= -1.0 + 0.1, "the render's ceiling: {:?}", qa.loudness);
    assert_eq!(qa.references.der, Some(0.0), "the call's DER");
    assert!(qa.references.source_wer.unwrap() <= SOURCE_WER_BAR);
    assert_eq!(qa.stages.len(), redub_pipeline::STAGES.len());

    // By hand: the output's dubbed track through the qa stage's own Whisper (the same runtime and
    // search, so that what is compared is the stage's windows and word-to-line assignment, not
    // two decoders: with beam 5 here against the stage's greedy, a fresh machine's run differed
    // by 5.3 points on the same track), over its speech as Silero finds it, against the
    // translations in line order.
    let mut vad = redub_vad::SileroVad::load(redub_vad::VadSettings::default()).unwrap();
    let regions = vad.detect(dubbed, &redub_core::Ctx::quiet()).unwrap();
    let mut whisper = redub_pipeline::OfflineBackends::default().round_trip_transcriber().unwrap();
    let heard = whisper.transcribe(dubbed, &regions, Some("es"), &redub_core::Ctx::quiet()).unwrap();
    let hyp: Vec<&str> = heard.iter().map(|s| s.text.as_str()).collect();
    let target: Vec<&str> = qa.lines.iter().map(|l| l.line.target_text.as_str()).collect();
    let by_hand = redub_asr::word_error_rate(&target.join(" "), &hyp.join(" ")).rate();
    println!(
        "round-trip WER: redub eval {:.1}%, by hand {:.1}% (difference {:.1} points); CER {:.1}%",
        qa.round_trip.wer * 100.0,
        by_hand * 100.0,
        (qa.round_trip.wer - by_hand).abs() * 100.0,
        qa.round_trip.cer * 100.0
    );
    println!("heard by hand: {}", hyp.join(" "));
    assert!((qa.round_trip.wer - by_hand).abs() <= 0.05, "more than 5 points apart");

    // The page: self-contained, opens without errors, and nothing leaves the machine.
    let page = job_dir.join("output/report.html");
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("test-output/sample-report");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let run = browser::open_in_chromium(&page, &png).unwrap_or_else(|e| panic!("{e}"));
    println!("report page screenshot: {}", png.display());
    assert!(run.dom.contains(r#"data-ready="1""#) && !run.dom.contains("data-error"), "the page ran its script");
    assert!(run.requests.is_empty(), "requests left the machine: {:?}", run.requests);
    assert!(run.screenshot_is_png);
    assert_eq!(run.dom.matches("<audio").count() % 2, 0, "players come in pairs");
    assert!(run.dom.contains("<audio"), "the worst lines have players");
}

#[test]
fn bad_inputs_fail_with_clear_errors_and_no_job() {
    let tmp = tempfile::tempdir().unwrap();
    let jobs = tmp.path().join("jobs");
    let empty = tmp.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let garbage = tmp.path().join("garbage.mp4");
    std::fs::write(&garbage, b"this is not a video at all, just text").unwrap();
    let silent_video = tmp.path().join("noaudio.mp4");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x64:rate=10",
            "-c:v",
            "libx264",
            silent_video.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let cases: [(&Path, &str); 4] = [
        (&empty, "empty"),
        (&garbage, "ffprobe"),
        (&silent_video, "no audio stream"),
        (&tmp.path().join("missing.mp4"), "does not exist"),
    ];
    for (path, expected) in cases {
        let r = redub(&["dub", path.to_str().unwrap(), "--to", "es", "--jobs-dir", jobs.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&r.stderr);
        println!("{}: {}", path.display(), err.trim());
        assert!(!r.status.success());
        assert!(err.to_lowercase().contains(expected), "{}: expected '{expected}' in: {err}", path.display());
    }
    // An unsupported pair fails before any work and lists what is available.
    let input = root().join("examples/sample.mp4");
    let r =
        redub(&["dub", input.to_str().unwrap(), "--from", "en", "--to", "de", "--jobs-dir", jobs.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&r.stderr);
    println!("en→de: {}", err.trim());
    assert!(!r.status.success());
    assert!(err.contains("en→es"), "{err}");
    assert!(!jobs.exists(), "no job folder is made for refused input");
}
