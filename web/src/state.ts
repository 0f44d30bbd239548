// Event → state reduction for one job's live view. Pure: no DOM, no fetch.

import { STAGES, stageIndex } from './format';
import type { Envelope, Job, JobStatus, Segment, Snapshot } from './types';

export type StageStatus = 'waiting' | 'running' | 'done' | 'skipped' | 'failed';

export interface StageState {
  status: StageStatus;
  done?: number;
  total?: number;
  took_ms?: number;
  cpu_ms?: number;
  peak_rss_kb?: number;
}

export interface VoiceInfo {
  voice: string;
  backend?: string;
  pinned?: boolean;
}

export interface JobState {
  job: Job;
  stages: Record<string, StageState>;
  /** The latest segment per line id. */
  lines: Record<number, Segment>;
  /** Progress of 05-diarize ("chunks"), when the stage reports any. */
  chunks: { done: number; total: number } | null;
  voices: Record<string, VoiceInfo>;
  warnings: string[];
  errors: string[];
  pausedAfter: string | null;
  output: string | null;
  /** Events applied (the snapshot's count plus every event since). */
  events: number;
}

/** Stage states implied by a job record alone (used for the snapshot, which has no stage history). */
export function stagesFromJob(job: Pick<Job, 'status' | 'stage'>): Record<string, StageState> {
  const stages: Record<string, StageState> = {};
  const cur = stageIndex(job.stage);
  STAGES.forEach((name, i) => {
    let status: StageStatus = 'waiting';
    if (job.status === 'done') status = 'done';
    else if (cur >= 0 && i < cur) status = 'done';
    else if (cur >= 0 && i === cur) {
      if (job.status === 'running') status = 'running';
      else if (job.status === 'review') status = 'done';
      else if (job.status === 'failed') status = 'failed';
      else status = 'waiting';
    }
    stages[name] = { status };
  });
  return stages;
}

export function initialState(job: Job): JobState {
  return {
    job,
    stages: stagesFromJob(job),
    lines: {},
    chunks: null,
    voices: {},
    warnings: [],
    errors: job.error ? [job.error] : [],
    pausedAfter: job.status === 'review' ? job.stage : null,
    output: null,
    events: 0,
  };
}

export function fromSnapshot(snap: Snapshot): JobState {
  const s = initialState(snap.job);
  for (const seg of snap.lines ?? []) s.lines[seg.id] = mergeSegment(undefined, seg);
  s.events = snap.events ?? 0;
  return s;
}

/** A translation-less segment must not wipe a translation already seen for the same line. */
function mergeSegment(prev: Segment | undefined, next: Segment): Segment {
  if (!prev) return { ...next };
  const merged: Segment = { ...prev, ...next };
  if (next.target_text === undefined && prev.target_text !== undefined) {
    merged.target_text = prev.target_text;
    merged.flags = prev.flags;
    merged.note = prev.note;
  }
  return merged;
}

type Data = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function setStage(s: JobState, stage: string | undefined, patch: StageState | ((old: StageState) => StageState)): void {
  if (!stage) return;
  const old = s.stages[stage] ?? { status: 'waiting' };
  s.stages = { ...s.stages, [stage]: typeof patch === 'function' ? patch(old) : patch };
}

