//! The whole diarization: plan chunks, find local speakers in each chunk (segmentation, one
//! embedding per local speaker of each window, complete-linkage clustering), then give each
//! chunk's speakers their global ids (Hungarian matching against the speakers seen so far, with
//! the overlap between neighbouring chunks as evidence).

use crate::chunks::{self, Chunk, ChunkSettings};
use crate::cluster::{self, Linkage};
use crate::embed::Embedder;
use crate::global::{Evidence, GlobalSpeakers, LocalSpeaker, Recluster};
use crate::segmentation::{self, Segmenter, Window, FRAME_STEP, LOCAL};
use crate::whole;
use crate::Turn;
use redub_core::{Audio, Ctx, Error, Result, Span};
use serde::{Deserialize, Serialize};

/// How speakers are found and told apart. Thresholds are cosine similarities of CAM++
/// embeddings; DESIGN's 0.78/0.80 were written for weaker embedders and split one person into
/// several with CAM++ (measured in `docs/notes/issue-3-diarization.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiarizeSettings {
    /// Segmentation window hop (the window is 10 s). pyannote uses 1 s; 2.5 s halves the work
    /// and scored the same on the fixtures.
    pub step_ms: u64,
    /// Pieces of at least this length make a local speaker's embedding (DESIGN: 1.0 s).
    pub min_piece_ms: u64,
    /// Local speakers merge when their complete-linkage cosine is at least this; a local
    /// speaker's clean runs that are less similar than this are split before clustering.
    pub cluster_threshold: f32,
    /// A chunk's speaker joins a known global speaker when the cosine is at least this.
    pub match_threshold: f32,
    /// After the last chunk, two global speakers merge while their centroids' cosine is at least
    /// this (`global::Recluster`).
    #[serde(default = "default_recluster")]
    pub recluster_threshold: f32,
    /// Then two speakers merge while the cosine of their profile embeddings (up to 30 s of
    /// each one's own turns, embedded at once) is at least this (`whole::merge_by_profiles`).
    #[serde(default = "default_profile")]
    pub profile_threshold: f32,
    /// The same for a pair of which one has under 15 s of speech in all, whose centroids must
    /// then also be `small_centroid_threshold` alike.
    #[serde(default = "default_small_profile")]
    pub small_profile_threshold: f32,
    #[serde(default = "default_small_centroid")]
    pub small_centroid_threshold: f32,
    /// Exactly this many speakers (`--speakers`).
    pub speakers: Option<usize>,
    pub min_speakers: Option<usize>,
    pub max_speakers: Option<usize>,
    pub chunk: ChunkSettings,
}

impl Default for DiarizeSettings {
    fn default() -> Self {
        Self {
            step_ms: 2_500,
            min_piece_ms: 1_000,
            cluster_threshold: 0.50,
            match_threshold: 0.60,
            recluster_threshold: default_recluster(),
            profile_threshold: default_profile(),
            small_profile_threshold: default_small_profile(),
            small_centroid_threshold: default_small_centroid(),
            speakers: None,
            min_speakers: None,
            max_speakers: None,
            chunk: ChunkSettings::default(),
        }
    }
}

fn default_recluster() -> f32 {
    0.60
}

fn default_profile() -> f32 {
    0.53
}

fn default_small_profile() -> f32 {
    0.45
}

fn default_small_centroid() -> f32 {
    0.50
}

impl DiarizeSettings {
    /// The speaker-count limits as (min, max), with `speakers` pinning both.
    pub fn limits(&self) -> Result<(usize, Option<usize>)> {
        let (min, max) = match self.speakers {
            Some(n) => (n, Some(n)),
            None => (self.min_speakers.unwrap_or(0), self.max_speakers),
        };
        if let Some(max) = max {
            if max < min {
                return Err(Error::Usage(format!(
                    "--min-speakers {min} is more than --max-speakers {max}; give a range with min ≤ max"
                )));
            }
            if max == 0 {
                return Err(Error::Usage("--max-speakers must be at least 1".into()));
            }
        }
        if self.chunk.max_ms < 10_000 {
            return Err(Error::Usage(format!(
                "chunks of {} ms are too short: a chunk must hold at least one 10 s segmentation window",
                self.chunk.max_ms
            )));
        }
        Ok((min, max))
    }
}

