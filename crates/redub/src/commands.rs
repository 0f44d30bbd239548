//! What each subcommand does once its arguments are parsed: one function per command, so
//! `run` in main.rs only dispatches.

use crate::{bars, job_dir, print_json, print_review, print_stages};
use crate::{DiarizeArgs, DubArgs, Eval, EvalArgs, ServeArgs, VoicesArgs, WorkerArgs};
use anyhow::Context;
use redub_core::Event;
use redub_pipeline::{DubRequest, EventSink, OfflineBackends};

/// `redub dub`: run (or resume) a job and print where its files are.
pub(crate) fn dub(a: DubArgs) -> anyhow::Result<()> {
    let DubArgs {
        input,
        to,
        from,
        output,
        keep_original_audio,
        subtitles,
        background,
        asr,
        jobs_dir,
        json,
        stop_after,
        speakers,
        translation,
        voices,
        scale,
    } = a;
    let output = output.unwrap_or_else(|| {
        let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "dub".into());
        input.with_file_name(format!("{stem}.{to}.mp4"))
    });
    // An output name Redub cannot write is refused before any work.
    redub_pipeline::stages::mux::check_output(&output)?;
    let jobs_dir = jobs_dir.unwrap_or_else(|| redub_core::paths::redub_home().join("jobs"));
    let mut req = DubRequest {
        from,
        keep_original_audio,
        subtitles,
        diarize: speakers.settings(),
        stop_after,
        background,
        ..DubRequest::new(input, output, &to, jobs_dir)
    };
    translation.apply(&mut req)?;
    voices.apply(&mut req)?;
    let sink = if json { EventSink::with_listener(print_json) } else { bars() };
    let farm = match &scale.nats {
        Some(url) => {
            let name = redub_pipeline::job_id(&req.input, req.from.as_deref(), &req.to);
            let farm = redub_scale::NatsFarm::connect(&scale.queue.settings(url)?, &name, sink.clone())?;
            Some(farm)
        }
        None => None,
    };
    let summary = redub_pipeline::dub_on(
        &req,
        &OfflineBackends { asr },
        sink,
        farm.as_ref().map(|f| f as &dyn redub_pipeline::Farm),
    )
    .with_context(|| format!("dubbing {}", req.input.display()))?;
    if let (Some(after), false) = (&summary.paused_after, json) {
        eprintln!("stopped after {after} as asked: {} lines", summary.lines);
        eprintln!("job:       {}", summary.job_dir.display());
        eprintln!("lines:     {}", summary.job_dir.join("06-translate/translations.json").display());
        eprintln!("run the same command without --stop-after to go on");
        print_review(&summary);
        return Ok(());
    }
    if !json {
        eprintln!("dubbed {} lines {}→{}", summary.lines, summary.from, summary.to);
        eprintln!("output:    {}", summary.output.display());
        for s in &summary.subtitles {
            eprintln!("subtitles: {}", s.display());
        }
        eprintln!("report:    {}", summary.job_dir.join("output/report.json").display());
        print_stages(&summary);
        print_review(&summary);
    }
    Ok(())
}

/// `redub voices`: the voice map of a job, as a table or JSON.
pub(crate) fn voices(a: VoicesArgs) -> anyhow::Result<()> {
    let VoicesArgs { job, jobs_dir, json } = a;
    let dir = job_dir(job, jobs_dir)?;
    let file = dir.join("07-voices/voices.json");
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!("{} has no voice map yet: run `redub dub` until it has passed the voices stage", dir.display())
    })?;
    let map: redub_pipeline::voices::VoiceMap =
        serde_json::from_str(&text).with_context(|| format!("reading {}", file.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&map)?);
        return Ok(());
    }
    let hz = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{v:.0} Hz"));
    println!(
        "{:<8} {:<12} {:<18} {:>10} {:>9} {:>10}  reference",
        "speaker", "backend", "voice", "speaker F0", "voice F0", "similarity"
    );
    for (sp, v) in &map {
        let voice = if v.voice.is_empty() { "(clone)".to_string() } else { v.voice.clone() };
        let voice = if v.pinned { format!("{voice} (pinned)") } else { voice };
        println!(
            "{:<8} {:<12} {:<18} {:>10} {:>9} {:>10}  {} ({:.1} s)",
            sp,
            v.backend,
            voice,
            hz(v.speaker_f0_hz),
            hz(v.voice_f0_hz),
            v.similarity.map_or("-".to_string(), |s| format!("{s:.3}")),
            dir.join("07-voices").join(&v.reference).display(),
            v.reference_ms as f64 / 1000.0
        );
    }
    let mut stock: Vec<String> = std::fs::read_dir(dir.join("07-voices/probes"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    stock.sort();
    if !stock.is_empty() {
        println!("stock voices: {}", stock.join(", "));
    }
    println!("to change one: rerun the same `redub dub` command with --voice SPEAKER=VOICE (only voices and later stages are redone)");
    Ok(())
}

/// `redub worker`: take units from the queue until stopped.
pub(crate) fn worker(a: WorkerArgs) -> anyhow::Result<()> {
    let WorkerArgs { nats, name, cache_dir, queue } = a;
    let name = name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let opts = redub_scale::worker::WorkerOptions {
        settings: queue.settings(&nats)?,
        name,
        cache_dir: cache_dir.unwrap_or_else(|| redub_core::paths::redub_home().join("worker")),
    };
    redub_scale::worker::run(&opts)?;
    Ok(())
}

/// `redub serve`: the studio.
pub(crate) fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs { bind, home, max_upload_mb, max_queued, web, scale } = a;
    let home = home.unwrap_or_else(|| redub_core::paths::redub_home().join("studio"));
    let exe = std::env::current_exe().context("finding the redub program that runs each job")?;
    let mut config = redub_server::Config::new(home, exe, bind);
    config.max_upload_bytes = max_upload_mb.saturating_mul(1 << 20);
    config.max_queued = max_queued;
    if let Some(url) = &scale.nats {
        // Checked here, so a bad URL fails the server and not every job.
        let _ = scale.queue.settings(url)?;
        config.dub_args = ["--nats".to_string(), url.clone()].into_iter().chain(scale.queue.args()).collect();
    }
    config.web_dir = web.or_else(|| {
        let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
        checkout.join("index.html").is_file().then_some(checkout)
    });
    let studio = redub_server::Studio::open(config)?;
    eprintln!("studio: http://{bind}/ (API: http://{bind}/api/openapi.json; folder {})", studio.config.home.display());
    let rt = tokio::runtime::Runtime::new().context("starting the studio's runtime")?;
    rt.block_on(redub_server::serve(studio))?;
    Ok(())
}