/** Apply one event envelope; returns a new state (the input is not mutated). */
export function reduce(prev: JobState, ev: Envelope<Data>): JobState {
  const s: JobState = { ...prev, events: prev.events + 1 };
  const d: Data = ev.data ?? {};
  switch (ev.type) {
    case 'job_running':
    case 'job_started':
      s.job = { ...s.job, status: 'running' };
      s.pausedAfter = null;
      break;
    case 'stage_started': {
      const stage = str(d.stage);
      setStage(s, stage, { status: 'running' });
      s.job = { ...s.job, stage: stage ?? s.job.stage, status: 'running' };
      break;
    }
    case 'stage_progress': {
      const stage = str(d.stage);
      const done = num(d.done);
      const total = num(d.total);
      setStage(s, stage, (old) => ({
        ...old,
        status: old.status === 'done' || old.status === 'skipped' ? old.status : 'running',
        done,
        total,
      }));
      if (stage === '05-diarize' && done != null && total != null) s.chunks = { done, total };
      break;
    }
    case 'stage_done': {
      const stage = str(d.stage);
      setStage(s, stage, (old) => ({
        ...old,
        status: 'done',
        done: old.total ?? old.done,
        took_ms: num(d.took_ms),
        cpu_ms: num(d.cpu_ms),
        peak_rss_kb: num(d.peak_rss_kb),
      }));
      break;
    }
    case 'stage_skipped':
      // On resume (after approve, retry or regenerate) finished stages are reported as skipped:
      // they stay done.
      setStage(s, str(d.stage), (old) => (old.status === 'done' ? old : { status: 'skipped' }));
      break;
    case 'segment': {
      const seg = d as unknown as Segment;
      if (typeof seg.id === 'number') s.lines = { ...s.lines, [seg.id]: mergeSegment(s.lines[seg.id], seg) };
      break;
    }
    case 'line_edited': {
      // The edited line, in the /lines shape (source_text) or the segment shape (text).
      const id = num(d.id);
      if (id != null) {
        const old = s.lines[id];
        const text = str(d.source_text) ?? str(d.text) ?? old?.text ?? '';
        s.lines = {
          ...s.lines,
          [id]: {
            ...(old ?? { id, speaker: '', start_ms: 0, end_ms: 0, text }),
            ...(d as Partial<Segment>),
            id,
            text,
          },
        };
      }
      break;
    }
    case 'voice': {
      const speaker = str(d.speaker);
      if (speaker)
        s.voices = {
          ...s.voices,
          [speaker]: { voice: str(d.voice) ?? '', backend: str(d.backend), pinned: d.pinned === true },
        };
      break;
    }
    case 'warning':
      s.warnings = [...s.warnings, str(d.message) ?? JSON.stringify(d)];
      break;
    case 'error':
      s.errors = [...s.errors, str(d.message) ?? JSON.stringify(d)];
      break;
    case 'paused':
      s.pausedAfter = str(d.after) ?? null;
      break;
    case 'job_status': {
      const status = str(d.status) as JobStatus | undefined;
      const progress = num(d.progress);
      const error = d.error === undefined ? s.job.error : ((d.error as string | null) ?? null);
      s.job = { ...s.job, status: status ?? s.job.status, progress: progress ?? s.job.progress, error };
      if (error && !s.errors.includes(error)) s.errors = [...s.errors, error];
      if (status === 'queued' || status === 'running') s.pausedAfter = null;
      if (status === 'done') {
        const stages = { ...s.stages };
        for (const name of STAGES) if (stages[name]?.status !== 'skipped') stages[name] = { ...stages[name], status: 'done' };
        s.stages = stages;
      }
      if (status === 'failed' && s.job.stage && s.stages[s.job.stage]?.status === 'running')
        setStage(s, s.job.stage, (old) => ({ ...old, status: 'failed' }));
      if (status === 'queued' && prev.job.status !== 'queued') {
        // Approved or regenerating: stages still to run are waiting again.
        const stages = { ...s.stages };
        for (const name of STAGES) if (stages[name]?.status === 'running') stages[name] = { status: 'waiting' };
        s.stages = stages;
      }
      break;
    }
    case 'done':
      s.output = str(d.output) ?? null;
      break;
    default:
      break;
  }
  return s;
}

/** A stage restarting (regenerate re-runs synthesis onward) resets it and every later stage. */
export function resetFrom(s: JobState, stage: string): JobState {
  const i = stageIndex(stage);
  if (i < 0) return s;
  const stages = { ...s.stages };
  STAGES.forEach((name, j) => {
    if (j > i) stages[name] = { status: 'waiting' };
  });
  return { ...s, stages };
}

/** Merge a fresher job record (from GET /api/jobs polling) without losing live stage detail. */
export function withJob(s: JobState, job: Job): JobState {
  const merged = { ...s.job, ...job };
  // A polled record may lag behind the stream; keep the stream's more advanced stage.
  if (stageIndex(s.job.stage) > stageIndex(job.stage) && job.status === s.job.status) merged.stage = s.job.stage;
  const errors = job.error && !s.errors.includes(job.error) ? [...s.errors, job.error] : s.errors;
  return { ...s, job: merged, errors };
}

export interface Metrics {
  chunks: string;
  speakers: number;
  lines: number;
  translated: number;
  workers: number;
}

export function metrics(s: JobState): Metrics {
  const segs = Object.values(s.lines);
  const speakers = new Set(segs.map((l) => l.speaker).filter(Boolean));
  return {
    chunks: s.chunks ? `${s.chunks.done}/${s.chunks.total}` : '–',
    // Prefer what the stream showed: the job record's counters can lag (or count events).
    speakers: speakers.size || s.job.speakers_found || 0,
    lines: segs.length || s.job.lines || 0,
    translated: segs.filter((l) => l.target_text !== undefined).length,
    workers: s.job.status === 'running' ? 1 : 0,
  };
}

/** Lines sorted by start time (then id), for the live transcript. */
export function orderedLines(s: JobState): Segment[] {
  return Object.values(s.lines).sort((a, b) => a.start_ms - b.start_ms || a.id - b.id);
}

/** The speakers a job knows: from its lines and its names, sorted S1, S2, ..., S10. */
export function speakersOf(lines: { speaker: string }[], names: Record<string, string> = {}): string[] {
  const set = new Set<string>(Object.keys(names));
  for (const l of lines) if (l.speaker) set.add(l.speaker);
  return [...set].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}
