//! End-to-end tests against real ffmpeg: generated clips and the CC0 fixture in `tests/data`.
#![allow(clippy::unwrap_used)]

use redub_core::Error;
use redub_media::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// 3 s, 320x240 25 fps H.264 with a 440 Hz stereo 44.1 kHz AAC track.
fn test_video(dir: &Path) -> PathBuf {
    let p = dir.join("t.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=3:size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=3:sample_rate=44100",
        "-ac",
        "2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        p.to_str().unwrap(),
    ]);
    p
}

/// Mono speech-like stand-in of `secs` seconds at `rate`.
fn dub_wav(dir: &Path, name: &str, secs: f64, rate: u32) -> PathBuf {
    let p = dir.join(name);
    let n = (secs * rate as f64) as usize;
    let samples = (0..n).map(|i| 0.3 * (i as f32 * 300.0 * std::f32::consts::TAU / rate as f32).sin()).collect();
    write_wav(&p, &redub_core::Audio::new(rate, samples)).unwrap();
    p
}

fn audio_codecs(path: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

fn stream_tags(path: &Path, tag: &str) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-show_entries", &format!("stream_tags={tag}"), "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()).collect()
}

fn input_error(err: Error) -> (PathBuf, String, String) {
    match err {
        Error::Input { path, problem, fix } => (path, problem, fix),
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn probe_generated_video() {
    let dir = tempfile::tempdir().unwrap();
    let v = test_video(dir.path());
    let p = probe(&v).unwrap();
    assert!(p.duration_ms.abs_diff(3000) <= 50, "{}", p.duration_ms);
    assert!(p.format_name.contains("mp4"), "{}", p.format_name);
    assert_eq!(p.size_bytes, std::fs::metadata(&v).unwrap().len());
    let video = p.video.clone().unwrap();
    assert_eq!((video.codec.as_str(), video.width, video.height), ("h264", 320, 240));
    assert!((video.fps.unwrap() - 25.0).abs() < 0.01);
    let audio = p.audio.clone().unwrap();
    assert_eq!((audio.codec.as_str(), audio.sample_rate, audio.channels), ("aac", 44_100, 2));
    assert_ne!(video.index, audio.index);
    // Serializes for the job folder.
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<Probe>(&json).unwrap(), p);
    assert_eq!(check_input(&v).unwrap(), p);
}

#[test]
fn probe_fixture_mpeg2_without_audio() {
    let p = probe(&fixture("cityCC0.mpg")).unwrap();
    assert_eq!(p.duration_ms, 7600);
    assert_eq!(p.format_name, "mpeg");
    assert_eq!(p.size_bytes, 4_573_184);
    assert!(p.audio.is_none());
    let v = p.video.unwrap();
    assert_eq!((v.index, v.codec.as_str(), v.width, v.height, v.fps), (0, "mpeg2video", 720, 405, Some(25.0)));
}

#[test]
fn check_input_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.mp4");
    let (p, problem, fix) = input_error(check_input(&path).unwrap_err());
    assert_eq!(p, path);
    assert_eq!(problem, "does not exist");
    assert!(fix.contains("path"), "{fix}");
}

#[test]
fn check_input_directory_and_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, problem, _) = input_error(check_input(dir.path()).unwrap_err());
    assert!(problem.contains("directory"), "{problem}");

    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let err = check_input(&empty).unwrap_err();
    let msg = err.to_string();
    let (_, problem, fix) = input_error(err);
    assert_eq!(problem, "is empty (0 bytes)");
    assert!(fix.contains("complete copy"), "{fix}");
    assert!(msg.starts_with(&format!("{}: is empty", empty.display())), "{msg}");
}

#[test]
fn check_input_garbage_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    let (_, problem, fix) = input_error(check_input(&junk).unwrap_err());
    assert!(problem.starts_with("is not a readable video or audio file (ffprobe: "), "{problem}");
    assert!(problem.contains("Invalid data found"), "{problem}");
    assert!(!problem.contains(&junk.display().to_string()), "path repeated: {problem}");
    assert!(fix.contains("re-encode"), "{fix}");
}