/// What one chunk found, for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkReport {
    pub index: usize,
    pub span: Span,
    pub core: Span,
    /// Global speaker index of each local speaker, in local order (index i is `S{i+1}`); `None`
    /// for a local speaker heard only in the overlap, which the neighbouring chunk speaks for.
    pub speakers: Vec<Option<usize>>,
}

/// Diarization of a whole input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diarization {
    /// Sorted by start; speakers named `S1`, `S2`, … in order of first appearance.
    pub turns: Vec<Turn>,
    pub speakers: Vec<String>,
    pub chunks: Vec<ChunkReport>,
}

/// A speaker found inside one chunk: its turns (absolute ms) and its embedding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkSpeaker {
    pub turns: Vec<Span>,
    pub speaker: LocalSpeaker,
}

/// One chunk's share of the work (segmentation, embeddings, clustering inside the chunk), with
/// everything [`SpeakerDiarizer::diarize_chunk`] reads besides the audio and the models, so
/// that another process with the same models finds the same local speakers. Chunks are
/// independent of each other; only the matching across them needs them all, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkTask {
    pub chunk: Chunk,
    /// The clustering inside the chunk (the job's thresholds and speaker-count limits).
    pub linkage: Linkage,
    /// [`DiarizeSettings::step_ms`].
    pub step_ms: u64,
    /// [`DiarizeSettings::min_piece_ms`].
    pub min_piece_ms: u64,
    /// [`DiarizeSettings::match_threshold`]: clusters whose centroids are this alike merge.
    pub match_threshold: f32,
}

/// What one chunk found: its local speakers, in local order (the order the matching sees).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkResult {
    pub speakers: Vec<ChunkSpeaker>,
}

/// pyannote segmentation-3.0 + CAM++ on ONNX Runtime.
pub struct SpeakerDiarizer {
    segmenter: Segmenter,
    embedder: Embedder,
    pub settings: DiarizeSettings,
}

impl std::fmt::Debug for SpeakerDiarizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeakerDiarizer").field("settings", &self.settings).finish_non_exhaustive()
    }
}

const RATE: usize = segmentation::RATE as usize;

fn ms(samples: usize) -> u64 {
    (samples as u64 * 1000) / RATE as u64
}

fn samples(ms: u64) -> usize {
    (ms as usize) * RATE / 1000
}

impl SpeakerDiarizer {
    pub fn load(settings: DiarizeSettings) -> Result<Self> {
        settings.limits()?;
        Ok(Self { segmenter: Segmenter::load()?, embedder: Embedder::load()?, settings })
    }

