//! The ElevenLabs cloning path of the voices stage inside a real job, against an
//! ElevenLabs-compatible server on loopback started by the test: one clone per speaker from a
//! 44.1 kHz mono reference (a short speaker's padded to 2.0 s), every line spoken with its
//! speaker's clone and the configured model and voice settings, and every clone deleted, whether
//! synthesis finishes or fails half-way (after which the job resumes from synthesis).

#![allow(clippy::unwrap_used)]

mod support;

use support::{AlternatingSpeakers, Regions, Transcript};

use redub_core::{Diarizer, Result, Synthesizer, Transcriber, Translator, VoiceActivityDetector};
use redub_pipeline::{dub, Backends, DubRequest, EventSink, VoiceConfig};
use redub_testserver::{MockServer, Recorded, Reply};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const KEY: &str = "test-key";

/// Speech regions; the diarizer alternates S1, S2, so S2 has two 600 ms turns
/// (600 + 150 gap + 600 = 1.35 s of reference: padded to 2.0 s) and S1 three long ones.
const REGIONS: [(u64, u64); 5] = [(500, 3000), (3500, 4100), (4600, 7000), (7500, 8100), (8600, 11000)];

fn speaker_of_line(i: usize) -> &'static str {
    ["S1", "S2"][i % 2]
}

// ---- stand-in backends ----------------------------------------------------------------------

/// Stand-ins for every stage but the voices: `embedder` and `voice_service` keep their
/// defaults, so the real ElevenLabs client is built from the request and talks to the fake.
struct StandIns;
impl Backends for StandIns {
    fn vad(&self) -> Result<Box<dyn VoiceActivityDetector>> {
        Ok(Box::new(Regions::from_ms(&REGIONS)))
    }
    fn transcriber(&self) -> Result<Box<dyn Transcriber>> {
        Ok(Box::new(Transcript(vec![])))
    }
    fn diarizer(&self, _s: &redub_diarize::DiarizeSettings) -> Result<Box<dyn Diarizer>> {
        Ok(Box::new(AlternatingSpeakers))
    }
    fn translator(
        &self,
        _c: &redub_pipeline::TranslatorConfig,
        _s: &redub_translate::LlmSettings,
        _from: &str,
        _to: &str,
    ) -> Result<Box<dyn Translator>> {
        Ok(Box::new(redub_translate::FixedTranslator::new()))
    }
    /// Only the translate stage's timing check uses it; lines are spoken by the clones.
    fn synthesizer(&self, _lang: &str) -> Result<Box<dyn Synthesizer>> {
        Ok(Box::new(redub_tts::ToneSynth::default()))
    }
    fn identity(&self, stage: &str) -> Value {
        json!({ "stand-in": stage })
    }
    fn check_pair(&self, _c: &redub_pipeline::TranslatorConfig, _f: Option<&str>, _t: &str) -> Result<()> {
        Ok(())
    }
}

// ---- the fake ElevenLabs ----------------------------------------------------------------------

/// One request as the fake saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// With the query.
    path: String,
    /// Lower-cased names.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// The `voice_id` the fake answered an `add voice` with.
    made: Option<String>,
}