#[test]
fn check_input_fixture_has_no_audio() {
    let path = fixture("cityCC0.mpg");
    let err = check_input(&path).unwrap_err();
    let msg = err.to_string();
    let (p, problem, fix) = input_error(err);
    assert_eq!(p, path);
    assert_eq!(problem, "has no audio stream; Redub dubs speech, so the input needs an audio track");
    assert!(fix.contains("soundtrack"), "{fix}");
    assert!(msg.contains("cityCC0.mpg: has no audio stream"), "{msg}");

    // extract_audio says the same instead of a raw ffmpeg error.
    let dir = tempfile::tempdir().unwrap();
    let (_, problem, _) = input_error(extract_audio(&path, &dir.path().join("a.wav"), None, false).unwrap_err());
    assert!(problem.starts_with("has no audio stream"), "{problem}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no partial file left behind");
}

#[test]
fn audio_only_input_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("speech.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=200:duration=2", "-c:a", "aac", a.to_str().unwrap()]);
    let p = check_input(&a).unwrap();
    assert!(p.video.is_none());
    assert!(p.audio.is_some());
}

#[test]
fn extract_audio_rates_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let v = test_video(dir.path());

    let speech = dir.path().join("speech16k.wav");
    extract_audio(&v, &speech, Some(16_000), true).unwrap();
    let (rate, ch, s) = read_wav(&speech).unwrap();
    assert_eq!((rate, ch), (16_000, 1));
    assert!((s.len() as i64 - 48_000).abs() <= 800, "{}", s.len());
    let mono = read_wav_mono(&speech).unwrap();
    assert!(mono.duration_ms().abs_diff(3000) <= 50);
    let peak = mono.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
    assert!(peak > 0.05, "sine should be audible, peak {peak}");

    let mix = dir.path().join("mix.wav");
    extract_audio(&v, &mix, None, false).unwrap();
    let (rate, ch, s) = read_wav(&mix).unwrap();
    assert_eq!((rate, ch), (44_100, 2));
    assert!((s.len() as i64 / 2 - 132_300).abs() <= 2_200, "{}", s.len());
    let p = probe(&mix).unwrap();
    assert_eq!(p.audio.unwrap().codec, "pcm_s16le");

    // Only the two finished files, no temporaries.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["mix.wav", "speech16k.wav", "t.mp4"]);
}

#[test]
fn mux_copies_video_and_matches_duration() {
    let dir = tempfile::tempdir().unwrap();
    let v = test_video(dir.path());
    // Dub shorter than the video: padded.
    let dub = dub_wav(dir.path(), "dub.wav", 2.2, 24_000);
    let out = dir.path().join("out/dubbed.mp4");
    mux(&v, &dub, &out, &MuxOptions::default()).unwrap();

    assert_eq!(video_stream_hash(&out).unwrap(), video_stream_hash(&v).unwrap());
    assert!(video_stream_hash(&v).unwrap().starts_with("0,v,SHA256="));
    let (pi, po) = (probe(&v).unwrap(), probe(&out).unwrap());
    assert!(po.duration_ms.abs_diff(pi.duration_ms) <= 50, "{} vs {}", po.duration_ms, pi.duration_ms);
    assert_eq!(audio_codecs(&out), ["aac"]);
    let bytes = std::fs::read(&out).unwrap();
    let at = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"), "faststart puts the index first");
    assert_eq!(std::fs::read_dir(dir.path().join("out")).unwrap().count(), 1, "no temporaries left");

    // The dub is audible where it plays and silent padding after it ends.
    let back = dir.path().join("back.wav");
    extract_audio(&out, &back, None, true).unwrap();
    let back = read_wav_mono(&back).unwrap();
    assert_eq!(back.rate, 24_000);
    let rms = |s: &[f32]| (s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32).sqrt();
    let (voiced, padded) = (rms(back.slice_ms(200, 2000)), rms(back.slice_ms(2400, 2900)));
    assert!(voiced > 0.15, "dub rms {voiced}");
    assert!(padded < 0.01, "padding rms {padded}");

    // Dub longer than the video: cut.
    let long = dub_wav(dir.path(), "long.wav", 5.0, 48_000);
    let out2 = dir.path().join("long.mp4");
    mux(&v, &long, &out2, &MuxOptions::default()).unwrap();
    let po = probe(&out2).unwrap();
    assert!(po.duration_ms.abs_diff(pi.duration_ms) <= 50, "{} vs {}", po.duration_ms, pi.duration_ms);
    assert_eq!(video_stream_hash(&out2).unwrap(), video_stream_hash(&v).unwrap());
}