    /// Model identity for cache keys.
    pub fn identity() -> Vec<&'static str> {
        vec![Segmenter::MODEL, Embedder::MODEL]
    }

    /// Diarize `audio` (16 kHz mono). See [`redub_core::Diarizer`].
    pub fn run(&mut self, audio: &Audio, speech: &[Span], scene_cuts_ms: &[u64], ctx: &Ctx) -> Result<Diarization> {
        let (plan, tasks) = self.chunk_tasks(audio, speech, scene_cuts_ms)?;
        // The chunks here, one after the other; progress runs over the whole plan, chunks
        // without speech (no task) included.
        let total: u64 = plan.iter().map(|c| c.span.duration_ms()).sum::<u64>().max(1);
        let mut done = 0u64;
        let mut results = Vec::with_capacity(tasks.len());
        let mut pending = tasks.iter().peekable();
        for chunk in &plan {
            ctx.check_cancel()?;
            let len = chunk.span.duration_ms();
            if let Some(task) = pending.next_if(|t| t.chunk.index == chunk.index) {
                let report = |d: u64, t: u64| ctx.progress(done + len * d / t.max(1), total);
                results.push(self.diarize_chunk(audio, task, &ctx.child(&report))?);
            }
            done += len;
            ctx.progress(done, total);
        }
        self.combine(audio, &plan, &tasks, results)
    }

    /// [`run`](Self::run) with the chunks' local speakers from `chunks`, which is given every
    /// chunk that holds speech at once (so it may run them elsewhere, side by side) and must
    /// return their results in the same order, as [`diarize_chunk`](Self::diarize_chunk) gives
    /// them. The matching across chunks, the re-clustering and the profile merge run here.
    pub fn run_with(
        &mut self,
        audio: &Audio,
        speech: &[Span],
        scene_cuts_ms: &[u64],
        ctx: &Ctx,
        chunks: &mut dyn FnMut(&[ChunkTask]) -> Result<Vec<ChunkResult>>,
    ) -> Result<Diarization> {
        let (plan, tasks) = self.chunk_tasks(audio, speech, scene_cuts_ms)?;
        let results = chunks(&tasks)?;
        if results.len() != tasks.len() {
            return Err(Error::backend(
                "diarize",
                format!("{} chunks were diarized, {} results came back", tasks.len(), results.len()),
            ));
        }
        ctx.check_cancel()?;
        self.combine(audio, &plan, &tasks, results)
    }

    /// The chunk plan of `audio`, and a task for each chunk that holds speech (a chunk without
    /// speech has no speakers and needs no model).
    fn chunk_tasks(
        &self,
        audio: &Audio,
        speech: &[Span],
        scene_cuts_ms: &[u64],
    ) -> Result<(Vec<Chunk>, Vec<ChunkTask>)> {
        if audio.rate != segmentation::RATE {
            return Err(Error::backend("diarize", format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        let (min, max) = self.settings.limits()?;
        let plan = chunks::plan(audio.duration_ms(), scene_cuts_ms, speech, &self.settings.chunk);
        // The count limits apply to each chunk's clustering too. A chunk may hold fewer people
        // than the film, so a minimum can split someone in it; the global re-clustering joins
        // such halves again, down to the minimum and no further, which is what makes
        // `--speakers N` exact across chunks.
        let linkage = Linkage { threshold: self.settings.cluster_threshold, min_clusters: min, max_clusters: max };
        let tasks = plan
            .iter()
            .filter(|c| speech.iter().any(|s| s.start_ms < c.span.end_ms && s.end_ms > c.span.start_ms))
            .map(|chunk| ChunkTask {
                chunk: chunk.clone(),
                linkage: linkage.clone(),
                step_ms: self.settings.step_ms,
                min_piece_ms: self.settings.min_piece_ms,
                match_threshold: self.settings.match_threshold,
            })
            .collect();
        Ok((plan, tasks))
    }

    /// Local speakers of one chunk of `audio` (16 kHz mono, the whole input: the task names
    /// its span). Uses the models only, not `self.settings`: the task carries its settings.
    pub fn diarize_chunk(&mut self, audio: &Audio, task: &ChunkTask, ctx: &Ctx) -> Result<ChunkResult> {
        if audio.rate != segmentation::RATE {
            return Err(Error::backend("diarize", format!("needs 16 kHz audio, got {} Hz", audio.rate)));
        }
        Ok(ChunkResult { speakers: self.chunk_speakers(audio, task, ctx)? })
    }

    /// Give the chunks' local speakers global ids, in chunk order (`results` are those of
    /// `tasks`; chunks of `plan` without a task have no speakers), then re-cluster and merge
    /// by profiles.
    fn combine(
        &mut self,
        audio: &Audio,
        plan: &[Chunk],
        tasks: &[ChunkTask],
        results: Vec<ChunkResult>,
    ) -> Result<Diarization> {
        let (min, max) = self.settings.limits()?;
        let mut global = GlobalSpeakers::new(self.settings.match_threshold);
        let mut labelled: Vec<(Span, usize)> = Vec::new();
        let mut previous: Vec<(Span, usize)> = Vec::new();
        let mut reports = Vec::new();
        let mut found = tasks.iter().map(|t| t.chunk.index).zip(results).peekable();
        for chunk in plan {
            let locals = found.next_if(|(i, _)| *i == chunk.index).map(|(_, r)| r.speakers).unwrap_or_default();
            let evidence = overlap_evidence(&locals, &previous, chunk);
            let speakers: Vec<LocalSpeaker> = locals.iter().map(|l| l.speaker.clone()).collect();
            let ids = global.assign(&speakers, &evidence);
            previous.clear();
            for (local, id) in locals.iter().zip(&ids) {
                for t in &local.turns {
                    previous.push((*t, *id));
                    // Each chunk speaks for its core only; the overlap is context.
                    let s = Span::new(t.start_ms.max(chunk.core.start_ms), t.end_ms.min(chunk.core.end_ms));
                    if s.duration_ms() > 0 {
                        labelled.push((s, *id));
                    }
                }
            }
            reports.push(ChunkReport {
                index: chunk.index,
                span: chunk.span,
                core: chunk.core,
                speakers: ids.into_iter().map(Some).collect(),
            });
        }
        let rule = Recluster { threshold: self.settings.recluster_threshold, min, max };
        let relabel = global.recluster(&rule);
        for (_, id) in labelled.iter_mut() {
            *id = relabel[*id];
        }
        let fold = whole::fold_small(&labelled, global.centroids(), min.max(1));
        for (_, id) in labelled.iter_mut() {
            *id = fold[*id];
        }
        let thresholds = whole::ProfileThresholds {
            large: self.settings.profile_threshold,
            small: self.settings.small_profile_threshold,
            small_centroid: self.settings.small_centroid_threshold,
        };
        let joined = whole::merge_by_profiles(
            &mut self.embedder,
            audio,
            &mut labelled,
            min.max(1),
            thresholds,
            global.centroids(),
        )?;
        for r in reports.iter_mut() {
            r.speakers.iter_mut().for_each(|id| *id = id.and_then(|i| relabel.get(i)).map(|n| joined[fold[*n]]));
        }
        Ok(finish(labelled, reports))
    }

    /// Local speakers of one chunk.
    fn chunk_speakers(&mut self, audio: &Audio, task: &ChunkTask, ctx: &Ctx) -> Result<Vec<ChunkSpeaker>> {
        let (chunk, linkage) = (&task.chunk, &task.linkage);
        let offset = samples(chunk.span.start_ms).min(audio.samples.len());
        let end = samples(chunk.span.end_ms).min(audio.samples.len());
        let x = &audio.samples[offset..end];
        let step = samples(task.step_ms).max(FRAME_STEP);
        // Segmentation is the first half of the work, embeddings the second.
        let seg_progress = |d: u64, t: u64| ctx.progress(d * 50 / t.max(1), 100);
        let windows = self.segmenter.run(x, step, &ctx.child(&seg_progress))?;

        // Items to cluster: normally one per (window, local speaker). The segmentation model
        // sometimes keeps one local label across a pause where the voice changes (two similar
        // voices taking turns); embedding each long run separately and splitting the label
        // where the runs disagree stops such a label from gluing two people together.
        let mut items: Vec<(usize, usize, Vec<f32>)> = Vec::new();
        // For each window and frame, the item that speaks for each local speaker.
        let mut frame_item: Vec<Vec<[Option<usize>; LOCAL]>> = Vec::with_capacity(windows.len());
        let min_piece = samples(task.min_piece_ms);
        for (wi, w) in windows.iter().enumerate() {
            ctx.check_cancel()?;
            let mut owners = vec![[None; LOCAL]; w.active.len()];
            for k in 0..LOCAL {
                for (emb, frames) in self.local_items(x, w, k, min_piece, linkage.threshold)? {
                    let id = items.len();
                    items.push((wi, k, emb));
                    for f in frames {
                        if let Some(slot) = owners.get_mut(f).and_then(|o| o.get_mut(k)) {
                            *slot = Some(id);
                        }
                    }
                }
            }
            frame_item.push(owners);
            ctx.progress(50 + (wi as u64 + 1) * 50 / windows.len() as u64, 100);
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // Two local speakers of one window are two people: the model separated them. Items
        // split from one local speaker by the run check are only a hypothesis, so clustering
        // may join them again.
        let mut cannot = Vec::new();
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                if items[i].0 == items[j].0 && items[i].1 != items[j].1 {
                    cannot.push((i, j));
                }
            }
        }
        let embeddings: Vec<Vec<f32>> = items.iter().map(|(_, _, e)| e.clone()).collect();
        let labels = cluster::cluster(&embeddings, &cannot, linkage);
        let labels = merge_similar_clusters(&embeddings, labels, &cannot, task.match_threshold, linkage);
        let k = labels.iter().copied().max().map_or(0, |m| m + 1);
        // Reconstruct: a cluster speaks in a frame when at least half of the windows covering
        // that frame say so. Windows start at arbitrary samples; frames are placed on one grid.
        let grid = x.len().max(segmentation::WINDOW) / FRAME_STEP + segmentation::frames(segmentation::WINDOW) + 1;
        let mut votes = vec![vec![0u16; grid]; k];
        let mut cover = vec![0u16; grid];
        for (w, owners) in windows.iter().zip(&frame_item) {
            let g0 = (w.start + FRAME_STEP / 2) / FRAME_STEP;
            for (f, (act, own)) in w.active.iter().zip(owners).enumerate() {
                let g = g0 + f;
                if g >= grid {
                    break;
                }
                cover[g] += 1;
                let mut seen: Vec<usize> = Vec::with_capacity(LOCAL);
                for (on, item) in act.iter().zip(own) {
                    if let (true, Some(item)) = (*on, item) {
                        // Two locals of one window in one cluster (forced by a speaker limit)
                        // still count once.
                        let c = labels[*item];
                        if !seen.contains(&c) {
                            seen.push(c);
                            votes[c][g] += 1;
                        }
                    }
                }
            }
        }
        let members = |c: usize| -> Vec<&Vec<f32>> {
            items.iter().zip(&labels).filter(|(_, l)| **l == c).map(|((_, _, e), _)| e).collect()
        };
        let mut locals: Vec<ChunkSpeaker> = (0..k)
            .map(|c| {
                let members = members(c);
                let mut mean = vec![0.0f32; members[0].len()];
                for e in &members {
                    mean.iter_mut().zip(e.iter()).for_each(|(m, x)| *m += x);
                }
                ChunkSpeaker {
                    turns: Vec::new(),
                    speaker: LocalSpeaker { embedding: crate::normalized(&mean), weight_ms: 0 },
                }
            })
            .collect();
        let x_ms = ms(x.len());
        for (c, local) in locals.iter_mut().enumerate() {
            let mut start: Option<usize> = None;
            for g in 0..=grid {
                let on = g < grid && cover[g] > 0 && u32::from(votes[c][g]) * 2 >= u32::from(cover[g]);
                match (on, start) {
                    (true, None) => start = Some(g),
                    (false, Some(a)) => {
                        let a_ms = ms(segmentation::frame_centre(a).saturating_sub(FRAME_STEP / 2)).min(x_ms);
                        let b_ms = ms(segmentation::frame_centre(g - 1) + FRAME_STEP / 2).min(x_ms);
                        if b_ms > a_ms {
                            let base = chunk.span.start_ms;
                            local.turns.push(Span::new(base + a_ms, base + b_ms));
                        }
                        start = None;
                    }
                    _ => {}
                }
            }
            local.speaker.weight_ms = local.turns.iter().map(|t| t.duration_ms()).sum();
        }
        locals.retain(|l| !l.turns.is_empty());
        Ok(locals)
    }

    /// The items local speaker `k` of window `w` contributes: (embedding, frames it speaks
    /// for). Usually one; several when its long clean runs do not sound like one person.
    fn local_items(
        &mut self,
        x: &[f32],
        w: &Window,
        k: usize,
        min_piece: usize,
        threshold: f32,
    ) -> Result<Vec<(Vec<f32>, Vec<usize>)>> {
        let active: Vec<usize> = (0..w.active.len()).filter(|f| w.active[*f][k]).collect();
        let runs = clean_runs(w, k, x.len());
        if active.is_empty() || runs.is_empty() {
            return Ok(Vec::new());
        }
        let long: Vec<&Run> = runs.iter().filter(|r| r.end - r.start >= min_piece).collect();
        if long.len() < 2 {
            let slices: Vec<&[f32]> = runs.iter().map(|r| &x[r.start..r.end]).collect();
            return Ok(self.embedder.embed_pieces(&slices, min_piece)?.map(|e| (e, active)).into_iter().collect());
        }
        let mut embedded: Vec<(&Run, Vec<f32>)> = Vec::new();
        for r in long {
            if let Some(e) = self.embedder.embed(&x[r.start..r.end])? {
                embedded.push((r, e));
            }
        }
        if embedded.is_empty() {
            return Ok(Vec::new());
        }
        let embs: Vec<Vec<f32>> = embedded.iter().map(|(_, e)| e.clone()).collect();
        let groups = cluster::cluster(&embs, &[], &Linkage { threshold, min_clusters: 1, max_clusters: None });
        let n = groups.iter().copied().max().map_or(0, |m| m + 1);
        let mut out: Vec<(Vec<f32>, Vec<usize>)> = (0..n)
            .map(|g| {
                // DESIGN's recipe per group: the mean of its (up to) three longest runs.
                let mut mine: Vec<&(&Run, Vec<f32>)> =
                    embedded.iter().zip(&groups).filter(|(_, l)| **l == g).map(|(e, _)| e).collect();
                mine.sort_by_key(|(r, _)| std::cmp::Reverse(r.end - r.start));
                let mut sum = vec![0.0f32; embs[0].len()];
                for (_, e) in mine.iter().take(3) {
                    sum.iter_mut().zip(e).for_each(|(s, v)| *s += v);
                }
                (crate::normalized(&sum), Vec::new())
            })
            .collect();
        // Every active frame (overlap and short runs included) goes with the nearest long run.
        for f in active {
            let nearest = embedded
                .iter()
                .zip(&groups)
                .min_by_key(|((r, _), _)| if f < r.first { r.first - f } else { f.saturating_sub(r.last) })
                .map(|(_, g)| *g)
                .unwrap_or(0);
            out[nearest].1.push(f);
        }
        Ok(out)
    }
}

impl redub_core::Diarizer for SpeakerDiarizer {
    fn diarize(&mut self, audio: &Audio, speech: &[Span], scene_cuts_ms: &[u64], ctx: &Ctx) -> Result<Vec<Turn>> {
        Ok(self.run(audio, speech, scene_cuts_ms, ctx)?.turns)
    }
}

/// A stretch where one local speaker speaks alone: frames `first..=last` of its window and
/// samples `start..end` of the chunk.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Run {
    first: usize,
    last: usize,
    start: usize,
    end: usize,
}

