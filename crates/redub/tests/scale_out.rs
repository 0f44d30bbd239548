//! Scale-out (issue #16) with the real pipeline and a real JetStream server: two `redub worker`s
//! started before `nats-server -js` (on loopback, in a temporary folder) connect once it
//! appears; `redub dub --nats` hands them the transcription windows and the synthesis parts of
//! an 83 s, four-voice input diarized in chunks of 30 s; one worker is SIGKILLed in the middle of
//! a synthesis task and NATS is restarted while the other runs the task again. The job finishes
//! and equals the same dub made in one process: same lines, same speakers, same clips, and the
//! dubbed track within a small tolerance.

#![allow(clippy::unwrap_used)]

use redub_testserver::{free_port, nats_url, NatsServer};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Kills its process when dropped, so a failed assertion leaves nothing running.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The input: the two-speaker call, a LibriVox reader's five lines, five spoken playing cards
/// and the reader again, 0.9 s apart, over a pink-noise bed, with a video stream.
fn make_input(dir: &Path) -> PathBuf {
    let f = root().join("fixtures");
    let l = "librivox/sense_and_sensibility_01_austen_64kb";
    let mut parts = vec!["speech-2spk/sample.wav".to_string()];
    for p in ["0870", "0880", "0890", "0920", "0930"] {
        parts.push(format!("{l}-{p}.wav"));
    }
    for c in 1..=5 {
        parts.push(format!("cards/00{c}.wav"));
    }
    parts.push(format!("{l}-0870.wav"));
    let mut args: Vec<String> = vec!["-v".into(), "error".into(), "-y".into()];
    for p in &parts {
        args.extend(["-i".into(), f.join(p).display().to_string()]);
    }
    let n = parts.len();
    args.extend(
        ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.01:sample_rate=16000:duration=90"].map(String::from),
    );
    args.extend(["-f", "lavfi", "-i", "color=c=0x305070:s=160x90:r=10"].map(String::from));
    let mut filter = String::new();
    for i in 0..n {
        filter += &format!("[{i}:a]aresample=16000,aformat=channel_layouts=mono,apad=pad_dur=0.9[a{i}];");
    }
    filter += &(0..n).map(|i| format!("[a{i}]")).collect::<String>();
    filter += &format!("concat=n={n}:v=0:a=1[sp];[{n}:a]volume=0.6[bed];[sp][bed]amix=inputs=2:duration=first:normalize=0,aresample=48000[out]");
    let out = dir.join("multi.mp4");
    args.extend([
        "-filter_complex".into(),
        filter,
        "-map".into(),
        "[out]".into(),
        "-map".into(),
        format!("{}:v", n + 1),
    ]);
    args.extend(
        ["-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k"].map(String::from),
    );
    args.push(out.display().to_string());
    let st = Command::new("ffmpeg").args(&args).status().unwrap();
    assert!(st.success(), "ffmpeg could not build the test input");
    out
}

/// A worker whose stderr lines are collected as they come.
struct Worker {
    proc: Proc,
    log: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(name: &str, url: &str, dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redub"))
            .args(["worker", "--nats", url, "--name", name, "--ack-wait", "5", "--cache-dir"])
            .arg(dir.join(name))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (err, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("  {line}");
                sink.lock().unwrap().push(line);
            }
        });
        Self { proc: Proc(child), log }
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The first line matching `pred`, waiting up to `secs`.
    fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| pred(l)) {
                return l;
            }
            assert!(t0.elapsed() < Duration::from_secs(secs), "no worker line {what} in {secs} s: {:?}", self.lines());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn dub_args(input: &Path, jobs: &Path, out: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec!["dub".into(), input.display().to_string(), "--to".into(), "es".into()];
    a.extend(["--chunk-secs".into(), "30".into(), "--json".into()]);
    a.extend(["--jobs-dir".into(), jobs.display().to_string(), "-o".into(), out.display().to_string()]);
    a
}

fn job_dir(jobs: &Path) -> PathBuf {
    std::fs::read_dir(jobs).unwrap().next().unwrap().unwrap().path()
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn samples(p: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(p).unwrap();
    match r.spec().sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => r.samples::<i32>().map(|s| s.unwrap() as f32 / 32768.0).collect(),
    }
}