#[test]
fn mux_keeps_original_audio_as_second_track() {
    let dir = tempfile::tempdir().unwrap();
    let v = test_video(dir.path());
    let dub = dub_wav(dir.path(), "dub.wav", 3.0, 24_000);
    let out = dir.path().join("both.mp4");
    let opts = MuxOptions {
        keep_original_audio: true,
        dub_language: Some("es".into()),
        original_language: Some("en".into()),
        ..Default::default()
    };
    mux(&v, &dub, &out, &opts).unwrap();
    assert_eq!(audio_codecs(&out), ["aac", "aac"]);
    assert_eq!(stream_tags(&out, "language"), ["spa", "eng"]);
    assert_eq!(video_stream_hash(&out).unwrap(), video_stream_hash(&v).unwrap());
    let po = probe(&out).unwrap();
    assert!(po.duration_ms.abs_diff(3000) <= 50, "{}", po.duration_ms);

    // Matroska keeps titles too.
    let mkv = dir.path().join("both.mkv");
    mux(&v, &dub, &mkv, &opts).unwrap();
    assert_eq!(audio_codecs(&mkv), ["aac", "aac"]);
    assert_eq!(stream_tags(&mkv, "title"), ["Spanish (dubbed)", "English (original)"]);
    assert_eq!(video_stream_hash(&mkv).unwrap(), video_stream_hash(&v).unwrap());
}

#[test]
fn mux_fixture_mpeg2_into_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("cityCC0.mpg");
    let dub = dub_wav(dir.path(), "dub.wav", 6.0, 24_000);
    let out = dir.path().join("city.mp4");
    mux(&input, &dub, &out, &MuxOptions { keep_original_audio: true, ..Default::default() }).unwrap();
    assert_eq!(video_stream_hash(&out).unwrap(), video_stream_hash(&input).unwrap());
    let po = probe(&out).unwrap();
    assert!(po.duration_ms.abs_diff(7600) <= 50, "{}", po.duration_ms);
    assert_eq!(po.video.unwrap().codec, "mpeg2video");
    // No original audio to keep: exactly the dub.
    assert_eq!(audio_codecs(&out), ["aac"]);
}

#[test]
fn mux_unsupported_codec_suggests_mkv() {
    let dir = tempfile::tempdir().unwrap();
    let ffv1 = dir.path().join("lossless.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=1:size=160x120:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:v",
        "ffv1",
        "-c:a",
        "pcm_s16le",
        ffv1.to_str().unwrap(),
    ]);
    let dub = dub_wav(dir.path(), "dub.wav", 1.0, 16_000);
    let out = dir.path().join("dubbed.mp4");
    let (_, problem, fix) = input_error(mux(&ffv1, &dub, &out, &MuxOptions::default()).unwrap_err());
    assert!(problem.contains("ffv1") && problem.contains(".mp4"), "{problem}");
    assert!(problem.contains("Could not find tag for codec ffv1"), "{problem}");
    assert!(fix.contains("dubbed.mkv"), "{fix}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporaries left");

    // And .mkv works, with the original PCM copied (Matroska holds it).
    let mkv = dir.path().join("dubbed.mkv");
    mux(&ffv1, &dub, &mkv, &MuxOptions { keep_original_audio: true, ..Default::default() }).unwrap();
    assert_eq!(video_stream_hash(&mkv).unwrap(), video_stream_hash(&ffv1).unwrap());
    assert_eq!(audio_codecs(&mkv), ["aac", "pcm_s16le"]);
    // MP4 does not hold PCM: the original is encoded to AAC there.
    let wav = dir.path().join("speech.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=200:duration=1", wav.to_str().unwrap()]);
    let mp4 = dir.path().join("speech.mp4");
    mux(&wav, &dub, &mp4, &MuxOptions { keep_original_audio: true, ..Default::default() }).unwrap();
    assert_eq!(audio_codecs(&mp4), ["aac", "aac"]);
}

#[test]
fn audio_only_mux() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("speech.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=200:duration=2", a.to_str().unwrap()]);
    let dub = dub_wav(dir.path(), "dub.wav", 1.5, 24_000);
    let out = dir.path().join("dub.mp4");
    mux(&a, &dub, &out, &MuxOptions::default()).unwrap();
    let p = probe(&out).unwrap();
    assert!(p.video.is_none());
    assert!(p.duration_ms.abs_diff(2000) <= 50, "{}", p.duration_ms);
    assert_eq!(audio_codecs(&out), ["aac"]);
    assert!(video_stream_hash(&out).is_err());
}