/// Where local speaker `k` of window `w` speaks alone: the cleanest audio for its embedding.
fn clean_runs(w: &Window, k: usize, len: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut first: Option<usize> = None;
    for f in 0..=w.active.len() {
        let alone = f < w.active.len() && w.active[f][k] && w.active[f].iter().filter(|a| **a).count() == 1;
        match (alone, first) {
            (true, None) => first = Some(f),
            (false, Some(a)) => {
                let start = w.start + segmentation::frame_centre(a).saturating_sub(FRAME_STEP / 2);
                let end = (w.start + segmentation::frame_centre(f - 1) + FRAME_STEP / 2).min(len);
                if end > start {
                    runs.push(Run { first: a, last: f - 1, start, end });
                }
                first = None;
            }
            _ => {}
        }
    }
    runs
}

/// Shared speech between this chunk's local speakers and the previous chunk's global speakers,
/// inside the stretch both chunks saw.
fn overlap_evidence(locals: &[ChunkSpeaker], previous: &[(Span, usize)], chunk: &Chunk) -> Vec<Evidence> {
    if previous.is_empty() {
        return Vec::new();
    }
    // The previous chunk reaches as far past the cut as this one reaches before it.
    let region = Span::new(chunk.span.start_ms, chunk.core.start_ms + (chunk.core.start_ms - chunk.span.start_ms));
    let clip = |s: &Span| {
        let a = s.start_ms.max(region.start_ms);
        let b = s.end_ms.min(region.end_ms);
        (b > a).then(|| Span::new(a, b))
    };
    let mut shared: std::collections::BTreeMap<(usize, usize), u64> = std::collections::BTreeMap::new();
    for (li, local) in locals.iter().enumerate() {
        for t in local.turns.iter().filter_map(clip) {
            for (p, g) in previous {
                if let Some(q) = clip(p) {
                    let a = t.start_ms.max(q.start_ms);
                    let b = t.end_ms.min(q.end_ms);
                    if b > a {
                        *shared.entry((li, *g)).or_default() += b - a;
                    }
                }
            }
        }
    }
    shared.into_iter().map(|((local, global), shared_ms)| Evidence { local, global, shared_ms }).collect()
}