impl Seen {
    fn route(&self) -> &str {
        self.path.split('?').next().unwrap()
    }
    fn is_add(&self) -> bool {
        self.method == "POST" && self.route() == "/v1/voices/add"
    }
    fn is_tts(&self) -> bool {
        self.method == "POST" && self.route().starts_with("/v1/text-to-speech/")
    }
    fn is_delete(&self) -> bool {
        self.method == "DELETE" && self.route().starts_with("/v1/voices/")
    }
    /// The voice a TTS or DELETE request is about.
    fn voice(&self) -> String {
        self.route().rsplit('/').next().unwrap().to_string()
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// The n-th TTS request (1-based, counted over the server's life) is refused with a 400.
    fail_tts: Option<usize>,
    /// Clones made and not deleted.
    live: BTreeSet<String>,
}

struct Fake {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Fake {
    fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
    fn fail_tts(&self, n: Option<usize>) {
        self.state.lock().unwrap().fail_tts = n;
    }
    fn live(&self) -> BTreeSet<String> {
        self.state.lock().unwrap().live.clone()
    }
}

/// PCM s16le of `ms` of a 300 Hz tone at `rate`: what the fake "speaks" for any line.
fn speech_pcm(rate: u32, ms: u64) -> Vec<u8> {
    let n = (rate as u64 * ms / 1000) as usize;
    (0..n)
        .map(|i| (0.3 * (i as f32 * 300.0 * std::f32::consts::TAU / rate as f32).sin() * 32767.0) as i16)
        .flat_map(|s| s.to_le_bytes())
        .collect()
}

fn answer(st: &mut State, req: &mut Seen) -> (u16, &'static str, Vec<u8>) {
    let detail = |code: &str, message: &str| {
        json!({ "detail": { "status": code, "message": message } }).to_string().into_bytes()
    };
    if req.headers.get("xi-api-key").map(String::as_str) != Some(KEY) {
        return (401, "application/json", detail("invalid_api_key", "Invalid API key"));
    }
    if req.is_add() {
        let n = st.seen.iter().filter(|r| r.is_add()).count() + 1;
        let id = format!("clone{n}");
        st.live.insert(id.clone());
        req.made = Some(id.clone());
        return (
            200,
            "application/json",
            json!({ "voice_id": id, "requires_verification": false }).to_string().into_bytes(),
        );
    }
    if req.is_tts() {
        let n = st.seen.iter().filter(|r| r.is_tts()).count() + 1;
        if st.fail_tts == Some(n) {
            return (400, "application/json", detail("invalid_request", "simulated refusal of this line"));
        }
        if !st.live.contains(&req.voice()) {
            return (404, "application/json", detail("voice_not_found", "no such voice"));
        }
        let fmt = req.path.split("output_format=").nth(1).unwrap_or("pcm_44100");
        let rate: u32 = fmt.split('&').next().unwrap().trim_start_matches("pcm_").parse().unwrap();
        // 0.4 s fits every slot (the shortest is 600 ms): one request per line.
        return (200, "audio/pcm", speech_pcm(rate, 400));
    }
    if req.is_delete() {
        return if st.live.remove(&req.voice()) {
            (200, "application/json", json!({ "status": "ok" }).to_string().into_bytes())
        } else {
            (404, "application/json", detail("voice_not_found", "no such voice"))
        };
    }
    (404, "application/json", detail("not_found", "no such route"))
}

/// An ElevenLabs-compatible server on 127.0.0.1 (the shared loopback server), answering as
/// [`answer`] says and keeping what it saw in the state.
fn serve() -> Fake {
    let state: Arc<Mutex<State>> = Arc::default();
    let st = state.clone();
    let server = MockServer::start(move |r: &Recorded, _: &[Recorded]| {
        let mut req = Seen {
            method: r.method.clone(),
            path: r.path.clone(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            made: None,
        };
        let mut s = st.lock().unwrap();
        let (code, ct, reply) = answer(&mut s, &mut req);
        s.seen.push(req);
        Reply::bytes(code, ct, reply)
    });
    Fake { url: server.base_url(), state }
}

// ---- reading what was sent ----------------------------------------------------------------------

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The parts of a multipart/form-data body: name → data.
fn multipart(req: &Seen) -> BTreeMap<String, Vec<u8>> {
    let ct = &req.headers["content-type"];
    assert!(ct.starts_with("multipart/form-data"), "{ct}");
    let boundary = ct.split("boundary=").nth(1).unwrap().trim_matches('"');
    let delim = format!("\r\n--{boundary}").into_bytes();
    // Prefix a CRLF so that the first delimiter looks like the others.
    let mut body = b"\r\n".to_vec();
    body.extend_from_slice(&req.body);
    let mut parts = BTreeMap::new();
    let mut rest = &body[..];
    while let Some(at) = find(rest, &delim) {
        rest = &rest[at + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_part = rest.strip_prefix(b"\r\n").unwrap();
        let end = find(rest_part, &delim).unwrap();
        let section = &rest_part[..end];
        let split = find(section, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&section[..split]);
        let name = head.split("name=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        parts.insert(name, section[split + 4..].to_vec());
        rest = rest_part;
    }
    parts
}

/// (channels, rate, seconds) of a PCM WAV file.
fn wav_info(bytes: &[u8]) -> (u16, u32, f64) {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let (mut channels, mut rate, mut bits, mut data) = (0u16, 0u32, 0u16, None);
    let mut i = 12;
    while i + 8 <= bytes.len() {
        let id = &bytes[i..i + 4];
        let size = u32::from_le_bytes(bytes[i + 4..i + 8].try_into().unwrap()) as usize;
        let c = &bytes[i + 8..];
        if id == b"fmt " {
            channels = u16::from_le_bytes([c[2], c[3]]);
            rate = u32::from_le_bytes(c[4..8].try_into().unwrap());
            bits = u16::from_le_bytes([c[14], c[15]]);
        } else if id == b"data" {
            data = Some(size);
        }
        i += 8 + size + size % 2;
    }
    let frames = data.expect("no data chunk") / (usize::from(channels) * usize::from(bits / 8));
    (channels, rate, frames as f64 / f64::from(rate))
}

/// Speaker → (clone id, sample seconds) from the `add voice` requests, after checking each
/// sample: a mono 44.1 kHz WAV of at least 1.5 s.
fn clones(adds: &[&Seen]) -> BTreeMap<String, (String, f64)> {
    let mut out = BTreeMap::new();
    for a in adds {
        let parts = multipart(a);
        let name = String::from_utf8(parts["name"].clone()).unwrap();
        let speaker = name.rsplit(' ').next().unwrap().to_string();
        let (channels, rate, secs) = wav_info(&parts["files"]);
        assert_eq!(channels, 1, "{speaker}'s sample is mono");
        assert_eq!(rate, 44_100, "{speaker}'s sample is 44.1 kHz");
        assert!(secs >= 1.5, "{speaker}'s sample lasts {secs:.3} s, under 1.5 s");
        let prev = out.insert(speaker.clone(), (a.made.clone().unwrap(), secs));
        assert!(prev.is_none(), "{speaker} was cloned twice");
    }
    out
}

/// Checks one run's requests (which clone `speakers`) and returns (adds, tts calls, deletes).
fn check_run(run: &[Seen], speakers: &[&str], expect_tts: usize) -> (usize, usize, usize) {
    let adds: Vec<&Seen> = run.iter().filter(|r| r.is_add()).collect();
    let tts: Vec<&Seen> = run.iter().filter(|r| r.is_tts()).collect();
    let deletes: Vec<&Seen> = run.iter().filter(|r| r.is_delete()).collect();
    println!("  adds: {}, tts calls: {}, deletes: {}", adds.len(), tts.len(), deletes.len());
    assert_eq!(adds.len() + tts.len() + deletes.len(), run.len(), "no other request");
    assert!(run.iter().all(|r| r.headers.get("xi-api-key").map(String::as_str) == Some(KEY)));

    // Exactly one clone per speaker, from a 44.1 kHz mono sample of at least 1.5 s; the short
    // speaker's padded to 2.0 s.
    assert_eq!(adds.len(), speakers.len(), "one `add voice` per speaker");
    let made = clones(&adds);
    for (sp, (id, secs)) in &made {
        println!("  {sp}: clone {id}, sample {secs:.3} s");
    }
    assert_eq!(made.keys().map(String::as_str).collect::<Vec<_>>(), speakers);
    if let Some((_, s2)) = made.get("S2") {
        assert!((s2 - 2.0).abs() < 0.005, "S2's 1.35 s reference is padded to 2.0 s, got {s2:.3} s");
    }
    if let Some((_, s1)) = made.get("S1") {
        assert!(*s1 > 5.0, "S1's reference is its three turns, got {s1:.3} s");
    }
    let ids: BTreeSet<&String> = made.values().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), made.len(), "every clone has its own id");

    // Every line is spoken with the model and voice settings, by its speaker's clone, made
    // before the speaker's first line.
    assert_eq!(tts.len(), expect_tts, "one TTS request per line spoken");
    for t in &tts {
        assert!(t.path.contains("output_format=pcm_"), "{}", t.path);
        let body: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(body["model_id"], "eleven_multilingual_v2", "{body}");
        assert_eq!(body["voice_settings"]["stability"], 0.5, "{body}");
        assert_eq!(body["voice_settings"]["similarity_boost"], 0.75, "{body}");
        let text = body["text"].as_str().unwrap();
        let i: usize = text.rsplit(' ').next().unwrap().parse().unwrap();
        let sp = speaker_of_line(i);
        assert_eq!(t.voice(), made[sp].0, "line {i} ({text:?}) is spoken by {sp}'s clone");
    }
    for (sp, (id, _)) in &made {
        let add_at = run.iter().position(|r| r.made.as_ref() == Some(id)).unwrap();
        let first_line = run.iter().position(|r| r.is_tts() && r.voice() == *id);
        assert!(first_line.is_some_and(|l| add_at < l), "{sp} is cloned before their first line");
    }

    // One DELETE for every created voice, after its speaker's last line (a clone is let go as
    // soon as its speaker has nothing left to say, which keeps few clones on the account).
    let mut deleted: Vec<String> = deletes.iter().map(|d| d.voice()).collect();
    deleted.sort();
    let mut created: Vec<String> = made.values().map(|(id, _)| id.clone()).collect();
    created.sort();
    assert_eq!(deleted, created, "exactly one DELETE per clone");
    for (sp, (id, _)) in &made {
        let last_line = run.iter().rposition(|r| r.is_tts() && r.voice() == *id);
        let delete_at = run.iter().position(|r| r.is_delete() && r.voice() == *id).unwrap();
        assert!(last_line.is_none_or(|l| l < delete_at), "{sp}'s clone is deleted after their last line");
    }
    (adds.len(), tts.len(), deletes.len())
}

// ---- the job ----------------------------------------------------------------------------------

fn make_input(dir: &Path) -> PathBuf {
    support::make_input(dir, 12)
}

fn request(dir: &Path, fake: &Fake) -> DubRequest {
    let mut req = DubRequest::new(make_input(dir), dir.join("out.mp4"), "es", dir.join("jobs"));
    req.from = Some("en".into());
    req.voices = VoiceConfig::Elevenlabs(redub_elevenlabs::ElevenLabsSettings {
        base_url: fake.url.clone(),
        api_key: Some(KEY.into()),
        timeout_ms: 10_000,
        max_retries: 1,
        backoff_ms: 10,
        ..Default::default()
    });
    req
}

fn job_dir(req: &DubRequest) -> PathBuf {
    std::fs::read_dir(&req.jobs_dir).unwrap().next().unwrap().unwrap().path()
}

const BEFORE_SYNTHESIS: [&str; 7] =
    ["01-ingest", "02-vad", "03-separate", "04-transcribe", "05-diarize", "06-translate", "07-voices"];

/// The voices stage's own files: references at 44.1 kHz mono, S2's padded to 2.0 s.
fn check_voices_stage(job: &Path) {
    let voices: Value = serde_json::from_slice(&std::fs::read(job.join("07-voices/voices.json")).unwrap()).unwrap();
    for sp in ["S1", "S2"] {
        assert_eq!(voices[sp]["backend"], "elevenlabs", "{voices}");
        assert_eq!(voices[sp]["voice"], "", "a clone is made at synthesis: {voices}");
        assert_eq!(voices[sp]["reference"], format!("refs/{sp}.wav"));
    }
    assert_eq!(voices["S2"]["reference_ms"], 2000, "{voices}");
    let (ch, rate, secs) = wav_info(&std::fs::read(job.join("07-voices/refs/S2.wav")).unwrap());
    assert_eq!((ch, rate), (1, 44_100));
    assert!((secs - 2.0).abs() < 0.001, "{secs}");
    let (ch, rate, _) = wav_info(&std::fs::read(job.join("07-voices/refs/S1.wav")).unwrap());
    assert_eq!((ch, rate), (1, 44_100));
}

#[test]
fn every_speaker_gets_one_clone_that_speaks_their_lines_and_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = serve();
    let req = request(tmp.path(), &fake);
    let summary = dub(&req, &StandIns, EventSink::silent()).unwrap();
    assert_eq!(summary.lines, REGIONS.len());
    assert!(req.output.is_file(), "the output exists");
    check_voices_stage(&job_dir(&req));
    println!("successful job:");
    let (adds, tts, deletes) = check_run(&fake.requests(), &["S1", "S2"], REGIONS.len());
    assert_eq!((adds, tts, deletes), (2, 5, 2));
    assert!(fake.live().is_empty(), "no clone is left on the service: {:?}", fake.live());
    // Speakers are spoken one after the other: S1's clone is gone before S2's is made, so the
    // account never holds more than one of this job's clones.
    let run = fake.requests();
    let first_delete = run.iter().position(|r| r.is_delete()).unwrap();
    let second_add = run.iter().enumerate().filter(|(_, r)| r.is_add()).nth(1).unwrap().0;
    let last_tts = run.iter().rposition(|r| r.is_tts()).unwrap();
    assert!(first_delete < second_add, "one clone at a time");
    assert!(first_delete < last_tts, "a clone is let go after its speaker's last line, not at the end");
}

#[test]
fn a_job_that_fails_half_way_deletes_its_clones_and_resumes_from_synthesis() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = serve();
    let req = request(tmp.path(), &fake);