#[test]
fn mux_failure_is_process_error_with_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let v = test_video(dir.path());
    let not_wav = dir.path().join("dub.wav");
    std::fs::write(&not_wav, b"not audio at all").unwrap();
    match mux(&v, &not_wav, &dir.path().join("o.mp4"), &MuxOptions::default()).unwrap_err() {
        Error::Process { program, stderr } => {
            assert_eq!(program, "ffmpeg");
            assert!(!stderr.is_empty());
            assert!(stderr.lines().count() <= STDERR_TAIL_LINES);
        }
        other => panic!("expected a process error, got {other:?}"),
    }
}

#[test]
fn srt_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dub.srt");
    write_srt(&p, &[(0, 1500, "Hola".to_string()), (3_723_456, 3_724_000, "¿Qué tal?".to_string())]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "1\n00:00:00,000 --> 00:00:01,500\nHola\n\n2\n01:02:03,456 --> 01:02:04,000\n¿Qué tal?\n\n"
    );
    // ffmpeg reads it back.
    let pr = probe(&p).unwrap();
    assert_eq!(pr.format_name, "srt");
}

#[test]
fn scene_cuts_at_the_junctions_only() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("cuts.mp4");
    // 3 s red, 3 s testsrc (moving), 3 s colour bars: cuts at 3 s and 6 s.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=320x240:r=25:d=3",
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=320x240:r=25:d=3",
        "-f",
        "lavfi",
        "-i",
        "smptebars=s=320x240:r=25:d=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=9",
        "-filter_complex",
        "[0][1][2]concat=n=3:v=1:a=0[v]",
        "-map",
        "[v]",
        "-map",
        "3:a",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        v.to_str().unwrap(),
    ]);
    let cuts = scene_cuts(&v, SCENE_THRESHOLD).unwrap();
    assert_eq!(cuts.len(), 2, "{cuts:?}");
    assert!(cuts[0].abs_diff(3000) <= 100, "{cuts:?}");
    assert!(cuts[1].abs_diff(6000) <= 100, "{cuts:?}");
    // A threshold above every score finds nothing; 0..=1 is the valid range.
    assert!(scene_cuts(&v, 1.0).unwrap().is_empty());
    assert!(matches!(scene_cuts(&v, 1.5), Err(Error::Unsupported(_))));
    assert!(matches!(scene_cuts(&v, f64::NAN), Err(Error::Unsupported(_))));
}

#[test]
fn scene_cuts_still_video_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("still.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "smptebars=s=320x240:r=25:d=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        v.to_str().unwrap(),
    ]);
    assert_eq!(scene_cuts(&v, SCENE_THRESHOLD).unwrap(), Vec::<u64>::new());
}

#[test]
fn scene_cuts_fixture_mpeg2() {
    // The clip cuts to a new shot once; its timestamps start at 0.54 s, reported times start at 0.
    assert_eq!(scene_cuts(&fixture("cityCC0.mpg"), SCENE_THRESHOLD).unwrap(), [4640]);
}

#[test]
fn scene_cuts_audio_only_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("speech.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=200:duration=2", "-c:a", "aac", a.to_str().unwrap()]);
    assert_eq!(scene_cuts(&a, SCENE_THRESHOLD).unwrap(), Vec::<u64>::new());

    // Cover art is not video.
    let mp3 = dir.path().join("cover.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=200:duration=2",
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=64x64:d=1",
        "-frames:v",
        "1",
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "libmp3lame",
        "-c:v",
        "mjpeg",
        "-disposition:v",
        "attached_pic",
        mp3.to_str().unwrap(),
    ]);
    assert!(probe(&mp3).unwrap().video.is_none());
    assert_eq!(scene_cuts(&mp3, SCENE_THRESHOLD).unwrap(), Vec::<u64>::new());
}

#[test]
fn scene_cuts_unreadable_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.mp4");
    let (p, problem, fix) = input_error(scene_cuts(&missing, SCENE_THRESHOLD).unwrap_err());
    assert_eq!(p, missing);
    assert_eq!(problem, "does not exist");
    assert!(fix.contains("path"), "{fix}");

    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    let (_, problem, fix) = input_error(scene_cuts(&junk, SCENE_THRESHOLD).unwrap_err());
    assert!(problem.starts_with("could not be scanned for scene cuts (ffmpeg: "), "{problem}");
    assert!(problem.contains("Invalid data found"), "{problem}");
    assert!(!problem.contains(&junk.display().to_string()), "path repeated: {problem}");
    assert!(fix.contains("re-encode"), "{fix}");
}