/// Clusters with fewer items than this are folded into a larger one.
const MIN_CLUSTER_ITEMS: usize = 2;

/// Complete linkage judges a pair of clusters by its least similar items, and a few noisy
/// items (a short run, a cough) can keep one person in two clusters. Cluster centroids are far
/// steadier, so clusters whose centroids are as similar as a cross-chunk match
/// (`match_threshold`) are merged too, most similar first, unless the segmentation model heard
/// them as two voices in one window, and never below `linkage.min_clusters`.
fn merge_similar_clusters(
    items: &[Vec<f32>],
    mut labels: Vec<usize>,
    cannot: &[(usize, usize)],
    match_threshold: f32,
    linkage: &Linkage,
) -> Vec<usize> {
    loop {
        let k = labels.iter().copied().max().map_or(0, |m| m + 1);
        if k <= linkage.min_clusters.max(1) {
            return labels;
        }
        let centroids = cluster::centroids(items, &labels);
        let apart: std::collections::HashSet<(usize, usize)> =
            cannot.iter().map(|(i, j)| (labels[*i].min(labels[*j]), labels[*i].max(labels[*j]))).collect();
        let mut best: Option<(f32, usize, usize)> = None;
        for a in 0..k {
            for b in a + 1..k {
                let c = crate::cosine(&centroids[a], &centroids[b]);
                if c >= match_threshold && !apart.contains(&(a, b)) && best.is_none_or(|(x, _, _)| c > x) {
                    best = Some((c, a, b));
                }
            }
        }
        // A cluster of one item is a voice heard in a single window only: too little to stand
        // as a speaker (pyannote treats small clusters the same way). It joins the most similar
        // larger cluster it is not kept apart from.
        let best = best.or_else(|| {
            let sizes: Vec<usize> = (0..k).map(|c| labels.iter().filter(|l| **l == c).count()).collect();
            let single =
                (0..k).find(|c| sizes[*c] < MIN_CLUSTER_ITEMS && sizes.iter().any(|s| *s >= MIN_CLUSTER_ITEMS))?;
            (0..k)
                .filter(|c| sizes[*c] >= MIN_CLUSTER_ITEMS && !apart.contains(&(single.min(*c), single.max(*c))))
                .map(|c| (crate::cosine(&centroids[single], &centroids[c]), c.min(single), c.max(single)))
                .max_by(|x, y| x.0.total_cmp(&y.0))
        });
        let Some((_, a, b)) = best else {
            return labels;
        };
        // Join b into a and keep labels dense.
        for l in labels.iter_mut() {
            if *l == b {
                *l = a;
            } else if *l > b {
                *l -= 1;
            }
        }
    }
}