/// `redub diarize`: speaker turns of one file as RTTM.
pub(crate) fn diarize(a: DiarizeArgs) -> anyhow::Result<()> {
    let DiarizeArgs { input, output, json, speakers } = a;
    let sink = if json { EventSink::with_listener(print_json) } else { bars() };
    let turns = redub_pipeline::diarize_file(&input, &speakers.settings(), &OfflineBackends::default(), &sink)
        .with_context(|| format!("diarizing {}", input.display()))?;
    let uri = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
    let text = redub_diarize::rttm::to_string(&uri, &turns);
    let n = turns.iter().map(|t| t.speaker.as_str()).collect::<std::collections::BTreeSet<_>>().len();
    match output.as_deref() {
        Some(p) if p == std::path::Path::new("-") => print!("{text}"),
        _ => {
            let path = output.unwrap_or_else(|| input.with_file_name(format!("{uri}.redub.rttm")));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            if json {
                print_json(&Event::new(
                    "done",
                    "",
                    serde_json::json!({ "output": path, "speakers": n, "turns": turns.len() }),
                ));
            } else {
                eprintln!("{n} speakers, {} turns: {}", turns.len(), path.display());
            }
        }
    }
    Ok(())
}

/// `redub eval JOB`: the QA report of a finished job.
fn eval_job(a: EvalArgs) -> anyhow::Result<()> {
    let EvalArgs { job, jobs_dir, ref_rttm, ref_stm, json, .. } = a;
    let Some(job) = job else {
        anyhow::bail!("redub eval: name a job folder (`redub eval JOB_DIR`), or use `redub eval der --ref R --hyp H`")
    };
    let dir = job_dir(job, jobs_dir)?;
    let report = redub_pipeline::eval(&dir, &redub_pipeline::EvalRefs { rttm: ref_rttm, stm: ref_stm })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", redub_qa::text::summary(&report));
        println!("page: {}", dir.join("output/report.html").display());
    }
    Ok(())
}

/// `redub eval der`: DER of one RTTM against another.
fn der(reference: std::path::PathBuf, hyp: std::path::PathBuf, collar: f64, json: bool) -> anyhow::Result<()> {
    if !(0.0..=5.0).contains(&collar) {
        anyhow::bail!("--collar {collar} is out of range: give seconds between 0 and 5 (0.25 is the usual)");
    }
    let r = redub_diarize::rttm::read(&reference)?;
    let h = redub_diarize::rttm::read(&hyp)?;
    let report = redub_diarize::der::score(&r, &h, (collar * 1000.0).round() as u64);
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "DER {:.2}% (collar {collar} s): missed {:.2} s, false alarm {:.2} s, confusion {:.2} s of {:.2} s scored",
            report.der * 100.0,
            report.miss_s,
            report.false_alarm_s,
            report.confusion_s,
            report.total_s
        );
        for (r, h) in &report.mapping {
            println!("  {r} = {h}");
        }
    }
    Ok(())
}

/// `redub eval`: a job's report, or `der` of two RTTM files.
pub(crate) fn eval(a: EvalArgs) -> anyhow::Result<()> {
    match a.what {
        Some(Eval::Der { reference, hyp, collar, json }) => der(reference, hyp, collar, json),
        None => eval_job(a),
    }
}