    // The third line is refused (a 400 is not retried): the job fails in 08-synthesize.
    fake.fail_tts(Some(3));
    let err = dub(&req, &StandIns, EventSink::silent()).unwrap_err().to_string();
    println!("failed job: {err}");
    assert!(err.contains("simulated refusal"), "{err}");
    let job = job_dir(&req);
    for stage in BEFORE_SYNTHESIS {
        assert!(job.join(stage).join("manifest.json").is_file(), "{stage} is kept");
    }
    assert!(!job.join("08-synthesize/manifest.json").exists());
    assert!(!req.output.exists());
    check_voices_stage(&job);
    // S1's lines (0, 2, 4) come first; the refusal is S1's third line.
    let first = fake.requests();
    let (adds, tts, deletes) = check_run(&first, &["S1"], 3);
    assert_eq!((adds, tts, deletes), (1, 3, 1));
    assert!(fake.live().is_empty(), "every clone made was deleted: {:?}", fake.live());

    // With the service healthy again, the same request resumes from synthesis.
    fake.fail_tts(None);
    let summary = dub(&req, &StandIns, EventSink::silent()).unwrap();
    assert_eq!(summary.skipped_stages, BEFORE_SYNTHESIS);
    assert!(req.output.is_file());
    let all = fake.requests();
    println!("resumed job:");
    // The two lines spoken before the refusal were kept: the service is not paid for them again.
    let resumed = &all[first.len()..];
    let (adds, tts, deletes) = check_run(resumed, &["S1", "S2"], REGIONS.len() - 2);
    assert_eq!((adds, tts, deletes), (2, 3, 2));
    let texts: Vec<String> = resumed
        .iter()
        .filter(|r| r.is_tts())
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let line = |t: &String| t.rsplit(' ').next().unwrap().parse::<usize>().unwrap();
    assert_eq!(texts.iter().map(line).collect::<Vec<_>>(), [4, 1, 3], "only the lines not yet spoken: {texts:?}");
    let ids = |run: &[Seen]| -> BTreeSet<String> { run.iter().filter(|r| r.is_delete()).map(Seen::voice).collect() };
    assert!(ids(&first).is_disjoint(&ids(&all[first.len()..])), "the rerun made clones of its own");
    assert!(fake.live().is_empty(), "no clone is left on the service: {:?}", fake.live());
}