#[test]
fn a_job_on_two_workers_survives_a_killed_worker_and_a_nats_restart_and_equals_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path());

    // The same dub in one process, for comparison.
    let t0 = Instant::now();
    let local_jobs = tmp.path().join("jobs-local");
    let out = Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(dub_args(&input, &local_jobs, &tmp.path().join("local.es.mp4")))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    println!("one process: {:.1} s", t0.elapsed().as_secs_f64());

    // Workers first: they wait for the server.
    let port = free_port();
    let url = nats_url(port);
    let mut workers = vec![Worker::start("w1", &url, tmp.path()), Worker::start("w2", &url, tmp.path())];
    workers[0].wait_for("waiting for NATS", 30, |l| l.contains("waiting for NATS"));
    std::thread::sleep(Duration::from_secs(2));
    for w in &workers {
        assert!(!w.lines().iter().any(|l| l.contains("connected")), "connected with no server: {:?}", w.lines());
    }
    let store = tmp.path().join("nats");
    let nats = NatsServer::start(port, &store);
    for w in &workers {
        w.wait_for("connected", 60, |l| l.contains("connected"));
    }

    let t0 = Instant::now();
    let farm_jobs = tmp.path().join("jobs-farm");
    let events = std::fs::File::create(tmp.path().join("farm.jsonl")).unwrap();
    let coordinator = Proc(
        Command::new(env!("CARGO_BIN_EXE_redub"))
            .args(dub_args(&input, &farm_jobs, &tmp.path().join("farm.es.mp4")))
            .args(["--nats", &url, "--ack-wait", "5"])
            .stdout(events)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );

    // Whichever worker starts a synthesis part first is killed in the middle of it.
    let is_synthesis = |l: &str| l.contains(": started S") && l.contains(" lines ");
    let t_wait = Instant::now();
    let victim = loop {
        if let Some(i) = workers.iter().position(|w| w.lines().iter().any(|l| is_synthesis(l))) {
            break i;
        }
        assert!(t_wait.elapsed() < Duration::from_secs(600), "no synthesis task started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut victim = workers.remove(victim);
    let other = &workers[0];
    let started = victim.lines().into_iter().find(|l| is_synthesis(l)).unwrap();
    let label = started.split(": started ").nth(1).unwrap().split(" of job").next().unwrap().to_string();
    // After its first clip is kept, so the second delivery has something to reuse.
    victim.wait_for("a kept part", 120, |l| l.contains(&format!("{label}: kept ")));
    victim.proc.0.kill().unwrap();
    victim.proc.0.wait().unwrap();
    assert!(
        !victim.lines().iter().any(|l| l.ends_with(&format!("finished {label}"))),
        "the worker finished {label} before it was killed; the test needs a longer task"
    );
    println!("killed the worker running {label}");

    // The task comes back to the other worker after the ack wait; NATS is restarted under it.
    let again =
        other.wait_for("delivery 2", 120, |l| l.contains(&format!("started {label} ")) && l.contains("(delivery 2)"));
    println!("redelivered: {again}");
    std::thread::sleep(Duration::from_millis(500));
    nats.kill();
    std::thread::sleep(Duration::from_secs(2));
    let nats = NatsServer::start(port, &store);
    println!("NATS restarted");

    let mut coordinator = coordinator;
    let status = loop {
        if let Some(st) = coordinator.0.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(900), "the coordinator did not finish");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut coordinator.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "the job failed: {err}");
    println!("on two workers, one killed, NATS restarted: {:.1} s", t0.elapsed().as_secs_f64());
    other.wait_for("finished the redelivered task", 30, |l| l.ends_with(&format!("finished {label}")));
    let reused = other.lines().into_iter().find(|l| l.contains("kept from an earlier delivery"));
    println!("parts given back to the second delivery: {reused:?}");
    assert!(reused.is_some(), "the second delivery made the killed worker's kept clips again");

    // Worker progress reached the coordinator's events.
    let events = std::fs::read_to_string(tmp.path().join("farm.jsonl")).unwrap();
    let tasks: Vec<serde_json::Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "task")
        .collect();
    let seen: std::collections::BTreeSet<String> =
        tasks.iter().filter_map(|e| e["data"]["worker"].as_str().map(String::from)).collect();
    println!("task events: {} from workers {seen:?}", tasks.len());
    assert!(seen.contains("w1") && seen.contains("w2"), "both workers ran tasks: {seen:?}");

    // Same result as one process.
    let (a, b) = (job_dir(&local_jobs), job_dir(&farm_jobs));
    for f in ["04-transcribe/segments.json", "05-diarize/segments.json", "06-translate/translations.json"] {
        assert_eq!(read_json(&a.join(f)), read_json(&b.join(f)), "{f} differs");
    }
    let lines = read_json(&a.join("05-diarize/segments.json"));
    let speakers: std::collections::BTreeSet<&str> =
        lines.as_array().unwrap().iter().filter_map(|s| s["speaker"].as_str()).collect();
    println!("{} lines, speakers {speakers:?}: the same in both", lines.as_array().unwrap().len());
    assert!(speakers.len() >= 3, "the call's two voices, the reader and the cards: {speakers:?}");
    let clips = |d: &Path| -> Vec<serde_json::Value> {
        let mut v = read_json(&d.join("08-synthesize/clips.json")).as_array().unwrap().clone();
        // How many takes a clip took says where it was made, not what it is.
        v.iter_mut().for_each(|c| {
            c.as_object_mut().unwrap().remove("takes");
        });
        v
    };
    assert_eq!(clips(&a), clips(&b), "the clips differ");
    let (x, y) = (samples(&a.join("09-render/dub.wav")), samples(&b.join("09-render/dub.wav")));
    assert_eq!(x.len(), y.len(), "the dubbed tracks differ in length");
    let rms = |v: &mut dyn Iterator<Item = f32>| {
        let (s, n) = v.fold((0f64, 0usize), |(s, n), x| (s + (x as f64).powi(2), n + 1));
        (s / n.max(1) as f64).sqrt()
    };
    let diff = rms(&mut x.iter().zip(&y).map(|(p, q)| p - q));
    let level = rms(&mut x.iter().copied());
    println!("dub.wav: difference {:.2e} RMS against a level of {:.3e} ({:.3}%)", diff, level, diff / level * 100.0);
    assert!(diff <= level * 0.01, "the dubbed tracks differ by more than 1% RMS");

    // A stop (systemd, a container) is a clean exit that hands back any running task.
    let mut last = workers.remove(0);
    let pid = last.proc.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = last.proc.0.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the worker did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(st.success(), "SIGTERM: {st:?}");
    last.wait_for("stopping", 5, |l| l.contains("stopping"));
    drop(nats);
}