/// Merge each speaker's touching turns, name speakers by first appearance, sort.
fn finish(mut labelled: Vec<(Span, usize)>, mut reports: Vec<ChunkReport>) -> Diarization {
    labelled.sort_by_key(|(s, id)| (s.start_ms, *id));
    let mut order: Vec<usize> = Vec::new();
    for (_, id) in &labelled {
        if !order.contains(id) {
            order.push(*id);
        }
    }
    let name = |id: usize| order.iter().position(|o| *o == id).map(|p| format!("S{}", p + 1));
    let mut by_speaker: std::collections::BTreeMap<usize, Vec<Span>> = std::collections::BTreeMap::new();
    for (s, id) in labelled {
        let list = by_speaker.entry(id).or_default();
        match list.last_mut() {
            Some(last) if s.start_ms <= last.end_ms => last.end_ms = last.end_ms.max(s.end_ms),
            _ => list.push(s),
        }
    }
    let mut turns: Vec<Turn> = by_speaker
        .into_iter()
        .flat_map(|(id, spans)| {
            let n = name(id).unwrap_or_default();
            spans.into_iter().map(move |s| Turn::new(s.start_ms, s.end_ms, n.clone()))
        })
        .collect();
    turns.sort_by(|a, b| (a.start_ms, &a.speaker).cmp(&(b.start_ms, &b.speaker)));
    let speakers = (1..=order.len()).map(|i| format!("S{i}")).collect();
    // Chunk reports keep global indices in first-appearance order too (speaker i+1 = index i).
    for r in reports.iter_mut() {
        for id in r.speakers.iter_mut() {
            *id = id.and_then(|g| order.iter().position(|o| *o == g));
        }
    }
    Diarization { turns, speakers, chunks: reports }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_merges_names_and_sorts() {
        let labelled = vec![
            (Span::new(5_000, 6_000), 3),
            (Span::new(0, 1_000), 7),
            (Span::new(900, 2_000), 7),
            (Span::new(2_500, 3_000), 3),
        ];
        let d = finish(labelled, Vec::new());
        assert_eq!(d.speakers, vec!["S1", "S2"]);
        assert_eq!(
            d.turns,
            vec![Turn::new(0, 2_000, "S1"), Turn::new(2_500, 3_000, "S2"), Turn::new(5_000, 6_000, "S2")]
        );
    }

    #[test]
    fn clean_runs_skip_overlap() {
        let mut active = vec![[false; LOCAL]; 10];
        for a in active.iter_mut().take(6).skip(1) {
            a[0] = true;
        }
        active[4][1] = true;
        let runs = clean_runs(&Window { start: 0, active }, 0, 1_000_000);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].first, runs[0].last, runs[1].first, runs[1].last), (1, 3, 5, 5));
        assert!(runs[0].end <= runs[1].start);
    }

    #[test]
    fn limits_reject_impossible_ranges() {
        let s = DiarizeSettings { min_speakers: Some(3), max_speakers: Some(2), ..Default::default() };
        assert!(matches!(s.limits(), Err(Error::Usage(_))));
        let s = DiarizeSettings { speakers: Some(2), ..Default::default() };
        assert_eq!(s.limits().unwrap(), (2, Some(2)));
    }
}
